//! The built-in Alertmanager: takes alerts (from the node's rules through
//! [`AlertSink`], or from `POST /api/v2/alerts`), merges them into the
//! store, and hands each to the aggregation groups of the routes it
//! matches. In a cluster, a group whose key another node owns is not
//! grouped here: the alert is forwarded to the owner's
//! `/api/v2/alerts`, so one node notifies per group.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::alert::Alert;
use super::dispatch::AggregationGroup;
use super::metrics::BuiltinMetrics;
use super::nflog::NotificationLog;
use super::silences::Silences;
use super::state::{Setup, Shared};
use super::{AlertSink, NotifyError, PostableAlert};
use crate::config::notify::NotifyConfig;

/// The header marking an alert batch forwarded by another node: it is
/// grouped where it arrives, never forwarded again.
pub const FORWARDED_HEADER: &str = "x-promshard-forwarded";

/// Who notifies for a group key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOwner {
    /// This node.
    Local,
    /// Another node, at this `host:port`.
    Remote(String),
}

/// Looks up the owner of a group key (the ring in a cluster; a single
/// node owns everything).
pub type GroupOwnerLookup = Arc<dyn Fn(&str) -> GroupOwner + Send + Sync>;

/// Where a batch of alerts goes: groups this node keeps, and alerts to
/// forward per owner address.
#[derive(Debug, Default, PartialEq)]
pub struct DeliveryPlan {
    /// `(alert fingerprint, route key position)` pairs grouped here, as
    /// group keys.
    pub local_group_keys: Vec<String>,
    /// Alerts (by fingerprint) to forward, per owner address.
    pub forward: BTreeMap<String, Vec<u64>>,
}

/// Decides, for alerts with their group keys, which groups are kept here
/// and what is forwarded where. A forwarded batch is always kept.
pub fn plan_delivery(
    alerts_with_keys: &[(u64, Vec<String>)],
    owner: &dyn Fn(&str) -> GroupOwner,
    forwarded: bool,
) -> DeliveryPlan {
    let mut plan = DeliveryPlan::default();
    for (alert, group_keys) in alerts_with_keys {
        for key in group_keys {
            match (forwarded, owner(key)) {
                (true, _) | (false, GroupOwner::Local) => plan.local_group_keys.push(key.clone()),
                (false, GroupOwner::Remote(address)) => {
                    let batch = plan.forward.entry(address).or_default();
                    if !batch.contains(alert) {
                        batch.push(*alert);
                    }
                }
            }
        }
    }
    plan
}

/// Options of the built-in Alertmanager.
pub struct BuiltinOptions {
    /// Where silences and the notification log are kept (`<data>/notify`);
    /// `None` keeps them in memory.
    pub data_dir: Option<PathBuf>,
    /// How long expired silences and log entries are kept (120h).
    pub retention: Duration,
    /// The node's external URL.
    pub external_url: String,
    /// The owner lookup.
    pub owner: GroupOwnerLookup,
}

/// The built-in Alertmanager.
pub struct BuiltinAlertmanager {
    shared: Arc<Shared>,
    groups: Arc<Mutex<HashMap<String, Arc<AggregationGroup>>>>,
    groups_cancel: Mutex<CancellationToken>,
    client: reqwest::Client,
    owner: GroupOwnerLookup,
    runtime: tokio::runtime::Handle,
    stop: CancellationToken,
}

