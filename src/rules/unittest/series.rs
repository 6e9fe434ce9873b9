//! The expanding notation of input series (`1+1x10 _x3 stale`) and the
//! parsing of `metric{label="value"}` descriptions.

use crate::model::{Labels, MatchType, stale_nan};

/// One step of an input series: a value, or nothing at that step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeriesStep {
    /// A sample (possibly a stale marker).
    Value(f64),
    /// `_`: no sample.
    Omitted,
}

/// Why a description did not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeriesError {
    /// The values are malformed.
    #[error("invalid input series values {text:?}: {message}")]
    Values {
        /// The values text.
        text: String,
        /// What is wrong.
        message: String,
    },
    /// Native histograms (`{{...}}`) are not supported yet.
    #[error("native histogram values are not supported")]
    Histogram,
    /// The series description is malformed.
    #[error("invalid series {text:?}: {message}")]
    Labels {
        /// The description.
        text: String,
        /// What is wrong.
        message: String,
    },
}

fn parse_number(text: &str) -> Option<f64> {
    match text {
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => {
            if text.starts_with("0x") || text.starts_with("-0x") {
                let negative = text.starts_with('-');
                let digits = text.trim_start_matches('-').trim_start_matches("0x");
                return i64::from_str_radix(digits, 16).ok().map(|value| {
                    if negative {
                        -(value as f64)
                    } else {
                        value as f64
                    }
                });
            }
            text.parse::<f64>().ok()
        }
    }
}

/// Expands `values` into steps: `a` one value, `axn` n+1 copies, `a+bxn`
/// and `a-bxn` n+1 values counting, `_` one gap, `_xn` n gaps, `stale` a
/// stale marker.
pub fn expand_values(values: &str) -> Result<Vec<SeriesStep>, SeriesError> {
    if values.contains("{{") {
        return Err(SeriesError::Histogram);
    }
    let error = |message: &str| SeriesError::Values {
        text: values.to_string(),
        message: message.to_string(),
    };
    let mut steps = Vec::new();
    for item in values.split_whitespace() {
        let (base, times) = match item.rsplit_once('x') {
            Some((base, count))
                if !base.is_empty()
                    && count.chars().all(|c| c.is_ascii_digit())
                    && !count.is_empty() =>
            {
                let count: usize = count.parse().map_err(|_| error("bad repetition count"))?;
                (base, Some(count))
            }
            _ => (item, None),
        };
        if let Some(count) = times
            && count > 10_000_000
        {
            return Err(error("repetition count too large"));
        }
        if base == "_" {
            let count = times.unwrap_or(1);
            steps.extend(std::iter::repeat_n(SeriesStep::Omitted, count));
            continue;
        }
        if base == "stale" {
            if times.is_some() {
                return Err(error("stale cannot be repeated"));
            }
            steps.push(SeriesStep::Value(stale_nan()));
            continue;
        }
        // `a+b` or `a-b`: find a sign that is not the leading one or an exponent's.
        let bytes = base.as_bytes();
        let split = (1..bytes.len()).find(|&index| {
            matches!(bytes[index], b'+' | b'-') && !matches!(bytes[index - 1], b'e' | b'E')
        });
        match (split, times) {
            (Some(index), Some(count)) => {
                let start = parse_number(&base[..index]).ok_or_else(|| error("bad number"))?;
                let increment =
                    parse_number(&base[index..]).ok_or_else(|| error("bad increment"))?;
                let mut current = start;
                steps.push(SeriesStep::Value(current));
                for _ in 0..count {
                    current += increment;
                    steps.push(SeriesStep::Value(current));
                }
            }
            (Some(_), None) => return Err(error("an increment needs a repetition (a+bxn)")),
            (None, times) => {
                let value = parse_number(base).ok_or_else(|| error("bad number"))?;
                steps.extend(std::iter::repeat_n(
                    SeriesStep::Value(value),
                    times.map_or(1, |n| n + 1),
                ));
            }
        }
    }
    Ok(steps)
}

/// Parses `metric{label="value", ...}`, `{...}` or an empty string (no
/// labels) into a label set.
pub fn parse_series_labels(text: &str) -> Result<Labels, SeriesError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed == "{}" {
        return Ok(Labels::empty());
    }
    let error = |message: String| SeriesError::Labels {
        text: text.to_string(),
        message,
    };
    let matchers =
        crate::promql::parse_series_selector(trimmed).map_err(|e| error(e.to_string()))?;
    let mut pairs = Vec::with_capacity(matchers.len());
    for matcher in matchers {
        if matcher.match_type != MatchType::Equal {
            return Err(error(
                "only equality matchers describe a series".to_string(),
            ));
        }
        if !matcher.value.is_empty() {
            pairs.push((matcher.name.clone(), matcher.value.clone()));
        }
    }
    Ok(Labels::from_pairs(&pairs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use SeriesStep::*;

    #[test]
    fn expanding_notation_expands_as_promtool() {
        let cases: Vec<(&str, Vec<SeriesStep>)> = vec![
            ("1", vec![Value(1.0)]),
            ("0 0", vec![Value(0.0), Value(0.0)]),
            ("1x2", vec![Value(1.0), Value(1.0), Value(1.0)]),
            ("1+1x2", vec![Value(1.0), Value(2.0), Value(3.0)]),
            ("5-2x2", vec![Value(5.0), Value(3.0), Value(1.0)]),
            ("-1+1x1", vec![Value(-1.0), Value(0.0)]),
            ("0 _ _ 3", vec![Value(0.0), Omitted, Omitted, Value(3.0)]),
            ("_x2 1", vec![Omitted, Omitted, Value(1.0)]),
            ("1e3 2.5", vec![Value(1000.0), Value(2.5)]),
            ("1e-3+1e-3x1", vec![Value(0.001), Value(0.002)]),
        ];
        for (text, expected) in cases {
            assert_eq!(expand_values(text).as_ref(), Ok(&expected), "{text}");
        }
        let stale = expand_values("0 stale").expect("stale parses");
        assert!(matches!(stale[1], Value(v) if crate::model::is_stale_nan(v)));
        assert!(
            matches!(expand_values("Inf -Inf").as_deref(), Ok([Value(a), Value(b)]) if *a == f64::INFINITY && *b == f64::NEG_INFINITY)
        );
    }

    #[test]
    fn bad_values_and_histograms_are_errors() {
        for text in ["abc", "1+1", "1x", "stalex2"] {
            assert!(expand_values(text).is_err(), "{text}");
        }
        assert_eq!(
            expand_values("{{sum:3 count:2}}x2"),
            Err(SeriesError::Histogram)
        );
    }

    #[test]
    fn series_descriptions_become_label_sets() {
        let labels = parse_series_labels(r#"up{job="prometheus", instance="localhost:9090"}"#)
            .expect("parses");
        assert_eq!(
            labels.to_string(),
            r#"{__name__="up", instance="localhost:9090", job="prometheus"}"#
        );
        assert_eq!(parse_series_labels("").expect("empty"), Labels::empty());
        assert_eq!(
            parse_series_labels(r#"{job="x"}"#)
                .expect("parses")
                .to_string(),
            r#"{job="x"}"#
        );
        assert!(parse_series_labels(r#"up{job=~"x"}"#).is_err());
        assert!(parse_series_labels("up{").is_err());
    }
}
