//! What the built-in Alertmanager's parts share: the current routing
//! setup, the alert store, silences, the notification log and metrics.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};

use super::NotifyError;
use super::alert::{Alert, LabelSet};
use super::inhibit::{InhibitRule, inhibited_by};
use super::metrics::BuiltinMetrics;
use super::nflog::NotificationLog;
use super::receivers::Receiver;
use super::route::Route;
use super::silences::Silences;
use crate::config::notify::NotifyConfig;

/// The routing setup built from one `notify` config.
pub struct Setup {
    /// The routing tree.
    pub route: Route,
    /// Receivers by name.
    pub receivers: HashMap<String, Receiver>,
    /// Inhibition rules.
    pub inhibit_rules: Vec<InhibitRule>,
    /// `global.resolve_timeout`.
    pub resolve_timeout: std::time::Duration,
    /// The config as YAML (for `/api/v2/status`).
    pub original_yaml: String,
}

impl Setup {
    /// Builds the setup; fails on a receiver that cannot be built.
    pub fn from_config(config: &NotifyConfig) -> Result<Setup, NotifyError> {
        let route = Route::from_config(&config.route)?;
        let mut receivers = HashMap::new();
        for receiver in &config.receivers {
            receivers.insert(
                receiver.name.clone(),
                Receiver::from_config(receiver, &config.global)?,
            );
        }
        let inhibit_rules = config
            .inhibit_rules
            .iter()
            .map(InhibitRule::from_config)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Setup {
            route,
            receivers,
            inhibit_rules,
            resolve_timeout: config.global.resolve_timeout.as_duration(),
            original_yaml: serde_saphyr::to_string(config).unwrap_or_default(),
        })
    }
}

/// Why an alert is muted at a moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MuteStatus {
    /// Ids of the active silences matching it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the firing alerts inhibiting it.
    pub inhibited_by: Vec<String>,
}

/// State shared by the dispatcher, the API and the group tasks.
pub struct Shared {
    setup: RwLock<Arc<Setup>>,
    /// The alert store, by fingerprint.
    pub alerts: Mutex<BTreeMap<u64, Alert>>,
    /// Silences.
    pub silences: Silences,
    /// The notification log.
    pub nflog: NotificationLog,
    /// Metrics.
    pub metrics: BuiltinMetrics,
    /// The external URL put in notifications.
    pub external_url: String,
}

impl Shared {
    /// New shared state.
    pub fn new(
        setup: Setup,
        silences: Silences,
        nflog: NotificationLog,
        metrics: BuiltinMetrics,
        external_url: String,
    ) -> Self {
        Shared {
            setup: RwLock::new(Arc::new(setup)),
            alerts: Mutex::new(BTreeMap::new()),
            silences,
            nflog,
            metrics,
            external_url,
        }
    }

    /// The current setup.
    pub fn setup(&self) -> Arc<Setup> {
        self.setup.read().clone()
    }

    /// Replaces the setup.
    pub fn set_setup(&self, setup: Setup) {
        *self.setup.write() = Arc::new(setup);
    }

    /// Silences and inhibitions muting `labels` at `now`.
    pub fn mute_status(&self, setup: &Setup, labels: &LabelSet, now: DateTime<Utc>) -> MuteStatus {
        let silenced_by = self.silences.muting(labels, now);
        let inhibited_by = if setup.inhibit_rules.is_empty() {
            Vec::new()
        } else {
            let alerts = self.alerts.lock();
            inhibited_by(&setup.inhibit_rules, labels, alerts.values(), now)
        };
        MuteStatus {
            silenced_by,
            inhibited_by,
        }
    }

    /// Whether `labels` is silenced or inhibited at `now`.
    pub fn is_muted(&self, setup: &Setup, labels: &LabelSet, now: DateTime<Utc>) -> bool {
        let status = self.mute_status(setup, labels, now);
        !status.silenced_by.is_empty() || !status.inhibited_by.is_empty()
    }
}
