//! `alerting`: Alertmanagers to send to and relabeling of alerts; parsed
//! and validated now, the rules issue adds behaviour.

use serde::{Deserialize, Serialize};

use super::duration::PromDuration;
use super::http_client::{HttpClientConfig, config_struct_with_http_client};
use super::scrape::{DnsSdConfig, FileSdConfig, HttpSdConfig, StaticConfig};
use super::serde_helpers::null_as_default;
use crate::model::relabel::RelabelConfig;

/// The `alerting` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertingConfig {
    /// Relabeling applied to every alert before it is sent.
    #[serde(deserialize_with = "null_as_default")]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// The Alertmanagers to send to.
    #[serde(deserialize_with = "null_as_default")]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

config_struct_with_http_client! {
    /// One `alertmanagers` entry.
    pub struct AlertmanagerConfig / RawAlertmanagerConfig {
        /// Fixed Alertmanager addresses.
        #[serde(deserialize_with = "null_as_default")]
        pub static_configs: Vec<StaticConfig>,
        /// Alertmanager addresses from files.
        #[serde(deserialize_with = "null_as_default")]
        pub file_sd_configs: Vec<FileSdConfig>,
        /// Alertmanager addresses from an HTTP endpoint.
        #[serde(deserialize_with = "null_as_default")]
        pub http_sd_configs: Vec<HttpSdConfig>,
        /// Alertmanager addresses from DNS (SRV records, typically).
        #[serde(deserialize_with = "null_as_default")]
        pub dns_sd_configs: Vec<DnsSdConfig>,
        /// `http` (default) or `https`.
        pub scheme: String,
        /// Prefix of the API path.
        pub path_prefix: String,
        /// Timeout per push; default 10s.
        pub timeout: PromDuration,
        /// Only `v2` (Prometheus 3 dropped v1).
        pub api_version: String,
        /// Relabeling of discovered Alertmanagers.
        #[serde(deserialize_with = "null_as_default")]
        pub relabel_configs: Vec<RelabelConfig>,
        /// Relabeling of alerts sent to this Alertmanager.
        #[serde(deserialize_with = "null_as_default")]
        pub alert_relabel_configs: Vec<RelabelConfig>,
    }
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig {
            static_configs: Vec::new(),
            file_sd_configs: Vec::new(),
            http_sd_configs: Vec::new(),
            dns_sd_configs: Vec::new(),
            scheme: "http".to_string(),
            path_prefix: String::new(),
            timeout: PromDuration::from_secs(10),
            api_version: "v2".to_string(),
            relabel_configs: Vec::new(),
            alert_relabel_configs: Vec::new(),
            http_client: HttpClientConfig::default(),
        }
    }
}
