//! Parsers for the Prometheus text format 0.0.4 and OpenMetrics 1.0.
//!
//! One pull parser, [`Parser`], reads a scrape body entry by entry. It is
//! hand-written, byte-level and allocation-light: an [`Entry`] borrows from the
//! body, and the label set of a series is only built when the caller asks for
//! it ([`Parser::series_labels`] into a reused [`ScratchBuilder`]), so a scrape
//! loop that caches series by their raw bytes ([`Entry::Series::series`]) pays
//! for label building only for series it has not seen before.
//!
//! Behaviour follows Prometheus 3's parsers:
//! - metric and label names may be quoted UTF-8 strings inside the braces
//!   (`{"my.metric", "label.name"="v"}`);
//! - label values and HELP text are unescaped (`\\`, `\"`, `\n`);
//! - values are parsed like Go's `strconv.ParseFloat` (`NaN`, `+Inf`, hex and
//!   exponent floats; out-of-range values are errors);
//! - text-format timestamps are integer milliseconds, OpenMetrics timestamps
//!   are float seconds and are converted to milliseconds;
//! - OpenMetrics' stricter syntax: `# EOF` is required and ends the body, blank
//!   lines and free comments are errors, `# UNIT` must be a suffix of the
//!   family name, exemplars (`# {..} value [timestamp]`) are parsed on
//!   counters' `_total` and histograms' `_bucket` samples;
//! - `_created` series are returned like any other series, as Prometheus 3's
//!   scrape does when created-timestamp ingestion is off (its default).
//!
//! Malformed input is a [`ParseError`] carrying the 1-based line number. No
//! input makes the parser panic or loop forever: every call to
//! [`Parser::next`] either consumes at least one byte, returns `Ok(None)` or
//! returns an error, and after an error or the end every further call returns
//! `Ok(None)`.

mod escape;
mod float;
mod openmetrics;
mod parser;
mod promtext;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

pub use parser::Parser;

use super::labels::Labels;
use super::metadata::MetricType;

#[doc(no_inline)]
pub use super::labels::ScratchBuilder;

/// The content type of the Prometheus text format 0.0.4.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An exposition format the parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4.
    #[default]
    PrometheusText,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format of a response's `Content-Type` header value.
    ///
    /// `application/openmetrics-text` (any version or parameters, any case)
    /// is OpenMetrics; everything else, including an empty or malformed
    /// header, falls back to the Prometheus text format, as Prometheus's
    /// scrape does for `text/plain` and unknown types.
    pub fn from_content_type(content_type: &str) -> Format {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }

    /// The full `Content-Type` value of this format (for `Accept` headers and
    /// for serving it).
    pub fn content_type(&self) -> &'static str {
        match self {
            Format::PrometheusText => PROMETHEUS_TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// Malformed input, with the 1-based line where it was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The 1-based line number of the offending input.
    pub line: usize,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
}

/// One entry of an exposition body, borrowed from the body.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// A `# TYPE family type` line.
    Type {
        /// The metric family name (unquoted).
        family: &'a str,
        /// The declared type; `untyped` and `unknown` are [`MetricType::Unknown`].
        metric_type: MetricType,
    },
    /// A `# HELP family text` line.
    Help {
        /// The metric family name (unquoted).
        family: &'a str,
        /// The help text, unescaped (borrowed when it had no escapes).
        help: Cow<'a, str>,
    },
    /// A `# UNIT family unit` line (OpenMetrics only).
    Unit {
        /// The metric family name (unquoted).
        family: &'a str,
        /// The unit; may be empty.
        unit: &'a str,
    },
    /// A comment line that carries no metadata (text format only).
    Comment,
    /// One sample line. `series` is the raw bytes of the metric name and
    /// label block exactly as written (stable across scrapes: a cache key for
    /// the scrape loop). Timestamp in milliseconds (OpenMetrics seconds are
    /// converted).
    Series {
        /// The metric name and label block as written, e.g. `up{job="a"}`.
        series: &'a [u8],
        /// The sample's own timestamp in milliseconds, if it has one.
        timestamp_ms: Option<i64>,
        /// The sample value (may be NaN or ±Inf).
        value: f64,
    },
}

/// An OpenMetrics exemplar attached to a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's own labels (e.g. `trace_id`), unescaped.
    pub labels: Labels,
    /// The exemplar value.
    pub value: f64,
    /// The exemplar timestamp in milliseconds, if given.
    pub timestamp_ms: Option<i64>,
}
