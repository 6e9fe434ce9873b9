//! Metric metadata: TYPE, HELP and UNIT.

use serde::{Deserialize, Serialize};

/// The type of a metric family, as the exposition formats name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// A monotonic counter.
    Counter,
    /// A gauge.
    Gauge,
    /// A classic histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
    /// An OpenMetrics gauge histogram.
    #[serde(rename = "gaugehistogram")]
    GaugeHistogram,
    /// A summary (quantiles, `_sum`, `_count`).
    Summary,
    /// An OpenMetrics info metric.
    Info,
    /// An OpenMetrics state set.
    #[serde(rename = "stateset")]
    StateSet,
    /// Untyped (text format) or unknown (OpenMetrics).
    #[default]
    Unknown,
}

impl MetricType {
    /// Parses a TYPE line's type word; anything unrecognised is `None`.
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "untyped" | "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// The lowercase name used in the HTTP API.
    pub fn as_str(&self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// The metadata of one metric family, as `/api/v1/metadata` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Metadata {
    /// The type.
    #[serde(rename = "type")]
    pub metric_type: MetricType,
    /// The HELP text.
    pub help: String,
    /// The UNIT, empty when not given.
    pub unit: String,
}
