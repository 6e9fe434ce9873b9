//! Iterators over encoded chunks, borrowed and owned.

use super::columns::{decode_sealed_columns, sealed_columns_sample_count};
use super::sealed::{decode_sealed, sealed_sample_count};
use super::xor::XorDecoder;
use super::{ChunkError, Encoding};
use crate::storage::{SampleIterator, StorageError};

/// The decoding state shared by both iterators; it borrows nothing, each
/// call passes the bytes.
#[derive(Debug, Clone)]
struct IteratorCore {
    decoder: Decoder,
    current: Option<(i64, f64)>,
    error: Option<ChunkError>,
}

#[derive(Debug, Clone)]
enum Decoder {
    Xor(XorDecoder),
    /// A sealed chunk whose header was read; it is decoded on first use.
    SealedPending {
        total: usize,
        columns: bool,
    },
    /// A decoded sealed chunk and the index of the next sample.
    Sealed {
        samples: Vec<(i64, f64)>,
        next_index: usize,
    },
    Finished,
}

impl IteratorCore {
    fn new(encoding: Encoding, bytes: &[u8]) -> Self {
        let decoder = match encoding {
            Encoding::Xor => XorDecoder::new(bytes).map(Decoder::Xor),
            Encoding::Sealed => sealed_sample_count(bytes).map(|total| Decoder::SealedPending {
                total,
                columns: false,
            }),
            Encoding::SealedColumns => {
                sealed_columns_sample_count(bytes).map(|total| Decoder::SealedPending {
                    total,
                    columns: true,
                })
            }
        };
        match decoder {
            Ok(decoder) => IteratorCore {
                decoder,
                current: None,
                error: None,
            },
            Err(error) => IteratorCore {
                decoder: Decoder::Finished,
                current: None,
                error: Some(error),
            },
        }
    }

    /// Decodes a pending sealed chunk; false (and the error kept) if it fails.
    fn materialise(&mut self, bytes: &[u8]) -> bool {
        if let Decoder::SealedPending { columns, .. } = self.decoder {
            let decoded = if columns {
                decode_sealed_columns(bytes)
            } else {
                decode_sealed(bytes)
            };
            match decoded {
                Ok(samples) => {
                    self.decoder = Decoder::Sealed {
                        samples,
                        next_index: 0,
                    }
                }
                Err(error) => {
                    self.error = Some(error);
                    self.finish();
                    return false;
                }
            }
        }
        true
    }

    #[inline]
    fn next(&mut self, bytes: &[u8]) -> Option<(i64, f64)> {
        if !self.materialise(bytes) {
            return None;
        }
        let decoded = match &mut self.decoder {
            Decoder::Xor(decoder) => decoder.next(bytes),
            Decoder::Sealed {
                samples,
                next_index,
            } => {
                let sample = samples.get(*next_index).copied();
                *next_index += 1;
                Ok(sample)
            }
            Decoder::SealedPending { .. } | Decoder::Finished => Ok(None),
        };
        match decoded {
            Ok(Some(sample)) => {
                self.current = Some(sample);
                Some(sample)
            }
            Ok(None) => {
                self.finish();
                None
            }
            Err(error) => {
                self.error = Some(error);
                self.finish();
                None
            }
        }
    }

    /// After the end, `at` is `None`, as for a fresh iterator's end.
    fn finish(&mut self) {
        self.decoder = Decoder::Finished;
        self.current = None;
    }

    fn seek(&mut self, bytes: &[u8], t: i64) -> Option<(i64, f64)> {
        if let Some(current) = self.current
            && current.0 >= t
        {
            return Some(current);
        }
        if !self.materialise(bytes) {
            return None;
        }
        if let Decoder::Sealed {
            samples,
            next_index,
        } = &mut self.decoder
        {
            // Binary search over the decoded samples.
            let rest = samples.get(*next_index..).unwrap_or(&[]);
            *next_index += rest.partition_point(|sample| sample.0 < t);
            return self.next(bytes);
        }
        while let Some(sample) = self.next(bytes) {
            if sample.0 >= t {
                return Some(sample);
            }
        }
        None
    }

    fn num_samples(&self) -> Option<usize> {
        match &self.decoder {
            Decoder::Xor(decoder) => Some(decoder.total()),
            Decoder::SealedPending { total, .. } => Some(*total),
            Decoder::Sealed { samples, .. } => Some(samples.len()),
            Decoder::Finished => None,
        }
    }
}

/// Iterates any encoding from its bytes. Decoding errors end iteration and
/// are reported by [`ChunkIterator::err`]; corrupt input never panics.
#[derive(Debug, Clone)]
pub struct ChunkIterator<'a> {
    bytes: &'a [u8],
    core: IteratorCore,
}

impl<'a> ChunkIterator<'a> {
    /// An iterator over `bytes`, encoded as `encoding`. A bad header is
    /// reported by [`ChunkIterator::err`] and yields no samples.
    pub fn new(encoding: Encoding, bytes: &'a [u8]) -> Self {
        ChunkIterator {
            bytes,
            core: IteratorCore::new(encoding, bytes),
        }
    }

