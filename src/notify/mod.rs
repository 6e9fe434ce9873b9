//! Alert grouping, dedup, inhibition, silences and receivers.
//!
//! The seam with rule evaluation is [`AlertSink`]: the rule manager hands
//! every active or just-resolved alert to a sink after each evaluation, in
//! the shape of Alertmanager's API v2 (`postableAlert`). The notify side
//! decides where they go: external Alertmanagers, the built-in dispatcher,
//! or the owning node of the group key in a cluster.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An alert as Alertmanager's API v2 takes it (`POST /api/v2/alerts`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    /// Identifying labels, `alertname` included.
    pub labels: BTreeMap<String, String>,
    /// Expanded annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing; absent means "now" to the receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// When the alert ends; in the past for a resolved alert. A firing
    /// alert carries `now + 4 × resend delay`, as Prometheus sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// Link back to the expression that produced the alert.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
}

/// Where evaluated alerts go.
///
/// Contract: `send` must not block on the network; an implementation queues
/// and delivers in the background (at least once, with retries). A full
/// queue drops the oldest alerts and counts them in
/// `prometheus_notifications_dropped_total`, never silently. The same alert
/// (same label set) is sent again on every resend interval; receivers
/// deduplicate by labels.
pub trait AlertSink: Send + Sync {
    /// Queues `alerts` for delivery.
    fn send(&self, alerts: Vec<PostableAlert>);
}

/// A sink that drops everything; for a node with no Alertmanager and no
/// `notify` section configured.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSink;

impl AlertSink for NoSink {
    fn send(&self, _alerts: Vec<PostableAlert>) {}
}
