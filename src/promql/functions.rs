//! Functions over instant vectors and scalars, and the dispatch of every
//! function call (range-vector functions live in `range_functions`).

use chrono::{Datelike, Timelike};
use promql_parser::parser::{Call, Expr};

use super::error::QueryError;
use super::eval::{Evaluator, convert_matchers, unwrap_parens};
use super::value::{Evaluated, StepSeries};
use crate::model::{Labels, LabelsBuilder, METRIC_NAME, MatchType, matcher::anchored_regex};

/// Go's `math.Max`: NaN wins.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    a.max(b)
}

/// Go's `math.Min`: NaN wins.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    a.min(b)
}

/// Prometheus's quantile over a set of values (sorted in place): linear
/// interpolation between the closest ranks.
pub(crate) fn quantile_of(phi: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let count = values.len() as f64;
    let rank = phi * (count - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(count - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

fn map_values(mut series: Vec<StepSeries>, mut apply: impl FnMut(f64) -> f64) -> Evaluated {
    for one in &mut series {
        one.drop_name = true;
        for value in one.values.iter_mut().flatten() {
            *value = apply(*value);
        }
    }
    Evaluated::Vector(series)
}

fn math_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

fn time_function(name: &str) -> Option<fn(chrono::DateTime<chrono::Utc>) -> f64> {
    Some(match name {
        "day_of_month" => |t| f64::from(t.day()),
        "day_of_week" => |t| f64::from(t.weekday().num_days_from_sunday()),
        "day_of_year" => |t| f64::from(t.ordinal()),
        "days_in_month" => |t| {
            let (year, month) = (t.year(), t.month());
            let (next_year, next_month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
            let first = chrono::NaiveDate::from_ymd_opt(year, month, 1);
            let next = chrono::NaiveDate::from_ymd_opt(next_year, next_month, 1);
            match (first, next) {
                (Some(first), Some(next)) => (next - first).num_days() as f64,
                _ => f64::NAN,
            }
        },
        "hour" => |t| f64::from(t.hour()),
        "minute" => |t| f64::from(t.minute()),
        "month" => |t| f64::from(t.month()),
        "year" => |t| f64::from(t.year()),
        _ => return None,
    })
}

fn apply_time_function(function: fn(chrono::DateTime<chrono::Utc>) -> f64, seconds: f64) -> f64 {
    if !seconds.is_finite() {
        return f64::NAN;
    }
    match chrono::DateTime::from_timestamp(seconds as i64, 0) {
        Some(time) => function(time),
        None => f64::NAN,
    }
}

fn arg(call: &Call, index: usize) -> Result<&Expr, QueryError> {
    call.args
        .args
        .get(index)
        .map(|boxed| boxed.as_ref())
        .ok_or_else(|| {
            QueryError::BadData(format!(
                "missing argument {} of {}",
                index + 1,
                call.func.name
            ))
        })
}

fn string_arg(evaluator: &Evaluator<'_>, call: &Call, index: usize) -> Result<String, QueryError> {
    match evaluator.eval(arg(call, index)?)? {
        Evaluated::String(value) => Ok(value),
        _ => Err(QueryError::BadData(format!(
            "expected string argument {} of {}",
            index + 1,
            call.func.name
        ))),
    }
}

pub(crate) fn eval_call(evaluator: &Evaluator<'_>, call: &Call) -> Result<Evaluated, QueryError> {
    let name = call.func.name;
    if let Some(result) = super::range_functions::eval_range_call(evaluator, call)? {
        return Ok(result);
    }
    let grid = evaluator.grid;
    if let Some(function) = math_function(name) {
        return Ok(map_values(evaluator.eval_vector(arg(call, 0)?)?, function));
    }
    if let Some(function) = time_function(name) {
        if call.args.args.is_empty() {
            let values = (0..grid.len)
                .map(|i| Some(apply_time_function(function, grid.time(i) as f64 / 1000.0)))
                .collect();
            return Ok(Evaluated::Vector(vec![StepSeries {
                labels: Labels::empty(),
                values,
                drop_name: false,
            }]));
        }
        let input = evaluator.eval_vector(arg(call, 0)?)?;
        return Ok(map_values(input, |v| apply_time_function(function, v)));
    }
    match name {
        "time" => Ok(Evaluated::Scalar(
            (0..grid.len)
                .map(|i| grid.time(i) as f64 / 1000.0)
                .collect(),
        )),
        "pi" => Ok(Evaluated::Scalar(vec![std::f64::consts::PI; grid.len])),
        "start" | "end" | "step" | "range" => {
            let ctx = evaluator.ctx;
            let milliseconds = match name {
                "start" => ctx.query_start,
                "end" => ctx.query_end,
                "step" => ctx.query_step,
                _ => ctx.query_end.saturating_sub(ctx.query_start),
            };
            Ok(Evaluated::Scalar(vec![
                milliseconds as f64 / 1000.0;
                grid.len
            ]))
        }
        "min_of" | "max_of" => {
            let first = evaluator.eval_scalar(arg(call, 0)?)?;
            let second = evaluator.eval_scalar(arg(call, 1)?)?;
            let pick = if name == "min_of" { go_min } else { go_max };
            Ok(Evaluated::Scalar(
                first
                    .iter()
                    .zip(&second)
                    .map(|(&a, &b)| pick(a, b))
                    .collect(),
            ))
        }
        "vector" => {
            let values = evaluator.eval_scalar(arg(call, 0)?)?;
            Ok(Evaluated::Vector(vec![StepSeries {
                labels: Labels::empty(),
                values: values.into_iter().map(Some).collect(),
                drop_name: false,
            }]))
        }
        "scalar" => {
            let input = evaluator.eval_vector(arg(call, 0)?)?;
            let values = (0..grid.len)
                .map(|step| {
                    let mut present = input.iter().filter_map(|s| s.values[step]);
                    match (present.next(), present.next()) {
                        (Some(value), None) => value,
                        _ => f64::NAN,
                    }
                })
                .collect();
            Ok(Evaluated::Scalar(values))
        }
        "round" => {
            let input = evaluator.eval_vector(arg(call, 0)?)?;
            let to_nearest = match call.args.args.get(1) {
                Some(expr) => evaluator.eval_scalar(expr)?,
                None => vec![1.0; grid.len],
            };
            Ok(map_per_step(input, |step, v| {
                let inverse = 1.0 / to_nearest[step];
                (v * inverse + 0.5).floor() / inverse
            }))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let input = evaluator.eval_vector(arg(call, 0)?)?;
            let first = evaluator.eval_scalar(arg(call, 1)?)?;
            let second = if name == "clamp" {
                evaluator.eval_scalar(arg(call, 2)?)?
            } else {
                Vec::new()
            };
            let mut output = match name {
                "clamp" => map_per_step(input, |step, v| {
                    go_max(first[step], go_min(second[step], v))
                }),
                "clamp_min" => map_per_step(input, |step, v| go_max(first[step], v)),
                _ => map_per_step(input, |step, v| go_min(first[step], v)),
            };
            if name == "clamp"
                && let Evaluated::Vector(series) = &mut output
            {
                for step in 0..grid.len {
                    if second[step] < first[step] {
                        for one in series.iter_mut() {
                            one.values[step] = None;
                        }
                    }
                }
                series.retain(|s| s.values.iter().any(Option::is_some));
            }
            Ok(output)
        }
        "timestamp" => {
            let argument = arg(call, 0)?;
            let mut series = match unwrap_parens(argument) {
                Expr::VectorSelector(selector) => evaluator.eval_vector_selector(selector, true)?,
                _ => {
                    let mut input = evaluator.eval_vector(argument)?;
                    for one in &mut input {
                        for (step, value) in one.values.iter_mut().enumerate() {
                            if value.is_some() {
                                *value = Some(grid.time(step) as f64 / 1000.0);
                            }
                        }
                    }
                    input
                }
            };
            for one in &mut series {
                one.drop_name = true;
            }
            Ok(Evaluated::Vector(series))
        }
        "absent" => {
            let argument = arg(call, 0)?;
            let input = evaluator.eval_vector(argument)?;
            let labels = absent_labels(argument)?;
            let values: Vec<Option<f64>> = (0..grid.len)
                .map(|step| {
                    if input.iter().any(|s| s.values[step].is_some()) {
                        None
                    } else {
                        Some(1.0)
                    }
                })
                .collect();
            if values.iter().all(Option::is_none) {
                return Ok(Evaluated::Vector(Vec::new()));
            }
            Ok(Evaluated::Vector(vec![StepSeries {
                labels,
                values,
                drop_name: false,
            }]))
        }
        "label_replace" => label_replace(evaluator, call),
        "label_join" => label_join(evaluator, call),
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => sort(evaluator, call),
        "histogram_quantile" => super::histogram::histogram_quantile(evaluator, call),
        _ if name.starts_with("histogram_") => Err(QueryError::Execution(format!(
            "function {name:?} works on native histograms, which promshard does not support"
        ))),
        _ => Err(QueryError::Execution(format!(
            "function {name:?} is not supported"
        ))),
    }
}

fn map_per_step(mut series: Vec<StepSeries>, apply: impl Fn(usize, f64) -> f64) -> Evaluated {
    for one in &mut series {
        one.drop_name = true;
        for (step, value) in one.values.iter_mut().enumerate() {
            if let Some(v) = value {
                *v = apply(step, *v);
            }
        }
    }
    Evaluated::Vector(series)
}

/// The labels `absent` reports: the equality matchers of a plain selector
/// (a name matched twice is left out).
pub(crate) fn absent_labels(argument: &Expr) -> Result<Labels, QueryError> {
    let selector = match unwrap_parens(argument) {
        Expr::VectorSelector(selector) => selector,
        Expr::MatrixSelector(matrix) => &matrix.vs,
        _ => return Ok(Labels::empty()),
    };
    let matchers = convert_matchers(selector)?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut repeated: Vec<String> = Vec::new();
    for matcher in &matchers {
        if matcher.name == METRIC_NAME {
            continue;
        }
        if pairs.iter().any(|(n, _)| n == &matcher.name)
            || matchers.iter().filter(|m| m.name == matcher.name).count() > 1
        {
            repeated.push(matcher.name.clone());
        }
        if matcher.match_type == MatchType::Equal {
            pairs.push((matcher.name.clone(), matcher.value.clone()));
        }
    }
    pairs.retain(|(n, _)| !repeated.contains(n));
    Ok(Labels::from_pairs(&pairs))
}

fn label_replace(evaluator: &Evaluator<'_>, call: &Call) -> Result<Evaluated, QueryError> {
    let input = evaluator.eval_vector(arg(call, 0)?)?;
    let destination = string_arg(evaluator, call, 1)?;
    let replacement = string_arg(evaluator, call, 2)?;
    let source = string_arg(evaluator, call, 3)?;
    let pattern = string_arg(evaluator, call, 4)?;
    let regex = anchored_regex(&pattern).map_err(|e| {
        QueryError::BadData(format!(
            "invalid regular expression in label_replace(): {pattern}: {}",
            e.message
        ))
    })?;
    if destination.is_empty() {
        return Err(QueryError::BadData(format!(
            "invalid destination label name in label_replace(): {destination}"
        )));
    }
    let mut output = Vec::with_capacity(input.len());
    for mut series in input {
        let value = series.labels.get_or_empty(&source).to_string();
        if let Some(captures) = regex.captures(&value) {
            let mut expanded = String::new();
            captures.expand(&replacement, &mut expanded);
            let mut builder = LabelsBuilder::new(&series.labels);
            builder.set(&destination, &expanded);
            series.labels = builder.build();
            if destination == METRIC_NAME {
                series.drop_name = false;
            }
        }
        output.push(series);
    }
    Ok(Evaluated::Vector(output))
}

fn label_join(evaluator: &Evaluator<'_>, call: &Call) -> Result<Evaluated, QueryError> {
    let input = evaluator.eval_vector(arg(call, 0)?)?;
    let destination = string_arg(evaluator, call, 1)?;
    let separator = string_arg(evaluator, call, 2)?;
    let mut sources = Vec::new();
    for index in 3..call.args.args.len() {
        sources.push(string_arg(evaluator, call, index)?);
    }
    let mut output = Vec::with_capacity(input.len());
    for mut series in input {
        let joined = sources
            .iter()
            .map(|s| series.labels.get_or_empty(s))
            .collect::<Vec<_>>()
            .join(&separator);
        let mut builder = LabelsBuilder::new(&series.labels);
        builder.set(&destination, &joined);
        series.labels = builder.build();
        if destination == METRIC_NAME {
            series.drop_name = false;
        }
        output.push(series);
    }
    Ok(Evaluated::Vector(output))
}

fn sort(evaluator: &Evaluator<'_>, call: &Call) -> Result<Evaluated, QueryError> {
    let name = call.func.name;
    let mut input = evaluator.eval_vector(arg(call, 0)?)?;
    if evaluator.ctx.query_step > 0 {
        evaluator.ctx.warn(
            "sort is ineffective for range queries since results are always ordered by labels"
                .to_string(),
        );
        return Ok(Evaluated::Vector(input));
    }
    let value_of = |s: &StepSeries| s.values.first().copied().flatten().unwrap_or(f64::NAN);
    match name {
        "sort" => input.sort_by(|a, b| {
            let (x, y) = (value_of(a), value_of(b));
            match (x.is_nan(), y.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            }
        }),
        "sort_desc" => input.sort_by(|a, b| {
            let (x, y) = (value_of(a), value_of(b));
            match (x.is_nan(), y.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
            }
        }),
        _ => {
            let mut names = Vec::new();
            for index in 1..call.args.args.len() {
                names.push(string_arg(evaluator, call, index)?);
            }
            let descending = name == "sort_by_label_desc";
            input.sort_by(|a, b| {
                let mut ordering = std::cmp::Ordering::Equal;
                for label in &names {
                    ordering =
                        natural_compare(a.labels.get_or_empty(label), b.labels.get_or_empty(label));
                    if ordering != std::cmp::Ordering::Equal {
                        break;
                    }
                }
                if ordering == std::cmp::Ordering::Equal {
                    ordering = a.labels.cmp(&b.labels);
                }
                if descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
        }
    }
    Ok(Evaluated::Vector(input))
}

/// Compares strings with embedded numbers in numeric order ("a2" < "a10").
fn natural_compare(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut left, mut right) = (a.as_bytes(), b.as_bytes());
    loop {
        match (left.first(), right.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let left_digits = left.iter().take_while(|c| c.is_ascii_digit()).count();
                let right_digits = right.iter().take_while(|c| c.is_ascii_digit()).count();
                let left_number = std::str::from_utf8(&left[..left_digits])
                    .ok()
                    .map(|s| s.trim_start_matches('0'))
                    .unwrap_or("");
                let right_number = std::str::from_utf8(&right[..right_digits])
                    .ok()
                    .map(|s| s.trim_start_matches('0'))
                    .unwrap_or("");
                let ordering = left_number
                    .len()
                    .cmp(&right_number.len())
                    .then_with(|| left_number.cmp(right_number));
                if ordering != std::cmp::Ordering::Equal {
                    return ordering;
                }
                left = &left[left_digits..];
                right = &right[right_digits..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                left = &left[1..];
                right = &right[1..];
            }
        }
    }
}
