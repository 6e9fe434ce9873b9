//! Chunk encodings for float samples.
