//! Receivers: the integrations a notification is delivered through
//! (webhook, email, Slack, PagerDuty), built from a `receivers` entry.

mod email;
mod pagerduty;
mod slack;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::NotifyError;
use super::alert::{Alert, LabelSet};
use crate::config::notify::{NotifyGlobalConfig, ReceiverConfig};

pub use email::EmailIntegration;
pub use pagerduty::PagerdutyIntegration;
pub use slack::SlackIntegration;
pub use webhook::WebhookIntegration;

/// What one notification carries: a group's alerts at flush time.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The receiver's name.
    pub receiver: String,
    /// The group key.
    pub group_key: String,
    /// The labels the group is keyed by.
    pub group_labels: LabelSet,
    /// The alerts, firing ones first; a firing alert's `ends_at` is not
    /// shown (Alertmanager zeroes it so it does not look resolved later).
    pub alerts: Vec<Alert>,
    /// The node's external URL.
    pub external_url: String,
    /// When the flush happened.
    pub now: DateTime<Utc>,
}

impl Notification {
    /// `resolved` when every alert is resolved, else `firing`.
    pub fn status(&self) -> &'static str {
        if self.alerts.iter().all(|a| a.resolved_at(self.now)) {
            "resolved"
        } else {
            "firing"
        }
    }

    /// The firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| !a.resolved_at(self.now))
    }

    /// The resolved alerts.
    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.resolved_at(self.now))
    }

    /// Labels every alert has with the same value.
    pub fn common_labels(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.labels))
    }

    /// Annotations every alert has with the same value.
    pub fn common_annotations(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.annotations))
    }

    /// Alertmanager's default title: `[FIRING:2] alertname (group labels)`.
    pub fn title(&self) -> String {
        let mut title = format!("[{}", self.status().to_uppercase());
        if self.status() == "firing" {
            title.push_str(&format!(":{}", self.firing().count()));
        }
        title.push(']');
        let values: Vec<&str> = self.group_labels.values().map(String::as_str).collect();
        if !values.is_empty() {
            title.push(' ');
            title.push_str(&values.join(" "));
        }
        title
    }

    /// A plain-text body: one block per alert with labels and annotations.
    pub fn text_body(&self) -> String {
        let mut body = String::new();
        for (heading, alerts) in [
            ("Firing", self.firing().collect::<Vec<_>>()),
            ("Resolved", self.resolved().collect::<Vec<_>>()),
        ] {
            if alerts.is_empty() {
                continue;
            }
            body.push_str(&format!("{heading} alerts:\n"));
            for alert in alerts {
                body.push_str("Labels:\n");
                for (name, value) in &alert.labels {
                    body.push_str(&format!(" - {name} = {value}\n"));
                }
                if !alert.annotations.is_empty() {
                    body.push_str("Annotations:\n");
                    for (name, value) in &alert.annotations {
                        body.push_str(&format!(" - {name} = {value}\n"));
                    }
                }
                body.push_str(&format!("Source: {}\n\n", alert.generator_url));
            }
        }
        body
    }
}

fn common<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else {
        return LabelSet::new();
    };
    let mut shared = first.clone();
    for set in sets {
        shared.retain(|name, value| set.get(name) == Some(value));
    }
    shared
}

/// An alert in the webhook payload's shape.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadAlert {
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// Labels.
    pub labels: LabelSet,
    /// Annotations.
    pub annotations: LabelSet,
    /// Start (RFC 3339).
    pub starts_at: DateTime<Utc>,
    /// End; `0001-01-01T00:00:00Z` while firing.
    pub ends_at: DateTime<Utc>,
    /// Generator URL.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Fingerprint (16 hex digits).
    pub fingerprint: String,
}

