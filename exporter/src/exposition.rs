//! A writer for the Prometheus text exposition format 0.0.4.
//!
//! It appends straight into a caller-owned `String`, so a scrape that reuses
//! its buffer allocates nothing here. Callers must write all samples of one
//! family right after that family's `# HELP`/`# TYPE` header, as the format
//! requires.

use std::fmt::Write as _;

/// The content type this writer produces.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type, as written on its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A value that only goes up (reset on restart).
    Counter,
    /// A value that goes up and down.
    Gauge,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        }
    }
}

/// Appends families and samples in the text format to a `String`.
pub struct TextWriter<'buffer> {
    output: &'buffer mut String,
}

impl<'buffer> TextWriter<'buffer> {
    /// Wraps `output`; everything is appended after its current content.
    pub fn new(output: &'buffer mut String) -> Self {
        Self { output }
    }

    /// The number of bytes in the output so far (used to undo a failed collector).
    pub fn len(&self) -> usize {
        self.output.len()
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.output.is_empty()
    }

    /// Drops everything written after byte `length`.
    pub fn truncate(&mut self, length: usize) {
        self.output.truncate(length);
    }

    /// Writes the `# HELP` and `# TYPE` lines that open a family.
    pub fn family(&mut self, name: &str, help: &str, kind: MetricKind) {
        self.output.push_str("# HELP ");
        self.output.push_str(name);
        self.output.push(' ');
        push_escaped(self.output, help, false);
        self.output.push_str("\n# TYPE ");
        self.output.push_str(name);
        self.output.push(' ');
        self.output.push_str(kind.as_str());
        self.output.push('\n');
    }

    /// Writes one sample line; `labels` are written in the order given.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.output.push_str(name);
        if !labels.is_empty() {
            self.output.push('{');
            for (index, (label_name, label_value)) in labels.iter().enumerate() {
                if index > 0 {
                    self.output.push(',');
                }
                self.output.push_str(label_name);
                self.output.push_str("=\"");
                push_escaped(self.output, label_value, true);
                self.output.push('"');
            }
            self.output.push('}');
        }
        self.output.push(' ');
        push_value(self.output, value);
        self.output.push('\n');
    }

    /// Writes a family header followed by a single unlabelled sample.
    pub fn single(&mut self, name: &str, help: &str, kind: MetricKind, value: f64) {
        self.family(name, help, kind);
        self.sample(name, &[], value);
    }
}

/// Escapes `\` and newline (and `"` inside label values) as the format requires.
fn push_escaped(output: &mut String, text: &str, is_label_value: bool) {
    let needs_escaping = text
        .bytes()
        .any(|byte| byte == b'\\' || byte == b'\n' || (is_label_value && byte == b'"'));
    if !needs_escaping {
        output.push_str(text);
        return;
    }
    for character in text.chars() {
        match character {
            '\\' => output.push_str("\\\\"),
            '\n' => output.push_str("\\n"),
            '"' if is_label_value => output.push_str("\\\""),
            other => output.push(other),
        }
    }
}

/// Writes a float as the format spells it: `NaN`, `+Inf`, `-Inf`, integers
/// without a fraction, everything else in Rust's shortest round-trip form.
fn push_value(output: &mut String, value: f64) {
    if value.is_nan() {
        output.push_str("NaN");
    } else if value.is_infinite() {
        output.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        // Exact for every integer below 2^53; shorter and faster than the float path.
        let _ = write!(output, "{}", value as i64);
    } else {
        let _ = write!(output, "{value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_spelled_as_the_text_format_requires() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (42.0, "42"),
            (-3.0, "-3"),
            (0.25, "0.25"),
            (1e20, "100000000000000000000"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (value, expected) in cases {
            let mut output = String::new();
            push_value(&mut output, *value);
            assert_eq!(output, *expected, "value {value}");
        }
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut output = String::new();
        let mut writer = TextWriter::new(&mut output);
        writer.family("node_x", "a \\ help\nline \"quoted\"", MetricKind::Gauge);
        writer.sample("node_x", &[("mountpoint", "/a \"b\"\\c\nd")], 1.0);
        assert_eq!(
            output,
            "# HELP node_x a \\\\ help\\nline \"quoted\"\n# TYPE node_x gauge\n\
             node_x{mountpoint=\"/a \\\"b\\\"\\\\c\\nd\"} 1\n"
        );
    }

    #[test]
    fn truncate_undoes_partial_output() {
        let mut output = String::from("keep\n");
        let mut writer = TextWriter::new(&mut output);
        let mark = writer.len();
        writer.single("node_y", "y", MetricKind::Counter, 1.0);
        writer.truncate(mark);
        assert_eq!(output, "keep\n");
    }
}
