//! Self-metrics of the notify stage, with Prometheus's and Alertmanager's
//! names.

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// The built-in Alertmanager's metrics.
#[derive(Clone)]
pub struct BuiltinMetrics {
    /// `alertmanager_notifications_total{integration}`.
    pub notifications: IntCounterVec,
    /// `alertmanager_notifications_failed_total{integration}`.
    pub notifications_failed: IntCounterVec,
    /// `alertmanager_alerts{state}`.
    pub alerts: IntGaugeVec,
    /// `alertmanager_silences{state}`.
    pub silences: IntGaugeVec,
}

fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> C {
    // A second registration (a test building two instances on one
    // registry) keeps the first; the values stay correct per instance.
    let _ = registry.register(Box::new(collector.clone()));
    collector
}

impl BuiltinMetrics {
    /// Creates and registers the metrics.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        Ok(BuiltinMetrics {
            notifications: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "alertmanager_notifications_total",
                        "The total number of attempted notifications.",
                    ),
                    &["integration"],
                )?,
            ),
            notifications_failed: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "alertmanager_notifications_failed_total",
                        "The total number of failed notifications.",
                    ),
                    &["integration"],
                )?,
            ),
            alerts: register(
                registry,
                IntGaugeVec::new(
                    Opts::new("alertmanager_alerts", "How many alerts by state."),
                    &["state"],
                )?,
            ),
            silences: register(
                registry,
                IntGaugeVec::new(
                    Opts::new("alertmanager_silences", "How many silences by state."),
                    &["state"],
                )?,
            ),
        })
    }
}

/// The external-Alertmanager sender's metrics.
#[derive(Clone)]
pub struct SenderMetrics {
    /// `prometheus_notifications_sent_total{alertmanager}`.
    pub sent: IntCounterVec,
    /// `prometheus_notifications_errors_total{alertmanager}`.
    pub errors: IntCounterVec,
    /// `prometheus_notifications_dropped_total`.
    pub dropped: prometheus::IntCounter,
    /// `prometheus_notifications_queue_length`.
    pub queue_length: IntGauge,
    /// `prometheus_notifications_queue_capacity`.
    pub queue_capacity: IntGauge,
    /// `prometheus_notifications_alertmanagers_discovered`.
    pub alertmanagers_discovered: IntGauge,
}

impl SenderMetrics {
    /// Creates and registers the metrics.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        Ok(SenderMetrics {
            sent: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "prometheus_notifications_sent_total",
                        "Total number of alerts sent.",
                    ),
                    &["alertmanager"],
                )?,
            ),
            errors: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "prometheus_notifications_errors_total",
                        "Total number of sent alerts affected by errors.",
                    ),
                    &["alertmanager"],
                )?,
            ),
            dropped: register(
                registry,
                prometheus::IntCounter::new(
                    "prometheus_notifications_dropped_total",
                    "Total number of alerts dropped due to errors when sending to Alertmanager.",
                )?,
            ),
            queue_length: register(
                registry,
                IntGauge::new(
                    "prometheus_notifications_queue_length",
                    "The number of alert notifications in the queue.",
                )?,
            ),
            queue_capacity: register(
                registry,
                IntGauge::new(
                    "prometheus_notifications_queue_capacity",
                    "The capacity of the alert notifications queue.",
                )?,
            ),
            alertmanagers_discovered: register(
                registry,
                IntGauge::new(
                    "prometheus_notifications_alertmanagers_discovered",
                    "The number of alertmanagers discovered and active.",
                )?,
            ),
        })
    }
}
