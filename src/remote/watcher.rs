//! The WAL watcher: tails the TSDB's write-ahead log for one remote-write
//! queue, as Prometheus's does, so remote write is never in the append path.
//!
//! It starts at the queue's persisted resume position (or, for a queue never
//! run before, at the end of the WAL), reads series records from the last
//! checkpoint and every segment (labels are needed for any sample), passes
//! samples at or after the resume position to the queue (waiting when the
//! queue is full), and follows new records and segments as they are
//! written. The resume position is persisted every few seconds and at stop,
//! and the WAL is asked to keep the segments from it on; past the bound, the
//! hold is released and the loss is logged and counted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::model::Labels;
use crate::tsdb::wal::records::{self, Record};
use crate::tsdb::wal::{
    SegmentReader, checkpoint_reader, last_checkpoint, list_segments, segment_path,
};

use super::queue::{QueueManager, RefSample, WalPosition};

/// Keeps WAL segments for a reader: `hold(Some(segment))` keeps `segment`
/// and later ones, `hold(None)` releases.
pub type SegmentHold = Arc<dyn Fn(Option<u32>) + Send + Sync>;

/// Settings of one watcher.
#[derive(Clone)]
pub struct WatcherSettings {
    /// The WAL directory.
    pub wal_dir: PathBuf,
    /// Where the resume position is persisted.
    pub position_file: PathBuf,
    /// How long segments are held for a queue that cannot send; older ones
    /// may be deleted (and their unsent samples are then lost, loudly).
    pub max_hold: Duration,
    /// Called to hold segments.
    pub hold: SegmentHold,
    /// Counts segments lost past the bound.
    pub segments_lost: prometheus::IntCounter,
}

/// Reads the persisted resume position, if any.
pub fn load_position(path: &Path) -> Option<WalPosition> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str(&text) {
        Ok(position) => Some(position),
        Err(error) => {
            tracing::warn!(file = %path.display(), err = %error, "remote write: unreadable resume position, starting at the WAL's end");
            None
        }
    }
}

