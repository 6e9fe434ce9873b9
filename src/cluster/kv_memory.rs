//! The in-memory twin of etcd for tests: revisions, leases that expire,
//! prefix watches with history, compaction, and an outage switch
//! ([`MemoryKv::set_available`]) that fails calls and breaks watches the way
//! a lost etcd connection does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::kv::{
    KeyValue, KvError, KvStore, LeaseId, PrefixSnapshot, Revision, WatchEvent, WatchEventStream,
};

/// How many live events a slow watcher may fall behind before its watch
/// breaks (it then resyncs, as after an etcd compaction).
const WATCH_BUFFER: usize = 4096;
/// How often leases are checked for expiry.
const REAPER_PERIOD: Duration = Duration::from_millis(50);

struct StoredValue {
    value: Vec<u8>,
    mod_revision: Revision,
    lease: LeaseId,
}

struct LeaseState {
    ttl: Duration,
    expires_at: Instant,
    keys: BTreeSet<String>,
}

struct State {
    revision: Revision,
    compacted_revision: Revision,
    keys: BTreeMap<String, StoredValue>,
    leases: HashMap<LeaseId, LeaseState>,
    next_lease_id: LeaseId,
    history: Vec<WatchEvent>,
    available: bool,
    events: broadcast::Sender<WatchEvent>,
}

struct Shared {
    state: Mutex<State>,
    reaper_started: AtomicBool,
}

/// An in-memory [`KvStore`]. Clones share the same store.
#[derive(Clone)]
pub struct MemoryKv {
    shared: Arc<Shared>,
}

impl Default for MemoryKv {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryKv {
    /// An empty store at revision 1 (like a fresh etcd).
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(WATCH_BUFFER);
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    revision: 1,
                    compacted_revision: 0,
                    keys: BTreeMap::new(),
                    leases: HashMap::new(),
                    next_lease_id: 1,
                    history: Vec::new(),
                    available: true,
                    events,
                }),
                reaper_started: AtomicBool::new(false),
            }),
        }
    }

    /// Simulates an outage (`false`: every call fails with
    /// [`KvError::Unavailable`] and open watches end) and the recovery
    /// (`true`: leases get a fresh TTL, as etcd grants on a restart).
    pub fn set_available(&self, available: bool) {
        let mut state = self.shared.state.lock();
        if state.available == available {
            return;
        }
        state.available = available;
        if available {
            let now = Instant::now();
            for lease in state.leases.values_mut() {
                lease.expires_at = now + lease.ttl;
            }
        } else {
            // Dropping the sender ends every open watch stream.
            let (events, _) = broadcast::channel(WATCH_BUFFER);
            state.events = events;
        }
    }

    /// Expires a lease now, as if its keep-alives had stopped for its TTL.
    pub fn expire_lease(&self, lease: LeaseId) {
        let mut state = self.shared.state.lock();
        remove_lease(&mut state, lease);
    }

    fn ensure_reaper(&self) {
        if self.shared.reaper_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REAPER_PERIOD).await;
                let Some(shared) = weak.upgrade() else { return };
                let mut state = shared.state.lock();
                if !state.available {
                    continue;
                }
                let now = Instant::now();
                let expired: Vec<LeaseId> = state
                    .leases
                    .iter()
                    .filter(|(_, lease)| lease.expires_at <= now)
                    .map(|(id, _)| *id)
                    .collect();
                for lease in expired {
                    remove_lease(&mut state, lease);
                }
            }
        });
    }

    fn lock_available(&self) -> Result<parking_lot::MutexGuard<'_, State>, KvError> {
        let state = self.shared.state.lock();
        if !state.available {
            return Err(KvError::Unavailable("memory kv switched off".to_string()));
        }
        Ok(state)
    }
}

fn record(state: &mut State, event: WatchEvent) {
    state.history.push(event.clone());
    // No receiver is fine: nobody is watching.
    let _ = state.events.send(event);
}

/// Deletes a lease and its keys, all in one revision (as etcd does).
fn remove_lease(state: &mut State, lease: LeaseId) -> bool {
    let Some(lease_state) = state.leases.remove(&lease) else {
        return false;
    };
    let existing: Vec<String> = lease_state
        .keys
        .into_iter()
        .filter(|key| state.keys.contains_key(key))
        .collect();
    if existing.is_empty() {
        return true;
    }
    state.revision += 1;
    let revision = state.revision;
    for key in existing {
        state.keys.remove(&key);
        record(state, WatchEvent::Delete { key, revision });
    }
    true
}

#[async_trait]
impl KvStore for MemoryKv {
    async fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, KvError> {
        self.ensure_reaper();
        let mut state = self.lock_available()?;
        let ttl = ttl.max(Duration::from_secs(1));
        let id = state.next_lease_id;
        state.next_lease_id += 1;
        state.leases.insert(
            id,
            LeaseState {
                ttl,
                expires_at: Instant::now() + ttl,
                keys: BTreeSet::new(),
            },
        );
        Ok(id)
    }

    async fn keep_alive(&self, lease: LeaseId) -> Result<Duration, KvError> {
        let mut state = self.lock_available()?;
        let Some(lease_state) = state.leases.get_mut(&lease) else {
            return Err(KvError::LeaseNotFound(lease));
        };
        lease_state.expires_at = Instant::now() + lease_state.ttl;
        Ok(lease_state.ttl)
    }

