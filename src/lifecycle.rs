//! One lifecycle for every stage of a running node: a config reload is a
//! check by every stage, then an apply by every stage ([`Reloader`],
//! [`reload`]), and every stage runs until cancelled and then stops
//! ([`Stage`], [`Stages`]). `node.rs` constructs the stages and keeps these
//! two lists, as Prometheus's `main.go` keeps its reloaders and run group.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use prometheus::{Gauge, IntGauge};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::config::Config;

/// A stage's part in loading a config.
///
/// Contract:
/// - [`Reloader::check`] converts and validates this stage's part of the
///   config and builds everything that can fail (clients, rule files,
///   regular expressions), changing nothing that runs. It may be called
///   with a config that is then never applied.
/// - [`Reloader::apply`] is called only after every stage's `check`
///   accepted the same config, in the order the reloaders were listed.
///   It swaps the new settings in, keeping what did not change running.
///   It should not fail for a config `check` accepted; when it does (a
///   file removed in between), the error is reported with the stage's
///   name, and the stages applied before it keep the new config.
/// - Both are called from one reload at a time, off the async runtime's
///   worker threads (they may block on file I/O).
pub trait Reloader: Send + Sync {
    /// The stage's name in errors and logs (`scrape`, `rules`, ...).
    fn name(&self) -> &'static str;

    /// Checks that the config can be applied, changing nothing.
    fn check(&self, config: &Config) -> Result<(), String>;

    /// Applies a config that every stage's `check` accepted.
    fn apply(&self, config: &Config) -> Result<(), String>;
}

/// Why a config was not (fully) applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReloadError {
    /// A stage refused the config; nothing was applied.
    #[error("{stage}: {message}")]
    Refused {
        /// The stage.
        stage: &'static str,
        /// Its error (naming the file, line and field where it can).
        message: String,
    },
    /// A stage failed to apply a config every stage had accepted; the
    /// stages before it applied it.
    #[error("{stage}: applying the checked config failed: {message}")]
    ApplyFailed {
        /// The stage.
        stage: &'static str,
        /// Its error.
        message: String,
    },
}

/// Checks `config` with every reloader, then applies it with every one:
/// a config one stage refuses changes nothing anywhere.
pub fn reload(reloaders: &[Arc<dyn Reloader>], config: &Config) -> Result<(), ReloadError> {
    for reloader in reloaders {
        reloader
            .check(config)
            .map_err(|message| ReloadError::Refused {
                stage: reloader.name(),
                message,
            })?;
    }
    for reloader in reloaders {
        reloader
            .apply(config)
            .map_err(|message| ReloadError::ApplyFailed {
                stage: reloader.name(),
                message,
            })?;
    }
    Ok(())
}

/// Loads the config file and applies it through every reloader, keeping
/// Prometheus's reload metrics (`prometheus_config_last_reload_successful`,
/// `prometheus_config_last_reload_success_timestamp_seconds`).
pub struct ConfigReload {
    path: PathBuf,
    reloaders: Vec<Arc<dyn Reloader>>,
    last_successful: IntGauge,
    last_success_timestamp: Gauge,
    on_outcome: Vec<Box<dyn Fn(bool) + Send + Sync>>,
    /// One reload at a time (a SIGHUP racing `/-/reload`).
    running: parking_lot::Mutex<()>,
}

impl ConfigReload {
    /// Reloads `path` through `reloaders` (in that order), registering the
    /// reload metrics in `registry`.
    pub fn new(
        path: PathBuf,
        reloaders: Vec<Arc<dyn Reloader>>,
        registry: &prometheus::Registry,
    ) -> Result<Self, prometheus::Error> {
        let last_successful = IntGauge::new(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
        )?;
        let last_success_timestamp = Gauge::new(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
        )?;
        registry.register(Box::new(last_successful.clone()))?;
        registry.register(Box::new(last_success_timestamp.clone()))?;
        Ok(Self {
            path,
            reloaders,
            last_successful,
            last_success_timestamp,
            on_outcome: Vec::new(),
            running: parking_lot::Mutex::new(()),
        })
    }

