//! Aggregation operators: sum, avg, count, min, max, group, stddev, stdvar,
//! quantile, count_values, topk, bottomk, limitk, limit_ratio.

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::error::QueryError;
use super::eval::Evaluator;
use super::functions::quantile_of;
use super::value::{Evaluated, StepSeries, format_count_value};
use crate::model::{Labels, LabelsBuilder, METRIC_NAME};

/// One step of Kahan-Neumaier summation: the new sum and compensation.
pub(crate) fn kahan_sum_inc(increment: f64, sum: f64, compensation: f64) -> (f64, f64) {
    let total = sum + increment;
    let compensation = if total.is_infinite() {
        0.0
    } else if sum.abs() >= increment.abs() {
        compensation + ((sum - total) + increment)
    } else {
        compensation + ((increment - total) + sum)
    };
    (total, compensation)
}

/// Kahan-compensated running sum, as Prometheus sums floats.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KahanSum {
    sum: f64,
    compensation: f64,
}

impl KahanSum {
    pub fn add(&mut self, value: f64) {
        (self.sum, self.compensation) = kahan_sum_inc(value, self.sum, self.compensation);
    }

    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// Prometheus's mean: a Kahan sum divided by the count while the sum does
/// not overflow, an incremental mean from then on.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MeanAccumulator {
    sum: f64,
    compensation: f64,
    count: f64,
    incremental: bool,
    mean: f64,
}

