//! `scrape_configs[]` and the discovery configs they hold.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::duration::PromDuration;
use super::global::ScrapeProtocol;
use super::http_client::config_struct_with_http_client;
use super::serde_helpers::null_as_default;
use super::units::ByteSize;
use crate::model::relabel::RelabelConfig;

/// One `static_configs` entry: fixed targets sharing labels.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(deserialize_with = "null_as_default")]
    pub targets: Vec<String>,
    /// Labels added to every target of the group.
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
}

/// One `file_sd_configs` entry: JSON or YAML files of target groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSdConfig {
    /// Paths or globs (`*` only in the last element), resolved against the
    /// config's directory; must end in `.json`, `.yml` or `.yaml`.
    #[serde(deserialize_with = "null_as_default")]
    pub files: Vec<String>,
    /// How often the files are re-read besides change detection; default 5m.
    pub refresh_interval: PromDuration,
}

impl Default for FileSdConfig {
    fn default() -> Self {
        FileSdConfig {
            files: Vec::new(),
            refresh_interval: PromDuration::from_secs(300),
        }
    }
}

config_struct_with_http_client! {
    /// One `http_sd_configs` entry: a URL answering a JSON list of groups.
    pub struct HttpSdConfig / RawHttpSdConfig {
        /// The endpoint, `http` or `https`.
        pub url: String,
        /// How often the endpoint is polled; default 1m.
        pub refresh_interval: PromDuration,
    }
}

impl Default for HttpSdConfig {
    fn default() -> Self {
        HttpSdConfig {
            url: String::new(),
            refresh_interval: PromDuration::from_secs(60),
            http_client: Default::default(),
        }
    }
}

/// One `dns_sd_configs` entry: names looked up every `refresh_interval`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsSdConfig {
    /// The names to look up (search-path permutations are tried).
    #[serde(deserialize_with = "null_as_default")]
    pub names: Vec<String>,
    /// How often; default 30s.
    pub refresh_interval: PromDuration,
    /// `SRV` (default), `A`, `AAAA`, `MX` or `NS`, in any case.
    #[serde(rename = "type")]
    pub record_type: String,
    /// The port of every target, for every type but SRV (required there).
    pub port: u16,
}

impl Default for DnsSdConfig {
    fn default() -> Self {
        DnsSdConfig {
            names: Vec::new(),
            refresh_interval: PromDuration::from_secs(30),
            record_type: "SRV".to_string(),
            port: 0,
        }
    }
}

/// One discovery mechanism of a job, as the discovery manager runs it.
#[derive(Debug, Clone, PartialEq)]
pub enum SdConfig {
    /// A `static_configs` entry.
    Static(StaticConfig),
    /// A `file_sd_configs` entry.
    File(FileSdConfig),
    /// An `http_sd_configs` entry.
    Http(Box<HttpSdConfig>),
    /// A `dns_sd_configs` entry.
    Dns(DnsSdConfig),
}

