//! Building [`ScrapeSettings`] from a loaded `scrape_configs` entry.

use std::path::PathBuf;

use super::ScrapeError;
use super::settings::{
    Authorization, BasicAuth, HttpClientSettings, ScrapeLimits, ScrapeProtocol, ScrapeSettings,
    TlsSettings,
};
use crate::config::global::ScrapeProtocol as ConfigProtocol;
use crate::config::http_client::HttpClientConfig;
use crate::config::scrape::ScrapeConfig;

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

fn path(text: &str) -> Option<PathBuf> {
    (!text.is_empty()).then(|| PathBuf::from(text))
}

fn protocol(configured: ConfigProtocol) -> Option<ScrapeProtocol> {
    match configured {
        ConfigProtocol::PrometheusProto => None,
        ConfigProtocol::PrometheusText0_0_4 => Some(ScrapeProtocol::PrometheusText0_0_4),
        ConfigProtocol::PrometheusText1_0_0 => Some(ScrapeProtocol::PrometheusText1_0_0),
        ConfigProtocol::OpenMetricsText0_0_1 => Some(ScrapeProtocol::OpenMetricsText0_0_1),
        ConfigProtocol::OpenMetricsText1_0_0 => Some(ScrapeProtocol::OpenMetricsText1_0_0),
    }
}

fn http_client(
    config: &HttpClientConfig,
    enable_compression: bool,
) -> Result<HttpClientSettings, ScrapeError> {
    let unsupported = |field: &str| Err(ScrapeError::Unsupported(field.to_string()));
    if !config.tls_config.server_name.is_empty() {
        return unsupported("tls_config.server_name");
    }
    if config.tls_config.min_version.is_some() || config.tls_config.max_version.is_some() {
        return unsupported("tls_config.min_version/max_version");
    }
    if !config.no_proxy.is_empty()
        || config.proxy_from_environment
        || !config.proxy_connect_header.is_empty()
    {
        return unsupported("no_proxy/proxy_from_environment/proxy_connect_header");
    }
    let basic_auth = match &config.basic_auth {
        Some(basic) if !basic.username_file.is_empty() => {
            return unsupported("basic_auth.username_file");
        }
        Some(basic) => Some(BasicAuth {
            username: basic.username.clone(),
            password: non_empty(basic.password.expose()),
            password_file: path(&basic.password_file),
        }),
        None => None,
    };
    let authorization = match &config.authorization {
        Some(authorization) => Some(Authorization {
            credentials_type: non_empty(&authorization.auth_type)
                .unwrap_or_else(|| "Bearer".to_string()),
            credentials: non_empty(authorization.credentials.expose()),
            credentials_file: path(&authorization.credentials_file),
        }),
        None if !config.bearer_token.is_empty() || !config.bearer_token_file.is_empty() => {
            Some(Authorization {
                credentials_type: "Bearer".to_string(),
                credentials: non_empty(config.bearer_token.expose()),
                credentials_file: path(&config.bearer_token_file),
            })
        }
        None => None,
    };
    let mut headers = Vec::new();
    for (name, values) in &config.http_headers {
        if !values.files.is_empty() {
            return unsupported("http_headers.files");
        }
        for value in &values.values {
            headers.push((name.clone(), value.clone()));
        }
        for secret in &values.secrets {
            headers.push((name.clone(), secret.expose().to_string()));
        }
    }
    let tls = &config.tls_config;
    Ok(HttpClientSettings {
        basic_auth,
        authorization,
        tls: TlsSettings {
            ca: non_empty(&tls.ca),
            ca_file: path(&tls.ca_file),
            cert: non_empty(&tls.cert),
            cert_file: path(&tls.cert_file),
            key: non_empty(tls.key.expose()),
            key_file: path(&tls.key_file),
            server_name: None,
            insecure_skip_verify: tls.insecure_skip_verify,
        },
        follow_redirects: config.follow_redirects,
        enable_http2: config.enable_http2,
        enable_compression,
        proxy_url: non_empty(&config.proxy_url),
        headers,
    })
}

impl TryFrom<&ScrapeConfig> for ScrapeSettings {
    type Error = ScrapeError;

    /// Takes a loaded (defaults applied) scrape config. Fails on an HTTP
    /// client setting the scraper cannot honour, naming it. The protobuf
    /// protocol is left out of `Accept` (targets then answer in text).
    fn try_from(config: &ScrapeConfig) -> Result<Self, ScrapeError> {
        let mut protocols: Vec<ScrapeProtocol> = config
            .scrape_protocols
            .iter()
            .copied()
            .filter_map(protocol)
            .collect();
        if protocols.is_empty() {
            protocols = ScrapeProtocol::DEFAULT.to_vec();
        }
        Ok(ScrapeSettings {
            job_name: config.job_name.clone(),
            scrape_interval: config.scrape_interval.as_duration(),
            scrape_timeout: config.scrape_timeout.as_duration(),
            metrics_path: config.metrics_path.clone(),
            scheme: config.scheme.clone(),
            params: config.params.clone(),
            honor_labels: config.honor_labels,
            honor_timestamps: config.honor_timestamps,
            track_timestamps_staleness: config.track_timestamps_staleness,
            scrape_protocols: protocols,
            fallback_scrape_protocol: config.fallback_scrape_protocol.and_then(protocol),
            http_client: http_client(&config.http_client, config.enable_compression)?,
            limits: ScrapeLimits {
                sample_limit: config.sample_limit,
                body_size_limit: config.body_size_limit.bytes(),
                label_limit: config.label_limit,
                label_name_length_limit: config.label_name_length_limit,
                label_value_length_limit: config.label_value_length_limit,
                target_limit: config.target_limit,
                keep_dropped_targets: config.keep_dropped_targets,
            },
            relabel_configs: config.relabel_configs.clone(),
            metric_relabel_configs: config.metric_relabel_configs.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loaded_config_becomes_settings() {
        let yaml = r#"
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: node
    scrape_timeout: 5s
    sample_limit: 100
    body_size_limit: 1MB
    bearer_token: secret
    params:
      module: [http_2xx]
    scrape_protocols: [PrometheusProto, PrometheusText0.0.4]
    static_configs:
      - targets: ["localhost:9100"]
"#;
        let config = crate::config::load_str(yaml, "test.yml").unwrap();
        let scrape_config = config.scrape_config("node").unwrap();
        let settings = ScrapeSettings::try_from(scrape_config).unwrap();
        assert_eq!(settings.scrape_interval, std::time::Duration::from_secs(15));
        assert_eq!(settings.scrape_timeout, std::time::Duration::from_secs(5));
        assert_eq!(settings.limits.sample_limit, 100);
        assert_eq!(settings.limits.body_size_limit, 1 << 20);
        assert_eq!(
            settings.scrape_protocols,
            vec![ScrapeProtocol::PrometheusText0_0_4]
        );
        assert_eq!(
            settings
                .http_client
                .authorization
                .unwrap()
                .credentials
                .as_deref(),
            Some("secret")
        );
        assert_eq!(settings.params["module"], vec!["http_2xx".to_string()]);
    }
}
