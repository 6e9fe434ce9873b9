//! OpenMetrics 1.0 text, as Prometheus 3 reads it: single spaces between
//! tokens, no blank lines or free comments, `# HELP`/`# TYPE`/`# UNIT`
//! metadata, float-second timestamps, exemplars, and a mandatory `# EOF`.

use super::escape::{EscapeRules, unescape};
use super::float::parse_seconds_as_millis;
use super::parser::{ExemplarValue, Parser, Span, starts_metric_name};
use super::{Entry, ParseError};
use crate::model::metadata::MetricType;

const MISSING_EOF: &str = "data does not end with # EOF";

impl<'a> Parser<'a> {
    pub(super) fn next_openmetrics(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        loop {
            self.entry_line = self.current_line;
            let Some(first) = self.peek() else {
                return Err(self.error(MISSING_EOF));
            };
            let entry = match first {
                b'#' => return self.openmetrics_comment(),
                b'{' => self.openmetrics_series()?,
                byte if starts_metric_name(byte) => self.openmetrics_series()?,
                _ => {
                    let found = self.found();
                    return Err(self.error(format!(
                        "expected a metric name, '{{' or '#' at the start of a line, found {found}"
                    )));
                }
            };
            if self.skip_created_series && self.is_created_series() {
                continue;
            }
            return Ok(Some(entry));
        }
    }

    /// Whether the current series is the `_created` series of a family type
    /// that carries a created timestamp.
    fn is_created_series(&self) -> bool {
        let carries_created = matches!(
            self.metric_type,
            MetricType::Counter | MetricType::Summary | MetricType::Histogram
        );
        carries_created
            && self
                .name
                .is_some_and(|name| self.bytes(name).ends_with(b"_created"))
    }

    /// Consumes the line break ending a line; a missing one is a missing EOF.
    fn end_of_openmetrics_line(&mut self, context: &str) -> Result<(), ParseError> {
        match self.peek() {
            Some(b'\n') => {
                self.pos += 1;
                self.current_line += 1;
                Ok(())
            }
            None => Err(self.error(MISSING_EOF)),
            Some(_) => {
                let found = self.found();
                Err(self.error(format!("expected end of line {context}, found {found}")))
            }
        }
    }

    fn openmetrics_comment(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let rest = self.body.get(self.pos..).unwrap_or_default();
        if rest.starts_with(b"# EOF") {
            self.pos += 5;
            if self.peek() == Some(b'\n') {
                self.pos += 1;
                self.current_line += 1;
            }
            if self.pos < self.body.len() {
                return Err(self.error("unexpected data after # EOF"));
            }
            return Ok(None);
        }
        let keyword = match rest.get(..7) {
            Some(b"# HELP ") => "HELP",
            Some(b"# TYPE ") => "TYPE",
            Some(b"# UNIT ") => "UNIT",
            _ => {
                return Err(self.error(
                    "expected # HELP, # TYPE, # UNIT or # EOF (other comments are not allowed)",
                ));
            }
        };
        self.pos += 7;
        let family = match self.peek() {
            Some(b'"') => self.scan_quoted(false)?,
            _ => match self.scan_metric_name() {
                Some(name) => name,
                None => {
                    let found = self.found();
                    return Err(self.error(format!(
                        "expected metric name after {keyword}, found {found}"
                    )));
                }
            },
        };
        if self.peek() != Some(b' ') {
            return Err(self.error(format!("expected text in {keyword}")));
        }
        self.pos += 1;
        let text: Span = self.scan_token(|byte| byte == b'\n');
        if self.peek() != Some(b'\n') {
            return Err(self.error(format!("expected text in {keyword}")));
        }
        let family_text = self.text(family);
        let entry = match keyword {
            "HELP" => {
                if !self.is_utf8(text) {
                    return Err(self.error("help text is not valid UTF-8"));
                }
                Entry::Help {
                    family: family_text,
                    help: unescape(self.text(text), EscapeRules::LabelValue),
                }
            }
            "TYPE" => {
                let word = self.bytes(text);
                let metric_type = match word {
                    b"counter" => MetricType::Counter,
                    b"gauge" => MetricType::Gauge,
                    b"histogram" => MetricType::Histogram,
                    b"gaugehistogram" => MetricType::GaugeHistogram,
                    b"summary" => MetricType::Summary,
                    b"info" => MetricType::Info,
                    b"stateset" => MetricType::StateSet,
                    b"unknown" => MetricType::Unknown,
                    _ => {
                        let shown = String::from_utf8_lossy(word).into_owned();
                        return Err(self.error(format!("invalid metric type {shown:?}")));
                    }
                };
                self.metric_type = metric_type;
                Entry::Type {
                    family: family_text,
                    metric_type,
                }
            }
            _ => {
                if !self.is_utf8(text) {
                    return Err(self.error("unit is not valid UTF-8"));
                }
                let unit = self.text(text);
                let family_bytes = family_text.as_bytes();
                let is_suffix = unit.is_empty()
                    || (family_bytes.len() > unit.len()
                        && family_bytes.ends_with(unit.as_bytes())
                        && family_bytes[family_bytes.len() - unit.len() - 1] == b'_');
                if !is_suffix {
                    return Err(self.error(format!(
                        "unit {unit:?} not a suffix of metric {family_text:?}"
                    )));
                }
                Entry::Unit {
                    family: family_text,
                    unit,
                }
            }
        };
        self.end_of_openmetrics_line("after metadata")?;
        Ok(Some(entry))
    }

