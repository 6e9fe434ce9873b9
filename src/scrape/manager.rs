//! The scrape manager: one pool per job, fed by configuration (`apply_config`)
//! and discovery (`sync`); read by the targets and metadata API.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use super::ScrapeError;
use super::metrics::ScrapeMetrics;
use super::pool::{PoolDependencies, ScrapePool};
use super::settings::{ScrapeSettings, TargetGroup};
use super::target::Target;
use crate::model::{Labels, Metadata};
use crate::storage::Appendable;

/// Node-wide scrape options (not per job).
#[derive(Debug, Clone, Default)]
pub struct ScrapeOptions {
    /// Mixed into every target's offset so that two nodes (or two
    /// Prometheus servers) scraping the same target spread differently;
    /// Prometheus derives it from the external labels and hostname.
    pub offset_seed: u64,
    /// The host name put into `globalUrl` in place of a loopback host
    /// (Prometheus uses its external URL's host). `None`: URLs unchanged.
    pub global_url_host: Option<String>,
}

/// An active target as the API shows it.
#[derive(Debug, Clone)]
pub struct ActiveTargetView {
    /// The job.
    pub scrape_pool: String,
    /// The target with its labels and last scrape status.
    pub target: Arc<Target>,
}

/// A target dropped by relabeling, as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedTargetView {
    /// The job.
    pub scrape_pool: String,
    /// Its labels before relabeling.
    pub discovered_labels: Labels,
}

/// The metadata of one metric family on one target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetMetadata {
    /// The job.
    pub scrape_pool: String,
    /// The target's public labels.
    pub target_labels: Labels,
    /// The metric family name.
    pub metric: String,
    /// TYPE, HELP and UNIT.
    pub metadata: Metadata,
}

#[derive(Default)]
struct ManagerState {
    pools: BTreeMap<String, ScrapePool>,
    /// The last groups seen per job, to (re)populate pools created or
    /// changed by a later config.
    groups: HashMap<String, Vec<TargetGroup>>,
}

/// Runs every scrape pool. Thread-safe; every method may be called from
/// any task of the tokio runtime it was created in.
pub struct ScrapeManager {
    state: Mutex<ManagerState>,
    dependencies: PoolDependencies,
    options: ScrapeOptions,
}

