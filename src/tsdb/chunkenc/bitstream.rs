//! Bit-level writer and reader, most significant bit first, as the XOR
//! chunk lays out its stream.

/// Appends bits to a byte vector, most significant bit first.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitWriter {
    /// The bytes written so far; the last one may be partially filled.
    pub(crate) bytes: Vec<u8>,
    /// How many bits of the last byte are still free (0 means the stream is
    /// byte-aligned and a new byte is needed for the next bit).
    free_bits_in_last_byte: u8,
}

impl BitWriter {
    /// A writer that continues after `prefix` (whole bytes).
    pub(crate) fn with_prefix(prefix: &[u8], capacity: usize) -> Self {
        let mut bytes = Vec::with_capacity(capacity.max(prefix.len()));
        bytes.extend_from_slice(prefix);
        BitWriter {
            bytes,
            free_bits_in_last_byte: 0,
        }
    }

    /// Makes the next write start at bit `used_bits` (0..8) of the last
    /// byte, clearing the bits after it; 0 means after the last byte.
    pub(crate) fn continue_at_bit(&mut self, used_bits: u8) {
        if used_bits == 0 || used_bits >= 8 {
            self.free_bits_in_last_byte = 0;
            return;
        }
        self.free_bits_in_last_byte = 8 - used_bits;
        if let Some(last) = self.bytes.last_mut() {
            *last &= !(0xffu8 >> used_bits);
        }
    }

    #[inline]
    pub(crate) fn write_bit(&mut self, bit: bool) {
        if self.free_bits_in_last_byte == 0 {
            self.bytes.push(0);
            self.free_bits_in_last_byte = 8;
        }
        self.free_bits_in_last_byte -= 1;
        if bit && let Some(last) = self.bytes.last_mut() {
            *last |= 1 << self.free_bits_in_last_byte;
        }
    }

    /// Writes the low `count` bits of `value` (count ≤ 64), highest first.
    #[inline]
    pub(crate) fn write_bits(&mut self, value: u64, count: u32) {
        debug_assert!(count <= 64);
        let mut remaining = count;
        while remaining > 0 {
            if self.free_bits_in_last_byte == 0 {
                self.bytes.push(0);
                self.free_bits_in_last_byte = 8;
            }
            let free = u32::from(self.free_bits_in_last_byte);
            let take = free.min(remaining);
            // The `take` bits just below bit `remaining` of value.
            let chunk = ((value >> (remaining - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= chunk << (free - take);
            }
            self.free_bits_in_last_byte -= take as u8;
            remaining -= take;
        }
    }

    /// Writes a whole byte at the current bit position.
    #[inline]
    pub(crate) fn write_byte(&mut self, byte: u8) {
        self.write_bits(u64::from(byte), 8);
    }
}

/// Reads bits from a byte slice, most significant bit first. The reader
/// holds no borrow: every call takes the bytes, so an owned iterator can
/// keep its bytes beside the reader.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitReader {
    /// The next byte to load into `buffer`.
    next_byte: usize,
    /// Bits already loaded, left-aligned (the next bit is bit 63).
    buffer: u64,
    /// How many bits of `buffer` are valid.
    valid_bits: u32,
}

impl BitReader {
    /// A reader starting at byte `start`.
    pub(crate) fn at_byte(start: usize) -> Self {
        BitReader {
            next_byte: start,
            buffer: 0,
            valid_bits: 0,
        }
    }

    /// How many bits have been consumed from the start of the bytes.
    pub(crate) fn bit_position(&self) -> usize {
        self.next_byte * 8 - self.valid_bits as usize
    }

