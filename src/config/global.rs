//! The `global` section: defaults every scrape config and rule group inherits.

use serde::{Deserialize, Serialize};

use super::duration::PromDuration;
use super::serde_helpers::null_as_default;
use super::units::ByteSize;
use crate::model::labels::Labels;

/// A scrape protocol offered in the `Accept` header, with Prometheus's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScrapeProtocol {
    /// The protobuf exposition format.
    PrometheusProto,
    /// The text format 0.0.4.
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText0_0_4,
    /// The text format 1.0.0.
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText1_0_0,
    /// OpenMetrics 0.0.1.
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText0_0_1,
    /// OpenMetrics 1.0.0.
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText1_0_0,
}

impl ScrapeProtocol {
    /// Prometheus's default order, most wanted first.
    pub const DEFAULT_PROTOCOLS: [ScrapeProtocol; 4] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// The order Prometheus uses when native histograms are scraped.
    pub const PROTO_FIRST_PROTOCOLS: [ScrapeProtocol; 5] = [
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// The media type and parameters sent in `Accept`.
    pub fn header_value(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
        }
    }
}

/// The `global` section, with Prometheus 3's fields and defaults.
///
/// Zero durations and limits read as "unset"; loading fills them in
/// (`scrape_timeout` becomes `min(10s, scrape_interval)`), so a loaded
/// config always holds the effective values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default = "GlobalConfig::unresolved", deny_unknown_fields)]
pub struct GlobalConfig {
    /// How often targets are scraped; default 1m.
    pub scrape_interval: PromDuration,
    /// How long a scrape may take; default `min(10s, scrape_interval)`.
    pub scrape_timeout: PromDuration,
    /// Protocols offered to targets; empty means Prometheus's default list.
    #[serde(deserialize_with = "null_as_default")]
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// How often rules are evaluated; default 1m.
    pub evaluation_interval: PromDuration,
    /// How far in the past rule evaluation queries; default 0.
    pub rule_query_offset: PromDuration,
    /// File PromQL queries are logged to (resolved against the config's directory).
    pub query_log_file: String,
    /// File scrape failures are logged to (resolved against the config's directory).
    pub scrape_failure_log_file: String,
    /// Labels added to series and alerts leaving this node; `$VAR` and
    /// `${VAR}` are expanded from the environment, as Prometheus does.
    #[serde(deserialize_with = "null_as_default")]
    pub external_labels: Labels,
    /// Largest uncompressed scrape body; 0 means no limit.
    pub body_size_limit: ByteSize,
    /// Most samples a scrape may keep after metric relabeling; 0 means no limit.
    pub sample_limit: u64,
    /// Most targets a scrape config may have after relabeling; 0 means no limit.
    pub target_limit: u64,
    /// Most labels a series may have; 0 means no limit.
    pub label_limit: u64,
    /// Longest label name; 0 means no limit.
    pub label_name_length_limit: u64,
    /// Longest label value; 0 means no limit.
    pub label_value_length_limit: u64,
    /// How many dropped targets to remember per job; 0 means no limit.
    pub keep_dropped_targets: u64,
    /// `utf8` (default) or `legacy` validation of metric and label names.
    pub metric_name_validation_scheme: String,
    /// The escaping scheme requested from targets.
    pub metric_name_escaping_scheme: String,
    /// Whether to scrape native histograms (accepted; not yet supported).
    pub scrape_native_histograms: Option<bool>,
    /// Convert classic histograms to custom-bucket native ones (accepted).
    pub convert_classic_histograms_to_nhcb: bool,
    /// Keep classic histograms next to native ones (accepted).
    pub always_scrape_classic_histograms: bool,
    /// Write `scrape_timeout_seconds` and friends.
    pub extra_scrape_metrics: bool,
}

impl Default for GlobalConfig {
    /// The effective defaults of an empty `global` section.
    fn default() -> Self {
        let mut global = GlobalConfig::unresolved();
        global.resolve_defaults();
        global
    }
}

impl GlobalConfig {
    /// Prometheus's defaults before inference: zero where a value is derived.
    pub(crate) fn unresolved() -> Self {
        GlobalConfig {
            scrape_interval: PromDuration::from_secs(60),
            scrape_timeout: PromDuration::ZERO,
            scrape_protocols: Vec::new(),
            evaluation_interval: PromDuration::from_secs(60),
            rule_query_offset: PromDuration::ZERO,
            query_log_file: String::new(),
            scrape_failure_log_file: String::new(),
            external_labels: Labels::empty(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: String::new(),
            metric_name_escaping_scheme: String::new(),
            scrape_native_histograms: None,
            convert_classic_histograms_to_nhcb: false,
            always_scrape_classic_histograms: false,
            extra_scrape_metrics: false,
        }
    }

    /// Fills the values Prometheus infers (interval 0 → 1m; timeout 0 →
    /// `min(10s, interval)`). Call after checking timeout ≤ interval.
    pub(crate) fn resolve_defaults(&mut self) {
        if self.scrape_interval.is_zero() {
            self.scrape_interval = PromDuration::from_secs(60);
        }
        if self.scrape_timeout.is_zero() {
            self.scrape_timeout = PromDuration::from_secs(10).min(self.scrape_interval);
        }
        if self.evaluation_interval.is_zero() {
            self.evaluation_interval = PromDuration::from_secs(60);
        }
        if self.metric_name_validation_scheme.is_empty() {
            self.metric_name_validation_scheme = "utf8".to_string();
        }
    }

    /// True when metric and label names follow the legacy (pre-UTF-8) rules.
    pub fn uses_legacy_name_validation(&self) -> bool {
        self.metric_name_validation_scheme == "legacy"
    }
}

/// Expands `$VAR` and `${VAR}` from the environment; `$$` is a literal `$`.
/// Unset variables expand to the empty string, as Go's `os.Expand` does.
pub(crate) fn expand_environment(text: &str) -> String {
    let mut expanded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        expanded.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            expanded.push('$');
            rest = stripped;
        } else if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(close) => {
                    expanded.push_str(&std::env::var(&braced[..close]).unwrap_or_default());
                    rest = &braced[close + 1..];
                }
                None => {
                    expanded.push('$');
                    rest = after;
                }
            }
        } else {
            let name_len = after
                .find(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
                .unwrap_or(after.len());
            if name_len == 0 {
                expanded.push('$');
            } else {
                expanded.push_str(&std::env::var(&after[..name_len]).unwrap_or_default());
            }
            rest = &after[name_len..];
        }
    }
    expanded.push_str(rest);
    expanded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_environment_like_go_os_expand() {
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("PROMSHARD_TEST_REGION", "eu-west") };
        let cases = [
            ("plain", "plain"),
            ("$PROMSHARD_TEST_REGION", "eu-west"),
            ("${PROMSHARD_TEST_REGION}-1", "eu-west-1"),
            ("cost$$", "cost$"),
            ("$PROMSHARD_TEST_UNSET_VARIABLE", ""),
            ("trailing$", "trailing$"),
        ];
        for (input, expected) in cases {
            assert_eq!(expand_environment(input), expected, "{input}");
        }
    }

    #[test]
    fn timeout_defaults_to_the_smaller_of_ten_seconds_and_the_interval() {
        let mut global = GlobalConfig::unresolved();
        global.scrape_interval = PromDuration::from_secs(5);
        global.resolve_defaults();
        assert_eq!(global.scrape_timeout, PromDuration::from_secs(5));
        assert_eq!(
            GlobalConfig::default().scrape_timeout,
            PromDuration::from_secs(10)
        );
    }
}