impl BuiltinAlertmanager {
    /// Starts the built-in Alertmanager on the current runtime.
    pub fn start(
        config: &NotifyConfig,
        options: BuiltinOptions,
        registry: &prometheus::Registry,
    ) -> Result<Arc<Self>, NotifyError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| NotifyError::Config(format!("no async runtime: {e}")))?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("promshard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::Config(e.to_string()))?;
        let setup = Setup::from_config(config)?;
        let metrics =
            BuiltinMetrics::new(registry).map_err(|e| NotifyError::Config(e.to_string()))?;
        let silences = Silences::open(options.data_dir.clone(), options.retention)?;
        let nflog = NotificationLog::open(options.data_dir, options.retention)?;
        let shared = Arc::new(Shared::new(
            setup,
            silences,
            nflog,
            metrics,
            options.external_url,
        ));
        let alertmanager = Arc::new(BuiltinAlertmanager {
            shared,
            groups: Arc::new(Mutex::new(HashMap::new())),
            groups_cancel: Mutex::new(CancellationToken::new()),
            client,
            owner: options.owner,
            runtime,
            stop: CancellationToken::new(),
        });
        alertmanager.spawn_maintenance();
        Ok(alertmanager)
    }

    /// The shared state (for the API).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Applies a reloaded `notify` section: the groups are rebuilt from
    /// the store with the new routes (the notification log keeps them
    /// from paging again).
    pub fn apply_config(&self, config: &NotifyConfig) -> Result<(), NotifyError> {
        let setup = Setup::from_config(config)?;
        self.shared.set_setup(setup);
        let old = std::mem::replace(&mut *self.groups_cancel.lock(), CancellationToken::new());
        old.cancel();
        self.groups.lock().clear();
        let now = Utc::now();
        let alerts: Vec<Alert> = self
            .shared
            .alerts
            .lock()
            .values()
            .filter(|a| !a.resolved_at(now))
            .cloned()
            .collect();
        self.dispatch(alerts, true, now);
        Ok(())
    }

    /// Stops every group and the maintenance task.
    pub fn stop(&self) {
        self.groups_cancel.lock().cancel();
        self.stop.cancel();
    }

    /// Takes posted alerts: validates each (Alertmanager's messages), merges
    /// the valid ones and dispatches them. Returns the validation errors.
    pub fn put_alerts(&self, posted: Vec<PostableAlert>, forwarded: bool) -> Vec<String> {
        let now = Utc::now();
        let resolve_timeout = self.shared.setup().resolve_timeout;
        let mut errors = Vec::new();
        let mut merged_alerts = Vec::with_capacity(posted.len());
        {
            let mut store = self.shared.alerts.lock();
            for alert in posted {
                match Alert::from_postable(alert, now, resolve_timeout) {
                    Ok(alert) => {
                        let key = alert.fingerprint();
                        let merged = match store.get(&key) {
                            Some(existing) => existing.merge(&alert),
                            None => alert,
                        };
                        store.insert(key, merged.clone());
                        merged_alerts.push(merged);
                    }
                    Err(error) => errors.push(error),
                }
            }
        }
        self.dispatch(merged_alerts, forwarded, now);
        errors
    }

    fn dispatch(&self, alerts: Vec<Alert>, forwarded: bool, now: DateTime<Utc>) {
        let setup = self.shared.setup();
        let mut keyed = Vec::with_capacity(alerts.len());
        let mut by_key: HashMap<String, (&super::route::Route, super::alert::LabelSet)> =
            HashMap::new();
        for alert in &alerts {
            let mut keys = Vec::new();
            for route in setup.route.matching(&alert.labels) {
                let group_labels = route.group_labels(&alert.labels);
                let key = route.group_key(&group_labels);
                by_key.entry(key.clone()).or_insert((route, group_labels));
                keys.push(key);
            }
            keyed.push((alert.fingerprint(), keys));
        }
        let plan = plan_delivery(&keyed, self.owner.as_ref(), forwarded);
        let by_fingerprint: HashMap<u64, &Alert> =
            alerts.iter().map(|a| (a.fingerprint(), a)).collect();
        for (alert, keys) in &keyed {
            let Some(alert) = by_fingerprint.get(alert) else {
                continue;
            };
            for key in keys.iter().filter(|k| plan.local_group_keys.contains(k)) {
                let Some((route, group_labels)) = by_key.get(key) else {
                    continue;
                };
                self.insert_into_group(key, route, group_labels, (*alert).clone(), now);
            }
        }
        for (address, fingerprints) in plan.forward {
            let batch: Vec<PostableAlert> = fingerprints
                .iter()
                .filter_map(|f| by_fingerprint.get(f))
                .map(|alert| PostableAlert {
                    labels: alert.labels.clone(),
                    annotations: alert.annotations.clone(),
                    starts_at: Some(alert.starts_at),
                    ends_at: Some(alert.ends_at),
                    generator_url: alert.generator_url.clone(),
                })
                .collect();
            self.forward(address, batch);
        }
    }

    /// Adds `alert` to the group `key`, creating (and starting) the group
    /// if needed. The insert happens under the groups lock, so a group
    /// that is just ending (it checks emptiness under the same lock)
    /// cannot swallow the alert.
    fn insert_into_group(
        &self,
        key: &str,
        route: &super::route::Route,
        group_labels: &super::alert::LabelSet,
        alert: Alert,
        now: DateTime<Utc>,
    ) {
        let mut groups = self.groups.lock();
        if let Some(group) = groups.get(key) {
            group.insert(alert, now);
            return;
        }
        let group = Arc::new(AggregationGroup::new(
            key.to_string(),
            route.options.clone(),
            group_labels.clone(),
            now,
        ));
        groups.insert(key.to_string(), group.clone());
        let cancel = self.groups_cancel.lock().child_token();
        let registry = self.groups.clone();
        let shared = self.shared.clone();
        let running = group.clone();
        let key = key.to_string();
        self.runtime.spawn(async move {
            let on_empty = {
                let registry = registry.clone();
                let key = key.clone();
                let group = running.clone();
                move || {
                    let mut groups = registry.lock();
                    if !group.alerts.lock().is_empty() {
                        return false;
                    }
                    if groups.get(&key).is_some_and(|g| Arc::ptr_eq(g, &group)) {
                        groups.remove(&key);
                    }
                    true
                }
            };
            running.run(shared, cancel, on_empty).await;
        });
        group.insert(alert, now);
    }

    fn forward(&self, address: String, batch: Vec<PostableAlert>) {
        let client = self.client.clone();
        self.runtime.spawn(async move {
            let url = format!("http://{address}/api/v2/alerts");
            let answer = client
                .post(&url)
                .header(FORWARDED_HEADER, "true")
                .timeout(Duration::from_secs(10))
                .json(&batch)
                .send()
                .await;
            match answer {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => warn!(owner = %address, status = response.status().as_u16(), "forwarding alerts to the group owner failed"),
                Err(error) => warn!(owner = %address, err = %error, "forwarding alerts to the group owner failed"),
            }
        });
    }

    /// The groups currently held (key, receiver, group labels, alerts).
    pub fn groups(&self) -> Vec<Arc<AggregationGroup>> {
        self.groups.lock().values().cloned().collect()
    }

    fn spawn_maintenance(&self) {
        let shared = self.shared.clone();
        let stop = self.stop.clone();
        self.runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut rounds: u64 = 0;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                rounds += 1;
                let now = Utc::now();
                update_gauges(&shared, now);
                if rounds.is_multiple_of(60) {
                    // Resolved alerts stay listed for a while, then go.
                    let cutoff = now - chrono::Duration::minutes(15);
                    shared.alerts.lock().retain(|_, a| a.ends_at > cutoff);
                    match shared.silences.garbage_collect(now) {
                        Ok(0) => {}
                        Ok(dropped) => info!(dropped, "expired silences removed"),
                        Err(error) => warn!(err = %error, "silence maintenance failed"),
                    }
                }
            }
        });
    }
}

