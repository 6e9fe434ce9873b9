//! Tombstones: time ranges deleted from series (`delete_series` of the
//! admin API), kept beside the data instead of rewriting it. Queries hide
//! the samples they cover; compaction and `clean_tombstones` drop them.
//!
//! A block keeps its tombstones in a `tombstones` file, in Prometheus's
//! format (see `docs/format/tombstones.md`); the head keeps them in memory
//! and in the WAL (record type 3).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::storage::{SampleIterator, StorageError};
use crate::tsdb::wal::records::{get_uvarint, get_varint, put_uvarint, put_varint};

/// The first four bytes (big-endian) of a tombstones file.
pub const TOMBSTONES_MAGIC: u32 = 0x0130_BA30;
/// The format version byte that follows the magic number.
pub const TOMBSTONES_FORMAT_V1: u8 = 1;
/// The file name inside a block directory.
pub const TOMBSTONES_FILENAME: &str = "tombstones";

/// Why tombstones could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TombstoneError {
    /// A file operation failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file did not decode.
    #[error("invalid tombstones file {path}: {message}")]
    Corrupt {
        /// The file involved.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// A closed time range `[min_time, max_time]` in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// First deleted timestamp.
    pub min_time: i64,
    /// Last deleted timestamp.
    pub max_time: i64,
}

impl Interval {
    /// Whether `t` lies in the range.
    pub fn contains(&self, t: i64) -> bool {
        self.min_time <= t && t <= self.max_time
    }
}

/// Sorted, disjoint intervals; neighbours one millisecond apart are merged
/// (timestamps are discrete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals(Vec<Interval>);

impl Intervals {
    /// Adds an interval, merging it with the ones it overlaps or touches.
    /// An interval with `min_time > max_time` is ignored.
    pub fn add(&mut self, new: Interval) {
        if new.min_time > new.max_time {
            return;
        }
        self.0.push(new);
        self.0.sort_by_key(|i| i.min_time);
        let mut merged: Vec<Interval> = Vec::with_capacity(self.0.len());
        for interval in self.0.drain(..) {
            match merged.last_mut() {
                Some(last) if interval.min_time <= last.max_time.saturating_add(1) => {
                    last.max_time = last.max_time.max(interval.max_time);
                }
                _ => merged.push(interval),
            }
        }
        self.0 = merged;
    }

    /// The intervals, oldest first.
    pub fn as_slice(&self) -> &[Interval] {
        &self.0
    }

    /// Whether there is no interval.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether timestamp `t` is deleted.
    pub fn contains(&self, t: i64) -> bool {
        let after = self.0.partition_point(|i| i.max_time < t);
        self.0.get(after).is_some_and(|i| i.contains(t))
    }

    /// Whether every timestamp of `[min_time, max_time]` is deleted.
    pub fn covers(&self, min_time: i64, max_time: i64) -> bool {
        let after = self.0.partition_point(|i| i.max_time < min_time);
        self.0
            .get(after)
            .is_some_and(|i| i.min_time <= min_time && max_time <= i.max_time)
    }

    /// Drops intervals that end before `t`.
    pub fn truncate_before(&mut self, t: i64) {
        self.0.retain(|i| i.max_time >= t);
    }
}

/// Tombstones of many series, by series reference (in a block: the
/// series' position in the index; in the head: the series reference).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tombstones {
    by_series: BTreeMap<u64, Intervals>,
}

impl Tombstones {
    /// Adds a deleted interval to a series.
    pub fn add(&mut self, series_ref: u64, interval: Interval) {
        let intervals = self.by_series.entry(series_ref).or_default();
        intervals.add(interval);
        if intervals.is_empty() {
            self.by_series.remove(&series_ref);
        }
    }

    /// The deleted intervals of a series, if any.
    pub fn get(&self, series_ref: u64) -> Option<&Intervals> {
        self.by_series.get(&series_ref)
    }

    /// Whether no series has a tombstone.
    pub fn is_empty(&self) -> bool {
        self.by_series.is_empty()
    }

    /// Number of intervals over all series.
    pub fn total(&self) -> u64 {
        self.by_series.values().map(|i| i.0.len() as u64).sum()
    }

