//! Sending alerts to external Alertmanagers (Prometheus's notifier): a
//! bounded queue that drops the oldest alerts when full, batches of at
//! most 256, global and per-Alertmanager `alert_relabel_configs`, and a
//! POST of each batch to `<scheme>://<address><path_prefix>/api/v2/alerts`
//! of every discovered Alertmanager, within the entry's timeout.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::metrics::SenderMetrics;
use super::{AlertSink, NotifyError, PostableAlert};
use crate::config::{AlertingConfig, AlertmanagerConfig, SdConfig};
use crate::discovery::{DiscoveryManager, TargetGroup};
use crate::http_client::{ClientOptions, HttpClient};
use crate::model::Labels;
use crate::model::relabel::{RelabelConfig, process};

/// Prometheus's default largest batch per POST
/// (`--alertmanager.notification-batch-size`).
pub const MAX_BATCH_SIZE: usize = 256;

/// One Alertmanager as `/api/v1/alertmanagers` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertmanagerEndpoint {
    /// The full URL alerts are posted to.
    pub url: String,
}

/// One `alertmanagers` entry with its discovered endpoints.
struct AlertmanagerSet {
    config: AlertmanagerConfig,
    client: HttpClient,
    active: RwLock<Vec<AlertmanagerEndpoint>>,
    dropped: RwLock<Vec<AlertmanagerEndpoint>>,
}

impl AlertmanagerSet {
    /// Turns discovered groups into endpoints: `__scheme__` and
    /// `__alerts_path__` are set first, `relabel_configs` may change or
    /// drop them, as Prometheus does.
    fn update(&self, groups: &[TargetGroup]) {
        let mut active = Vec::new();
        let mut dropped = Vec::new();
        let path = format!(
            "{}/api/v2/alerts",
            self.config.path_prefix.trim_end_matches('/')
        );
        for group in groups {
            for target in &group.targets {
                let mut pairs: BTreeMap<String, String> =
                    group.labels.to_pairs().into_iter().collect();
                pairs.extend(target.to_pairs());
                pairs.insert("__scheme__".into(), self.config.scheme.clone());
                pairs.insert("__alerts_path__".into(), path.clone());
                let labels: Labels = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let url_of = |labels: &Labels| {
                    format!(
                        "{}://{}{}",
                        labels.get_or_empty("__scheme__"),
                        labels.get_or_empty("__address__"),
                        labels.get_or_empty("__alerts_path__")
                    )
                };
                match process(&labels, &self.config.relabel_configs) {
                    Some(kept) if kept.has("__address__") => {
                        active.push(AlertmanagerEndpoint { url: url_of(&kept) })
                    }
                    _ => dropped.push(AlertmanagerEndpoint {
                        url: url_of(&labels),
                    }),
                }
            }
        }
        active.dedup();
        *self.active.write() = active;
        *self.dropped.write() = dropped;
    }
}

/// The sender; an [`AlertSink`].
pub struct AlertmanagerSender {
    queue: Mutex<VecDeque<PostableAlert>>,
    capacity: usize,
    batch_size: std::sync::atomic::AtomicUsize,
    drain_on_shutdown: std::sync::atomic::AtomicBool,
    more: Notify,
    sets: RwLock<Vec<Arc<AlertmanagerSet>>>,
    global_relabel: RwLock<Vec<RelabelConfig>>,
    discovery: DiscoveryManager,
    metrics: SenderMetrics,
}

fn relabel_alert(alert: &PostableAlert, configs: &[RelabelConfig]) -> Option<PostableAlert> {
    if configs.is_empty() {
        return Some(alert.clone());
    }
    let labels: Labels = alert
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let relabeled = process(&labels, configs)?;
    if relabeled.is_empty() {
        return None;
    }
    let mut out = alert.clone();
    out.labels = relabeled.to_pairs().into_iter().collect();
    Some(out)
}

