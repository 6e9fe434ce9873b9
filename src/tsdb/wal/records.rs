//! Encoding of WAL records (before compression and framing). See
//! `docs/format/wal.md`.
//!
//! Every record starts with a type byte:
//! - `1` series: repeated `uvarint(ref) uvarint(len) labels` where `labels`
//!   is the canonical [`Labels`] encoding;
//! - `2` samples: `uvarint(count) uvarint(base_ref) varint(base_t)`, then per
//!   sample `varint(ref - base_ref) varint(t - base_t) u64le(value bits)`;
//! - `3` tombstones: repeated `uvarint(ref) varint(mint) varint(maxt)`.

use crate::model::{Labels, ScratchBuilder};

/// Type byte of a series record.
pub const SERIES_RECORD: u8 = 1;
/// Type byte of a samples record.
pub const SAMPLES_RECORD: u8 = 2;
/// Type byte of a tombstones record.
pub const TOMBSTONES_RECORD: u8 = 3;

/// A decoded WAL record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// New series: reference and labels.
    Series(Vec<(u64, Labels)>),
    /// Samples: series reference, timestamp, value.
    Samples(Vec<(u64, i64, f64)>),
    /// Deleted intervals: series reference, min time, max time.
    Tombstones(Vec<(u64, i64, i64)>),
}

/// Why a record did not decode.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid wal record: {0}")]
pub struct RecordError(pub String);

/// Appends an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(buffer: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buffer.push((value as u8) | 0x80);
        value >>= 7;
    }
    buffer.push(value as u8);
}

/// Appends a zig-zag signed varint.
#[inline]
pub fn put_varint(buffer: &mut Vec<u8>, value: i64) {
    put_uvarint(buffer, ((value << 1) ^ (value >> 63)) as u64);
}

/// Reads an unsigned varint at `*position`.
#[inline]
pub fn get_uvarint(buffer: &[u8], position: &mut usize) -> Result<u64, RecordError> {
    let mut value = 0u64;
    let mut shift = 0u32;
    loop {
        let Some(&byte) = buffer.get(*position) else {
            return Err(RecordError("truncated varint".to_string()));
        };
        *position += 1;
        if shift >= 64 {
            return Err(RecordError("varint overflows 64 bits".to_string()));
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
        shift += 7;
    }
}

/// Reads a zig-zag signed varint at `*position`.
#[inline]
pub fn get_varint(buffer: &[u8], position: &mut usize) -> Result<i64, RecordError> {
    let raw = get_uvarint(buffer, position)?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

fn get_bytes<'a>(
    buffer: &'a [u8],
    position: &mut usize,
    length: usize,
) -> Result<&'a [u8], RecordError> {
    let end = position
        .checked_add(length)
        .filter(|end| *end <= buffer.len())
        .ok_or_else(|| RecordError("truncated record".to_string()))?;
    let bytes = &buffer[*position..end];
    *position = end;
    Ok(bytes)
}

/// Encodes a series record.
pub fn encode_series<'a>(series: impl Iterator<Item = (u64, &'a Labels)>) -> Vec<u8> {
    let mut buffer = vec![SERIES_RECORD];
    for (series_ref, labels) in series {
        put_uvarint(&mut buffer, series_ref);
        put_uvarint(&mut buffer, labels.as_bytes().len() as u64);
        buffer.extend_from_slice(labels.as_bytes());
    }
    buffer
}

