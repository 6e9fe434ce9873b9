//! Cutting the head into blocks, compacting blocks into larger ranges,
//! retention, and the WAL truncation that follows a head cut.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::TsdbError;
use super::block::{Block, BlockMeta, BlockWriter};
use super::chunks::decode_all;
use super::db::Db;
use super::wal::{create_checkpoint, list_segments};
use crate::model::Labels;

fn looks_like_ulid(name: &str) -> bool {
    name.len() == 26 && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What [`load_blocks`] does with `*.tmp` and `*.tmp-for-deletion`
/// directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leftovers {
    /// Remove them: the owner of the directory (holding its lock) at start,
    /// when they can only be leftovers of interrupted writes and deletions.
    Remove,
    /// Leave them: read-only tools, which may run beside a server or an
    /// import that is writing one of them right now.
    Keep,
}

/// Loads every block directory under `dir` (oldest first), removing
/// leftovers of interrupted writes and deletions when `leftovers` says so.
pub(crate) fn load_blocks(dir: &Path, leftovers: Leftovers) -> Result<Vec<Arc<Block>>, TsdbError> {
    let mut blocks = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| TsdbError::io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        if leftovers == Leftovers::Remove
            && (name.ends_with(".tmp") || name.ends_with(".tmp-for-deletion"))
        {
            tracing::info!(dir = %path.display(), "removing leftover temporary block directory");
            let _ = fs::remove_dir_all(&path);
            continue;
        }
        if !looks_like_ulid(&name) || !path.join("meta.json").exists() {
            continue;
        }
        match Block::open(&path) {
            Ok(block) => blocks.push(Arc::new(block)),
            Err(error) => {
                tracing::error!(block = %path.display(), %error, "cannot load block; skipping it");
            }
        }
    }
    blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
    Ok(blocks)
}

/// Removes a block directory: renamed first, so that a crash in the middle
/// leaves a leftover that the next start removes, not a half block.
fn delete_block_dir(dir: &Path) -> Result<(), TsdbError> {
    let doomed = dir.with_extension("tmp-for-deletion");
    fs::rename(dir, &doomed).map_err(|e| TsdbError::io(dir, e))?;
    fs::remove_dir_all(&doomed).map_err(|e| TsdbError::io(&doomed, e))
}

/// The first set of blocks (oldest first) whose time ranges overlap,
/// directly or through each other; `None` when no two blocks overlap.
fn first_overlapping_group(blocks: &[Arc<Block>]) -> Option<Vec<Arc<Block>>> {
    let mut sorted: Vec<Arc<Block>> = blocks.to_vec();
    sorted.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
    let mut group: Vec<Arc<Block>> = Vec::new();
    let mut group_end = i64::MIN;
    for block in sorted {
        if !group.is_empty() && block.meta().min_time < group_end {
            group_end = group_end.max(block.meta().max_time);
            group.push(block);
            continue;
        }
        if group.len() >= 2 {
            return Some(group);
        }
        group_end = block.meta().max_time;
        group = vec![block];
    }
    (group.len() >= 2).then_some(group)
}

fn merge_sorted_samples(parts: Vec<Vec<(i64, f64)>>) -> Vec<(i64, f64)> {
    let mut merged: Vec<(i64, f64)> = parts.into_iter().flatten().collect();
    merged.sort_by_key(|s| s.0);
    merged.dedup_by_key(|s| s.0);
    merged
}

