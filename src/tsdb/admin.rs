//! The operations behind the admin API: deleting series (tombstones),
//! cleaning tombstones, and snapshots.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::TsdbError;
use super::db::Db;
use super::wal::records::encode_tombstones;
use crate::model::Matcher;
use crate::storage::StorageError;
use crate::storage::admin::AdminStorage;

/// What a deletion marked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeleteReport {
    /// Head series that got a tombstone.
    pub head_series: usize,
    /// Block series (counted once per block) that got a tombstone.
    pub block_series: usize,
}

/// Links `from` to `to` (a file), copying when hard links are refused
/// (another file system).
fn link_or_copy(from: &Path, to: &Path) -> Result<(), TsdbError> {
    if fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| TsdbError::io(to, e))
}

/// Recreates the directory tree `from` at `to`, files hard-linked.
fn link_tree(from: &Path, to: &Path) -> Result<(), TsdbError> {
    fs::create_dir_all(to).map_err(|e| TsdbError::io(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| TsdbError::io(from, e))? {
        let entry = entry.map_err(|e| TsdbError::io(from, e))?;
        let target = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| TsdbError::io(entry.path(), e))?;
        if kind.is_dir() {
            link_tree(&entry.path(), &target)?;
        } else {
            link_or_copy(&entry.path(), &target)?;
        }
    }
    Ok(())
}

impl Db {
    fn ensure_open(&self) -> Result<(), TsdbError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(TsdbError::Closed);
        }
        Ok(())
    }

    /// Deletes `[min_time, max_time]` (inclusive, milliseconds) from the
    /// series matching `matchers`, as Prometheus's `DB.Delete`: head series
    /// get a tombstone in the WAL and in memory, block series one in the
    /// block's `tombstones` file. Queries stop returning the samples at
    /// once; the data is dropped when compaction or `clean_tombstones`
    /// rewrites the block (or the head is cut).
    pub fn delete_series(
        &self,
        min_time: i64,
        max_time: i64,
        matchers: &[Matcher],
    ) -> Result<DeleteReport, TsdbError> {
        self.ensure_open()?;
        let _maintenance = self.maintenance.lock();
        let mut report = DeleteReport::default();
        if min_time > max_time {
            return Ok(report);
        }
        for block in self.blocks() {
            if block.overlaps(min_time, max_time) {
                report.block_series += block.delete(min_time, max_time, matchers)?;
            }
        }
        let stones = self.head.deletion_stones(min_time, max_time, matchers);
        if !stones.is_empty() {
            self.wal.log(&[&encode_tombstones(&stones)])?;
            self.head.add_tombstones(&stones);
            report.head_series = stones.len();
        }
        tracing::info!(
            min_time,
            max_time,
            head_series = report.head_series,
            block_series = report.block_series,
            "series deleted"
        );
        Ok(report)
    }

    /// Rewrites every block that has tombstones without the deleted
    /// samples (Prometheus's `CleanTombstones`); a block left empty is
    /// removed. Returns the number of blocks rewritten.
    pub fn clean_tombstones(&self) -> Result<usize, TsdbError> {
        self.ensure_open()?;
        let _maintenance = self.maintenance.lock();
        let mut rewritten = 0;
        for block in self.blocks() {
            if block.tombstones().is_empty() {
                continue;
            }
            let level = block.meta().compaction.level;
            let (meta, _, _) = self.rewrite_blocks(std::slice::from_ref(&block), level)?;
            tracing::info!(
                old = %block.meta().ulid,
                new = meta.as_ref().map_or("", |m| m.ulid.as_str()),
                "block rewritten without deleted data"
            );
            rewritten += 1;
        }
        if rewritten > 0 {
            self.reload_blocks()?;
            self.update_size_metrics();
        }
        Ok(rewritten)
    }

    /// Writes a snapshot into `dir` (which must not exist): every block
    /// hard-linked (copied across file systems) with its tombstones, and
    /// unless `skip_head`, the head's samples (without deleted ones)
    /// written as one more block. The directory can be opened as a data
    /// directory of its own.
    pub fn snapshot(&self, dir: &Path, skip_head: bool) -> Result<(), TsdbError> {
        self.ensure_open()?;
        let _maintenance = self.maintenance.lock();
        if dir.exists() {
            return Err(TsdbError::InvalidArgument(format!(
                "snapshot directory {} already exists",
                dir.display()
            )));
        }
        fs::create_dir_all(dir).map_err(|e| TsdbError::io(dir, e))?;
        for block in self.blocks() {
            link_tree(block.dir(), &dir.join(&block.meta().ulid))?;
        }
        if !skip_head {
            let (head_min, head_max) = (self.head.min_time(), self.head.max_time());
            if head_min <= head_max {
                self.write_head_block_into(dir, head_min, head_max.saturating_add(1))?;
            }
        }
        super::wal::sync_dir(dir);
        Ok(())
    }

    /// `<data>/snapshots/<YYYYMMDDTHHMMSSZ>-<16 hex digits>`: where the
    /// admin API puts a new snapshot (Prometheus's naming).
    pub fn new_snapshot_dir(&self) -> PathBuf {
        let name = format!(
            "{}-{:016x}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
            rand::random::<u64>() >> 1
        );
        self.dir.join("snapshots").join(name)
    }
}

impl AdminStorage for Db {
    fn delete_series(
        &self,
        min_time: i64,
        max_time: i64,
        matchers: &[Matcher],
    ) -> Result<(), StorageError> {
        Db::delete_series(self, min_time, max_time, matchers)?;
        Ok(())
    }

    fn clean_tombstones(&self) -> Result<(), StorageError> {
        Db::clean_tombstones(self)?;
        Ok(())
    }

    fn snapshot(&self, skip_head: bool) -> Result<String, StorageError> {
        let dir = self.new_snapshot_dir();
        Db::snapshot(self, &dir, skip_head)?;
        Ok(dir
            .file_name()
            .map(|name| name.to_string_lossy().to_string())
            .unwrap_or_default())
    }
}