config_struct_with_http_client! {
    /// One `scrape_configs` entry, with Prometheus 3's fields.
    ///
    /// After loading, the inherited fields hold their effective values:
    /// `scrape_interval`, `scrape_timeout`, `scrape_protocols` and the
    /// limits come from `global` when not set here.
    pub struct ScrapeConfig / RawScrapeConfig {
        /// The job name, the `job` label's default; required and unique.
        pub job_name: String,
        /// Keep the target's labels on conflicts instead of prefixing `exported_`.
        pub honor_labels: bool,
        /// Keep the timestamps the target exposes; default true.
        pub honor_timestamps: bool,
        /// Write staleness markers for series with explicit timestamps.
        pub track_timestamps_staleness: bool,
        /// Query parameters added to the scrape URL.
        #[serde(deserialize_with = "null_as_default")]
        pub params: BTreeMap<String, Vec<String>>,
        /// How often; inherits `global.scrape_interval`.
        pub scrape_interval: PromDuration,
        /// How long a scrape may take; inherits `global.scrape_timeout`,
        /// capped at `scrape_interval`.
        pub scrape_timeout: PromDuration,
        /// Protocols offered, most wanted first; inherits the global list.
        #[serde(deserialize_with = "null_as_default")]
        pub scrape_protocols: Vec<ScrapeProtocol>,
        /// Protocol assumed when the target's `Content-Type` is unusable.
        pub fallback_scrape_protocol: Option<ScrapeProtocol>,
        /// Scrape native histograms (accepted; not yet supported).
        pub scrape_native_histograms: Option<bool>,
        /// Keep classic histograms next to native ones (accepted).
        pub always_scrape_classic_histograms: Option<bool>,
        /// Convert classic histograms to custom-bucket native ones (accepted).
        pub convert_classic_histograms_to_nhcb: Option<bool>,
        /// File scrape failures are logged to.
        pub scrape_failure_log_file: String,
        /// The HTTP path; default `/metrics`.
        pub metrics_path: String,
        /// `http` (default) or `https`.
        pub scheme: String,
        /// Ask for gzip; default true.
        pub enable_compression: bool,
        /// Largest uncompressed body; inherits the global limit; 0 = none.
        pub body_size_limit: ByteSize,
        /// Most samples kept after metric relabeling; 0 = none.
        pub sample_limit: u64,
        /// Most targets after target relabeling; 0 = none.
        pub target_limit: u64,
        /// Most labels per series; 0 = none.
        pub label_limit: u64,
        /// Longest label name; 0 = none.
        pub label_name_length_limit: u64,
        /// Longest label value; 0 = none.
        pub label_value_length_limit: u64,
        /// Native histogram bucket limit (accepted).
        pub native_histogram_bucket_limit: u64,
        /// Native histogram minimum bucket growth factor (accepted).
        pub native_histogram_min_bucket_factor: f64,
        /// Dropped targets remembered for the API; 0 = no limit.
        pub keep_dropped_targets: u64,
        /// `utf8` or `legacy`; inherits the global scheme.
        pub metric_name_validation_scheme: String,
        /// Escaping scheme requested from targets.
        pub metric_name_escaping_scheme: String,
        /// Write the extra `scrape_*` series; inherits the global setting.
        pub extra_scrape_metrics: Option<bool>,
        /// Target relabeling.
        #[serde(deserialize_with = "null_as_default")]
        pub relabel_configs: Vec<RelabelConfig>,
        /// Relabeling of scraped series.
        #[serde(deserialize_with = "null_as_default")]
        pub metric_relabel_configs: Vec<RelabelConfig>,
        /// Fixed targets.
        #[serde(deserialize_with = "null_as_default")]
        pub static_configs: Vec<StaticConfig>,
        /// Targets from files.
        #[serde(deserialize_with = "null_as_default")]
        pub file_sd_configs: Vec<FileSdConfig>,
        /// Targets from an HTTP endpoint.
        #[serde(deserialize_with = "null_as_default")]
        pub http_sd_configs: Vec<HttpSdConfig>,
        /// DNS service discovery.
        #[serde(deserialize_with = "null_as_default")]
        pub dns_sd_configs: Vec<DnsSdConfig>,
    }
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        ScrapeConfig {
            job_name: String::new(),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            params: BTreeMap::new(),
            scrape_interval: PromDuration::ZERO,
            scrape_timeout: PromDuration::ZERO,
            scrape_protocols: Vec::new(),
            fallback_scrape_protocol: None,
            scrape_native_histograms: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
            scrape_failure_log_file: String::new(),
            metrics_path: "/metrics".to_string(),
            scheme: "http".to_string(),
            enable_compression: true,
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            native_histogram_bucket_limit: 0,
            native_histogram_min_bucket_factor: 0.0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: String::new(),
            metric_name_escaping_scheme: String::new(),
            extra_scrape_metrics: None,
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            static_configs: Vec::new(),
            file_sd_configs: Vec::new(),
            http_sd_configs: Vec::new(),
            dns_sd_configs: Vec::new(),
            http_client: Default::default(),
        }
    }
}

impl ScrapeConfig {
    /// This job's discovery mechanisms, static first, then file, then HTTP.
    pub fn sd_configs(&self) -> Vec<SdConfig> {
        let statics = self.static_configs.iter().cloned().map(SdConfig::Static);
        let files = self.file_sd_configs.iter().cloned().map(SdConfig::File);
        let https = self
            .http_sd_configs
            .iter()
            .cloned()
            .map(|http_sd_config| SdConfig::Http(Box::new(http_sd_config)));
        let dns = self.dns_sd_configs.iter().cloned().map(SdConfig::Dns);
        statics.chain(files).chain(https).chain(dns).collect()
    }
}
