//! The global query view: this node's query [`Queryable`] is the local TSDB
//! merged with every live peer of the membership view, each read over
//! Prometheus remote read (`POST /api/v1/read?local=true`), plus the
//! `remote_read` endpoints of the config.
//!
//! - Peers are asked for their *local* shard only (`?local=true`), so a
//!   query never recurses through the cluster.
//! - Series that several nodes hold (a hand-over overlap, R > 1) are merged
//!   by the fan-out ([`crate::storage::merge`]), and the two nodes' copies
//!   of one scrape (a few milliseconds apart) are deduplicated
//!   ([`super::overlap`]) while the view has peers.
//! - A peer that is down or slower than `peer_timeout` makes the answer
//!   partial, with a warning; never an error.
//! - A peer that left the view is still asked, best effort, for
//!   [`DEFAULT_DEPARTED_PEER_RETENTION`]: its shard holds the history of the
//!   targets it scraped, and a member is often out of the view only for
//!   seconds (a lease that expired while etcd stalled, a restart). Its
//!   failures are silent (it is gone, as far as the cluster knows) and it
//!   gets at most [`DEPARTED_PEER_TIMEOUT`], so a vanished host cannot stall
//!   queries.
//!
//! - Label names and values come from each peer's label endpoints (through
//!   the [`PeerClient`]), not from its samples.
//!
//! Wiring: build a [`FanoutQueryable`] over the TSDB, wrap it in a
//! [`GlobalQueryView`], give the view (a [`Queryable`]) to the query API, call
//! [`GlobalQueryView::set_remote_read`] on every config load and run
//! [`GlobalQueryView::follow`] on the membership's view channel;
//! [`GlobalQueryView::peer_client`] is the client the rest of the node asks
//! peers with.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::membership::ClusterView;
use super::overlap::{DEFAULT_OVERLAP_TOLERANCE, OverlapDedupQuerier};
use super::peers::{Peer, PeerClient};
use super::ring::Member;
use crate::model::Matcher;
use crate::remote::read_client::{RemoteReadQueryable, wait_on};
use crate::storage::fanout::{FanoutQueryable, Secondary};
use crate::storage::{Querier, Queryable, SelectHints, Series, SeriesSet, StorageError};

/// How long a peer may take to answer one remote read before the query
/// goes on without it (with a warning), unless configured.
pub const DEFAULT_PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a peer that left the view is still asked.
pub const DEFAULT_DEPARTED_PEER_RETENTION: Duration = Duration::from_secs(60);

/// The most a peer that left the view may take to answer.
pub const DEPARTED_PEER_TIMEOUT: Duration = Duration::from_secs(1);

/// The URL a peer at `address` (`host:port`, or a URL with a scheme) is
/// remote-read at: its local shard only.
pub fn peer_read_url(address: &str) -> String {
    format!("{}/api/v1/read?local=true", super::peers::base_url(address))
}

/// The name a peer has in warnings and logs.
pub fn peer_source_name(node_id: &str) -> String {
    format!("cluster peer {node_id}")
}

struct PeerSource {
    address: String,
    secondary: Secondary,
    /// When it left the view; `None` while it is a member.
    departed_at: Option<Instant>,
}

#[derive(Default)]
struct Sources {
    remote_read: Vec<Secondary>,
    /// By node id.
    peers: BTreeMap<String, PeerSource>,
}

/// Keeps the fan-out's secondaries equal to the `remote_read` endpoints
/// plus the live peers (every member but this node).
pub struct GlobalQueryView {
    fanout: Arc<FanoutQueryable>,
    local_node_id: String,
    peer_timeout: Duration,
    departed_retention: Duration,
    runtime: tokio::runtime::Handle,
    sources: Mutex<Sources>,
    client: PeerClient,
}

