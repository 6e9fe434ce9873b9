//! Prometheus's XOR chunk: delta-of-delta timestamps in millisecond buckets
//! and XOR-compressed floats (Gorilla, adapted to milliseconds). The byte
//! layout is the one Prometheus writes for `EncXOR`; see
//! `docs/format/chunks.md`.

use super::ChunkError;
use super::bitstream::{BitReader, BitWriter};

/// Bytes of the header: the sample count, big-endian `u16`.
pub const XOR_HEADER_BYTES: usize = 2;

/// The most samples one XOR chunk can hold (its count is a `u16`).
pub const XOR_MAX_SAMPLES: usize = u16::MAX as usize;

/// Marks "no leading/trailing window yet" before the first XOR value.
const NO_WINDOW: u8 = 0xff;

/// An appendable XOR chunk, the head's in-memory chunk.
///
/// Appending is O(1) and writes straight into the encoded bytes, so
/// [`XorChunk::bytes`] is always a complete, readable chunk.
#[derive(Debug, Clone)]
pub struct XorChunk {
    stream: BitWriter,
    num_samples: u16,
    first_time: i64,
    last_time: i64,
    last_value_bits: u64,
    last_time_delta: u64,
    leading_zeros: u8,
    trailing_zeros: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    /// An empty chunk.
    pub fn new() -> Self {
        XorChunk {
            // 120 samples of node-exporter data take about 150-250 bytes.
            stream: BitWriter::with_prefix(&[0, 0], 128),
            num_samples: 0,
            first_time: 0,
            last_time: 0,
            last_value_bits: 0,
            last_time_delta: 0,
            leading_zeros: NO_WINDOW,
            trailing_zeros: 0,
        }
    }

