//! Validation after deserialization: Prometheus's rules, inheritance of
//! global values, and resolution of relative paths. A problem carries the
//! dotted path of the field (`scrape_configs.1.scrape_timeout`) so the
//! loader can name its line.

use std::collections::HashSet;
use std::path::Path;

use super::Config;
use super::alerting::AlertmanagerConfig;
use super::cluster::{ClusterMode, local_hostname};
use super::global::{GlobalConfig, ScrapeProtocol, expand_environment};
use super::http_client::{HttpClientConfig, join_directory};
use super::locate::join_path;
use super::remote::RESERVED_REMOTE_HEADERS;
use super::scrape::{DnsSdConfig, FileSdConfig, HttpSdConfig, ScrapeConfig, StaticConfig};
use crate::model::labels::Labels;
use crate::model::relabel::{Action, RelabelConfig, RelabelError};

mod cluster;
mod names;
mod remote;
mod scrape;

use cluster::*;
use names::*;
use remote::*;
use scrape::*;

/// Also validates the scrape configs of `scrape_config_files` files.
pub(crate) use scrape::validate_scrape_config;

/// A rule broken at `path`.
#[derive(Debug)]
pub(crate) struct Problem {
    pub path: String,
    pub message: String,
}

type Checked = Result<(), Problem>;

fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        path: path.into(),
        message: message.into(),
    }
}

/// Validates `config` and fills in inherited and derived values.
pub(crate) fn validate(config: &mut Config) -> Checked {
    validate_global(&mut config.global)?;
    for (position, pattern) in config.scrape_config_files.iter().enumerate() {
        if glob::Pattern::new(pattern).is_err() {
            return Err(problem(
                format!("scrape_config_files.{position}"),
                format!("invalid scrape config file path {pattern:?}"),
            ));
        }
    }
    for (position, pattern) in config.rule_files.iter().enumerate() {
        if !is_valid_rule_file_pattern(pattern) {
            return Err(problem(
                format!("rule_files.{position}"),
                format!("invalid rule file path {pattern:?}"),
            ));
        }
    }
    let mut job_names = HashSet::new();
    for (position, scrape_config) in config.scrape_configs.iter_mut().enumerate() {
        let path = format!("scrape_configs.{position}");
        validate_scrape_config(scrape_config, &config.global, &path)?;
        if !job_names.insert(scrape_config.job_name.clone()) {
            return Err(problem(
                join_path(&path, "job_name"),
                format!(
                    "found multiple scrape configs with job name {:?}",
                    scrape_config.job_name
                ),
            ));
        }
    }
    validate_alerting(config)?;
    validate_remote(config)?;
    if let Some(notify) = &config.notify {
        super::notify::validate_notify(notify).map_err(|(path, message)| problem(path, message))?;
    }
    validate_cluster(config)
}

fn validate_global(global: &mut GlobalConfig) -> Checked {
    match global.metric_name_validation_scheme.as_str() {
        "" | "utf8" | "legacy" => {}
        other => {
            return Err(problem(
                "global.metric_name_validation_scheme",
                format!(
                    "unknown metric name validation scheme {other:?}, must be \"utf8\" or \"legacy\""
                ),
            ));
        }
    }
    let mut expanded = Vec::new();
    for label in global.external_labels.iter() {
        let path = join_path("global.external_labels", label.name);
        check_label_name(label.name, global.uses_legacy_name_validation())
            .map_err(|message| problem(&path, message))?;
        expanded.push((label.name.to_string(), expand_environment(label.value)));
    }
    global.external_labels = expanded.into_iter().collect::<Labels>();
    if global.scrape_interval.is_zero() {
        global.scrape_interval = GlobalConfig::unresolved().scrape_interval;
    }
    if global.scrape_timeout > global.scrape_interval {
        return Err(problem(
            "global.scrape_timeout",
            "global scrape timeout greater than scrape interval",
        ));
    }
    check_scrape_protocols(&global.scrape_protocols, "global.scrape_protocols")?;
    global.resolve_defaults();
    Ok(())
}

fn check_scrape_protocols(protocols: &[ScrapeProtocol], path: &str) -> Checked {
    let mut seen = HashSet::new();
    for protocol in protocols {
        if !seen.insert(*protocol) {
            return Err(problem(
                path,
                format!("duplicated protocol in scrape_protocols, got {protocols:?}"),
            ));
        }
    }
    Ok(())
}

/// Prometheus's rule-file glob rule: `*` only in the last path element.
fn is_valid_rule_file_pattern(pattern: &str) -> bool {
    match pattern.find('*') {
        None => true,
        Some(star) => !pattern[star..].contains('/'),
    }
}

/// Makes every relative path absolute against `directory`, as Prometheus's
/// `SetDirectory` does.
/// Makes the relative paths of one scrape config absolute against
/// `directory` (the directory of the file it was written in).
pub(crate) fn resolve_scrape_config_paths(scrape_config: &mut ScrapeConfig, directory: &Path) {
    scrape_config.http_client.resolve_paths(directory);
    join_directory(directory, &mut scrape_config.scrape_failure_log_file);
    resolve_sd_paths(
        &mut scrape_config.file_sd_configs,
        &mut scrape_config.http_sd_configs,
        directory,
    );
}

pub(crate) fn resolve_paths(config: &mut Config, directory: &Path) {
    join_directory(directory, &mut config.global.query_log_file);
    join_directory(directory, &mut config.global.scrape_failure_log_file);
    for rule_file in &mut config.rule_files {
        join_directory(directory, rule_file);
    }
    for pattern in &mut config.scrape_config_files {
        join_directory(directory, pattern);
    }
    for scrape_config in &mut config.scrape_configs {
        resolve_scrape_config_paths(scrape_config, directory);
    }
    for alertmanager in &mut config.alerting.alertmanagers {
        alertmanager.http_client.resolve_paths(directory);
        resolve_sd_paths(
            &mut alertmanager.file_sd_configs,
            &mut alertmanager.http_sd_configs,
            directory,
        );
    }
    for remote_write in &mut config.remote_write {
        remote_write.http_client.resolve_paths(directory);
    }
    for remote_read in &mut config.remote_read {
        remote_read.http_client.resolve_paths(directory);
    }
}

fn resolve_sd_paths(
    file_sd_configs: &mut [FileSdConfig],
    http_sd_configs: &mut [HttpSdConfig],
    directory: &Path,
) {
    for file_sd_config in file_sd_configs {
        for file in &mut file_sd_config.files {
            join_directory(directory, file);
        }
    }
    for http_sd_config in http_sd_configs {
        http_sd_config.http_client.resolve_paths(directory);
    }
}
