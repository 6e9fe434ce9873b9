//! The remote-write manager: one queue and one WAL watcher per
//! `remote_write` entry, reconfigured on reload (unchanged entries keep
//! running; changed ones restart from their persisted position).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::config::remote::RemoteWriteConfig;
use crate::model::Labels;

use super::client::{HttpClientSettings, HttpWriteClient, WriteClient};
use super::metrics::RemoteMetrics;
use super::proto::{MetricMetadata, MetricMetadataType, WriteRequest};
use super::queue::{QueueManager, QueueSettings};
use super::watcher::{self, SegmentHold, WatcherSettings};

/// Asks the TSDB to keep WAL segments for a named reader.
pub type HoldFn = Arc<dyn Fn(&str, Option<u32>) + Send + Sync>;

/// The metric metadata to send (family name → TYPE/HELP/UNIT), from scrape.
pub type MetadataFn = Arc<dyn Fn() -> Vec<(String, crate::model::Metadata)> + Send + Sync>;

fn metadata_type(metric_type: crate::model::MetricType) -> MetricMetadataType {
    use crate::model::MetricType;
    match metric_type {
        MetricType::Counter => MetricMetadataType::Counter,
        MetricType::Gauge => MetricMetadataType::Gauge,
        MetricType::Histogram => MetricMetadataType::Histogram,
        MetricType::GaugeHistogram => MetricMetadataType::Gaugehistogram,
        MetricType::Summary => MetricMetadataType::Summary,
        MetricType::Info => MetricMetadataType::Info,
        MetricType::StateSet => MetricMetadataType::Stateset,
        MetricType::Unknown => MetricMetadataType::Unknown,
    }
}

/// Sends metric metadata every `send_interval`, as Prometheus does with
/// `metadata_config`, in requests of at most `max_per_send` entries, retrying
/// recoverable failures a few times.
async fn send_metadata_periodically(
    client: Arc<dyn WriteClient>,
    metadata: MetadataFn,
    interval: Duration,
    max_per_send: usize,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let mut entries: Vec<MetricMetadata> = metadata()
            .into_iter()
            .map(|(family, m)| MetricMetadata {
                r#type: metadata_type(m.metric_type) as i32,
                metric_family_name: family,
                help: m.help,
                unit: m.unit,
            })
            .collect();
        entries.sort_by(|a, b| a.metric_family_name.cmp(&b.metric_family_name));
        entries.dedup_by(|a, b| a.metric_family_name == b.metric_family_name);
        for chunk in entries.chunks(max_per_send.max(1)) {
            let body = super::codec::encode(&WriteRequest {
                timeseries: Vec::new(),
                metadata: chunk.to_vec(),
            });
            let mut backoff = Duration::from_millis(100);
            for attempt in 0..4u32 {
                match client.store(body.clone(), attempt).await {
                    Ok(()) => break,
                    Err(error) if error.is_retryable() && attempt < 3 => {
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                    Err(error) => {
                        tracing::warn!(err = %error, remote_name = client.name(), entries = chunk.len(), "remote write: metadata not sent");
                        break;
                    }
                }
            }
        }
    }
}

/// How long the flush at stop may take before unsent samples are left for
/// the next start, unless [`RemoteWriteManager::set_flush_deadline`] says
/// otherwise (`--storage.remote.flush-deadline`, one minute). Nothing
/// unsent is lost past it: the persisted resume position makes the next
/// start re-read it from the WAL.
const DEFAULT_FLUSH_DEADLINE: Duration = Duration::from_secs(60);

struct Running {
    fingerprint: String,
    queue: Arc<QueueManager>,
    cancel: CancellationToken,
    watcher: Option<std::thread::JoinHandle<()>>,
}

