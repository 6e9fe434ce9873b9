//! The write-ahead log: numbered segment files of framed, snappy-compressed
//! records, and checkpoints that summarise truncated segments. The format is
//! in `docs/format/wal.md`.
//!
//! Durability follows Prometheus: every commit is handed to the operating
//! system with one `write` call (it survives a process crash), and files are
//! fsynced when a segment is closed and when a checkpoint is written (a
//! power loss can lose the tail of the open segment).

mod checkpoint;
mod reader;
pub mod records;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

pub use checkpoint::{
    Checkpoint, create_checkpoint, last_checkpoint, read_checkpoint as checkpoint_reader,
};
pub use reader::{SegmentEnd, SegmentReader, read_segment_records};

/// Size of a frame header: kind byte, compressed length, CRC32C.
pub const FRAME_HEADER_SIZE: usize = 9;
/// Frame kind of a snappy-compressed record.
pub const FRAME_SNAPPY: u8 = 1;
/// Largest accepted compressed record; bigger lengths are corruption.
pub const MAX_FRAME_SIZE: usize = 256 << 20;

/// Errors of the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// A file operation failed.
    #[error("wal i/o error on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record did not decode.
    #[error("wal corruption in {path} at offset {offset}: {message}")]
    Corruption {
        /// The segment.
        path: PathBuf,
        /// Byte offset of the bad frame.
        offset: u64,
        /// What was wrong.
        message: String,
    },
    /// The log was closed.
    #[error("wal is closed")]
    Closed,
}

impl WalError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        WalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The file name of segment `index`.
pub fn segment_name(index: u32) -> String {
    format!("{index:08}")
}

/// The path of segment `index` in `dir`.
pub fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(segment_name(index))
}

