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
use super::scrape::{FileSdConfig, HttpSdConfig, ScrapeConfig, StaticConfig};
use crate::model::labels::Labels;
use crate::model::relabel::{Action, RelabelConfig, RelabelError};

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

fn validate_scrape_config(
    scrape_config: &mut ScrapeConfig,
    global: &GlobalConfig,
    path: &str,
) -> Checked {
    if scrape_config.job_name.is_empty() {
        return Err(problem(join_path(path, "job_name"), "job_name is empty"));
    }
    let job = scrape_config.job_name.clone();
    validate_http_client(&mut scrape_config.http_client, path)?;
    if scrape_config.scrape_interval.is_zero() {
        scrape_config.scrape_interval = global.scrape_interval;
    }
    if scrape_config.scrape_timeout > scrape_config.scrape_interval {
        return Err(problem(
            join_path(path, "scrape_timeout"),
            format!(
                "scrape timeout greater than scrape interval for scrape config with job name {job:?}"
            ),
        ));
    }
    if scrape_config.scrape_timeout.is_zero() {
        scrape_config.scrape_timeout = global.scrape_timeout.min(scrape_config.scrape_interval);
    }
    check_scrape_protocols(
        &scrape_config.scrape_protocols,
        &join_path(path, "scrape_protocols"),
    )?;
    if scrape_config.scrape_protocols.is_empty() {
        scrape_config.scrape_protocols = if !global.scrape_protocols.is_empty() {
            global.scrape_protocols.clone()
        } else if scrape_config
            .scrape_native_histograms
            .or(global.scrape_native_histograms)
            == Some(true)
        {
            ScrapeProtocol::PROTO_FIRST_PROTOCOLS.to_vec()
        } else {
            ScrapeProtocol::DEFAULT_PROTOCOLS.to_vec()
        };
    }
    match scrape_config.scheme.as_str() {
        "http" | "https" => {}
        other => {
            return Err(problem(
                join_path(path, "scheme"),
                format!("invalid scheme {other:?} for job {job:?}, must be \"http\" or \"https\""),
            ));
        }
    }
    let local_validation_unset = scrape_config.metric_name_validation_scheme.is_empty();
    match scrape_config.metric_name_validation_scheme.as_str() {
        "" => {
            scrape_config.metric_name_validation_scheme =
                global.metric_name_validation_scheme.clone()
        }
        "utf8" | "legacy" => {}
        other => {
            return Err(problem(
                join_path(path, "metric_name_validation_scheme"),
                format!(
                    "unknown metric name validation scheme {other:?}, must be \"utf8\" or \"legacy\""
                ),
            ));
        }
    }
    resolve_escaping_scheme(scrape_config, global, local_validation_unset, path)?;
    inherit_limits(scrape_config, global);
    let legacy_names = scrape_config.metric_name_validation_scheme == "legacy";
    validate_relabel_configs(
        &scrape_config.relabel_configs,
        &join_path(path, "relabel_configs"),
        legacy_names,
    )?;
    validate_relabel_configs(
        &scrape_config.metric_relabel_configs,
        &join_path(path, "metric_relabel_configs"),
        legacy_names,
    )?;
    // As Prometheus: URLs in targets are refused unless relabeling may
    // rewrite them (the blackbox exporter pattern).
    validate_static_configs(
        &scrape_config.static_configs,
        &join_path(path, "static_configs"),
        legacy_names,
        scrape_config.relabel_configs.is_empty(),
    )?;
    validate_file_sd_configs(
        &scrape_config.file_sd_configs,
        &join_path(path, "file_sd_configs"),
    )?;
    validate_http_sd_configs(
        &mut scrape_config.http_sd_configs,
        &join_path(path, "http_sd_configs"),
    )
}

/// Prometheus's escaping schemes for `metric_name_escaping_scheme`.
const ESCAPING_SCHEMES: [&str; 4] = ["allow-utf-8", "underscores", "dots", "values"];