    /// Every (series, intervals), by series reference.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Intervals)> {
        self.by_series.iter().map(|(r, i)| (*r, i))
    }

    /// Keeps the series for which `keep` holds, and in them only intervals
    /// ending at or after `min_time`.
    pub fn retain(&mut self, min_time: i64, keep: impl Fn(u64) -> bool) {
        self.by_series.retain(|series_ref, intervals| {
            intervals.truncate_before(min_time);
            keep(*series_ref) && !intervals.is_empty()
        });
    }

    /// The file bytes: magic, version, `uvarint(ref) varint(mint)
    /// varint(maxt)` per interval, CRC32C (big-endian) of the entries.
    pub fn encode(&self) -> Vec<u8> {
        let mut entries = Vec::new();
        for (series_ref, intervals) in &self.by_series {
            for interval in intervals.as_slice() {
                put_uvarint(&mut entries, *series_ref);
                put_varint(&mut entries, interval.min_time);
                put_varint(&mut entries, interval.max_time);
            }
        }
        let mut out = Vec::with_capacity(entries.len() + 9);
        out.extend_from_slice(&TOMBSTONES_MAGIC.to_be_bytes());
        out.push(TOMBSTONES_FORMAT_V1);
        out.extend_from_slice(&entries);
        out.extend_from_slice(&crc32c::crc32c(&entries).to_be_bytes());
        out
    }

    /// Decodes file bytes; `path` only names the file in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Tombstones, TombstoneError> {
        let corrupt = |message: String| TombstoneError::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        if bytes.len() < 9 {
            return Err(corrupt(format!("{} bytes is too short", bytes.len())));
        }
        let mut magic = [0u8; 4];
        magic.copy_from_slice(&bytes[..4]);
        let magic = u32::from_be_bytes(magic);
        if magic != TOMBSTONES_MAGIC {
            return Err(corrupt(format!("invalid magic number {magic:x}")));
        }
        if bytes[4] != TOMBSTONES_FORMAT_V1 {
            return Err(corrupt(format!("invalid tombstone format {:x}", bytes[4])));
        }
        let entries = &bytes[5..bytes.len() - 4];
        let mut stored = [0u8; 4];
        stored.copy_from_slice(&bytes[bytes.len() - 4..]);
        if u32::from_be_bytes(stored) != crc32c::crc32c(entries) {
            return Err(corrupt("checksum did not match".to_string()));
        }
        let mut tombstones = Tombstones::default();
        let mut position = 0;
        while position < entries.len() {
            let series_ref = get_uvarint(entries, &mut position).map_err(|e| corrupt(e.0))?;
            let min_time = get_varint(entries, &mut position).map_err(|e| corrupt(e.0))?;
            let max_time = get_varint(entries, &mut position).map_err(|e| corrupt(e.0))?;
            tombstones.add(series_ref, Interval { min_time, max_time });
        }
        Ok(tombstones)
    }

    /// Reads `dir/tombstones`; a missing file is no tombstones.
    pub fn read_file(dir: &Path) -> Result<Tombstones, TombstoneError> {
        let path = dir.join(TOMBSTONES_FILENAME);
        match std::fs::read(&path) {
            Ok(bytes) => Tombstones::decode(&bytes, &path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Tombstones::default()),
            Err(source) => Err(TombstoneError::Io { path, source }),
        }
    }

    /// Writes `dir/tombstones` through a fsynced temporary file renamed
    /// into place, so that a crash leaves the old or the new file.
    pub fn write_file(&self, dir: &Path) -> Result<(), TombstoneError> {
        use std::io::Write;
        let path = dir.join(TOMBSTONES_FILENAME);
        let temporary = dir.join(format!("{TOMBSTONES_FILENAME}.tmp"));
        let io = |path: &Path, source| TombstoneError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::create(&temporary).map_err(|e| io(&temporary, e))?;
        file.write_all(&self.encode())
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&temporary, e))?;
        drop(file);
        std::fs::rename(&temporary, &path).map_err(|e| io(&path, e))?;
        crate::tsdb::wal::sync_dir(dir);
        Ok(())
    }
}

/// A sample iterator that skips the samples inside deleted intervals.
pub struct DeletedSkippingIterator {
    inner: Box<dyn SampleIterator>,
    deleted: Arc<Intervals>,
    at: Option<(i64, f64)>,
}

impl DeletedSkippingIterator {
    /// Wraps `inner`, hiding the samples `deleted` covers.
    pub fn new(inner: Box<dyn SampleIterator>, deleted: Arc<Intervals>) -> Self {
        DeletedSkippingIterator {
            inner,
            deleted,
            at: None,
        }
    }

    fn skip_deleted(&mut self, mut sample: Option<(i64, f64)>) -> Option<(i64, f64)> {
        while let Some((t, _)) = sample {
            if !self.deleted.contains(t) {
                break;
            }
            sample = self.inner.next();
        }
        self.at = sample;
        sample
    }
}

impl SampleIterator for DeletedSkippingIterator {
    fn next(&mut self) -> Option<(i64, f64)> {
        let sample = self.inner.next();
        self.skip_deleted(sample)
    }

    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if let Some(current) = self.at
            && current.0 >= t
        {
            return Some(current);
        }
        let sample = self.inner.seek(t);
        self.skip_deleted(sample)
    }

    fn at(&self) -> Option<(i64, f64)> {
        self.at
    }

    fn err(&self) -> Option<StorageError> {
        self.inner.err()
    }
}

#[cfg(test)]
mod tests;
