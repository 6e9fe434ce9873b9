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
//!
//! Wiring: build a [`FanoutQueryable`] over the TSDB, wrap it in a
//! [`GlobalQueryView`], give the view (a [`Queryable`]) to the query API, call
//! [`GlobalQueryView::set_remote_read`] on every config load and run
//! [`GlobalQueryView::follow`] on the membership's view channel.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::membership::ClusterView;
use super::overlap::{DEFAULT_OVERLAP_TOLERANCE, OverlapDedupQuerier};
use super::ring::Member;
use crate::remote::client::Auth;
use crate::remote::read_client::{ReadClientSettings, RemoteReadClient, RemoteReadQueryable};
use crate::storage::fanout::{FanoutQueryable, Secondary};
use crate::storage::{Querier, Queryable, StorageError};

/// How long a peer may take to answer one remote read before the query
/// goes on without it (with a warning), unless configured.
pub const DEFAULT_PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// The URL a peer at `address` (`host:port`, or a URL with a scheme) is
/// remote-read at: its local shard only.
pub fn peer_read_url(address: &str) -> String {
    let base = if address.starts_with("http://") || address.starts_with("https://") {
        address.trim_end_matches('/').to_string()
    } else {
        format!("http://{address}")
    };
    format!("{base}/api/v1/read?local=true")
}

/// The name a peer has in warnings and logs.
pub fn peer_source_name(node_id: &str) -> String {
    format!("cluster peer {node_id}")
}

struct PeerSource {
    address: String,
    secondary: Secondary,
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
    runtime: tokio::runtime::Handle,
    sources: Mutex<Sources>,
}

impl GlobalQueryView {
    /// A view that feeds `fanout`; peer reads run on `runtime` and give up
    /// after `peer_timeout`.
    pub fn new(
        fanout: Arc<FanoutQueryable>,
        local_node_id: impl Into<String>,
        peer_timeout: Duration,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            fanout,
            local_node_id: local_node_id.into(),
            peer_timeout,
            runtime,
            sources: Mutex::new(Sources::default()),
        }
    }

    /// Replaces the `remote_read` sources (on config load), keeping the
    /// peers.
    pub fn set_remote_read(&self, remote_read: Vec<Secondary>) {
        let mut sources = self.sources.lock();
        sources.remote_read = remote_read;
        self.publish(&sources);
    }

    /// Makes the peers those of `view` (every member but this node). A
    /// peer whose address did not change keeps its client (and its
    /// connections).
    pub fn apply_view(&self, view: &ClusterView) {
        let mut sources = self.sources.lock();
        let mut previous = std::mem::take(&mut sources.peers);
        for Member { node_id, address } in &view.members {
            if *node_id == self.local_node_id {
                continue;
            }
            let kept = previous
                .remove(node_id)
                .filter(|source| source.address == *address);
            let source = match kept {
                Some(source) => source,
                None => match self.peer_source(node_id, address) {
                    Ok(source) => source,
                    Err(error) => {
                        tracing::warn!(node_id, address, %error, "cannot build a remote-read client for a peer; it is left out of the global view");
                        continue;
                    }
                },
            };
            sources.peers.insert(node_id.clone(), source);
        }
        tracing::debug!(peers = ?sources.peers.keys().collect::<Vec<_>>(), "global query view peers");
        self.publish(&sources);
    }

    /// The node ids and addresses currently asked by global queries.
    pub fn peers(&self) -> HashMap<String, String> {
        self.sources
            .lock()
            .peers
            .iter()
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

    fn peer_source(&self, node_id: &str, address: &str) -> Result<PeerSource, String> {
        let name = peer_source_name(node_id);
        let client = RemoteReadClient::new(ReadClientSettings {
            name: name.clone(),
            url: peer_read_url(address),
            timeout: self.peer_timeout,
            headers: BTreeMap::new(),
            auth: Auth::None,
            required_matchers: BTreeMap::new(),
        })?;
        Ok(PeerSource {
            address: address.to_string(),
            secondary: Secondary {
                queryable: Arc::new(RemoteReadQueryable::new(
                    Arc::new(client),
                    self.runtime.clone(),
                )),
                name,
                complete_from: None,
            },
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
        let querier = self.fanout.querier(mint, maxt)?;
        if self.sources.lock().peers.is_empty() {
            return Ok(querier);
        }
        Ok(Box::new(OverlapDedupQuerier::new(
            querier,
            DEFAULT_OVERLAP_TOLERANCE,
        )))
    }
}

#[cfg(test)]
mod tests;