    /// ` value`: one space, then bytes up to a space or line break.
    fn openmetrics_value_token(&mut self, context: &str) -> Result<Span, ParseError> {
        if self.peek() != Some(b' ') {
            if self.peek().is_none() {
                return Err(self.error(MISSING_EOF));
            }
            let found = self.found();
            return Err(self.error(format!(
                "expected a space and a value {context}, found {found}"
            )));
        }
        self.pos += 1;
        let token = self.scan_token(|byte| byte == b' ' || byte == b'\n');
        if token.start == token.end {
            let found = self.found();
            return Err(self.error(format!("expected value {context}, found {found}")));
        }
        Ok(token)
    }

    fn openmetrics_series(&mut self) -> Result<Entry<'a>, ParseError> {
        self.reset_series();
        let start = self.pos;
        if self.peek() != Some(b'{') {
            self.name = self.scan_metric_name();
        }
        if self.peek() == Some(b'{') {
            self.pos += 1;
            self.parse_label_block(false, false)?;
        }
        let series_end = self.pos;
        if self.name.is_none() {
            return Err(self.error("metric name not set"));
        }
        let value_token = self.openmetrics_value_token("after metric")?;
        let value = self.parse_sample_value(value_token)?;
        let mut timestamp_ms = None;
        if self.at_exemplar_marker() {
            self.openmetrics_exemplar()?;
        } else if self.peek() == Some(b' ') {
            self.pos += 1;
            let token = self.scan_token(|byte| byte == b' ' || byte == b'\n');
            let bytes = self.bytes(token);
            if bytes.is_empty() || bytes[0] == b'c' {
                return Err(self.error("expected timestamp or exemplar after value"));
            }
            match parse_seconds_as_millis(bytes) {
                Some(timestamp) => timestamp_ms = Some(timestamp),
                None => {
                    let shown = String::from_utf8_lossy(bytes).into_owned();
                    return Err(self.error(format!("invalid timestamp {shown:?}")));
                }
            }
            if self.at_exemplar_marker() {
                self.openmetrics_exemplar()?;
            } else {
                self.end_of_openmetrics_line("after timestamp")?;
            }
        } else {
            self.end_of_openmetrics_line("after value")?;
        }
        Ok(Entry::Series {
            series: self.body.get(start..series_end).unwrap_or_default(),
            timestamp_ms,
            value,
        })
    }

    fn at_exemplar_marker(&self) -> bool {
        self.body
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(b" # {"))
    }

    /// ` # {labels} value [timestamp]` up to and including the line break.
    fn openmetrics_exemplar(&mut self) -> Result<(), ParseError> {
        self.pos += 4;
        self.parse_label_block(false, true)?;
        let value_token = self.openmetrics_value_token("after exemplar labels")?;
        let value = self.parse_sample_value(value_token)?;
        let mut timestamp_ms = None;
        if self.peek() == Some(b' ') {
            self.pos += 1;
            let token = self.scan_token(|byte| byte == b' ' || byte == b'\n');
            let bytes = self.bytes(token);
            match parse_seconds_as_millis(bytes) {
                Some(timestamp) => timestamp_ms = Some(timestamp),
                None => {
                    let shown = String::from_utf8_lossy(bytes).into_owned();
                    return Err(self.error(format!("invalid exemplar timestamp {shown:?}")));
                }
            }
        }
        self.end_of_openmetrics_line("after exemplar")?;
        self.exemplar_value = Some(ExemplarValue {
            value,
            timestamp_ms,
        });
        Ok(())
    }
}
