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

/// Formats a sample value as Prometheus does in JSON and text: shortest
/// round-trip form, `NaN`, `+Inf`, `-Inf`, exponents as `1e+06`.
pub fn format_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let exponent = value.abs().log10().floor();
    if !(-4.0..21.0).contains(&exponent) {
        // Go's strconv 'g'-like format with the shortest mantissa.
        let formatted = format!("{value:e}");
        if let Some((mantissa, exp)) = formatted.split_once('e') {
            let exp_value: i32 = exp.parse().unwrap_or(0);
            let sign = if exp_value < 0 { '-' } else { '+' };
            return format!("{mantissa}e{sign}{:02}", exp_value.abs());
        }
        return formatted;
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
    fn formats_floats_like_prometheus() {
        let cases = [
            (2.0, "2"),
            (0.5, "0.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-07"),
            (123456.789, "123456.789"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_float(value), expected, "{value}");
        }
    }
}