/// Fills `metric_name_escaping_scheme` from the validation scheme when
/// unset, and checks it, as Prometheus's `ScrapeConfig.Validate` does.
fn resolve_escaping_scheme(
    scrape_config: &mut ScrapeConfig,
    global: &GlobalConfig,
    local_validation_unset: bool,
    path: &str,
) -> Checked {
    let global_escaping = match global.metric_name_escaping_scheme.as_str() {
        "" if global.uses_legacy_name_validation() => "underscores".to_string(),
        "" => "allow-utf-8".to_string(),
        scheme if ESCAPING_SCHEMES.contains(&scheme) => scheme.to_string(),
        other => {
            return Err(problem(
                "global.metric_name_escaping_scheme",
                format!(
                    "unknown global name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {other:?}"
                ),
            ));
        }
    };
    if scrape_config.metric_name_escaping_scheme.is_empty() {
        scrape_config.metric_name_escaping_scheme = if local_validation_unset {
            global_escaping
        } else if scrape_config.metric_name_validation_scheme == "legacy" {
            "underscores".to_string()
        } else {
            "allow-utf-8".to_string()
        };
    }
    let field = join_path(path, "metric_name_escaping_scheme");
    match scrape_config.metric_name_escaping_scheme.as_str() {
        "allow-utf-8" if scrape_config.metric_name_validation_scheme != "utf8" => Err(problem(
            field,
            "utf8 metric names requested but validation scheme is not set to UTF8",
        )),
        scheme if ESCAPING_SCHEMES.contains(&scheme) => Ok(()),
        other => Err(problem(
            field,
            format!(
                "unknown scrape config name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {other:?}"
            ),
        )),
    }
}

fn inherit_limits(scrape_config: &mut ScrapeConfig, global: &GlobalConfig) {
    let inherit = |local: &mut u64, global_value: u64| {
        if *local == 0 {
            *local = global_value;
        }
    };
    if scrape_config.body_size_limit.0 == 0 {
        scrape_config.body_size_limit = global.body_size_limit;
    }
    inherit(&mut scrape_config.sample_limit, global.sample_limit);
    inherit(&mut scrape_config.target_limit, global.target_limit);
    inherit(&mut scrape_config.label_limit, global.label_limit);
    inherit(
        &mut scrape_config.label_name_length_limit,
        global.label_name_length_limit,
    );
    inherit(
        &mut scrape_config.label_value_length_limit,
        global.label_value_length_limit,
    );
    inherit(
        &mut scrape_config.keep_dropped_targets,
        global.keep_dropped_targets,
    );
    if scrape_config.scrape_native_histograms.is_none() {
        scrape_config.scrape_native_histograms = global.scrape_native_histograms.or(Some(false));
    }
    if scrape_config.convert_classic_histograms_to_nhcb.is_none() {
        scrape_config.convert_classic_histograms_to_nhcb =
            Some(global.convert_classic_histograms_to_nhcb);
    }
    if scrape_config.always_scrape_classic_histograms.is_none() {
        scrape_config.always_scrape_classic_histograms =
            Some(global.always_scrape_classic_histograms);
    }
    if scrape_config.extra_scrape_metrics.is_none() {
        scrape_config.extra_scrape_metrics = Some(global.extra_scrape_metrics);
    }
    if scrape_config.scrape_failure_log_file.is_empty() {
        scrape_config.scrape_failure_log_file = global.scrape_failure_log_file.clone();
    }
}

fn validate_http_client(http_client: &mut HttpClientConfig, path: &str) -> Checked {
    http_client
        .validate_and_normalize()
        .map_err(|(field, message)| problem(join_path(path, field), message))
}