    /// Re-opens encoded XOR bytes for appending (for example a head chunk
    /// read back from disk). Fails if the bytes do not decode completely.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ChunkError> {
        let mut decoder = XorDecoder::new(bytes)?;
        let mut first_time = None;
        while decoder.next(bytes)?.is_some() {
            first_time.get_or_insert(decoder.time);
        }
        // Continue right after the last decoded bit; anything behind it is
        // dropped and the unused bits of the last byte are cleared.
        let bit_position = decoder.reader.bit_position();
        let used_bytes = bit_position.div_ceil(8);
        let mut stream = BitWriter::with_prefix(&bytes[..used_bytes], used_bytes + 64);
        stream.continue_at_bit((bit_position % 8) as u8);
        Ok(XorChunk {
            stream,
            num_samples: decoder.total,
            first_time: first_time.unwrap_or(0),
            last_time: decoder.time,
            last_value_bits: decoder.value_bits,
            last_time_delta: decoder.time_delta,
            leading_zeros: decoder.leading_zeros,
            trailing_zeros: decoder.trailing_zeros,
        })
    }

    /// Appends a sample. The caller guarantees `t` is greater than the last
    /// appended timestamp (the head rejects out-of-order samples first).
    ///
    /// # Panics
    ///
    /// If the chunk already holds [`XOR_MAX_SAMPLES`]; check
    /// [`XorChunk::is_full`] first (the head cuts chunks at about 120).
    pub fn append(&mut self, t: i64, v: f64) {
        assert!(!self.is_full(), "xor chunk is full");
        let value_bits = v.to_bits();
        match self.num_samples {
            0 => {
                write_varint(&mut self.stream, t);
                self.stream.write_bits(value_bits, 64);
                self.first_time = t;
            }
            1 => {
                let time_delta = (t as u64).wrapping_sub(self.last_time as u64);
                write_uvarint(&mut self.stream, time_delta);
                self.write_value(value_bits);
                self.last_time_delta = time_delta;
            }
            _ => {
                let time_delta = (t as u64).wrapping_sub(self.last_time as u64);
                let delta_of_delta = time_delta.wrapping_sub(self.last_time_delta) as i64;
                self.write_delta_of_delta(delta_of_delta);
                self.write_value(value_bits);
                self.last_time_delta = time_delta;
            }
        }
        self.last_time = t;
        self.last_value_bits = value_bits;
        self.num_samples += 1;
        let count = self.num_samples.to_be_bytes();
        self.stream.bytes[..XOR_HEADER_BYTES].copy_from_slice(&count);
    }

    #[inline]
    fn write_delta_of_delta(&mut self, delta_of_delta: i64) {
        // Prefix code and payload width, as Prometheus picks them: a value
        // fits `n` bits when it lies in [-(2^(n-1) - 1), 2^(n-1)].
        let stream = &mut self.stream;
        if delta_of_delta == 0 {
            stream.write_bit(false);
        } else if fits_bucket(delta_of_delta, 14) {
            stream.write_bits(0b10, 2);
            stream.write_bits(delta_of_delta as u64 & ((1 << 14) - 1), 14);
        } else if fits_bucket(delta_of_delta, 17) {
            stream.write_bits(0b110, 3);
            stream.write_bits(delta_of_delta as u64 & ((1 << 17) - 1), 17);
        } else if fits_bucket(delta_of_delta, 20) {
            stream.write_bits(0b1110, 4);
            stream.write_bits(delta_of_delta as u64 & ((1 << 20) - 1), 20);
        } else {
            stream.write_bits(0b1111, 4);
            stream.write_bits(delta_of_delta as u64, 64);
        }
    }

    #[inline]
    fn write_value(&mut self, value_bits: u64) {
        let xor = value_bits ^ self.last_value_bits;
        let stream = &mut self.stream;
        if xor == 0 {
            stream.write_bit(false);
            return;
        }
        stream.write_bit(true);
        // Five bits hold the leading-zero count, so it is clamped to 31.
        let leading = (xor.leading_zeros() as u8).min(31);
        let trailing = xor.trailing_zeros() as u8;
        if self.leading_zeros != NO_WINDOW
            && leading >= self.leading_zeros
            && trailing >= self.trailing_zeros
        {
            // Fits the previous window: reuse it.
            stream.write_bit(false);
            let width = 64 - u32::from(self.leading_zeros) - u32::from(self.trailing_zeros);
            stream.write_bits(xor >> self.trailing_zeros, width);
            return;
        }
        self.leading_zeros = leading;
        self.trailing_zeros = trailing;
        stream.write_bit(true);
        stream.write_bits(u64::from(leading), 5);
        let significant = 64 - u32::from(leading) - u32::from(trailing);
        // 64 significant bits are written as 0 (six bits hold 0..=63).
        stream.write_bits(u64::from(significant) & 0x3f, 6);
        stream.write_bits(xor >> trailing, significant);
    }

    /// How many samples the chunk holds.
    pub fn num_samples(&self) -> usize {
        usize::from(self.num_samples)
    }

    /// Whether another append would exceed [`XOR_MAX_SAMPLES`].
    pub fn is_full(&self) -> bool {
        usize::from(self.num_samples) >= XOR_MAX_SAMPLES
    }

    /// The first sample's timestamp, if any.
    pub fn first_time(&self) -> Option<i64> {
        (self.num_samples > 0).then_some(self.first_time)
    }

    /// The last sample's timestamp, if any.
    pub fn last_time(&self) -> Option<i64> {
        (self.num_samples > 0).then_some(self.last_time)
    }

    /// The encoded chunk: a 2-byte big-endian sample count, then the bit
    /// stream (the last byte may be partly used).
    pub fn bytes(&self) -> &[u8] {
        &self.stream.bytes
    }

    /// Iterates the chunk's samples.
    pub fn iter(&self) -> super::ChunkIterator<'_> {
        super::ChunkIterator::new(super::Encoding::Xor, self.bytes())
    }
}

/// Whether `value` fits the signed `bits`-wide bucket of the timestamp code.
#[inline]
fn fits_bucket(value: i64, bits: u32) -> bool {
    let limit = 1i64 << (bits - 1);
    -(limit - 1) <= value && value <= limit
}

fn write_uvarint(stream: &mut BitWriter, mut value: u64) {
    while value >= 0x80 {
        stream.write_byte((value as u8) | 0x80);
        value >>= 7;
    }
    stream.write_byte(value as u8);
}

fn write_varint(stream: &mut BitWriter, value: i64) {
    write_uvarint(stream, zigzag_encode(value));
}

