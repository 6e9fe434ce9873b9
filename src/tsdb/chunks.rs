//! The chunk layer between the head, the blocks and [`crate::tsdb::chunkenc`]:
//! shared immutable chunks, the open chunk of a head series, and the sample
//! iterator that walks a series' chunks for a querier.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

use crate::tsdb::wal::records::{get_uvarint, put_uvarint};

use super::chunkenc::{self, Encoding, OwnedChunkIterator, XorChunk};
use crate::storage::{SampleIterator, StorageError};

/// How many samples a head chunk holds before a new one is cut.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// Block chunk-file entry byte of a timestamp column shared by the chunks
/// of several series (never listed in the index; see
/// `docs/format/index.md`).
pub const ENTRY_TIMESTAMP_COLUMN: u8 = 19;

/// Block chunk encoding byte of a value column that refers to a
/// [`ENTRY_TIMESTAMP_COLUMN`] entry of the same chunk file. Reading such a
/// chunk ([`ChunkHandle::load`]) joins both into one
/// [`Encoding::SealedColumns`] chunk.
pub const ENCODING_VALUES_SHARED_TIME: u8 = 18;

/// An immutable encoded chunk, cheap to clone.
#[derive(Clone, Debug)]
pub struct ChunkData {
    /// The encoding byte (see [`Encoding`]).
    pub encoding: u8,
    /// The encoded bytes.
    pub bytes: Bytes,
    /// Timestamp of the first sample.
    pub min_time: i64,
    /// Timestamp of the last sample.
    pub max_time: i64,
}

/// The chunk a head series is appending to: an XOR chunk.
#[derive(Debug, Default)]
pub struct OpenChunk {
    chunk: XorChunk,
}

impl OpenChunk {
    /// An empty chunk.
    pub fn new() -> Self {
        OpenChunk {
            chunk: XorChunk::new(),
        }
    }

    /// Appends a sample; the caller guarantees timestamp order.
    #[inline]
    pub fn append(&mut self, t: i64, v: f64) {
        self.chunk.append(t, v);
    }

    /// Number of samples so far.
    pub fn num_samples(&self) -> usize {
        self.chunk.num_samples()
    }

    /// Timestamp of the first sample (`i64::MAX` when empty).
    pub fn min_time(&self) -> i64 {
        self.chunk.first_time().unwrap_or(i64::MAX)
    }

    /// Timestamp of the last sample (`i64::MIN` when empty).
    pub fn max_time(&self) -> i64 {
        self.chunk.last_time().unwrap_or(i64::MIN)
    }

    /// Bytes of encoded data held by this chunk (for accounting).
    pub fn memory_bytes(&self) -> usize {
        self.chunk.bytes().len() + std::mem::size_of::<XorChunk>()
    }

    /// An immutable copy of the chunk as it is now.
    pub fn snapshot(&self) -> ChunkData {
        ChunkData {
            encoding: Encoding::Xor as u8,
            bytes: Bytes::copy_from_slice(self.chunk.bytes()),
            min_time: self.min_time(),
            max_time: self.max_time(),
        }
    }

    /// Seals the chunk into its immutable form (an exactly sized copy).
    pub fn seal(self) -> ChunkData {
        self.snapshot()
    }
}

/// Encodes samples (in timestamp order) with the dense sealed format used
/// in blocks ([`chunkenc::encode_sealed`]). At most
/// [`chunkenc::SEALED_MAX_SAMPLES`] samples.
pub fn encode_sealed(samples: &[(i64, f64)]) -> ChunkData {
    let (encoding, bytes) = chunkenc::encode_sealed(samples);
    ChunkData {
        encoding: encoding as u8,
        bytes: Bytes::from(bytes),
        min_time: samples.first().map_or(i64::MAX, |s| s.0),
        max_time: samples.last().map_or(i64::MIN, |s| s.0),
    }
}

/// Encodes up to [`chunkenc::XOR_MAX_SAMPLES`] samples (timestamps
/// strictly increasing) into an XOR chunk, as the head keeps them: fast to
/// build, for chunks made while reading.
pub fn encode_xor(samples: &[(i64, f64)]) -> ChunkData {
    let mut chunk = chunkenc::XorChunk::new();
    for &(t, v) in samples.iter().take(chunkenc::XOR_MAX_SAMPLES) {
        chunk.append(t, v);
    }
    ChunkData {
        encoding: chunkenc::Encoding::Xor as u8,
        bytes: Bytes::copy_from_slice(chunk.bytes()),
        min_time: samples.first().map_or(i64::MAX, |s| s.0),
        max_time: samples
            .get(..samples.len().min(chunkenc::XOR_MAX_SAMPLES))
            .and_then(|kept| kept.last())
            .map_or(i64::MIN, |s| s.0),
    }
}

