//! The notify stage as the node runs it: the sender to external
//! Alertmanagers (always present; idle without `alerting.alertmanagers`)
//! and the built-in Alertmanager (when the config has a `notify`
//! section), behind one fan-out [`AlertSink`] for the rule manager.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::alertmanager::{BuiltinAlertmanager, BuiltinOptions, GroupOwnerLookup};
use super::sender::AlertmanagerSender;
use super::{AlertSink, FanoutSink, NotifyError};
use crate::config::Config;

/// How the node configures the stage.
pub struct StageOptions {
    /// `--alertmanager.notification-queue-capacity`.
    pub queue_capacity: usize,
    /// `--alertmanager.notification-batch-size`.
    pub batch_size: usize,
    /// `--alertmanager.drain-notification-queue-on-shutdown`.
    pub drain_on_shutdown: bool,
    /// Where the built-in Alertmanager keeps silences and its log.
    pub data_dir: PathBuf,
    /// The node's external URL.
    pub external_url: String,
    /// Who owns a group key (the ring in a cluster).
    pub owner: GroupOwnerLookup,
}

/// The running stage.
pub struct NotifyStage {
    /// The sender to external Alertmanagers.
    pub sender: Arc<AlertmanagerSender>,
    /// The built-in Alertmanager, when configured at start.
    pub builtin: Option<Arc<BuiltinAlertmanager>>,
    sink: Arc<dyn AlertSink>,
    sending: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl NotifyStage {
    /// Starts the stage for `config` on the current runtime; the sender
    /// runs until `cancel`.
    pub fn start(
        config: &Config,
        options: StageOptions,
        registry: &prometheus::Registry,
        cancel: CancellationToken,
    ) -> Result<NotifyStage, NotifyError> {
        let sender = AlertmanagerSender::new(options.queue_capacity, registry)?;
        sender.set_batch_size(options.batch_size);
        sender.set_drain_on_shutdown(options.drain_on_shutdown);
        sender.apply_config(&config.alerting)?;
        let sending = tokio::spawn(sender.clone().run(cancel.clone()));
        let builtin = match &config.notify {
            Some(notify) => {
                let builtin = BuiltinAlertmanager::start(
                    notify,
                    BuiltinOptions {
                        data_dir: Some(options.data_dir),
                        retention: Duration::from_secs(120 * 3600),
                        external_url: options.external_url,
                        owner: options.owner,
                    },
                    registry,
                )?;
                let stopping = builtin.clone();
                tokio::spawn(async move {
                    cancel.cancelled().await;
                    stopping.stop();
                });
                Some(builtin)
            }
            None => None,
        };
        let mut sinks: Vec<Arc<dyn AlertSink>> = vec![sender.clone()];
        if let Some(builtin) = &builtin {
            sinks.push(builtin.clone());
        }
        Ok(NotifyStage {
            sender,
            builtin,
            sink: Arc::new(FanoutSink::new(sinks)),
            sending: parking_lot::Mutex::new(Some(sending)),
        })
    }

    /// After `cancel`: waits until the sender has sent (or, without
    /// draining, dropped) what was queued, so the process exits with
    /// nothing in flight. Call it after the rule manager has stopped.
    pub async fn wait_sent(&self) {
        let sending = self.sending.lock().take();
        if let Some(sending) = sending
            && let Err(error) = sending.await
        {
            warn!(err = %error, "the notification sender ended abnormally");
        }
    }

    /// The sink the rule manager sends to: external Alertmanagers and the
    /// built-in one.
    pub fn sink(&self) -> Arc<dyn AlertSink> {
        self.sink.clone()
    }

    /// Applies a reloaded config. Adding or removing the `notify` section
    /// takes a restart (logged); its contents reload.
    pub fn apply_config(&self, config: &Config) -> Result<(), NotifyError> {
        self.sender.apply_config(&config.alerting)?;
        match (&self.builtin, &config.notify) {
            (Some(builtin), Some(notify)) => builtin.apply_config(notify)?,
            (None, Some(_)) => warn!(
                field = "notify",
                "the notify section was added; the built-in Alertmanager starts on the next restart"
            ),
            (Some(_), None) => warn!(
                field = "notify",
                "the notify section was removed; the built-in Alertmanager keeps its last config until restart"
            ),
            (None, None) => {}
        }
        Ok(())
    }
}

impl NotifyStage {
    /// Builds the Alertmanager clients of `alerting` and the built-in
    /// Alertmanager's routes and receivers from `notify`, changing nothing
    /// (the check half of a reload).
    pub fn check_config(config: &Config) -> Result<(), NotifyError> {
        super::sender::check_alerting_config(&config.alerting)?;
        if let Some(notify) = &config.notify {
            super::state::Setup::from_config(notify)?;
        }
        Ok(())
    }
}

impl crate::lifecycle::Reloader for NotifyStage {
    fn name(&self) -> &'static str {
        "notify"
    }

    fn check(&self, config: &Config) -> Result<(), String> {
        Self::check_config(config).map_err(|e| e.to_string())
    }

    fn apply(&self, config: &Config) -> Result<(), String> {
        self.apply_config(config).map_err(|e| e.to_string())
    }
}
