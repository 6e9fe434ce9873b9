//! The evaluator: walks the AST over a grid of steps, reading series
//! through the storage seam.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use promql_parser::label::MatchOp;
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};

use super::error::QueryError;
use super::value::{Evaluated, SampleSeries, StepSeries};
use crate::model::{MatchType, Matcher, is_stale_nan};
use crate::storage::{Queryable, SelectHints, Series, SeriesSet};

/// Default step of a subquery without one (Prometheus: the global
/// evaluation interval, 1m by default).
pub(crate) const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// Warnings and infos collected during one query, deduplicated, in order.
#[derive(Debug, Default)]
pub(crate) struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    seen: BTreeSet<String>,
}

impl Annotations {
    pub fn warn(&mut self, message: String) {
        let text = format!("PromQL warning: {message}");
        if self.seen.insert(text.clone()) {
            self.warnings.push(text);
        }
    }

    pub fn info(&mut self, message: String) {
        let text = format!("PromQL info: {message}");
        if self.seen.insert(text.clone()) {
            self.infos.push(text);
        }
    }

    pub fn storage_warning(&mut self, message: String) {
        if self.seen.insert(message.clone()) {
            self.warnings.push(message);
        }
    }
}

/// What stays the same for a whole query.
pub(crate) struct QueryContext<'a> {
    pub queryable: &'a dyn Queryable,
    pub lookback_ms: i64,
    pub deadline: Instant,
    pub max_samples: usize,
    pub cancel: Option<&'a AtomicBool>,
    pub query_start: i64,
    pub query_end: i64,
    pub query_step: i64,
    pub annotations: RefCell<Annotations>,
    pub samples_loaded: Cell<usize>,
}

impl QueryContext<'_> {
    /// Fails when the query ran out of time or was cancelled.
    pub fn check_interrupt(&self) -> Result<(), QueryError> {
        if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(QueryError::Canceled("expression evaluation"));
        }
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout("expression evaluation"));
        }
        Ok(())
    }

    /// Counts samples held by the query against `max_samples`.
    pub fn account_samples(&self, count: usize) -> Result<(), QueryError> {
        let total = self.samples_loaded.get().saturating_add(count);
        self.samples_loaded.set(total);
        if total > self.max_samples {
            return Err(QueryError::TooManySamples("query execution"));
        }
        Ok(())
    }

    pub fn warn(&self, message: String) {
        self.annotations.borrow_mut().warn(message);
    }

    pub fn info(&self, message: String) {
        self.annotations.borrow_mut().info(message);
    }
}

/// The steps an expression is evaluated at: `start, start+step, ... <= end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    pub start: i64,
    pub step: i64,
    pub len: usize,
}

impl Grid {
    pub fn new(start: i64, end: i64, step: i64) -> Self {
        let step = step.max(1);
        let len = if end < start {
            0
        } else {
            (end.saturating_sub(start) / step).saturating_add(1) as usize
        };
        Grid { start, step, len }
    }

    pub fn time(&self, index: usize) -> i64 {
        self.start
            .saturating_add((index as i64).saturating_mul(self.step))
    }
}

/// Evaluates expressions on one grid.
pub(crate) struct Evaluator<'a> {
    pub ctx: &'a QueryContext<'a>,
    pub grid: Grid,
}

/// Strips any number of parentheses.
pub(crate) fn unwrap_parens(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(paren) => unwrap_parens(&paren.expr),
        other => other,
    }
}

fn duration_ms(duration: &std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => duration_ms(d).saturating_neg(),
    }
}

fn system_time_ms(time: &SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => duration_ms(&after),
        Err(before) => duration_ms(&before.duration()).saturating_neg(),
    }
}

pub(crate) fn range_ms(duration: &std::time::Duration) -> i64 {
    duration_ms(duration)
}

