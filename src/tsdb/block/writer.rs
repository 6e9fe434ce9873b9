//! Writes a block from series given in label order.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::CHUNKS_MAGIC;
use super::index_file::{IndexChunk, IndexSeries, encode_index};
use super::meta::{BlockCompaction, BlockMeta, BlockStats, new_ulid, write_synced};
use crate::model::Labels;
use crate::model::sample::now_millis;
use crate::tsdb::TsdbError;
use crate::tsdb::chunkenc::{encode_timestamp_column, encode_value_column};
use crate::tsdb::chunks::{
    ENCODING_VALUES_SHARED_TIME, ENTRY_TIMESTAMP_COLUMN, encode_shared_time_reference,
};
use crate::tsdb::wal::sync_dir;

/// Most samples one sealed block chunk holds; longer series get several
/// chunks so that a query over part of a big block decodes only part.
pub const SEALED_CHUNK_MAX_SAMPLES: usize = 2048;

/// Writes one block into `<parent>/<ulid>.tmp`, renamed into place by
/// [`BlockWriter::finish`].
///
/// Each chunk is a value column referring to a timestamp column written
/// once per distinct timestamp sequence: the series of one target, scraped
/// together, share one column per chunk span.
pub struct BlockWriter {
    parent: PathBuf,
    temporary_dir: PathBuf,
    meta: BlockMeta,
    chunk_writer: BufWriter<File>,
    chunk_path: PathBuf,
    offset: u64,
    index: Vec<IndexSeries>,
    previous_labels: Option<Labels>,
    /// Timestamp columns written so far: encoded bytes to (offset, length).
    timestamp_columns: HashMap<Vec<u8>, (u64, u32)>,
}

impl BlockWriter {
    /// Starts a block over `[min_time, max_time)`.
    pub fn new(
        parent: &Path,
        min_time: i64,
        max_time: i64,
        level: u32,
        sources: Vec<String>,
    ) -> Result<Self, TsdbError> {
        let ulid = new_ulid(now_millis());
        let temporary_dir = parent.join(format!("{ulid}.tmp"));
        let chunks_dir = temporary_dir.join("chunks");
        fs::create_dir_all(&chunks_dir).map_err(|e| TsdbError::io(&chunks_dir, e))?;
        let chunk_path = chunks_dir.join("000001");
        let file = File::create(&chunk_path).map_err(|e| TsdbError::io(&chunk_path, e))?;
        let mut chunk_writer = BufWriter::with_capacity(1 << 20, file);
        chunk_writer
            .write_all(CHUNKS_MAGIC)
            .map_err(|e| TsdbError::io(&chunk_path, e))?;
        let sources = if sources.is_empty() {
            vec![ulid.clone()]
        } else {
            sources
        };
        Ok(BlockWriter {
            parent: parent.to_path_buf(),
            temporary_dir,
            meta: BlockMeta {
                ulid,
                min_time,
                max_time,
                stats: BlockStats::default(),
                compaction: BlockCompaction { level, sources },
                version: 1,
            },
            chunk_writer,
            chunk_path,
            offset: CHUNKS_MAGIC.len() as u64,
            index: Vec::new(),
            previous_labels: None,
            timestamp_columns: HashMap::new(),
        })
    }

