//! The head's write transaction.

use std::sync::Arc;

use super::Head;
use super::series::{Appendability, MemSeries, SeriesState};
use crate::model::Labels;
use crate::storage::{AppendError, Appender, SeriesRef, StorageError};
use crate::tsdb::wal::records;

/// Where a committing appender writes its WAL records. The records of one
/// commit are written together, before the samples become visible.
pub(crate) trait WalSink: Send + Sync {
    /// Writes one commit's records (already encoded, uncompressed).
    fn log(&self, records: &[&[u8]]) -> Result<(), StorageError>;
}

struct PendingSample {
    series: Arc<MemSeries>,
    t: i64,
    v: f64,
}

/// A transaction against the head. Samples are checked on `append`
/// against the committed state, buffered, written to the WAL as one
/// series record and one samples record on `commit`, then applied.
pub struct HeadAppender {
    head: Arc<Head>,
    wal: Option<Arc<dyn WalSink>>,
    min_valid_time: i64,
    out_of_order_time_window: i64,
    new_series: Vec<(u64, Labels)>,
    samples: Vec<PendingSample>,
    /// Samples older than their series' newest one, accepted within the
    /// out-of-order window; applied after `samples` on commit.
    out_of_order_samples: Vec<PendingSample>,
    previous: Option<(u64, i64)>,
}

impl HeadAppender {
    pub(crate) fn new(head: Arc<Head>, wal: Option<Arc<dyn WalSink>>) -> Self {
        let min_valid_time = head.appendable_min_valid_time();
        let out_of_order_time_window = head.out_of_order_time_window();
        HeadAppender {
            head,
            wal,
            min_valid_time,
            out_of_order_time_window,
            new_series: Vec::new(),
            samples: Vec::with_capacity(64),
            out_of_order_samples: Vec::new(),
            previous: None,
        }
    }

    fn resolve(
        &mut self,
        cached: SeriesRef,
        labels: &Labels,
    ) -> Result<Arc<MemSeries>, AppendError> {
        if !cached.is_unknown()
            && let Some(series) = self.head.series_by_ref(cached.0)
        {
            return Ok(series);
        }
        if labels.is_empty() {
            return Err(AppendError::InvalidLabels("empty label set".to_string()));
        }
        let (series, created) = self.head.get_or_create(labels);
        if created {
            self.new_series
                .push((series.series_ref, series.labels.clone()));
        }
        Ok(series)
    }

    fn log_to_wal(&self) -> Result<(), StorageError> {
        let Some(wal) = &self.wal else {
            return Ok(());
        };
        let series_record = (!self.new_series.is_empty())
            .then(|| records::encode_series(self.new_series.iter().map(|(r, l)| (*r, l))));
        let samples_record = (!self.samples.is_empty()).then(|| {
            records::encode_samples(self.samples.iter().map(|s| (s.series.series_ref, s.t, s.v)))
        });
        // Out-of-order samples follow in their own samples record, so that
        // replay meets them after the newer samples, as commit applies them.
        let out_of_order_record = (!self.out_of_order_samples.is_empty()).then(|| {
            records::encode_samples(
                self.out_of_order_samples
                    .iter()
                    .map(|s| (s.series.series_ref, s.t, s.v)),
            )
        });
        let batch: Vec<&[u8]> = [
            series_record.as_deref(),
            samples_record.as_deref(),
            out_of_order_record.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if batch.is_empty() {
            return Ok(());
        }
        wal.log(&batch)
    }
}

impl Appender for HeadAppender {
    fn append_ref(
        &mut self,
        cached: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        if t < self.min_valid_time && !self.accepts_out_of_order(t) {
            if self.out_of_order_time_window > 0 {
                self.head.metrics.too_old_samples.inc();
                return Err(AppendError::TooOldSample);
            }
            self.head.metrics.out_of_bound_samples.inc();
            return Err(AppendError::OutOfBounds);
        }
        let series = self.resolve(cached, labels)?;
        let series_ref = series.series_ref;
        if let Some((previous_ref, previous_t)) = self.previous
            && previous_ref == series_ref
            && t <= previous_t
        {
            if t < previous_t {
                return self.append_out_of_order(series, t, v);
            }
            return Err(AppendError::DuplicateSampleForTimestamp);
        }
        let verdict = series.state.lock().check(t, v);
        match verdict {
            Ok(Appendability::Append) => {
                self.previous = Some((series_ref, t));
                self.samples.push(PendingSample { series, t, v });
            }
            Ok(Appendability::Duplicate) => {}
            Err(AppendError::OutOfOrder) => return self.append_out_of_order(series, t, v),
            Err(other) => return Err(other),
        }
        Ok(SeriesRef(series_ref))
    }

