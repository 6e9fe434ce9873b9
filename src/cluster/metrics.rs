//! The cluster layer's self-metrics.

use prometheus::{IntCounter, IntGauge, Registry};

/// Gauges and counters of membership and ownership. Cheap to clone (the
/// handles are shared).
#[derive(Clone, Debug)]
pub struct ClusterMetrics {
    /// `promshard_cluster_members`: live members in this node's view.
    pub members: IntGauge,
    /// `promshard_cluster_owned_targets`: targets this node owns.
    pub owned_targets: IntGauge,
    /// `promshard_cluster_handovers_total`: targets whose ownership moved to
    /// or from this node.
    pub handovers_total: IntCounter,
    /// `promshard_cluster_etcd_errors_total`: failed etcd calls and broken
    /// watches.
    pub etcd_errors_total: IntCounter,
}

impl ClusterMetrics {
    /// Creates the metrics and registers them into `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self::unregistered()?;
        registry.register(Box::new(metrics.members.clone()))?;
        registry.register(Box::new(metrics.owned_targets.clone()))?;
        registry.register(Box::new(metrics.handovers_total.clone()))?;
        registry.register(Box::new(metrics.etcd_errors_total.clone()))?;
        Ok(metrics)
    }

    /// Metrics registered nowhere (for tests and tools).
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        Ok(Self {
            members: IntGauge::new(
                "promshard_cluster_members",
                "Live cluster members in this node's view.",
            )?,
            owned_targets: IntGauge::new(
                "promshard_cluster_owned_targets",
                "Scrape targets this node owns.",
            )?,
            handovers_total: IntCounter::new(
                "promshard_cluster_handovers_total",
                "Targets whose ownership moved to or from this node.",
            )?,
            etcd_errors_total: IntCounter::new(
                "promshard_cluster_etcd_errors_total",
                "Failed etcd calls and broken etcd watches.",
            )?,
        })
    }
}
