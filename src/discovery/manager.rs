//! The discovery manager: one provider per SD config of each job, the
//! merged state per job, published on a `watch` channel.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus::Registry;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::DiscoveryError;
use super::dns::{DnsDiscovery, DnsMetrics};
use super::file::{DEFAULT_POLL_INTERVAL, FileDiscovery};
use super::http::HttpDiscovery;
use super::metrics::{DiscoveryMetrics, MANAGER_NAME};
use super::target_group::TargetGroup;
use crate::config::SdConfig;
use crate::model::labels::Labels;

/// How often provider changes are passed on at most (Prometheus's 5s).
pub const DEFAULT_UPDATE_INTERVAL: Duration = Duration::from_secs(5);

/// Every job's current target groups.
pub type DiscoveryState = Arc<HashMap<String, Vec<TargetGroup>>>;

/// Runs the discovery providers of all jobs and publishes their targets.
///
/// Contract: call [`DiscoveryManager::run`] once (it spawns and stops the
/// providers); [`DiscoveryManager::apply_config`] may be called before or
/// while it runs, from any thread. Subscribers always see the full state
/// per job; the first update of a provider is passed on at once, later
/// ones at most every update interval.
pub struct DiscoveryManager {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    sender: watch::Sender<DiscoveryState>,
    update_sender: mpsc::UnboundedSender<ProviderUpdate>,
    update_receiver: Mutex<Option<mpsc::UnboundedReceiver<ProviderUpdate>>>,
    reconfigured: Notify,
    metrics: DiscoveryMetrics,
    update_interval: Duration,
    file_poll_interval: Duration,
    stop: CancellationToken,
}

#[derive(Default)]
struct State {
    providers_by_job: HashMap<String, Vec<Provider>>,
    pending_start: Vec<(u64, String, Runner)>,
    next_provider_id: u64,
    published_jobs: HashSet<String>,
}

struct Provider {
    id: u64,
    config: SdConfig,
    cancel: CancellationToken,
    groups: Vec<TargetGroup>,
    has_reported: bool,
}

/// What `apply_config` does with one SD config.
enum Plan {
    Static(TargetGroup),
    Keep,
    Start(Runner),
}

/// The id of static "providers", which have no task.
const STATIC_PROVIDER_ID: u64 = u64::MAX;

enum Runner {
    File(Box<FileDiscovery>),
    Http(Box<HttpDiscovery>),
    Dns(Box<DnsDiscovery>),
}

struct ProviderUpdate {
    provider_id: u64,
    groups: Vec<TargetGroup>,
}

impl DiscoveryManager {
    /// A manager registering its metrics in `registry`.
    pub fn new(registry: &Registry) -> Self {
        Self::with_intervals(registry, DEFAULT_UPDATE_INTERVAL, DEFAULT_POLL_INTERVAL)
    }

