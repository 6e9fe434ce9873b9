//! The Prometheus text format 0.0.4, as Prometheus 3 reads it: blanks and
//! tabs between tokens, blank lines and free comments allowed, `# HELP` and
//! `# TYPE` metadata, integer millisecond timestamps.

use std::borrow::Cow;

use super::escape::{EscapeRules, unescape};
use super::float::parse_millis;
use super::parser::{Parser, Span, starts_metric_name};
use super::{Entry, ParseError};
use crate::model::metadata::MetricType;

impl<'a> Parser<'a> {
    pub(super) fn next_text(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        loop {
            self.skip_blanks();
            self.entry_line = self.current_line;
            let Some(first) = self.peek() else {
                return Ok(None);
            };
            match first {
                b'\n' => {
                    self.pos += 1;
                    self.current_line += 1;
                }
                b'#' => return self.text_comment().map(Some),
                b'{' => return self.text_series().map(Some),
                byte if starts_metric_name(byte) => return self.text_series().map(Some),
                _ => {
                    let found = self.found();
                    return Err(self.error(format!(
                        "expected a metric name, '{{' or '#' at the start of a line, found {found}"
                    )));
                }
            }
        }
    }

    /// Consumes the rest of the line, including its line break.
    fn skip_line(&mut self) {
        let rest = self.body.get(self.pos..).unwrap_or_default();
        match memchr::memchr(b'\n', rest) {
            Some(offset) => {
                self.pos += offset + 1;
                self.current_line += 1;
            }
            None => self.pos = self.body.len(),
        }
    }

    /// Consumes the line break that must end the line (or the end of input).
    fn end_of_text_line(&mut self, context: &str) -> Result<(), ParseError> {
        self.skip_blanks();
        match self.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.pos += 1;
                self.current_line += 1;
                Ok(())
            }
            Some(_) => {
                let found = self.found();
                Err(self.error(format!("expected end of line {context}, found {found}")))
            }
        }
    }

    fn text_comment(&mut self) -> Result<Entry<'a>, ParseError> {
        self.pos += 1; // '#'
        if !matches!(self.peek(), Some(b' ' | b'\t')) {
            self.skip_line();
            return Ok(Entry::Comment);
        }
        self.skip_blanks();
        let rest = self.body.get(self.pos..).unwrap_or_default();
        let is_help = rest.starts_with(b"HELP");
        let is_type = rest.starts_with(b"TYPE");
        if !(is_help || is_type) || !matches!(rest.get(4), Some(b' ' | b'\t')) {
            self.skip_line();
            return Ok(Entry::Comment);
        }
        self.pos += 4;
        self.skip_blanks();
        let keyword = if is_help { "HELP" } else { "TYPE" };
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
        // The text is the rest of the line after one blank (further blanks
        // belong to the text, as in Prometheus).
        let text = match self.peek() {
            None | Some(b'\n') => Span {
                start: self.pos,
                end: self.pos,
                escaped: false,
            },
            Some(b' ' | b'\t') => {
                self.pos += 1;
                self.scan_token(|byte| byte == b'\n')
            }
            Some(_) => {
                let found = self.found();
                return Err(self.error(format!(
                    "expected a blank after the metric name in {keyword}, found {found}"
                )));
            }
        };
        let family = self.text(family);
        let entry = if is_help {
            if !self.is_utf8(text) {
                return Err(self.error("help text is not valid UTF-8"));
            }
            let help = self.text(text);
            Entry::Help {
                family,
                help: match unescape(help, EscapeRules::TextHelp) {
                    Cow::Borrowed(borrowed) => Cow::Borrowed(borrowed),
                    Cow::Owned(owned) => Cow::Owned(owned),
                },
            }
        } else {
            let word = self.bytes(text);
            let metric_type = match word {
                b"counter" => MetricType::Counter,
                b"gauge" => MetricType::Gauge,
                b"histogram" => MetricType::Histogram,
                b"summary" => MetricType::Summary,
                b"untyped" => MetricType::Unknown,
                _ => {
                    let shown = String::from_utf8_lossy(word).into_owned();
                    return Err(self.error(format!("invalid metric type {shown:?}")));
                }
            };
            self.metric_type = metric_type;
            Entry::Type {
                family,
                metric_type,
            }
        };
        self.end_of_text_line("after metadata")?;
        Ok(entry)
    }

    fn text_series(&mut self) -> Result<Entry<'a>, ParseError> {
        self.reset_series();
        let start = self.pos;
        if self.peek() != Some(b'{') {
            self.name = self.scan_metric_name();
        }
        let mut series_end = self.pos;
        self.skip_blanks();
        if self.peek() == Some(b'{') {
            self.pos += 1;
            self.parse_label_block(true, false)?;
            series_end = self.pos;
        }
        if self.name.is_none() {
            return Err(self.error("metric name not set"));
        }
        self.skip_blanks();
        let value_token = self.scan_token(|byte| matches!(byte, b'{' | b' ' | b'\t' | b'\n'));
        if value_token.start == value_token.end {
            let found = self.found();
            return Err(self.error(format!("expected value after metric, found {found}")));
        }
        let value = self.parse_sample_value(value_token)?;
        self.skip_blanks();
        let mut timestamp_ms = None;
        if !matches!(self.peek(), None | Some(b'\n')) {
            let digits = self.scan_token(|byte| !byte.is_ascii_digit());
            if digits.start == digits.end {
                let found = self.found();
                return Err(self.error(format!("expected timestamp or end of line, found {found}")));
            }
            match parse_millis(self.bytes(digits)) {
                Some(timestamp) => timestamp_ms = Some(timestamp),
                None => return Err(self.error("timestamp out of range")),
            }
        }
        self.end_of_text_line("after the sample")?;
        Ok(Entry::Series {
            series: self.body.get(start..series_end).unwrap_or_default(),
            timestamp_ms,
            value,
        })
    }
}
