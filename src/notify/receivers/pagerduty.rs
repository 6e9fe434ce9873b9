//! PagerDuty Events API v2: `trigger` while the group fires, `resolve`
//! when all its alerts are resolved, deduplicated by a hash of the group
//! key.

use std::time::Duration;

use serde_json::json;

use super::{HttpTarget, Integration, Notification};
use crate::config::notify::{NotifyGlobalConfig, PagerdutyConfig};
use crate::notify::NotifyError;

/// Sends events to PagerDuty (or any URL speaking its Events API v2).
pub struct PagerdutyIntegration {
    config: PagerdutyConfig,
    url: String,
    target: HttpTarget,
}

/// The dedup key of a group: the hex MD5 of the group key, so that the
/// trigger and the resolve of one group name the same incident.
pub fn dedup_key(group_key: &str) -> String {
    format!("{:x}", md5::compute(group_key.as_bytes()))
}

impl PagerdutyIntegration {
    /// A PagerDuty integration; an empty `url` takes the global one.
    pub fn new(config: &PagerdutyConfig, global: &NotifyGlobalConfig) -> Result<Self, NotifyError> {
        let url = if config.url.is_empty() {
            global.pagerduty_url.clone()
        } else {
            config.url.clone()
        };
        Ok(PagerdutyIntegration {
            config: config.clone(),
            url,
            target: HttpTarget::new(&config.http_config)?,
        })
    }

    /// The event body.
    pub fn payload(&self, notification: &Notification) -> serde_json::Value {
        let action = if notification.status() == "firing" {
            "trigger"
        } else {
            "resolve"
        };
        let summary: String = notification.title().chars().take(1024).collect();
        json!({
            "routing_key": self.config.routing_key.expose(),
            "event_action": action,
            "dedup_key": dedup_key(&notification.group_key),
            "client": self.config.client,
            "client_url": notification.external_url,
            "payload": {
                "summary": summary,
                "source": self.config.client,
                "severity": self.config.severity,
                "custom_details": {
                    "firing": notification.firing().count(),
                    "resolved": notification.resolved().count(),
                    "group_labels": notification.group_labels,
                    "details": notification.text_body(),
                },
            },
        })
    }
}

#[async_trait::async_trait]
impl Integration for PagerdutyIntegration {
    fn name(&self) -> &'static str {
        "pagerduty"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    async fn notify(
        &self,
        notification: &Notification,
        timeout: Duration,
    ) -> Result<(), NotifyError> {
        self.target
            .post_json("pagerduty", &self.url, &self.payload(notification), timeout)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::receivers::sample_notification;

    #[test]
    fn trigger_and_resolve_share_the_dedup_key() {
        let config = PagerdutyConfig {
            routing_key: crate::config::Secret("key".into()),
            ..PagerdutyConfig::default()
        };
        let integration =
            PagerdutyIntegration::new(&config, &NotifyGlobalConfig::default()).unwrap();
        let mut notification = sample_notification();
        let trigger = integration.payload(&notification);
        assert_eq!(trigger["event_action"], "trigger");
        assert_eq!(trigger["routing_key"], "key");
        notification.now += chrono::Duration::hours(1);
        let resolve = integration.payload(&notification);
        assert_eq!(resolve["event_action"], "resolve");
        assert_eq!(trigger["dedup_key"], resolve["dedup_key"]);
        assert_eq!(integration.url, "https://events.pagerduty.com/v2/enqueue");
    }
}
