//! Self-metrics with Prometheus's names.

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

/// The discovery manager's and providers' metrics.
#[derive(Clone)]
pub(crate) struct DiscoveryMetrics {
    /// `prometheus_sd_discovered_targets{config, name}`.
    pub discovered_targets: IntGaugeVec,
    /// `prometheus_sd_received_updates_total{name}`.
    pub received_updates: IntCounterVec,
    /// `prometheus_sd_updates_total{name}`.
    pub updates_sent: IntCounterVec,
    /// `prometheus_sd_failed_configs{name}`.
    pub failed_configs: IntGaugeVec,
    /// `prometheus_sd_file_read_errors_total`.
    pub file_read_errors: IntCounter,
    /// `prometheus_sd_http_failures_total`.
    pub http_failures: IntCounter,
    /// `prometheus_sd_refresh_failures_total{mechanism, config}`.
    pub refresh_failures: IntCounterVec,
    /// `prometheus_sd_dns_lookups_total`.
    pub dns_lookups: IntCounter,
    /// `prometheus_sd_dns_lookup_failures_total`.
    pub dns_lookup_failures: IntCounter,
}

/// The `name` label: which manager (Prometheus has `scrape` and `notify`).
pub(crate) const MANAGER_NAME: &str = "scrape";

impl DiscoveryMetrics {
    pub(crate) fn new(registry: &Registry) -> Self {
        let metrics = DiscoveryMetrics {
            discovered_targets: gauge_vec(
                "prometheus_sd_discovered_targets",
                "Current number of discovered targets.",
                &["config", "name"],
            ),
            received_updates: counter_vec(
                "prometheus_sd_received_updates_total",
                "Total number of update events received from the SD providers.",
                &["name"],
            ),
            updates_sent: counter_vec(
                "prometheus_sd_updates_total",
                "Total number of update events sent to the SD consumers.",
                &["name"],
            ),
            failed_configs: gauge_vec(
                "prometheus_sd_failed_configs",
                "Current number of service discovery configurations that failed to load.",
                &["name"],
            ),
            file_read_errors: counter(
                "prometheus_sd_file_read_errors_total",
                "The number of File-SD read errors.",
            ),
            http_failures: counter(
                "prometheus_sd_http_failures_total",
                "Number of HTTP service discovery refresh failures.",
            ),
            dns_lookups: counter(
                "prometheus_sd_dns_lookups_total",
                "The number of DNS-SD lookups.",
            ),
            dns_lookup_failures: counter(
                "prometheus_sd_dns_lookup_failures_total",
                "The number of DNS-SD lookup failures.",
            ),
            refresh_failures: counter_vec(
                "prometheus_sd_refresh_failures_total",
                "Number of refresh failures for the given SD mechanism.",
                &["mechanism", "config"],
            ),
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 9] = [
            Box::new(metrics.discovered_targets.clone()),
            Box::new(metrics.received_updates.clone()),
            Box::new(metrics.updates_sent.clone()),
            Box::new(metrics.failed_configs.clone()),
            Box::new(metrics.file_read_errors.clone()),
            Box::new(metrics.http_failures.clone()),
            Box::new(metrics.refresh_failures.clone()),
            Box::new(metrics.dns_lookups.clone()),
            Box::new(metrics.dns_lookup_failures.clone()),
        ];
        for collector in collectors {
            if let Err(error) = registry.register(collector) {
                tracing::warn!(%error, "discovery metric not registered");
            }
        }
        metrics
    }
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::with_opts(Opts::new(name, help))
        .unwrap_or_else(|_| unreachable!("static metric options are valid"))
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|_| unreachable!("static metric options are valid"))
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|_| unreachable!("static metric options are valid"))
}