impl MeanAccumulator {
    pub fn add(&mut self, value: f64) {
        self.count += 1.0;
        if self.count == 1.0 {
            self.sum = value;
            self.compensation = 0.0;
            return;
        }
        if !self.incremental {
            let (sum, compensation) = kahan_sum_inc(value, self.sum, self.compensation);
            if !sum.is_infinite() {
                self.sum = sum;
                self.compensation = compensation;
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.compensation /= self.count - 1.0;
        }
        let q = (self.count - 1.0) / self.count;
        (self.mean, self.compensation) =
            kahan_sum_inc(value / self.count, q * self.mean, q * self.compensation);
    }

    pub fn value(&self) -> f64 {
        if self.incremental {
            return self.mean + self.compensation;
        }
        if self.count == 1.0 {
            return self.sum;
        }
        self.sum / self.count + self.compensation / self.count
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AggregateOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Quantile,
    CountValues,
    Topk,
    Bottomk,
    Limitk,
    LimitRatio,
}

impl AggregateOp {
    fn parse(text: &str) -> Result<Self, QueryError> {
        Ok(match text {
            "sum" => AggregateOp::Sum,
            "avg" => AggregateOp::Avg,
            "count" => AggregateOp::Count,
            "min" => AggregateOp::Min,
            "max" => AggregateOp::Max,
            "group" => AggregateOp::Group,
            "stddev" => AggregateOp::Stddev,
            "stdvar" => AggregateOp::Stdvar,
            "quantile" => AggregateOp::Quantile,
            "count_values" => AggregateOp::CountValues,
            "topk" => AggregateOp::Topk,
            "bottomk" => AggregateOp::Bottomk,
            "limitk" => AggregateOp::Limitk,
            "limit_ratio" => AggregateOp::LimitRatio,
            other => {
                return Err(QueryError::BadData(format!(
                    "unsupported aggregation {other:?}"
                )));
            }
        })
    }
}

/// The labels of the group a series belongs to.
fn group_labels(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        None => Labels::empty(),
        Some(LabelModifier::Include(names)) => labels.keep_only(&names.labels),
        Some(LabelModifier::Exclude(names)) => {
            labels.filter(|l| l.name != METRIC_NAME && !names.labels.iter().any(|n| n == l.name))
        }
    }
}

pub(crate) fn eval_aggregate(
    evaluator: &Evaluator<'_>,
    aggregate: &AggregateExpr,
) -> Result<Evaluated, QueryError> {
    let op = AggregateOp::parse(&aggregate.op.to_string())?;
    let grid_len = evaluator.grid.len;
    let mut scalar_param = Vec::new();
    let mut string_param = String::new();
    if let Some(param) = &aggregate.param {
        match evaluator.eval(param)? {
            Evaluated::Scalar(values) => scalar_param = values,
            Evaluated::String(value) => string_param = value,
            _ => {
                return Err(QueryError::BadData(
                    "aggregation parameter must be a scalar or a string".to_string(),
                ));
            }
        }
    }
    let input = evaluator.eval_vector(&aggregate.expr)?;
    let modifier = aggregate.modifier.as_ref();
    match op {
        AggregateOp::Topk
        | AggregateOp::Bottomk
        | AggregateOp::Limitk
        | AggregateOp::LimitRatio => {
            select_series(evaluator, op, &scalar_param, input, modifier, grid_len)
        }
        AggregateOp::CountValues => count_values(&string_param, input, modifier, grid_len),
        _ => {
            if op == AggregateOp::Quantile {
                for &phi in &scalar_param {
                    if phi.is_nan() || !(0.0..=1.0).contains(&phi) {
                        evaluator.ctx.warn(format!(
                            "quantile value should be between 0 and 1, got {}",
                            super::value::format_float(phi)
                        ));
                    }
                }
            }
            reduce(op, &scalar_param, input, modifier, grid_len)
        }
    }
}

fn group_ids(input: &[StepSeries], modifier: Option<&LabelModifier>) -> (Vec<usize>, Vec<Labels>) {
    let mut ids: HashMap<Labels, usize> = HashMap::new();
    let mut groups = Vec::new();
    let series_groups = input
        .iter()
        .map(|series| {
            let labels = group_labels(&series.labels, modifier);
            let next = ids.len();
            *ids.entry(labels.clone()).or_insert_with(|| {
                groups.push(labels);
                next
            })
        })
        .collect();
    (series_groups, groups)
}

#[derive(Debug, Default, Clone)]
struct GroupState {
    seen: bool,
    count: f64,
    sum: KahanSum,
    mean: MeanAccumulator,
    extreme: f64,
    welford_mean: f64,
    welford_m2: f64,
    values: Vec<f64>,
}

fn reduce(
    op: AggregateOp,
    param: &[f64],
    input: Vec<StepSeries>,
    modifier: Option<&LabelModifier>,
    grid_len: usize,
) -> Result<Evaluated, QueryError> {
    let (series_groups, groups) = group_ids(&input, modifier);
    // Grouping by `__name__` keeps the name, but a name that was due to be
    // dropped (delayed name removal) is still dropped at the end.
    let groups_by_name = matches!(modifier, Some(LabelModifier::Include(names))
        if names.labels.iter().any(|n| n == METRIC_NAME));
    let mut group_drops_name = vec![false; groups.len()];
    if groups_by_name {
        for (series, &group) in input.iter().zip(&series_groups) {
            group_drops_name[group] |= series.drop_name;
        }
    }
    let mut output: Vec<StepSeries> = groups
        .into_iter()
        .zip(group_drops_name)
        .map(|(labels, drop_name)| StepSeries {
            labels,
            values: vec![None; grid_len],
            drop_name,
        })
        .collect();
    let mut states = vec![GroupState::default(); output.len()];
    for step in 0..grid_len {
        for state in &mut states {
            state.seen = false;
            state.values.clear();
        }
        for (series, &group) in input.iter().zip(&series_groups) {
            let Some(value) = series.values[step] else {
                continue;
            };
            let state = &mut states[group];
            if !state.seen {
                state.seen = true;
                state.count = 0.0;
                state.sum = KahanSum::default();
                state.mean = MeanAccumulator::default();
                state.extreme = value;
                state.welford_mean = 0.0;
                state.welford_m2 = 0.0;
            }
            state.count += 1.0;
            match op {
                AggregateOp::Sum => state.sum.add(value),
                AggregateOp::Avg => state.mean.add(value),
                AggregateOp::Min if value < state.extreme || state.extreme.is_nan() => {
                    state.extreme = value;
                }
                AggregateOp::Max if value > state.extreme || state.extreme.is_nan() => {
                    state.extreme = value;
                }
                AggregateOp::Stddev | AggregateOp::Stdvar => {
                    let delta = value - state.welford_mean;
                    state.welford_mean += delta / state.count;
                    state.welford_m2 += delta * (value - state.welford_mean);
                }
                AggregateOp::Quantile => state.values.push(value),
                _ => {}
            }
        }
        for (state, out) in states.iter_mut().zip(&mut output) {
            if !state.seen {
                continue;
            }
            let value = match op {
                AggregateOp::Sum => state.sum.value(),
                AggregateOp::Avg => state.mean.value(),
                AggregateOp::Count => state.count,
                AggregateOp::Group => 1.0,
                AggregateOp::Min | AggregateOp::Max => state.extreme,
                AggregateOp::Stdvar => state.welford_m2 / state.count,
                AggregateOp::Stddev => (state.welford_m2 / state.count).sqrt(),
                AggregateOp::Quantile => quantile_of(
                    param.get(step).copied().unwrap_or(f64::NAN),
                    &mut state.values,
                ),
                _ => f64::NAN,
            };
            out.values[step] = Some(value);
        }
    }
    output.retain(|s| s.values.iter().any(Option::is_some));
    Ok(Evaluated::Vector(output))
}

fn count_values(
    label: &str,
    input: Vec<StepSeries>,
    modifier: Option<&LabelModifier>,
    grid_len: usize,
) -> Result<Evaluated, QueryError> {
    if !is_valid_label_name(label) {
        return Err(QueryError::Execution(format!(
            "invalid label name {label:?}"
        )));
    }
    let (series_groups, groups) = group_ids(&input, modifier);
    let mut output_index: HashMap<Labels, usize> = HashMap::new();
    let mut output: Vec<StepSeries> = Vec::new();
    for (series, &group) in input.iter().zip(&series_groups) {
        for step in 0..grid_len {
            let Some(value) = series.values[step] else {
                continue;
            };
            let mut builder = LabelsBuilder::new(&groups[group]);
            builder.set(label, &format_count_value(value));
            let labels = builder.build();
            let slot = *output_index.entry(labels.clone()).or_insert_with(|| {
                output.push(StepSeries {
                    labels,
                    values: vec![None; grid_len],
                    drop_name: false,
                });
                output.len() - 1
            });
            let target = &mut output[slot].values[step];
            *target = Some(target.unwrap_or(0.0) + 1.0);
        }
    }
    Ok(Evaluated::Vector(output))
}

/// Whether `name` is a valid label name (UTF-8 names are allowed in
/// Prometheus 3, but not empty ones or invalid UTF-8).
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Orders for topk (largest first, NaN last) and bottomk (smallest first,
/// NaN last).
fn rank_order(op: AggregateOp, a: f64, b: f64) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            if op == AggregateOp::Topk {
                b.partial_cmp(&a).unwrap_or(Ordering::Equal)
            } else {
                a.partial_cmp(&b).unwrap_or(Ordering::Equal)
            }
        }
    }
}

