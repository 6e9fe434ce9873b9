//! `histogram_quantile` over classic histograms (`le` buckets). Native
//! histograms are not supported.

use std::collections::HashMap;

use promql_parser::parser::Call;

use super::error::QueryError;
use super::eval::Evaluator;
use super::value::{Evaluated, StepSeries, format_float};
use crate::model::{Labels, METRIC_NAME};

/// Tolerance below which bucket count differences are treated as float noise.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Parses an `le` value as Prometheus does (`+Inf`, `Inf`, floats).
fn parse_bound(text: &str) -> Option<f64> {
    match text.trim() {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse::<f64>().ok(),
    }
}

/// The quantile `phi` of classic buckets `(upper bound, cumulative count)`.
/// Returns the value and whether the counts had to be made monotonic.
pub(crate) fn bucket_quantile(phi: f64, buckets: &mut [(f64, f64)]) -> (f64, bool) {
    if phi.is_nan() {
        return (f64::NAN, false);
    }
    if phi < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if phi > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    match buckets.last() {
        Some(last) if last.0 == f64::INFINITY => {}
        _ => return (f64::NAN, false),
    }
    // Coalesce buckets with the same bound.
    let mut coalesced: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(bound, count) in buckets.iter() {
        match coalesced.last_mut() {
            Some(last) if last.0 == bound => last.1 += count,
            _ => coalesced.push((bound, count)),
        }
    }
    let mut forced_monotonic = false;
    let mut previous = coalesced[0].1;
    for bucket in coalesced.iter_mut().skip(1) {
        let current = bucket.1;
        if current == previous {
            continue;
        }
        if (current - previous).abs() <= SMALL_DELTA_TOLERANCE * current.abs().max(previous.abs()) {
            bucket.1 = previous;
            continue;
        }
        if current < previous {
            bucket.1 = previous;
            forced_monotonic = true;
            continue;
        }
        previous = current;
    }
    if coalesced.len() < 2 {
        return (f64::NAN, forced_monotonic);
    }
    let observations = coalesced[coalesced.len() - 1].1;
    if observations == 0.0 || observations.is_nan() {
        return (f64::NAN, forced_monotonic);
    }
    let mut rank = phi * observations;
    let index = coalesced.partition_point(|b| b.1 < rank);
    if index >= coalesced.len() - 1 {
        return (coalesced[coalesced.len() - 2].0, forced_monotonic);
    }
    if index == 0 && coalesced[0].0 <= 0.0 {
        return (coalesced[0].0, forced_monotonic);
    }
    let mut bucket_start = 0.0;
    let bucket_end = coalesced[index].0;
    let mut count = coalesced[index].1;
    if index > 0 {
        bucket_start = coalesced[index - 1].0;
        count -= coalesced[index - 1].1;
        rank -= coalesced[index - 1].1;
    }
    (
        bucket_start + (bucket_end - bucket_start) * (rank / count),
        forced_monotonic,
    )
}

pub(crate) fn histogram_quantile(
    evaluator: &Evaluator<'_>,
    call: &Call,
) -> Result<Evaluated, QueryError> {
    let (Some(phi_expr), Some(input_expr)) = (call.args.args.first(), call.args.args.get(1)) else {
        return Err(QueryError::BadData(
            "histogram_quantile needs two arguments".to_string(),
        ));
    };
    let phi = evaluator.eval_scalar(phi_expr)?;
    for &value in &phi {
        if value.is_nan() || !(0.0..=1.0).contains(&value) {
            evaluator.ctx.warn(format!(
                "quantile value should be between 0 and 1, got {}",
                format_float(value)
            ));
        }
    }
    let input = evaluator.eval_vector(input_expr)?;
    let grid_len = evaluator.grid.len;
    let mut group_index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<(usize, f64)>)> = Vec::new();
    for (series_index, series) in input.iter().enumerate() {
        let bound = series.labels.get("le").and_then(parse_bound);
        let Some(bound) = bound else {
            let metric = series.labels.get_or_empty(METRIC_NAME);
            evaluator.ctx.warn(format!(
                "bucket label \"le\" is missing or has a malformed value of {:?} for metric name {metric:?}",
                series.labels.get_or_empty("le")
            ));
            continue;
        };
        // The name stays in the group key and is dropped at the end, so
        // buckets of different metrics never mix (delayed name removal).
        let labels = series.labels.filter(|l| l.name != "le");
        let next = groups.len();
        let slot = *group_index.entry(labels.clone()).or_insert_with(|| {
            groups.push((labels, Vec::new()));
            next
        });
        groups[slot].1.push((series_index, bound));
    }
    let mut output = Vec::with_capacity(groups.len());
    let mut buckets = Vec::new();
    for (labels, members) in groups {
        let mut values = vec![None; grid_len];
        let mut metric_name = String::new();
        for (step, value) in values.iter_mut().enumerate() {
            buckets.clear();
            for &(series_index, bound) in &members {
                if let Some(count) = input[series_index].values[step] {
                    buckets.push((bound, count));
                }
            }
            if buckets.is_empty() {
                continue;
            }
            let (quantile, forced) =
                bucket_quantile(phi.get(step).copied().unwrap_or(f64::NAN), &mut buckets);
            if forced {
                if metric_name.is_empty()
                    && let Some(&(first, _)) = members.first()
                {
                    metric_name = input[first].labels.get_or_empty(METRIC_NAME).to_string();
                }
                evaluator.ctx.info(format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {metric_name:?}"
                ));
            }
            *value = Some(quantile);
        }
        if values.iter().any(Option::is_some) {
            output.push(StepSeries {
                labels,
                values,
                drop_name: true,
            });
        }
    }
    Ok(Evaluated::Vector(output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_inside_the_bucket() {
        let mut buckets = vec![(0.1, 10.0), (0.2, 20.0), (f64::INFINITY, 20.0)];
        let (value, forced) = bucket_quantile(0.75, &mut buckets);
        assert!((value - 0.15).abs() < 1e-9, "{value}");
        assert!(!forced);
    }

    #[test]
    fn non_monotonic_buckets_are_fixed_and_reported() {
        let mut buckets = vec![(1.0, 10.0), (2.0, 5.0), (f64::INFINITY, 10.0)];
        let (_, forced) = bucket_quantile(0.5, &mut buckets);
        assert!(forced);
    }

    #[test]
    fn missing_inf_bucket_gives_nan() {
        let mut buckets = vec![(1.0, 10.0)];
        assert!(bucket_quantile(0.5, &mut buckets).0.is_nan());
    }
}
