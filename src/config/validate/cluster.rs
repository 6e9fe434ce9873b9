//! Validation: The `cluster` section.

use super::*;

pub(super) fn validate_cluster(config: &mut Config) -> Checked {
    let cluster = &mut config.cluster;
    if cluster.node_id.is_empty() {
        cluster.node_id = local_hostname();
    }
    if cluster.replication_factor == 0 {
        return Err(problem(
            "cluster.replication_factor",
            "replication_factor must be at least 1",
        ));
    }
    if cluster.virtual_nodes == 0 {
        return Err(problem(
            "cluster.virtual_nodes",
            "virtual_nodes must be at least 1",
        ));
    }
    if !cluster.advertise_address.is_empty() && !is_host_port(&cluster.advertise_address) {
        return Err(problem(
            "cluster.advertise_address",
            format!(
                "advertise_address {:?} must be host:port",
                cluster.advertise_address
            ),
        ));
    }
    match cluster.mode {
        ClusterMode::None => {}
        ClusterMode::Static => {
            if cluster.peers.is_empty() {
                return Err(problem(
                    "cluster.peers",
                    "static cluster mode needs at least one peer",
                ));
            }
            for (position, peer) in cluster.peers.iter().enumerate() {
                if !is_host_port(peer) {
                    return Err(problem(
                        format!("cluster.peers.{position}"),
                        format!("peer {peer:?} must be host:port"),
                    ));
                }
            }
            let distinct_members = cluster.peers.iter().collect::<HashSet<_>>().len();
            if cluster.replication_factor as usize > distinct_members {
                return Err(problem(
                    "cluster.replication_factor",
                    format!(
                        "replication_factor {} is larger than the {distinct_members} configured peers",
                        cluster.replication_factor
                    ),
                ));
            }
        }
        ClusterMode::Etcd => {
            let etcd = &cluster.etcd;
            if etcd.endpoints.is_empty() {
                return Err(problem(
                    "cluster.etcd.endpoints",
                    "etcd cluster mode needs at least one endpoint",
                ));
            }
            for (position, endpoint) in etcd.endpoints.iter().enumerate() {
                let valid = url::Url::parse(endpoint).is_ok_and(|url| url.host_str().is_some())
                    || is_host_port(endpoint);
                if !valid {
                    return Err(problem(
                        format!("cluster.etcd.endpoints.{position}"),
                        format!("invalid etcd endpoint {endpoint:?}"),
                    ));
                }
            }
            if !etcd.prefix.starts_with('/') {
                return Err(problem(
                    "cluster.etcd.prefix",
                    format!("prefix {:?} must start with '/'", etcd.prefix),
                ));
            }
            if etcd.lease_ttl.as_millis() < 1_000 {
                return Err(problem(
                    "cluster.etcd.lease_ttl",
                    "lease_ttl must be at least 1s",
                ));
            }
            if etcd.dial_timeout.is_zero() {
                return Err(problem(
                    "cluster.etcd.dial_timeout",
                    "dial_timeout must be greater than 0",
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn is_host_port(address: &str) -> bool {
    match address.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}
