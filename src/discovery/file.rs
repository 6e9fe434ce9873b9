//! File-based discovery (`file_sd_configs`): JSON or YAML files of target
//! groups, found by glob, watched by polling modification times and re-read
//! every `refresh_interval`. A file that fails to read or parse keeps its
//! last good groups.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use prometheus::IntCounter;
use tokio_util::sync::CancellationToken;

use super::DiscoveryError;
use super::target_group::{GroupFormat, TargetGroup, parse_target_groups};
use crate::config::FileSdConfig;

/// The label holding the file a target came from.
pub const META_FILEPATH_LABEL: &str = "__meta_filepath";

/// How often file modification times are checked by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Reads one file of target groups (with `__meta_filepath`), the way
/// Prometheus's file SD and `promtool check config` do.
pub fn read_target_group_file(path: &str) -> Result<Vec<TargetGroup>, DiscoveryError> {
    let format = GroupFormat::from_path(path)?;
    let content = std::fs::read_to_string(path).map_err(|source| DiscoveryError::Read {
        path: path.to_string(),
        source,
    })?;
    parse_target_groups(&content, format, path, &[(META_FILEPATH_LABEL, path)])
}

/// Expands the config's patterns to the files that exist, sorted.
pub fn matching_files(config: &FileSdConfig) -> Result<Vec<PathBuf>, DiscoveryError> {
    let mut files = Vec::new();
    for pattern in &config.files {
        let paths = glob::glob(pattern).map_err(|error| DiscoveryError::Pattern {
            pattern: pattern.clone(),
            message: error.to_string(),
        })?;
        files.extend(paths.filter_map(Result::ok).filter(|path| path.is_file()));
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// One `file_sd_configs` entry's provider.
pub struct FileDiscovery {
    config: FileSdConfig,
    poll_interval: Duration,
    last_good_groups: BTreeMap<PathBuf, Vec<TargetGroup>>,
    seen_versions: BTreeMap<PathBuf, (Option<SystemTime>, u64)>,
    read_errors: Option<IntCounter>,
}

impl FileDiscovery {
    /// A provider for `config`; `read_errors` counts failed reads.
    pub fn new(config: FileSdConfig, read_errors: Option<IntCounter>) -> Self {
        FileDiscovery {
            config,
            poll_interval: DEFAULT_POLL_INTERVAL,
            last_good_groups: BTreeMap::new(),
            seen_versions: BTreeMap::new(),
            read_errors,
        }
    }

    /// Checks for changed files this often instead of every 5s.
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    fn current_versions(&self) -> BTreeMap<PathBuf, (Option<SystemTime>, u64)> {
        let files = matching_files(&self.config).unwrap_or_else(|error| {
            tracing::error!(%error, "file_sd pattern failed");
            Vec::new()
        });
        files
            .into_iter()
            .map(|path| {
                let metadata = std::fs::metadata(&path).ok();
                let modified = metadata
                    .as_ref()
                    .and_then(|metadata| metadata.modified().ok());
                let length = metadata.map_or(0, |metadata| metadata.len());
                (path, (modified, length))
            })
            .collect()
    }

    /// True when a file appeared, vanished or changed since the last refresh.
    pub fn files_changed(&self) -> bool {
        self.current_versions() != self.seen_versions
    }

    /// Re-reads every matching file and returns all current groups.
    pub fn refresh(&mut self) -> Vec<TargetGroup> {
        let versions = self.current_versions();
        let mut groups_by_file = BTreeMap::new();
        for path in versions.keys() {
            let path_text = path.to_string_lossy();
            match read_target_group_file(&path_text) {
                Ok(groups) => {
                    groups_by_file.insert(path.clone(), groups);
                }
                Err(error) => {
                    tracing::error!(file = %path_text, %error, "error reading file_sd file, keeping its last good targets");
                    if let Some(counter) = &self.read_errors {
                        counter.inc();
                    }
                    if let Some(previous) = self.last_good_groups.get(path) {
                        groups_by_file.insert(path.clone(), previous.clone());
                    }
                }
            }
        }
        self.last_good_groups = groups_by_file;
        self.seen_versions = versions;
        self.last_good_groups.values().flatten().cloned().collect()
    }

    /// Refreshes on start, on file changes and every `refresh_interval`,
    /// calling `publish` whenever the groups differ from the last published.
    pub async fn run(
        mut self,
        publish: impl Fn(Vec<TargetGroup>) + Send,
        cancel: CancellationToken,
    ) {
        let refresh_interval = self
            .config
            .refresh_interval
            .as_duration()
            .max(Duration::from_millis(10));
        let mut published = self.refresh();
        publish(published.clone());
        let mut last_refresh = Instant::now();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.poll_interval.min(refresh_interval)) => {}
            }
            if !self.files_changed() && last_refresh.elapsed() < refresh_interval {
                continue;
            }
            let groups = self.refresh();
            last_refresh = Instant::now();
            if groups != published {
                published = groups;
                publish(published.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::labels::ADDRESS_LABEL;

    fn config_for(directory: &std::path::Path) -> FileSdConfig {
        FileSdConfig {
            files: vec![
                directory.join("*.json").to_string_lossy().into_owned(),
                directory.join("*.yml").to_string_lossy().into_owned(),
            ],
            ..FileSdConfig::default()
        }
    }

    #[test]
    fn reads_json_and_yaml_files_with_meta_filepath() {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let json_path = directory.path().join("a.json");
        let yaml_path = directory.path().join("b.yml");
        std::fs::write(
            &json_path,
            r#"[{"targets": ["a:1"], "labels": {"env": "prod"}}]"#,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        std::fs::write(&yaml_path, "- targets: [b:2, c:3]\n")
            .unwrap_or_else(|error| panic!("{error}"));
        let mut discovery = FileDiscovery::new(config_for(directory.path()), None);
        let groups = discovery.refresh();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].source, format!("{}:0", json_path.display()));
        assert_eq!(
            groups[0].labels.get(META_FILEPATH_LABEL),
            Some(json_path.to_string_lossy().as_ref())
        );
        assert_eq!(groups[1].targets[1].get(ADDRESS_LABEL), Some("c:3"));
    }

    #[test]
    fn a_broken_file_keeps_its_last_good_groups_and_counts_the_error() {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = directory.path().join("a.json");
        std::fs::write(&path, r#"[{"targets": ["a:1"]}]"#)
            .unwrap_or_else(|error| panic!("{error}"));
        let errors = IntCounter::new("errors", "errors").unwrap_or_else(|error| panic!("{error}"));
        let mut discovery = FileDiscovery::new(config_for(directory.path()), Some(errors.clone()));
        assert_eq!(discovery.refresh().len(), 1);
        std::fs::write(&path, "[{\"targets\": [").unwrap_or_else(|error| panic!("{error}"));
        let groups = discovery.refresh();
        assert_eq!(groups.len(), 1, "last good groups kept");
        assert_eq!(groups[0].targets[0].get(ADDRESS_LABEL), Some("a:1"));
        assert_eq!(errors.get(), 1);
        std::fs::remove_file(&path).unwrap_or_else(|error| panic!("{error}"));
        assert!(
            discovery.refresh().is_empty(),
            "a removed file's groups go away"
        );
    }

    #[tokio::test]
    async fn run_publishes_changes_to_watched_files() {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = directory.path().join("a.json");
        std::fs::write(&path, r#"[{"targets": ["a:1"]}]"#)
            .unwrap_or_else(|error| panic!("{error}"));
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let discovery = FileDiscovery::new(config_for(directory.path()), None)
            .with_poll_interval(Duration::from_millis(20));
        let task =
            tokio::spawn(discovery.run(move |groups| drop(sender.send(groups)), cancel.clone()));
        let first = receiver.recv().await.unwrap_or_default();
        assert_eq!(first[0].targets.len(), 1);
        std::fs::write(&path, r#"[{"targets": ["a:1", "b:2"]}]"#)
            .unwrap_or_else(|error| panic!("{error}"));
        let second = tokio::time::timeout(Duration::from_secs(5), receiver.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        assert_eq!(second.first().map(|group| group.targets.len()), Some(2));
        cancel.cancel();
        let _ = task.await;
    }
}
