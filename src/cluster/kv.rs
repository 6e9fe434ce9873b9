//! The key-value store membership needs, as a trait: etcd in production
//! ([`super::kv_etcd::EtcdKv`]), an in-memory twin in tests
//! ([`super::kv_memory::MemoryKv`]). Both pass one conformance suite
//! (`kv_conformance`, run against each).
//!
//! The contract follows etcd v3:
//! - Every change (put, delete, lease expiry or revoke deleting its keys)
//!   advances one global revision; a read returns the revision it saw.
//! - A key put under a lease is deleted when the lease expires (no
//!   keep-alive for its TTL) or is revoked; the deletion is a watch event.
//! - A watch from revision `r` first delivers every change with revision
//!   `>= r` still in the history, in order, then live changes. If `r` was
//!   compacted away the watch fails with [`KvError::Compacted`]: the caller
//!   resyncs with a fresh [`KvStore::get_prefix`] and watches from the
//!   revision after it.
//! - A lost connection surfaces as [`KvError::Unavailable`] on a call or as
//!   the end of a watch stream (with or without an error item); the caller
//!   retries. Implementations reconnect by themselves on the next call.
//!
//! Implementations are `Send + Sync` and cheap to share behind an `Arc`;
//! every method may be called concurrently.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

/// A lease id, as etcd hands them out (never 0).
pub type LeaseId = i64;

/// A store revision (etcd's `mod_revision`/header revision).
pub type Revision = i64;

/// Errors of the KV layer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KvError {
    /// The store cannot be reached (connection refused, timeout, no leader).
    #[error("kv store unavailable: {0}")]
    Unavailable(String),
    /// The lease does not exist (it expired or was revoked).
    #[error("lease {0} not found")]
    LeaseNotFound(LeaseId),
    /// The watch start revision was compacted away; resync with a get.
    #[error("revision compacted, oldest kept is {compact_revision}")]
    Compacted {
        /// The compaction revision the store reported.
        compact_revision: Revision,
    },
    /// The store rejected the request (bad argument, permission, ...).
    #[error("kv request rejected: {0}")]
    Rejected(String),
}

impl KvError {
    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, KvError::Unavailable(_) | KvError::Compacted { .. })
    }
}

/// One key and its value as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key.
    pub key: String,
    /// The value bytes.
    pub value: Vec<u8>,
    /// The revision of the last change of this key.
    pub mod_revision: Revision,
    /// The lease the key is attached to, 0 for none.
    pub lease: LeaseId,
}

/// The result of a prefix read: the keys, sorted, and the store revision
/// the read saw (watch from `revision + 1` to miss nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixSnapshot {
    /// Keys under the prefix, sorted by key.
    pub entries: Vec<KeyValue>,
    /// The store revision at the time of the read.
    pub revision: Revision,
}

/// A change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A key was created or updated.
    Put(KeyValue),
    /// A key was deleted (explicitly, or by its lease ending).
    Delete {
        /// The deleted key.
        key: String,
        /// The revision of the deletion.
        revision: Revision,
    },
}

impl WatchEvent {
    /// The key the event is about.
    pub fn key(&self) -> &str {
        match self {
            WatchEvent::Put(entry) => &entry.key,
            WatchEvent::Delete { key, .. } => key,
        }
    }

    /// The revision of the change.
    pub fn revision(&self) -> Revision {
        match self {
            WatchEvent::Put(entry) => entry.mod_revision,
            WatchEvent::Delete { revision, .. } => *revision,
        }
    }
}

/// A watch: events in revision order. The stream ends (or yields an error)
/// when the watch is broken; the caller then resyncs.
pub type WatchEventStream = BoxStream<'static, Result<WatchEvent, KvError>>;

/// The operations membership needs from a consistent key-value store.
#[async_trait]
pub trait KvStore: Send + Sync + 'static {
    /// Grants a lease that expires after `ttl` without a keep-alive. The
    /// store may round the TTL up to its minimum (etcd: about 2 s).
    async fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, KvError>;

    /// Refreshes a lease once, returning the TTL it now has.
    /// [`KvError::LeaseNotFound`] when it expired or was revoked.
    async fn keep_alive(&self, lease: LeaseId) -> Result<Duration, KvError>;

    /// Revokes a lease, deleting its keys. Revoking an unknown lease is
    /// [`KvError::LeaseNotFound`].
    async fn revoke_lease(&self, lease: LeaseId) -> Result<(), KvError>;

    /// Sets `key` to `value`, attached to `lease` if given (the lease must
    /// exist, else [`KvError::LeaseNotFound`]). Returns the new revision.
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> Result<Revision, KvError>;

    /// Deletes `key`; returns whether it existed.
    async fn delete(&self, key: &str) -> Result<bool, KvError>;

    /// Reads every key starting with `prefix`.
    async fn get_prefix(&self, prefix: &str) -> Result<PrefixSnapshot, KvError>;

    /// Watches keys starting with `prefix`, from `start_revision` (0: only
    /// changes from now on). Fails with [`KvError::Compacted`], either at
    /// once or as the first stream item, when that revision is gone.
    async fn watch_prefix(
        &self,
        prefix: &str,
        start_revision: Revision,
    ) -> Result<WatchEventStream, KvError>;

    /// Drops history before `revision` (watches from earlier revisions then
    /// fail with [`KvError::Compacted`]). Used by tests and maintenance.
    async fn compact(&self, revision: Revision) -> Result<(), KvError>;
}
