//! Who is in the cluster: one node (mode none), a fixed peer list (static),
//! or the live set registered in etcd (etcd). Published on a
//! `tokio::sync::watch` channel as a [`ClusterView`]; the ownership layer
//! turns each view into a ring.
//!
//! In etcd mode a node:
//! - reads `<prefix>/members/` and publishes what it finds, *then* registers
//!   `<prefix>/members/<node_id> = {"addr": ..., "started": ...}` under a
//!   lease (TTL `lease_ttl`), so a node whose lease expired first sees the
//!   view without itself (and steps back from targets others took over)
//!   before it rejoins;
//! - keeps the lease alive every TTL/3 and watches the prefix from the
//!   revision after its read; a compacted or broken watch resyncs with a
//!   fresh read;
//! - while etcd is unreachable, keeps its last view (and so keeps scraping)
//!   and retries with backoff;
//! - on [`Membership::shutdown`] revokes its lease, deregistering at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::kv::{KvError, KvStore, LeaseId, PrefixSnapshot, WatchEvent};
use super::kv_etcd::EtcdKv;
use super::metrics::ClusterMetrics;
use super::ring::Member;
use super::settings::{ClusterMode, ClusterSettings};

/// Errors starting membership.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// The etcd client could not be built (bad endpoint URL).
    #[error("etcd client: {0}")]
    Etcd(#[from] KvError),
    /// The settings cannot work (no endpoints, empty node id).
    #[error("invalid cluster settings: {0}")]
    InvalidSettings(String),
}

/// The member set as this node currently sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterView {
    /// Live members, sorted by node id.
    pub members: Vec<Member>,
}

impl ClusterView {
    /// A view of these members (sorted and deduplicated by node id).
    pub fn new(mut members: Vec<Member>) -> Self {
        members.sort();
        members.dedup_by(|a, b| a.node_id == b.node_id);
        Self { members }
    }

    /// Whether the node is in the view.
    pub fn contains(&self, node_id: &str) -> bool {
        self.members.iter().any(|m| m.node_id == node_id)
    }
}

/// The value stored under a member's key.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MemberRecord {
    addr: String,
    started: String,
}

/// A member record under `members_prefix`, or `None` (logged) when the key
/// or the JSON is not one.
fn parse_member_entry(members_prefix: &str, key: &str, value: &[u8]) -> Option<Member> {
    let node_id = key.strip_prefix(members_prefix)?;
    if node_id.is_empty() || node_id.contains('/') {
        return None;
    }
    match serde_json::from_slice::<MemberRecord>(value) {
        Ok(record) => Some(Member::new(node_id, record.addr)),
        Err(error) => {
            tracing::warn!(key, %error, "ignoring a member record that is not valid JSON");
            None
        }
    }
}

/// The members registered now under `prefix` (what `promshard cluster ring`
/// shows for an etcd cluster), sorted by node id.
pub async fn live_members<K: KvStore>(kv: &K, prefix: &str) -> Result<Vec<Member>, KvError> {
    let members_prefix = format!("{}/members/", prefix.trim_end_matches('/'));
    let snapshot = kv.get_prefix(&members_prefix).await?;
    let mut members: Vec<Member> = snapshot
        .entries
        .iter()
        .filter_map(|entry| parse_member_entry(&members_prefix, &entry.key, &entry.value))
        .collect();
    members.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    Ok(members)
}