impl Db {
    /// Re-reads the block directory, as Prometheus's `reloadBlocks` does on
    /// every compaction cycle: block directories that appeared since (a
    /// backfill by `promshard tsdb import` while the server runs) become
    /// queryable, and blocks whose directory is gone are dropped. A
    /// directory counts once its `meta.json` exists under a ULID name;
    /// writers work in `<ulid>.tmp` and rename, so a half-written block is
    /// never seen. A new block that does not load is logged and skipped.
    pub(crate) fn reload_blocks(&self) -> Result<(), TsdbError> {
        let current = self.blocks.read().clone();
        let mut loaded = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(|e| TsdbError::io(&self.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !looks_like_ulid(&name) || !entry.path().join("meta.json").exists() {
                continue;
            }
            if let Some(existing) = current.iter().find(|b| b.meta().ulid == name) {
                loaded.push(existing.clone());
                continue;
            }
            match Block::open(&entry.path()) {
                Ok(block) => {
                    tracing::info!(ulid = %name, min_time = block.meta().min_time,
                        max_time = block.meta().max_time, "new block loaded");
                    loaded.push(Arc::new(block));
                }
                Err(error) => {
                    tracing::error!(block = %entry.path().display(), %error, "cannot load new block; skipping it");
                }
            }
        }
        loaded.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
        *self.blocks.write() = loaded;
        Ok(())
    }

    /// Cuts the oldest block range of the head into a block while the head
    /// spans more than 1.5 block ranges.
    pub(crate) fn compact_head(&self) -> Result<(), TsdbError> {
        let range = self.options.block_range_ms;
        let mut cut_any = false;
        loop {
            let (head_min, head_max) = (self.head.min_time(), self.head.max_time());
            if head_min == i64::MAX || head_max == i64::MIN {
                break;
            }
            if head_max.saturating_sub(head_min) <= range / 2 * 3 {
                break;
            }
            let block_min = head_min.div_euclid(range) * range;
            let block_max = block_min + range;
            self.metrics.compactions_triggered.inc();
            // From now on nothing older than the block's end is accepted, so
            // no sample can slip in between writing the block and truncating.
            self.head.set_min_valid_time(block_max);
            if let Err(error) = self.write_head_block(block_min, block_max) {
                self.metrics.compactions_failed.inc();
                self.metrics.head_truncations_failed.inc();
                return Err(error);
            }
            self.metrics.compactions.inc();
            self.metrics.head_truncations.inc();
            self.head.truncate(block_max);
            cut_any = true;
        }
        if cut_any {
            self.truncate_wal()?;
        }
        Ok(())
    }

    fn write_head_block(&self, block_min: i64, block_max: i64) -> Result<(), TsdbError> {
        if let Some(meta) = self.write_head_block_into(&self.dir, block_min, block_max)? {
            tracing::info!(ulid = %meta.ulid, min_time = meta.min_time, max_time = meta.max_time,
                series = meta.stats.num_series, samples = meta.stats.num_samples, "head cut into block");
        }
        self.reload_blocks()
    }

    /// Writes the head's samples in `[block_min, block_max)`, without the
    /// deleted ones, as a block in `parent`; `None` when there were none.
    pub(crate) fn write_head_block_into(
        &self,
        parent: &Path,
        block_min: i64,
        block_max: i64,
    ) -> Result<Option<BlockMeta>, TsdbError> {
        let mut series = self.head.all_series();
        series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        let mut writer = BlockWriter::new(parent, block_min, block_max, 1, Vec::new())?;
        for one in series {
            let handles = one.state.lock().chunks_in(block_min, block_max - 1);
            let mut samples = Vec::new();
            for handle in handles {
                let (encoding, bytes) = handle
                    .load()
                    .map_err(|e| TsdbError::corruption(&self.dir, e.to_string()))?;
                let decoded = decode_all(encoding, &bytes)
                    .map_err(|e| TsdbError::corruption(&self.dir, e.to_string()))?;
                samples.extend(
                    decoded
                        .into_iter()
                        .filter(|s| s.0 >= block_min && s.0 < block_max),
                );
            }
            if let Some(deleted) = self.head.deleted_intervals(one.series_ref) {
                samples.retain(|s| !deleted.contains(s.0));
            }
            if let Err(error) = writer.add_series(one.labels.clone(), &samples) {
                writer.abort();
                return Err(error);
            }
        }
        writer.finish()
    }

    /// Checkpoints the closed WAL segments (keeping series still in the head
    /// and samples the head still holds) and deletes them, except segments a
    /// reader asked to keep.
    pub(crate) fn truncate_wal(&self) -> Result<(), TsdbError> {
        let wal_dir = self.wal_dir();
        self.metrics.wal_truncations.inc();
        let new_segment = self.wal.next_segment()?;
        let Some(through) = new_segment.checked_sub(1) else {
            return Ok(());
        };
        if list_segments(&wal_dir)?
            .first()
            .is_none_or(|first| *first > through)
        {
            return Ok(());
        }
        self.metrics.checkpoint_creations.inc();
        let head = self.head.clone();
        let keep = move |series_ref: u64| head.contains(series_ref);
        create_checkpoint(&wal_dir, through, &keep, self.head.min_valid_time())?;
        let hold = self.wal_holds.lock().values().copied().min();
        let delete_before = match hold {
            Some(held) => held.min(through + 1),
            None => through + 1,
        };
        let deleted = self.wal.delete_segments_before(delete_before)?;
        tracing::info!(
            checkpoint = through,
            deleted_segments = deleted,
            "wal truncated"
        );
        Ok(())
    }

    /// Compacts overlapping blocks into one (vertical compaction, which
    /// Prometheus does by default), then groups of blocks that fill a
    /// window of a larger range.
    pub(crate) fn compact_blocks(&self) -> Result<(), TsdbError> {
        let ranges = self.options.compaction_ranges();
        loop {
            let blocks = self.blocks.read().clone();
            if let Some(overlapping) = first_overlapping_group(&blocks) {
                self.metrics.compactions_triggered.inc();
                self.metrics.vertical_compactions.inc();
                match self.compact_group(&overlapping) {
                    Ok(()) => self.metrics.compactions.inc(),
                    Err(error) => {
                        self.metrics.compactions_failed.inc();
                        return Err(error);
                    }
                }
                continue;
            }
            let Some(newest_end) = blocks.iter().map(|b| b.meta().max_time).max() else {
                return Ok(());
            };
            let mut plan: Option<Vec<Arc<Block>>> = None;
            'ranges: for &range in ranges.iter().skip(1) {
                let mut windows: std::collections::BTreeMap<i64, Vec<Arc<Block>>> =
                    Default::default();
                for block in &blocks {
                    let window = block.meta().min_time.div_euclid(range) * range;
                    if block.meta().max_time <= window + range {
                        windows.entry(window).or_default().push(block.clone());
                    }
                }
                for (window, group) in windows {
                    if group.len() >= 2 && window + range <= newest_end {
                        plan = Some(group);
                        break 'ranges;
                    }
                }
            }
            let Some(group) = plan else {
                return Ok(());
            };
            self.metrics.compactions_triggered.inc();
            match self.compact_group(&group) {
                Ok(()) => self.metrics.compactions.inc(),
                Err(error) => {
                    self.metrics.compactions_failed.inc();
                    return Err(error);
                }
            }
        }
    }

