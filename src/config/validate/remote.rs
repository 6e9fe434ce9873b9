//! Validation: Alerting, remote write and remote read.

use super::*;

pub(super) fn validate_alerting(config: &mut Config) -> Checked {
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

pub(super) fn validate_alertmanager(
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
    super::scrape::validate_dns_sd_configs(
        &alertmanager.dns_sd_configs,
        &join_path(path, "dns_sd_configs"),
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

pub(super) fn check_reserved_headers<'a>(
    headers: impl Iterator<Item = &'a String>,
    path: &str,
) -> Checked {
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

pub(super) fn validate_remote(config: &mut Config) -> Checked {
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