fn update_gauges(shared: &Shared, now: DateTime<Utc>) {
    let setup = shared.setup();
    let labels: Vec<_> = shared
        .alerts
        .lock()
        .values()
        .filter(|a| !a.resolved_at(now))
        .map(|a| a.labels.clone())
        .collect();
    let suppressed = labels
        .iter()
        .filter(|l| shared.is_muted(&setup, l, now))
        .count();
    shared
        .metrics
        .alerts
        .with_label_values(&["active"])
        .set((labels.len() - suppressed) as i64);
    shared
        .metrics
        .alerts
        .with_label_values(&["suppressed"])
        .set(suppressed as i64);
    shared
        .metrics
        .alerts
        .with_label_values(&["unprocessed"])
        .set(0);
    for (state, count) in shared.silences.count_by_state(now) {
        shared
            .metrics
            .silences
            .with_label_values(&[state])
            .set(count as i64);
    }
}

impl AlertSink for BuiltinAlertmanager {
    fn send(&self, alerts: Vec<PostableAlert>) {
        for error in self.put_alerts(alerts, false) {
            warn!(err = %error, "alert from a rule rejected");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_of_a_group_key_keeps_it() {
        let owner = |key: &str| {
            if key.contains("db") {
                GroupOwner::Remote("10.0.0.2:9090".into())
            } else {
                GroupOwner::Local
            }
        };
        let alerts = vec![
            (1, vec!["{}:{team=\"web\"}".to_string()]),
            (
                2,
                vec![
                    "{}:{team=\"db\"}".to_string(),
                    "{}/x:{team=\"db\"}".to_string(),
                ],
            ),
        ];
        let plan = plan_delivery(&alerts, &owner, false);
        assert_eq!(plan.local_group_keys, vec!["{}:{team=\"web\"}".to_string()]);
        assert_eq!(plan.forward.get("10.0.0.2:9090"), Some(&vec![2]));
        // A batch another node forwarded is grouped here, never bounced.
        let forwarded = plan_delivery(&alerts, &owner, true);
        assert_eq!(forwarded.local_group_keys.len(), 3);
        assert!(forwarded.forward.is_empty());
    }
}
