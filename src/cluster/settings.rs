//! What the cluster layer needs from the `cluster:` config section. The
//! config module parses and validates the YAML;
//! [`ClusterSettings::from_config`] maps it to this, and
//! [`ClusterOverrides`] lays the `--cluster.*` flags over it.

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
    /// This node's id, unique in the cluster (default: the advertised
    /// address, which is unique per host and port).
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
    /// How long a global query waits for one peer's remote read before it
    /// answers without that peer (with a warning).
    pub peer_timeout: Duration,
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
            peer_timeout: super::global::DEFAULT_PEER_TIMEOUT,
        }
    }
}

impl ClusterSettings {
    /// The settings of the config's `cluster` section for a node whose web
    /// server listens on `listen_address`. The advertised address defaults
    /// to the listen address, with an unspecified host (`0.0.0.0`, `[::]`
    /// or none) replaced by this machine's host name, so that peers on
    /// other hosts can reach it and two hosts never share one id; the node
    /// id defaults to the advertised address.
    pub fn from_config(section: &crate::config::ClusterConfig, listen_address: &str) -> Self {
        let advertise_address = if section.advertise_address.is_empty() {
            default_advertise_address(listen_address, &host_name())
        } else {
            section.advertise_address.clone()
        };
        let node_id = if section.node_id.is_empty() {
            advertise_address.clone()
        } else {
            section.node_id.clone()
        };
        Self {
            mode: match section.mode {
                crate::config::ClusterMode::None => ClusterMode::None,
                crate::config::ClusterMode::Static => ClusterMode::Static,
                crate::config::ClusterMode::Etcd => ClusterMode::Etcd,
            },
            node_id,
            advertise_address,
            peers: section
                .peers
                .iter()
                .map(|address| Member::new(address.clone(), address.clone()))
                .collect(),
            etcd: EtcdSettings {
                endpoints: section.etcd.endpoints.clone(),
                prefix: section.etcd.prefix.clone(),
                lease_ttl: section.etcd.lease_ttl.as_duration(),
                dial_timeout: section.etcd.dial_timeout.as_duration(),
            },
            replication_factor: section.replication_factor.max(1) as usize,
            virtual_nodes: section.virtual_nodes.max(1) as usize,
            peer_timeout: section.peer_timeout.as_duration(),
        }
    }

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

/// `listen_address` with an unspecified host replaced by `host_name`.
fn default_advertise_address(listen_address: &str, host_name: &str) -> String {
    let (host, port) = match listen_address.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => ("", listen_address),
    };
    match host {
        "" | "0.0.0.0" | "[::]" | "::" => format!("{host_name}:{port}"),
        _ => listen_address.to_string(),
    }
}

/// This machine's host name (`localhost` when it cannot be read).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Command-line flags that override the `cluster` config section (each
/// `None` leaves the config's value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterOverrides {
    /// `--cluster.mode`.
    pub mode: Option<ClusterMode>,
    /// `--cluster.node-id`.
    pub node_id: Option<String>,
    /// `--cluster.advertise-address`.
    pub advertise_address: Option<String>,
    /// `--cluster.peer` (repeatable): static peers' addresses.
    pub peers: Option<Vec<String>>,
    /// `--cluster.etcd.endpoints` (comma-separated).
    pub etcd_endpoints: Option<Vec<String>>,
    /// `--cluster.etcd.prefix`.
    pub etcd_prefix: Option<String>,
    /// `--cluster.etcd.lease-ttl`.
    pub etcd_lease_ttl: Option<Duration>,
    /// `--cluster.peer-timeout`.
    pub peer_timeout: Option<Duration>,
}

