//! One scrape pool: the targets of one job and their loops.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::ScrapeError;
use super::client::ScrapeClient;
use super::metrics::ScrapeMetrics;
use super::scrape_loop::{LoopContext, LoopHandle, LoopState};
use super::settings::{ScrapeSettings, TargetGroup};
use super::target::{Populated, Target, targets_from_group};
use crate::model::Labels;
use crate::storage::Appendable;

/// What every pool shares with its manager.
#[derive(Clone)]
pub struct PoolDependencies {
    /// Where samples go.
    pub appendable: Arc<dyn Appendable>,
    /// Self-metrics.
    pub metrics: ScrapeMetrics,
    /// Mixed into each target's offset.
    pub offset_seed: u64,
    /// Where loops run.
    pub runtime: tokio::runtime::Handle,
}

struct ActiveEntry {
    target: Arc<Target>,
    handle: LoopHandle,
}

/// What to do with the loops of targets that survive a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Survivors {
    /// Leave them running.
    Keep,
    /// Restart them with the pool's (new) settings, keeping the cache.
    RestartKeepingCache,
    /// Restart them with a fresh cache.
    RestartWithFreshCache,
}

/// The targets of one job.
pub struct ScrapePool {
    settings: Arc<ScrapeSettings>,
    client: ScrapeClient,
    dependencies: PoolDependencies,
    active: HashMap<u64, ActiveEntry>,
    dropped: Vec<Labels>,
    dropped_count: usize,
    groups: Vec<TargetGroup>,
}

impl ScrapePool {
    /// A pool with no targets yet.
    pub fn new(
        settings: ScrapeSettings,
        dependencies: PoolDependencies,
    ) -> Result<Self, ScrapeError> {
        let client = ScrapeClient::new(&settings.http_client, &settings.scrape_protocols)?;
        dependencies
            .metrics
            .pool_target_limit
            .with_label_values(&[settings.job_name.as_str()])
            .set(settings.limits.target_limit as i64);
        Ok(ScrapePool {
            settings: Arc::new(settings),
            client,
            dependencies,
            active: HashMap::new(),
            dropped: Vec::new(),
            dropped_count: 0,
            groups: Vec::new(),
        })
    }

    /// The pool's settings.
    pub fn settings(&self) -> &ScrapeSettings {
        &self.settings
    }

    /// Replaces the discovered groups and reconciles the loops: new targets
    /// start, vanished ones stop. A vanished target gets staleness markers
    /// unless `release(labels)` says it is handed over to another node.
    pub fn sync(&mut self, groups: Vec<TargetGroup>, release: &dyn Fn(&Labels) -> bool) {
        self.groups = groups;
        self.reconcile(Survivors::Keep, release);
    }

    /// Moves the pool to new settings (a changed config). Surviving targets
    /// restart their loops without staleness markers and keep their cache
    /// when the series-shaping settings did not change.
    pub fn reload(&mut self, settings: ScrapeSettings) -> Result<(), ScrapeError> {
        let client = ScrapeClient::new(&settings.http_client, &settings.scrape_protocols)?;
        let survivors = if self.settings.cache_reusable_with(&settings) {
            Survivors::RestartKeepingCache
        } else {
            Survivors::RestartWithFreshCache
        };
        self.dependencies
            .metrics
            .pool_target_limit
            .with_label_values(&[settings.job_name.as_str()])
            .set(settings.limits.target_limit as i64);
        self.settings = Arc::new(settings);
        self.client = client;
        self.reconcile(survivors, &|_| false);
        Ok(())
    }

    /// Stops every loop; returns their tasks to wait for.
    pub fn stop(&mut self, write_staleness_markers: bool) -> Vec<JoinHandle<()>> {
        let job = self.settings.job_name.as_str();
        let _ = self
            .dependencies
            .metrics
            .pool_targets
            .remove_label_values(&[job]);
        let _ = self
            .dependencies
            .metrics
            .pool_target_limit
            .remove_label_values(&[job]);
        self.active
            .drain()
            .map(|(_, entry)| {
                entry.handle.stop(write_staleness_markers);
                entry.handle.into_join_handle()
            })
            .collect()
    }

    /// The active targets with their loop state, sorted by labels.
    pub fn active_targets(&self) -> Vec<(Arc<Target>, Arc<Mutex<LoopState>>)> {
        let mut targets: Vec<_> = self
            .active
            .values()
            .map(|entry| (entry.target.clone(), entry.handle.state.clone()))
            .collect();
        targets.sort_by(|a, b| a.0.all_labels().cmp(b.0.all_labels()));
        targets
    }

    /// The dropped targets kept for the API (at most
    /// `keep_dropped_targets`), as discovered.
    pub fn dropped_targets(&self) -> &[Labels] {
        &self.dropped
    }

