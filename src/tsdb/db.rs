//! [`Db`]: the WAL, the head and the blocks behind the storage traits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use super::block::Block;
use super::head::{Head, HeadAppender, TsdbStats, WalSink};
use super::lock::DirectoryLock;
use super::metrics::TsdbMetrics;
use super::querier::DbQuerier;
use super::wal::Wal;
use super::{TsdbError, replay};
use crate::storage::{Appendable, Appender, Querier, Queryable, StorageError};

/// Options of a [`Db`]; `Default` gives Prometheus's defaults.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Blocks whose data is entirely older than this (relative to the
    /// newest data) are deleted (`--storage.tsdb.retention.time`, 15d).
    pub retention_time: Duration,
    /// When the blocks and WAL take more bytes than this, the oldest blocks
    /// are deleted (`--storage.tsdb.retention.size`; `None` or 0 is off).
    pub retention_size: Option<u64>,
    /// The range of a head-cut block in milliseconds (2h).
    pub block_range_ms: i64,
    /// Largest compacted block range in milliseconds; `None` means 10% of
    /// the retention time, at most 31 days.
    pub max_block_duration_ms: Option<i64>,
    /// Size at which a WAL segment is closed and a new one started (128 MiB).
    pub wal_segment_size: usize,
    /// Do not take the directory lock file (`--storage.tsdb.no-lockfile`).
    pub no_lockfile: bool,
    /// How far behind the newest head sample an out-of-order sample may be
    /// and still be stored, in milliseconds (`storage.tsdb.
    /// out_of_order_time_window`; 0, the default, refuses them). WAL replay
    /// at open keeps logged out-of-order samples only when this is above 0.
    pub out_of_order_time_window_ms: i64,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            retention_time: Duration::from_secs(15 * 24 * 3600),
            retention_size: None,
            block_range_ms: 2 * 3600 * 1000,
            max_block_duration_ms: None,
            wal_segment_size: 128 << 20,
            no_lockfile: false,
            out_of_order_time_window_ms: 0,
        }
    }
}

impl DbOptions {
    /// The compaction ranges: the block range, then ×3 steps up to the
    /// maximum block duration.
    pub fn compaction_ranges(&self) -> Vec<i64> {
        let retention_ms = self.retention_time.as_millis().min(i64::MAX as u128) as i64;
        let maximum = self.max_block_duration_ms.unwrap_or_else(|| {
            let tenth = if retention_ms > 0 {
                retention_ms / 10
            } else {
                i64::MAX
            };
            tenth.min(31 * 24 * 3600 * 1000)
        });
        let mut ranges = vec![self.block_range_ms.max(1)];
        while let Some(&last) = ranges.last() {
            let next = last.saturating_mul(3);
            if next > maximum || ranges.len() >= 10 {
                break;
            }
            ranges.push(next);
        }
        ranges
    }
}

impl WalSink for Wal {
    fn log(&self, records: &[&[u8]]) -> Result<(), StorageError> {
        Wal::log(self, records).map_err(|e| match e {
            super::wal::WalError::Closed => StorageError::Closed,
            other => StorageError::Io(other.to_string()),
        })
    }
}

/// The local time-series database. Shared as `Arc<Db>`; every method is
/// safe to call from many threads.
pub struct Db {
    pub(crate) dir: PathBuf,
    pub(crate) options: DbOptions,
    pub(crate) head: Arc<Head>,
    pub(crate) wal: Arc<Wal>,
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    pub(crate) metrics: TsdbMetrics,
    lock: Mutex<Option<DirectoryLock>>,
    pub(crate) wal_holds: Mutex<HashMap<String, u32>>,
    pub(crate) maintenance: Mutex<()>,
    pub(crate) closed: AtomicBool,
}