fn validate_static_configs(
    static_configs: &[StaticConfig],
    path: &str,
    legacy_names: bool,
    check_addresses: bool,
) -> Checked {
    for (position, static_config) in static_configs.iter().enumerate() {
        let group_path = join_path(path, &position.to_string());
        for (target_position, target) in static_config.targets.iter().enumerate() {
            if check_addresses && target.contains('/') {
                return Err(problem(
                    format!("{group_path}.targets.{target_position}"),
                    format!("{target:?} is not a valid hostname"),
                ));
            }
            if target.is_empty() {
                return Err(problem(
                    format!("{group_path}.targets.{target_position}"),
                    "target address is empty",
                ));
            }
        }
        for name in static_config.labels.keys() {
            check_label_name(name, legacy_names)
                .map_err(|message| problem(format!("{group_path}.labels.{name}"), message))?;
        }
    }
    Ok(())
}

fn validate_file_sd_configs(file_sd_configs: &[FileSdConfig], path: &str) -> Checked {
    for (position, file_sd_config) in file_sd_configs.iter().enumerate() {
        let entry_path = join_path(path, &position.to_string());
        if file_sd_config.files.is_empty() {
            return Err(problem(
                join_path(&entry_path, "files"),
                "file service discovery config must contain at least one path name",
            ));
        }
        for (file_position, file) in file_sd_config.files.iter().enumerate() {
            if !is_valid_file_sd_name(file) {
                return Err(problem(
                    format!("{entry_path}.files.{file_position}"),
                    format!(
                        "path name {file:?} is not valid for file discovery: it must end in .json, .yml or .yaml, with '*' only in the last element"
                    ),
                ));
            }
        }
        if file_sd_config.refresh_interval.is_zero() {
            return Err(problem(
                join_path(&entry_path, "refresh_interval"),
                "refresh_interval must be greater than 0",
            ));
        }
    }
    Ok(())
}

