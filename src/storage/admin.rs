//! The seam of the admin API: the administrative operations of a local
//! store (Prometheus's `/api/v1/admin/tsdb/*`). The web layer sees only
//! this trait; the TSDB implements it.

use crate::model::Matcher;
use crate::storage::StorageError;

/// Administrative operations on a local store.
///
/// Every method blocks on disk I/O and may wait for a running compaction:
/// call it from a blocking thread (`spawn_blocking`), never on an async
/// worker. Implementations are safe to call from many threads at once;
/// they serialise against each other and against compaction.
pub trait AdminStorage: Send + Sync {
    /// Marks `[min_time, max_time]` (milliseconds, both inclusive) deleted
    /// from every series matching all `matchers`. From the return on,
    /// queries do not see those samples, also after a restart or a crash;
    /// the data itself is dropped later (compaction, head cut,
    /// [`AdminStorage::clean_tombstones`]). An empty or inverted range
    /// deletes nothing.
    fn delete_series(
        &self,
        min_time: i64,
        max_time: i64,
        matchers: &[Matcher],
    ) -> Result<(), StorageError>;

    /// Rewrites the stored data that has deletions recorded against it
    /// without the deleted samples.
    fn clean_tombstones(&self) -> Result<(), StorageError>;

    /// Writes a consistent copy of the store into a new directory
    /// `<data>/snapshots/<name>` and returns `name`. Without `skip_head`
    /// it also holds the in-memory samples. The directory can be opened as
    /// the data directory of another node.
    fn snapshot(&self, skip_head: bool) -> Result<String, StorageError>;
}
