//! What the cluster layer needs from the `cluster:` config section. The
//! config module parses and validates the YAML; `main.rs` maps it to this.

use std::time::Duration;

use super::ring::{DEFAULT_VIRTUAL_NODES, Member};

/// How a node learns who its peers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClusterMode {
    /// One node, owning every target and rule group (the embedded default).
    #[default]
    None,
    /// A fixed peer list (`cluster.peers`); every node must list the same.
    Static,
    /// Live membership registered in etcd under a lease.
    Etcd,
}

/// The `cluster.etcd` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdSettings {
    /// Client URLs, `http://host:port`.
    pub endpoints: Vec<String>,
    /// Key prefix; members live under `<prefix>/members/<node_id>`.
    pub prefix: String,
    /// Lease TTL: how long after its last keep-alive a silent node is
    /// dropped from the member set.
    pub lease_ttl: Duration,
    /// How long to wait for a connection to an endpoint.
    pub dial_timeout: Duration,
}

impl Default for EtcdSettings {
    fn default() -> Self {
        Self {
            endpoints: vec!["http://127.0.0.1:2379".to_string()],
            prefix: "/promshard".to_string(),
            lease_ttl: Duration::from_secs(10),
            dial_timeout: Duration::from_secs(5),
        }
    }
}

/// The `cluster` section as the cluster layer uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// Membership mode.
    pub mode: ClusterMode,
    /// This node's id, unique in the cluster (default: the hostname, chosen
    /// by `main.rs`).
    pub node_id: String,
    /// The address peers reach this node at (`host:port` of its web server).
    pub advertise_address: String,
    /// The peers in static mode. The local node may be listed or not: it is
    /// added if missing. A peer given only as an address may use it as id.
    pub peers: Vec<Member>,
    /// etcd settings (etcd mode).
    pub etcd: EtcdSettings,
    /// How many distinct nodes own (scrape) each target; 1 means no
    /// duplicates.
    pub replication_factor: usize,
    /// Tokens per node on the ring.
    pub virtual_nodes: usize,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            mode: ClusterMode::None,
            node_id: "promshard".to_string(),
            advertise_address: "127.0.0.1:9090".to_string(),
            peers: Vec::new(),
            etcd: EtcdSettings::default(),
            replication_factor: 1,
            virtual_nodes: DEFAULT_VIRTUAL_NODES,
        }
    }
}

impl ClusterSettings {
    /// This node as a ring member.
    pub fn local_member(&self) -> Member {
        Member::new(self.node_id.clone(), self.advertise_address.clone())
    }

    /// The member set known from configuration alone: this node in mode
    /// none, the peers plus this node in static mode, and (before etcd
    /// answers) the same in etcd mode.
    pub fn configured_members(&self) -> Vec<Member> {
        match self.mode {
            ClusterMode::None => vec![self.local_member()],
            ClusterMode::Static | ClusterMode::Etcd => {
                let mut members = self.peers.clone();
                if !members.iter().any(|m| m.node_id == self.node_id) {
                    members.push(self.local_member());
                }
                members.sort();
                members.dedup_by(|a, b| a.node_id == b.node_id);
                members
            }
        }
    }
}