/// Prometheus's `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`.
fn is_valid_file_sd_name(name: &str) -> bool {
    let has_extension = [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"]
        .iter()
        .any(|extension| name.ends_with(extension));
    has_extension && is_valid_rule_file_pattern(name) && name.matches('*').count() <= 1
}

fn validate_http_sd_configs(http_sd_configs: &mut [HttpSdConfig], path: &str) -> Checked {
    for (position, http_sd_config) in http_sd_configs.iter_mut().enumerate() {
        let entry_path = join_path(path, &position.to_string());
        check_http_url(&http_sd_config.url, &join_path(&entry_path, "url"))?;
        if http_sd_config.refresh_interval.is_zero() {
            return Err(problem(
                join_path(&entry_path, "refresh_interval"),
                "refresh_interval must be greater than 0",
            ));
        }
        validate_http_client(&mut http_sd_config.http_client, &entry_path)?;
    }
    Ok(())
}

fn check_http_url(url: &str, path: &str) -> Checked {
    if url.is_empty() {
        return Err(problem(path, "URL is missing"));
    }
    let parsed = url::Url::parse(url)
        .map_err(|error| problem(path, format!("invalid URL {url:?}: {error}")))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(problem(
            path,
            format!("URL scheme must be 'http' or 'https', got {url:?}"),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(problem(path, format!("host is missing in URL {url:?}")));
    }
    Ok(())
}

/// A label name is valid: any non-empty UTF-8 in Prometheus 3's default
/// scheme; `[a-zA-Z_][a-zA-Z0-9_]*` under the legacy scheme.
pub(crate) fn check_label_name(name: &str, legacy: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("label name is empty".to_string());
    }
    if legacy && !is_legacy_label_name(name) {
        return Err(format!("{name:?} is not a valid label name"));
    }
    Ok(())
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_legacy_label_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
}

fn validate_relabel_configs(
    relabel_configs: &[RelabelConfig],
    path: &str,
    legacy_names: bool,
) -> Checked {
    for (position, relabel_config) in relabel_configs.iter().enumerate() {
        validate_relabel_config(relabel_config, legacy_names)
            .map_err(|(field, message)| problem(format!("{path}.{position}.{field}"), message))?;
    }
    Ok(())
}

/// Prometheus's `relabel.Config.Validate`: [`RelabelConfig::validate`]
/// (UTF-8 names), plus the stricter target checks of the legacy scheme.
/// Returns the field at fault and the message.
pub(crate) fn validate_relabel_config(
    config: &RelabelConfig,
    legacy_names: bool,
) -> Result<(), (&'static str, String)> {
    config.validate().map_err(|error| {
        let field = match &error {
            RelabelError::ZeroModulus => "modulus",
            RelabelError::MissingTargetLabel { .. } | RelabelError::InvalidTargetLabel { .. } => {
                "target_label"
            }
            RelabelError::InvalidReplacement { .. }
            | RelabelError::ReplacementNotAllowed { .. } => "replacement",
            RelabelError::OnlySourceAndTarget { .. } | RelabelError::OnlyRegex { .. } => "action",
        };
        (field, error.to_string())
    })?;
    if !legacy_names {
        return Ok(());
    }
    let action_name = config.action.as_str();
    let target_must_be_plain = matches!(
        config.action,
        Action::HashMod
            | Action::Lowercase
            | Action::Uppercase
            | Action::KeepEqual
            | Action::DropEqual
    );
    let target_is_valid = if target_must_be_plain {
        is_legacy_label_name(&config.target_label)
    } else if config.action == Action::Replace {
        is_valid_replace_target(&config.target_label)
    } else {
        true
    };
    if !target_is_valid {
        return Err((
            "target_label",
            format!(
                "{:?} is invalid 'target_label' for {action_name} action",
                config.target_label
            ),
        ));
    }
    Ok(())
}

/// A replace target under legacy names: label-name characters and `$1`,
/// `${name}` references.
fn is_valid_replace_target(target: &str) -> bool {
    let without_references = regex_free_replace_target(target);
    !target.is_empty()
        && without_references
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_')
}

fn regex_free_replace_target(target: &str) -> String {
    let mut plain = String::new();
    let mut characters = target.chars().peekable();
    while let Some(character) = characters.next() {
        if character != '$' {
            plain.push(character);
            continue;
        }
        if characters.peek() == Some(&'{') {
            for inner in characters.by_ref() {
                if inner == '}' {
                    break;
                }
            }
        } else {
            while characters
                .peek()
                .is_some_and(|next| next.is_ascii_alphanumeric() || *next == '_')
            {
                characters.next();
            }
        }
    }
    plain
}

fn validate_alerting(config: &mut Config) -> Checked {
    let legacy_names = config.global.uses_legacy_name_validation();
    validate_relabel_configs(
        &config.alerting.alert_relabel_configs,
        "alerting.alert_relabel_configs",
        legacy_names,
    )?;
    for (position, alertmanager) in config.alerting.alertmanagers.iter_mut().enumerate() {
        let path = format!("alerting.alertmanagers.{position}");
        validate_alertmanager(alertmanager, &path, legacy_names)?;
    }
    Ok(())
}

fn validate_alertmanager(
    alertmanager: &mut AlertmanagerConfig,
    path: &str,
    legacy_names: bool,
) -> Checked {
    validate_http_client(&mut alertmanager.http_client, path)?;
    match alertmanager.api_version.as_str() {
        "v2" => {}
        "v1" => {
            return Err(problem(
                join_path(path, "api_version"),
                "alertmanager api_version v1 is no longer supported, use v2",
            ));
        }
        other => {
            return Err(problem(
                join_path(path, "api_version"),
                format!("expected Alertmanager api version to be one of [v2] but got {other:?}"),
            ));
        }
    }
    match alertmanager.scheme.as_str() {
        "http" | "https" => {}
        other => {
            return Err(problem(
                join_path(path, "scheme"),
                format!("invalid scheme {other:?}, must be \"http\" or \"https\""),
            ));
        }
    }
    validate_static_configs(
        &alertmanager.static_configs,
        &join_path(path, "static_configs"),
        legacy_names,
        alertmanager.relabel_configs.is_empty(),
    )?;
    validate_file_sd_configs(
        &alertmanager.file_sd_configs,
        &join_path(path, "file_sd_configs"),
    )?;
    validate_http_sd_configs(
        &mut alertmanager.http_sd_configs,
        &join_path(path, "http_sd_configs"),
    )?;
    validate_relabel_configs(
        &alertmanager.relabel_configs,
        &join_path(path, "relabel_configs"),
        legacy_names,
    )?;
    validate_relabel_configs(
        &alertmanager.alert_relabel_configs,
        &join_path(path, "alert_relabel_configs"),
        legacy_names,
    )
}

fn check_reserved_headers<'a>(headers: impl Iterator<Item = &'a String>, path: &str) -> Checked {
    for name in headers {
        if name.eq_ignore_ascii_case("authorization") {
            return Err(problem(
                join_path(path, name),
                "authorization header must be changed via the basic_auth or authorization parameter",
            ));
        }
        if RESERVED_REMOTE_HEADERS
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(name))
        {
            return Err(problem(
                join_path(path, name),
                format!("{name} is a reserved header. It must not be changed"),
            ));
        }
    }
    Ok(())
}

