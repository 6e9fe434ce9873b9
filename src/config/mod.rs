//! The `prometheus.yml`-compatible configuration model.
//!
//! [`load_file`] and [`load_str`] read a Prometheus 3 configuration (plus
//! promshard's own `cluster` section), fill in Prometheus's defaults and
//! inherited values, validate it, and resolve relative file paths against
//! the config file's directory. Every error names the file, the line and
//! the field: `config.yml:12: field scrape_timeout: ...`.
//!
//! Anything Prometheus has that promshard does not support (an SD mechanism
//! such as `kubernetes_sd_configs`, `sigv4`, ...) is an error, never
//! silently skipped.

pub mod alerting;
pub mod check;
pub mod cluster;
pub mod duration;
pub mod global;
pub mod http_client;
pub mod locate;
pub mod notify;
pub mod remote;
pub mod scrape;
mod serde_helpers;
pub mod storage;
pub mod units;
mod validate;
pub mod warnings;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use alerting::{AlertingConfig, AlertmanagerConfig};
pub use cluster::{ClusterConfig, ClusterMode, EtcdConfig};
pub use duration::PromDuration;
pub use global::{GlobalConfig, ScrapeProtocol};
pub use http_client::{
    Authorization, BasicAuth, HttpClientConfig, OAuth2, Secret, TlsConfig, TlsVersion,
};
pub use notify::NotifyConfig;
pub use remote::{MetadataConfig, QueueConfig, RemoteReadConfig, RemoteWriteConfig};
pub use scrape::{DnsSdConfig, FileSdConfig, HttpSdConfig, ScrapeConfig, SdConfig, StaticConfig};
pub use storage::{ExemplarsConfig, StorageConfig, TsdbConfig};
pub use units::ByteSize;

use serde_helpers::null_as_default;

/// A loaded, validated configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Defaults inherited by scrape configs and rule groups.
    #[serde(deserialize_with = "null_as_default")]
    pub global: GlobalConfig,
    /// Alertmanagers and alert relabeling.
    #[serde(deserialize_with = "null_as_default")]
    pub alerting: AlertingConfig,
    /// Rule file globs, made absolute against the config's directory.
    #[serde(deserialize_with = "null_as_default")]
    pub rule_files: Vec<String>,
    /// The jobs: those of this file, then those of every
    /// `scrape_config_files` file (in pattern order, files sorted).
    #[serde(deserialize_with = "null_as_default")]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Globs of files holding more `scrape_configs`, made absolute against
    /// the config's directory; each file's relative paths resolve against
    /// its own directory, and its jobs take this file's `global` defaults.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scrape_config_files: Vec<String>,
    /// Remote-write receivers.
    #[serde(deserialize_with = "null_as_default")]
    pub remote_write: Vec<RemoteWriteConfig>,
    /// Remote-read endpoints.
    #[serde(deserialize_with = "null_as_default")]
    pub remote_read: Vec<RemoteReadConfig>,
    /// TSDB settings reloadable at run time (the out-of-order window) and
    /// exemplar storage (accepted, not stored).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_default_storage"
    )]
    pub storage: StorageConfig,
    /// promshard's membership and ring settings.
    #[serde(deserialize_with = "null_as_default")]
    pub cluster: ClusterConfig,
    /// The built-in Alertmanager (routing, receivers, inhibition); absent
    /// means none runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyConfig>,
    /// The YAML text as read (for `/api/v1/status/config`).
    #[serde(skip)]
    pub original_yaml: String,
    /// The file name given to the loader (`<string>` style names for text).
    #[serde(skip)]
    pub file_name: String,
    /// The directory relative paths were resolved against.
    #[serde(skip)]
    pub directory: PathBuf,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read config file: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown or unsupported field, or a
    /// value of the wrong type.
    #[error("{}", located(file, *line, field, message))]
    Parse {
        /// The file.
        file: String,
        /// 1-based line; 0 when unknown.
        line: usize,
        /// The field concerned; empty when unknown.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The YAML is well-formed but a value breaks a rule.
    #[error("{}", located(file, *line, field, message))]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line; 0 when unknown.
        line: usize,
        /// The field concerned.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The line the error is about (0 when unknown).
    pub fn line(&self) -> usize {
        match self {
            ConfigError::Read { .. } => 0,
            ConfigError::Parse { line, .. } | ConfigError::Invalid { line, .. } => *line,
        }
    }

    /// The field the error is about (empty when unknown).
    pub fn field(&self) -> &str {
        match self {
            ConfigError::Read { .. } => "",
            ConfigError::Parse { field, .. } | ConfigError::Invalid { field, .. } => field,
        }
    }
}

