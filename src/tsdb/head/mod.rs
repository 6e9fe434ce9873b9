//! The head: the in-memory store of the newest samples.
//!
//! Series are interned once (`MemSeries`) and found through two striped
//! maps, by reference and by label hash, so that concurrent appenders only
//! meet on the stripe they touch and then on the series' own lock. The
//! postings index covers every label pair of every head series.

mod appender;
mod out_of_order;
mod series;
mod stats;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::RwLock;

pub use appender::HeadAppender;
pub(crate) use appender::WalSink;
pub(crate) use series::Appendability;
pub use series::MemSeries;
pub use stats::{HeadStats, LabelCount, TsdbStats};

use super::chunks::ChunkHandle;
use super::index::{MemPostings, postings_for_matchers};
use super::metrics::TsdbMetrics;
use super::querier::drop_deleted_chunks;
use super::tombstones::{Interval, Intervals, Tombstones};
use crate::model::{Labels, Matcher};

const STRIPES: usize = 512;

/// A hasher for keys that are already hashes or dense references.
#[derive(Default, Clone, Copy)]
pub(crate) struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type U64Map<V> = HashMap<u64, V, BuildHasherDefault<U64Hasher>>;
type RefStripe = RwLock<U64Map<Arc<MemSeries>>>;
type HashStripe = RwLock<U64Map<Vec<Arc<MemSeries>>>>;

/// The in-memory head block.
pub struct Head {
    chunk_range: i64,
    by_ref: Box<[RefStripe]>,
    by_hash: Box<[HashStripe]>,
    postings: RwLock<MemPostings>,
    next_ref: AtomicU64,
    min_time: AtomicI64,
    max_time: AtomicI64,
    /// No sample older than this is accepted (the end of the newest block).
    min_valid_time: AtomicI64,
    num_series: AtomicI64,
    /// How far behind `max_time` an out-of-order sample may be (ms); 0
    /// refuses them all. Changed at run time by a config reload.
    out_of_order_time_window: AtomicI64,
    /// Deleted ranges of head series, by series reference.
    tombstones: RwLock<Tombstones>,
    pub(crate) metrics: TsdbMetrics,
}

/// A head series selected by a querier: its labels and its chunks in the
/// window, copied under the series lock.
pub struct SelectedSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Chunks overlapping the window, in time order.
    pub chunks: Vec<ChunkHandle>,
    /// The series' deleted ranges, if it has any.
    pub deleted: Option<Arc<Intervals>>,
}

impl Head {
    /// An empty head whose chunks are cut at multiples of `chunk_range`.
    pub(crate) fn new(chunk_range: i64, metrics: TsdbMetrics) -> Self {
        Head {
            chunk_range: chunk_range.max(1),
            by_ref: (0..STRIPES).map(|_| RwLock::default()).collect(),
            by_hash: (0..STRIPES).map(|_| RwLock::default()).collect(),
            postings: RwLock::new(MemPostings::new()),
            next_ref: AtomicU64::new(1),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(i64::MIN),
            num_series: AtomicI64::new(0),
            out_of_order_time_window: AtomicI64::new(0),
            tombstones: RwLock::new(Tombstones::default()),
            metrics,
        }
    }

    /// The block range chunks are aligned to.
    pub fn chunk_range(&self) -> i64 {
        self.chunk_range
    }

    /// The oldest sample time in the head (`i64::MAX` when empty).
    pub fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    /// The newest sample time in the head (`i64::MIN` when empty).
    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    /// Number of series in the head.
    pub fn num_series(&self) -> u64 {
        self.num_series.load(Ordering::Relaxed).max(0) as u64
    }

    /// Samples older than this are refused as out of bounds: the end of the
    /// newest persisted block, or half a block range before the newest
    /// sample (as Prometheus does).
    pub fn appendable_min_valid_time(&self) -> i64 {
        let max_time = self.max_time();
        let half_range_back = if max_time == i64::MIN {
            i64::MIN
        } else {
            max_time.saturating_sub(self.chunk_range / 2)
        };
        self.min_valid_time
            .load(Ordering::Acquire)
            .max(half_range_back)
    }

    /// The out-of-order time window in milliseconds (0: disabled).
    pub fn out_of_order_time_window(&self) -> i64 {
        self.out_of_order_time_window.load(Ordering::Relaxed)
    }

    /// Sets the out-of-order time window (negative values mean 0); applies
    /// to appenders created from now on.
    pub fn set_out_of_order_time_window(&self, window_ms: i64) {
        self.out_of_order_time_window
            .store(window_ms.max(0), Ordering::Relaxed);
    }

    /// Whether a sample at `t` that cannot go in order may be stored as an
    /// out-of-order sample under `window_ms`: not older than the newest
    /// head sample minus the window, and not in a range already cut into a
    /// block.
    pub(crate) fn accepts_out_of_order(&self, t: i64, window_ms: i64) -> bool {
        window_ms > 0
            && t >= self.min_valid_time()
            && t >= self.max_time().saturating_sub(window_ms)
    }

