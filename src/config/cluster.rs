//! `cluster`: promshard's own section (membership and ring settings).
//! Absent or `mode: none` is the embedded single-node default.

use serde::{Deserialize, Serialize};

use super::duration::PromDuration;
use super::serde_helpers::null_as_default;

/// How members find each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterMode {
    /// One node; it owns everything.
    #[default]
    None,
    /// A fixed list of peers.
    Static,
    /// Members register in etcd under a lease.
    Etcd,
}

/// The `etcd` subsection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EtcdConfig {
    /// Client URLs, such as `http://127.0.0.1:2379`.
    #[serde(deserialize_with = "null_as_default")]
    pub endpoints: Vec<String>,
    /// Key prefix; members live under `<prefix>/members/`; default `/promshard`.
    pub prefix: String,
    /// Lease time-to-live; default 10s.
    pub lease_ttl: PromDuration,
    /// Connection timeout; default 5s.
    pub dial_timeout: PromDuration,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            endpoints: Vec::new(),
            prefix: "/promshard".to_string(),
            lease_ttl: PromDuration::from_secs(10),
            dial_timeout: PromDuration::from_secs(5),
        }
    }
}

/// The `cluster` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// `none` (default), `static` or `etcd`.
    pub mode: ClusterMode,
    /// This node's id; the host name when empty (filled in at load).
    pub node_id: String,
    /// The `host:port` peers use to reach this node.
    pub advertise_address: String,
    /// Static mode: every member's address, this node's included.
    #[serde(deserialize_with = "null_as_default")]
    pub peers: Vec<String>,
    /// Etcd mode settings.
    pub etcd: EtcdConfig,
    /// How many distinct members own each target; default 1.
    pub replication_factor: u32,
    /// Ring tokens per member; default 512 (the balance figure in benches/ring.rs needs it).
    pub virtual_nodes: u32,
    /// How long a global query waits for one peer's remote read before it
    /// answers without it, with a warning; default 10s.
    pub peer_timeout: PromDuration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            mode: ClusterMode::None,
            node_id: String::new(),
            advertise_address: String::new(),
            peers: Vec::new(),
            etcd: EtcdConfig::default(),
            replication_factor: 1,
            virtual_nodes: 512,
            peer_timeout: PromDuration::from_secs(10),
        }
    }
}

/// This machine's host name, for the default `node_id`.
pub(crate) fn local_hostname() -> String {
    if let Ok(name) = std::env::var("HOSTNAME")
        && !name.trim().is_empty()
    {
        return name.trim().to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
