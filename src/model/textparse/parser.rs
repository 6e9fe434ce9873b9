//! The pull parser shared by both formats: state, scanning helpers, and the
//! label building done on request.

use super::escape::{EscapeRules, unescape_into};
use super::float::{format_openmetrics_float, parse_value};
use super::{Entry, Exemplar, Format, ParseError};
use crate::model::labels::{METRIC_NAME, ScratchBuilder};
use crate::model::metadata::MetricType;

/// A byte range of the body, and whether it contains escape sequences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) escaped: bool,
}

/// The name and value of one label as written in the body.
#[derive(Debug, Clone, Copy)]
pub(super) struct LabelSpan {
    pub(super) name: Span,
    pub(super) value: Span,
}

/// The value and optional timestamp of the current sample's exemplar.
#[derive(Debug, Clone, Copy)]
pub(super) struct ExemplarValue {
    pub(super) value: f64,
    pub(super) timestamp_ms: Option<i64>,
}

/// Byte classes for names: bit 0 starts a metric name, bit 1 continues one,
/// bit 2 starts a label name, bit 3 continues one.
const METRIC_START: u8 = 1;
const METRIC_CONTINUE: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CONTINUE: u8 = 8;

static NAME_CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let c = byte as u8;
        let letter = c.is_ascii_alphabetic() || c == b'_';
        let digit = c.is_ascii_digit();
        let mut class = 0;
        if letter || c == b':' {
            class |= METRIC_START | METRIC_CONTINUE;
        }
        if digit {
            class |= METRIC_CONTINUE | LABEL_CONTINUE;
        }
        if letter {
            class |= LABEL_START | LABEL_CONTINUE;
        }
        table[byte] = class;
        byte += 1;
    }
    table
};

/// Whether `byte` can start an unquoted metric name.
#[inline]
pub(super) fn starts_metric_name(byte: u8) -> bool {
    NAME_CLASSES[byte as usize] & METRIC_START != 0
}

/// A pull parser over one scrape body.
///
/// Call [`Parser::next`] until it returns `Ok(None)`. After an
/// [`Entry::Series`], [`Parser::series_labels`] and [`Parser::exemplar`]
/// describe that series until the next call to `next`. The parser never
/// panics and always terminates, whatever the bytes: every call consumes
/// input, ends, or fails, and after the end or an error it stays ended.
pub struct Parser<'a> {
    pub(super) body: &'a [u8],
    pub(super) format: Format,
    /// Next unread byte.
    pub(super) pos: usize,
    /// 1-based line of `pos`.
    pub(super) current_line: usize,
    /// 1-based line where the last returned entry started.
    pub(super) entry_line: usize,
    /// Set at the end of input and after an error.
    pub(super) finished: bool,
    /// Prefix of the body known to be valid UTF-8.
    utf8_valid_up_to: usize,
    /// The type of the latest TYPE line (Prometheus does not reset it).
    pub(super) metric_type: MetricType,
    pub(super) skip_created_series: bool,
    /// Whether the last entry was a series (label accessors are valid).
    pub(super) has_series: bool,
    /// The metric name of the current series.
    pub(super) name: Option<Span>,
    pub(super) labels: Vec<LabelSpan>,
    pub(super) exemplar_labels: Vec<LabelSpan>,
    pub(super) exemplar_value: Option<ExemplarValue>,
}

