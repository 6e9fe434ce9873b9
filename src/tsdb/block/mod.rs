//! Immutable on-disk blocks: `meta.json`, an `index` of series and their
//! chunk references, and a `chunks/` directory. See `docs/format/index.md`.

mod index_file;
mod meta;
mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

pub use index_file::{INDEX_MAGIC, IndexSeries, decode_index, encode_index};
pub use meta::{BlockCompaction, BlockMeta, BlockStats, new_ulid};
pub use writer::{BlockWriter, SEALED_CHUNK_MAX_SAMPLES};

use super::TsdbError;
use super::chunks::ChunkHandle;
use super::index::{MemPostings, postings_for_matchers};
use super::querier::{ChunkSeries, drop_deleted_chunks};
use super::tombstones::{Interval, Intervals, Tombstones};
use crate::model::{Labels, Matcher};
use crate::storage::{Series, SeriesSet, VecSeriesSet};

/// Magic number at the start of a chunk segment file.
pub const CHUNKS_MAGIC: &[u8; 4] = b"PSC1";

/// One series of a loaded block.
pub struct BlockSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Its chunks, in time order.
    pub chunks: Arc<[ChunkHandle]>,
}

/// A loaded block: its meta, its series (in label order) and postings.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    series: Vec<BlockSeries>,
    postings: MemPostings,
    size_bytes: u64,
    /// Deleted ranges by series position; replaced as a whole when a
    /// deletion rewrites the `tombstones` file.
    tombstones: RwLock<Arc<Tombstones>>,
}

