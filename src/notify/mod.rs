//! Alert grouping, dedup, inhibition, silences and receivers.
//!
//! The seam with rule evaluation is [`AlertSink`]: the rule manager hands
//! every active or just-resolved alert to a sink after each evaluation, in
//! the shape of Alertmanager's API v2 (`postableAlert`). The notify side
//! decides where they go: external Alertmanagers, the built-in dispatcher,
//! or the owning node of the group key in a cluster.

pub mod alert;
pub mod alertmanager;
pub mod dispatch;
pub mod inhibit;
pub mod metrics;
pub mod nflog;
mod persist;
pub mod receivers;
pub mod route;
pub mod sender;
pub mod silence_sync;
pub mod silences;
pub mod stage;
pub mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

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

/// Hands every batch to several sinks (the external Alertmanagers and the
/// built-in one); each sink queues on its own, so this never blocks.
#[derive(Clone, Default)]
pub struct FanoutSink {
    sinks: Vec<Arc<dyn AlertSink>>,
}

impl FanoutSink {
    /// A fan-out over `sinks`.
    pub fn new(sinks: Vec<Arc<dyn AlertSink>>) -> Self {
        FanoutSink { sinks }
    }
}

impl AlertSink for FanoutSink {
    fn send(&self, alerts: Vec<PostableAlert>) {
        let Some((last, others)) = self.sinks.split_last() else {
            return;
        };
        for sink in others {
            sink.send(alerts.clone());
        }
        last.send(alerts);
    }
}

/// Errors of the notify stage.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The `notify` or `alerting` config cannot be used.
    #[error("notify config: {0}")]
    Config(String),
    /// A request (an alert, a silence) is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// A silence or other object does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A state file cannot be read or written.
    #[error("state file {path}: {message}")]
    Persist {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A notification could not be delivered.
    #[error("{integration}: {message}")]
    Delivery {
        /// The integration (`webhook`, `email`, ...).
        integration: String,
        /// Whether trying again may succeed.
        retryable: bool,
        /// What went wrong.
        message: String,
    },
}

impl NotifyError {
    /// Whether delivering again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            NotifyError::Delivery {
                retryable: true,
                ..
            }
        )
    }

    /// The HTTP status an API answer uses for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            NotifyError::BadRequest(_) => 400,
            NotifyError::NotFound(_) => 404,
            _ => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct RecordingSink(Mutex<Vec<PostableAlert>>);

    impl AlertSink for RecordingSink {
        fn send(&self, alerts: Vec<PostableAlert>) {
            self.0.lock().extend(alerts);
        }
    }

    #[test]
    fn fanout_gives_every_sink_every_alert() {
        let first = Arc::new(RecordingSink::default());
        let second = Arc::new(RecordingSink::default());
        let fanout = FanoutSink::new(vec![first.clone(), second.clone()]);
        let alert = PostableAlert {
            labels: BTreeMap::from([("alertname".to_string(), "A".to_string())]),
            ..PostableAlert::default()
        };
        fanout.send(vec![alert.clone()]);
        assert_eq!(*first.0.lock(), vec![alert.clone()]);
        assert_eq!(*second.0.lock(), vec![alert]);
    }
}