/// Converts the parser's matchers into ours.
pub(crate) fn convert_matchers(selector: &VectorSelector) -> Result<Vec<Matcher>, QueryError> {
    if !selector.matchers.or_matchers.is_empty() {
        return Err(QueryError::BadData(
            "\"or\" in label matchers is not supported".to_string(),
        ));
    }
    let mut matchers = Vec::with_capacity(selector.matchers.matchers.len() + 1);
    let mut has_name_matcher = false;
    for matcher in &selector.matchers.matchers {
        let match_type = match matcher.op {
            MatchOp::Equal => MatchType::Equal,
            MatchOp::NotEqual => MatchType::NotEqual,
            MatchOp::Re(_) => MatchType::Regex,
            MatchOp::NotRe(_) => MatchType::NotRegex,
        };
        if matcher.name == crate::model::METRIC_NAME {
            has_name_matcher = true;
        }
        let converted = Matcher::new(match_type, matcher.name.clone(), matcher.value.clone())
            .map_err(|e| QueryError::BadData(e.to_string()))?;
        matchers.push(converted);
    }
    if let Some(name) = &selector.name
        && !has_name_matcher
    {
        matchers.push(Matcher::equal(crate::model::METRIC_NAME, name.clone()));
    }
    Ok(matchers)
}

/// Reads the samples of `series` with `mint < t <= maxt` into `buffer`.
pub(crate) fn load_samples(
    series: &dyn Series,
    mint_exclusive: i64,
    maxt: i64,
    drop_stale: bool,
    buffer: &mut Vec<(i64, f64)>,
) -> Result<(), QueryError> {
    buffer.clear();
    let mut iterator = series.iter();
    let mut current = iterator.seek(mint_exclusive.saturating_add(1));
    while let Some((t, v)) = current {
        if t > maxt {
            break;
        }
        if t > mint_exclusive && !(drop_stale && is_stale_nan(v)) {
            buffer.push((t, v));
        }
        current = iterator.next();
    }
    if let Some(error) = iterator.err() {
        return Err(error.into());
    }
    Ok(())
}

impl<'a> Evaluator<'a> {
    pub fn new(ctx: &'a QueryContext<'a>, grid: Grid) -> Self {
        Evaluator { ctx, grid }
    }

    /// The time each step reads data at, after `@` and `offset`.
    pub fn selector_times(&self, at: &Option<AtModifier>, offset: &Option<Offset>) -> Vec<i64> {
        let offset = offset_ms(offset);
        let fixed = match at {
            None => None,
            Some(AtModifier::Start) => Some(self.ctx.query_start),
            Some(AtModifier::End) => Some(self.ctx.query_end),
            Some(AtModifier::At(time)) => Some(system_time_ms(time)),
        };
        (0..self.grid.len)
            .map(|i| {
                fixed
                    .unwrap_or_else(|| self.grid.time(i))
                    .saturating_sub(offset)
            })
            .collect()
    }

    pub fn eval(&self, expr: &Expr) -> Result<Evaluated, QueryError> {
        self.ctx.check_interrupt()?;
        let evaluated = self.eval_node(expr)?;
        // Bound what one node may hold: series times steps.
        let points = match &evaluated {
            Evaluated::Vector(series) => series.len().saturating_mul(self.grid.len),
            Evaluated::Matrix(series) => series.iter().map(|s| s.samples.len()).sum(),
            _ => 0,
        };
        if points > self.ctx.max_samples {
            return Err(QueryError::TooManySamples("query execution"));
        }
        Ok(evaluated)
    }

