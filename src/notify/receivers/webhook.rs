//! Webhook: Alertmanager's JSON payload (version 4), POSTed to `url`.

use std::time::Duration;

use serde::Serialize;

use super::{HttpTarget, Integration, Notification, PayloadAlert};
use crate::config::notify::WebhookConfig;
use crate::notify::NotifyError;
use crate::notify::alert::LabelSet;

/// The webhook body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    /// Always `4`.
    pub version: &'static str,
    /// The group key.
    pub group_key: String,
    /// Alerts left out by `max_alerts`.
    pub truncated_alerts: u64,
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// The receiver's name.
    pub receiver: String,
    /// The group's labels.
    pub group_labels: LabelSet,
    /// Labels shared by all alerts.
    pub common_labels: LabelSet,
    /// Annotations shared by all alerts.
    pub common_annotations: LabelSet,
    /// Link back to the sender.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<PayloadAlert>,
}

impl WebhookPayload {
    /// The payload for `notification`, keeping at most `max_alerts` (0: all).
    pub fn new(notification: &Notification, max_alerts: u64) -> Self {
        let mut alerts: Vec<PayloadAlert> = notification
            .alerts
            .iter()
            .map(|a| PayloadAlert::from_alert(a, notification.now))
            .collect();
        let mut truncated_alerts = 0;
        if max_alerts > 0 && alerts.len() as u64 > max_alerts {
            truncated_alerts = alerts.len() as u64 - max_alerts;
            alerts.truncate(max_alerts as usize);
        }
        WebhookPayload {
            version: "4",
            group_key: notification.group_key.clone(),
            truncated_alerts,
            status: notification.status(),
            receiver: notification.receiver.clone(),
            group_labels: notification.group_labels.clone(),
            common_labels: notification.common_labels(),
            common_annotations: notification.common_annotations(),
            external_url: notification.external_url.clone(),
            alerts,
        }
    }
}

/// Posts the payload to a URL.
pub struct WebhookIntegration {
    config: WebhookConfig,
    target: HttpTarget,
}

impl WebhookIntegration {
    /// A webhook from its config.
    pub fn new(config: &WebhookConfig) -> Result<Self, NotifyError> {
        Ok(WebhookIntegration {
            config: config.clone(),
            target: HttpTarget::new(&config.http_config)?,
        })
    }
}

#[async_trait::async_trait]
impl Integration for WebhookIntegration {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    async fn notify(
        &self,
        notification: &Notification,
        timeout: Duration,
    ) -> Result<(), NotifyError> {
        let timeout = if self.config.timeout.is_zero() {
            timeout
        } else {
            timeout.min(self.config.timeout.as_duration())
        };
        let payload = WebhookPayload::new(notification, self.config.max_alerts);
        self.target
            .post_json("webhook", &self.config.url, &payload, timeout)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::receivers::sample_notification;

    #[test]
    fn payload_has_alertmanagers_version_4_fields() {
        let payload = WebhookPayload::new(&sample_notification(), 0);
        let json = serde_json::to_value(&payload).unwrap();
        for field in [
            "version",
            "groupKey",
            "truncatedAlerts",
            "status",
            "receiver",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "alerts",
        ] {
            assert!(json.get(field).is_some(), "missing {field} in {json}");
        }
        assert_eq!(json["version"], "4");
        assert_eq!(json["status"], "firing");
        assert_eq!(json["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(json["alerts"][1]["status"], "resolved");
        assert_eq!(
            json["alerts"][0]["fingerprint"].as_str().map(str::len),
            Some(16)
        );
        let truncated = WebhookPayload::new(&sample_notification(), 1);
        assert_eq!(truncated.truncated_alerts, 1);
        assert_eq!(truncated.alerts.len(), 1);
    }
}
