//! Slack: an incoming-webhook message with one attachment (title, text,
//! colour), as Alertmanager's default Slack notification.

use std::time::Duration;

use serde_json::json;

use super::{HttpTarget, Integration, Notification};
use crate::config::notify::{NotifyGlobalConfig, SlackConfig};
use crate::notify::NotifyError;

/// Posts to a Slack incoming webhook.
pub struct SlackIntegration {
    config: SlackConfig,
    api_url: String,
    target: HttpTarget,
}

impl SlackIntegration {
    /// A Slack integration; an empty `api_url` takes the global one.
    pub fn new(config: &SlackConfig, global: &NotifyGlobalConfig) -> Result<Self, NotifyError> {
        let api_url = if config.api_url.is_empty() {
            global.slack_api_url.expose().to_string()
        } else {
            config.api_url.expose().to_string()
        };
        Ok(SlackIntegration {
            config: config.clone(),
            api_url,
            target: HttpTarget::new(&config.http_config)?,
        })
    }

    /// The message body.
    pub fn payload(&self, notification: &Notification) -> serde_json::Value {
        let color = if notification.status() == "firing" {
            "danger"
        } else {
            "good"
        };
        let mut message = json!({
            "text": "",
            "attachments": [{
                "title": notification.title(),
                "title_link": notification.external_url,
                "text": notification.text_body(),
                "fallback": notification.title(),
                "color": color,
                "mrkdwn_in": ["fallback", "pretext", "text"],
            }],
        });
        if !self.config.channel.is_empty() {
            message["channel"] = json!(self.config.channel);
        }
        if !self.config.username.is_empty() {
            message["username"] = json!(self.config.username);
        }
        message
    }
}

#[async_trait::async_trait]
impl Integration for SlackIntegration {
    fn name(&self) -> &'static str {
        "slack"
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
            .post_json("slack", &self.api_url, &self.payload(notification), timeout)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::receivers::sample_notification;

    #[test]
    fn slack_message_has_a_coloured_attachment() {
        let config = SlackConfig {
            channel: "#ops".into(),
            ..SlackConfig::default()
        };
        let integration = SlackIntegration::new(&config, &NotifyGlobalConfig::default()).unwrap();
        let message = integration.payload(&sample_notification());
        assert_eq!(message["channel"], "#ops");
        assert_eq!(message["attachments"][0]["title"], "[FIRING:1] Down");
        assert_eq!(message["attachments"][0]["color"], "danger");
        let text = message["attachments"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(text.contains("instance = a"), "{text}");
    }
}
