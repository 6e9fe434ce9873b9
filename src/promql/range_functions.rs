//! Functions over range vectors: rate and friends, `*_over_time`,
//! regression, smoothing, and `absent_over_time`.

use promql_parser::parser::Call;

use super::aggregate::{KahanSum, MeanAccumulator};
use super::error::QueryError;
use super::eval::{Evaluator, for_each_window};
use super::functions::{absent_labels, quantile_of};
use super::value::{Evaluated, StepSeries};

/// What a window function needs besides the samples.
struct WindowContext {
    /// Where the window ends (after offset/@), ms.
    end: i64,
    /// Range of the window, ms.
    range: i64,
    /// The evaluation timestamp of the step, ms.
    step_time: i64,
    /// Scalar arguments at this step.
    first_argument: f64,
    second_argument: f64,
}

fn is_range_function(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "irate"
            | "increase"
            | "delta"
            | "idelta"
            | "deriv"
            | "predict_linear"
            | "changes"
            | "resets"
            | "avg_over_time"
            | "min_over_time"
            | "max_over_time"
            | "sum_over_time"
            | "count_over_time"
            | "quantile_over_time"
            | "stddev_over_time"
            | "stdvar_over_time"
            | "last_over_time"
            | "first_over_time"
            | "present_over_time"
            | "mad_over_time"
            | "ts_of_min_over_time"
            | "ts_of_max_over_time"
            | "ts_of_last_over_time"
            | "ts_of_first_over_time"
            | "double_exponential_smoothing"
            | "holt_winters"
            | "absent_over_time"
    )
}

/// Evaluates `call` if it is a range-vector function.
pub(crate) fn eval_range_call(
    evaluator: &Evaluator<'_>,
    call: &Call,
) -> Result<Option<Evaluated>, QueryError> {
    let name = call.func.name;
    if !is_range_function(name) {
        return Ok(None);
    }
    let args = &call.args.args;
    let input_index = usize::from(name == "quantile_over_time");
    let Some(input_expr) = args.get(input_index) else {
        return Err(QueryError::BadData(format!("missing argument of {name}")));
    };
    let grid = evaluator.grid;
    let scalar_arg = |index: usize| -> Result<Vec<f64>, QueryError> {
        match args.get(index) {
            Some(expr) => evaluator.eval_scalar(expr),
            None => Ok(vec![f64::NAN; grid.len]),
        }
    };
    let (first_argument, second_argument) = match name {
        "quantile_over_time" => (scalar_arg(0)?, Vec::new()),
        "predict_linear" => (scalar_arg(1)?, Vec::new()),
        "double_exponential_smoothing" | "holt_winters" => (scalar_arg(1)?, scalar_arg(2)?),
        _ => (Vec::new(), Vec::new()),
    };
    if name == "quantile_over_time" {
        for &phi in &first_argument {
            if phi.is_nan() || !(0.0..=1.0).contains(&phi) {
                evaluator.ctx.warn(format!(
                    "quantile value should be between 0 and 1, got {}",
                    super::value::format_float(phi)
                ));
            }
        }
    }
    if matches!(name, "double_exponential_smoothing" | "holt_winters") {
        for (&smoothing, &trend) in first_argument.iter().zip(&second_argument) {
            if !(smoothing > 0.0 && smoothing < 1.0) {
                return Err(QueryError::BadData(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {smoothing}"
                )));
            }
            if !(trend > 0.0 && trend < 1.0) {
                return Err(QueryError::BadData(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {trend}"
                )));
            }
        }
    }
    let (input, range, times) = evaluator.eval_range_input(input_expr)?;
    if name == "absent_over_time" {
        let values: Vec<Option<f64>> = (0..times.len()).map(|_| Some(1.0)).collect::<Vec<_>>();
        let mut values = values;
        for series in &input {
            for_each_window(&series.samples, &times, range, |step, window| {
                if !window.is_empty() {
                    values[step] = None;
                }
            });
        }
        if values.iter().all(Option::is_none) {
            return Ok(Some(Evaluated::Vector(Vec::new())));
        }
        return Ok(Some(Evaluated::Vector(vec![StepSeries {
            labels: absent_labels(input_expr)?,
            values,
            drop_name: false,
        }])));
    }
    let keeps_name = matches!(name, "last_over_time" | "first_over_time");
    let counter_function = matches!(name, "rate" | "increase" | "irate");
    let mut output = Vec::with_capacity(input.len());
    for series in input {
        evaluator.ctx.check_interrupt()?;
        let mut values = vec![None; times.len()];
        let mut present = false;
        for_each_window(&series.samples, &times, range, |step, window| {
            let context = WindowContext {
                end: times[step],
                range,
                step_time: grid.time(step),
                first_argument: first_argument.get(step).copied().unwrap_or(f64::NAN),
                second_argument: second_argument.get(step).copied().unwrap_or(f64::NAN),
            };
            let value = apply_window(name, window, &context);
            present |= value.is_some();
            values[step] = value;
        });
        if !present {
            continue;
        }
        if counter_function && let Some(metric) = series.labels.metric_name() {
            let counter_like = ["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|suffix| metric.ends_with(suffix));
            if !counter_like {
                evaluator.ctx.info(format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
                ));
            }
        }
        output.push(StepSeries {
            labels: series.labels,
            values,
            drop_name: series.drop_name || !keeps_name,
        });
    }
    Ok(Some(Evaluated::Vector(output)))
}

