//! Binary operators: arithmetic, comparisons (with `bool`), set operators,
//! and vector matching (`on`/`ignoring`, `group_left`/`group_right`).

use std::collections::HashMap;

use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::error::QueryError;
use super::eval::Evaluator;
use super::value::{Evaluated, StepSeries};
use crate::model::{Labels, LabelsBuilder, METRIC_NAME};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Operator {
    fn parse(text: &str) -> Result<Self, QueryError> {
        Ok(match text {
            "+" => Operator::Add,
            "-" => Operator::Sub,
            "*" => Operator::Mul,
            "/" => Operator::Div,
            "%" => Operator::Mod,
            "^" => Operator::Pow,
            "atan2" => Operator::Atan2,
            "==" => Operator::Eq,
            "!=" => Operator::Ne,
            ">" => Operator::Gt,
            "<" => Operator::Lt,
            ">=" => Operator::Ge,
            "<=" => Operator::Le,
            "and" => Operator::And,
            "or" => Operator::Or,
            "unless" => Operator::Unless,
            other => {
                return Err(QueryError::BadData(format!(
                    "unsupported binary operator {other:?}"
                )));
            }
        })
    }

    fn is_comparison(self) -> bool {
        matches!(
            self,
            Operator::Eq | Operator::Ne | Operator::Gt | Operator::Lt | Operator::Ge | Operator::Le
        )
    }

    /// The value and whether the sample is kept (comparisons filter).
    fn apply(self, lhs: f64, rhs: f64) -> (f64, bool) {
        match self {
            Operator::Add => (lhs + rhs, true),
            Operator::Sub => (lhs - rhs, true),
            Operator::Mul => (lhs * rhs, true),
            Operator::Div => (lhs / rhs, true),
            Operator::Mod => (lhs % rhs, true),
            Operator::Pow => (lhs.powf(rhs), true),
            Operator::Atan2 => (lhs.atan2(rhs), true),
            Operator::Eq => (lhs, lhs == rhs),
            Operator::Ne => (lhs, lhs != rhs),
            Operator::Gt => (lhs, lhs > rhs),
            Operator::Lt => (lhs, lhs < rhs),
            Operator::Ge => (lhs, lhs >= rhs),
            Operator::Le => (lhs, lhs <= rhs),
            Operator::And | Operator::Or | Operator::Unless => (lhs, true),
        }
    }
}

/// How series of the two sides are matched.
struct Matching<'m> {
    on: bool,
    labels: Vec<&'m str>,
    card: &'m VectorMatchCardinality,
    return_bool: bool,
}

impl<'m> Matching<'m> {
    fn from_modifier(modifier: Option<&'m BinModifier>) -> Self {
        static ONE_TO_ONE: VectorMatchCardinality = VectorMatchCardinality::OneToOne;
        match modifier {
            None => Matching {
                on: false,
                labels: Vec::new(),
                card: &ONE_TO_ONE,
                return_bool: false,
            },
            Some(modifier) => {
                let (on, labels) = match &modifier.matching {
                    Some(LabelModifier::Include(labels)) => {
                        (true, labels.labels.iter().map(String::as_str).collect())
                    }
                    Some(LabelModifier::Exclude(labels)) => {
                        (false, labels.labels.iter().map(String::as_str).collect())
                    }
                    None => (false, Vec::new()),
                };
                Matching {
                    on,
                    labels,
                    card: &modifier.card,
                    return_bool: modifier.return_bool,
                }
            }
        }
    }

    /// The labels two series must agree on.
    fn signature(&self, labels: &Labels) -> Labels {
        if self.on {
            labels.keep_only(&self.labels)
        } else {
            labels.filter(|l| l.name != METRIC_NAME && !self.labels.contains(&l.name))
        }
    }
}

pub(crate) fn eval_binary(
    evaluator: &Evaluator<'_>,
    binary: &BinaryExpr,
) -> Result<Evaluated, QueryError> {
    let operator = Operator::parse(&binary.op.to_string())?;
    let matching = Matching::from_modifier(binary.modifier.as_ref());
    let lhs = evaluator.eval(&binary.lhs)?;
    let rhs = evaluator.eval(&binary.rhs)?;
    match (lhs, rhs) {
        (Evaluated::Scalar(left), Evaluated::Scalar(right)) => Ok(Evaluated::Scalar(
            left.iter()
                .zip(&right)
                .map(|(&l, &r)| {
                    let (value, keep) = operator.apply(l, r);
                    if operator.is_comparison() {
                        f64::from(u8::from(keep))
                    } else {
                        value
                    }
                })
                .collect(),
        )),
        (Evaluated::Vector(vector), Evaluated::Scalar(scalar)) => Ok(Evaluated::Vector(
            vector_scalar(operator, vector, &scalar, false, matching.return_bool),
        )),
        (Evaluated::Scalar(scalar), Evaluated::Vector(vector)) => Ok(Evaluated::Vector(
            vector_scalar(operator, vector, &scalar, true, matching.return_bool),
        )),
        (Evaluated::Vector(left), Evaluated::Vector(right)) => {
            let grid_len = evaluator.grid.len;
            match operator {
                Operator::And | Operator::Or | Operator::Unless => Ok(Evaluated::Vector(
                    set_operation(operator, &matching, left, right, grid_len),
                )),
                _ => Ok(Evaluated::Vector(vector_vector(
                    operator, &matching, left, right, grid_len,
                )?)),
            }
        }
        _ => Err(QueryError::BadData(
            "binary expression must contain only scalar and instant vector types".to_string(),
        )),
    }
}