    fn compact_group(&self, group: &[Arc<Block>]) -> Result<(), TsdbError> {
        let level = group
            .iter()
            .map(|b| b.meta().compaction.level)
            .max()
            .unwrap_or(1)
            + 1;
        let (meta, min_time, max_time) = self.rewrite_blocks(group, level)?;
        tracing::info!(
            ulid = meta.as_ref().map_or("", |m| m.ulid.as_str()),
            compacted = group.len(),
            min_time,
            max_time,
            "blocks compacted"
        );
        self.reload_blocks()
    }

    /// Writes the samples of `group`, merged and without deleted ones, as
    /// one block of compaction level `level` spanning the group, then
    /// deletes the group's directories. The caller reloads the blocks.
    /// Returns the new block's meta (`None` when nothing was left) and its
    /// range.
    pub(crate) fn rewrite_blocks(
        &self,
        group: &[Arc<Block>],
        level: u32,
    ) -> Result<(Option<BlockMeta>, i64, i64), TsdbError> {
        let min_time = group.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
        let max_time = group.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
        let mut sources: Vec<String> = group
            .iter()
            .flat_map(|b| b.meta().compaction.sources.iter().cloned())
            .collect();
        sources.sort();
        sources.dedup();
        let tombstones: Vec<_> = group.iter().map(|b| b.tombstones()).collect();
        let mut writer = BlockWriter::new(&self.dir, min_time, max_time, level, sources)?;
        let mut positions = vec![0usize; group.len()];
        loop {
            let smallest: Option<Labels> = group
                .iter()
                .zip(&positions)
                .filter_map(|(block, &position)| block.series().get(position))
                .map(|series| series.labels.clone())
                .min();
            let Some(labels) = smallest else { break };
            let mut parts = Vec::new();
            for ((block, position), block_tombstones) in
                group.iter().zip(positions.iter_mut()).zip(&tombstones)
            {
                let Some(series) = block.series().get(*position) else {
                    continue;
                };
                if series.labels != labels {
                    continue;
                }
                let deleted = block_tombstones.get(*position as u64);
                *position += 1;
                for handle in series.chunks.iter() {
                    let loaded = handle
                        .load()
                        .and_then(|(encoding, bytes)| decode_all(encoding, &bytes));
                    match loaded {
                        Ok(mut samples) => {
                            if let Some(deleted) = deleted {
                                samples.retain(|s| !deleted.contains(s.0));
                            }
                            parts.push(samples)
                        }
                        Err(error) => {
                            writer.abort();
                            return Err(TsdbError::corruption(block.dir(), error.to_string()));
                        }
                    }
                }
            }
            if let Err(error) = writer.add_series(labels, &merge_sorted_samples(parts)) {
                writer.abort();
                return Err(error);
            }
        }
        let meta = writer.finish()?;
        for block in group {
            delete_block_dir(block.dir())?;
        }
        Ok((meta, min_time, max_time))
    }