    /// Calls `listener(success)` after every reload.
    pub fn on_outcome(&mut self, listener: impl Fn(bool) + Send + Sync + 'static) {
        self.on_outcome.push(Box::new(listener));
    }

    /// The config file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies an already loaded config (the first one, at start).
    pub fn apply(&self, config: &Config) -> Result<(), String> {
        let _one_at_a_time = self.running.lock();
        log_warnings(config);
        let outcome = reload(&self.reloaders, config).map_err(|e| e.to_string());
        self.record(&outcome);
        outcome
    }

    /// Loads the config file again and applies it; a file that does not
    /// load or a config any stage refuses leaves the running config whole.
    /// Blocks (file I/O): call it off the async workers.
    pub fn reload_file(&self) -> Result<(), String> {
        let _one_at_a_time = self.running.lock();
        let outcome = crate::config::load_file(&self.path)
            .map_err(|e| e.to_string())
            .and_then(|config| {
                log_warnings(&config);
                reload(&self.reloaders, &config).map_err(|e| e.to_string())
            });
        self.record(&outcome);
        outcome
    }

    fn record(&self, outcome: &Result<(), String>) {
        match outcome {
            Ok(()) => {
                info!(file = %self.path.display(), "completed loading of configuration file");
                self.last_successful.set(1);
                self.last_success_timestamp
                    .set(chrono::Utc::now().timestamp() as f64);
            }
            Err(message) => {
                error!(file = %self.path.display(), err = %message, "error reloading config; keeping the running one");
                self.last_successful.set(0);
            }
        }
        for listener in &self.on_outcome {
            listener(outcome.is_ok());
        }
    }
}

/// A checksum of the config file and every rule and scrape config file it
/// names, as
/// Prometheus's `auto-reload-config` feature compares them: a change to
/// any of them changes it. An unreadable or invalid config is an error
/// (the next check tries again).
pub fn config_checksum(path: &Path) -> Result<u64, String> {
    let text = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let config = crate::config::load_file(path).map_err(|e| e.to_string())?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&text);
    // The same glob expansion serves both lists of patterns.
    let mut files =
        crate::rules::manager::resolve_rule_files(&config.rule_files).map_err(|e| e.to_string())?;
    files.extend(
        crate::rules::manager::resolve_rule_files(&config.scrape_config_files)
            .map_err(|e| e.to_string())?,
    );
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        let content =
            std::fs::read(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        hasher.update(&content);
    }
    Ok(hasher.digest())
}

/// Logs every accepted setting that has no effect yet, by file, line and
/// field.
fn log_warnings(config: &Config) {
    for warning in config.warnings() {
        tracing::warn!(
            file = %warning.file,
            line = warning.line,
            field = warning.field(),
            "{} (accepted, not in effect)",
            warning.message
        );
    }
}

/// A stage that runs in the background of a node.
///
/// Contract: [`Stage::run`] works until `cancel` fires, then returns
/// promptly (within a second or so; it must not wait for slow peers).
/// [`Stage::stop`] is called after every stage's `run` has returned, in
/// the reverse of the order the stages were added, to flush and release
/// (close files, deregister, drain queues).
#[async_trait]
pub trait Stage: Send + Sync + 'static {
    /// The stage's name in logs.
    fn name(&self) -> &'static str;

    /// Runs until `cancel`.
    async fn run(self: Arc<Self>, cancel: CancellationToken);

    /// Flushes and releases after every stage stopped running.
    async fn stop(&self) {}
}

/// The stages of a node, started together and stopped in reverse order.
#[derive(Default)]
pub struct Stages {
    stages: Vec<Arc<dyn Stage>>,
    running: tokio::task::JoinSet<&'static str>,
}