/// Runs every remote-write queue.
pub struct RemoteWriteManager {
    wal_dir: PathBuf,
    state_dir: PathBuf,
    max_hold: Duration,
    hold: HoldFn,
    metrics: RemoteMetrics,
    segments_lost: prometheus::IntCounter,
    runtime: tokio::runtime::Handle,
    running: Mutex<HashMap<String, Running>>,
    metadata: Mutex<Option<MetadataFn>>,
    flush_deadline: Mutex<Duration>,
}

/// The queue's stable name: `name`, or a hash of the URL.
pub fn queue_name(config: &RemoteWriteConfig) -> String {
    if !config.name.is_empty() {
        return config.name.clone();
    }
    format!(
        "{:06x}",
        xxhash_rust::xxh3::xxh3_64(config.url.as_bytes()) & 0xff_ffff
    )
}

/// The client settings of a `remote_write` entry.
pub fn client_settings(config: &RemoteWriteConfig) -> Result<HttpClientSettings, String> {
    Ok(HttpClientSettings {
        name: queue_name(config),
        url: config.url.clone(),
        timeout: config.remote_timeout.as_duration(),
        headers: config.headers.clone(),
        http_client: config.http_client.clone(),
        retry_on_http_429: config.queue_config.retry_on_http_429,
    })
}

/// The queue settings of a `remote_write` entry.
pub fn queue_settings(config: &RemoteWriteConfig) -> QueueSettings {
    let q = &config.queue_config;
    QueueSettings {
        capacity: q.capacity as usize,
        min_shards: q.min_shards as usize,
        max_shards: q.max_shards as usize,
        max_samples_per_send: q.max_samples_per_send as usize,
        batch_send_deadline: q.batch_send_deadline.as_duration(),
        min_backoff: q.min_backoff.as_duration(),
        max_backoff: q.max_backoff.as_duration(),
    }
}

