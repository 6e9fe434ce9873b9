//! Byte-aligned varints (LEB128, as Go's `encoding/binary`) for headers.

use super::ChunkError;
pub(crate) use super::xor::{zigzag_decode, zigzag_encode};

pub(crate) fn put_uvarint(output: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        output.push((value as u8) | 0x80);
        value >>= 7;
    }
    output.push(value as u8);
}

pub(crate) fn put_varint(output: &mut Vec<u8>, value: i64) {
    put_uvarint(output, zigzag_encode(value));
}

/// Reads header fields from a byte slice, advancing a cursor.
pub(crate) struct ByteCursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) position: usize,
}

impl<'a> ByteCursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        ByteCursor { bytes, position: 0 }
    }

    pub(crate) fn byte(&mut self) -> Result<u8, ChunkError> {
        let byte = *self.bytes.get(self.position).ok_or(ChunkError::Truncated)?;
        self.position += 1;
        Ok(byte)
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, ChunkError> {
        let end = self.position + 8;
        let slice = self
            .bytes
            .get(self.position..end)
            .ok_or(ChunkError::Truncated)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(slice);
        self.position = end;
        Ok(u64::from_le_bytes(array))
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64, ChunkError> {
        let mut value = 0u64;
        for index in 0..10 {
            let byte = self.byte()?;
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

    pub(crate) fn varint(&mut self) -> Result<i64, ChunkError> {
        self.uvarint().map(zigzag_decode)
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.position..).unwrap_or(&[])
    }
}
