//! WAL replay at start-up: the newest checkpoint, then every later segment,
//! restoring the head. A torn or corrupt tail is cut off (with a warning)
//! instead of failing start-up.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::TsdbError;
use super::head::{Head, MemSeries};
use super::wal::records::{self, SAMPLES_RECORD, SERIES_RECORD, TOMBSTONES_RECORD};
use super::wal::{
    self, SegmentEnd, WalError, last_checkpoint, list_segments, read_segment_records, segment_path,
};

/// What replay found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReplayReport {
    /// Samples applied to the head.
    pub samples: u64,
    /// Series records read.
    pub series: u64,
    /// Segments read (not counting the checkpoint).
    pub segments: usize,
    /// Whether a damaged tail was cut off.
    pub repaired: bool,
    /// Samples dropped (unknown series, out of order, older than blocks).
    pub skipped_samples: u64,
    /// Deleted intervals restored from tombstones records.
    pub tombstones: u64,
}

/// Applies records to the head, with a dense reference table so that the
/// hot path takes no map lock.
struct Applier<'a> {
    head: &'a Head,
    by_ref: Vec<Option<Arc<MemSeries>>>,
    min_valid_time: i64,
    report: ReplayReport,
    new_chunks: i64,
    min_time: i64,
    max_time: i64,
    /// Samples whose series record comes later in the log (two appenders
    /// racing: one created the series, the other committed first).
    orphans: HashMap<u64, Vec<(i64, f64)>>,
}

const DENSE_LIMIT: u64 = 1 << 26;

/// Whether a logged sample older than its series' newest one is kept as
/// an out-of-order sample: always. Every logged late sample passed the
/// appender's window check when it was appended, and the window in force
/// now does not matter: as Prometheus replays its out-of-order log even
/// with the feature turned off since, a user who removes the window and
/// restarts keeps the late samples that were acknowledged.
#[inline]
fn keeps_out_of_order(t: i64, last_time: i64) -> bool {
    t < last_time
}

impl Applier<'_> {
    fn apply_orphans(&mut self, series: &MemSeries, samples: Vec<(i64, f64)>) {
        let mut state = series.state.lock();
        for (t, v) in samples {
            if state
                .check(t, v)
                .is_ok_and(|a| a == super::head::Appendability::Append)
            {
                self.new_chunks += state.append(t, v, self.head.chunk_range());
                self.report.samples += 1;
                self.min_time = self.min_time.min(t);
                self.max_time = self.max_time.max(t);
            } else if keeps_out_of_order(t, state.last_time) && state.insert_out_of_order(t, v) {
                self.report.samples += 1;
                self.min_time = self.min_time.min(t);
            } else {
                self.report.skipped_samples += 1;
            }
        }
    }

    fn apply(&mut self, record: &[u8]) {
        let Some((&kind, body)) = record.split_first() else {
            return;
        };
        match kind {
            SERIES_RECORD => {
                let Ok(records::Record::Series(series)) = records::decode(record) else {
                    return;
                };
                for (series_ref, labels) in series {
                    self.report.series += 1;
                    let created = self.head.create_with_ref(series_ref, labels);
                    if series_ref < DENSE_LIMIT {
                        let index = series_ref as usize;
                        if self.by_ref.len() <= index {
                            self.by_ref.resize(index + 1, None);
                        }
                        self.by_ref[index] = Some(created.clone());
                    }
                    if let Some(orphans) = self.orphans.remove(&series_ref) {
                        self.apply_orphans(&created, orphans);
                    }
                }
            }
            SAMPLES_RECORD => {
                let chunk_range = self.head.chunk_range();
                let by_ref = &self.by_ref;
                let head = self.head;
                let min_valid_time = self.min_valid_time;
                let mut applied = 0u64;
                let mut skipped = 0u64;
                let mut new_chunks = 0i64;
                let (mut min_time, mut max_time) = (self.min_time, self.max_time);
                let mut orphans = std::mem::take(&mut self.orphans);
                let result = records::for_each_sample(body, |series_ref, t, v| {
                    if t < min_valid_time {
                        skipped += 1;
                        return;
                    }
                    let owned;
                    let series: &MemSeries = match by_ref.get(series_ref as usize) {
                        Some(Some(series)) => series,
                        _ => match head.series_by_ref(series_ref) {
                            Some(series) => {
                                owned = series;
                                &owned
                            }
                            None => {
                                orphans.entry(series_ref).or_default().push((t, v));
                                return;
                            }
                        },
                    };
                    let mut state = series.state.lock();
                    if state
                        .check(t, v)
                        .is_ok_and(|a| a == super::head::Appendability::Append)
                    {
                        new_chunks += state.append(t, v, chunk_range);
                        applied += 1;
                        min_time = min_time.min(t);
                        max_time = max_time.max(t);
                    } else if keeps_out_of_order(t, state.last_time)
                        && state.insert_out_of_order(t, v)
                    {
                        applied += 1;
                        min_time = min_time.min(t);
                    } else {
                        skipped += 1;
                    }
                });
                self.orphans = orphans;
                self.min_time = min_time;
                self.max_time = max_time;
                self.new_chunks += new_chunks;
                self.report.samples += applied;
                self.report.skipped_samples += skipped;
                if result.is_err() {
                    tracing::warn!("skipping undecodable samples record during wal replay");
                }
            }
            TOMBSTONES_RECORD => {
                let Ok(records::Record::Tombstones(stones)) = records::decode(record) else {
                    tracing::warn!("skipping undecodable tombstones record during wal replay");
                    return;
                };
                // A series record replayed onto an existing series with
                // the same labels answers with that series' reference.
                let stones: Vec<(u64, i64, i64)> = stones
                    .into_iter()
                    .filter_map(|(series_ref, min_time, max_time)| {
                        let series = match self.by_ref.get(series_ref as usize) {
                            Some(Some(series)) => series.clone(),
                            _ => self.head.series_by_ref(series_ref)?,
                        };
                        Some((series.series_ref, min_time, max_time))
                    })
                    .collect();
                self.report.tombstones += stones.len() as u64;
                self.head.add_tombstones(&stones);
            }
            _ => {}
        }
    }
}

