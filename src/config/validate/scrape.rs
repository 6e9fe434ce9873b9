//! Validation: Scrape configs and their discovery configs.

use super::*;

pub(crate) fn validate_scrape_config(
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
    validate_dns_sd_configs(
        &scrape_config.dns_sd_configs,
        &join_path(path, "dns_sd_configs"),
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
pub(super) fn resolve_escaping_scheme(
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

pub(super) fn inherit_limits(scrape_config: &mut ScrapeConfig, global: &GlobalConfig) {
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

pub(super) fn validate_http_client(http_client: &mut HttpClientConfig, path: &str) -> Checked {
    http_client
        .validate_and_normalize()
        .map_err(|(field, message)| problem(join_path(path, field), message))
}

pub(super) fn validate_static_configs(
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

pub(super) fn validate_file_sd_configs(file_sd_configs: &[FileSdConfig], path: &str) -> Checked {
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
pub(super) fn is_valid_file_sd_name(name: &str) -> bool {
    let has_extension = [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"]
        .iter()
        .any(|extension| name.ends_with(extension));
    has_extension && is_valid_rule_file_pattern(name) && name.matches('*').count() <= 1
}

pub(super) fn validate_http_sd_configs(
    http_sd_configs: &mut [HttpSdConfig],
    path: &str,
) -> Checked {
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

/// The rules of Prometheus's DNS `SDConfig.UnmarshalYAML`.
pub(super) fn validate_dns_sd_configs(dns_sd_configs: &[DnsSdConfig], path: &str) -> Checked {
    for (position, dns_sd_config) in dns_sd_configs.iter().enumerate() {
        let entry_path = join_path(path, &position.to_string());
        if dns_sd_config.names.is_empty() {
            return Err(problem(
                join_path(&entry_path, "names"),
                "DNS-SD config must contain at least one SRV record name",
            ));
        }
        match dns_sd_config.record_type.to_ascii_uppercase().as_str() {
            "SRV" => {}
            "A" | "AAAA" | "MX" | "NS" => {
                if dns_sd_config.port == 0 {
                    return Err(problem(
                        join_path(&entry_path, "port"),
                        "a port is required in DNS-SD configs for all record types except SRV",
                    ));
                }
            }
            other => {
                return Err(problem(
                    join_path(&entry_path, "type"),
                    format!("invalid DNS-SD records type {other}"),
                ));
            }
        }
        if dns_sd_config.refresh_interval.is_zero() {
            return Err(problem(
                join_path(&entry_path, "refresh_interval"),
                "refresh_interval must be greater than 0",
            ));
        }
    }
    Ok(())
}

pub(super) fn check_http_url(url: &str, path: &str) -> Checked {
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