fn apply_window(name: &str, window: &[(i64, f64)], context: &WindowContext) -> Option<f64> {
    let (&(first_t, first_v), &(last_t, last_v)) = (window.first()?, window.last()?);
    let value = match name {
        "rate" => extrapolated_rate(window, context, true, true)?,
        "increase" => extrapolated_rate(window, context, true, false)?,
        "delta" => extrapolated_rate(window, context, false, false)?,
        "irate" | "idelta" => {
            if window.len() < 2 {
                return None;
            }
            let (previous_t, previous_v) = window[window.len() - 2];
            let mut result = last_v - previous_v;
            if name == "irate" {
                if last_v < previous_v {
                    result = last_v;
                }
                let seconds = (last_t - previous_t) as f64 / 1000.0;
                if seconds == 0.0 {
                    return None;
                }
                result /= seconds;
            }
            result
        }
        "deriv" => {
            if window.len() < 2 {
                return None;
            }
            linear_regression(window, first_t).0
        }
        "predict_linear" => {
            if window.len() < 2 {
                return None;
            }
            let (slope, intercept) = linear_regression(window, context.step_time);
            slope * context.first_argument + intercept
        }
        "changes" | "resets" => {
            let mut count = 0.0;
            for pair in window.windows(2) {
                let (previous, current) = (pair[0].1, pair[1].1);
                let counted = if name == "changes" {
                    current != previous && !(current.is_nan() && previous.is_nan())
                } else {
                    current < previous
                };
                if counted {
                    count += 1.0;
                }
            }
            count
        }
        "avg_over_time" => {
            let mut mean = MeanAccumulator::default();
            for &(_, v) in window {
                mean.add(v);
            }
            mean.value()
        }
        "sum_over_time" => {
            let mut sum = KahanSum::default();
            for &(_, v) in window {
                sum.add(v);
            }
            sum.value()
        }
        "count_over_time" => window.len() as f64,
        "present_over_time" => 1.0,
        "last_over_time" => last_v,
        "first_over_time" => first_v,
        "ts_of_last_over_time" => last_t as f64 / 1000.0,
        "ts_of_first_over_time" => first_t as f64 / 1000.0,
        "min_over_time" | "ts_of_min_over_time" => {
            let mut best = window[0];
            for &sample in &window[1..] {
                if sample.1 < best.1 || (best.1.is_nan() && !sample.1.is_nan()) {
                    best = sample;
                }
            }
            if name == "min_over_time" {
                best.1
            } else {
                best.0 as f64 / 1000.0
            }
        }
        "max_over_time" | "ts_of_max_over_time" => {
            let mut best = window[0];
            for &sample in &window[1..] {
                if sample.1 > best.1 || (best.1.is_nan() && !sample.1.is_nan()) {
                    best = sample;
                }
            }
            if name == "max_over_time" {
                best.1
            } else {
                best.0 as f64 / 1000.0
            }
        }
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
            for &(_, v) in window {
                count += 1.0;
                let delta = v - mean;
                mean += delta / count;
                m2 += delta * (v - mean);
            }
            let variance = m2 / count;
            if name == "stddev_over_time" {
                variance.sqrt()
            } else {
                variance
            }
        }
        "quantile_over_time" => {
            let mut values: Vec<f64> = window.iter().map(|s| s.1).collect();
            quantile_of(context.first_argument, &mut values)
        }
        "mad_over_time" => {
            if window.iter().any(|s| s.1.is_nan()) {
                return Some(f64::NAN);
            }
            let mut values: Vec<f64> = window.iter().map(|s| s.1).collect();
            let median = quantile_of(0.5, &mut values);
            let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
            quantile_of(0.5, &mut deviations)
        }
        "double_exponential_smoothing" | "holt_winters" => {
            if window.len() < 2 {
                return None;
            }
            let (smoothing, trend_factor) = (context.first_argument, context.second_argument);
            let mut smoothed_previous = 0.0;
            let mut smoothed = window[0].1;
            let mut trend = window[1].1 - window[0].1;
            for (index, &(_, v)) in window.iter().enumerate().skip(1) {
                let x = smoothing * v;
                if index > 1 {
                    trend = trend_factor * (smoothed - smoothed_previous)
                        + (1.0 - trend_factor) * trend;
                }
                let y = (1.0 - smoothing) * (smoothed + trend);
                smoothed_previous = smoothed;
                smoothed = x + y;
            }
            smoothed
        }
        _ => return None,
    };
    Some(value)
}

