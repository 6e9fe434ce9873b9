//! Chunk encodings for float samples.
//!
//! - [`Encoding::Xor`]: Prometheus's XOR chunk (Gorilla with millisecond
//!   timestamp buckets), written by [`XorChunk`], the head's appendable
//!   in-memory chunk. Byte-compatible with Prometheus's `EncXOR`.
//! - [`Encoding::Sealed`]: the block format, written once by
//!   [`encode_sealed`]: grid-residual timestamps, decimal-integer (or XOR)
//!   values with delta / delta-of-delta prediction, all through an adaptive
//!   range coder. Several times smaller than XOR on scraped data.
//! - [`Encoding::SealedColumns`]: sealed version 2, the same ideas split
//!   into a timestamp column and a value column, so that a block stores
//!   the timestamps shared by a target's series once (written by
//!   [`encode_sealed_columns`] or by a block writer from columns).
//!
//! Every encoding round-trips every `f64` bit-exactly (NaN payloads, ±Inf,
//! -0.0, the stale NaN). Decoders meet bytes read from disk: corrupt or
//! truncated input ends iteration with a [`ChunkError`], never a panic.
//! The formats are written down in `docs/format/chunks.md`.

mod bitstream;
mod columns;
pub mod dataset;
mod decimal;
mod iterator;
mod rangecoder;
mod sealed;
mod steps;
#[cfg(test)]
mod test_support;
mod varint;
mod xor;

pub use columns::{
    SEALED_COLUMNS_VERSION, decode_timestamp_column, decode_value_column, encode_sealed_columns,
    encode_timestamp_column, encode_value_column, join_columns, timestamp_column_count,
};
pub use iterator::{ChunkIterator, OwnedChunkIterator};
pub use sealed::{SEALED_FORMAT_VERSION, SEALED_MAX_SAMPLES, encode_sealed};
pub use xor::{XOR_HEADER_BYTES, XOR_MAX_SAMPLES, XorChunk};

/// How a chunk's bytes are encoded. The value is the byte stored beside
/// each chunk on disk (Prometheus uses the same byte, 1, for XOR).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Prometheus's XOR chunk.
    Xor = 1,
    /// promshard's sealed (immutable, block) encoding, version 1.
    Sealed = 16,
    /// Sealed version 2: a timestamp column and a value column in one
    /// chunk (a block stores shared timestamp columns apart and joins them
    /// when a chunk is read).
    SealedColumns = 17,
}

impl TryFrom<u8> for Encoding {
    type Error = ChunkError;

    fn try_from(byte: u8) -> Result<Self, Self::Error> {
        match byte {
            1 => Ok(Encoding::Xor),
            16 => Ok(Encoding::Sealed),
            17 => Ok(Encoding::SealedColumns),
            other => Err(ChunkError::UnknownEncoding(other)),
        }
    }
}

impl From<Encoding> for u8 {
    fn from(encoding: Encoding) -> u8 {
        encoding as u8
    }
}

/// Why a chunk's bytes did not decode.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum ChunkError {
    /// The encoding byte names no known encoding.
    #[error("unknown chunk encoding {0}")]
    UnknownEncoding(u8),
    /// The bytes end before the number of samples the header announces.
    #[error("chunk truncated: data ends before the last sample")]
    Truncated,
    /// A varint runs past 64 bits.
    #[error("chunk varint overflows 64 bits")]
    VarintOverflow,
    /// The bytes are structurally invalid.
    #[error("corrupt chunk: {0}")]
    Corrupt(&'static str),
}

impl From<ChunkError> for crate::storage::StorageError {
    fn from(error: ChunkError) -> Self {
        crate::storage::StorageError::Corruption(error.to_string())
    }
}