impl Stages {
    /// No stages yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a stage and starts its `run` on the current runtime.
    pub fn start(&mut self, stage: Arc<dyn Stage>, cancel: &CancellationToken) {
        let name = stage.name();
        let running = stage.clone();
        let cancel = cancel.clone();
        self.running.spawn(async move {
            running.run(cancel).await;
            name
        });
        self.stages.push(stage);
    }

    /// Waits for every `run` to return (after `cancel` fired), then stops
    /// the stages in reverse order.
    pub async fn stop(mut self) {
        while let Some(joined) = self.running.join_next().await {
            match joined {
                Ok(name) => info!(stage = name, "stage stopped running"),
                Err(join_error) => error!(err = %join_error, "a stage panicked"),
            }
        }
        for stage in self.stages.iter().rev() {
            stage.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use parking_lot::Mutex;

    use super::*;

    struct Recorder {
        name: &'static str,
        refuse: bool,
        log: Arc<Mutex<Vec<String>>>,
        applied: AtomicUsize,
    }

    impl Reloader for Recorder {
        fn name(&self) -> &'static str {
            self.name
        }
        fn check(&self, _: &Config) -> Result<(), String> {
            self.log.lock().push(format!("check {}", self.name));
            if self.refuse {
                Err("prometheus.yml:3: field x: bad".to_string())
            } else {
                Ok(())
            }
        }
        fn apply(&self, _: &Config) -> Result<(), String> {
            self.log.lock().push(format!("apply {}", self.name));
            self.applied.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    type Log = Arc<Mutex<Vec<String>>>;

    fn recorders(refusing: Option<&'static str>) -> (Vec<Arc<dyn Reloader>>, Log) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let reloaders = ["discovery", "scrape", "rules"]
            .into_iter()
            .map(|name| {
                Arc::new(Recorder {
                    name,
                    refuse: Some(name) == refusing,
                    log: log.clone(),
                    applied: AtomicUsize::new(0),
                }) as Arc<dyn Reloader>
            })
            .collect();
        (reloaders, log)
    }

    #[test]
    fn every_stage_checks_before_any_applies() {
        let (reloaders, log) = recorders(None);
        reload(&reloaders, &Config::default()).expect("accepted");
        assert_eq!(
            *log.lock(),
            [
                "check discovery",
                "check scrape",
                "check rules",
                "apply discovery",
                "apply scrape",
                "apply rules"
            ]
        );
    }

    #[test]
    fn a_refusal_by_the_last_stage_applies_nothing_and_names_the_stage() {
        let (reloaders, log) = recorders(Some("rules"));
        let error = reload(&reloaders, &Config::default()).expect_err("refused");
        assert_eq!(error.to_string(), "rules: prometheus.yml:3: field x: bad");
        assert!(log.lock().iter().all(|entry| entry.starts_with("check")));
    }

    struct Counting {
        order: Arc<Mutex<Vec<&'static str>>>,
        name: &'static str,
    }

    #[async_trait]
    impl Stage for Counting {
        fn name(&self) -> &'static str {
            self.name
        }
        async fn run(self: Arc<Self>, cancel: CancellationToken) {
            cancel.cancelled().await;
            self.order.lock().push(self.name);
        }
        async fn stop(&self) {
            self.order.lock().push("stop");
            self.order.lock().push(self.name);
        }
    }

    #[tokio::test]
    async fn stages_stop_in_reverse_order_after_every_run_returned() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let cancel = CancellationToken::new();
        let mut stages = Stages::new();
        for name in ["first", "second"] {
            stages.start(
                Arc::new(Counting {
                    order: order.clone(),
                    name,
                }),
                &cancel,
            );
        }
        cancel.cancel();
        stages.stop().await;
        let order = order.lock();
        assert_eq!(&order[2..], ["stop", "second", "stop", "first"]);
        let mut runs = order[..2].to_vec();
        runs.sort();
        assert_eq!(runs, ["first", "second"]);
    }
}