impl RemoteWriteManager {
    /// A manager reading `wal_dir` and keeping positions under `state_dir`.
    /// `max_hold` bounds how long WAL segments are kept for a stuck queue
    /// (default: the retention time).
    pub fn new(
        wal_dir: PathBuf,
        state_dir: PathBuf,
        max_hold: Duration,
        hold: HoldFn,
        registry: &prometheus::Registry,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, String> {
        let metrics = RemoteMetrics::new(registry).map_err(|e| e.to_string())?;
        let segments_lost = prometheus::IntCounter::new(
            "promshard_remote_storage_wal_segments_lost_total",
            "WAL segments deleted before a remote-write queue had sent them (past the hold bound).",
        )
        .map_err(|e| e.to_string())?;
        registry
            .register(Box::new(segments_lost.clone()))
            .map_err(|e| e.to_string())?;
        Ok(RemoteWriteManager {
            wal_dir,
            state_dir,
            max_hold,
            hold,
            metrics,
            segments_lost,
            runtime,
            running: Mutex::new(HashMap::new()),
            metadata: Mutex::new(None),
            flush_deadline: Mutex::new(DEFAULT_FLUSH_DEADLINE),
        })
    }

    /// How long a queue's flush may take when it stops (at shutdown or
    /// when a reload removes it) before what is unsent is left for the
    /// next start to re-read from the WAL.
    pub fn set_flush_deadline(&self, deadline: Duration) {
        *self.flush_deadline.lock() = deadline;
    }

    /// Where metric metadata comes from (the scrape manager); without it no
    /// metadata is sent. Takes effect for queues started afterwards.
    pub fn set_metadata_source(&self, source: MetadataFn) {
        *self.metadata.lock() = Some(source);
    }

    /// Starts, keeps or restarts queues to match `configs`.
    pub fn apply_config(
        &self,
        configs: &[RemoteWriteConfig],
        external_labels: &Labels,
    ) -> Result<(), String> {
        let mut wanted = HashMap::new();
        for config in configs {
            let name = queue_name(config);
            let fingerprint = format!("{config:?}{external_labels:?}");
            if wanted.insert(name.clone(), (config, fingerprint)).is_some() {
                return Err(format!("duplicate remote_write name {name:?}"));
            }
        }
        let mut to_stop = Vec::new();
        {
            let mut running = self.running.lock();
            let names: Vec<String> = running.keys().cloned().collect();
            for name in names {
                let keep = wanted.get(&name).is_some_and(|(_, fp)| {
                    running.get(&name).is_some_and(|r| &r.fingerprint == fp)
                });
                if !keep && let Some(stopped) = running.remove(&name) {
                    to_stop.push((name, stopped));
                }
            }
        }
        for (name, stopped) in to_stop {
            self.stop_one(&name, stopped);
        }
        for (name, (config, fingerprint)) in wanted {
            if self.running.lock().contains_key(&name) {
                continue;
            }
            let client: Arc<dyn WriteClient> =
                Arc::new(HttpWriteClient::new(client_settings(config)?)?);
            let queue = QueueManager::new(
                client.clone(),
                queue_settings(config),
                config.write_relabel_configs.clone(),
                external_labels.clone(),
                self.metrics.clone(),
            );
            let cancel = CancellationToken::new();
            let hold_all = self.hold.clone();
            let hold_name = format!("remote_write/{name}");
            let hold: SegmentHold = Arc::new(move |segment| hold_all(&hold_name, segment));
            let settings = WatcherSettings {
                wal_dir: self.wal_dir.clone(),
                position_file: self.state_dir.join(format!("{name}.position.json")),
                max_hold: self.max_hold,
                hold,
                segments_lost: self.segments_lost.clone(),
            };
            {
                let queue = queue.clone();
                let cancel = cancel.clone();
                self.runtime
                    .spawn(queue.run_resharding(Duration::from_secs(10), cancel));
            }
            let metadata_source = self.metadata.lock().clone();
            if config.metadata_config.send
                && let Some(source) = metadata_source
            {
                self.runtime.spawn(send_metadata_periodically(
                    client.clone(),
                    source,
                    config
                        .metadata_config
                        .send_interval
                        .as_duration()
                        .max(Duration::from_secs(1)),
                    config.metadata_config.max_samples_per_send as usize,
                    cancel.clone(),
                ));
            }
            let watcher = {
                let queue = queue.clone();
                let cancel = cancel.clone();
                let runtime = self.runtime.clone();
                std::thread::Builder::new()
                    .name(format!("wal-watcher-{name}"))
                    .spawn(move || watcher::run(settings, queue, runtime, cancel))
                    .map_err(|e| e.to_string())?
            };
            tracing::info!(remote_name = %name, url = %config.url, "remote write: queue started");
            self.running.lock().insert(
                name,
                Running {
                    fingerprint,
                    queue,
                    cancel,
                    watcher: Some(watcher),
                },
            );
        }
        Ok(())
    }

    fn stop_one(&self, name: &str, mut running: Running) {
        running.cancel.cancel();
        if let Some(watcher) = running.watcher.take() {
            let _ = watcher.join();
        }
        let queue = running.queue.clone();
        let deadline = *self.flush_deadline.lock();
        self.runtime
            .block_on(async move { queue.stop(deadline).await });
        // The watcher persisted its position before exiting; persist again
        // after the flush, which may have moved it forward.
        if let Some(position) = running.queue.resume_position() {
            let _ = watcher::save_position(
                &self.state_dir.join(format!("{name}.position.json")),
                position,
            );
        }
        (self.hold)(&format!("remote_write/{name}"), None);
        tracing::info!(remote_name = %name, "remote write: queue stopped");
    }

    /// Stops every queue (flushing for up to a minute). Call from a
    /// blocking context, not from an async task.
    pub fn stop(&self) {
        let all: Vec<(String, Running)> = self.running.lock().drain().collect();
        for (name, running) in all {
            self.stop_one(&name, running);
        }
    }

    /// The queues, for tests and status: name → pending samples.
    pub fn pending(&self) -> HashMap<String, u64> {
        self.running
            .lock()
            .iter()
            .map(|(n, r)| (n.clone(), r.queue.pending()))
            .collect()
    }
}

impl RemoteWriteManager {
    /// Checks the `remote_write` entries (unique names) and builds each
    /// one's client, changing nothing (the check half of a reload).
    pub fn check_config(configs: &[RemoteWriteConfig]) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for config in configs {
            let name = queue_name(config);
            if !names.insert(name.clone()) {
                return Err(format!("duplicate remote_write name {name:?}"));
            }
            HttpWriteClient::new(client_settings(config)?)
                .map_err(|e| format!("remote_write {name}: {e}"))?;
        }
        Ok(())
    }
}

