//! The local time-series database: a write-ahead log, an in-memory head of
//! recent samples, immutable on-disk blocks, compaction and retention.
//!
//! [`Db`] implements [`crate::storage::Appendable`] and
//! [`crate::storage::Queryable`]; nothing above `storage` sees this module.

mod admin;
pub mod block;
pub mod chunkenc;
pub mod chunks;
pub mod cli;
mod compact;
mod db;
mod error;
pub mod head;
pub mod index;
mod lock;
mod metrics;
mod querier;
mod replay;
pub mod stage;
pub mod tombstones;
pub mod wal;

pub use admin::DeleteReport;
pub use db::{Db, DbOptions};
pub use error::TsdbError;
pub use head::{HeadStats, LabelCount, TsdbStats};
pub use replay::ReplayReport;

#[cfg(test)]
mod db_tests;
#[cfg(test)]
mod out_of_order_tests;
