//! `dns_sd_configs`: targets from DNS records, as Prometheus 3.5 finds
//! them. Every `refresh_interval` each name is looked up (all at once) with
//! Prometheus's own resolver ([`resolver`]); each name is one target group
//! (its source is the name), one target per answer record:
//!
//! - SRV: `__address__` is the target host (final dot removed) and the
//!   record's port, with `__meta_dns_srv_record_target` (as written, with
//!   the dot) and `__meta_dns_srv_record_port`;
//! - A / AAAA: the address and the configured port;
//! - MX / NS: the host (final dot removed) and the configured port, with
//!   `__meta_dns_mx_record_target` / `__meta_dns_ns_record_target`;
//! - every target has `__meta_dns_name`; CNAMEs are skipped, other types
//!   logged and skipped.
//!
//! A name whose lookup fails keeps its last good group (counted in
//! `prometheus_sd_dns_lookup_failures_total`); a name that does not exist
//! (NXDOMAIN for every search permutation) has an empty group.

pub mod message;
pub mod resolver;

use std::collections::BTreeMap;

use prometheus::IntCounter;
use tokio_util::sync::CancellationToken;

use self::message::{Record, RecordType};
use super::{DiscoveryError, TargetGroup};
use crate::config::DnsSdConfig;
use crate::model::Labels;

/// The `__meta_dns_*` label names.
pub const META_NAME: &str = "__meta_dns_name";
/// See [`META_NAME`].
pub const META_SRV_TARGET: &str = "__meta_dns_srv_record_target";
/// See [`META_NAME`].
pub const META_SRV_PORT: &str = "__meta_dns_srv_record_port";
/// See [`META_NAME`].
pub const META_MX_TARGET: &str = "__meta_dns_mx_record_target";
/// See [`META_NAME`].
pub const META_NS_TARGET: &str = "__meta_dns_ns_record_target";

/// Counters of lookups and failed lookups.
#[derive(Debug, Clone)]
pub struct DnsMetrics {
    /// Every lookup.
    pub lookups: IntCounter,
    /// Failed lookups.
    pub failures: IntCounter,
}

/// One `dns_sd_configs` entry's provider.
pub struct DnsDiscovery {
    config: DnsSdConfig,
    record_type: RecordType,
    last_good: BTreeMap<String, TargetGroup>,
    metrics: Option<DnsMetrics>,
}

/// `host:port`, bracketing an IPv6 host (Go's `net.JoinHostPort`).
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The target of one record for a lookup of `name`; `None` for records
/// that are not targets.
pub fn target(name: &str, record: &Record, port: u16) -> Option<Labels> {
    let mut pairs: Vec<(&str, String)> = vec![(META_NAME, name.to_string())];
    let address = match record {
        Record::Srv { target, port } => {
            pairs.push((META_SRV_TARGET, target.clone()));
            pairs.push((META_SRV_PORT, port.to_string()));
            host_port(target.trim_end_matches('.'), *port)
        }
        Record::Mx(host) => {
            pairs.push((META_MX_TARGET, host.clone()));
            host_port(host.trim_end_matches('.'), port)
        }
        Record::Ns(host) => {
            pairs.push((META_NS_TARGET, host.clone()));
            host_port(host.trim_end_matches('.'), port)
        }
        Record::A(ip) => host_port(&ip.to_string(), port),
        Record::Aaaa(ip) => host_port(&ip.to_string(), port),
        Record::Cname => return None,
        Record::Other(code) => {
            tracing::warn!(name, record_type = code, "Invalid record");
            return None;
        }
    };
    pairs.push(("__address__", address));
    Some(Labels::from_pairs(&pairs))
}

impl DnsDiscovery {
    /// A provider for a validated `config`.
    pub fn new(config: DnsSdConfig, metrics: Option<DnsMetrics>) -> Result<Self, DiscoveryError> {
        let record_type = RecordType::parse(&config.record_type).ok_or_else(|| {
            DiscoveryError::Config(format!(
                "invalid DNS-SD records type {}",
                config.record_type
            ))
        })?;
        Ok(DnsDiscovery {
            config,
            record_type,
            last_good: BTreeMap::new(),
            metrics,
        })
    }

    /// Looks every name up; a failed name keeps its last good group.
    pub async fn refresh(&mut self) -> Vec<TargetGroup> {
        let record_type = self.record_type;
        let lookups =
            self.config.names.iter().map(|name| async move {
                (name.clone(), resolver::lookup(name, record_type).await)
            });
        for (name, outcome) in futures::future::join_all(lookups).await {
            if let Some(metrics) = &self.metrics {
                metrics.lookups.inc();
            }
            match outcome {
                Ok(records) => {
                    let targets = records
                        .iter()
                        .filter_map(|record| target(&name, record, self.config.port))
                        .collect();
                    self.last_good.insert(
                        name.clone(),
                        TargetGroup {
                            source: name,
                            targets,
                            labels: Labels::empty(),
                        },
                    );
                }
                Err(error) => {
                    if let Some(metrics) = &self.metrics {
                        metrics.failures.inc();
                    }
                    tracing::error!(name = %name, err = %error, "Error refreshing DNS targets");
                }
            }
        }
        self.config
            .names
            .iter()
            .filter_map(|name| self.last_good.get(name).cloned())
            .collect()
    }

    /// Refreshes now and every `refresh_interval`, calling `publish` when
    /// the groups differ from the last published.
    pub async fn run(self, publish: impl Fn(Vec<TargetGroup>) + Send, cancel: CancellationToken) {
        let interval = self.config.refresh_interval.as_duration();
        crate::discovery::refresh::run(self, interval, publish, cancel).await;
    }
}

#[async_trait::async_trait]
impl crate::discovery::refresh::Refresh for DnsDiscovery {
    async fn refresh(&mut self) -> Vec<TargetGroup> {
        DnsDiscovery::refresh(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_prometheus_targets() {
        let srv = Record::Srv {
            target: "web-1.example.com.".into(),
            port: 9100,
        };
        assert_eq!(
            target("_node._tcp.example.com", &srv, 0),
            Some(Labels::from_pairs(&[
                ("__address__", "web-1.example.com:9100"),
                (META_NAME, "_node._tcp.example.com"),
                (META_SRV_PORT, "9100"),
                (META_SRV_TARGET, "web-1.example.com."),
            ]))
        );
        assert_eq!(
            target("h", &Record::Aaaa("2001:db8::1".parse().unwrap()), 8080),
            Some(Labels::from_pairs(&[
                ("__address__", "[2001:db8::1]:8080"),
                (META_NAME, "h"),
            ]))
        );
        assert_eq!(
            target("example.com", &Record::Mx("mail.example.com.".into()), 25),
            Some(Labels::from_pairs(&[
                ("__address__", "mail.example.com:25"),
                (META_NAME, "example.com"),
                (META_MX_TARGET, "mail.example.com."),
            ]))
        );
        assert_eq!(
            target("example.com", &Record::Ns("ns1.example.com.".into()), 53)
                .and_then(|labels| labels.get("__address__").map(str::to_string)),
            Some("ns1.example.com:53".to_string())
        );
        assert_eq!(target("x", &Record::Cname, 1), None);
        assert_eq!(target("x", &Record::Other(16), 1), None);
    }
}