fn is_default_storage(storage: &StorageConfig) -> bool {
    storage == &StorageConfig::default()
}

fn located(file: &str, line: usize, field: &str, message: &str) -> String {
    let position = if line == 0 {
        file.to_string()
    } else {
        format!("{file}:{line}")
    };
    if field.is_empty() {
        format!("{position}: {message}")
    } else {
        format!("{position}: field {field}: {message}")
    }
}

/// The embedded default configuration (`config/promshard.yml`): one node
/// scraping itself on `localhost:9090` and the host exporter on
/// `localhost:9100`, with the example rules in `rules/`.
pub const EMBEDDED_DEFAULT_YAML: &str = include_str!("../../config/promshard.yml");

/// The name the embedded default is loaded under; relative paths in it
/// (`../rules/*.yml`) resolve against `config/` in the working directory.
pub const EMBEDDED_DEFAULT_FILE_NAME: &str = "config/promshard.yml";

/// Loads [`EMBEDDED_DEFAULT_YAML`], for running without `--config.file`.
pub fn load_embedded_default() -> Result<Config, ConfigError> {
    load_str(EMBEDDED_DEFAULT_YAML, EMBEDDED_DEFAULT_FILE_NAME)
}

/// Reads, validates and resolves the configuration file at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let file_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file_name.clone(),
        source,
    })?;
    let directory = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_with_directory(&text, &file_name, &directory)
}

/// Validates configuration `text`; `filename` names it in errors and its
/// directory (if any) resolves relative paths.
pub fn load_str(text: &str, filename: &str) -> Result<Config, ConfigError> {
    let directory = Path::new(filename)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    load_with_directory(text, filename, &directory)
}

fn load_with_directory(
    text: &str,
    file_name: &str,
    directory: &Path,
) -> Result<Config, ConfigError> {
    let mut config = if has_no_content(text) {
        Config::default()
    } else {
        serde_saphyr::from_str::<Config>(text)
            .map_err(|error| parse_error(text, file_name, &error))?
    };
    if let Err(problem) = validate::validate(&mut config) {
        let index = locate::LineIndex::new(text);
        return Err(ConfigError::Invalid {
            file: file_name.to_string(),
            line: index.line_of(&problem.path),
            field: locate::field_name(&problem.path).to_string(),
            message: problem.message,
        });
    }
    validate::resolve_paths(&mut config, directory);
    include_scrape_config_files(&mut config, text, file_name)?;
    config.original_yaml = text.to_string();
    config.file_name = file_name.to_string();
    config.directory = directory.to_path_buf();
    Ok(config)
}

/// A `scrape_config_files` file: a list of scrape configs, nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ScrapeConfigsFile {
    #[serde(deserialize_with = "null_as_default")]
    scrape_configs: Vec<ScrapeConfig>,
}

/// Reads the files `scrape_config_files` names and appends their jobs,
/// each validated with the main file's `global` and named in errors by
/// its own file, line and field. A job name may appear once over all files.
fn include_scrape_config_files(
    config: &mut Config,
    text: &str,
    file_name: &str,
) -> Result<(), ConfigError> {
    let mut job_names: std::collections::HashSet<String> = config
        .scrape_configs
        .iter()
        .map(|scrape_config| scrape_config.job_name.clone())
        .collect();
    for (position, pattern) in config.scrape_config_files.clone().iter().enumerate() {
        let invalid = |message: String| ConfigError::Invalid {
            file: file_name.to_string(),
            line: locate::LineIndex::new(text).line_of(&format!("scrape_config_files.{position}")),
            field: "scrape_config_files".to_string(),
            message,
        };
        let mut files: Vec<PathBuf> = glob::glob(pattern)
            .map_err(|e| invalid(format!("invalid scrape config file path {pattern:?}: {e}")))?
            .filter_map(Result::ok)
            .collect();
        files.sort();
        for path in files {
            let included_name = path.display().to_string();
            let included_text =
                std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    file: included_name.clone(),
                    source,
                })?;
            let included: ScrapeConfigsFile = if has_no_content(&included_text) {
                ScrapeConfigsFile::default()
            } else {
                serde_saphyr::from_str(&included_text)
                    .map_err(|error| parse_error(&included_text, &included_name, &error))?
            };
            let directory = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let index = locate::LineIndex::new(&included_text);
            for (number, mut scrape_config) in included.scrape_configs.into_iter().enumerate() {
                let at = format!("scrape_configs.{number}");
                let fail = |path: &str, message: String| ConfigError::Invalid {
                    file: included_name.clone(),
                    line: index.line_of(path),
                    field: locate::field_name(path).to_string(),
                    message,
                };
                validate::validate_scrape_config(&mut scrape_config, &config.global, &at)
                    .map_err(|problem| fail(&problem.path, problem.message))?;
                if !job_names.insert(scrape_config.job_name.clone()) {
                    return Err(fail(
                        &format!("{at}.job_name"),
                        format!(
                            "found multiple scrape configs with job name {:?}",
                            scrape_config.job_name
                        ),
                    ));
                }
                validate::resolve_scrape_config_paths(&mut scrape_config, &directory);
                config.scrape_configs.push(scrape_config);
            }
        }
    }
    Ok(())
}