impl AlertmanagerSender {
    /// A sender with a queue of `capacity` alerts, registering its metrics.
    pub fn new(capacity: usize, registry: &prometheus::Registry) -> Result<Arc<Self>, NotifyError> {
        let metrics =
            SenderMetrics::new(registry).map_err(|e| NotifyError::Config(e.to_string()))?;
        metrics.queue_capacity.set(capacity as i64);
        Ok(Arc::new(AlertmanagerSender {
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            batch_size: std::sync::atomic::AtomicUsize::new(MAX_BATCH_SIZE),
            drain_on_shutdown: std::sync::atomic::AtomicBool::new(true),
            more: Notify::new(),
            sets: RwLock::new(Vec::new()),
            global_relabel: RwLock::new(Vec::new()),
            // A private registry: the scrape discovery owns the metric names.
            discovery: DiscoveryManager::new(&prometheus::Registry::new()),
            metrics,
        }))
    }

    /// Applies the `alerting` section (on start and on reload).
    pub fn apply_config(&self, alerting: &AlertingConfig) -> Result<(), NotifyError> {
        let mut sets = Vec::new();
        let mut sd = HashMap::new();
        for (position, config) in alerting.alertmanagers.iter().enumerate() {
            // TLS, proxy and redirect settings of the entry; credentials are
            // added per request (files are re-read, as Prometheus does).
            let client = HttpClient::new(&config.http_client, &ClientOptions::default())
                .map_err(|e| NotifyError::Config(format!("alertmanagers[{position}]: {e}")))?;
            let mut mechanisms: Vec<SdConfig> = config
                .static_configs
                .iter()
                .cloned()
                .map(SdConfig::Static)
                .collect();
            mechanisms.extend(config.file_sd_configs.iter().cloned().map(SdConfig::File));
            mechanisms.extend(
                config
                    .http_sd_configs
                    .iter()
                    .cloned()
                    .map(|c| SdConfig::Http(Box::new(c))),
            );
            mechanisms.extend(config.dns_sd_configs.iter().cloned().map(SdConfig::Dns));
            sd.insert(format!("config-{position}"), mechanisms);
            sets.push(Arc::new(AlertmanagerSet {
                config: config.clone(),
                client,
                active: RwLock::new(Vec::new()),
                dropped: RwLock::new(Vec::new()),
            }));
        }
        self.discovery
            .apply_config(&sd)
            .map_err(|e| NotifyError::Config(e.to_string()))?;
        *self.global_relabel.write() = alerting.alert_relabel_configs.clone();
        *self.sets.write() = sets;
        // Unchanged providers publish nothing new: fill the new sets from
        // what is already discovered.
        let current = self.discovery.subscribe().borrow().clone();
        self.apply_discovered(&current);
        Ok(())
    }