    fn eval_node(&self, expr: &Expr) -> Result<Evaluated, QueryError> {
        match expr {
            Expr::NumberLiteral(number) => Ok(Evaluated::Scalar(vec![number.val; self.grid.len])),
            Expr::StringLiteral(string) => Ok(Evaluated::String(string.val.clone())),
            Expr::Paren(paren) => self.eval(&paren.expr),
            Expr::Unary(unary) => match self.eval(&unary.expr)? {
                Evaluated::Scalar(values) => {
                    Ok(Evaluated::Scalar(values.into_iter().map(|v| -v).collect()))
                }
                Evaluated::Vector(mut series) => {
                    for one in &mut series {
                        one.drop_name = true;
                        for value in one.values.iter_mut().flatten() {
                            *value = -*value;
                        }
                    }
                    Ok(Evaluated::Vector(series))
                }
                _ => Err(QueryError::BadData(
                    "unary expression only allowed on expressions of type scalar or instant vector"
                        .to_string(),
                )),
            },
            Expr::Binary(binary) => super::binary::eval_binary(self, binary),
            Expr::Aggregate(aggregate) => super::aggregate::eval_aggregate(self, aggregate),
            Expr::Call(call) => super::functions::eval_call(self, call),
            Expr::VectorSelector(selector) => Ok(Evaluated::Vector(
                self.eval_vector_selector(selector, false)?,
            )),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                let (series, _, _) = self.eval_range_input(expr)?;
                Ok(Evaluated::Matrix(series))
            }
            Expr::Extension(_) => Err(QueryError::BadData(
                "extension expressions are not supported".to_string(),
            )),
        }
    }

    /// Evaluates an expression that must give an instant vector.
    pub fn eval_vector(&self, expr: &Expr) -> Result<Vec<StepSeries>, QueryError> {
        match self.eval(expr)? {
            Evaluated::Vector(series) => Ok(series),
            _ => Err(QueryError::BadData(format!(
                "expected instant vector, got another type in {expr}"
            ))),
        }
    }

    /// Evaluates an expression that must give a scalar (one value a step).
    pub fn eval_scalar(&self, expr: &Expr) -> Result<Vec<f64>, QueryError> {
        match self.eval(expr)? {
            Evaluated::Scalar(values) => Ok(values),
            _ => Err(QueryError::BadData(format!(
                "expected scalar, got another type in {expr}"
            ))),
        }
    }

    fn select(
        &self,
        selector: &VectorSelector,
        mint_exclusive: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Box<dyn SeriesSet>, QueryError> {
        let matchers = convert_matchers(selector)?;
        if matchers.iter().all(|m| m.matches_empty()) {
            return Err(QueryError::BadData(
                "vector selector must contain at least one non-empty matcher".to_string(),
            ));
        }
        let querier = self
            .ctx
            .queryable
            .querier(mint_exclusive.saturating_add(1), maxt)?;
        let hints = SelectHints {
            start: mint_exclusive.saturating_add(1),
            end: maxt,
            step: self.grid.step,
            range,
            ..SelectHints::default()
        };
        Ok(querier.select(false, Some(&hints), &matchers))
    }

    fn finish_set(&self, set: &dyn SeriesSet) -> Result<(), QueryError> {
        if let Some(error) = set.err() {
            return Err(error.into());
        }
        for warning in set.warnings() {
            self.ctx.annotations.borrow_mut().storage_warning(warning);
        }
        Ok(())
    }

    /// An instant-vector selector on the grid. With `sample_timestamps`, the
    /// values are the timestamps (seconds) of the samples found, for
    /// `timestamp()`.
    pub fn eval_vector_selector(
        &self,
        selector: &VectorSelector,
        sample_timestamps: bool,
    ) -> Result<Vec<StepSeries>, QueryError> {
        let times = self.selector_times(&selector.at, &selector.offset);
        let (Some(&min_time), Some(&max_time)) = (times.iter().min(), times.iter().max()) else {
            return Ok(Vec::new());
        };
        let lookback = self.ctx.lookback_ms;
        let mint = min_time.saturating_sub(lookback);
        let mut set = self.select(selector, mint, max_time, 0)?;
        let mut buffer = Vec::new();
        let mut output = Vec::new();
        while let Some(series) = set.next() {
            self.ctx.check_interrupt()?;
            load_samples(series.as_ref(), mint, max_time, false, &mut buffer)?;
            if buffer.is_empty() {
                continue;
            }
            let mut values = Vec::with_capacity(times.len());
            let mut cursor = 0usize;
            let mut present = 0usize;
            for &time in &times {
                while cursor < buffer.len() && buffer[cursor].0 <= time {
                    cursor += 1;
                }
                let value = match cursor.checked_sub(1).map(|i| buffer[i]) {
                    Some((t, v)) if t > time.saturating_sub(lookback) && !is_stale_nan(v) => {
                        present += 1;
                        Some(if sample_timestamps {
                            t as f64 / 1000.0
                        } else {
                            v
                        })
                    }
                    _ => None,
                };
                values.push(value);
            }
            if present == 0 {
                continue;
            }
            self.ctx.account_samples(present)?;
            if output.len().saturating_mul(times.len()) > self.ctx.max_samples {
                return Err(QueryError::TooManySamples("query execution"));
            }
            output.push(StepSeries {
                labels: series.labels().clone(),
                values,
                drop_name: false,
            });
        }
        self.finish_set(set.as_ref())?;
        Ok(output)
    }

    /// A matrix selector or subquery: the samples of every series over the
    /// whole span the grid needs, the range, and the time each step's window
    /// ends at. The window of step `i` is `(times[i] - range, times[i]]`.
    pub fn eval_range_input(
        &self,
        expr: &Expr,
    ) -> Result<(Vec<SampleSeries>, i64, Vec<i64>), QueryError> {
        match unwrap_parens(expr) {
            Expr::MatrixSelector(matrix) => {
                let range = range_ms(&matrix.range);
                let times = self.selector_times(&matrix.vs.at, &matrix.vs.offset);
                let (Some(&min_time), Some(&max_time)) = (times.iter().min(), times.iter().max())
                else {
                    return Ok((Vec::new(), range, times));
                };
                let mint = min_time.saturating_sub(range);
                let mut set = self.select(&matrix.vs, mint, max_time, range)?;
                let mut output = Vec::new();
                while let Some(series) = set.next() {
                    self.ctx.check_interrupt()?;
                    let mut samples = Vec::new();
                    load_samples(series.as_ref(), mint, max_time, true, &mut samples)?;
                    if samples.is_empty() {
                        continue;
                    }
                    self.ctx.account_samples(samples.len())?;
                    output.push(SampleSeries {
                        labels: series.labels().clone(),
                        samples,
                        drop_name: false,
                    });
                }
                self.finish_set(set.as_ref())?;
                Ok((output, range, times))
            }
            Expr::Subquery(subquery) => {
                let range = range_ms(&subquery.range);
                let step = subquery
                    .step
                    .as_ref()
                    .map(range_ms)
                    .filter(|s| *s > 0)
                    .unwrap_or(DEFAULT_SUBQUERY_STEP_MS);
                let times = self.selector_times(&subquery.at, &subquery.offset);
                let (Some(&min_time), Some(&max_time)) = (times.iter().min(), times.iter().max())
                else {
                    return Ok((Vec::new(), range, times));
                };
                let new_start = min_time.saturating_sub(range);
                let mut start = new_start - new_start.rem_euclid(step);
                if start <= new_start {
                    start = start.saturating_add(step);
                }
                let inner_grid = Grid::new(start, max_time, step);
                if inner_grid.len > self.ctx.max_samples {
                    return Err(QueryError::TooManySamples("query execution"));
                }
                let inner = Evaluator::new(self.ctx, inner_grid);
                let series = match inner.eval(&subquery.expr)? {
                    Evaluated::Vector(series) => series,
                    Evaluated::Scalar(values) => vec![StepSeries {
                        labels: crate::model::Labels::empty(),
                        values: values.into_iter().map(Some).collect(),
                        drop_name: false,
                    }],
                    _ => {
                        return Err(QueryError::BadData(
                            "subquery is only allowed on instant vector".to_string(),
                        ));
                    }
                };
                let output = series
                    .into_iter()
                    .map(|one| SampleSeries {
                        samples: one
                            .values
                            .iter()
                            .enumerate()
                            .filter_map(|(i, v)| v.map(|v| (inner_grid.time(i), v)))
                            .collect(),
                        labels: one.labels,
                        drop_name: one.drop_name,
                    })
                    .filter(|one| !one.samples.is_empty())
                    .collect();
                Ok((output, range, times))
            }
            _ => Err(QueryError::BadData(format!(
                "expected range vector, got {expr}"
            ))),
        }
    }
}

/// For each step, the window `(time - range, time]` of `samples` as index
/// bounds; `times` must be non-decreasing.
pub(crate) fn for_each_window(
    samples: &[(i64, f64)],
    times: &[i64],
    range: i64,
    mut visit: impl FnMut(usize, &[(i64, f64)]),
) {
    let mut low = 0usize;
    let mut high = 0usize;
    for (step, &time) in times.iter().enumerate() {
        let from = time.saturating_sub(range);
        while high < samples.len() && samples[high].0 <= time {
            high += 1;
        }
        if low > high {
            low = 0;
        }
        while low < high && samples[low].0 <= from {
            low += 1;
        }
        visit(step, &samples[low..high]);
    }
}