/// Decodes every sample of one chunk (used by compaction and dump).
pub fn decode_all(encoding: u8, bytes: &Bytes) -> Result<Vec<(i64, f64)>, StorageError> {
    let mut samples = Vec::new();
    let mut iterator = ChunkSamples::new(encoding, bytes.clone());
    while let Some(sample) = iterator.next_sample() {
        samples.push(sample);
    }
    match iterator.error() {
        Some(error) => Err(error),
        None => Ok(samples),
    }
}

/// An owned iterator over the samples of one chunk.
pub struct ChunkSamples {
    inner: Result<OwnedChunkIterator, StorageError>,
}

impl ChunkSamples {
    /// An iterator over `bytes` in `encoding`.
    pub fn new(encoding: u8, bytes: Bytes) -> Self {
        let inner = Encoding::try_from(encoding)
            .map(|encoding| OwnedChunkIterator::new(encoding, bytes))
            .map_err(StorageError::from);
        ChunkSamples { inner }
    }

    /// The next sample, or `None` at the end or on error.
    #[inline]
    pub fn next_sample(&mut self) -> Option<(i64, f64)> {
        self.inner.as_mut().ok()?.next()
    }

    /// Advances to the first sample at or after `t`.
    pub fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        self.inner.as_mut().ok()?.seek(t)
    }

    /// The error that ended iteration, if any.
    pub fn error(&self) -> Option<StorageError> {
        match &self.inner {
            Ok(iterator) => iterator.err().map(StorageError::from),
            Err(error) => Some(error.clone()),
        }
    }
}

/// Where a chunk's bytes are: already in memory, or in a block's chunk file.
#[derive(Clone, Debug)]
pub enum ChunkHandle {
    /// Bytes in memory (head chunks).
    Loaded(ChunkData),
    /// Bytes in a block's chunk file, read when iterated.
    OnDisk {
        /// The open chunk file.
        file: Arc<File>,
        /// Offset of the encoded bytes.
        offset: u64,
        /// Length of the encoded bytes.
        length: u32,
        /// Encoding byte.
        encoding: u8,
        /// Timestamp of the first sample.
        min_time: i64,
        /// Timestamp of the last sample.
        max_time: i64,
    },
}

impl ChunkHandle {
    /// Timestamp of the first sample.
    pub fn min_time(&self) -> i64 {
        match self {
            ChunkHandle::Loaded(data) => data.min_time,
            ChunkHandle::OnDisk { min_time, .. } => *min_time,
        }
    }

    /// Timestamp of the last sample.
    pub fn max_time(&self) -> i64 {
        match self {
            ChunkHandle::Loaded(data) => data.max_time,
            ChunkHandle::OnDisk { max_time, .. } => *max_time,
        }
    }

    /// The chunk's encoding and bytes, reading them from disk if needed.
    pub fn load(&self) -> Result<(u8, Bytes), StorageError> {
        match self {
            ChunkHandle::Loaded(data) => Ok((data.encoding, data.bytes.clone())),
            ChunkHandle::OnDisk {
                file,
                offset,
                length,
                encoding,
                ..
            } => {
                let data = read_checked_entry(file, *offset, *length, *encoding)?;
                if *encoding != ENCODING_VALUES_SHARED_TIME {
                    return Ok((*encoding, data));
                }
                let joined = join_shared_time(file, *offset, &data)?;
                Ok((Encoding::SealedColumns as u8, Bytes::from(joined)))
            }
        }
    }
}

/// Reads the chunk-file entry at `offset` (entry byte, `length` data
/// bytes, CRC32C of both) and returns its data, checking the checksum and
/// that the entry byte is `expected_entry`.
fn read_checked_entry(
    file: &File,
    offset: u64,
    length: u32,
    expected_entry: u8,
) -> Result<Bytes, StorageError> {
    let mut buffer = vec![0u8; length as usize + 5];
    file.read_exact_at(&mut buffer, offset)
        .map_err(|e| StorageError::Io(format!("reading chunk: {e}")))?;
    let (checked, crc) = buffer.split_at(length as usize + 1);
    let mut expected = [0u8; 4];
    expected.copy_from_slice(crc);
    if crc32c::crc32c(checked) != u32::from_le_bytes(expected) || checked[0] != expected_entry {
        return Err(StorageError::Corruption(format!(
            "chunk at offset {offset}: checksum mismatch"
        )));
    }
    Ok(Bytes::from(buffer).slice(1..length as usize + 1))
}