impl<'a> Parser<'a> {
    /// A parser over `body` in `format`.
    pub fn new(body: &'a [u8], format: Format) -> Parser<'a> {
        let utf8_valid_up_to = match std::str::from_utf8(body) {
            Ok(_) => body.len(),
            Err(error) => error.valid_up_to(),
        };
        Parser {
            body,
            format,
            pos: 0,
            current_line: 1,
            entry_line: 0,
            finished: false,
            utf8_valid_up_to,
            metric_type: MetricType::Unknown,
            skip_created_series: false,
            has_series: false,
            name: None,
            labels: Vec::with_capacity(16),
            exemplar_labels: Vec::new(),
            exemplar_value: None,
        }
    }

    /// Skips OpenMetrics `_created` series of counters, summaries and
    /// histograms, as Prometheus does when created-timestamp zero ingestion
    /// is enabled. Off by default: like Prometheus 3's default scrape, the
    /// `_created` series are returned as ordinary series.
    pub fn with_created_series_skipped(mut self, skip: bool) -> Self {
        self.skip_created_series = skip;
        self
    }

    /// The format being parsed.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The type declared by the latest `# TYPE` line (`Unknown` before any).
    pub fn metric_type(&self) -> MetricType {
        self.metric_type
    }

    /// The next entry; `Ok(None)` at the end of the body. For OpenMetrics a
    /// body without `# EOF` is an error, and anything after `# EOF` is an
    /// error. After an error every further call returns `Ok(None)`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        self.has_series = false;
        if self.finished {
            return Ok(None);
        }
        let result = match self.format {
            Format::PrometheusText => self.next_text(),
            Format::OpenMetrics => self.next_openmetrics(),
        };
        match &result {
            Ok(Some(Entry::Series { .. })) => self.has_series = true,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => self.finished = true,
        }
        result
    }

    /// Resets `builder` and adds `__name__` and the labels of the current
    /// [`Entry::Series`], unescaped. As Prometheus 3 does, the `le` label of
    /// histograms and the `quantile` label of summaries are normalised to
    /// the OpenMetrics float format (`1` becomes `1.0`). Leaves the builder
    /// empty when the last entry was not a series.
    pub fn series_labels(&self, builder: &mut ScratchBuilder) {
        builder.reset();
        if !self.has_series {
            return;
        }
        let mut scratch = String::new();
        if let Some(name) = self.name {
            builder.add(METRIC_NAME, self.unescaped(name, &mut scratch));
        }
        let normalised_label = match self.metric_type {
            MetricType::Histogram => Some("le"),
            MetricType::Summary => Some("quantile"),
            _ => None,
        };
        let mut name_scratch = String::new();
        for label in &self.labels {
            let name = self.unescaped(label.name, &mut name_scratch);
            if normalised_label == Some(name) {
                let raw = self.unescaped(label.value, &mut scratch);
                let mut normalised = String::with_capacity(raw.len() + 2);
                match parse_value(raw.as_bytes()) {
                    Some(value) => format_openmetrics_float(value, &mut normalised),
                    None => normalised.push_str(raw),
                }
                builder.add(name, &normalised);
                continue;
            }
            builder.add(name, self.unescaped(label.value, &mut scratch));
        }
    }

    /// The exemplar of the current [`Entry::Series`], if it has one
    /// (OpenMetrics only).
    pub fn exemplar(&self) -> Option<Exemplar> {
        if !self.has_series {
            return None;
        }
        let exemplar_value = self.exemplar_value?;
        let mut builder = ScratchBuilder::with_capacity(self.exemplar_labels.len());
        let mut name_scratch = String::new();
        let mut value_scratch = String::new();
        for label in &self.exemplar_labels {
            let name = self.unescaped(label.name, &mut name_scratch);
            builder.add(name, self.unescaped(label.value, &mut value_scratch));
        }
        Some(Exemplar {
            labels: builder.labels(),
            value: exemplar_value.value,
            timestamp_ms: exemplar_value.timestamp_ms,
        })
    }

    /// The 1-based number of the line where the last entry started (or of
    /// the line of the error, after an error).
    pub fn line_number(&self) -> usize {
        self.entry_line
    }

    // ---- helpers shared by both formats ----

    /// An error at the current line; the parser ends.
    pub(super) fn error(&mut self, message: impl Into<String>) -> ParseError {
        self.finished = true;
        self.entry_line = self.current_line;
        ParseError {
            line: self.current_line,
            message: message.into(),
        }
    }