/// True for a document of only blank lines, comments and markers: Prometheus
/// loads it as the default configuration.
fn has_no_content(text: &str) -> bool {
    text.lines().all(|line| {
        let trimmed = line.trim();
        trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" || trimmed == "..."
    })
}

/// Fields Prometheus 3 accepts that promshard does not support, with what
/// to say about them.
const UNSUPPORTED_FIELDS: [(&str, &str); 6] = [
    ("sigv4", "AWS SigV4 signing is not supported"),
    ("azuread", "Azure AD authentication is not supported"),
    ("google_iam", "Google IAM authentication is not supported"),
    ("tracing", "the tracing section is not supported"),
    ("otlp", "the otlp section is not supported"),
    ("runtime", "the runtime section is not supported"),
];

fn parse_error(text: &str, file_name: &str, error: &serde_saphyr::Error) -> ConfigError {
    let line = error
        .location()
        .map(|location| location.line() as usize)
        .unwrap_or(0);
    let rendered = error.without_snippet().to_string();
    let mut message = match rendered.rfind(" at line ") {
        Some(suffix) => rendered[..suffix].to_string(),
        None => rendered,
    };
    for (parser_wording, plain_wording) in [
        ("expected sequence start", "expected a list"),
        ("expected mapping start", "expected a mapping of fields"),
    ] {
        if message.contains(parser_wording) {
            message = message.replace(parser_wording, plain_wording);
        }
    }
    let mut field = String::new();
    if let Some(unknown) = quoted_after(&message, "unknown field `") {
        field = unknown.to_string();
        if unknown.ends_with("_sd_configs") {
            message = format!(
                "unsupported service discovery mechanism {unknown}: promshard supports static_configs, file_sd_configs, http_sd_configs and dns_sd_configs"
            );
        } else if let Some((_, reason)) =
            UNSUPPORTED_FIELDS.iter().find(|(name, _)| *name == unknown)
        {
            message = format!("unsupported field {unknown}: {reason}");
        } else {
            message = match message.find(", expected") {
                Some(end) => format!("unknown field {unknown:?} ({})", message[end + 2..].trim()),
                None => format!("unknown field {unknown:?}"),
            };
        }
    } else if let Some(missing) = quoted_after(&message, "missing field `") {
        field = missing.to_string();
    } else if let Some(key) = locate::key_at_line(text, line) {
        field = key;
    }
    ConfigError::Parse {
        file: file_name.to_string(),
        line,
        field,
        message,
    }
}

fn quoted_after<'a>(message: &'a str, opening: &str) -> Option<&'a str> {
    let start = message.find(opening)? + opening.len();
    let end = message[start..].find('`')?;
    Some(&message[start..start + end])
}

impl Config {
    /// Each job's discovery mechanisms, keyed by job name, for
    /// [`crate::discovery::DiscoveryManager::apply_config`].
    pub fn scrape_sd_configs(&self) -> HashMap<String, Vec<SdConfig>> {
        self.scrape_configs
            .iter()
            .map(|scrape_config| (scrape_config.job_name.clone(), scrape_config.sd_configs()))
            .collect()
    }

    /// The scrape config of `job_name`.
    pub fn scrape_config(&self, job_name: &str) -> Option<&ScrapeConfig> {
        self.scrape_configs
            .iter()
            .find(|scrape_config| scrape_config.job_name == job_name)
    }

    /// The effective configuration as YAML, secrets shown as `<secret>`
    /// (what Prometheus serves at `/api/v1/status/config`).
    pub fn to_redacted_yaml(&self) -> String {
        serde_saphyr::to_string(self)
            .unwrap_or_else(|error| format!("# cannot render the configuration: {error}\n"))
    }
}

#[cfg(test)]
mod tests;