fn validate_remote(config: &mut Config) -> Checked {
    let legacy_names = config.global.uses_legacy_name_validation();
    let mut write_names = HashSet::new();
    for (position, remote_write) in config.remote_write.iter_mut().enumerate() {
        let path = format!("remote_write.{position}");
        if remote_write.url.is_empty() {
            return Err(problem(
                join_path(&path, "url"),
                "url for remote_write is empty",
            ));
        }
        check_http_url(&remote_write.url, &join_path(&path, "url"))?;
        if !remote_write.name.is_empty() && !write_names.insert(remote_write.name.clone()) {
            return Err(problem(
                join_path(&path, "name"),
                format!(
                    "found multiple remote write configs with job name {:?}",
                    remote_write.name
                ),
            ));
        }
        check_reserved_headers(remote_write.headers.keys(), &join_path(&path, "headers"))?;
        validate_http_client(&mut remote_write.http_client, &path)?;
        validate_relabel_configs(
            &remote_write.write_relabel_configs,
            &join_path(&path, "write_relabel_configs"),
            legacy_names,
        )?;
        match remote_write.protobuf_message.as_str() {
            "prometheus.WriteRequest" | "io.prometheus.write.v2.Request" => {}
            other => {
                return Err(problem(
                    join_path(&path, "protobuf_message"),
                    format!(
                        "unknown remote write protobuf message {other:?}, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"
                    ),
                ));
            }
        }
        let queue = &remote_write.queue_config;
        if queue.min_shards > queue.max_shards {
            return Err(problem(
                join_path(&path, "queue_config.min_shards"),
                "min_shards must not be greater than max_shards",
            ));
        }
        if queue.min_backoff > queue.max_backoff {
            return Err(problem(
                join_path(&path, "queue_config.min_backoff"),
                "min_backoff must not be greater than max_backoff",
            ));
        }
    }
    let mut read_names = HashSet::new();
    for (position, remote_read) in config.remote_read.iter_mut().enumerate() {
        let path = format!("remote_read.{position}");
        if remote_read.url.is_empty() {
            return Err(problem(
                join_path(&path, "url"),
                "url for remote_read is empty",
            ));
        }
        check_http_url(&remote_read.url, &join_path(&path, "url"))?;
        if !remote_read.name.is_empty() && !read_names.insert(remote_read.name.clone()) {
            return Err(problem(
                join_path(&path, "name"),
                format!(
                    "found multiple remote read configs with job name {:?}",
                    remote_read.name
                ),
            ));
        }
        check_reserved_headers(remote_read.headers.keys(), &join_path(&path, "headers"))?;
        validate_http_client(&mut remote_read.http_client, &path)?;
    }
    Ok(())
}