/// The data of a [`ENCODING_VALUES_SHARED_TIME`] chunk: how far before the
/// chunk its timestamp column entry starts and how long the column is
/// (two uvarints), then the value column.
pub fn encode_shared_time_reference(distance: u64, column_length: u32, values: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(values.len() + 8);
    put_uvarint(&mut data, distance);
    put_uvarint(&mut data, u64::from(column_length));
    data.extend_from_slice(values);
    data
}

/// Reads the timestamp column a shared-time chunk at `offset` refers to
/// and joins it with the chunk's value column.
fn join_shared_time(file: &File, offset: u64, data: &[u8]) -> Result<Vec<u8>, StorageError> {
    let corrupt =
        |what: &str| StorageError::Corruption(format!("chunk at offset {offset}: {what}"));
    let mut position = 0;
    let distance = get_uvarint(data, &mut position).map_err(|_| corrupt("bad column reference"))?;
    let column_length = get_uvarint(data, &mut position)
        .ok()
        .and_then(|length| u32::try_from(length).ok())
        .ok_or_else(|| corrupt("bad column reference"))?;
    let column_offset = offset
        .checked_sub(distance)
        .filter(|_| distance > 0)
        .ok_or_else(|| corrupt("column reference out of range"))?;
    let file_size = file
        .metadata()
        .map_err(|e| StorageError::Io(format!("reading chunk: {e}")))?
        .len();
    if column_offset.saturating_add(u64::from(column_length) + 5) > file_size {
        return Err(corrupt("column reference beyond end of file"));
    }
    let column = read_checked_entry(file, column_offset, column_length, ENTRY_TIMESTAMP_COLUMN)?;
    Ok(chunkenc::join_columns(&column, &data[position..]))
}

/// Iterates over the samples of a series' chunks, restricted to
/// `[min_time, max_time]`, skipping whole chunks on `seek`.
pub struct ChunkSeriesIterator {
    chunks: Arc<[ChunkHandle]>,
    next_chunk: usize,
    current: Option<ChunkSamples>,
    min_time: i64,
    max_time: i64,
    at: Option<(i64, f64)>,
    error: Option<StorageError>,
    done: bool,
}

impl ChunkSeriesIterator {
    /// An iterator over `chunks` (in time order, not overlapping) limited to
    /// samples with `min_time <= t <= max_time`.
    pub fn new(chunks: Arc<[ChunkHandle]>, min_time: i64, max_time: i64) -> Self {
        ChunkSeriesIterator {
            chunks,
            next_chunk: 0,
            current: None,
            min_time,
            max_time,
            at: None,
            error: None,
            done: false,
        }
    }

    fn open_next_chunk(&mut self, from: i64) -> bool {
        while let Some(handle) = self.chunks.get(self.next_chunk) {
            self.next_chunk += 1;
            if handle.max_time() < from {
                continue;
            }
            if handle.min_time() > self.max_time {
                return false;
            }
            match handle.load() {
                Ok((encoding, bytes)) => {
                    self.current = Some(ChunkSamples::new(encoding, bytes));
                    return true;
                }
                Err(error) => {
                    self.error = Some(error);
                    return false;
                }
            }
        }
        false
    }

    fn advance(&mut self, from: i64) -> Option<(i64, f64)> {
        if self.done {
            return None;
        }
        loop {
            if self.current.is_none() && !self.open_next_chunk(from) {
                self.done = true;
                self.at = None;
                return None;
            }
            let Some(current) = self.current.as_mut() else {
                continue;
            };
            match current.next_sample() {
                Some((t, _)) if t < from => continue,
                Some((t, _)) if t > self.max_time => {
                    self.done = true;
                    self.at = None;
                    return None;
                }
                Some(sample) => {
                    self.at = Some(sample);
                    return Some(sample);
                }
                None => {
                    if let Some(error) = current.error() {
                        self.error = Some(error);
                        self.done = true;
                        return None;
                    }
                    self.current = None;
                }
            }
        }
    }
}