/// The running membership of this node.
pub struct Membership {
    view: watch::Receiver<Arc<ClusterView>>,
    /// Held in the fixed modes so subscribers' `changed()` waits forever
    /// instead of failing.
    _fixed_sender: Option<watch::Sender<Arc<ClusterView>>>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Membership {
    /// Starts membership in the mode the settings name; etcd mode connects
    /// a client (lazily: an unreachable etcd is retried, not an error).
    pub async fn start(
        settings: &ClusterSettings,
        metrics: ClusterMetrics,
    ) -> Result<Self, MembershipError> {
        match settings.mode {
            ClusterMode::None | ClusterMode::Static => Ok(Self::fixed(settings, &metrics)),
            ClusterMode::Etcd => {
                if settings.etcd.endpoints.is_empty() {
                    return Err(MembershipError::InvalidSettings(
                        "cluster.etcd.endpoints is empty".to_string(),
                    ));
                }
                let kv = EtcdKv::connect(
                    &settings.etcd.endpoints,
                    settings.etcd.dial_timeout,
                    settings.etcd.dial_timeout.max(Duration::from_secs(1)),
                )
                .await?;
                Self::start_with_kv(settings, Arc::new(kv), metrics)
            }
        }
    }

    /// Mode none or static: the configured member set, never changing.
    pub fn fixed(settings: &ClusterSettings, metrics: &ClusterMetrics) -> Self {
        let view = ClusterView::new(settings.configured_members());
        metrics.members.set(view.members.len() as i64);
        let (sender, receiver) = watch::channel(Arc::new(view));
        Self {
            view: receiver,
            _fixed_sender: Some(sender),
            cancel: CancellationToken::new(),
            task: None,
        }
    }

    /// Etcd mode over any [`KvStore`] (the in-memory twin in tests). Until
    /// the store answers, the view is the configured one (this node and any
    /// listed peers): a node never starts with nothing to scrape.
    pub fn start_with_kv<K: KvStore>(
        settings: &ClusterSettings,
        kv: Arc<K>,
        metrics: ClusterMetrics,
    ) -> Result<Self, MembershipError> {
        if settings.node_id.is_empty() || settings.node_id.contains('/') {
            return Err(MembershipError::InvalidSettings(format!(
                "cluster.node_id {:?} must be non-empty and contain no '/'",
                settings.node_id
            )));
        }
        let initial = ClusterView::new(settings.configured_members());
        metrics.members.set(initial.members.len() as i64);
        let (sender, receiver) = watch::channel(Arc::new(initial));
        let cancel = CancellationToken::new();
        let record = MemberRecord {
            addr: settings.advertise_address.clone(),
            started: chrono::Utc::now().to_rfc3339(),
        };
        let task = EtcdMembershipTask {
            kv,
            members_prefix: format!("{}/members/", settings.etcd.prefix.trim_end_matches('/')),
            node_id: settings.node_id.clone(),
            record_json: serde_json::to_vec(&record).unwrap_or_default(),
            lease_ttl: settings.etcd.lease_ttl.max(Duration::from_secs(1)),
            lease: None,
            members: BTreeMap::new(),
            sender,
            metrics,
        };
        let handle = tokio::spawn(task.run(cancel.clone()));
        Ok(Self {
            view: receiver,
            _fixed_sender: None,
            cancel,
            task: Some(handle),
        })
    }

    /// A receiver of every new view (clone it freely).
    pub fn subscribe(&self) -> watch::Receiver<Arc<ClusterView>> {
        self.view.clone()
    }

    /// The current view.
    pub fn current(&self) -> Arc<ClusterView> {
        self.view.borrow().clone()
    }

    /// Stops and deregisters (revokes the lease) so peers take over at once.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops without deregistering, as a crash would: peers notice when the
    /// lease expires. For tests of failover.
    pub fn abort(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

struct EtcdMembershipTask<K: KvStore> {
    kv: Arc<K>,
    members_prefix: String,
    node_id: String,
    record_json: Vec<u8>,
    lease_ttl: Duration,
    lease: Option<LeaseId>,
    members: BTreeMap<String, Member>,
    sender: watch::Sender<Arc<ClusterView>>,
    metrics: ClusterMetrics,
}

const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Why a watch session ended.
enum SessionEnd {
    Cancelled,
    Resync,
    Failed,
}

impl<K: KvStore> EtcdMembershipTask<K> {
    fn member_key(&self) -> String {
        format!("{}{}", self.members_prefix, self.node_id)
    }

    fn error(&self, operation: &str, error: &KvError) {
        self.metrics.etcd_errors_total.inc();
        tracing::warn!(node_id = %self.node_id, operation, %error, "etcd call failed; keeping the last cluster view");
    }

    fn parse_member(&self, key: &str, value: &[u8]) -> Option<Member> {
        parse_member_entry(&self.members_prefix, key, value)
    }

    fn publish(&self) {
        let view = ClusterView::new(self.members.values().cloned().collect());
        self.metrics.members.set(view.members.len() as i64);
        self.sender.send_if_modified(|current| {
            if **current == view {
                return false;
            }
            tracing::info!(node_id = %self.node_id, members = view.members.len(), "cluster view changed");
            *current = Arc::new(view);
            true
        });
    }

    fn replace_members(&mut self, snapshot: &PrefixSnapshot) {
        self.members = snapshot
            .entries
            .iter()
            .filter_map(|entry| self.parse_member(&entry.key, &entry.value))
            .map(|member| (member.node_id.clone(), member))
            .collect();
        self.publish();
    }

    fn apply(&mut self, event: WatchEvent) {
        match event {
            WatchEvent::Put(entry) => {
                if let Some(member) = self.parse_member(&entry.key, &entry.value) {
                    self.members.insert(member.node_id.clone(), member);
                }
            }
            WatchEvent::Delete { key, .. } => {
                if let Some(node_id) = key.strip_prefix(&self.members_prefix) {
                    self.members.remove(node_id);
                }
            }
        }
        self.publish();
    }

    /// Makes sure this node is registered under a live lease.
    async fn register(&mut self) -> Result<(), KvError> {
        if let Some(lease) = self.lease {
            match self.kv.keep_alive(lease).await {
                Ok(_) => return Ok(()),
                Err(KvError::LeaseNotFound(_)) => {
                    tracing::warn!(node_id = %self.node_id, lease, "lease expired; registering again");
                    self.lease = None;
                }
                Err(error) => return Err(error),
            }
        }
        let lease = self.kv.grant_lease(self.lease_ttl).await?;
        self.kv
            .put(&self.member_key(), self.record_json.clone(), Some(lease))
            .await?;
        self.lease = Some(lease);
        tracing::info!(node_id = %self.node_id, lease, "registered in the cluster");
        Ok(())
    }

    async fn run(mut self, cancel: CancellationToken) {
        let mut backoff = BACKOFF_START;
        loop {
            let end = self.session(&cancel).await;
            match end {
                SessionEnd::Cancelled => break,
                SessionEnd::Resync => backoff = BACKOFF_START,
                SessionEnd::Failed => {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        self.deregister().await;
    }

    async fn deregister(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        match self.kv.revoke_lease(lease).await {
            Ok(()) => tracing::info!(node_id = %self.node_id, "deregistered from the cluster"),
            Err(error) => self.error("revoke lease", &error),
        }
    }

    /// One read, register, watch cycle.
    async fn session(&mut self, cancel: &CancellationToken) -> SessionEnd {
        let snapshot = match self.kv.get_prefix(&self.members_prefix).await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                self.error("get members", &error);
                return SessionEnd::Failed;
            }
        };
        self.replace_members(&snapshot);
        if let Err(error) = self.register().await {
            self.error("register", &error);
            return SessionEnd::Failed;
        }
        let mut watch = match self
            .kv
            .watch_prefix(&self.members_prefix, snapshot.revision + 1)
            .await
        {
            Ok(watch) => watch,
            Err(KvError::Compacted { .. }) => return SessionEnd::Resync,
            Err(error) => {
                self.error("watch members", &error);
                return SessionEnd::Failed;
            }
        };
        let mut keep_alive = tokio::time::interval(self.lease_ttl / 3);
        keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keep_alive.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return SessionEnd::Cancelled,
                _ = keep_alive.tick() => {
                    let Some(lease) = self.lease else { return SessionEnd::Resync };
                    match self.kv.keep_alive(lease).await {
                        Ok(_) => {}
                        Err(KvError::LeaseNotFound(_)) => {
                            tracing::warn!(node_id = %self.node_id, lease, "lease expired; resyncing");
                            self.lease = None;
                            return SessionEnd::Resync;
                        }
                        Err(error) => self.error("keep alive", &error),
                    }
                }
                item = watch.next() => match item {
                    Some(Ok(event)) => self.apply(event),
                    Some(Err(KvError::Compacted { compact_revision })) => {
                        tracing::info!(compact_revision, "member watch compacted; resyncing");
                        return SessionEnd::Resync;
                    }
                    Some(Err(error)) => {
                        self.error("watch members", &error);
                        return SessionEnd::Failed;
                    }
                    None => {
                        self.error("watch members", &KvError::Unavailable("watch ended".to_string()));
                        return SessionEnd::Failed;
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests;