    /// How many targets relabeling dropped in the last sync (all of them,
    /// also those beyond `keep_dropped_targets`).
    pub fn dropped_count(&self) -> usize {
        self.dropped_count
    }

    fn start_loop(&self, target: Arc<Target>, state: Arc<Mutex<LoopState>>) -> LoopHandle {
        let context = LoopContext {
            target,
            settings: self.settings.clone(),
            client: self.client.clone(),
            appendable: self.dependencies.appendable.clone(),
            metrics: self.dependencies.metrics.clone(),
            offset_seed: self.dependencies.offset_seed,
            state,
            forced_error: Arc::new(Mutex::new(None)),
        };
        LoopHandle::start(context, &self.dependencies.runtime)
    }

    fn reconcile(&mut self, survivors: Survivors, release: &dyn Fn(&Labels) -> bool) {
        let started = Instant::now();
        let job = self.settings.job_name.clone();
        let keep_dropped = self.settings.limits.keep_dropped_targets as usize;
        let mut wanted: Vec<(u64, Target)> = Vec::new();
        let mut wanted_hashes: HashMap<u64, usize> = HashMap::new();
        self.dropped.clear();
        self.dropped_count = 0;
        for group in &self.groups {
            for (discovered, outcome) in targets_from_group(&self.settings, group) {
                match outcome {
                    Ok(Populated::Active(labels)) => {
                        let target = Target::new(labels, discovered);
                        let hash = target.hash();
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            wanted_hashes.entry(hash)
                        {
                            slot.insert(wanted.len());
                            wanted.push((hash, target));
                        }
                    }
                    Ok(Populated::Dropped) => {
                        self.dropped_count += 1;
                        if keep_dropped == 0 || self.dropped.len() < keep_dropped {
                            self.dropped.push(discovered);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(job = %job, source = %group.source, labels = %discovered, error = %error, "creating target failed");
                    }
                }
            }
        }
        // A target that vanished while one with the same public labels and
        // URL appears (only its interval or timeout changed) is the same
        // series set: its successor takes over its state, without
        // staleness markers in between.
        let vanished: Vec<u64> = self
            .active
            .keys()
            .filter(|hash| !wanted_hashes.contains_key(hash))
            .copied()
            .collect();
        let mut vanished_by_series: HashMap<(Labels, String), ActiveEntry> = HashMap::new();
        for hash in vanished {
            if let Some(entry) = self.active.remove(&hash) {
                let key = (entry.target.public_labels(), entry.target.url().to_string());
                vanished_by_series.insert(key, entry);
            }
        }
        for (hash, target) in wanted {
            match self.active.remove(&hash) {
                Some(existing) if survivors == Survivors::Keep => {
                    self.active.insert(hash, existing);
                }
                Some(existing) => {
                    existing.handle.stop(false);
                    let state = existing.handle.state.clone();
                    if survivors == Survivors::RestartWithFreshCache {
                        *state.lock() = LoopState::new(&existing.target);
                    }
                    let handle = self.start_loop(existing.target.clone(), state);
                    self.active.insert(
                        hash,
                        ActiveEntry {
                            target: existing.target,
                            handle,
                        },
                    );
                }
                None => {
                    let target = Arc::new(target);
                    let key = (target.public_labels(), target.url().to_string());
                    let state = match vanished_by_series.remove(&key) {
                        Some(predecessor) => {
                            predecessor.handle.stop(false);
                            target.inherit_status(&predecessor.target);
                            let state = predecessor.handle.state.clone();
                            if survivors == Survivors::RestartWithFreshCache {
                                *state.lock() = LoopState::new(&target);
                            }
                            state
                        }
                        None => Arc::new(Mutex::new(LoopState::new(&target))),
                    };
                    let handle = self.start_loop(target.clone(), state);
                    self.active.insert(hash, ActiveEntry { target, handle });
                }
            }
        }
        for (_, entry) in vanished_by_series {
            let handed_over = release(entry.target.all_labels());
            entry.handle.stop(!handed_over);
        }
        self.apply_target_limit();
        let metrics = &self.dependencies.metrics;
        metrics
            .pool_targets
            .with_label_values(&[job.as_str()])
            .set(self.active.len() as i64);
        metrics
            .pool_sync_total
            .with_label_values(&[job.as_str()])
            .inc();
        metrics
            .sync_length
            .with_label_values(&[job.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }

    fn apply_target_limit(&self) {
        let limit = self.settings.limits.target_limit;
        let targets = self.active.len();
        let forced = if limit > 0 && targets as u64 > limit {
            self.dependencies.metrics.exceeded_target_limit_total.inc();
            Some(ScrapeError::TargetLimit { targets, limit })
        } else {
            None
        };
        for entry in self.active.values() {
            *entry.handle.forced_error.lock() = forced.clone();
        }
    }
}
