//! Reading WAL segments: whole segments at replay (reporting where a torn or
//! corrupt tail starts) and record by record for tailing readers such as
//! the remote-write WAL watcher.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{FRAME_HEADER_SIZE, FRAME_SNAPPY, MAX_FRAME_SIZE, WalError};

/// How reading a whole segment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentEnd {
    /// Every byte belonged to a valid frame.
    Clean,
    /// The segment ends in a partial frame, or a frame fails its checksum
    /// or does not decompress, at `offset`; bytes from there on are lost.
    Corrupt {
        /// Offset of the first bad byte (the start of the bad frame).
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

enum Frame<'a> {
    Record(&'a [u8], usize),
    Incomplete,
    Bad(String),
}

fn parse_frame(bytes: &[u8]) -> Frame<'_> {
    if bytes.len() < FRAME_HEADER_SIZE {
        return Frame::Incomplete;
    }
    if bytes[0] != FRAME_SNAPPY {
        return Frame::Bad(format!("unknown frame kind {}", bytes[0]));
    }
    let mut length = [0u8; 4];
    length.copy_from_slice(&bytes[1..5]);
    let length = u32::from_le_bytes(length) as usize;
    if length > MAX_FRAME_SIZE {
        return Frame::Bad(format!("frame length {length} too large"));
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[5..9]);
    let expected = u32::from_le_bytes(crc);
    let Some(payload) = bytes.get(FRAME_HEADER_SIZE..FRAME_HEADER_SIZE + length) else {
        return Frame::Incomplete;
    };
    if crc32c::crc32c(payload) != expected {
        return Frame::Bad("checksum mismatch".to_string());
    }
    Frame::Record(payload, FRAME_HEADER_SIZE + length)
}

/// Reads every record of the segment at `path`, calling `each` with the
/// decompressed record, and says how the segment ended.
pub fn read_segment_records(
    path: &Path,
    mut each: impl FnMut(&[u8]),
) -> Result<SegmentEnd, WalError> {
    let bytes = std::fs::read(path).map_err(|e| WalError::io(path, e))?;
    let mut decoder = snap::raw::Decoder::new();
    let mut record = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        match parse_frame(&bytes[offset..]) {
            Frame::Record(payload, frame_length) => {
                let length = match snap::raw::decompress_len(payload) {
                    Ok(length) if length <= MAX_FRAME_SIZE * 4 => length,
                    _ => {
                        return Ok(SegmentEnd::Corrupt {
                            offset: offset as u64,
                            reason: "bad snappy header".to_string(),
                        });
                    }
                };
                record.resize(length, 0);
                if let Err(error) = decoder.decompress(payload, &mut record) {
                    return Ok(SegmentEnd::Corrupt {
                        offset: offset as u64,
                        reason: format!("snappy: {error}"),
                    });
                }
                each(&record);
                offset += frame_length;
            }
            Frame::Incomplete => {
                return Ok(SegmentEnd::Corrupt {
                    offset: offset as u64,
                    reason: "torn record at end of segment".to_string(),
                });
            }
            Frame::Bad(reason) => {
                return Ok(SegmentEnd::Corrupt {
                    offset: offset as u64,
                    reason,
                });
            }
        }
    }
    Ok(SegmentEnd::Clean)
}

/// Reads one segment record by record, tolerating a segment that is still
/// being written: an incomplete frame at the end is "no record yet" and is
/// retried by the next call.
pub struct SegmentReader {
    path: PathBuf,
    file: File,
    offset: u64,
    decoder: snap::raw::Decoder,
    frame: Vec<u8>,
}

impl SegmentReader {
    /// Opens segment file `path`, positioned at its start.
    pub fn open(path: &Path) -> Result<Self, WalError> {
        let file = File::open(path).map_err(|e| WalError::io(path, e))?;
        Ok(SegmentReader {
            path: path.to_path_buf(),
            file,
            offset: 0,
            decoder: snap::raw::Decoder::new(),
            frame: Vec::new(),
        })
    }

    /// Byte offset of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next decompressed record; `Ok(None)` when no complete record
    /// follows yet; an error for a frame that can never become valid.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>, WalError> {
        let mut header = [0u8; FRAME_HEADER_SIZE];
        if !self.read_fully_at(&mut header, self.offset)? {
            return Ok(None);
        }
        let mut length = [0u8; 4];
        length.copy_from_slice(&header[1..5]);
        let length = u32::from_le_bytes(length) as usize;
        if header[0] != FRAME_SNAPPY || length > MAX_FRAME_SIZE {
            return Err(self.corruption("bad frame header"));
        }
        self.frame.resize(FRAME_HEADER_SIZE + length, 0);
        self.frame[..FRAME_HEADER_SIZE].copy_from_slice(&header);
        let mut payload = std::mem::take(&mut self.frame);
        let complete = self.read_fully_at(
            &mut payload[FRAME_HEADER_SIZE..],
            self.offset + FRAME_HEADER_SIZE as u64,
        )?;
        self.frame = payload;
        if !complete {
            return Ok(None);
        }
        let Frame::Record(compressed, frame_length) = parse_frame(&self.frame) else {
            return Err(self.corruption("checksum mismatch"));
        };
        let record = self
            .decoder
            .decompress_vec(compressed)
            .map_err(|e| self.corruption(&format!("snappy: {e}")))?;
        self.offset += frame_length as u64;
        Ok(Some(record))
    }

    fn corruption(&self, message: &str) -> WalError {
        WalError::Corruption {
            path: self.path.clone(),
            offset: self.offset,
            message: message.to_string(),
        }
    }

    fn read_fully_at(&self, buffer: &mut [u8], offset: u64) -> Result<bool, WalError> {
        let mut filled = 0;
        while filled < buffer.len() {
            match self
                .file
                .read_at(&mut buffer[filled..], offset + filled as u64)
            {
                Ok(0) => return Ok(false),
                Ok(read) => filled += read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(WalError::io(&self.path, error)),
            }
        }
        Ok(true)
    }
}