    /// A short quote of the input at `pos` for error messages.
    pub(super) fn found(&self) -> String {
        let Some(rest) = self.body.get(self.pos..) else {
            return "end of input".to_string();
        };
        if rest.is_empty() {
            return "end of input".to_string();
        }
        let shown = &rest[..rest.len().min(16)];
        let shown = match shown.iter().position(|&b| b == b'\n') {
            Some(0) => return "end of line".to_string(),
            Some(newline) => &shown[..newline],
            None => shown,
        };
        format!("{:?}", String::from_utf8_lossy(shown))
    }

    #[inline]
    pub(super) fn peek(&self) -> Option<u8> {
        self.body.get(self.pos).copied()
    }

    #[inline]
    pub(super) fn skip_blanks(&mut self) {
        while let Some(b' ' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// Scans an unquoted metric name at `pos`; `None` if there is none.
    #[inline]
    pub(super) fn scan_metric_name(&mut self) -> Option<Span> {
        self.scan_name(METRIC_START, METRIC_CONTINUE)
    }

    /// Scans an unquoted label name at `pos`; `None` if there is none.
    #[inline]
    pub(super) fn scan_label_name(&mut self) -> Option<Span> {
        self.scan_name(LABEL_START, LABEL_CONTINUE)
    }

    #[inline]
    fn scan_name(&mut self, start_class: u8, continue_class: u8) -> Option<Span> {
        let start = self.pos;
        let first = self.peek()?;
        if NAME_CLASSES[first as usize] & start_class == 0 {
            return None;
        }
        let mut end = start + 1;
        while let Some(&byte) = self.body.get(end) {
            if NAME_CLASSES[byte as usize] & continue_class == 0 {
                break;
            }
            end += 1;
        }
        self.pos = end;
        Some(Span {
            start,
            end,
            escaped: false,
        })
    }

    /// Scans a double-quoted string at `pos` (which holds the opening quote)
    /// and returns the span between the quotes. A backslash escapes the next
    /// byte, except a line break. Raw line breaks inside are allowed only
    /// when `allow_line_breaks` (the text format's label values).
    pub(super) fn scan_quoted(&mut self, allow_line_breaks: bool) -> Result<Span, ParseError> {
        let start = self.pos + 1;
        let start_line = self.current_line;
        let mut cursor = start;
        let mut escaped = false;
        loop {
            let rest = self.body.get(cursor..).unwrap_or_default();
            let Some(offset) = memchr::memchr3(b'"', b'\\', b'\n', rest) else {
                self.pos = self.body.len();
                self.current_line = start_line;
                return Err(self.error("unterminated quoted string"));
            };
            let at = cursor + offset;
            match self.body[at] {
                b'"' => {
                    let span = Span {
                        start,
                        end: at,
                        escaped,
                    };
                    self.pos = at + 1;
                    if !self.is_utf8(span) {
                        return Err(self.error("invalid UTF-8 in quoted string"));
                    }
                    return Ok(span);
                }
                b'\\' => match self.body.get(at + 1) {
                    None | Some(b'\n') => {
                        self.pos = at + 1;
                        return Err(self.error("unterminated escape sequence in quoted string"));
                    }
                    Some(_) => {
                        escaped = true;
                        cursor = at + 2;
                    }
                },
                _ => {
                    if !allow_line_breaks {
                        self.pos = at;
                        return Err(self.error("line break in quoted string"));
                    }
                    self.current_line += 1;
                    cursor = at + 1;
                }
            }
        }
    }

    /// Scans a value-like token: bytes up to one of `stop` bytes or the end.
    #[inline]
    pub(super) fn scan_token(&mut self, stop: impl Fn(u8) -> bool) -> Span {
        let start = self.pos;
        let mut end = start;
        while let Some(&byte) = self.body.get(end) {
            if stop(byte) {
                break;
            }
            end += 1;
        }
        self.pos = end;
        Span {
            start,
            end,
            escaped: false,
        }
    }

    #[inline]
    pub(super) fn bytes(&self, span: Span) -> &'a [u8] {
        self.body.get(span.start..span.end).unwrap_or_default()
    }

    /// Whether the span is valid UTF-8 (cheap inside the valid prefix).
    #[inline]
    pub(super) fn is_utf8(&self, span: Span) -> bool {
        span.end <= self.utf8_valid_up_to || std::str::from_utf8(self.bytes(span)).is_ok()
    }

    /// The span as text. Spans handed out by the scanners are either ASCII
    /// names or quoted strings checked with [`Parser::is_utf8`]; anything
    /// else yields the lossy-free empty string instead of panicking.
    #[inline]
    pub(super) fn text(&self, span: Span) -> &'a str {
        std::str::from_utf8(self.bytes(span)).unwrap_or_default()
    }

