//! Building [`ScrapeSettings`] from a loaded `scrape_configs` entry.

use super::ScrapeError;
use super::settings::{HttpClientSettings, ScrapeLimits, ScrapeProtocol, ScrapeSettings};
use crate::config::global::ScrapeProtocol as ConfigProtocol;
use crate::config::scrape::ScrapeConfig;

fn protocol(configured: ConfigProtocol) -> Option<ScrapeProtocol> {
    match configured {
        ConfigProtocol::PrometheusProto => None,
        ConfigProtocol::PrometheusText0_0_4 => Some(ScrapeProtocol::PrometheusText0_0_4),
        ConfigProtocol::PrometheusText1_0_0 => Some(ScrapeProtocol::PrometheusText1_0_0),
        ConfigProtocol::OpenMetricsText0_0_1 => Some(ScrapeProtocol::OpenMetricsText0_0_1),
        ConfigProtocol::OpenMetricsText1_0_0 => Some(ScrapeProtocol::OpenMetricsText1_0_0),
    }
}

impl TryFrom<&ScrapeConfig> for ScrapeSettings {
    type Error = ScrapeError;

    /// Takes a loaded (defaults applied) scrape config. The protobuf
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
            http_client: HttpClientSettings {
                http_client: config.http_client.clone(),
                enable_compression: config.enable_compression,
            },
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
        let authorization = settings.http_client.http_client.authorization.unwrap();
        assert_eq!(authorization.credentials.expose(), "secret");
        assert_eq!(settings.params["module"], vec!["http_2xx".to_string()]);
    }
}