fn vector_scalar(
    operator: Operator,
    mut vector: Vec<StepSeries>,
    scalar: &[f64],
    scalar_on_left: bool,
    return_bool: bool,
) -> Vec<StepSeries> {
    for series in &mut vector {
        for (value, &scalar_value) in series.values.iter_mut().zip(scalar) {
            let Some(sample) = *value else { continue };
            let (lhs, rhs) = if scalar_on_left {
                (scalar_value, sample)
            } else {
                (sample, scalar_value)
            };
            let (mut result, keep) = operator.apply(lhs, rhs);
            if operator.is_comparison() && scalar_on_left {
                result = sample;
            }
            *value = if return_bool {
                Some(f64::from(u8::from(keep)))
            } else if keep {
                Some(result)
            } else {
                None
            };
        }
        if return_bool || !operator.is_comparison() {
            series.drop_name = true;
        }
    }
    vector.retain(|s| s.values.iter().any(Option::is_some));
    vector
}

/// Numbers each distinct signature so steps can use vectors, not maps.
fn signature_ids(
    matching: &Matching<'_>,
    left: &[StepSeries],
    right: &[StepSeries],
) -> (Vec<usize>, Vec<usize>, Vec<Labels>) {
    let mut ids: HashMap<Labels, usize> = HashMap::new();
    let mut signatures = Vec::new();
    let mut id_of = |labels: &Labels| {
        let signature = matching.signature(labels);
        let next = ids.len();
        *ids.entry(signature.clone()).or_insert_with(|| {
            signatures.push(signature);
            next
        })
    };
    let left_ids = left.iter().map(|s| id_of(&s.labels)).collect();
    let right_ids = right.iter().map(|s| id_of(&s.labels)).collect();
    (left_ids, right_ids, signatures)
}

fn set_operation(
    operator: Operator,
    matching: &Matching<'_>,
    left: Vec<StepSeries>,
    right: Vec<StepSeries>,
    grid_len: usize,
) -> Vec<StepSeries> {
    let (left_ids, right_ids, signatures) = signature_ids(matching, &left, &right);
    let group_count = signatures.len();
    // For every step, which signatures are present on each side.
    let mut present_right = vec![usize::MAX; group_count];
    let mut present_left = vec![usize::MAX; group_count];
    let mut left = left;
    let mut right = right;
    for step in 0..grid_len {
        for (series, &id) in right.iter().zip(&right_ids) {
            if series.values[step].is_some() {
                present_right[id] = step;
            }
        }
        for (series, &id) in left.iter_mut().zip(&left_ids) {
            if series.values[step].is_some() {
                present_left[id] = step;
                let matched = present_right[id] == step;
                let keep = match operator {
                    Operator::And => matched,
                    Operator::Unless => !matched,
                    _ => true,
                };
                if !keep {
                    series.values[step] = None;
                }
            }
        }
        if operator == Operator::Or {
            for (series, &id) in right.iter_mut().zip(&right_ids) {
                if present_left[id] == step {
                    series.values[step] = None;
                }
            }
        }
    }
    let mut output: Vec<StepSeries> = left;
    if operator == Operator::Or {
        output.extend(right);
        output = merge_same_labels(output);
    }
    output.retain(|s| s.values.iter().any(Option::is_some));
    output
}

/// Joins series with the same labels and name flag (they never overlap in
/// a step where this is used).
fn merge_same_labels(series: Vec<StepSeries>) -> Vec<StepSeries> {
    let mut index: HashMap<(Labels, bool), usize> = HashMap::new();
    let mut output: Vec<StepSeries> = Vec::with_capacity(series.len());
    for one in series {
        match index.get(&(one.labels.clone(), one.drop_name)) {
            Some(&existing) => {
                for (target, value) in output[existing].values.iter_mut().zip(one.values) {
                    if target.is_none() {
                        *target = value;
                    }
                }
            }
            None => {
                index.insert((one.labels.clone(), one.drop_name), output.len());
                output.push(one);
            }
        }
    }
    output
}