    /// Deletes blocks beyond the retention time and, oldest first, blocks
    /// beyond the retention size.
    pub(crate) fn apply_retention(&self) -> Result<(), TsdbError> {
        let blocks = self.blocks.read().clone();
        let Some(newest) = blocks
            .iter()
            .map(|b| b.meta().max_time)
            .chain(std::iter::once(self.head.max_time()))
            .max()
        else {
            return Ok(());
        };
        let retention_ms = self
            .options
            .retention_time
            .as_millis()
            .min(i64::MAX as u128) as i64;
        let mut doomed: Vec<Arc<Block>> = Vec::new();
        if retention_ms > 0 {
            for block in &blocks {
                if newest.saturating_sub(block.meta().max_time) >= retention_ms {
                    doomed.push(block.clone());
                    self.metrics.time_retentions.inc();
                }
            }
        }
        if let Some(limit) = self.options.retention_size.filter(|l| *l > 0) {
            let mut total: u64 = self.wal.size_bytes()
                + blocks
                    .iter()
                    .filter(|b| !doomed.iter().any(|d| Arc::ptr_eq(d, b)))
                    .map(|b| b.size_bytes())
                    .sum::<u64>();
            for block in &blocks {
                if total <= limit {
                    break;
                }
                if doomed.iter().any(|d| Arc::ptr_eq(d, block)) {
                    continue;
                }
                total = total.saturating_sub(block.size_bytes());
                doomed.push(block.clone());
                self.metrics.size_retentions.inc();
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        self.blocks
            .write()
            .retain(|b| !doomed.iter().any(|d| Arc::ptr_eq(d, b)));
        for block in &doomed {
            tracing::info!(ulid = %block.meta().ulid, "deleting block beyond retention");
            delete_block_dir(block.dir())?;
        }
        Ok(())
    }
}