/// Replays the WAL in `wal_dir` into `head`, repairing a damaged tail.
/// With `repair` false (read-only tools), a damaged tail is only skipped.
pub(crate) fn replay(
    wal_dir: &Path,
    head: &Head,
    repair_tail: bool,
) -> Result<ReplayReport, TsdbError> {
    let started = Instant::now();
    let mut applier = Applier {
        head,
        by_ref: Vec::new(),
        min_valid_time: head.min_valid_time(),
        report: ReplayReport::default(),
        new_chunks: 0,
        min_time: i64::MAX,
        max_time: i64::MIN,
        orphans: HashMap::new(),
    };
    let checkpoint = last_checkpoint(wal_dir)?;
    if let Some(checkpoint) = &checkpoint {
        tracing::info!(checkpoint = %checkpoint.dir.display(), "replaying wal checkpoint");
        wal::checkpoint_reader(checkpoint, &mut |record| applier.apply(record))?;
    }
    let first = checkpoint.as_ref().map_or(0, |c| c.index.saturating_add(1));
    let segments: Vec<u32> = list_segments(wal_dir)?
        .into_iter()
        .filter(|s| *s >= first)
        .collect();
    let last = segments.last().copied().unwrap_or(0);
    for (position, &segment) in segments.iter().enumerate() {
        let path = segment_path(wal_dir, segment);
        let end = read_segment_records(&path, |record| applier.apply(record))?;
        applier.report.segments += 1;
        if let SegmentEnd::Corrupt { offset, reason } = end {
            if repair_tail {
                repair(wal_dir, segment, offset, &reason, &segments[position + 1..])?;
            }
            head.metrics.wal_corruptions.inc();
            applier.report.repaired = true;
            tracing::info!(
                segment,
                max_segment = last,
                percent = 100,
                "wal segment loaded"
            );
            break;
        }
        let percent = if last == 0 {
            100
        } else {
            u64::from(segment) * 100 / u64::from(last)
        };
        tracing::info!(segment, max_segment = last, percent, "wal segment loaded");
    }
    applier.report.skipped_samples += applier
        .orphans
        .values()
        .map(|o| o.len() as u64)
        .sum::<u64>();
    if applier.report.samples > 0 {
        head.observe_times(applier.min_time, applier.max_time);
    }
    head.metrics.head_chunks.add(applier.new_chunks);
    let elapsed = started.elapsed();
    head.metrics
        .data_replay_duration_seconds
        .set(elapsed.as_secs_f64());
    tracing::info!(
        samples = applier.report.samples,
        series = applier.report.series,
        skipped = applier.report.skipped_samples,
        duration_ms = elapsed.as_millis() as u64,
        "wal replay completed"
    );
    Ok(applier.report)
}

/// Cuts segment `segment` at `offset` and deletes the segments after it.
fn repair(
    wal_dir: &Path,
    segment: u32,
    offset: u64,
    reason: &str,
    later: &[u32],
) -> Result<(), WalError> {
    let path = segment_path(wal_dir, segment);
    tracing::warn!(
        segment = %path.display(),
        offset,
        reason,
        deleted_later_segments = later.len(),
        "wal tail is torn or corrupt; truncating it"
    );
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| WalError::Io {
            path: path.clone(),
            source: e,
        })?;
    file.set_len(offset)
        .and_then(|()| file.sync_all())
        .map_err(|e| WalError::Io {
            path: path.clone(),
            source: e,
        })?;
    for &later_segment in later {
        let later_path = segment_path(wal_dir, later_segment);
        std::fs::remove_file(&later_path).map_err(|e| WalError::Io {
            path: later_path.clone(),
            source: e,
        })?;
    }
    Ok(())
}