    /// The span unescaped, using `scratch` only when it has escapes.
    fn unescaped<'s>(&'s self, span: Span, scratch: &'s mut String) -> &'s str {
        let text = self.text(span);
        if !span.escaped {
            return text;
        }
        scratch.clear();
        unescape_into(text, EscapeRules::LabelValue, scratch);
        scratch
    }

    /// Clears the per-series state before parsing a new line.
    #[inline]
    pub(super) fn reset_series(&mut self) {
        self.name = None;
        self.labels.clear();
        self.exemplar_labels.clear();
        self.exemplar_value = None;
    }

    /// Parses a label block; `pos` is just after `{`. Fills `self.labels`
    /// (or `self.exemplar_labels`) and, for a quoted name standing alone,
    /// `self.name`. `lenient` selects the text format's rules (blanks
    /// between tokens, optional commas, raw line breaks in values).
    pub(super) fn parse_label_block(
        &mut self,
        lenient: bool,
        for_exemplar: bool,
    ) -> Result<(), ParseError> {
        loop {
            if lenient {
                self.skip_blanks();
            }
            let (label_name, quoted) = match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'"') => (self.scan_quoted(lenient)?, true),
                _ => match self.scan_label_name() {
                    Some(name) => (name, false),
                    None => {
                        let found = self.found();
                        return Err(
                            self.error(format!("expected label name or '}}', found {found}"))
                        );
                    }
                },
            };
            if lenient {
                self.skip_blanks();
            }
            match self.peek() {
                Some(b'=') => self.pos += 1,
                Some(b',' | b'}') if quoted && !for_exemplar => {
                    if self.name.is_some() {
                        return Err(self.error("metric name already set"));
                    }
                    self.name = Some(label_name);
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    }
                    continue;
                }
                _ => {
                    let found = self.found();
                    return Err(self.error(format!("expected '=' after label name, found {found}")));
                }
            }
            if lenient {
                self.skip_blanks();
            }
            if self.peek() != Some(b'"') {
                let found = self.found();
                return Err(self.error(format!("expected quoted label value, found {found}")));
            }
            let label_value = self.scan_quoted(lenient)?;
            let label = LabelSpan {
                name: label_name,
                value: label_value,
            };
            if for_exemplar {
                self.exemplar_labels.push(label);
            } else {
                self.labels.push(label);
            }
            if lenient {
                self.skip_blanks();
                if self.peek() == Some(b',') {
                    self.pos += 1;
                }
                continue;
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => {
                    let found = self.found();
                    return Err(self.error(format!("expected ',' or '}}', found {found}")));
                }
            }
        }
    }

    /// Parses a sample value token.
    pub(super) fn parse_sample_value(&mut self, token: Span) -> Result<f64, ParseError> {
        match parse_value(self.bytes(token)) {
            Some(value) => Ok(value),
            None => {
                let shown = String::from_utf8_lossy(self.bytes(token)).into_owned();
                Err(self.error(format!("invalid value {shown:?}")))
            }
        }
    }
}