/// Encodes a samples record.
pub fn encode_samples(samples: impl ExactSizeIterator<Item = (u64, i64, f64)>) -> Vec<u8> {
    let count = samples.len();
    let mut buffer = Vec::with_capacity(12 + count * 12);
    buffer.push(SAMPLES_RECORD);
    put_uvarint(&mut buffer, count as u64);
    let mut base: Option<(u64, i64)> = None;
    for (series_ref, t, v) in samples {
        let (base_ref, base_t) = match base {
            Some(base) => base,
            None => {
                put_uvarint(&mut buffer, series_ref);
                put_varint(&mut buffer, t);
                base = Some((series_ref, t));
                (series_ref, t)
            }
        };
        put_varint(&mut buffer, series_ref.wrapping_sub(base_ref) as i64);
        put_varint(&mut buffer, t.wrapping_sub(base_t));
        buffer.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    buffer
}

/// Encodes a tombstones record.
pub fn encode_tombstones(tombstones: &[(u64, i64, i64)]) -> Vec<u8> {
    let mut buffer = vec![TOMBSTONES_RECORD];
    for (series_ref, min_time, max_time) in tombstones {
        put_uvarint(&mut buffer, *series_ref);
        put_varint(&mut buffer, *min_time);
        put_varint(&mut buffer, *max_time);
    }
    buffer
}

/// Decodes canonical label bytes (see [`Labels`]) into a label set.
pub fn decode_labels(bytes: &[u8], scratch: &mut ScratchBuilder) -> Result<Labels, RecordError> {
    scratch.reset();
    let mut position = 0;
    while position < bytes.len() {
        let name_length = get_uvarint(bytes, &mut position)? as usize;
        let name = get_bytes(bytes, &mut position, name_length)?;
        let value_length = get_uvarint(bytes, &mut position)? as usize;
        let value = get_bytes(bytes, &mut position, value_length)?;
        let name =
            std::str::from_utf8(name).map_err(|_| RecordError("label name is not utf-8".into()))?;
        let value = std::str::from_utf8(value)
            .map_err(|_| RecordError("label value is not utf-8".into()))?;
        scratch.add(name, value);
    }
    Ok(scratch.labels())
}

/// Calls `each` for every sample of a samples record body (after the type
/// byte), without allocating.
pub fn for_each_sample(
    body: &[u8],
    mut each: impl FnMut(u64, i64, f64),
) -> Result<(), RecordError> {
    let mut position = 0;
    let count = get_uvarint(body, &mut position)?;
    if count == 0 {
        return Ok(());
    }
    let base_ref = get_uvarint(body, &mut position)?;
    let base_t = get_varint(body, &mut position)?;
    for _ in 0..count {
        let series_ref = base_ref.wrapping_add(get_varint(body, &mut position)? as u64);
        let t = base_t.wrapping_add(get_varint(body, &mut position)?);
        let bits = get_bytes(body, &mut position, 8)?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(bits);
        each(series_ref, t, f64::from_bits(u64::from_le_bytes(raw)));
    }
    Ok(())
}

/// Decodes one record.
pub fn decode(record: &[u8]) -> Result<Record, RecordError> {
    let Some((&kind, body)) = record.split_first() else {
        return Err(RecordError("empty record".to_string()));
    };
    match kind {
        SERIES_RECORD => {
            let mut scratch = ScratchBuilder::default();
            let mut series = Vec::new();
            let mut position = 0;
            while position < body.len() {
                let series_ref = get_uvarint(body, &mut position)?;
                let length = get_uvarint(body, &mut position)? as usize;
                let bytes = get_bytes(body, &mut position, length)?;
                series.push((series_ref, decode_labels(bytes, &mut scratch)?));
            }
            Ok(Record::Series(series))
        }
        SAMPLES_RECORD => {
            let mut samples = Vec::new();
            for_each_sample(body, |r, t, v| samples.push((r, t, v)))?;
            Ok(Record::Samples(samples))
        }
        TOMBSTONES_RECORD => {
            let mut tombstones = Vec::new();
            let mut position = 0;
            while position < body.len() {
                let series_ref = get_uvarint(body, &mut position)?;
                let min_time = get_varint(body, &mut position)?;
                let max_time = get_varint(body, &mut position)?;
                tombstones.push((series_ref, min_time, max_time));
            }
            Ok(Record::Tombstones(tombstones))
        }
        other => Err(RecordError(format!("unknown record type {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STALE_NAN_BITS;

    #[test]
    fn records_round_trip() {
        let a = Labels::from_pairs(&[("__name__", "up"), ("job", "x")]);
        let b = Labels::from_pairs(&[("__name__", "up"), ("job", "y")]);
        let series = encode_series([(7u64, &a), (3u64, &b)].into_iter());
        assert_eq!(decode(&series), Ok(Record::Series(vec![(7, a), (3, b)])));

        let values = [
            1.5,
            f64::NAN,
            f64::INFINITY,
            -0.0,
            f64::from_bits(STALE_NAN_BITS),
        ];
        let samples: Vec<(u64, i64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (10 - i as u64, -5 + 1000 * i as i64, *v))
            .collect();
        let encoded = encode_samples(samples.iter().copied());
        let Ok(Record::Samples(decoded)) = decode(&encoded) else {
            panic!("samples did not decode");
        };
        let bits = |s: &[(u64, i64, f64)]| {
            s.iter()
                .map(|(r, t, v)| (*r, *t, v.to_bits()))
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&decoded), bits(&samples));

        let tombstones = vec![(1, -10, 20), (5, 0, i64::MAX)];
        assert_eq!(
            decode(&encode_tombstones(&tombstones)),
            Ok(Record::Tombstones(tombstones))
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &[][..],
            &[9][..],
            &[2, 0xff][..],
            &[1, 1, 200][..],
            &[2, 3, 1, 1][..],
        ] {
            assert!(decode(input).is_err(), "{input:?}");
        }
    }
}