impl GlobalQueryView {
    /// A view that feeds `fanout`; peer reads run on `runtime` and give up
    /// after `peer_timeout`. Fails when the peer client cannot be built
    /// (the system's trust store cannot be loaded).
    pub fn new(
        fanout: Arc<FanoutQueryable>,
        local_node_id: impl Into<String>,
        peer_timeout: Duration,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, String> {
        let client = PeerClient::new(Arc::new(Vec::new), peer_timeout)?;
        Ok(Self {
            fanout,
            local_node_id: local_node_id.into(),
            peer_timeout,
            departed_retention: DEFAULT_DEPARTED_PEER_RETENTION,
            runtime,
            sources: Mutex::new(Sources::default()),
            client,
        })
    }

    /// The client for node-to-node calls, its peers this view's live
    /// members (sharing the view's connections).
    pub fn peer_client(self: &Arc<Self>) -> PeerClient {
        let view: Weak<Self> = Arc::downgrade(self);
        self.client.with_peers(Arc::new(move || {
            view.upgrade()
                .map(|view| view.peer_list())
                .unwrap_or_default()
        }))
    }

    /// The live members asked by global queries, by node id.
    pub fn peer_list(&self) -> Vec<Peer> {
        let mut peers: Vec<Peer> = self
            .peers()
            .into_iter()
            .map(|(node_id, address)| Peer { node_id, address })
            .collect();
        peers.sort();
        peers
    }

    /// How long a peer that left the view is still asked (default
    /// [`DEFAULT_DEPARTED_PEER_RETENTION`]; zero: never).
    pub fn with_departed_retention(mut self, retention: Duration) -> Self {
        self.departed_retention = retention;
        self
    }

    /// Replaces the `remote_read` sources (on config load), keeping the
    /// peers.
    pub fn set_remote_read(&self, remote_read: Vec<Secondary>) {
        let mut sources = self.sources.lock();
        sources.remote_read = remote_read;
        self.publish(&sources);
    }

    /// Makes the peers those of `view` (every member but this node), plus
    /// the peers that left it less than the retention ago (asked best
    /// effort). A peer whose address did not change keeps its client (and
    /// its connections).
    pub fn apply_view(&self, view: &ClusterView) {
        let now = Instant::now();
        let mut sources = self.sources.lock();
        let mut previous = std::mem::take(&mut sources.peers);
        for Member { node_id, address } in &view.members {
            if *node_id == self.local_node_id {
                continue;
            }
            let kept = previous
                .remove(node_id)
                .filter(|source| source.address == *address && source.departed_at.is_none());
            let source = match kept {
                Some(source) => source,
                None => match self.peer_source(node_id, address, None) {
                    Ok(source) => source,
                    Err(error) => {
                        tracing::warn!(node_id, address, %error, "cannot build a remote-read client for a peer; it is left out of the global view");
                        continue;
                    }
                },
            };
            sources.peers.insert(node_id.clone(), source);
        }
        for (node_id, source) in previous {
            if node_id == self.local_node_id {
                continue;
            }
            let departed = match source.departed_at {
                Some(_) => Ok(source),
                None => self.peer_source(&node_id, &source.address, Some(now)),
            };
            if let Ok(departed) = departed
                && departed
                    .departed_at
                    .is_some_and(|at| now.duration_since(at) < self.departed_retention)
            {
                sources.peers.insert(node_id, departed);
            }
        }
        tracing::debug!(peers = ?sources.peers.keys().collect::<Vec<_>>(), "global query view peers");
        self.publish(&sources);
    }

    /// The node ids and addresses of the members asked by global queries
    /// (departed peers still asked are not listed).
    pub fn peers(&self) -> HashMap<String, String> {
        self.sources
            .lock()
            .peers
            .iter()
            .filter(|(_, source)| source.departed_at.is_none())
            .map(|(id, source)| (id.clone(), source.address.clone()))
            .collect()
    }

    /// Applies every view the membership publishes until cancelled.
    pub async fn follow(
        self: Arc<Self>,
        mut views: watch::Receiver<Arc<ClusterView>>,
        cancel: CancellationToken,
    ) {
        loop {
            let view = views.borrow_and_update().clone();
            self.apply_view(&view);
            tokio::select! {
                _ = cancel.cancelled() => return,
                changed = views.changed() => if changed.is_err() { return },
            }
        }
    }

    /// A peer's source; a departed one answers best effort, quickly.
    fn peer_source(
        &self,
        node_id: &str,
        address: &str,
        departed_at: Option<Instant>,
    ) -> Result<PeerSource, String> {
        let name = peer_source_name(node_id);
        let timeout = match departed_at {
            Some(_) => self.peer_timeout.min(DEPARTED_PEER_TIMEOUT),
            None => self.peer_timeout,
        };
        let samples = RemoteReadQueryable::new(
            Arc::new(self.client.read_client(&name, address, timeout)?),
            self.runtime.clone(),
        );
        let remote: Arc<dyn Queryable> = Arc::new(PeerQueryable {
            samples,
            client: self.client.clone(),
            address: address.to_string(),
            timeout,
            runtime: self.runtime.clone(),
        });
        let queryable: Arc<dyn Queryable> = match departed_at {
            Some(_) => Arc::new(BestEffort(remote)),
            None => remote,
        };
        Ok(PeerSource {
            address: address.to_string(),
            secondary: Secondary {
                queryable,
                name,
                complete_from: None,
            },
            departed_at,
        })
    }

    fn publish(&self, sources: &Sources) {
        let all = sources
            .remote_read
            .iter()
            .cloned()
            .chain(sources.peers.values().map(|peer| peer.secondary.clone()))
            .collect();
        self.fanout.set_secondaries(all);
    }
}

/// The global view: the fan-out, with the hand-over overlap deduplicated
/// while there are peers.
impl Queryable for GlobalQueryView {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError> {
        let has_peers = {
            let mut sources = self.sources.lock();
            let now = Instant::now();
            let before = sources.peers.len();
            sources.peers.retain(|_, source| {
                source
                    .departed_at
                    .is_none_or(|at| now.duration_since(at) < self.departed_retention)
            });
            if sources.peers.len() != before {
                self.publish(&sources);
            }
            !sources.peers.is_empty()
        };
        let querier = self.fanout.querier(mint, maxt)?;
        if !has_peers {
            return Ok(querier);
        }
        Ok(Box::new(OverlapDedupQuerier::new(
            querier,
            DEFAULT_OVERLAP_TOLERANCE,
        )))
    }
}

/// A peer's shard: samples over remote read, label names and values from
/// its label endpoints.
struct PeerQueryable {
    samples: RemoteReadQueryable,
    client: PeerClient,
    address: String,
    timeout: Duration,
    runtime: tokio::runtime::Handle,
}

impl Queryable for PeerQueryable {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError> {
        Ok(Box::new(PeerQuerier {
            samples: self.samples.querier(mint, maxt)?,
            client: self.client.clone(),
            address: self.address.clone(),
            timeout: self.timeout,
            runtime: self.runtime.clone(),
            mint,
            maxt,
        }))
    }
}

struct PeerQuerier {
    samples: Box<dyn Querier>,
    client: PeerClient,
    address: String,
    timeout: Duration,
    runtime: tokio::runtime::Handle,
    mint: i64,
    maxt: i64,
}

impl PeerQuerier {
    /// Label names (`name` = `None`) or one label's values, from the
    /// peer's label endpoints.
    fn labels(
        &self,
        name: Option<&str>,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        let (client, address) = (self.client.clone(), self.address.clone());
        let (name, matchers) = (name.map(str::to_string), matchers.to_vec());
        let (mint, maxt, timeout) = (self.mint, self.maxt, self.timeout);
        let future = async move {
            client
                .labels(&address, name.as_deref(), mint, maxt, &matchers, timeout)
                .await
        };
        match wait_on(&self.runtime, future) {
            Some(Ok(answer)) => Ok(answer),
            Some(Err(error)) => Err(StorageError::Remote(format!("{}: {error}", self.address))),
            None => Err(StorageError::Closed),
        }
    }
}

impl Querier for PeerQuerier {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet> {
        self.samples.select(sorted, hints, matchers)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        self.labels(Some(name), matchers)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        self.labels(None, matchers)
    }
}

/// A source whose failures are silent: an empty answer, no warning.
struct BestEffort(Arc<dyn Queryable>);

impl Queryable for BestEffort {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError> {
        Ok(Box::new(BestEffortQuerier(self.0.querier(mint, maxt)?)))
    }
}

struct BestEffortQuerier(Box<dyn Querier>);

impl Querier for BestEffortQuerier {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[crate::model::Matcher],
    ) -> Box<dyn SeriesSet> {
        Box::new(BestEffortSet(self.0.select(sorted, hints, matchers)))
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[crate::model::Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(self.0.label_values(name, matchers).unwrap_or_default())
    }

    fn label_names(&self, matchers: &[crate::model::Matcher]) -> Result<Vec<String>, StorageError> {
        Ok(self.0.label_names(matchers).unwrap_or_default())
    }
}

struct BestEffortSet(Box<dyn SeriesSet>);

impl SeriesSet for BestEffortSet {
    fn next(&mut self) -> Option<Box<dyn Series>> {
        self.0.next()
    }

    fn warnings(&self) -> Vec<String> {
        if self.0.err().is_some() {
            return Vec::new();
        }
        self.0.warnings()
    }
}

#[cfg(test)]
mod tests;