    /// Adds a series; calls must come in label order. Samples outside the
    /// block's range are dropped; a series left without samples is skipped.
    pub fn add_series(&mut self, labels: Labels, samples: &[(i64, f64)]) -> Result<(), TsdbError> {
        let (min_time, max_time) = (self.meta.min_time, self.meta.max_time);
        let start = samples.partition_point(|s| s.0 < min_time);
        let end = samples.partition_point(|s| s.0 < max_time);
        let samples = &samples[start..end.max(start)];
        if samples.is_empty() {
            return Ok(());
        }
        if let Some(previous) = &self.previous_labels
            && previous >= &labels
        {
            return Err(TsdbError::InvalidArgument(format!(
                "block series out of order: {labels} after {previous}"
            )));
        }
        let mut chunks = Vec::new();
        for part in samples.chunks(SEALED_CHUNK_MAX_SAMPLES) {
            let times: Vec<i64> = part.iter().map(|s| s.0).collect();
            let values: Vec<f64> = part.iter().map(|s| s.1).collect();
            let (column_offset, column_length) =
                self.timestamp_column(encode_timestamp_column(&times))?;
            let data = encode_shared_time_reference(
                self.offset - column_offset,
                column_length,
                &encode_value_column(&values),
            );
            let offset = self.write_entry(ENCODING_VALUES_SHARED_TIME, &data)?;
            chunks.push(IndexChunk {
                min_time: times[0],
                max_time: times[times.len() - 1],
                offset,
                length: data.len() as u32,
                encoding: ENCODING_VALUES_SHARED_TIME,
            });
            self.meta.stats.num_chunks += 1;
        }
        self.meta.stats.num_samples += samples.len() as u64;
        self.meta.stats.num_series += 1;
        self.previous_labels = Some(labels.clone());
        self.index.push(IndexSeries { labels, chunks });
        Ok(())
    }

    /// The offset and length of a timestamp column, written now unless an
    /// identical one already was.
    fn timestamp_column(&mut self, column: Vec<u8>) -> Result<(u64, u32), TsdbError> {
        if let Some(&written) = self.timestamp_columns.get(&column) {
            return Ok(written);
        }
        let offset = self.write_entry(ENTRY_TIMESTAMP_COLUMN, &column)?;
        let written = (offset, column.len() as u32);
        self.timestamp_columns.insert(column, written);
        Ok(written)
    }

    /// Appends an entry (entry byte, data, CRC32C of both) to the chunk
    /// file and returns its offset.
    fn write_entry(&mut self, entry: u8, data: &[u8]) -> Result<u64, TsdbError> {
        let mut digest = crc32c::crc32c(&[entry]);
        digest = crc32c::crc32c_append(digest, data);
        self.chunk_writer
            .write_all(&[entry])
            .and_then(|()| self.chunk_writer.write_all(data))
            .and_then(|()| self.chunk_writer.write_all(&digest.to_le_bytes()))
            .map_err(|e| TsdbError::io(&self.chunk_path, e))?;
        let offset = self.offset;
        self.offset += data.len() as u64 + 5;
        Ok(offset)
    }

    /// Number of series added so far.
    pub fn series_count(&self) -> u64 {
        self.meta.stats.num_series
    }

    /// Writes index and meta, fsyncs and moves the block into place.
    /// Returns `None` (and removes the directory) for an empty block.
    pub fn finish(self) -> Result<Option<BlockMeta>, TsdbError> {
        let BlockWriter {
            parent,
            temporary_dir,
            meta,
            chunk_writer,
            chunk_path,
            index,
            ..
        } = self;
        let file = chunk_writer
            .into_inner()
            .map_err(|e| TsdbError::io(&chunk_path, e.into_error()))?;
        file.sync_all().map_err(|e| TsdbError::io(&chunk_path, e))?;
        drop(file);
        if meta.stats.num_series == 0 {
            let _ = fs::remove_dir_all(&temporary_dir);
            return Ok(None);
        }
        write_synced(&temporary_dir.join("index"), &encode_index(&index))?;
        meta.write(&temporary_dir)?;
        sync_dir(&temporary_dir.join("chunks"));
        sync_dir(&temporary_dir);
        let final_dir = parent.join(&meta.ulid);
        fs::rename(&temporary_dir, &final_dir).map_err(|e| TsdbError::io(&final_dir, e))?;
        sync_dir(&parent);
        Ok(Some(meta))
    }

    /// Abandons the block, removing its files.
    pub fn abort(self) {
        let _ = fs::remove_dir_all(&self.temporary_dir);
    }
}