    /// Advances and returns the next sample, `None` at the end or on error.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Option<(i64, f64)> {
        self.core.next(self.bytes)
    }

    /// Advances to the first sample with timestamp `>= t` and returns it;
    /// returns the current sample without advancing if it qualifies.
    pub fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        self.core.seek(self.bytes, t)
    }

    /// The sample last returned by `next` or `seek`; `None` before the first
    /// call and after the end.
    pub fn at(&self) -> Option<(i64, f64)> {
        self.core.current
    }

    /// The decoding error that ended iteration, if any.
    pub fn err(&self) -> Option<ChunkError> {
        self.core.error.clone()
    }

    /// The number of samples the chunk header announces (`None` if the
    /// header did not decode or the iterator is exhausted).
    pub fn num_samples(&self) -> Option<usize> {
        self.core.num_samples()
    }
}

impl SampleIterator for ChunkIterator<'_> {
    fn next(&mut self) -> Option<(i64, f64)> {
        ChunkIterator::next(self)
    }
    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        ChunkIterator::seek(self, t)
    }
    fn at(&self) -> Option<(i64, f64)> {
        ChunkIterator::at(self)
    }
    fn err(&self) -> Option<StorageError> {
        ChunkIterator::err(self).map(StorageError::from)
    }
}

/// A [`ChunkIterator`] that owns its bytes (a cheap, reference-counted
/// [`bytes::Bytes`]), so it is `'static + Send` and can be returned from a
/// querier as a `Box<dyn SampleIterator>` that outlives the head's locks.
#[derive(Debug, Clone)]
pub struct OwnedChunkIterator {
    bytes: bytes::Bytes,
    core: IteratorCore,
}

impl OwnedChunkIterator {
    /// An iterator over `bytes`, encoded as `encoding`. `Bytes::from(vec)`,
    /// `Bytes::copy_from_slice` and `Bytes::from_owner(arc)` all make one.
    pub fn new(encoding: Encoding, bytes: bytes::Bytes) -> Self {
        let core = IteratorCore::new(encoding, &bytes);
        OwnedChunkIterator { bytes, core }
    }

    /// Advances and returns the next sample, `None` at the end or on error.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Option<(i64, f64)> {
        self.core.next(&self.bytes)
    }

    /// Advances to the first sample with timestamp `>= t` and returns it;
    /// returns the current sample without advancing if it qualifies.
    pub fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        self.core.seek(&self.bytes, t)
    }

    /// The sample last returned by `next` or `seek`.
    pub fn at(&self) -> Option<(i64, f64)> {
        self.core.current
    }

    /// The decoding error that ended iteration, if any.
    pub fn err(&self) -> Option<ChunkError> {
        self.core.error.clone()
    }

    /// The number of samples the chunk header announces.
    pub fn num_samples(&self) -> Option<usize> {
        self.core.num_samples()
    }
}

impl SampleIterator for OwnedChunkIterator {
    fn next(&mut self) -> Option<(i64, f64)> {
        OwnedChunkIterator::next(self)
    }
    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        OwnedChunkIterator::seek(self, t)
    }
    fn at(&self) -> Option<(i64, f64)> {
        OwnedChunkIterator::at(self)
    }
    fn err(&self) -> Option<StorageError> {
        OwnedChunkIterator::err(self).map(StorageError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::chunkenc::{XorChunk, encode_sealed};

    fn samples() -> Vec<(i64, f64)> {
        (0..200)
            .map(|i| (i * 15_000 + i % 3, (i * i) as f64 / 4.0))
            .collect()
    }

    #[test]
    fn owned_iterator_is_a_static_sample_iterator_that_agrees_with_the_borrowed_one() {
        let mut xor = XorChunk::new();
        for &(t, v) in &samples()[..120] {
            xor.append(t, v);
        }
        let (sealed_encoding, sealed_bytes) = encode_sealed(&samples());
        let chunks = [
            (Encoding::Xor, xor.bytes().to_vec()),
            (sealed_encoding, sealed_bytes),
        ];
        for (encoding, bytes) in chunks {
            let mut borrowed = ChunkIterator::new(encoding, &bytes);
            // What a querier hands out after releasing its locks.
            let mut owned: Box<dyn SampleIterator + 'static> = Box::new(OwnedChunkIterator::new(
                encoding,
                bytes::Bytes::from(bytes.clone()),
            ));
            assert_eq!(owned.seek(30_000), borrowed.seek(30_000));
            while let Some(sample) = borrowed.next() {
                assert_eq!(owned.next(), Some(sample));
            }
            assert_eq!(owned.next(), None);
            assert!(owned.err().is_none());
        }
    }

    #[test]
    fn unknown_encodings_and_bad_headers_are_errors_not_panics() {
        assert_eq!(Encoding::try_from(7), Err(ChunkError::UnknownEncoding(7)));
        assert_eq!(
            Encoding::try_from(u8::from(Encoding::Sealed)),
            Ok(Encoding::Sealed)
        );
        let mut iterator = ChunkIterator::new(Encoding::Xor, &[0]);
        assert_eq!(iterator.next(), None);
        assert_eq!(iterator.err(), Some(ChunkError::Truncated));
        let mut iterator =
            OwnedChunkIterator::new(Encoding::Sealed, bytes::Bytes::from_static(&[9, 1]));
        assert_eq!(iterator.next(), None);
        assert!(matches!(iterator.err(), Some(ChunkError::Corrupt(_))));
        assert!(matches!(
            SampleIterator::err(&iterator),
            Some(StorageError::Corruption(_))
        ));
    }
}
