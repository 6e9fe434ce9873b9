//! The local time-series database.

pub mod chunkenc;