/// Maps signed to unsigned so small magnitudes stay small: 0, -1, 1, -2 …
#[inline]
pub(crate) fn zigzag_encode(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Inverse of [`zigzag_encode`].
#[inline]
pub(crate) fn zigzag_decode(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn read_uvarint(reader: &mut BitReader, bytes: &[u8]) -> Result<u64, ChunkError> {
    let mut value = 0u64;
    for index in 0..10 {
        let byte = reader.read_byte(bytes).ok_or(ChunkError::Truncated)?;
        if index == 9 && byte > 1 {
            return Err(ChunkError::VarintOverflow);
        }
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(ChunkError::VarintOverflow)
}

/// Decoding state of an XOR chunk. It holds no borrow of the bytes, so
/// both the borrowing and the owned iterator can use it.
#[derive(Debug, Clone)]
pub(crate) struct XorDecoder {
    reader: BitReader,
    pub(crate) total: u16,
    read: u16,
    pub(crate) time: i64,
    pub(crate) value_bits: u64,
    time_delta: u64,
    leading_zeros: u8,
    trailing_zeros: u8,
}

impl XorDecoder {
    /// Reads the header.
    pub(crate) fn new(bytes: &[u8]) -> Result<Self, ChunkError> {
        let header: [u8; XOR_HEADER_BYTES] = bytes
            .get(..XOR_HEADER_BYTES)
            .and_then(|h| h.try_into().ok())
            .ok_or(ChunkError::Truncated)?;
        Ok(XorDecoder {
            reader: BitReader::at_byte(XOR_HEADER_BYTES),
            total: u16::from_be_bytes(header),
            read: 0,
            time: 0,
            value_bits: 0,
            time_delta: 0,
            leading_zeros: NO_WINDOW,
            trailing_zeros: 0,
        })
    }

    /// The number of samples the header announces.
    pub(crate) fn total(&self) -> usize {
        usize::from(self.total)
    }

    /// Decodes the next sample, `Ok(None)` after the last one.
    #[inline]
    pub(crate) fn next(&mut self, bytes: &[u8]) -> Result<Option<(i64, f64)>, ChunkError> {
        if self.read >= self.total {
            return Ok(None);
        }
        let reader = &mut self.reader;
        match self.read {
            0 => {
                self.time = zigzag_decode(read_uvarint(reader, bytes)?);
                self.value_bits = reader.read_bits(bytes, 64).ok_or(ChunkError::Truncated)?;
            }
            1 => {
                self.time_delta = read_uvarint(reader, bytes)?;
                self.time = (self.time as u64).wrapping_add(self.time_delta) as i64;
                self.read_value(bytes)?;
            }
            _ => {
                let delta_of_delta = self.read_delta_of_delta(bytes)?;
                self.time_delta = self.time_delta.wrapping_add(delta_of_delta as u64);
                self.time = (self.time as u64).wrapping_add(self.time_delta) as i64;
                self.read_value(bytes)?;
            }
        }
        self.read += 1;
        Ok(Some((self.time, f64::from_bits(self.value_bits))))
    }

    #[inline]
    fn read_delta_of_delta(&mut self, bytes: &[u8]) -> Result<i64, ChunkError> {
        let reader = &mut self.reader;
        let mut ones = 0;
        while ones < 4 {
            if !reader.read_bit(bytes).ok_or(ChunkError::Truncated)? {
                break;
            }
            ones += 1;
        }
        let width = match ones {
            0 => return Ok(0),
            1 => 14,
            2 => 17,
            3 => 20,
            _ => {
                let raw = reader.read_bits(bytes, 64).ok_or(ChunkError::Truncated)?;
                return Ok(raw as i64);
            }
        };
        let raw = reader
            .read_bits(bytes, width)
            .ok_or(ChunkError::Truncated)?;
        // Values above 2^(width-1) are negative (two's complement in `width` bits).
        let value = if raw > 1 << (width - 1) {
            raw as i64 - (1i64 << width)
        } else {
            raw as i64
        };
        Ok(value)
    }

    #[inline]
    fn read_value(&mut self, bytes: &[u8]) -> Result<(), ChunkError> {
        let reader = &mut self.reader;
        if !reader.read_bit(bytes).ok_or(ChunkError::Truncated)? {
            return Ok(());
        }
        if reader.read_bit(bytes).ok_or(ChunkError::Truncated)? {
            let leading = reader.read_bits(bytes, 5).ok_or(ChunkError::Truncated)? as u8;
            let mut significant = reader.read_bits(bytes, 6).ok_or(ChunkError::Truncated)? as u8;
            if significant == 0 {
                significant = 64;
            }
            let Some(trailing) = 64u8.checked_sub(leading + significant) else {
                return Err(ChunkError::Corrupt("xor window wider than 64 bits"));
            };
            self.leading_zeros = leading;
            self.trailing_zeros = trailing;
        } else if self.leading_zeros == NO_WINDOW {
            return Err(ChunkError::Corrupt("xor window reused before one was set"));
        }
        let width = 64 - u32::from(self.leading_zeros) - u32::from(self.trailing_zeros);
        let significant_bits = reader
            .read_bits(bytes, width)
            .ok_or(ChunkError::Truncated)?;
        let xor = significant_bits
            .checked_shl(u32::from(self.trailing_zeros))
            .unwrap_or(0);
        self.value_bits ^= xor;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