impl crate::lifecycle::Reloader for RemoteWriteManager {
    fn name(&self) -> &'static str {
        "remote_write"
    }

    fn check(&self, config: &crate::config::Config) -> Result<(), String> {
        Self::check_config(&config.remote_write)
    }

    fn apply(&self, config: &crate::config::Config) -> Result<(), String> {
        self.apply_config(&config.remote_write, &config.global.external_labels)
    }
}

#[async_trait::async_trait]
impl crate::lifecycle::Stage for RemoteWriteManager {
    fn name(&self) -> &'static str {
        "remote_write"
    }

    /// The queues run on their own from `apply_config` on; this waits.
    async fn run(self: Arc<Self>, cancel: CancellationToken) {
        cancel.cancelled().await;
    }

    /// Flushes and stops every queue (blocking: off the async workers).
    async fn stop(&self) {
        tokio::task::block_in_place(|| RemoteWriteManager::stop(self));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Metadata, MetricType};
    use crate::remote::client::WriteClientError;

    struct Recording(Mutex<Vec<WriteRequest>>);

    #[async_trait::async_trait]
    impl WriteClient for Recording {
        async fn store(&self, body: Vec<u8>, _attempt: u32) -> Result<(), WriteClientError> {
            let request = crate::remote::codec::decode(&body).map_err(|e| {
                WriteClientError::NonRecoverable {
                    message: e.to_string(),
                }
            })?;
            self.0.lock().push(request);
            Ok(())
        }
        fn name(&self) -> &str {
            "rec"
        }
        fn endpoint(&self) -> &str {
            "http://rec"
        }
    }

    #[tokio::test]
    async fn metadata_is_sent_periodically_deduplicated_and_batched() {
        let client = Arc::new(Recording(Mutex::new(Vec::new())));
        let source: MetadataFn = Arc::new(|| {
            let counter = Metadata {
                metric_type: MetricType::Counter,
                help: "Requests.".into(),
                unit: String::new(),
            };
            vec![
                ("http_requests_total".to_string(), counter.clone()),
                ("http_requests_total".to_string(), counter),
                (
                    "temperature".to_string(),
                    Metadata {
                        metric_type: MetricType::Gauge,
                        help: "T.".into(),
                        unit: "celsius".into(),
                    },
                ),
            ]
        });
        let cancel = CancellationToken::new();
        let task = tokio::spawn(send_metadata_periodically(
            client.clone(),
            source,
            Duration::from_millis(10),
            1,
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(60)).await;
        cancel.cancel();
        let _ = task.await;
        let requests = client.0.lock();
        assert!(
            requests.len() >= 2,
            "sent every interval, one entry a request"
        );
        assert!(
            requests
                .iter()
                .all(|r| r.timeseries.is_empty() && r.metadata.len() == 1)
        );
        let first_round: Vec<&MetricMetadata> =
            requests.iter().take(2).map(|r| &r.metadata[0]).collect();
        assert_eq!(first_round[0].metric_family_name, "http_requests_total");
        assert_eq!(first_round[0].r#type, MetricMetadataType::Counter as i32);
        assert_eq!(first_round[1].metric_family_name, "temperature");
        assert_eq!(first_round[1].unit, "celsius");
    }
}