/// Prometheus's extrapolated rate/increase/delta.
fn extrapolated_rate(
    window: &[(i64, f64)],
    context: &WindowContext,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if window.len() < 2 {
        return None;
    }
    let range_start = context.end - context.range;
    let range_end = context.end;
    let (first_t, first_v) = window[0];
    let (last_t, last_v) = window[window.len() - 1];
    let mut result = last_v - first_v;
    if is_counter {
        let mut previous = first_v;
        for &(_, v) in &window[1..] {
            if v < previous {
                result += previous;
            }
            previous = v;
        }
    }
    let mut duration_to_start = (first_t - range_start) as f64 / 1000.0;
    let mut duration_to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let average_interval = sampled_interval / (window.len() - 1) as f64;
    let threshold = average_interval * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = average_interval / 2.0;
    }
    if is_counter && result > 0.0 && first_v >= 0.0 {
        let duration_to_zero = sampled_interval * (first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = average_interval / 2.0;
    }
    let extrapolate_to = sampled_interval + duration_to_start + duration_to_end;
    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= context.range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Least-squares slope and intercept (at `intercept_time`), Kahan-summed.
fn linear_regression(window: &[(i64, f64)], intercept_time: i64) -> (f64, f64) {
    let initial = window[0].1;
    let constant = window.iter().all(|s| s.1 == initial);
    if constant {
        if initial.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, initial);
    }
    let count = window.len() as f64;
    let (mut sum_x, mut sum_y, mut sum_xy, mut sum_x2) = (
        KahanSum::default(),
        KahanSum::default(),
        KahanSum::default(),
        KahanSum::default(),
    );
    for &(t, v) in window {
        let x = (t - intercept_time) as f64 / 1000.0;
        sum_x.add(x);
        sum_y.add(v);
        sum_xy.add(x * v);
        sum_x2.add(x * x);
    }
    let (sum_x, sum_y, sum_xy, sum_x2) =
        (sum_x.value(), sum_y.value(), sum_xy.value(), sum_x2.value());
    let covariance = sum_xy - sum_x * sum_y / count;
    let variance = sum_x2 - sum_x * sum_x / count;
    let slope = covariance / variance;
    let intercept = sum_y / count - slope * sum_x / count;
    (slope, intercept)
}