    pub(crate) fn set_min_valid_time(&self, t: i64) {
        self.min_valid_time.fetch_max(t, Ordering::AcqRel);
    }

    pub(crate) fn min_valid_time(&self) -> i64 {
        self.min_valid_time.load(Ordering::Acquire)
    }

    pub(crate) fn observe_times(&self, min_time: i64, max_time: i64) {
        if min_time < self.min_time.load(Ordering::Relaxed) {
            let previous = self.min_time.fetch_min(min_time, Ordering::AcqRel);
            if min_time < previous {
                self.metrics.head_min_time.set(min_time);
            }
        }
        if max_time > self.max_time.load(Ordering::Relaxed) {
            let previous = self.max_time.fetch_max(max_time, Ordering::AcqRel);
            if max_time > previous {
                self.metrics.head_max_time.set(max_time);
            }
        }
    }

    fn ref_stripe(&self, series_ref: u64) -> &RefStripe {
        &self.by_ref[(series_ref as usize) & (STRIPES - 1)]
    }

    fn hash_stripe(&self, hash: u64) -> &HashStripe {
        &self.by_hash[(hash as usize) & (STRIPES - 1)]
    }

    /// The series with this reference, if it is in the head.
    #[inline]
    pub fn series_by_ref(&self, series_ref: u64) -> Option<Arc<MemSeries>> {
        self.ref_stripe(series_ref).read().get(&series_ref).cloned()
    }

    /// The series with these labels, if it is in the head.
    pub fn series_by_labels(&self, labels: &Labels) -> Option<Arc<MemSeries>> {
        let hash = labels.stable_hash();
        self.hash_stripe(hash)
            .read()
            .get(&hash)
            .and_then(|list| list.iter().find(|s| &s.labels == labels).cloned())
    }

    /// The series with these labels, created if absent. The flag says
    /// whether it was created by this call.
    pub fn get_or_create(&self, labels: &Labels) -> (Arc<MemSeries>, bool) {
        if let Some(series) = self.series_by_labels(labels) {
            return (series, false);
        }
        let hash = labels.stable_hash();
        let mut stripe = self.hash_stripe(hash).write();
        let list = stripe.entry(hash).or_default();
        if let Some(existing) = list.iter().find(|s| &s.labels == labels) {
            return (existing.clone(), false);
        }
        let series_ref = self.next_ref.fetch_add(1, Ordering::Relaxed);
        let series = MemSeries::new(series_ref, labels.clone());
        list.push(series.clone());
        self.register_series(&series);
        drop(stripe);
        (series, true)
    }

    /// Creates a series with a known reference (WAL replay). A series with
    /// the same labels already present wins; its reference is returned.
    pub(crate) fn create_with_ref(&self, series_ref: u64, labels: Labels) -> Arc<MemSeries> {
        let hash = labels.stable_hash();
        let mut stripe = self.hash_stripe(hash).write();
        let list = stripe.entry(hash).or_default();
        if let Some(existing) = list.iter().find(|s| s.labels == labels) {
            return existing.clone();
        }
        let series = MemSeries::new(series_ref, labels);
        list.push(series.clone());
        self.register_series(&series);
        self.next_ref
            .fetch_max(series_ref.saturating_add(1), Ordering::Relaxed);
        series
    }

    fn register_series(&self, series: &Arc<MemSeries>) {
        self.ref_stripe(series.series_ref)
            .write()
            .insert(series.series_ref, series.clone());
        self.postings.write().add(series.series_ref, &series.labels);
        self.num_series.fetch_add(1, Ordering::Relaxed);
        self.metrics.head_series.inc();
        self.metrics.head_series_created.inc();
    }

    /// Every head series (in no particular order).
    pub fn all_series(&self) -> Vec<Arc<MemSeries>> {
        let mut out = Vec::with_capacity(self.num_series() as usize);
        for stripe in self.by_ref.iter() {
            out.extend(stripe.read().values().cloned());
        }
        out
    }

    /// The head series matching every matcher, with their chunks overlapping
    /// `[min_time, max_time]`, sorted by labels. Series without samples in
    /// the window are left out.
    pub fn select(
        &self,
        min_time: i64,
        max_time: i64,
        matchers: &[Matcher],
    ) -> Vec<SelectedSeries> {
        let refs = postings_for_matchers(&self.postings.read(), matchers);
        let tombstones = self.tombstones.read();
        let mut selected: Vec<SelectedSeries> = refs
            .into_iter()
            .filter_map(|series_ref| self.series_by_ref(series_ref))
            .filter_map(|series| {
                let mut chunks = series.state.lock().chunks_in(min_time, max_time);
                let deleted = tombstones.get(series.series_ref);
                drop_deleted_chunks(&mut chunks, deleted, min_time, max_time);
                (!chunks.is_empty()).then(|| SelectedSeries {
                    labels: series.labels.clone(),
                    chunks,
                    deleted: deleted.cloned().map(Arc::new),
                })
            })
            .collect();
        drop(tombstones);
        selected.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        selected
    }