fn validate_cluster(config: &mut Config) -> Checked {
    let cluster = &mut config.cluster;
    if cluster.node_id.is_empty() {
        cluster.node_id = local_hostname();
    }
    if cluster.replication_factor == 0 {
        return Err(problem(
            "cluster.replication_factor",
            "replication_factor must be at least 1",
        ));
    }
    if cluster.virtual_nodes == 0 {
        return Err(problem(
            "cluster.virtual_nodes",
            "virtual_nodes must be at least 1",
        ));
    }
    if !cluster.advertise_address.is_empty() && !is_host_port(&cluster.advertise_address) {
        return Err(problem(
            "cluster.advertise_address",
            format!(
                "advertise_address {:?} must be host:port",
                cluster.advertise_address
            ),
        ));
    }
    match cluster.mode {
        ClusterMode::None => {}
        ClusterMode::Static => {
            if cluster.peers.is_empty() {
                return Err(problem(
                    "cluster.peers",
                    "static cluster mode needs at least one peer",
                ));
            }
            for (position, peer) in cluster.peers.iter().enumerate() {
                if !is_host_port(peer) {
                    return Err(problem(
                        format!("cluster.peers.{position}"),
                        format!("peer {peer:?} must be host:port"),
                    ));
                }
            }
            let distinct_members = cluster.peers.iter().collect::<HashSet<_>>().len();
            if cluster.replication_factor as usize > distinct_members {
                return Err(problem(
                    "cluster.replication_factor",
                    format!(
                        "replication_factor {} is larger than the {distinct_members} configured peers",
                        cluster.replication_factor
                    ),
                ));
            }
        }
        ClusterMode::Etcd => {
            let etcd = &cluster.etcd;
            if etcd.endpoints.is_empty() {
                return Err(problem(
                    "cluster.etcd.endpoints",
                    "etcd cluster mode needs at least one endpoint",
                ));
            }
            for (position, endpoint) in etcd.endpoints.iter().enumerate() {
                let valid = url::Url::parse(endpoint).is_ok_and(|url| url.host_str().is_some())
                    || is_host_port(endpoint);
                if !valid {
                    return Err(problem(
                        format!("cluster.etcd.endpoints.{position}"),
                        format!("invalid etcd endpoint {endpoint:?}"),
                    ));
                }
            }
            if !etcd.prefix.starts_with('/') {
                return Err(problem(
                    "cluster.etcd.prefix",
                    format!("prefix {:?} must start with '/'", etcd.prefix),
                ));
            }
            if etcd.lease_ttl.as_millis() < 1_000 {
                return Err(problem(
                    "cluster.etcd.lease_ttl",
                    "lease_ttl must be at least 1s",
                ));
            }
            if etcd.dial_timeout.is_zero() {
                return Err(problem(
                    "cluster.etcd.dial_timeout",
                    "dial_timeout must be greater than 0",
                ));
            }
        }
    }
    Ok(())
}

fn is_host_port(address: &str) -> bool {
    match address.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

/// Makes every relative path absolute against `directory`, as Prometheus's
/// `SetDirectory` does.
pub(crate) fn resolve_paths(config: &mut Config, directory: &Path) {
    join_directory(directory, &mut config.global.query_log_file);
    join_directory(directory, &mut config.global.scrape_failure_log_file);
    for rule_file in &mut config.rule_files {
        join_directory(directory, rule_file);
    }
    for scrape_config in &mut config.scrape_configs {
        scrape_config.http_client.resolve_paths(directory);
        join_directory(directory, &mut scrape_config.scrape_failure_log_file);
        resolve_sd_paths(
            &mut scrape_config.file_sd_configs,
            &mut scrape_config.http_sd_configs,
            directory,
        );
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