/// The zero time Alertmanager prints for a firing alert's end.
pub fn zero_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("0001-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

impl PayloadAlert {
    /// The payload form of `alert` at `now`.
    pub fn from_alert(alert: &Alert, now: DateTime<Utc>) -> Self {
        let resolved = alert.resolved_at(now);
        PayloadAlert {
            status: if resolved { "resolved" } else { "firing" },
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at: alert.starts_at,
            ends_at: if resolved { alert.ends_at } else { zero_time() },
            generator_url: alert.generator_url.clone(),
            fingerprint: format!("{:016x}", alert.fingerprint()),
        }
    }
}

/// One way of delivering a notification.
///
/// Contract: `notify` delivers once (the caller retries with backoff
/// while the error is retryable and the group interval allows); it must
/// honour `timeout`; it never panics on a peer's answer.
#[async_trait::async_trait]
pub trait Integration: Send + Sync {
    /// `webhook`, `email`, `slack` or `pagerduty` (the metrics label).
    fn name(&self) -> &'static str;
    /// Whether resolved alerts are delivered.
    fn send_resolved(&self) -> bool;
    /// Delivers one notification.
    async fn notify(
        &self,
        notification: &Notification,
        timeout: Duration,
    ) -> Result<(), NotifyError>;
}

/// A receiver: its name and integrations, each with its position (the
/// notification log keys by `receiver/integration/position`).
pub struct Receiver {
    /// The name.
    pub name: String,
    /// The integrations.
    pub integrations: Vec<Arc<dyn Integration>>,
}

impl Receiver {
    /// Builds the integrations of a `receivers` entry.
    pub fn from_config(
        config: &ReceiverConfig,
        global: &NotifyGlobalConfig,
    ) -> Result<Receiver, NotifyError> {
        let mut integrations: Vec<Arc<dyn Integration>> = Vec::new();
        for webhook in &config.webhook_configs {
            integrations.push(Arc::new(WebhookIntegration::new(webhook)?));
        }
        for email in &config.email_configs {
            integrations.push(Arc::new(EmailIntegration::new(email, global)?));
        }
        for slack in &config.slack_configs {
            integrations.push(Arc::new(SlackIntegration::new(slack, global)?));
        }
        for pagerduty in &config.pagerduty_configs {
            integrations.push(Arc::new(PagerdutyIntegration::new(pagerduty, global)?));
        }
        Ok(Receiver {
            name: config.name.clone(),
            integrations,
        })
    }
}

/// An HTTP integration's client and per-request settings, from its
/// `http_config` (deprecated `bearer_token` becomes `authorization`).
pub(crate) struct HttpTarget {
    client: crate::http_client::HttpClient,
}

impl HttpTarget {
    /// Builds the client for `config`.
    pub(crate) fn new(config: &crate::config::HttpClientConfig) -> Result<Self, NotifyError> {
        let mut config = config.clone();
        if let Some(authorization) = &mut config.authorization
            && authorization.auth_type.trim().is_empty()
        {
            authorization.auth_type = "Bearer".to_string();
        }
        if config.authorization.is_none()
            && (!config.bearer_token.is_empty() || !config.bearer_token_file.is_empty())
        {
            config.authorization = Some(crate::config::Authorization {
                auth_type: "Bearer".to_string(),
                credentials: config.bearer_token.clone(),
                credentials_file: config.bearer_token_file.clone(),
            });
        }
        let client = crate::http_client::HttpClient::new(&config, &Default::default())
            .map_err(|e| NotifyError::Config(format!("http_config: {e}")))?;
        Ok(HttpTarget { client })
    }

    /// POSTs `body` as JSON to `url` with the configured credentials.
    pub(crate) async fn post_json(
        &self,
        integration: &str,
        url: &str,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<(), NotifyError> {
        let request = self.client.post(url).timeout(timeout).json(body);
        let request = self
            .client
            .authorize(request)
            .await
            .map_err(|e| NotifyError::Delivery {
                integration: integration.to_string(),
                retryable: false,
                message: e.to_string(),
            })?;
        check_http_answer(integration, request.send().await).await
    }
}

/// Turns an HTTP answer into Alertmanager's retry decision: 2xx is
/// delivered, 5xx and 429 are retried, other 4xx are given up.
pub(crate) async fn check_http_answer(
    integration: &str,
    answer: Result<reqwest::Response, reqwest::Error>,
) -> Result<(), NotifyError> {
    let response = answer.map_err(|e| NotifyError::Delivery {
        integration: integration.to_string(),
        retryable: true,
        message: e.to_string(),
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(NotifyError::Delivery {
        integration: integration.to_string(),
        retryable: status.is_server_error() || status.as_u16() == 429,
        message: format!(
            "unexpected status code {}: {}",
            status.as_u16(),
            body.chars().take(200).collect::<String>()
        ),
    })
}

/// Shared by tests of the payloads.
#[cfg(test)]
pub(crate) fn sample_notification() -> Notification {
    use std::collections::BTreeMap;
    let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap_or_default();
    let alert = |name: &str, instance: &str, ends: i64| Alert {
        labels: BTreeMap::from([
            ("alertname".to_string(), name.to_string()),
            ("instance".to_string(), instance.to_string()),
        ]),
        annotations: BTreeMap::from([("summary".to_string(), format!("{instance} down"))]),
        starts_at: at(0),
        ends_at: at(ends),
        updated_at: at(0),
        generator_url: "http://node/graph".into(),
        timeout: false,
    };
    Notification {
        receiver: "team".into(),
        group_key: "{}:{alertname=\"Down\"}".into(),
        group_labels: BTreeMap::from([("alertname".to_string(), "Down".to_string())]),
        alerts: vec![alert("Down", "a", 1000), alert("Down", "b", 10)],
        external_url: "http://promshard:9090".into(),
        now: at(100),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn notification_summaries_follow_alertmanager() {
        let notification = sample_notification();
        assert_eq!(notification.status(), "firing");
        assert_eq!(notification.title(), "[FIRING:1] Down");
        assert_eq!(
            notification.common_labels(),
            BTreeMap::from([("alertname".to_string(), "Down".to_string())])
        );
        assert!(notification.common_annotations().is_empty());
        let firing = PayloadAlert::from_alert(&notification.alerts[0], notification.now);
        assert_eq!(firing.status, "firing");
        assert_eq!(firing.ends_at, zero_time());
        let resolved = PayloadAlert::from_alert(&notification.alerts[1], notification.now);
        assert_eq!(resolved.status, "resolved");
        assert_eq!(resolved.ends_at, notification.alerts[1].ends_at);
    }
}