/// The fraction of the hash space a series falls at, for limit_ratio.
fn ratio_offset(labels: &Labels) -> f64 {
    labels.stable_hash() as f64 / u64::MAX as f64
}

fn select_series(
    evaluator: &Evaluator<'_>,
    op: AggregateOp,
    param: &[f64],
    input: Vec<StepSeries>,
    modifier: Option<&LabelModifier>,
    grid_len: usize,
) -> Result<Evaluated, QueryError> {
    let (series_groups, groups) = group_ids(&input, modifier);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    for (index, &group) in series_groups.iter().enumerate() {
        members[group].push(index);
    }
    let mut output_slot: HashMap<usize, usize> = HashMap::new();
    let mut output: Vec<StepSeries> = Vec::new();
    let mut chosen: Vec<usize> = Vec::new();
    for step in 0..grid_len {
        let parameter = param.get(step).copied().unwrap_or(f64::NAN);
        if parameter.is_nan() {
            let what = if op == AggregateOp::LimitRatio {
                "Ratio"
            } else {
                "Parameter"
            };
            return Err(QueryError::Execution(format!("{what} value is NaN")));
        }
        let (k, ratio) = if op == AggregateOp::LimitRatio {
            let mut ratio = parameter;
            if !(-1.0..=1.0).contains(&ratio) {
                let capped = ratio.clamp(-1.0, 1.0);
                evaluator.ctx.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to {}",
                    super::value::format_float(ratio),
                    super::value::format_float(capped)
                ));
                ratio = capped;
            }
            (0usize, ratio)
        } else {
            if parameter >= 9.223_372_036_854_776e18 || parameter <= -9.223_372_036_854_776e18 {
                return Err(QueryError::Execution(format!(
                    "Scalar value {} overflows int64",
                    super::value::format_float(parameter)
                )));
            }
            let k = parameter as i64;
            (usize::try_from(k.max(0)).unwrap_or(0), 0.0)
        };
        for group in &members {
            chosen.clear();
            chosen.extend(
                group
                    .iter()
                    .copied()
                    .filter(|&i| input[i].values[step].is_some()),
            );
            match op {
                AggregateOp::Topk | AggregateOp::Bottomk => {
                    let order = |a: &usize, b: &usize| {
                        rank_order(
                            op,
                            input[*a].values[step].unwrap_or(f64::NAN),
                            input[*b].values[step].unwrap_or(f64::NAN),
                        )
                    };
                    // Partition around the k-th first, then sort only the k.
                    if k > 0 && k < chosen.len() {
                        chosen.select_nth_unstable_by(k - 1, order);
                    }
                    chosen.truncate(k);
                    chosen.sort_by(order);
                }
                AggregateOp::Limitk => chosen.truncate(k),
                _ => chosen.retain(|&i| {
                    let offset = ratio_offset(&input[i].labels);
                    (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio)
                }),
            }
            for &index in &chosen {
                let slot = *output_slot.entry(index).or_insert_with(|| {
                    output.push(StepSeries {
                        labels: input[index].labels.clone(),
                        values: vec![None; grid_len],
                        drop_name: input[index].drop_name,
                    });
                    output.len() - 1
                });
                output[slot].values[step] = input[index].values[step];
            }
        }
    }
    Ok(Evaluated::Vector(output))
}