impl Db {
    /// Opens (or creates) the database in `dir`: takes the lock, loads the
    /// blocks, replays the WAL into the head (logging progress), and starts
    /// a new WAL segment.
    pub fn open(
        dir: &Path,
        options: DbOptions,
        registry: &prometheus::Registry,
    ) -> Result<Arc<Db>, TsdbError> {
        if options.block_range_ms <= 0 {
            return Err(TsdbError::InvalidArgument(
                "block range must be positive".to_string(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| TsdbError::io(dir, e))?;
        let lock = if options.no_lockfile {
            None
        } else {
            Some(DirectoryLock::acquire(dir)?)
        };
        let metrics = TsdbMetrics::register(registry)?;
        let head = Arc::new(Head::new(options.block_range_ms, metrics.clone()));
        head.set_out_of_order_time_window(options.out_of_order_time_window_ms);
        let blocks = super::compact::load_blocks(dir, super::compact::Leftovers::Remove)?;
        if let Some(newest) = blocks.iter().map(|b| b.meta().max_time).max() {
            head.set_min_valid_time(newest);
        }
        let wal_dir = dir.join("wal");
        replay::replay(&wal_dir, &head, true)?;
        let wal = Arc::new(Wal::open(&wal_dir, options.wal_segment_size)?);
        let db = Arc::new(Db {
            dir: dir.to_path_buf(),
            options,
            head,
            wal,
            blocks: RwLock::new(blocks),
            metrics,
            lock: Mutex::new(lock),
            wal_holds: Mutex::new(HashMap::new()),
            maintenance: Mutex::new(()),
            closed: AtomicBool::new(false),
        });
        db.update_size_metrics();
        Ok(db)
    }

    /// Changes the out-of-order time window (a config reload); appenders
    /// created from now on use it.
    pub fn set_out_of_order_time_window(&self, window_ms: i64) {
        let previous = self.head.out_of_order_time_window();
        if previous != window_ms.max(0) {
            tracing::info!(
                previous_ms = previous,
                window_ms,
                "out-of-order time window changed"
            );
        }
        self.head.set_out_of_order_time_window(window_ms);
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &DbOptions {
        &self.options
    }

    /// The head (for statistics and tests).
    pub fn head(&self) -> &Arc<Head> {
        &self.head
    }

    /// The loaded blocks, oldest first.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.read().clone()
    }

    /// The WAL directory (`<dir>/wal`), for WAL readers such as remote write.
    pub fn wal_dir(&self) -> PathBuf {
        self.dir.join("wal")
    }

    /// Asks WAL truncation to keep segment `segment` and every later one
    /// for reader `name` (a remote-write queue still reading them); `None`
    /// removes the hold.
    pub fn set_min_wal_segment_to_keep(&self, name: &str, segment: Option<u32>) {
        let mut holds = self.wal_holds.lock();
        match segment {
            Some(segment) => {
                holds.insert(name.to_string(), segment);
            }
            None => {
                holds.remove(name);
            }
        }
    }

    /// Flushes and closes the WAL and releases the directory lock. Appends
    /// after this fail with [`StorageError::Closed`].
    pub fn close(&self) -> Result<(), TsdbError> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let _maintenance = self.maintenance.lock();
        self.wal.close()?;
        self.lock.lock().take();
        Ok(())
    }

    /// Head statistics for `/api/v1/status/tsdb`, with top-`limit` lists.
    pub fn stats(&self, limit: usize) -> TsdbStats {
        self.head.stats(limit)
    }

    /// The oldest timestamp held (oldest block, else the head);
    /// `i64::MAX` when the store is empty. Data from here on is complete
    /// locally (remote read's `read_recent: false` uses it).
    pub fn min_time(&self) -> i64 {
        self.blocks
            .read()
            .first()
            .map(|b| b.meta().min_time)
            .unwrap_or_else(|| self.head.min_time())
    }

    pub(crate) fn update_size_metrics(&self) {
        let blocks = self.blocks.read();
        self.metrics.blocks_loaded.set(blocks.len() as i64);
        self.metrics
            .storage_blocks_bytes
            .set(blocks.iter().map(|b| b.size_bytes()).sum::<u64>() as i64);
        let lowest = blocks
            .first()
            .map(|b| b.meta().min_time)
            .unwrap_or_else(|| self.head.min_time());
        if lowest != i64::MAX {
            self.metrics.lowest_timestamp.set(lowest);
        }
        drop(blocks);
        self.metrics
            .wal_storage_size_bytes
            .set(self.wal.size_bytes() as i64);
    }

    /// One maintenance pass: pick up block directories that appeared (a
    /// backfill while running), cut the head into a block when it spans
    /// 1.5× the block range, truncate the head and the WAL (checkpoint),
    /// compact overlapping blocks and then blocks that fill a larger range,
    /// apply retention. Called every minute (Prometheus's block reload
    /// interval) from a background thread; concurrent calls run one after
    /// the other.
    pub fn run_maintenance(self: &Arc<Self>) -> Result<(), TsdbError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(TsdbError::Closed);
        }
        let _maintenance = self.maintenance.lock();
        self.metrics.reloads.inc();
        if let Err(error) = self.reload_blocks() {
            self.metrics.reloads_failures.inc();
            return Err(error);
        }
        self.compact_head()?;
        self.compact_blocks()?;
        self.apply_retention()?;
        self.update_size_metrics();
        Ok(())
    }
}

/// An appender that refuses everything after close.
struct ClosedAppender;

impl Appender for ClosedAppender {
    fn append_ref(
        &mut self,
        _cached: crate::storage::SeriesRef,
        _labels: &crate::model::Labels,
        _t: i64,
        _v: f64,
    ) -> Result<crate::storage::SeriesRef, crate::storage::AppendError> {
        Err(StorageError::Closed.into())
    }

    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        Err(StorageError::Closed)
    }

    fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        Ok(())
    }
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender> {
        if self.closed.load(Ordering::Acquire) {
            return Box::new(ClosedAppender);
        }
        let wal: Arc<dyn WalSink> = self.wal.clone();
        Box::new(HeadAppender::new(self.head.clone(), Some(wal)))
    }
}

impl Queryable for Db {
    fn querier(&self, min_time: i64, max_time: i64) -> Result<Box<dyn Querier>, StorageError> {
        let blocks = self
            .blocks
            .read()
            .iter()
            .filter(|b| b.overlaps(min_time, max_time))
            .cloned()
            .collect();
        Ok(Box::new(DbQuerier {
            head: self.head.clone(),
            blocks,
            min_time,
            max_time,
        }))
    }
}
