//! Silences across a cluster. A group's owner notifies, so a silence must
//! mute wherever it is made: every change made on a node (create, update,
//! expire) is sent to every live peer, and retried, with back-off, until
//! that peer has taken it. A peer that joins the view, or comes back,
//! gets every silence this node holds. Peers store what they receive as
//! replicas (the newest change wins), so deliveries in any order, or
//! twice, converge.
//!
//! Deliveries go through the [`PeerClient`] as Alertmanager API v2 posts
//! marked forwarded. Where silence management needs basic auth, the
//! `Authorization` of the request that made a change is sent with it (held
//! in memory only: after a restart, silences loaded from disk are offered
//! to new peers without it, and a peer that guards silences refuses them
//! with a warning until they change again).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus::{IntCounter, IntGauge, Registry};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::alertmanager::BuiltinAlertmanager;
use crate::cluster::peers::PeerClient;
use crate::lifecycle::Stage;

/// The first retry after a failed delivery; doubled up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the peer list is looked at for members that joined.
pub const MEMBERSHIP_POLL: Duration = Duration::from_secs(2);

#[derive(Default)]
struct State {
    /// By peer address: the silences it still lacks, each with the
    /// generation of its last change (a delivery clears only the
    /// generation it sent).
    pending: BTreeMap<String, BTreeMap<String, u64>>,
    /// The peers seen at the last pass; one not among them is new.
    known: BTreeSet<String>,
    /// The `Authorization` of each silence's last change.
    authorization: HashMap<String, String>,
    generation: u64,
}

/// Sends this node's silence changes to its peers until each has them.
pub struct SilenceSync {
    alertmanager: Arc<BuiltinAlertmanager>,
    client: PeerClient,
    state: Mutex<State>,
    wake: Notify,
    pending_gauge: IntGauge,
    failures: IntCounter,
}

impl SilenceSync {
    /// A sync for `alertmanager`'s silences to `client`'s peers, with
    /// `promshard_cluster_silence_sync_pending` and
    /// `promshard_cluster_silence_sync_failures_total` on `registry`.
    pub fn new(
        alertmanager: Arc<BuiltinAlertmanager>,
        client: PeerClient,
        registry: &Registry,
    ) -> prometheus::Result<Arc<Self>> {
        let pending_gauge = IntGauge::new(
            "promshard_cluster_silence_sync_pending",
            "Silence changes not yet taken by a peer.",
        )?;
        let failures = IntCounter::new(
            "promshard_cluster_silence_sync_failures_total",
            "Silence deliveries to peers that failed (and are retried).",
        )?;
        registry.register(Box::new(pending_gauge.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        Ok(Arc::new(SilenceSync {
            alertmanager,
            client,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            pending_gauge,
            failures,
        }))
    }

    /// Silence `id` changed here, by a request carrying `authorization`:
    /// every current peer is to get it.
    pub fn changed(&self, id: &str, authorization: Option<&str>) {
        let mut state = self.state.lock();
        state.generation += 1;
        let generation = state.generation;
        match authorization {
            Some(value) => state
                .authorization
                .insert(id.to_string(), value.to_string()),
            None => state.authorization.remove(id),
        };
        for peer in self.client.peers() {
            state
                .pending
                .entry(peer.address)
                .or_default()
                .insert(id.to_string(), generation);
        }
        self.update_gauge(&state);
        drop(state);
        self.wake.notify_one();
    }

    /// A replica of silence `id` arrived with `authorization`: kept, so
    /// that this node can hand it on to peers that join later.
    pub fn received(&self, id: &str, authorization: Option<&str>) {
        if let Some(value) = authorization {
            self.state
                .lock()
                .authorization
                .insert(id.to_string(), value.to_string());
        }
    }

    fn update_gauge(&self, state: &State) {
        let pending: usize = state.pending.values().map(BTreeMap::len).sum();
        self.pending_gauge.set(pending as i64);
    }

    /// Follows the peer list: new peers get every silence; peers that left
    /// are forgotten (they get everything again when they return).
    fn follow_membership(&self) {
        let peers: BTreeSet<String> = self
            .client
            .peers()
            .into_iter()
            .map(|peer| peer.address)
            .collect();
        let mut state = self.state.lock();
        if peers == state.known {
            return;
        }
        let ids: Vec<String> = self
            .alertmanager
            .shared()
            .silences
            .list()
            .into_iter()
            .map(|silence| silence.id)
            .collect();
        state.generation += 1;
        let generation = state.generation;
        let new: Vec<String> = peers.difference(&state.known).cloned().collect();
        for peer in new {
            let entry = state.pending.entry(peer).or_default();
            for id in &ids {
                entry.entry(id.clone()).or_insert(generation);
            }
        }
        state.pending.retain(|peer, _| peers.contains(peer));
        state.known = peers;
        self.update_gauge(&state);
    }

    /// One pass over what is pending; true when everything was delivered.
    async fn deliver(&self) -> bool {
        let work: Vec<(String, Vec<(String, u64)>)> = {
            let state = self.state.lock();
            state
                .pending
                .iter()
                .filter(|(_, ids)| !ids.is_empty())
                .map(|(peer, ids)| {
                    (
                        peer.clone(),
                        ids.iter().map(|(id, g)| (id.clone(), *g)).collect(),
                    )
                })
                .collect()
        };
        let mut all_delivered = true;
        for (peer, ids) in work {
            for (id, generation) in ids {
                let silence = self.alertmanager.shared().silences.get(&id);
                let outcome = match &silence {
                    // Gone past retention here: nothing left to send.
                    None => Ok(()),
                    Some(silence) => {
                        let body = serde_json::to_value(silence).unwrap_or_default();
                        let authorization = self.state.lock().authorization.get(&id).cloned();
                        self.client
                            .post_silence(&peer, &body, authorization.as_deref())
                            .await
                    }
                };
                match outcome {
                    Ok(()) => {
                        let mut state = self.state.lock();
                        if let Some(ids) = state.pending.get_mut(&peer)
                            && ids.get(&id) == Some(&generation)
                        {
                            ids.remove(&id);
                        }
                        self.update_gauge(&state);
                    }
                    Err(error) => {
                        self.failures.inc();
                        all_delivered = false;
                        tracing::warn!(peer = %peer, silence = %id, err = %error, "silence not delivered to a peer; retrying");
                        // The next silences for this peer wait for the retry.
                        break;
                    }
                }
            }
        }
        all_delivered
    }
}

/// Delivers until cancelled: at once after a change, again with back-off
/// after a failure, and whenever the peer list changes.
#[async_trait::async_trait]
impl Stage for SilenceSync {
    fn name(&self) -> &'static str {
        "silence_sync"
    }

    async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut backoff = MIN_BACKOFF;
        loop {
            self.follow_membership();
            let wait = if self.deliver().await {
                backoff = MIN_BACKOFF;
                MEMBERSHIP_POLL
            } else {
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