    /// The tombstones to write for deleting `[min_time, max_time]` from
    /// the series matching `matchers`: (series reference, first, last
    /// deleted time), clamped to the samples the series holds, for the
    /// series that hold samples in the range.
    pub(crate) fn deletion_stones(
        &self,
        min_time: i64,
        max_time: i64,
        matchers: &[Matcher],
    ) -> Vec<(u64, i64, i64)> {
        let refs = postings_for_matchers(&self.postings.read(), matchers);
        refs.into_iter()
            .filter_map(|series_ref| self.series_by_ref(series_ref))
            .filter_map(|series| {
                let state = series.state.lock();
                let first = state.first_time()?;
                let holds_samples_in_range = state.last_time >= min_time && first <= max_time;
                holds_samples_in_range.then(|| {
                    (
                        series.series_ref,
                        min_time.max(first),
                        max_time.min(state.last_time),
                    )
                })
            })
            .collect()
    }

    /// Records deleted ranges (from a delete request or WAL replay).
    pub(crate) fn add_tombstones(&self, stones: &[(u64, i64, i64)]) {
        let mut tombstones = self.tombstones.write();
        for &(series_ref, min_time, max_time) in stones {
            tombstones.add(series_ref, Interval { min_time, max_time });
        }
    }

    /// The deleted ranges of a head series, if any.
    pub fn deleted_intervals(&self, series_ref: u64) -> Option<Intervals> {
        self.tombstones.read().get(series_ref).cloned()
    }

    /// Labels of the series matching `matchers` that have samples in the
    /// window (all series when `matchers` is empty).
    pub fn matching_labels(
        &self,
        min_time: i64,
        max_time: i64,
        matchers: &[Matcher],
    ) -> Vec<Labels> {
        let refs = postings_for_matchers(&self.postings.read(), matchers);
        refs.into_iter()
            .filter_map(|series_ref| self.series_by_ref(series_ref))
            .filter(|series| {
                let state = series.state.lock();
                state.last_time >= min_time
                    && state.has_samples()
                    && state.first_time().unwrap_or(i64::MAX) <= max_time
            })
            .map(|series| series.labels.clone())
            .collect()
    }

    /// Sorted label names of every head series (fast path, no time filter).
    pub fn label_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .postings
            .read()
            .label_names()
            .map(str::to_string)
            .collect();
        names.sort_unstable();
        names
    }

    /// Sorted values of label `name` over every head series.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .postings
            .read()
            .values_of(name)
            .map(|(value, _)| value.to_string())
            .collect();
        values.sort_unstable();
        values
    }

    /// Drops every chunk that ends before `min_time` and every series left
    /// without samples, and refuses samples older than `min_time` from now
    /// on. Returns the number of series removed.
    pub fn truncate(&self, min_time: i64) -> usize {
        self.set_min_valid_time(min_time);
        let mut removed_chunks = 0usize;
        let mut doomed = Vec::new();
        let mut new_min_time = i64::MAX;
        for series in self.all_series() {
            let mut state = series.state.lock();
            removed_chunks += state.truncate_before(min_time);
            if !state.has_samples() {
                doomed.push(series.clone());
                continue;
            }
            let first = state.first_time().unwrap_or(i64::MAX);
            new_min_time = new_min_time.min(first);
        }
        for series in &doomed {
            // Re-check under the lock: an appender may have added a sample
            // since the scan.
            if series.state.lock().has_samples() {
                continue;
            }
            let hash = series.labels.stable_hash();
            {
                let mut stripe = self.hash_stripe(hash).write();
                if let Some(list) = stripe.get_mut(&hash) {
                    list.retain(|s| s.series_ref != series.series_ref);
                    if list.is_empty() {
                        stripe.remove(&hash);
                    }
                }
            }
            self.ref_stripe(series.series_ref)
                .write()
                .remove(&series.series_ref);
            self.postings
                .write()
                .delete(series.series_ref, &series.labels);
            self.num_series.fetch_sub(1, Ordering::Relaxed);
            self.metrics.head_series.dec();
            self.metrics.head_series_removed.inc();
        }
        self.metrics.head_chunks.sub(removed_chunks as i64);
        self.tombstones
            .write()
            .retain(min_time, |series_ref| self.contains(series_ref));
        let new_min_time = new_min_time.max(min_time);
        self.min_time.store(
            if self.num_series() == 0 && new_min_time == i64::MAX {
                i64::MAX
            } else {
                new_min_time
            },
            Ordering::Release,
        );
        if new_min_time != i64::MAX {
            self.metrics.head_min_time.set(new_min_time);
        }
        doomed.len()
    }

    /// Whether the series with this reference is still in the head.
    pub fn contains(&self, series_ref: u64) -> bool {
        self.ref_stripe(series_ref).read().contains_key(&series_ref)
    }
}
