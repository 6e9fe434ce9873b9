//! The rule manager: loads the rule files named by the config, runs each
//! owned group on its own interval with a stable offset, keeps alert state
//! across reloads, restores `for` state after a restart, and marks the
//! series of removed groups stale.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::QueryFn;
use super::file::{RuleFileError, load_rule_file};
use super::group::{EvaluationContext, Group, group_key};
use super::metrics::RuleMetrics;
use super::restore::{RestoreSettings, restore_for_state};
use crate::config::Config;
use crate::model::Labels;
use crate::notify::AlertSink;
use crate::storage::{Appendable, Queryable};

/// Decides whether this node evaluates the group `(file, name)`.
pub type OwnsGroup = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// Why the manager could not apply a config.
#[derive(Debug, thiserror::Error)]
pub enum RuleManagerError {
    /// A `rule_files` pattern is not a valid glob.
    #[error("invalid rule file pattern {pattern:?}: {message}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// A rule file did not load.
    #[error("{0}")]
    File(#[from] RuleFileError),
    /// The self-metrics could not be registered.
    #[error("registering rule metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// What the manager needs from the node.
#[derive(Clone)]
pub struct RuleManagerOptions {
    /// Instant queries of rules and templates (the fan-out view).
    pub query: QueryFn,
    /// Where restore reads `ALERTS_FOR_STATE`.
    pub queryable: Arc<dyn Queryable>,
    /// Where rule output goes (the local TSDB).
    pub appendable: Arc<dyn Appendable>,
    /// Where alerts go.
    pub sink: Arc<dyn AlertSink>,
    /// `--web.external-url`.
    pub external_url: String,
    /// `--rules.alert.resend-delay`.
    pub resend_delay: Duration,
    /// `--rules.alert.for-outage-tolerance` and `--rules.alert.for-grace-period`.
    pub restore: RestoreSettings,
}

struct RunningGroup {
    group: Arc<Group>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct ManagerState {
    /// Every group of the current config, owned or not, by key.
    configured: BTreeMap<String, Arc<Group>>,
    /// The groups running here, by key.
    running: BTreeMap<String, RunningGroup>,
}

/// Runs rule groups. Cheap to share (`Arc`); every method may be called
/// from any thread inside the tokio runtime it was created in.
pub struct RuleManager {
    options: RuleManagerOptions,
    metrics: RuleMetrics,
    context: Arc<RwLock<EvaluationContext>>,
    owns: RwLock<OwnsGroup>,
    state: Mutex<ManagerState>,
    runtime: tokio::runtime::Handle,
}

impl RuleManager {
    /// A manager with no groups; call [`RuleManager::apply_config`].
    pub fn new(
        options: RuleManagerOptions,
        registry: &prometheus::Registry,
        runtime: tokio::runtime::Handle,
    ) -> Result<Arc<RuleManager>, RuleManagerError> {
        let context = EvaluationContext {
            query: options.query.clone(),
            appendable: options.appendable.clone(),
            sink: options.sink.clone(),
            external_labels: Labels::empty(),
            external_url: options.external_url.clone(),
            resend_delay: options.resend_delay,
        };
        Ok(Arc::new(RuleManager {
            metrics: RuleMetrics::register(registry)?,
            options,
            context: Arc::new(RwLock::new(context)),
            owns: RwLock::new(Arc::new(|_: &str, _: &str| true)),
            state: Mutex::new(ManagerState::default()),
            runtime,
        }))
    }

    /// Sets which groups this node evaluates and applies it at once.
    pub fn set_ownership(&self, owns: OwnsGroup) {
        *self.owns.write() = owns;
        self.resync();
    }

    /// Loads the rule files of `config` and (re)starts groups: unchanged
    /// groups keep running, changed ones take over their predecessor's
    /// alert state, removed ones have their series marked stale. On error
    /// the running groups stay as they are.
    pub fn apply_config(&self, config: &Config) -> Result<(), RuleManagerError> {
        let files = resolve_rule_files(&config.rule_files)?;
        let mut configured = BTreeMap::new();
        let default_interval = config.global.evaluation_interval.as_duration();
        let default_offset = config.global.rule_query_offset.as_duration();
        for path in files {
            let rule_file = load_rule_file(&path)?;
            let file = path.display().to_string();
            for definition in &rule_file.groups {
                let group = Group::new(&file, definition, default_interval, default_offset);
                configured.insert(group.key(), Arc::new(group));
            }
        }
        self.context.write().external_labels = config.global.external_labels.clone();
        let mut state = self.state.lock();
        // Keep the running instance of a group whose definition is unchanged.
        for (key, group) in configured.iter_mut() {
            if let Some(running) = state.running.get(key)
                && running.group.same_as(group)
            {
                *group = running.group.clone();
            }
        }
        state.configured = configured;
        self.sync(&mut state);
        Ok(())
    }

    /// Re-checks ownership of every configured group (after a ring change).
    pub fn resync(&self) {
        let mut state = self.state.lock();
        self.sync(&mut state);
    }

    fn sync(&self, state: &mut ManagerState) {
        let owns = self.owns.read().clone();
        let now_ms = now_ms();
        let wanted: BTreeMap<String, Arc<Group>> = state
            .configured
            .iter()
            .filter(|(_, group)| owns(&group.file, &group.name))
            .map(|(key, group)| (key.clone(), group.clone()))
            .collect();
        let keys: Vec<String> = state.running.keys().cloned().collect();
        for key in keys {
            let keep = wanted.get(&key).is_some_and(|group| {
                state
                    .running
                    .get(&key)
                    .is_some_and(|r| Arc::ptr_eq(&r.group, group))
            });
            if keep {
                continue;
            }
            let Some(old) = state.running.remove(&key) else {
                continue;
            };
            old.cancel.cancel();
            old.group.retire();
            match wanted.get(&key) {
                Some(successor) => successor.copy_state_from(&old.group),
                None => {
                    let moved = state.configured.contains_key(&key);
                    old.group
                        .mark_all_stale(now_ms, self.options.appendable.as_ref(), moved);
                    self.metrics.forget(&key);
                    tracing::info!(group = %old.group.name, file = %old.group.file, moved, "rule group stopped here");
                }
            }
        }
        for (key, group) in wanted {
            if state.running.contains_key(&key) {
                continue;
            }
            let cancel = CancellationToken::new();
            self.metrics
                .interval
                .with_label_values(&[&key])
                .set(group.interval.as_secs_f64());
            self.metrics
                .rules
                .with_label_values(&[&key])
                .set(group.rules.len() as f64);
            let task = self.runtime.spawn(run_group(
                group.clone(),
                self.context.clone(),
                self.metrics.clone(),
                self.options.queryable.clone(),
                self.options.restore,
                cancel.clone(),
            ));
            state.running.insert(
                key,
                RunningGroup {
                    group,
                    cancel,
                    task,
                },
            );
        }
    }

    /// The groups evaluated here, by file and name.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        self.state
            .lock()
            .running
            .values()
            .map(|running| running.group.clone())
            .collect()
    }

    /// Stops every group and waits for evaluations in progress. Series are
    /// not marked stale: a restart restores from them.
    pub async fn stop(&self) {
        let running: Vec<RunningGroup> = std::mem::take(&mut self.state.lock().running)
            .into_values()
            .collect();
        for group in &running {
            group.cancel.cancel();
        }
        for group in running {
            let _ = group.task.await;
        }
    }
}

/// Expands the `rule_files` patterns (already resolved against the
/// config's directory) into files, sorted within each pattern.
pub fn resolve_rule_files(patterns: &[String]) -> Result<Vec<PathBuf>, RuleManagerError> {
    let mut files = Vec::new();
    for pattern in patterns {
        let matches = glob::glob(pattern).map_err(|error| RuleManagerError::Pattern {
            pattern: pattern.clone(),
            message: error.to_string(),
        })?;
        let mut matched: Vec<PathBuf> = matches.filter_map(Result::ok).collect();
        matched.sort();
        for path in matched {
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    Ok(files)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Waits until wall-clock time `target_ms` or cancellation; false if cancelled.
async fn sleep_until_ms(target_ms: i64, cancel: &CancellationToken) -> bool {
    let wait = (target_ms - now_ms()).max(0) as u64;
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(Duration::from_millis(wait)) => true,
    }
}

async fn run_group(
    group: Arc<Group>,
    context: Arc<RwLock<EvaluationContext>>,
    metrics: RuleMetrics,
    queryable: Arc<dyn Queryable>,
    restore: RestoreSettings,
    cancel: CancellationToken,
) {
    let key = group_key(&group.file, &group.name);
    let interval_ms = group.interval.as_millis().max(1) as i64;
    let mut next_ms = group.evaluation_timestamp(now_ms()) + interval_ms;
    let mut evaluations = 0u64;
    tracing::info!(group = %group.name, file = %group.file, interval_ms, "rule group started");
    loop {
        if !sleep_until_ms(next_ms, &cancel).await {
            return;
        }
        let now = now_ms();
        let missed = ((now - next_ms) / interval_ms).max(0);
        if missed > 0 {
            metrics
                .iterations_missed
                .with_label_values(&[&key])
                .inc_by(missed as u64);
        }
        metrics
            .iterations
            .with_label_values(&[&key])
            .inc_by(missed as u64 + 1);
        let ts_ms = next_ms + missed * interval_ms;
        let evaluation_context = context.read().clone();
        let evaluated = group.clone();
        let metrics_for_task = metrics.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            evaluated.evaluate(ts_ms, &evaluation_context, Some(&metrics_for_task));
        })
        .await;
        if let Err(error) = outcome {
            tracing::error!(group = %group.name, err = %error, "rule group evaluation panicked");
        }
        evaluations += 1;
        // As Prometheus: restore after the second evaluation, so recording
        // rules the alerts depend on have run.
        if evaluations == 2 && !group.is_restored() {
            let restored = group.clone();
            let queryable = queryable.clone();
            let started = std::time::Instant::now();
            let _ = tokio::task::spawn_blocking(move || {
                restore_for_state(&restored, now_ms(), queryable.as_ref(), restore);
            })
            .await;
            metrics
                .last_restore_duration
                .with_label_values(&[&key])
                .set(started.elapsed().as_secs_f64());
        }
        next_ms = ts_ms + interval_ms;
    }
}

impl RuleManager {
    /// Resolves and parses every rule file the config names, changing
    /// nothing (the check half of a reload).
    pub fn check_config(config: &Config) -> Result<(), RuleManagerError> {
        for path in resolve_rule_files(&config.rule_files)? {
            load_rule_file(&path)?;
        }
        Ok(())
    }
}

impl crate::lifecycle::Reloader for RuleManager {
    fn name(&self) -> &'static str {
        "rules"
    }

    fn check(&self, config: &Config) -> Result<(), String> {
        Self::check_config(config).map_err(|e| format!("loading rule files: {e}"))
    }

    fn apply(&self, config: &Config) -> Result<(), String> {
        self.apply_config(config)
            .map_err(|e| format!("loading rule files: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NoSink;
    use crate::promql::{Engine, EngineOptions};
    use crate::storage::memory::MemStorage;

    fn manager(storage: &MemStorage) -> Arc<RuleManager> {
        let options = RuleManagerOptions {
            query: super::super::engine_query_fn(
                Arc::new(Engine::new(EngineOptions::default())),
                Arc::new(storage.clone()),
            ),
            queryable: Arc::new(storage.clone()),
            appendable: Arc::new(storage.clone()),
            sink: Arc::new(NoSink),
            external_url: "http://localhost:9090".to_string(),
            resend_delay: Duration::from_secs(60),
            restore: RestoreSettings {
                outage_tolerance: Duration::from_secs(3600),
                grace_period: Duration::from_secs(600),
            },
        };
        RuleManager::new(
            options,
            &prometheus::Registry::new(),
            tokio::runtime::Handle::current(),
        )
        .expect("manager")
    }

    fn config(directory: &std::path::Path, rules: &str) -> Config {
        std::fs::write(directory.join("a.rules.yml"), rules).expect("write rules");
        let path = directory.join("prometheus.yml");
        std::fs::write(&path, "rule_files: ['*.rules.yml']\n").expect("write config");
        crate::config::load_file(&path).expect("config")
    }

    fn names(manager: &RuleManager) -> Vec<String> {
        let mut names: Vec<String> = manager
            .groups()
            .iter()
            .map(|group| group.name.clone())
            .collect();
        names.sort();
        names
    }

    const TWO_GROUPS: &str = "groups:\n  - name: one\n    rules:\n      - record: a\n        expr: vector(1)\n  - name: two\n    rules:\n      - record: b\n        expr: vector(2)\n";

    #[tokio::test]
    async fn groups_follow_the_config_and_the_ownership_predicate() {
        let storage = MemStorage::new();
        let manager = manager(&storage);
        let directory = tempfile::tempdir().expect("tempdir");
        manager
            .apply_config(&config(directory.path(), TWO_GROUPS))
            .expect("apply");
        assert_eq!(names(&manager), vec!["one", "two"]);
        let file = manager.groups()[0].file.clone();
        assert!(file.ends_with("a.rules.yml"), "{file}");

        manager.set_ownership(Arc::new(|_: &str, group: &str| group == "two"));
        assert_eq!(
            names(&manager),
            vec!["two"],
            "a group owned elsewhere stops here"
        );
        manager.set_ownership(Arc::new(|_: &str, _: &str| true));
        assert_eq!(
            names(&manager),
            vec!["one", "two"],
            "and starts again when it moves back"
        );

        // An unchanged group keeps its running instance across a reload.
        let before = manager.groups();
        manager
            .apply_config(&config(directory.path(), TWO_GROUPS))
            .expect("reapply");
        let after = manager.groups();
        assert!(before.iter().zip(&after).all(|(a, b)| Arc::ptr_eq(a, b)));

        // A broken file is refused and the running groups stay.
        let broken = config(
            directory.path(),
            "groups:\n  - name: one\n    rules:\n      - record: a\n        expr: 'sum('\n",
        );
        let error = manager
            .apply_config(&broken)
            .expect_err("broken rules are refused");
        assert!(
            error.to_string().contains("could not parse expression"),
            "{error}"
        );
        assert_eq!(names(&manager), vec!["one", "two"]);
        manager.stop().await;
        assert!(manager.groups().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn running_groups_evaluate_on_their_interval() {
        let storage = MemStorage::new();
        let manager = manager(&storage);
        let directory = tempfile::tempdir().expect("tempdir");
        let rules = "groups:\n  - name: fast\n    interval: 100ms\n    rules:\n      - record: answer\n        expr: vector(42)\n";
        manager
            .apply_config(&config(directory.path(), rules))
            .expect("apply");
        let answer = Labels::from_pairs(&[("__name__", "answer")]);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while storage.samples(&answer).map_or(0, |samples| samples.len()) < 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "the group did not evaluate three times"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let samples = storage.samples(&answer).unwrap_or_default();
        assert!(
            samples.windows(2).all(|pair| pair[1].0 - pair[0].0 == 100),
            "{samples:?}"
        );
        assert!(samples.iter().all(|(_, value)| *value == 42.0));
        // Removing the group marks its series stale.
        std::fs::write(directory.path().join("a.rules.yml"), "groups: []\n").expect("write");
        let path = directory.path().join("prometheus.yml");
        manager
            .apply_config(&crate::config::load_file(&path).expect("config"))
            .expect("apply");
        let last = storage.samples(&answer).unwrap_or_default();
        assert!(crate::model::is_stale_nan(last[last.len() - 1].1));
        manager.stop().await;
    }
}
