//! Remote write and remote read.