impl SampleIterator for ChunkSeriesIterator {
    fn next(&mut self) -> Option<(i64, f64)> {
        let from = match self.at {
            Some((t, _)) => t.saturating_add(1).max(self.min_time),
            None => self.min_time,
        };
        self.advance(from)
    }

    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if let Some(current) = self.at
            && current.0 >= t
        {
            return Some(current);
        }
        if self.done {
            return None;
        }
        let from = t.max(self.min_time);
        // Skip the rest of the current chunk when the target lies beyond it.
        if self.current.is_some()
            && let Some(previous) = self.next_chunk.checked_sub(1)
            && self.chunks[previous].max_time() < from
        {
            self.current = None;
        }
        self.advance(from)
    }

    fn at(&self) -> Option<(i64, f64)> {
        self.at
    }

    fn err(&self) -> Option<StorageError> {
        self.error.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_of(samples: &[(i64, f64)]) -> ChunkHandle {
        ChunkHandle::Loaded(encode_sealed(samples))
    }

    #[test]
    fn iterator_limits_to_window_and_seeks_across_chunks() {
        let chunks: Arc<[ChunkHandle]> = vec![
            chunk_of(&[(1, 1.0), (2, 2.0), (3, 3.0)]),
            chunk_of(&[(10, 10.0), (11, 11.0)]),
            chunk_of(&[(20, 20.0), (21, 21.0)]),
        ]
        .into();
        let mut iterator = ChunkSeriesIterator::new(chunks.clone(), 2, 20);
        let mut seen = Vec::new();
        while let Some((t, _)) = iterator.next() {
            seen.push(t);
        }
        assert_eq!(seen, vec![2, 3, 10, 11, 20]);

        let mut seeking = ChunkSeriesIterator::new(chunks, i64::MIN, i64::MAX);
        assert_eq!(seeking.seek(5), Some((10, 10.0)));
        assert_eq!(seeking.seek(5), Some((10, 10.0)));
        assert_eq!(seeking.seek(21), Some((21, 21.0)));
        assert_eq!(seeking.next(), None);
    }

    /// Writes a block of two series scraped together and returns its
    /// directory (inside `parent`) and the chunk file's path.
    fn two_series_block(parent: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
        use crate::model::Labels;
        use crate::tsdb::block::BlockWriter;
        let times: Vec<i64> = (0..300)
            .map(|i| 1_000_000 + i * 15_000 + (i * 7 % 4))
            .collect();
        let mut writer = BlockWriter::new(parent, 0, 100_000_000, 1, Vec::new()).unwrap();
        for (name, scale) in [("a", 1.0), ("b", 0.01)] {
            let samples: Vec<(i64, f64)> = times
                .iter()
                .enumerate()
                .map(|(i, &t)| (t, i as f64 * scale))
                .collect();
            writer
                .add_series(Labels::from_pairs(&[("__name__", name)]), &samples)
                .unwrap();
        }
        let meta = writer.finish().unwrap().unwrap();
        let dir = parent.join(&meta.ulid);
        let chunk_file = dir.join("chunks").join("000001");
        (dir, chunk_file)
    }

    #[test]
    fn shared_time_chunks_load_joined_and_damage_is_an_error() {
        use crate::tsdb::block::Block;
        let scratch = tempfile::tempdir().unwrap();
        let (dir, chunk_file) = two_series_block(scratch.path());
        let block = Block::open(&dir).unwrap();
        let handles: Vec<ChunkHandle> =
            block.series().iter().map(|s| s.chunks[0].clone()).collect();
        for handle in &handles {
            let (encoding, bytes) = handle.load().unwrap();
            assert_eq!(encoding, Encoding::SealedColumns as u8);
            assert_eq!(decode_all(encoding, &bytes).unwrap().len(), 300);
        }
        // One column entry serves both series: damaging it breaks both.
        let mut bytes = std::fs::read(&chunk_file).unwrap();
        let column_offset = super::super::block::CHUNKS_MAGIC.len();
        assert_eq!(bytes[column_offset], ENTRY_TIMESTAMP_COLUMN);
        bytes[column_offset + 3] ^= 0x10;
        std::fs::write(&chunk_file, &bytes).unwrap();
        let block = Block::open(&dir).unwrap();
        for series in block.series() {
            assert!(matches!(
                series.chunks[0].load(),
                Err(StorageError::Corruption(_))
            ));
        }
    }

    #[test]
    fn a_reference_to_something_else_than_a_column_is_an_error() {
        let scratch = tempfile::tempdir().unwrap();
        let (_, chunk_file) = two_series_block(scratch.path());
        // Distances of 0, past the start of the file, or onto a chunk entry.
        for distance in [0u64, 1, 10_000_000, u64::MAX] {
            let data = encode_shared_time_reference(distance, 12, &[0, 1, 2]);
            let mut scratch_file = std::fs::read(&chunk_file).unwrap();
            let offset = scratch_file.len() as u64;
            let mut entry = vec![ENCODING_VALUES_SHARED_TIME];
            entry.extend_from_slice(&data);
            let crc = crc32c::crc32c(&entry);
            scratch_file.extend_from_slice(&entry);
            scratch_file.extend_from_slice(&crc.to_le_bytes());
            let path = scratch.path().join("scratch");
            std::fs::write(&path, &scratch_file).unwrap();
            let handle = ChunkHandle::OnDisk {
                file: Arc::new(File::open(&path).unwrap()),
                offset,
                length: data.len() as u32,
                encoding: ENCODING_VALUES_SHARED_TIME,
                min_time: 0,
                max_time: 1,
            };
            assert!(handle.load().is_err(), "distance {distance}");
        }
    }
}
