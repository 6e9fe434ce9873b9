//! The rule manager's self-metrics, with Prometheus's names and its
//! `rule_group="file;name"` label.

use prometheus::{GaugeVec, IntCounterVec, Opts, Registry};

/// Counters and gauges per rule group.
#[derive(Clone)]
pub struct RuleMetrics {
    /// `prometheus_rule_evaluations_total`.
    pub evaluations: IntCounterVec,
    /// `prometheus_rule_evaluation_failures_total`.
    pub evaluation_failures: IntCounterVec,
    /// `prometheus_rule_group_iterations_missed_total`.
    pub iterations_missed: IntCounterVec,
    /// `prometheus_rule_group_iterations_total`.
    pub iterations: IntCounterVec,
    /// `prometheus_rule_group_last_duration_seconds`.
    pub last_duration: GaugeVec,
    /// `prometheus_rule_group_last_evaluation_timestamp_seconds`.
    pub last_evaluation_timestamp: GaugeVec,
    /// `prometheus_rule_group_last_evaluation_samples`.
    pub last_samples: GaugeVec,
    /// `prometheus_rule_group_last_restore_duration_seconds`.
    pub last_restore_duration: GaugeVec,
    /// `prometheus_rule_group_interval_seconds`.
    pub interval: GaugeVec,
    /// `prometheus_rule_group_rules`.
    pub rules: GaugeVec,
}

const GROUP_LABEL: [&str; 1] = ["rule_group"];

impl RuleMetrics {
    /// Creates the metrics and registers them with `registry`.
    pub fn register(registry: &Registry) -> Result<RuleMetrics, prometheus::Error> {
        let counter =
            |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &GROUP_LABEL);
        let gauge = |name: &str, help: &str| GaugeVec::new(Opts::new(name, help), &GROUP_LABEL);
        let metrics = RuleMetrics {
            evaluations: counter(
                "prometheus_rule_evaluations_total",
                "The total number of rule evaluations.",
            )?,
            evaluation_failures: counter(
                "prometheus_rule_evaluation_failures_total",
                "The total number of rule evaluation failures.",
            )?,
            iterations_missed: counter(
                "prometheus_rule_group_iterations_missed_total",
                "The total number of rule group evaluations missed due to slow rule group evaluation.",
            )?,
            iterations: counter(
                "prometheus_rule_group_iterations_total",
                "The total number of scheduled rule group evaluations, whether executed or missed.",
            )?,
            last_duration: gauge(
                "prometheus_rule_group_last_duration_seconds",
                "The duration of the last rule group evaluation.",
            )?,
            last_evaluation_timestamp: gauge(
                "prometheus_rule_group_last_evaluation_timestamp_seconds",
                "The timestamp of the last rule group evaluation in seconds.",
            )?,
            last_samples: gauge(
                "prometheus_rule_group_last_evaluation_samples",
                "The number of samples returned during the last rule group evaluation.",
            )?,
            last_restore_duration: gauge(
                "prometheus_rule_group_last_restore_duration_seconds",
                "The duration of the last alert rules alerts restoration using the `ALERTS_FOR_STATE` series.",
            )?,
            interval: gauge(
                "prometheus_rule_group_interval_seconds",
                "The interval of a rule group.",
            )?,
            rules: gauge("prometheus_rule_group_rules", "The number of rules.")?,
        };
        registry.register(Box::new(metrics.evaluations.clone()))?;
        registry.register(Box::new(metrics.evaluation_failures.clone()))?;
        registry.register(Box::new(metrics.iterations_missed.clone()))?;
        registry.register(Box::new(metrics.iterations.clone()))?;
        registry.register(Box::new(metrics.last_duration.clone()))?;
        registry.register(Box::new(metrics.last_evaluation_timestamp.clone()))?;
        registry.register(Box::new(metrics.last_samples.clone()))?;
        registry.register(Box::new(metrics.last_restore_duration.clone()))?;
        registry.register(Box::new(metrics.interval.clone()))?;
        registry.register(Box::new(metrics.rules.clone()))?;
        Ok(metrics)
    }

    /// Drops every series of a group that no longer runs here.
    pub fn forget(&self, key: &str) {
        let labels = [key];
        let _ = self.evaluations.remove_label_values(&labels);
        let _ = self.evaluation_failures.remove_label_values(&labels);
        let _ = self.iterations_missed.remove_label_values(&labels);
        let _ = self.iterations.remove_label_values(&labels);
        let _ = self.last_duration.remove_label_values(&labels);
        let _ = self.last_evaluation_timestamp.remove_label_values(&labels);
        let _ = self.last_samples.remove_label_values(&labels);
        let _ = self.last_restore_duration.remove_label_values(&labels);
        let _ = self.interval.remove_label_values(&labels);
        let _ = self.rules.remove_label_values(&labels);
    }
}