    async fn revoke_lease(&self, lease: LeaseId) -> Result<(), KvError> {
        let mut state = self.lock_available()?;
        if remove_lease(&mut state, lease) {
            Ok(())
        } else {
            Err(KvError::LeaseNotFound(lease))
        }
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> Result<Revision, KvError> {
        let mut state = self.lock_available()?;
        let lease_id = lease.unwrap_or(0);
        if lease_id != 0 && !state.leases.contains_key(&lease_id) {
            return Err(KvError::LeaseNotFound(lease_id));
        }
        if let Some(previous) = state.keys.get(key).map(|stored| stored.lease)
            && previous != lease_id
            && let Some(previous_lease) = state.leases.get_mut(&previous)
        {
            previous_lease.keys.remove(key);
        }
        if let Some(lease_state) = state.leases.get_mut(&lease_id) {
            lease_state.keys.insert(key.to_string());
        }
        state.revision += 1;
        let revision = state.revision;
        state.keys.insert(
            key.to_string(),
            StoredValue {
                value: value.clone(),
                mod_revision: revision,
                lease: lease_id,
            },
        );
        record(
            &mut state,
            WatchEvent::Put(KeyValue {
                key: key.to_string(),
                value,
                mod_revision: revision,
                lease: lease_id,
            }),
        );
        Ok(revision)
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let mut state = self.lock_available()?;
        let Some(removed) = state.keys.remove(key) else {
            return Ok(false);
        };
        if let Some(lease_state) = state.leases.get_mut(&removed.lease) {
            lease_state.keys.remove(key);
        }
        state.revision += 1;
        let revision = state.revision;
        record(
            &mut state,
            WatchEvent::Delete {
                key: key.to_string(),
                revision,
            },
        );
        Ok(true)
    }

    async fn get_prefix(&self, prefix: &str) -> Result<PrefixSnapshot, KvError> {
        let state = self.lock_available()?;
        let entries = state
            .keys
            .range(prefix.to_string()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, stored)| KeyValue {
                key: key.clone(),
                value: stored.value.clone(),
                mod_revision: stored.mod_revision,
                lease: stored.lease,
            })
            .collect();
        Ok(PrefixSnapshot {
            entries,
            revision: state.revision,
        })
    }

    async fn watch_prefix(
        &self,
        prefix: &str,
        start_revision: Revision,
    ) -> Result<WatchEventStream, KvError> {
        let state = self.lock_available()?;
        if start_revision != 0 && start_revision < state.compacted_revision {
            return Err(KvError::Compacted {
                compact_revision: state.compacted_revision,
            });
        }
        let prefix_owned = prefix.to_string();
        let replay: Vec<Result<WatchEvent, KvError>> = if start_revision == 0 {
            Vec::new()
        } else {
            state
                .history
                .iter()
                .filter(|event| event.revision() >= start_revision)
                .filter(|event| event.key().starts_with(prefix))
                .cloned()
                .map(Ok)
                .collect()
        };
        // Subscribing under the lock: live events start right after the
        // replayed history, with no gap and no repeat.
        let receiver = state.events.subscribe();
        drop(state);
        let live = futures::stream::unfold(receiver, move |mut receiver| {
            let prefix = prefix_owned.clone();
            async move {
                loop {
                    match receiver.recv().await {
                        Ok(event) if event.key().starts_with(&prefix) => {
                            return Some((Ok(event), receiver));
                        }
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let error = KvError::Unavailable("watcher fell behind".to_string());
                            // End after reporting: the caller resyncs.
                            let (_, closed) = broadcast::channel(1);
                            return Some((Err(error), closed));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        });
        Ok(futures::stream::iter(replay).chain(live).boxed())
    }

    async fn compact(&self, revision: Revision) -> Result<(), KvError> {
        let mut state = self.lock_available()?;
        if revision > state.revision {
            return Err(KvError::Rejected(format!(
                "compaction revision {revision} is in the future (current {})",
                state.revision
            )));
        }
        if revision <= state.compacted_revision {
            return Err(KvError::Compacted {
                compact_revision: state.compacted_revision,
            });
        }
        state.compacted_revision = revision;
        state.history.retain(|event| event.revision() >= revision);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::kv_conformance;

    #[tokio::test]
    async fn memory_kv_passes_the_conformance_suite() {
        kv_conformance::run_all(&MemoryKv::new(), "/conformance").await;
    }

    #[tokio::test]
    async fn outage_fails_calls_and_ends_watches_then_recovers() {
        let kv = MemoryKv::new();
        let mut watch = kv.watch_prefix("/p/", 0).await.ok().into_iter().next();
        kv.set_available(false);
        assert!(matches!(
            kv.put("/p/a", b"1".to_vec(), None).await,
            Err(KvError::Unavailable(_))
        ));
        if let Some(stream) = watch.as_mut() {
            assert!(stream.next().await.is_none(), "watch ends on an outage");
        }
        kv.set_available(true);
        assert!(kv.put("/p/a", b"1".to_vec(), None).await.is_ok());
    }
}