impl ClusterOverrides {
    /// Applies the flags given over `settings`. Endpoints given without a
    /// mode switch a node that the config leaves in mode none to etcd
    /// mode; peers given so switch it to static mode. A node id given
    /// without an advertise address keeps the address; an advertise
    /// address given without a node id also becomes the id when the config
    /// named none (`id_from_config` false).
    pub fn apply(&self, settings: &mut ClusterSettings, id_from_config: bool) {
        if let Some(address) = &self.advertise_address {
            if !id_from_config && self.node_id.is_none() {
                settings.node_id = address.clone();
            }
            settings.advertise_address = address.clone();
        }
        if let Some(node_id) = &self.node_id {
            settings.node_id = node_id.clone();
        }
        if let Some(peers) = &self.peers {
            settings.peers = peers
                .iter()
                .map(|address| Member::new(address.clone(), address.clone()))
                .collect();
            if settings.mode == ClusterMode::None {
                settings.mode = ClusterMode::Static;
            }
        }
        if let Some(endpoints) = &self.etcd_endpoints {
            settings.etcd.endpoints = endpoints.clone();
            if settings.mode == ClusterMode::None {
                settings.mode = ClusterMode::Etcd;
            }
        }
        if let Some(prefix) = &self.etcd_prefix {
            settings.etcd.prefix = prefix.clone();
        }
        if let Some(ttl) = self.etcd_lease_ttl {
            settings.etcd.lease_ttl = ttl;
        }
        if let Some(timeout) = self.peer_timeout {
            settings.peer_timeout = timeout;
        }
        if let Some(mode) = self.mode {
            settings.mode = mode;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advertised_address_names_the_host_when_listening_everywhere() {
        let cases = [
            ("0.0.0.0:9090", "node-1:9090"),
            (":9091", "node-1:9091"),
            ("[::]:9092", "node-1:9092"),
            ("127.0.0.1:9093", "127.0.0.1:9093"),
            ("10.0.0.5:9090", "10.0.0.5:9090"),
        ];
        for (listen, expected) in cases {
            assert_eq!(
                default_advertise_address(listen, "node-1"),
                expected,
                "{listen}"
            );
        }
    }

    #[test]
    fn the_node_id_defaults_to_the_advertised_address() {
        let section = crate::config::ClusterConfig::default();
        let settings = ClusterSettings::from_config(&section, "127.0.0.1:9191");
        assert_eq!(settings.advertise_address, "127.0.0.1:9191");
        assert_eq!(settings.node_id, "127.0.0.1:9191");
        let other_port = ClusterSettings::from_config(&section, "127.0.0.1:9192");
        assert_ne!(
            settings.node_id, other_port.node_id,
            "two nodes on one host differ"
        );
    }

    fn overridden(overrides: ClusterOverrides, id_from_config: bool) -> ClusterSettings {
        let mut settings = ClusterSettings {
            node_id: "from-config".to_string(),
            advertise_address: "10.0.0.1:9090".to_string(),
            ..ClusterSettings::default()
        };
        overrides.apply(&mut settings, id_from_config);
        settings
    }

    #[test]
    fn no_flags_leave_the_config_alone() {
        let settings = overridden(ClusterOverrides::default(), true);
        assert_eq!(settings.mode, ClusterMode::None);
        assert_eq!(settings.node_id, "from-config");
        assert_eq!(settings.advertise_address, "10.0.0.1:9090");
    }

    #[test]
    fn etcd_endpoints_switch_mode_none_to_etcd_but_an_explicit_mode_wins() {
        let endpoints = Some(vec!["http://127.0.0.1:2379".to_string()]);
        let settings = overridden(
            ClusterOverrides {
                etcd_endpoints: endpoints.clone(),
                ..ClusterOverrides::default()
            },
            true,
        );
        assert_eq!(settings.mode, ClusterMode::Etcd);
        assert_eq!(settings.etcd.endpoints, endpoints.clone().unwrap());
        let settings = overridden(
            ClusterOverrides {
                etcd_endpoints: endpoints,
                mode: Some(ClusterMode::None),
                ..ClusterOverrides::default()
            },
            true,
        );
        assert_eq!(settings.mode, ClusterMode::None);
    }

    #[test]
    fn peers_switch_mode_none_to_static() {
        let settings = overridden(
            ClusterOverrides {
                peers: Some(vec!["a:1".to_string(), "b:2".to_string()]),
                ..ClusterOverrides::default()
            },
            true,
        );
        assert_eq!(settings.mode, ClusterMode::Static);
        assert_eq!(settings.peers.len(), 2);
        assert_eq!(settings.peers[1].address, "b:2");
    }

    #[test]
    fn advertise_address_becomes_the_id_only_when_nobody_named_one() {
        let flag = ClusterOverrides {
            advertise_address: Some("10.0.0.9:9090".to_string()),
            ..ClusterOverrides::default()
        };
        assert_eq!(overridden(flag.clone(), false).node_id, "10.0.0.9:9090");
        assert_eq!(overridden(flag.clone(), true).node_id, "from-config");
        let with_id = ClusterOverrides {
            node_id: Some("n9".to_string()),
            ..flag
        };
        let settings = overridden(with_id, false);
        assert_eq!(settings.node_id, "n9");
        assert_eq!(settings.advertise_address, "10.0.0.9:9090");
    }

    #[test]
    fn durations_and_prefix_override() {
        let settings = overridden(
            ClusterOverrides {
                etcd_prefix: Some("/other".to_string()),
                etcd_lease_ttl: Some(Duration::from_secs(3)),
                peer_timeout: Some(Duration::from_millis(1500)),
                ..ClusterOverrides::default()
            },
            true,
        );
        assert_eq!(settings.etcd.prefix, "/other");
        assert_eq!(settings.etcd.lease_ttl, Duration::from_secs(3));
        assert_eq!(settings.peer_timeout, Duration::from_millis(1500));
    }
}
