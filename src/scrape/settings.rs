//! What one scrape pool needs to know: the scrape-relevant part of a
//! `scrape_configs` entry, independent of how the config file is modelled,
//! plus the discovered target groups it is fed with.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::http_client::HttpClientConfig;
use crate::model::relabel::RelabelConfig;

/// An exposition format a target may be asked for, with Prometheus's names
/// (`scrape_protocols`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScrapeProtocol {
    /// `PrometheusText0.0.4`: `text/plain;version=0.0.4`.
    PrometheusText0_0_4,
    /// `PrometheusText1.0.0`: `text/plain;version=1.0.0` (UTF-8 names).
    PrometheusText1_0_0,
    /// `OpenMetricsText0.0.1`.
    OpenMetricsText0_0_1,
    /// `OpenMetricsText1.0.0`.
    OpenMetricsText1_0_0,
}

impl ScrapeProtocol {
    /// Prometheus 3's default order: OpenMetrics first, text last.
    pub const DEFAULT: [ScrapeProtocol; 4] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// Parses the config name (`OpenMetricsText1.0.0`, ...). The protobuf
    /// protocol is not supported and gives `None`.
    pub fn from_config_name(name: &str) -> Option<Self> {
        Some(match name {
            "PrometheusText0.0.4" => ScrapeProtocol::PrometheusText0_0_4,
            "PrometheusText1.0.0" => ScrapeProtocol::PrometheusText1_0_0,
            "OpenMetricsText0.0.1" => ScrapeProtocol::OpenMetricsText0_0_1,
            "OpenMetricsText1.0.0" => ScrapeProtocol::OpenMetricsText1_0_0,
            _ => return None,
        })
    }

    /// The media type sent in `Accept` for this protocol.
    pub fn media_type(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
        }
    }

    /// Whether the media type carries an `escaping=` parameter (the formats
    /// that allow UTF-8 names do).
    fn takes_escaping(self) -> bool {
        matches!(
            self,
            ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::OpenMetricsText1_0_0
        )
    }
}

/// The number of protocols Prometheus knows (including protobuf), which sets
/// the first `q` weight of the `Accept` header.
const KNOWN_PROTOCOL_COUNT: usize = 5;

/// The `Accept` header Prometheus 3 sends for `protocols`: each media type in
/// order with decreasing `q`, `escaping=allow-utf-8` on the UTF-8 capable
/// ones, then `*/*` with the lowest weight.
pub fn accept_header(protocols: &[ScrapeProtocol]) -> String {
    let mut weight = KNOWN_PROTOCOL_COUNT + 1;
    let mut parts = Vec::with_capacity(protocols.len() + 1);
    for protocol in protocols {
        let mut part = protocol.media_type().to_string();
        if protocol.takes_escaping() {
            part.push_str(";escaping=allow-utf-8");
        }
        part.push_str(&format!(";q=0.{weight}"));
        parts.push(part);
        weight = weight.saturating_sub(1).max(1);
    }
    parts.push(format!("*/*;q=0.{weight}"));
    parts.join(",")
}

/// The HTTP client part of a scrape config.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpClientSettings {
    /// The `http_client` fields, applied by [`crate::http_client::HttpClient`]
    /// (credential and header files are re-read each scrape).
    pub http_client: HttpClientConfig,
    /// `enable_compression`: ask for gzip; default true.
    pub enable_compression: bool,
}

impl Default for HttpClientSettings {
    fn default() -> Self {
        HttpClientSettings {
            http_client: HttpClientConfig::default(),
            enable_compression: true,
        }
    }
}

/// Per-scrape and per-pool limits; zero means "no limit", as in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScrapeLimits {
    /// `sample_limit`: samples accepted after metric relabeling.
    pub sample_limit: u64,
    /// `body_size_limit` in bytes (uncompressed).
    pub body_size_limit: u64,
    /// `label_limit`: labels per series (including `__name__`).
    pub label_limit: u64,
    /// `label_name_length_limit`.
    pub label_name_length_limit: u64,
    /// `label_value_length_limit`.
    pub label_value_length_limit: u64,
    /// `target_limit`: active targets per pool.
    pub target_limit: u64,
    /// `keep_dropped_targets`: dropped targets remembered for the API.
    pub keep_dropped_targets: u64,
}