fn vector_vector(
    operator: Operator,
    matching: &Matching<'_>,
    left: Vec<StepSeries>,
    right: Vec<StepSeries>,
    grid_len: usize,
) -> Result<Vec<StepSeries>, QueryError> {
    let one_to_many = matches!(matching.card, VectorMatchCardinality::OneToMany(_));
    let one_to_one = matches!(matching.card, VectorMatchCardinality::OneToOne);
    let include: Vec<&str> = match matching.card {
        VectorMatchCardinality::ManyToOne(labels) | VectorMatchCardinality::OneToMany(labels) => {
            labels.labels.iter().map(String::as_str).collect()
        }
        _ => Vec::new(),
    };
    // The "many" side is `many`, the "one" side `one`.
    let (many, one) = if one_to_many {
        (right, left)
    } else {
        (left, right)
    };
    let (many_ids, one_ids, signatures) = signature_ids(matching, &many, &one);
    let group_count = signatures.len();
    let mut one_at_step: Vec<(usize, usize)> = vec![(usize::MAX, 0); group_count];
    let mut matched_at_step: Vec<usize> = vec![usize::MAX; group_count];
    let mut output: Vec<StepSeries> = Vec::new();
    let mut output_index: HashMap<Labels, usize> = HashMap::new();
    let mut pair_output: HashMap<(usize, usize), usize> = HashMap::new();
    let mut written_at_step: Vec<usize> = Vec::new();
    // The pair a series of the "many" side matched last, and its output.
    let mut last_pair: Vec<(usize, usize)> = vec![(usize::MAX, 0); many.len()];
    let drop_for_operator = matching.return_bool || !operator.is_comparison();
    for step in 0..grid_len {
        for (index, (series, &id)) in one.iter().zip(&one_ids).enumerate() {
            if series.values[step].is_none() {
                continue;
            }
            if one_at_step[id].0 == step {
                let side = if one_to_many { "left" } else { "right" };
                let first = &one[one_at_step[id].1].labels;
                return Err(QueryError::Execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    signatures[id], first, series.labels
                )));
            }
            one_at_step[id] = (step, index);
        }
        for (many_index, (series, &id)) in many.iter().zip(&many_ids).enumerate() {
            let Some(many_value) = series.values[step] else {
                continue;
            };
            if one_at_step[id].0 != step {
                continue;
            }
            let one_index = one_at_step[id].1;
            let Some(one_value) = one[one_index].values[step] else {
                continue;
            };
            let (lhs, rhs) = if one_to_many {
                (one_value, many_value)
            } else {
                (many_value, one_value)
            };
            if one_to_one {
                if matched_at_step[id] == step {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".to_string(),
                    ));
                }
                matched_at_step[id] = step;
            }
            let (mut value, keep) = operator.apply(lhs, rhs);
            if matching.return_bool {
                value = f64::from(u8::from(keep));
            } else if !keep {
                continue;
            }
            let cached = last_pair[many_index];
            let output_slot = if cached.0 == one_index {
                cached.1
            } else {
                match pair_output.get(&(many_index, one_index)) {
                    Some(&slot) => slot,
                    None => {
                        let labels = result_labels(
                            &series.labels,
                            &one[one_index].labels,
                            matching,
                            one_to_one,
                            &include,
                        );
                        let drop_name = drop_for_operator || series.drop_name;
                        let slot = *output_index.entry(labels.clone()).or_insert_with(|| {
                            output.push(StepSeries {
                                labels,
                                values: vec![None; grid_len],
                                drop_name,
                            });
                            written_at_step.push(usize::MAX);
                            output.len() - 1
                        });
                        pair_output.insert((many_index, one_index), slot);
                        slot
                    }
                }
            };
            last_pair[many_index] = (one_index, output_slot);
            if written_at_step[output_slot] == step {
                return Err(QueryError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                        .to_string(),
                ));
            }
            written_at_step[output_slot] = step;
            output[output_slot].values[step] = Some(value);
        }
    }
    Ok(output)
}

fn result_labels(
    many: &Labels,
    one: &Labels,
    matching: &Matching<'_>,
    one_to_one: bool,
    include: &[&str],
) -> Labels {
    if one_to_one {
        if matching.on {
            return many.keep_only(&matching.labels);
        }
        return many.filter(|l| !matching.labels.contains(&l.name));
    }
    if include.is_empty() {
        return many.clone();
    }
    let mut builder = LabelsBuilder::new(many);
    for name in include {
        builder.set(name, one.get_or_empty(name));
    }
    builder.build()
}