impl ScrapeManager {
    /// A manager with no pools, writing through `appendable`, registering
    /// its self-metrics in `registry`. Must be called inside a tokio
    /// runtime; loops are spawned on it.
    pub fn new(
        appendable: Arc<dyn Appendable>,
        registry: &prometheus::Registry,
        options: ScrapeOptions,
    ) -> Result<Self, ScrapeError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ScrapeError::NoRuntime)?;
        let metrics = ScrapeMetrics::new(registry)?;
        Ok(ScrapeManager {
            state: Mutex::new(ManagerState::default()),
            dependencies: PoolDependencies {
                appendable,
                metrics,
                offset_seed: options.offset_seed,
                runtime,
            },
            options,
        })
    }

    /// The node-wide options.
    pub fn options(&self) -> &ScrapeOptions {
        &self.options
    }

    /// Applies a (re)loaded configuration: one entry per job. Pools whose
    /// settings are unchanged keep running untouched (no gap); changed pools
    /// restart their loops keeping each surviving target's status and,
    /// where the series-shaping settings are unchanged, its cache (no
    /// staleness markers); removed pools stop and write staleness markers.
    /// A pool that cannot be built (unreadable TLS file, ...) is skipped and
    /// the first such error returned; the other pools are still applied.
    pub fn apply_config(&self, pools: Vec<ScrapeSettings>) -> Result<(), ScrapeError> {
        let metrics = &self.dependencies.metrics;
        let mut state = self.state.lock();
        let state = &mut *state;
        let mut first_error = None;
        let wanted: BTreeMap<String, ScrapeSettings> = pools
            .into_iter()
            .map(|settings| (settings.job_name.clone(), settings))
            .collect();
        let removed: Vec<String> = state
            .pools
            .keys()
            .filter(|job| !wanted.contains_key(*job))
            .cloned()
            .collect();
        for job in removed {
            if let Some(mut pool) = state.pools.remove(&job) {
                tracing::info!(job = %job, "stopping scrape pool");
                drop(pool.stop(true));
            }
        }
        for (job, settings) in wanted {
            match state.pools.get_mut(&job) {
                Some(pool) if *pool.settings() == settings => {}
                Some(pool) => {
                    metrics.pool_reloads_total.inc();
                    if let Err(error) = pool.reload(settings) {
                        metrics.pool_reloads_failed_total.inc();
                        tracing::error!(job = %job, error = %error, "reloading scrape pool failed");
                        first_error.get_or_insert(error);
                    }
                }
                None => {
                    metrics.pools_total.inc();
                    match ScrapePool::new(settings, self.dependencies.clone()) {
                        Ok(mut pool) => {
                            if let Some(groups) = state.groups.get(&job) {
                                pool.sync(groups.clone(), &|_| false);
                            }
                            state.pools.insert(job, pool);
                        }
                        Err(error) => {
                            metrics.pools_failed_total.inc();
                            tracing::error!(job = %job, error = %error, "creating scrape pool failed");
                            first_error.get_or_insert(error);
                        }
                    }
                }
            }
        }
        metrics.pools_active.set(state.pools.len() as i64);
        match first_error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Updates the targets of the named jobs from discovery (after the
    /// cluster ownership filter). Each entry is the full current set of
    /// groups of its job; jobs not named keep their targets. Targets that
    /// disappear get staleness markers.
    pub fn sync(&self, groups: HashMap<String, Vec<TargetGroup>>) {
        self.sync_releasing(groups, &|_| false);
    }

    /// Like [`ScrapeManager::sync`], but a disappearing target for which
    /// `release(target_labels)` is true stops *without* staleness markers:
    /// the hook for a cluster hand-over, where another node carries the
    /// series on. `target_labels` are the target's labels after relabeling,
    /// including the `__`-prefixed ones (`__address__`, ...).
    pub fn sync_releasing(
        &self,
        groups: HashMap<String, Vec<TargetGroup>>,
        release: &dyn Fn(&Labels) -> bool,
    ) {
        let mut state = self.state.lock();
        for (job, job_groups) in groups {
            if let Some(pool) = state.pools.get_mut(&job) {
                pool.sync(job_groups.clone(), release);
            }
            state.groups.insert(job, job_groups);
        }
    }

    /// Every active target, by job then labels.
    pub fn active_targets(&self) -> Vec<ActiveTargetView> {
        let state = self.state.lock();
        state
            .pools
            .iter()
            .flat_map(|(job, pool)| {
                pool.active_targets()
                    .into_iter()
                    .map(move |(target, _)| ActiveTargetView {
                        scrape_pool: job.clone(),
                        target,
                    })
            })
            .collect()
    }

    /// The dropped targets kept for the API, by job.
    pub fn dropped_targets(&self) -> Vec<DroppedTargetView> {
        let state = self.state.lock();
        state
            .pools
            .iter()
            .flat_map(|(job, pool)| {
                pool.dropped_targets()
                    .iter()
                    .map(move |labels| DroppedTargetView {
                        scrape_pool: job.clone(),
                        discovered_labels: labels.clone(),
                    })
            })
            .collect()
    }

    /// How many targets relabeling dropped, per job (all of them, not only
    /// those kept for the API).
    pub fn dropped_target_counts(&self) -> BTreeMap<String, usize> {
        let state = self.state.lock();
        state
            .pools
            .iter()
            .map(|(job, pool)| (job.clone(), pool.dropped_count()))
            .collect()
    }

    /// The job names of the running pools.
    pub fn scrape_pools(&self) -> Vec<String> {
        self.state.lock().pools.keys().cloned().collect()
    }

    /// Metadata per target and metric family, by job, target, family.
    pub fn target_metadata(&self) -> Vec<TargetMetadata> {
        let targets: Vec<(
            String,
            Arc<Target>,
            Arc<Mutex<super::scrape_loop::LoopState>>,
        )> = {
            let state = self.state.lock();
            state
                .pools
                .iter()
                .flat_map(|(job, pool)| {
                    pool.active_targets()
                        .into_iter()
                        .map(move |(target, loop_state)| (job.clone(), target, loop_state))
                })
                .collect()
        };
        let mut out = Vec::new();
        for (job, target, loop_state) in targets {
            let target_labels = target.public_labels();
            let families = loop_state.lock().cache.metadata();
            out.extend(
                families
                    .into_iter()
                    .map(|(metric, metadata)| TargetMetadata {
                        scrape_pool: job.clone(),
                        target_labels: target_labels.clone(),
                        metric,
                        metadata,
                    }),
            );
        }
        out
    }

    /// Stops every pool, writing staleness markers for all their series,
    /// and waits until the loops have finished.
    pub async fn stop(&self) {
        let tasks: Vec<_> = {
            let mut state = self.state.lock();
            let mut tasks = Vec::new();
            for pool in state.pools.values_mut() {
                tasks.extend(pool.stop(true));
            }
            state.pools.clear();
            tasks
        };
        self.dependencies.metrics.pools_active.set(0);
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl ScrapeManager {
    /// Converts the config's scrape configs and builds each pool's client,
    /// changing nothing (the check half of a reload).
    pub fn check_config(config: &crate::config::Config) -> Result<Vec<ScrapeSettings>, String> {
        let pools = config
            .scrape_configs
            .iter()
            .map(ScrapeSettings::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        for pool in &pools {
            super::client::ScrapeClient::new(&pool.http_client, &pool.scrape_protocols)
                .map_err(|e| format!("job {}: {e}", pool.job_name))?;
        }
        Ok(pools)
    }
}

impl crate::lifecycle::Reloader for ScrapeManager {
    fn name(&self) -> &'static str {
        "scrape"
    }

    fn check(&self, config: &crate::config::Config) -> Result<(), String> {
        Self::check_config(config).map(|_| ())
    }

    fn apply(&self, config: &crate::config::Config) -> Result<(), String> {
        self.apply_config(Self::check_config(config)?)
            .map_err(|e| e.to_string())
    }
}

impl crate::cluster::routing::TargetSink for ScrapeManager {
    fn sync_targets(
        &self,
        groups: HashMap<String, Vec<TargetGroup>>,
        moved: &dyn Fn(&Labels) -> bool,
    ) {
        self.sync_releasing(groups, moved);
    }
}
