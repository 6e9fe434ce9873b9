//! Query results as the API and the rules engine see them, plus the
//! step-grid values the evaluator passes between nodes.

use crate::model::Labels;

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels.
    pub labels: Labels,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One series of a range vector (a matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// `(timestamp ms, value)` in time order.
    pub points: Vec<(i64, f64)>,
}

/// The value of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number at a time (ms).
    Scalar {
        /// Timestamp in milliseconds.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at a time (ms).
    String {
        /// Timestamp in milliseconds.
        t: i64,
        /// The value.
        v: String,
    },
    /// An instant vector.
    Vector(Vec<InstantSample>),
    /// A range vector: the result of every range query.
    Matrix(Vec<RangeSeries>),
}

impl Value {
    /// The `resultType` name of the HTTP API.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// Go's `%e` with the shortest mantissa: `1.5e-07`, `1e+21`.
fn exponent_form(value: f64) -> (String, i32) {
    let formatted = format!("{value:e}");
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    (
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs()),
        exponent,
    )
}

fn special_float(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("NaN")
    } else if value == f64::INFINITY {
        Some("+Inf")
    } else if value == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Formats a sample value as the Prometheus JSON API does: plain decimals,
/// exponent form below 1e-6 and from 1e21, `NaN`, `+Inf`, `-Inf`.
pub fn format_float(value: f64) -> String {
    if let Some(special) = special_float(value) {
        return special.to_string();
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        return exponent_form(value).0;
    }
    format!("{value}")
}

/// Formats a sample value as the text exposition format does (Go's
/// shortest `%g`: `1e+06`, `0.0001`, `1.5e-05`).
pub fn format_float_text(value: f64) -> String {
    if let Some(special) = special_float(value) {
        return special.to_string();
    }
    if value == 0.0 {
        return format!("{value}");
    }
    let (exponent_text, exponent) = exponent_form(value);
    if !(-4..6).contains(&exponent) {
        return exponent_text;
    }
    format!("{value}")
}

/// A series evaluated on a step grid: `values[i]` is the value at step `i`.
#[derive(Debug, Clone)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
    /// Prometheus 3's delayed name removal: the name is dropped at the end
    /// of evaluation unless something (label_replace) claims it.
    pub drop_name: bool,
}

/// Samples of a series for range-vector evaluation.
#[derive(Debug, Clone)]
pub(crate) struct SampleSeries {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
    pub drop_name: bool,
}

/// What an expression node evaluates to on the grid.
#[derive(Debug, Clone)]
pub(crate) enum Evaluated {
    Scalar(Vec<f64>),
    String(String),
    Vector(Vec<StepSeries>),
    /// A range vector; only the final result of an instant query.
    Matrix(Vec<SampleSeries>),
}

/// Formats a value as a label value, as Go's `FormatFloat(v, 'f', -1, 64)`
/// does (count_values).
pub(crate) fn format_count_value(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    format!("{value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_floats_like_the_json_api() {
        let cases = [
            (2.0, "2"),
            (0.5, "0.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-07"),
            (0.00001, "0.00001"),
            (123456.789, "123456.789"),
            (-0.25, "-0.25"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_float(value), expected, "{value}");
        }
    }

    #[test]
    fn formats_floats_like_the_text_format() {
        let cases = [
            (2.0, "2"),
            (123456.0, "123456"),
            (1_000_000.0, "1e+06"),
            (1.6e9, "1.6e+09"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (f64::NAN, "NaN"),
            (0.0, "0"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_float_text(value), expected, "{value}");
        }
    }
}