    /// Runs discovery and the send loop until `cancel`.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let discovery = {
            let this = self.clone();
            let cancel = cancel.clone();
            async move {
                let mut updates = this.discovery.subscribe();
                let running = this.discovery.run(cancel.clone());
                let follow = async {
                    loop {
                        let state = updates.borrow_and_update().clone();
                        this.apply_discovered(&state);
                        if updates.changed().await.is_err() {
                            return;
                        }
                    }
                };
                tokio::select! {
                    _ = running => {}
                    _ = follow => {}
                    _ = cancel.cancelled() => {}
                }
            }
        };
        let sending = async {
            loop {
                let batch = self.next_batch();
                if batch.is_empty() {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = self.more.notified() => continue,
                    }
                }
                self.send_batch(batch).await;
                if cancel.is_cancelled() {
                    break;
                }
            }
            // At shutdown, what is still queued is sent, batch by batch
            // (`--alertmanager.drain-notification-queue-on-shutdown`), or
            // dropped and counted.
            if self
                .drain_on_shutdown
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                loop {
                    let batch = self.next_batch();
                    if batch.is_empty() {
                        break;
                    }
                    self.send_batch(batch).await;
                }
            } else {
                let dropped = {
                    let mut queue = self.queue.lock();
                    let dropped = queue.len();
                    queue.clear();
                    dropped
                };
                if dropped > 0 {
                    self.metrics.dropped.inc_by(dropped as u64);
                    tracing::warn!(dropped, "dropping queued notifications at shutdown");
                }
            }
        };
        tokio::join!(discovery, sending);
    }

    /// Sets the largest batch per POST
    /// (`--alertmanager.notification-batch-size`; at least 1).
    pub fn set_batch_size(&self, batch_size: usize) {
        self.batch_size
            .store(batch_size.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether alerts still queued at shutdown are sent (true, the
    /// default) or dropped and counted in
    /// `prometheus_notifications_dropped_total`.
    pub fn set_drain_on_shutdown(&self, drain: bool) {
        self.drain_on_shutdown
            .store(drain, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes up to one batch off the queue and updates the queue length.
    fn next_batch(&self) -> Vec<PostableAlert> {
        let mut queue = self.queue.lock();
        let take = queue
            .len()
            .min(self.batch_size.load(std::sync::atomic::Ordering::Relaxed));
        let batch: Vec<PostableAlert> = queue.drain(..take).collect();
        self.metrics.queue_length.set(queue.len() as i64);
        batch
    }

    fn apply_discovered(&self, state: &HashMap<String, Vec<TargetGroup>>) {
        let sets = self.sets.read().clone();
        for (position, set) in sets.iter().enumerate() {
            let groups = state
                .get(&format!("config-{position}"))
                .cloned()
                .unwrap_or_default();
            set.update(&groups);
        }
        let discovered: usize = sets.iter().map(|s| s.active.read().len()).sum();
        self.metrics.alertmanagers_discovered.set(discovered as i64);
    }

    async fn send_batch(&self, batch: Vec<PostableAlert>) {
        let sets = self.sets.read().clone();
        let mut posts = Vec::new();
        for set in &sets {
            let alerts: Vec<PostableAlert> = batch
                .iter()
                .filter_map(|a| relabel_alert(a, &set.config.alert_relabel_configs))
                .collect();
            if alerts.is_empty() {
                continue;
            }
            let body = match serde_json::to_vec(&alerts) {
                Ok(body) => body,
                Err(error) => {
                    warn!(err = %error, "cannot encode alerts");
                    continue;
                }
            };
            for endpoint in set.active.read().clone() {
                let request = set
                    .client
                    .post(&endpoint.url)
                    .timeout(set.config.timeout.as_duration())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
                let count = alerts.len() as u64;
                let client = set.client.clone();
                posts.push(async move {
                    // Credential files are read (and an OAuth 2.0 token
                    // fetched) per request; a failure counts as an error.
                    let outcome = match client.authorize(request).await {
                        Err(error) => Err(format!("cannot authorize: {error}")),
                        Ok(request) => match request.send().await {
                            Ok(response) if response.status().is_success() => Ok(()),
                            Ok(response) => {
                                Err(format!("bad response status {}", response.status()))
                            }
                            Err(error) => Err(error.to_string()),
                        },
                    };
                    (endpoint.url, count, outcome)
                });
            }
        }
        if posts.is_empty() {
            return;
        }
        let mut any_succeeded = false;
        for (url, count, outcome) in futures::future::join_all(posts).await {
            match outcome {
                Ok(()) => {
                    any_succeeded = true;
                    self.metrics.sent.with_label_values(&[&url]).inc_by(count);
                    debug!(alertmanager = %url, count, "alerts sent");
                }
                Err(error) => {
                    self.metrics.errors.with_label_values(&[&url]).inc_by(count);
                    self.metrics.sent.with_label_values(&[&url]).inc_by(count);
                    warn!(alertmanager = %url, count, err = %error, "error sending alerts");
                }
            }
        }
        if !any_succeeded {
            self.metrics.dropped.inc_by(batch.len() as u64);
        }
    }

    /// The active and dropped Alertmanagers (`/api/v1/alertmanagers`).
    pub fn alertmanagers(&self) -> (Vec<AlertmanagerEndpoint>, Vec<AlertmanagerEndpoint>) {
        let sets = self.sets.read().clone();
        let active = sets.iter().flat_map(|s| s.active.read().clone()).collect();
        let dropped = sets.iter().flat_map(|s| s.dropped.read().clone()).collect();
        (active, dropped)
    }

    /// Whether any Alertmanager is configured.
    pub fn has_alertmanagers(&self) -> bool {
        !self.sets.read().is_empty()
    }
}

impl AlertSink for AlertmanagerSender {
    fn send(&self, alerts: Vec<PostableAlert>) {
        if !self.has_alertmanagers() {
            return;
        }
        let global = self.global_relabel.read().clone();
        let mut relabeled: Vec<PostableAlert> = alerts
            .iter()
            .filter_map(|a| relabel_alert(a, &global))
            .collect();
        let mut queue = self.queue.lock();
        if relabeled.len() > self.capacity {
            let excess = relabeled.len() - self.capacity;
            relabeled.drain(..excess);
            self.metrics.dropped.inc_by(excess as u64);
        }
        let overflow = (queue.len() + relabeled.len()).saturating_sub(self.capacity);
        if overflow > 0 {
            queue.drain(..overflow);
            self.metrics.dropped.inc_by(overflow as u64);
            warn!(
                dropped = overflow,
                "alert notification queue full, dropping alerts"
            );
        }
        queue.extend(relabeled);
        self.metrics.queue_length.set(queue.len() as i64);
        drop(queue);
        self.more.notify_one();
    }
}

/// Builds the client of every `alerting.alertmanagers` entry, changing
/// nothing (the check half of a reload).
pub fn check_alerting_config(alerting: &AlertingConfig) -> Result<(), NotifyError> {
    for (position, config) in alerting.alertmanagers.iter().enumerate() {
        HttpClient::new(&config.http_client, &ClientOptions::default())
            .map_err(|e| NotifyError::Config(format!("alertmanagers[{position}]: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str) -> PostableAlert {
        PostableAlert {
            labels: BTreeMap::from([("alertname".to_string(), name.to_string())]),
            ..PostableAlert::default()
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_alerts_and_counts_them() {
        let registry = prometheus::Registry::new();
        let sender = AlertmanagerSender::new(3, &registry).unwrap();
        let config: AlertingConfig = serde_saphyr::from_str(
            "alertmanagers:\n  - static_configs:\n      - targets: ['127.0.0.1:1']\n",
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { sender.apply_config(&config).unwrap() });
        sender.send(vec![alert("a"), alert("b")]);
        sender.send(vec![alert("c"), alert("d")]);
        let queued: Vec<String> = sender
            .queue
            .lock()
            .iter()
            .map(|a| a.labels["alertname"].clone())
            .collect();
        assert_eq!(queued, vec!["b", "c", "d"]);
        assert_eq!(sender.metrics.dropped.get(), 1);
        assert_eq!(sender.metrics.queue_length.get(), 3);
    }

    #[test]
    fn an_unreachable_alertmanager_counts_errors_and_drops() {
        let registry = prometheus::Registry::new();
        let sender = AlertmanagerSender::new(10, &registry).unwrap();
        let config: AlertingConfig = serde_saphyr::from_str(
            "alertmanagers:\n  - timeout: 2s\n    static_configs:\n      - targets: ['127.0.0.1:1']\n",
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let cancel = CancellationToken::new();
        runtime.block_on(async {
            sender.apply_config(&config).unwrap();
            tokio::spawn(sender.clone().run(cancel.clone()));
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
            while sender.alertmanagers().0.is_empty() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            sender.send(vec![alert("a"), alert("b")]);
            while sender.metrics.dropped.get() == 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        });
        cancel.cancel();
        let url = "http://127.0.0.1:1/api/v2/alerts";
        assert_eq!(sender.metrics.dropped.get(), 2);
        assert_eq!(sender.metrics.errors.with_label_values(&[url]).get(), 2);
        assert_eq!(sender.metrics.sent.with_label_values(&[url]).get(), 2);
        assert_eq!(sender.metrics.alertmanagers_discovered.get(), 1);
    }

    /// Sends five alerts in batches of two to an Alertmanager that holds
    /// the first POST until the sender has been cancelled; returns the
    /// batch sizes it received and the alerts dropped.
    fn stop_with_alerts_queued(drain: bool) -> (Vec<usize>, u64) {
        use std::sync::Mutex as StdMutex;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let batches = Arc::new(StdMutex::new(Vec::new()));
            let release = Arc::new(tokio::sync::Semaphore::new(0));
            let first_arrived = Arc::new(Notify::new());
            let app = {
                let (batches, release, first_arrived) =
                    (batches.clone(), release.clone(), first_arrived.clone());
                axum::Router::new().route(
                    "/api/v2/alerts",
                    axum::routing::post(move |body: axum::Json<Vec<serde_json::Value>>| {
                        let (batches, release, first_arrived) =
                            (batches.clone(), release.clone(), first_arrived.clone());
                        async move {
                            let first = {
                                let mut batches = batches.lock().unwrap();
                                batches.push(body.0.len());
                                batches.len() == 1
                            };
                            if first {
                                first_arrived.notify_one();
                                let _ = release.acquire().await;
                            }
                            "ok"
                        }
                    }),
                )
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await });

            let registry = prometheus::Registry::new();
            let sender = AlertmanagerSender::new(10, &registry).unwrap();
            sender.set_batch_size(2);
            sender.set_drain_on_shutdown(drain);
            let config: AlertingConfig = serde_saphyr::from_str(&format!(
                "alertmanagers:\n  - static_configs:\n      - targets: ['{address}']\n"
            ))
            .unwrap();
            sender.apply_config(&config).unwrap();
            let cancel = CancellationToken::new();
            let running = tokio::spawn(sender.clone().run(cancel.clone()));
            while sender.alertmanagers().0.is_empty() {
                tokio::task::yield_now().await;
            }
            sender.send((0..5).map(|i| alert(&format!("a{i}"))).collect());
            first_arrived.notified().await;
            cancel.cancel();
            release.add_permits(1);
            running.await.unwrap();
            let batches = batches.lock().unwrap().clone();
            (batches, sender.metrics.dropped.get())
        })
    }

    #[test]
    fn alerts_queued_at_shutdown_are_sent_in_batches() {
        let (batches, dropped) = stop_with_alerts_queued(true);
        assert_eq!(batches, vec![2, 2, 1]);
        assert_eq!(dropped, 0);
    }

    #[test]
    fn without_draining_alerts_queued_at_shutdown_are_dropped_and_counted() {
        let (batches, dropped) = stop_with_alerts_queued(false);
        assert_eq!(batches, vec![2]);
        assert_eq!(dropped, 3);
    }

    #[test]
    fn relabeling_changes_or_drops_alerts() {
        let configs: Vec<RelabelConfig> = serde_saphyr::from_str(
            "- source_labels: [alertname]\n  regex: Drop.*\n  action: drop\n- target_label: via\n  replacement: promshard\n",
        )
        .unwrap();
        assert!(relabel_alert(&alert("DropMe"), &configs).is_none());
        let kept = relabel_alert(&alert("Keep"), &configs).unwrap();
        assert_eq!(
            kept.labels.get("via").map(String::as_str),
            Some("promshard")
        );
    }

    #[test]
    fn discovered_alertmanagers_get_scheme_and_path() {
        let config: AlertmanagerConfig = serde_saphyr::from_str(
            "path_prefix: /am/\nrelabel_configs:\n  - source_labels: [__address__]\n    regex: .*:9999\n    action: drop\n",
        )
        .unwrap();
        let set = AlertmanagerSet {
            config,
            client: HttpClient::new(&Default::default(), &ClientOptions::default()).unwrap(),
            active: RwLock::new(Vec::new()),
            dropped: RwLock::new(Vec::new()),
        };
        set.update(&[TargetGroup::from_addresses(
            "s",
            ["127.0.0.1:9093", "127.0.0.1:9999"],
            Labels::empty(),
        )]);
        assert_eq!(
            *set.active.read(),
            vec![AlertmanagerEndpoint {
                url: "http://127.0.0.1:9093/am/api/v2/alerts".into()
            }]
        );
        assert_eq!(set.dropped.read().len(), 1);
    }
}
