//! The block `index` file: every series (in label order) with its chunk
//! references. Layout (see `docs/format/index.md`):
//!
//! ```text
//! "PSIDX001"                         8-byte magic
//! snappy(body)                       raw snappy block
//! crc32c(snappy(body))               u32 little endian
//! body := uvarint(series count) series*
//! series := uvarint(len) labels uvarint(chunk count) chunk*
//! chunk := varint(min_time - previous max_time) uvarint(max_time - min_time)
//!          uvarint(offset - previous offset) uvarint(length) u8(encoding)
//! ```

use crate::model::{Labels, ScratchBuilder};
use crate::tsdb::wal::records::{decode_labels, get_uvarint, get_varint, put_uvarint, put_varint};

/// Magic number at the start of an index file.
pub const INDEX_MAGIC: &[u8; 8] = b"PSIDX001";

/// One chunk reference in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexChunk {
    /// Time of the first sample.
    pub min_time: i64,
    /// Time of the last sample.
    pub max_time: i64,
    /// Offset of the chunk's encoding byte in `chunks/000001`.
    pub offset: u64,
    /// Length of the encoded data (without encoding byte and checksum).
    pub length: u32,
    /// The chunk encoding.
    pub encoding: u8,
}

/// One series in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Its chunks in time order.
    pub chunks: Vec<IndexChunk>,
}

/// Encodes an index file from series already in label order.
pub fn encode_index(series: &[IndexSeries]) -> Vec<u8> {
    let mut body = Vec::new();
    put_uvarint(&mut body, series.len() as u64);
    for entry in series {
        let labels = entry.labels.as_bytes();
        put_uvarint(&mut body, labels.len() as u64);
        body.extend_from_slice(labels);
        put_uvarint(&mut body, entry.chunks.len() as u64);
        let mut previous_max = 0i64;
        let mut previous_offset = 0u64;
        for chunk in &entry.chunks {
            put_varint(&mut body, chunk.min_time.wrapping_sub(previous_max));
            put_uvarint(
                &mut body,
                chunk.max_time.wrapping_sub(chunk.min_time) as u64,
            );
            put_uvarint(&mut body, chunk.offset.wrapping_sub(previous_offset));
            put_uvarint(&mut body, u64::from(chunk.length));
            body.push(chunk.encoding);
            previous_max = chunk.max_time;
            previous_offset = chunk.offset;
        }
    }
    let compressed = snap::raw::Encoder::new()
        .compress_vec(&body)
        .unwrap_or_default();
    let mut out = Vec::with_capacity(compressed.len() + 12);
    out.extend_from_slice(INDEX_MAGIC);
    out.extend_from_slice(&compressed);
    out.extend_from_slice(&crc32c::crc32c(&compressed).to_le_bytes());
    out
}

/// Decodes an index file; the error says what is wrong.
pub fn decode_index(bytes: &[u8]) -> Result<Vec<IndexSeries>, String> {
    if bytes.len() < INDEX_MAGIC.len() + 4 || &bytes[..INDEX_MAGIC.len()] != INDEX_MAGIC {
        return Err("not an index file (bad magic)".to_string());
    }
    let compressed = &bytes[INDEX_MAGIC.len()..bytes.len() - 4];
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[bytes.len() - 4..]);
    if crc32c::crc32c(compressed) != u32::from_le_bytes(crc) {
        return Err("index checksum mismatch".to_string());
    }
    let body = snap::raw::Decoder::new()
        .decompress_vec(compressed)
        .map_err(|e| format!("index snappy: {e}"))?;
    let error = |e: crate::tsdb::wal::records::RecordError| e.0;
    let mut position = 0;
    let count = get_uvarint(&body, &mut position).map_err(error)?;
    let mut scratch = ScratchBuilder::default();
    let mut series = Vec::with_capacity(count.min(1 << 24) as usize);
    for _ in 0..count {
        let length = get_uvarint(&body, &mut position).map_err(error)? as usize;
        let end = position
            .checked_add(length)
            .filter(|end| *end <= body.len())
            .ok_or("truncated labels")?;
        let labels = decode_labels(&body[position..end], &mut scratch).map_err(error)?;
        position = end;
        let chunk_count = get_uvarint(&body, &mut position).map_err(error)?;
        let mut chunks = Vec::with_capacity(chunk_count.min(1 << 20) as usize);
        let mut previous_max = 0i64;
        let mut previous_offset = 0u64;
        for _ in 0..chunk_count {
            let min_time =
                previous_max.wrapping_add(get_varint(&body, &mut position).map_err(error)?);
            let max_time =
                min_time.wrapping_add(get_uvarint(&body, &mut position).map_err(error)? as i64);
            let offset =
                previous_offset.wrapping_add(get_uvarint(&body, &mut position).map_err(error)?);
            let length = u32::try_from(get_uvarint(&body, &mut position).map_err(error)?)
                .map_err(|_| "chunk length too large")?;
            let encoding = *body.get(position).ok_or("truncated chunk reference")?;
            position += 1;
            chunks.push(IndexChunk {
                min_time,
                max_time,
                offset,
                length,
                encoding,
            });
            previous_max = max_time;
            previous_offset = offset;
        }
        series.push(IndexSeries { labels, chunks });
    }
    Ok(series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_rejects_damage() {
        let series = vec![
            IndexSeries {
                labels: Labels::from_pairs(&[("__name__", "a"), ("job", "x")]),
                chunks: vec![
                    IndexChunk {
                        min_time: -100,
                        max_time: 50,
                        offset: 4,
                        length: 20,
                        encoding: 1,
                    },
                    IndexChunk {
                        min_time: 60,
                        max_time: 900,
                        offset: 29,
                        length: 7,
                        encoding: 2,
                    },
                ],
            },
            IndexSeries {
                labels: Labels::from_pairs(&[("__name__", "b")]),
                chunks: vec![],
            },
        ];
        let bytes = encode_index(&series);
        assert_eq!(decode_index(&bytes), Ok(series));
        let mut damaged = bytes.clone();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0x40;
        assert!(decode_index(&damaged).is_err());
        assert!(decode_index(&bytes[..5]).is_err());
    }
}