    /// A manager with a custom update throttle and file poll interval
    /// (tests use short ones).
    pub fn with_intervals(
        registry: &Registry,
        update_interval: Duration,
        file_poll_interval: Duration,
    ) -> Self {
        let (sender, _) = watch::channel(Arc::new(HashMap::new()));
        let (update_sender, update_receiver) = mpsc::unbounded_channel();
        DiscoveryManager {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                sender,
                update_sender,
                update_receiver: Mutex::new(Some(update_receiver)),
                reconfigured: Notify::new(),
                metrics: DiscoveryMetrics::new(registry),
                update_interval,
                file_poll_interval,
                stop: CancellationToken::new(),
            }),
        }
    }

    /// Replaces the set of jobs and their SD configs. Providers whose job
    /// and config are unchanged keep running with their current targets;
    /// new ones start, removed ones stop. Fails (changing nothing) when an
    /// HTTP SD client cannot be built, for example for an unreadable CA file.
    pub fn apply_config(
        &self,
        configs: &HashMap<String, Vec<SdConfig>>,
    ) -> Result<(), DiscoveryError> {
        let mut state = self.inner.state.lock();
        // Plan first, changing nothing, so that a config whose provider
        // cannot be built leaves the running ones untouched.
        let mut plans: Vec<(String, Vec<(SdConfig, Plan)>)> = Vec::with_capacity(configs.len());
        for (job_name, sd_configs) in configs {
            let mut running: Vec<&SdConfig> = state
                .providers_by_job
                .get(job_name)
                .map(|providers| {
                    providers
                        .iter()
                        .filter(|provider| provider.id != STATIC_PROVIDER_ID)
                        .map(|provider| &provider.config)
                        .collect()
                })
                .unwrap_or_default();
            let mut job_plans = Vec::with_capacity(sd_configs.len());
            for (position, sd_config) in sd_configs.iter().enumerate() {
                let plan = match sd_config {
                    SdConfig::Static(static_config) => {
                        let labels: Labels = static_config.labels.iter().collect();
                        Plan::Static(TargetGroup::from_addresses(
                            format!("{job_name}/static/{position}"),
                            static_config.targets.iter().map(String::as_str),
                            labels,
                        ))
                    }
                    _ if running.contains(&sd_config) => {
                        if let Some(found) = running.iter().position(|config| *config == sd_config)
                        {
                            running.swap_remove(found);
                        }
                        Plan::Keep
                    }
                    SdConfig::File(file_config) => Plan::Start(Runner::File(Box::new(
                        FileDiscovery::new(
                            file_config.clone(),
                            Some(self.inner.metrics.file_read_errors.clone()),
                        )
                        .with_poll_interval(self.inner.file_poll_interval),
                    ))),
                    SdConfig::Http(http_config) => {
                        let discovery = HttpDiscovery::new(
                            (**http_config).clone(),
                            Some(self.inner.metrics.http_failures.clone()),
                        )
                        .inspect_err(|_| {
                            self.inner
                                .metrics
                                .failed_configs
                                .with_label_values(&[MANAGER_NAME])
                                .set(1)
                        })?;
                        Plan::Start(Runner::Http(Box::new(discovery)))
                    }
                    SdConfig::Dns(dns_config) => {
                        let discovery = DnsDiscovery::new(
                            dns_config.clone(),
                            Some(DnsMetrics {
                                lookups: self.inner.metrics.dns_lookups.clone(),
                                failures: self.inner.metrics.dns_lookup_failures.clone(),
                            }),
                        )?;
                        Plan::Start(Runner::Dns(Box::new(discovery)))
                    }
                };
                job_plans.push((sd_config.clone(), plan));
            }
            plans.push((job_name.clone(), job_plans));
        }
        self.inner
            .metrics
            .failed_configs
            .with_label_values(&[MANAGER_NAME])
            .set(0);

        let mut old_providers = std::mem::take(&mut state.providers_by_job);
        for (job_name, job_plans) in plans {
            let mut reusable = old_providers.remove(&job_name).unwrap_or_default();
            let mut job_providers = Vec::with_capacity(job_plans.len());
            for (sd_config, plan) in job_plans {
                match plan {
                    Plan::Static(group) => job_providers.push(Provider {
                        id: STATIC_PROVIDER_ID,
                        config: sd_config,
                        cancel: CancellationToken::new(),
                        groups: vec![group],
                        has_reported: true,
                    }),
                    Plan::Keep => {
                        let found = reusable.iter().position(|provider| {
                            provider.id != STATIC_PROVIDER_ID && provider.config == sd_config
                        });
                        if let Some(found) = found {
                            job_providers.push(reusable.swap_remove(found));
                        }
                    }
                    Plan::Start(runner) => {
                        let provider_id = state.next_provider_id;
                        state.next_provider_id += 1;
                        state
                            .pending_start
                            .push((provider_id, job_name.clone(), runner));
                        job_providers.push(Provider {
                            id: provider_id,
                            config: sd_config,
                            cancel: CancellationToken::new(),
                            groups: Vec::new(),
                            has_reported: false,
                        });
                    }
                }
            }
            for stopped in reusable {
                stopped.cancel.cancel();
            }
            state.providers_by_job.insert(job_name, job_providers);
        }
        for stopped in old_providers.into_values().flatten() {
            stopped.cancel.cancel();
        }
        self.publish(&mut state);
        drop(state);
        self.inner.reconfigured.notify_one();
        Ok(())
    }

    /// Every job's groups, updated on change.
    pub fn subscribe(&self) -> watch::Receiver<DiscoveryState> {
        self.inner.sender.subscribe()
    }

    /// Starts providers as configs arrive and passes their updates on,
    /// until `cancel`; then stops every provider.
    pub async fn run(&self, cancel: CancellationToken) {
        let Some(mut updates) = self.inner.update_receiver.lock().take() else {
            tracing::error!("discovery manager is already running");
            return;
        };
        let mut dirty = false;
        let mut last_publish = Instant::now();
        loop {
            self.start_pending(&cancel);
            let throttle_until = last_publish + self.inner.update_interval;
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.inner.stop.cancelled() => break,
                _ = self.inner.reconfigured.notified() => {}
                Some(update) = updates.recv() => {
                    self.inner.metrics.received_updates.with_label_values(&[MANAGER_NAME]).inc();
                    let first_report = self.record_update(update);
                    dirty = true;
                    if first_report {
                        self.publish(&mut self.inner.state.lock());
                        last_publish = Instant::now();
                        dirty = false;
                    }
                }
                _ = tokio::time::sleep_until(throttle_until), if dirty => {
                    self.publish(&mut self.inner.state.lock());
                    last_publish = Instant::now();
                    dirty = false;
                }
            }
        }
        let state = self.inner.state.lock();
        for provider in state.providers_by_job.values().flatten() {
            provider.cancel.cancel();
        }
    }

    /// Makes [`DiscoveryManager::run`] return and stops every provider,
    /// as cancelling its token does.
    pub fn stop(&self) {
        self.inner.stop.cancel();
    }

    fn start_pending(&self, manager_cancel: &CancellationToken) {
        let pending = std::mem::take(&mut self.inner.state.lock().pending_start);
        for (provider_id, job_name, runner) in pending {
            let cancel = {
                let state = self.inner.state.lock();
                let provider = state.providers_by_job.get(&job_name).and_then(|providers| {
                    providers.iter().find(|provider| provider.id == provider_id)
                });
                match provider {
                    Some(provider) => provider.cancel.clone(),
                    None => continue,
                }
            };
            let sender = self.inner.update_sender.clone();
            let publish = move |groups: Vec<TargetGroup>| {
                let _ = sender.send(ProviderUpdate {
                    provider_id,
                    groups,
                });
            };
            let stop = manager_cancel.clone();
            let manager_stop = self.inner.stop.clone();
            tokio::spawn(async move {
                match runner {
                    Runner::File(discovery) => {
                        tokio::select! {
                            _ = stop.cancelled() => {}
                            _ = manager_stop.cancelled() => {}
                            _ = discovery.run(publish, cancel) => {}
                        }
                    }
                    Runner::Http(discovery) => {
                        tokio::select! {
                            _ = stop.cancelled() => {}
                            _ = manager_stop.cancelled() => {}
                            _ = discovery.run(publish, cancel) => {}
                        }
                    }
                    Runner::Dns(discovery) => {
                        tokio::select! {
                            _ = stop.cancelled() => {}
                            _ = manager_stop.cancelled() => {}
                            _ = discovery.run(publish, cancel) => {}
                        }
                    }
                }
            });
            tracing::debug!(job = %job_name, provider_id, "discovery provider started");
        }
    }

    /// Stores a provider's groups; true when it is the provider's first report.
    fn record_update(&self, update: ProviderUpdate) -> bool {
        let mut state = self.inner.state.lock();
        for provider in state.providers_by_job.values_mut().flatten() {
            if provider.id == update.provider_id {
                let first_report = !provider.has_reported;
                provider.has_reported = true;
                provider.groups = update.groups;
                return first_report;
            }
        }
        false
    }

    fn publish(&self, state: &mut State) {
        let mut current: HashMap<String, Vec<TargetGroup>> =
            HashMap::with_capacity(state.providers_by_job.len());
        for (job_name, providers) in &state.providers_by_job {
            let groups: Vec<TargetGroup> = providers
                .iter()
                .flat_map(|provider| provider.groups.iter().cloned())
                .collect();
            let target_count: usize = groups.iter().map(|group| group.targets.len()).sum();
            self.inner
                .metrics
                .discovered_targets
                .with_label_values(&[job_name.as_str(), MANAGER_NAME])
                .set(i64::try_from(target_count).unwrap_or(i64::MAX));
            current.insert(job_name.clone(), groups);
        }
        for removed in state
            .published_jobs
            .iter()
            .filter(|job_name| !current.contains_key(*job_name))
        {
            let _ = self
                .inner
                .metrics
                .discovered_targets
                .remove_label_values(&[removed.as_str(), MANAGER_NAME]);
        }
        state.published_jobs = current.keys().cloned().collect();
        self.inner.sender.send_replace(Arc::new(current));
        self.inner
            .metrics
            .updates_sent
            .with_label_values(&[MANAGER_NAME])
            .inc();
    }
}