/// The segment numbers in `dir`, ascending.
pub fn list_segments(dir: &Path) -> Result<Vec<u32>, WalError> {
    let mut segments = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(segments),
        Err(error) => return Err(WalError::io(dir, error)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| WalError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() == 8
            && name.bytes().all(|b| b.is_ascii_digit())
            && let Ok(index) = name.parse::<u32>()
        {
            segments.push(index);
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Frames one record (compress, length, checksum) onto `out`.
pub fn frame_record(record: &[u8], out: &mut Vec<u8>, encoder: &mut snap::raw::Encoder) {
    let start = out.len();
    out.resize(
        start + FRAME_HEADER_SIZE + snap::raw::max_compress_len(record.len()),
        0,
    );
    let written = match encoder.compress(record, &mut out[start + FRAME_HEADER_SIZE..]) {
        Ok(written) => written,
        Err(_) => {
            // Compression into a buffer of max_compress_len cannot fail;
            // should it, store nothing rather than a bad frame.
            out.truncate(start);
            return;
        }
    };
    out.truncate(start + FRAME_HEADER_SIZE + written);
    let crc = crc32c::crc32c(&out[start + FRAME_HEADER_SIZE..]);
    out[start] = FRAME_SNAPPY;
    out[start + 1..start + 5].copy_from_slice(&(written as u32).to_le_bytes());
    out[start + 5..start + 9].copy_from_slice(&crc.to_le_bytes());
}

struct WriterState {
    file: Option<File>,
    segment: u32,
    written: u64,
    frame_buffer: Vec<u8>,
    encoder: snap::raw::Encoder,
    /// The fsync of the segment closed by the last rotation, running on
    /// its own thread so that the appender (an async worker) does not wait
    /// for the disk; joined before the next rotation and at close, and its
    /// error fails the next write.
    previous_sync: Option<std::thread::JoinHandle<Result<(), WalError>>>,
}

impl WriterState {
    /// Waits for the last rotation's fsync, returning its error.
    fn finish_previous_sync(&mut self) -> Result<(), WalError> {
        match self.previous_sync.take() {
            Some(handle) => handle.join().unwrap_or(Err(WalError::Closed)),
            None => Ok(()),
        }
    }
}

/// The write side of the log. Safe to share between threads; one commit's
/// records are written with one `write` call under a mutex.
pub struct Wal {
    dir: PathBuf,
    segment_size: u64,
    state: Mutex<WriterState>,
}

impl Wal {
    /// Opens the log in `dir` (created if absent) and starts a new segment
    /// after the existing ones (which replay has already read and repaired).
    pub fn open(dir: &Path, segment_size: usize) -> Result<Wal, WalError> {
        fs::create_dir_all(dir).map_err(|e| WalError::io(dir, e))?;
        let segments = list_segments(dir)?;
        let next = segments.last().map_or(0, |last| last + 1);
        let file = create_segment(dir, next)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            segment_size: segment_size.max(FRAME_HEADER_SIZE * 2) as u64,
            state: Mutex::new(WriterState {
                file: Some(file),
                segment: next,
                written: 0,
                frame_buffer: Vec::with_capacity(64 * 1024),
                encoder: snap::raw::Encoder::new(),
                previous_sync: None,
            }),
        })
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the records of one commit. They land in one segment; a new
    /// segment is started first when the current one is full.
    pub fn log(&self, records: &[&[u8]]) -> Result<(), WalError> {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        if state
            .previous_sync
            .as_ref()
            .is_some_and(|handle| handle.is_finished())
        {
            state.finish_previous_sync()?;
        }
        state.frame_buffer.clear();
        for record in records {
            frame_record(record, &mut state.frame_buffer, &mut state.encoder);
        }
        if state.written > 0 && state.written + state.frame_buffer.len() as u64 > self.segment_size
        {
            self.rotate(state, true)?;
        }
        let path = segment_path(&self.dir, state.segment);
        let Some(file) = state.file.as_mut() else {
            return Err(WalError::Closed);
        };
        file.write_all(&state.frame_buffer)
            .map_err(|e| WalError::io(&path, e))?;
        state.written += state.frame_buffer.len() as u64;
        Ok(())
    }

    /// Closes the current segment and starts the next. With `background`
    /// (a rotation on the write path), the closed segment and the
    /// directory are fsynced on a thread of their own, at most one at a
    /// time; otherwise here.
    fn rotate(&self, state: &mut WriterState, background: bool) -> Result<(), WalError> {
        state.finish_previous_sync()?;
        let old_path = segment_path(&self.dir, state.segment);
        let old_file = state.file.take();
        state.segment += 1;
        state.file = Some(open_segment(&self.dir, state.segment)?);
        state.written = 0;
        let dir = self.dir.clone();
        let sync = move || -> Result<(), WalError> {
            if let Some(file) = old_file {
                file.sync_all().map_err(|e| WalError::io(&old_path, e))?;
            }
            sync_dir(&dir);
            Ok(())
        };
        if !background {
            return sync();
        }
        let handle = std::thread::Builder::new()
            .name("wal-fsync".into())
            .spawn(sync)
            .map_err(|e| WalError::io(&self.dir, e))?;
        state.previous_sync = Some(handle);
        Ok(())
    }

    /// Closes the current segment (fsynced) and starts the next; returns the
    /// number of the new segment. Everything before it is then immutable.
    pub fn next_segment(&self) -> Result<u32, WalError> {
        let mut state = self.state.lock();
        if state.file.is_none() {
            return Err(WalError::Closed);
        }
        self.rotate(&mut state, false)?;
        Ok(state.segment)
    }

    /// The segment being written.
    pub fn current_segment(&self) -> u32 {
        self.state.lock().segment
    }

    /// Fsyncs and closes the log; later writes fail with [`WalError::Closed`].
    pub fn close(&self) -> Result<(), WalError> {
        let mut state = self.state.lock();
        state.finish_previous_sync()?;
        let path = segment_path(&self.dir, state.segment);
        if let Some(file) = state.file.take() {
            file.sync_all().map_err(|e| WalError::io(&path, e))?;
        }
        Ok(())
    }

    /// Deletes segments numbered below `before`.
    pub fn delete_segments_before(&self, before: u32) -> Result<usize, WalError> {
        let mut deleted = 0;
        for segment in list_segments(&self.dir)? {
            if segment >= before {
                break;
            }
            let path = segment_path(&self.dir, segment);
            fs::remove_file(&path).map_err(|e| WalError::io(&path, e))?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Total bytes of segments and checkpoints.
    pub fn size_bytes(&self) -> u64 {
        directory_size(&self.dir)
    }
}

fn create_segment(dir: &Path, index: u32) -> Result<File, WalError> {
    let file = open_segment(dir, index)?;
    sync_dir(dir);
    Ok(file)
}

/// Creates segment `index` without fsyncing the directory (the caller
/// does, or has it done).
fn open_segment(dir: &Path, index: u32) -> Result<File, WalError> {
    let path = segment_path(dir, index);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| WalError::io(&path, e))
}

/// Fsyncs a directory so that created or renamed entries survive power loss
/// (best effort: some file systems refuse).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Total size of the files under `dir`, recursively.
pub fn directory_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => directory_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_written_across_background_rotations_all_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        // Tiny segments: nearly every commit rotates, each rotation's fsync
        // on its own thread.
        let wal = Wal::open(dir.path(), 64).unwrap();
        let records: Vec<Vec<u8>> = (0..500u32)
            .map(|i| format!("record {i:04} {}", "x".repeat((i % 7) as usize)).into_bytes())
            .collect();
        for record in &records {
            wal.log(&[record.as_slice()]).unwrap();
        }
        let before_close = wal.current_segment();
        assert!(before_close > 100, "rotated: {before_close}");
        wal.close().unwrap();
        assert!(matches!(wal.log(&[b"late"]), Err(WalError::Closed)));

        let mut read = Vec::new();
        for segment in list_segments(dir.path()).unwrap() {
            let mut reader =
                reader::SegmentReader::open(&segment_path(dir.path(), segment)).unwrap();
            while let Some(record) = reader.next_record().unwrap() {
                read.push(record);
            }
        }
        assert_eq!(read, records);
    }
}
