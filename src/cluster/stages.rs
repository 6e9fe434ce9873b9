//! The cluster layer's stages as the node runs them: membership (stopped
//! last among them, deregistering), target routing, and the global query
//! view following the member set.

use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::global::GlobalQueryView;
use super::membership::{ClusterView, Membership};
use super::routing::{DiscoveredTargets, TargetRouting, TargetSink};
use crate::lifecycle::Stage;

/// Membership as a stage: it runs from its start; at stop it deregisters
/// (revokes its lease) so that peers take over at once.
pub struct MembershipStage {
    membership: Mutex<Option<Membership>>,
    views: watch::Receiver<Arc<ClusterView>>,
}

impl MembershipStage {
    /// Wraps a started membership.
    pub fn new(membership: Membership) -> Self {
        Self {
            views: membership.subscribe(),
            membership: Mutex::new(Some(membership)),
        }
    }

    /// A receiver of every new view.
    pub fn subscribe(&self) -> watch::Receiver<Arc<ClusterView>> {
        self.views.clone()
    }
}

#[async_trait]
impl Stage for MembershipStage {
    fn name(&self) -> &'static str {
        "membership"
    }

    async fn run(self: Arc<Self>, cancel: CancellationToken) {
        cancel.cancelled().await;
    }

    async fn stop(&self) {
        let membership = self.membership.lock().take();
        if let Some(membership) = membership {
            membership.shutdown().await;
        }
    }
}

/// Target routing with its inputs: views, discovery, and scrape.
pub struct RoutingStage {
    routing: Arc<TargetRouting>,
    views: watch::Receiver<Arc<ClusterView>>,
    discovery: watch::Receiver<DiscoveredTargets>,
    sink: Arc<dyn TargetSink>,
}

impl RoutingStage {
    /// Routes `discovery`'s targets to `sink` by the ring of `views`.
    pub fn new(
        routing: Arc<TargetRouting>,
        views: watch::Receiver<Arc<ClusterView>>,
        discovery: watch::Receiver<DiscoveredTargets>,
        sink: Arc<dyn TargetSink>,
    ) -> Self {
        Self {
            routing,
            views,
            discovery,
            sink,
        }
    }
}

#[async_trait]
impl Stage for RoutingStage {
    fn name(&self) -> &'static str {
        "routing"
    }

    async fn run(self: Arc<Self>, cancel: CancellationToken) {
        self.routing
            .clone()
            .run(
                self.views.clone(),
                self.discovery.clone(),
                self.sink.clone(),
                cancel,
            )
            .await;
    }
}

/// The global query view following the member set (its peers).
pub struct GlobalViewStage {
    global: Arc<GlobalQueryView>,
    views: watch::Receiver<Arc<ClusterView>>,
}

impl GlobalViewStage {
    /// Keeps `global`'s peers those of `views`.
    pub fn new(global: Arc<GlobalQueryView>, views: watch::Receiver<Arc<ClusterView>>) -> Self {
        Self { global, views }
    }
}

#[async_trait]
impl Stage for GlobalViewStage {
    fn name(&self) -> &'static str {
        "global_view"
    }

    async fn run(self: Arc<Self>, cancel: CancellationToken) {
        self.global.clone().follow(self.views.clone(), cancel).await;
    }
}