#[cfg(test)]
mod tests;

impl DiscoveryManager {
    /// Builds every HTTP SD client the config needs, changing nothing
    /// (the check half of a reload).
    pub fn check_config(config: &crate::config::Config) -> Result<(), DiscoveryError> {
        for (job_name, sd_configs) in config.scrape_sd_configs() {
            for sd_config in sd_configs {
                if let SdConfig::Http(http_config) = sd_config {
                    HttpDiscovery::new((*http_config).clone(), None).map_err(|error| {
                        DiscoveryError::HttpClient(format!("job {job_name}: {error}"))
                    })?;
                }
            }
        }
        Ok(())
    }
}

impl crate::lifecycle::Reloader for DiscoveryManager {
    fn name(&self) -> &'static str {
        "discovery"
    }

    fn check(&self, config: &crate::config::Config) -> Result<(), String> {
        Self::check_config(config).map_err(|e| e.to_string())
    }

    fn apply(&self, config: &crate::config::Config) -> Result<(), String> {
        self.apply_config(&config.scrape_sd_configs())
            .map_err(|e| e.to_string())
    }
}

#[async_trait::async_trait]
impl crate::lifecycle::Stage for DiscoveryManager {
    fn name(&self) -> &'static str {
        "discovery"
    }

    async fn run(self: Arc<Self>, cancel: CancellationToken) {
        DiscoveryManager::run(&self, cancel).await;
    }
}