impl Block {
    /// Loads the block in `dir`: meta and index are read into memory; chunk
    /// bytes are read from the chunk file when iterated.
    pub fn open(dir: &Path) -> Result<Block, TsdbError> {
        let meta = BlockMeta::read(dir)?;
        let index_path = dir.join("index");
        let index_bytes = std::fs::read(&index_path).map_err(|e| TsdbError::io(&index_path, e))?;
        let decoded = decode_index(&index_bytes)
            .map_err(|message| TsdbError::corruption(&index_path, message))?;
        let chunk_path = dir.join("chunks").join("000001");
        let chunk_file =
            Arc::new(File::open(&chunk_path).map_err(|e| TsdbError::io(&chunk_path, e))?);
        let chunk_file_size = chunk_file
            .metadata()
            .map_err(|e| TsdbError::io(&chunk_path, e))?
            .len();
        let mut postings = MemPostings::new();
        let mut series = Vec::with_capacity(decoded.len());
        for (position, entry) in decoded.into_iter().enumerate() {
            let mut handles = Vec::with_capacity(entry.chunks.len());
            for chunk in entry.chunks {
                if chunk.offset + u64::from(chunk.length) + 5 > chunk_file_size {
                    return Err(TsdbError::corruption(
                        &chunk_path,
                        format!("chunk reference {} beyond end of file", chunk.offset),
                    ));
                }
                handles.push(ChunkHandle::OnDisk {
                    file: chunk_file.clone(),
                    offset: chunk.offset,
                    length: chunk.length,
                    encoding: chunk.encoding,
                    min_time: chunk.min_time,
                    max_time: chunk.max_time,
                });
            }
            postings.add(position as u64, &entry.labels);
            series.push(BlockSeries {
                labels: entry.labels,
                chunks: handles.into(),
            });
        }
        let size_bytes = super::wal::directory_size(dir);
        let tombstones = Tombstones::read_file(dir)?;
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            series,
            postings,
            size_bytes,
            tombstones: RwLock::new(Arc::new(tombstones)),
        })
    }

    /// The block's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The block's meta.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Every series, in label order.
    pub fn series(&self) -> &[BlockSeries] {
        &self.series
    }

    /// Whether the block's range `[min_time, max_time)` meets
    /// `[min_time, max_time]`.
    pub fn overlaps(&self, min_time: i64, max_time: i64) -> bool {
        self.meta.min_time <= max_time && self.meta.max_time > min_time
    }

    fn matching(
        &self,
        min_time: i64,
        max_time: i64,
        matchers: &[Matcher],
    ) -> impl Iterator<Item = &BlockSeries> {
        postings_for_matchers(&self.postings, matchers)
            .into_iter()
            .filter_map(|position| self.series.get(position as usize))
            .filter(move |series| {
                series
                    .chunks
                    .iter()
                    .any(|c| c.max_time() >= min_time && c.min_time() <= max_time)
            })
    }

    /// The block's tombstones (deleted ranges by series position).
    pub fn tombstones(&self) -> Arc<Tombstones> {
        self.tombstones.read().clone()
    }

    /// The deleted ranges of the series at `position`, if any.
    pub fn deleted_intervals(&self, position: usize) -> Option<Intervals> {
        self.tombstones.read().get(position as u64).cloned()
    }

    /// Marks `[min_time, max_time]` deleted in the series matching
    /// `matchers` that hold samples in the range (each interval clamped to
    /// the series' samples), rewriting the `tombstones` file. Returns the
    /// number of series touched. Callers serialise deletions of one block.
    pub fn delete(
        &self,
        min_time: i64,
        max_time: i64,
        matchers: &[Matcher],
    ) -> Result<usize, TsdbError> {
        let mut updated = Tombstones::clone(&self.tombstones());
        let mut touched = 0;
        for position in postings_for_matchers(&self.postings, matchers) {
            let Some(series) = self.series.get(position as usize) else {
                continue;
            };
            let (Some(first), Some(last)) = (series.chunks.first(), series.chunks.last()) else {
                continue;
            };
            if !series
                .chunks
                .iter()
                .any(|c| c.max_time() >= min_time && c.min_time() <= max_time)
            {
                continue;
            }
            updated.add(
                position,
                Interval {
                    min_time: min_time.max(first.min_time()),
                    max_time: max_time.min(last.max_time()),
                },
            );
            touched += 1;
        }
        if touched > 0 {
            updated.write_file(&self.dir)?;
            let mut meta = self.meta.clone();
            meta.stats.num_tombstones = updated.total();
            meta.replace(&self.dir)?;
            *self.tombstones.write() = Arc::new(updated);
        }
        Ok(touched)
    }

    /// The series matching `matchers` with samples in the window, in label
    /// order; deleted samples are hidden and series left without samples
    /// are not selected.
    pub fn select(&self, min_time: i64, max_time: i64, matchers: &[Matcher]) -> Box<dyn SeriesSet> {
        let tombstones = self.tombstones();
        let positions = postings_for_matchers(&self.postings, matchers);
        let series: Vec<Box<dyn Series>> = positions
            .into_iter()
            .filter_map(|position| {
                let series = self.series.get(position as usize)?;
                let mut chunks: Vec<ChunkHandle> = series
                    .chunks
                    .iter()
                    .filter(|c| c.max_time() >= min_time && c.min_time() <= max_time)
                    .cloned()
                    .collect();
                let deleted = tombstones.get(position);
                drop_deleted_chunks(&mut chunks, deleted, min_time, max_time);
                if chunks.is_empty() {
                    return None;
                }
                Some(Box::new(
                    ChunkSeries::new(series.labels.clone(), chunks, min_time, max_time)
                        .with_deleted(deleted.cloned().map(Arc::new)),
                ) as Box<dyn Series>)
            })
            .collect();
        Box::new(VecSeriesSet::new(series))
    }

    /// Labels of the series matching `matchers` with samples in the window.
    pub fn matching_labels(
        &self,
        min_time: i64,
        max_time: i64,
        matchers: &[Matcher],
    ) -> Vec<Labels> {
        self.matching(min_time, max_time, matchers)
            .map(|series| series.labels.clone())
            .collect()
    }

    /// Every label name in the block.
    pub fn label_names(&self) -> Vec<String> {
        self.postings.label_names().map(str::to_string).collect()
    }

    /// Every value of label `name` in the block.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.postings
            .values_of(name)
            .map(|(value, _)| value.to_string())
            .collect()
    }
}