/// Everything a scrape pool needs; one per `scrape_configs` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeSettings {
    /// `job_name`, also the pool's name.
    pub job_name: String,
    /// `scrape_interval` (after the global default was applied).
    pub scrape_interval: Duration,
    /// `scrape_timeout` (after the global default was applied).
    pub scrape_timeout: Duration,
    /// `metrics_path`, default `/metrics`.
    pub metrics_path: String,
    /// `scheme`, default `http`.
    pub scheme: String,
    /// `params`: URL query parameters.
    pub params: BTreeMap<String, Vec<String>>,
    /// `honor_labels`.
    pub honor_labels: bool,
    /// `honor_timestamps`, default true.
    pub honor_timestamps: bool,
    /// `track_timestamps_staleness`.
    pub track_timestamps_staleness: bool,
    /// `scrape_protocols`, in preference order.
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// `fallback_scrape_protocol`: how a body with an empty or unknown
    /// `Content-Type` is parsed (default: the text format).
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// The HTTP client settings.
    pub http_client: HttpClientSettings,
    /// The limits.
    pub limits: ScrapeLimits,
    /// `relabel_configs`: applied to targets.
    pub relabel_configs: Vec<RelabelConfig>,
    /// `metric_relabel_configs`: applied to every scraped series.
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

impl ScrapeSettings {
    /// Settings with Prometheus's defaults for `job_name`.
    pub fn new(job_name: impl Into<String>) -> Self {
        ScrapeSettings {
            job_name: job_name.into(),
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            metrics_path: "/metrics".to_string(),
            scheme: "http".to_string(),
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            scrape_protocols: ScrapeProtocol::DEFAULT.to_vec(),
            fallback_scrape_protocol: None,
            http_client: HttpClientSettings::default(),
            limits: ScrapeLimits::default(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
        }
    }

    /// Whether a loop's series cache stays valid when the pool moves from
    /// `self` to `other`: only settings that change how scraped series are
    /// labelled or accepted invalidate it (Prometheus's `reusableCache`).
    pub fn cache_reusable_with(&self, other: &ScrapeSettings) -> bool {
        self.honor_labels == other.honor_labels
            && self.honor_timestamps == other.honor_timestamps
            && self.metric_relabel_configs == other.metric_relabel_configs
            && self.limits.sample_limit == other.limits.sample_limit
            && self.limits.label_limit == other.limits.label_limit
            && self.limits.label_name_length_limit == other.limits.label_name_length_limit
            && self.limits.label_value_length_limit == other.limits.label_value_length_limit
    }
}

/// A group of discovered targets with common labels: discovery's type.
pub use crate::discovery::TargetGroup;

/// Parses a Prometheus duration (`15s`, `1m30s`, `500ms`, `2h`, `1d`, `1w`,
/// `1y`; units in decreasing order, each at most once).
pub fn parse_duration(text: &str) -> Option<Duration> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut position = 0;
    let mut next_unit = 0;
    let mut total_ms: u64 = 0;
    while position < bytes.len() {
        let digits_start = position;
        while position < bytes.len() && bytes[position].is_ascii_digit() {
            position += 1;
        }
        if position == digits_start {
            return None;
        }
        let number: u64 = text[digits_start..position].parse().ok()?;
        let unit_start = position;
        while position < bytes.len() && bytes[position].is_ascii_alphabetic() {
            position += 1;
        }
        let unit = &text[unit_start..position];
        let unit_index = UNITS[next_unit..]
            .iter()
            .position(|(name, _)| *name == unit)?
            + next_unit;
        next_unit = unit_index + 1;
        total_ms = total_ms.checked_add(number.checked_mul(UNITS[unit_index].1)?)?;
    }
    Some(Duration::from_millis(total_ms))
}

/// Formats a duration as Prometheus does (`1m30s`, `15s`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut ms = duration.as_millis() as u64;
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 24 * 3_600_000u64),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_in_prometheus_syntax() {
        let cases = [
            ("15s", 15_000),
            ("1m30s", 90_000),
            ("500ms", 500),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("1w", 604_800_000),
            ("1h1ms", 3_600_001),
        ];
        for (text, ms) in cases {
            assert_eq!(
                parse_duration(text),
                Some(Duration::from_millis(ms)),
                "{text}"
            );
            assert_eq!(format_duration(Duration::from_millis(ms)), text);
        }
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn malformed_durations_are_refused() {
        for text in ["", "s", "15", "1s1m", "1x", "-1s", "1.5s", "1s1s"] {
            assert_eq!(parse_duration(text), None, "{text}");
        }
    }

    #[test]
    fn accept_header_prefers_openmetrics_like_prometheus_3() {
        assert_eq!(
            accept_header(&ScrapeProtocol::DEFAULT),
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        assert_eq!(
            accept_header(&[ScrapeProtocol::PrometheusText0_0_4]),
            "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
        );
    }
}