    /// Loads as many bytes as fit into the buffer.
    #[inline]
    fn refill(&mut self, bytes: &[u8]) {
        if self.valid_bits <= 56
            && let Some(window) = bytes.get(self.next_byte..self.next_byte + 8)
        {
            // Fast path: load 8 bytes at once and keep the whole bytes that fit.
            let mut array = [0u8; 8];
            array.copy_from_slice(window);
            let loaded = u64::from_be_bytes(array);
            let whole_bytes = (64 - self.valid_bits) / 8;
            let bits = whole_bytes * 8;
            self.buffer |= loaded >> self.valid_bits;
            // Keep only the whole new bytes: clear the partial one below them.
            let keep = self.valid_bits + bits;
            if keep < 64 {
                self.buffer &= !(u64::MAX >> keep);
            }
            self.valid_bits = keep;
            self.next_byte += whole_bytes as usize;
            return;
        }
        while self.valid_bits <= 56 {
            let Some(&byte) = bytes.get(self.next_byte) else {
                return;
            };
            self.buffer |= u64::from(byte) << (56 - self.valid_bits);
            self.valid_bits += 8;
            self.next_byte += 1;
        }
    }

    /// Reads one bit; `None` at the end of the bytes.
    #[inline]
    pub(crate) fn read_bit(&mut self, bytes: &[u8]) -> Option<bool> {
        if self.valid_bits == 0 {
            self.refill(bytes);
            if self.valid_bits == 0 {
                return None;
            }
        }
        let bit = self.buffer >> 63 == 1;
        self.buffer <<= 1;
        self.valid_bits -= 1;
        Some(bit)
    }

    /// Reads `count` bits (≤ 64) as the low bits of the result; `None` if
    /// the bytes end first.
    #[inline]
    pub(crate) fn read_bits(&mut self, bytes: &[u8], count: u32) -> Option<u64> {
        debug_assert!(count <= 64);
        if count == 0 {
            return Some(0);
        }
        if self.valid_bits < count {
            self.refill(bytes);
        }
        if self.valid_bits >= count {
            let value = self.buffer >> (64 - count);
            self.buffer = if count == 64 { 0 } else { self.buffer << count };
            self.valid_bits -= count;
            return Some(value);
        }
        // More than the buffer holds (only when count > 56): two steps.
        let high_count = self.valid_bits;
        let high = self.buffer.checked_shr(64 - high_count).unwrap_or(0);
        self.buffer = 0;
        self.valid_bits = 0;
        let low_count = count - high_count;
        self.refill(bytes);
        if self.valid_bits < low_count {
            return None;
        }
        let low = self.buffer >> (64 - low_count);
        self.buffer = if low_count == 64 {
            0
        } else {
            self.buffer << low_count
        };
        self.valid_bits -= low_count;
        Some((high << low_count) | low)
    }

    /// Reads a whole byte at the current bit position.
    #[inline]
    pub(crate) fn read_byte(&mut self, bytes: &[u8]) -> Option<u8> {
        self.read_bits(bytes, 8).map(|b| b as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_written_are_read_back_in_order() {
        let fields: Vec<(u64, u32)> = (0..500u64)
            .map(|i| {
                let width = (i * 7 % 64 + 1) as u32;
                let value = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & (u64::MAX >> (64 - width));
                (value, width)
            })
            .collect();
        let mut writer = BitWriter::default();
        for &(value, width) in &fields {
            writer.write_bits(value, width);
            writer.write_bit(value & 1 == 1);
        }
        let mut reader = BitReader::at_byte(0);
        for &(value, width) in &fields {
            assert_eq!(reader.read_bits(&writer.bytes, width), Some(value));
            assert_eq!(reader.read_bit(&writer.bytes), Some(value & 1 == 1));
        }
    }

    #[test]
    fn reading_past_the_end_is_none() {
        let bytes = [0xAB];
        let mut reader = BitReader::at_byte(0);
        assert_eq!(reader.read_bits(&bytes, 4), Some(0xA));
        assert_eq!(reader.read_bits(&bytes, 8), None);
        let mut reader = BitReader::at_byte(5);
        assert_eq!(reader.read_bit(&bytes), None);
    }
}