/// Persists the resume position atomically (write, fsync, rename).
pub fn save_position(path: &Path, position: WalPosition) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(
        serde_json::to_string(&position)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn segment_age(wal_dir: &Path, segment: u32) -> Option<Duration> {
    let modified = std::fs::metadata(segment_path(wal_dir, segment))
        .ok()?
        .modified()
        .ok()?;
    SystemTime::now().duration_since(modified).ok()
}

/// Runs the watcher on the current thread until `cancel`; queue appends run
/// on `runtime`.
pub fn run(
    settings: WatcherSettings,
    queue: Arc<QueueManager>,
    runtime: tokio::runtime::Handle,
    cancel: CancellationToken,
) {
    let mut watcher = Watcher {
        settings,
        queue,
        runtime,
        last_persist: Instant::now(),
        collected_checkpoint: None,
    };
    if let Err(error) = watcher.watch(&cancel) {
        tracing::error!(err = %error, "remote write: WAL watcher stopped");
    }
    watcher.persist();
}

struct Watcher {
    settings: WatcherSettings,
    queue: Arc<QueueManager>,
    runtime: tokio::runtime::Handle,
    last_persist: Instant,
    /// The checkpoint whose series were last collected.
    collected_checkpoint: Option<u32>,
}

impl Watcher {
    fn watch(&mut self, cancel: &CancellationToken) -> Result<(), String> {
        let wal_dir = self.settings.wal_dir.clone();
        let segments = list_segments(&wal_dir).map_err(|e| e.to_string())?;
        let persisted = load_position(&self.settings.position_file);
        let resume = persisted.unwrap_or_else(|| {
            // A queue never run before starts at the end, as Prometheus does.
            let last = segments.last().copied().unwrap_or(0);
            let end = std::fs::metadata(segment_path(&wal_dir, last))
                .map(|m| m.len())
                .unwrap_or(0);
            WalPosition {
                segment: last as u64,
                offset: end,
            }
        });
        tracing::info!(
            segment = resume.segment,
            offset = resume.offset,
            resumed = persisted.is_some(),
            "remote write: WAL watcher starting"
        );
        (self.settings.hold)(Some(resume.segment as u32));

        if let Ok(Some(checkpoint)) = last_checkpoint(&wal_dir) {
            let mut series = Vec::new();
            let _ = checkpoint_reader(&checkpoint, &mut |record| {
                if let Ok(Record::Series(found)) = records::decode(record) {
                    series.extend(found);
                }
            });
            self.queue.store_series(&series, checkpoint.index);
            self.collected_checkpoint = Some(checkpoint.index);
            if (checkpoint.index as u64) >= resume.segment && persisted.is_some() {
                tracing::error!(
                    needed = resume.segment,
                    checkpoint = checkpoint.index,
                    "remote write: WAL segments this queue had not sent were deleted; their samples are lost"
                );
                self.settings
                    .segments_lost
                    .inc_by(checkpoint.index as u64 + 1 - resume.segment);
            }
        }

        let mut segment = segments
            .first()
            .copied()
            .unwrap_or(0)
            .min(resume.segment as u32);
        if let Some(first) = segments.first()
            && (resume.segment as u32) < *first
            && persisted.is_some()
        {
            segment = *first;
        }
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let path = segment_path(&wal_dir, segment);
            if !path.exists() {
                // Not written yet: wait for it (or for a later one).
                if self.newer_segment_exists(segment) {
                    segment += 1;
                    continue;
                }
                self.idle(cancel);
                continue;
            }
            let finished = self.read_segment(&path, segment, resume, cancel)?;
            if !finished {
                return Ok(());
            }
            segment += 1;
            self.collect_series(segment);
        }
    }

    /// Once the watcher reads past the newest checkpoint's segments, keeps
    /// the series that checkpoint kept and forgets the rest (Prometheus's
    /// `garbageCollectSeries`): the head dropped them, and no segment still
    /// to be read refers to them.
    fn collect_series(&mut self, reading_segment: u32) {
        let Ok(Some(checkpoint)) = last_checkpoint(&self.settings.wal_dir) else {
            return;
        };
        if checkpoint.index >= reading_segment
            || self
                .collected_checkpoint
                .is_some_and(|done| done >= checkpoint.index)
        {
            return;
        }
        let mut series = Vec::new();
        let read = checkpoint_reader(&checkpoint, &mut |record| {
            if let Ok(Record::Series(found)) = records::decode(record) {
                series.extend(found);
            }
        });
        if let Err(error) = read {
            tracing::warn!(err = %error, checkpoint = checkpoint.index, "remote write: cannot read the checkpoint; keeping every series");
            return;
        }
        self.queue.store_series(&series, checkpoint.index);
        self.queue.forget_series_before(checkpoint.index);
        self.collected_checkpoint = Some(checkpoint.index);
        tracing::debug!(
            checkpoint = checkpoint.index,
            known = self.queue.known_series(),
            "remote write: series the checkpoint dropped are forgotten"
        );
    }

    fn newer_segment_exists(&self, segment: u32) -> bool {
        list_segments(&self.settings.wal_dir)
            .map(|all| all.iter().any(|s| *s > segment))
            .unwrap_or(false)
    }

    fn idle(&mut self, cancel: &CancellationToken) {
        self.maybe_persist();
        self.runtime.block_on(async {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        });
    }

    /// Reads `segment` to its end, following it while it is the newest.
    /// Returns false when cancelled.
    fn read_segment(
        &mut self,
        path: &Path,
        segment: u32,
        resume: WalPosition,
        cancel: &CancellationToken,
    ) -> Result<bool, String> {
        let mut reader = SegmentReader::open(path).map_err(|e| e.to_string())?;
        let mut samples: Vec<RefSample> = Vec::new();
        loop {
            if cancel.is_cancelled() {
                return Ok(false);
            }
            let start = WalPosition {
                segment: segment as u64,
                offset: reader.offset(),
            };
            match reader.next_record() {
                Ok(Some(record)) => {
                    let end = WalPosition {
                        segment: segment as u64,
                        offset: reader.offset(),
                    };
                    self.handle_record(&record, start, end, resume, &mut samples);
                    self.maybe_persist();
                }
                Ok(None) => {
                    if self.newer_segment_exists(segment) {
                        // A record may have completed just before the cut.
                        match reader.next_record() {
                            Ok(Some(record)) => {
                                let end = WalPosition {
                                    segment: segment as u64,
                                    offset: reader.offset(),
                                };
                                self.handle_record(&record, start, end, resume, &mut samples);
                                continue;
                            }
                            _ => return Ok(true),
                        }
                    }
                    self.idle(cancel);
                }
                Err(error) => {
                    tracing::error!(err = %error, segment, "remote write: corrupt WAL record; skipping to the next segment");
                    return Ok(true);
                }
            }
        }
    }

    fn handle_record(
        &mut self,
        record: &[u8],
        start: WalPosition,
        end: WalPosition,
        resume: WalPosition,
        samples: &mut Vec<RefSample>,
    ) {
        match record.first() {
            Some(&records::SERIES_RECORD) => {
                if let Ok(Record::Series(series)) = records::decode(record) {
                    let series: Vec<(u64, Labels)> = series;
                    self.queue.store_series(&series, start.segment as u32);
                }
            }
            Some(&records::SAMPLES_RECORD) if start >= resume => {
                samples.clear();
                let parsed = records::for_each_sample(&record[1..], |series, t, v| {
                    samples.push(RefSample { series, t, v })
                });
                if let Err(error) = parsed {
                    tracing::error!(err = %error, "remote write: undecodable samples record skipped");
                    return;
                }
                let queue = self.queue.clone();
                let batch = std::mem::take(samples);
                self.runtime
                    .block_on(async move { queue.append(&batch, start, end).await });
            }
            _ => {}
        }
    }

    fn maybe_persist(&mut self) {
        if self.last_persist.elapsed() >= Duration::from_secs(2) {
            self.persist();
        }
    }

    fn persist(&mut self) {
        self.last_persist = Instant::now();
        let Some(position) = self.queue.resume_position() else {
            return;
        };
        if let Err(error) = save_position(&self.settings.position_file, position) {
            tracing::error!(err = %error, file = %self.settings.position_file.display(), "remote write: cannot persist the resume position");
        }
        let held = position.segment as u32;
        let too_old = segment_age(&self.settings.wal_dir, held)
            .is_some_and(|age| age > self.settings.max_hold);
        if too_old {
            tracing::error!(
                segment = held,
                "remote write: queue is further behind than the WAL hold bound; releasing old segments, unsent samples in them will be lost"
            );
            (self.settings.hold)(None);
        } else {
            (self.settings.hold)(Some(held));
        }
    }
}