    fn commit(mut self: Box<Self>) -> Result<(), StorageError> {
        self.log_to_wal()?;
        self.new_series.clear();
        let chunk_range = self.head.chunk_range();
        let mut appended = 0u64;
        let mut out_of_order = 0u64;
        let mut late_in_order = 0u64;
        let mut new_chunks = 0i64;
        let mut min_time = i64::MAX;
        let mut max_time = i64::MIN;
        // A head cut may have happened since the appender was created.
        let min_valid_time = self.head.min_valid_time();
        let mut out_of_bounds = 0u64;
        for sample in &self.samples {
            let Some(mut state) = self.lock_if_in_bounds(sample, min_valid_time) else {
                out_of_bounds += 1;
                continue;
            };
            match state.check(sample.t, sample.v) {
                Ok(Appendability::Append) => {
                    new_chunks += state.append(sample.t, sample.v, chunk_range);
                    appended += 1;
                    min_time = min_time.min(sample.t);
                    max_time = max_time.max(sample.t);
                }
                Ok(Appendability::Duplicate) => {}
                // Another appender committed a newer sample meanwhile.
                Err(AppendError::OutOfOrder) if self.out_of_order_time_window > 0 => {
                    if sample.t >= self.head.min_valid_time()
                        && state.insert_out_of_order(sample.t, sample.v)
                    {
                        appended += 1;
                        late_in_order += 1;
                        min_time = min_time.min(sample.t);
                    }
                }
                Err(_) => out_of_order += 1,
            }
        }
        if appended > 0 {
            self.head.observe_times(min_time, max_time);
            self.head.metrics.head_samples_appended.inc_by(appended);
        }
        if new_chunks > 0 {
            self.head.metrics.head_chunks.add(new_chunks);
        }
        if out_of_bounds > 0 {
            self.head.metrics.out_of_bound_samples.inc_by(out_of_bounds);
        }
        if out_of_order > 0 {
            self.head.metrics.out_of_order_samples.inc_by(out_of_order);
        }
        if late_in_order > 0 {
            self.head
                .metrics
                .head_out_of_order_samples_appended
                .inc_by(late_in_order);
        }
        if !self.out_of_order_samples.is_empty() {
            self.commit_out_of_order(min_valid_time);
        }
        Ok(())
    }

    fn rollback(mut self: Box<Self>) -> Result<(), StorageError> {
        // Series created by this transaction stay in the head (as in
        // Prometheus); log them so that the WAL knows every reference.
        self.log_new_series()
    }
}

impl HeadAppender {
    /// Whether a sample at `t` that cannot go in order may be kept as an
    /// out-of-order sample.
    fn accepts_out_of_order(&self, t: i64) -> bool {
        self.out_of_order_time_window > 0
            && self
                .head
                .accepts_out_of_order(t, self.out_of_order_time_window)
    }

    /// Buffers a sample older than its series' newest one if the window
    /// allows, else refuses it as out of order.
    fn append_out_of_order(
        &mut self,
        series: Arc<MemSeries>,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        if !self.accepts_out_of_order(t) {
            if self.out_of_order_time_window > 0 {
                self.head.metrics.too_old_samples.inc();
                return Err(AppendError::TooOldSample);
            }
            self.head.metrics.out_of_order_samples.inc();
            return Err(AppendError::OutOfOrder);
        }
        let series_ref = series.series_ref;
        self.out_of_order_samples
            .push(PendingSample { series, t, v });
        Ok(SeriesRef(series_ref))
    }

    /// Locks `sample`'s series if the sample is not below the head's
    /// minimum valid time: `min_valid_time` as read at the commit's start,
    /// then read again under the series lock. A head cut raises the minimum
    /// first and then reads each series under its lock, so it either finds
    /// the sample in the series or the sample is refused here; a stored
    /// sample is never left below the minimum.
    fn lock_if_in_bounds<'a>(
        &self,
        sample: &'a PendingSample,
        min_valid_time: i64,
    ) -> Option<parking_lot::MutexGuard<'a, SeriesState>> {
        if sample.t < min_valid_time {
            return None;
        }
        let state = sample.series.state.lock();
        (sample.t >= self.head.min_valid_time()).then_some(state)
    }

    /// Applies the buffered out-of-order samples after the in-order ones.
    /// A timestamp already among a series' out-of-order samples is dropped
    /// silently, as Prometheus does.
    fn commit_out_of_order(&mut self, min_valid_time: i64) {
        let chunk_range = self.head.chunk_range();
        let (mut in_order, mut out_of_order, mut out_of_bounds) = (0u64, 0u64, 0u64);
        let mut new_chunks = 0i64;
        let (mut min_time, mut max_time) = (i64::MAX, i64::MIN);
        for sample in &self.out_of_order_samples {
            let Some(mut state) = self.lock_if_in_bounds(sample, min_valid_time) else {
                out_of_bounds += 1;
                continue;
            };
            let stored = match state.check(sample.t, sample.v) {
                Ok(Appendability::Append) => {
                    new_chunks += state.append(sample.t, sample.v, chunk_range);
                    in_order += 1;
                    true
                }
                Err(AppendError::OutOfOrder) => {
                    let inserted = state.insert_out_of_order(sample.t, sample.v);
                    out_of_order += u64::from(inserted);
                    inserted
                }
                Ok(Appendability::Duplicate) | Err(_) => false,
            };
            if stored {
                min_time = min_time.min(sample.t);
                max_time = max_time.max(sample.t);
            }
        }
        if in_order + out_of_order > 0 {
            self.head.observe_times(min_time, max_time);
            self.head
                .metrics
                .head_samples_appended
                .inc_by(in_order + out_of_order);
        }
        if out_of_order > 0 {
            self.head
                .metrics
                .head_out_of_order_samples_appended
                .inc_by(out_of_order);
        }
        if new_chunks > 0 {
            self.head.metrics.head_chunks.add(new_chunks);
        }
        if out_of_bounds > 0 {
            self.head.metrics.out_of_bound_samples.inc_by(out_of_bounds);
        }
    }

    fn log_new_series(&mut self) -> Result<(), StorageError> {
        let new_series = std::mem::take(&mut self.new_series);
        if new_series.is_empty() {
            return Ok(());
        }
        if let Some(wal) = &self.wal {
            let record = records::encode_series(new_series.iter().map(|(r, l)| (*r, l)));
            wal.log(&[&record])?;
        }
        Ok(())
    }
}

impl Drop for HeadAppender {
    /// Dropping without commit or rollback is a rollback; the series it
    /// created still have to reach the WAL, since other appenders may use
    /// them.
    fn drop(&mut self) {
        if let Err(error) = self.log_new_series() {
            tracing::warn!(%error, "could not log series of a dropped appender");
        }
    }
}
