//! The engine: options, limits, the query entry points and the shaping of
//! results.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, Expr};

use super::error::QueryError;
use super::eval::{Annotations, Evaluator, Grid, QueryContext};
use super::metrics::{EngineMetrics, Slice};
use super::value::{Evaluated, InstantSample, RangeSeries, StepSeries, Value};
use crate::model::Labels;
use crate::storage::Queryable;

/// Limits and defaults of the engine, as Prometheus's `--query.*` flags.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample
    /// (`--query.lookback-delta`, default 5m).
    pub lookback_delta: Duration,
    /// Longest a query may run (`--query.timeout`, default 2m).
    pub timeout: Duration,
    /// Most samples a query may hold in memory (`--query.max-samples`,
    /// default 50,000,000).
    pub max_samples: usize,
    /// Most queries evaluated at once (`--query.max-concurrency`, default
    /// 20); further queries wait for a slot until their timeout.
    pub max_concurrency: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            max_concurrency: 20,
        }
    }
}

/// The value of a query and the annotations gathered on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The result.
    pub value: Value,
    /// `PromQL warning: ...` messages (and storage warnings).
    pub warnings: Vec<String>,
    /// `PromQL info: ...` messages.
    pub infos: Vec<String>,
}

/// Evaluates PromQL queries against any [`Queryable`]. Shared between
/// threads (wrap it in an `Arc`); every query is independent.
pub struct Engine {
    options: EngineOptions,
    running: Mutex<usize>,
    slot_freed: Condvar,
    metrics: Option<EngineMetrics>,
}

/// Counts a query in `prometheus_engine_queries` while it lives.
struct Counted<'a>(Option<&'a EngineMetrics>);

impl<'a> Counted<'a> {
    fn start(metrics: Option<&'a EngineMetrics>) -> Self {
        if let Some(metrics) = metrics {
            metrics.queries().inc();
        }
        Counted(metrics)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if let Some(metrics) = self.0 {
            metrics.queries().dec();
        }
    }
}

struct ConcurrencySlot<'a> {
    engine: &'a Engine,
}

impl Drop for ConcurrencySlot<'_> {
    fn drop(&mut self) {
        let mut running = self.engine.running.lock();
        *running = running.saturating_sub(1);
        self.engine.slot_freed.notify_one();
    }
}

impl Engine {
    /// An engine with `options`.
    pub fn new(options: EngineOptions) -> Self {
        Engine {
            options,
            running: Mutex::new(0),
            slot_freed: Condvar::new(),
            metrics: None,
        }
    }

    /// An engine with `options` that times every query in `metrics`
    /// (`prometheus_engine_query_duration_seconds`).
    pub fn with_metrics(options: EngineOptions, metrics: EngineMetrics) -> Self {
        Engine {
            metrics: Some(metrics),
            ..Engine::new(options)
        }
    }

    /// How long a query may run: `requested` (the API's `timeout`
    /// parameter) capped by `--query.timeout`, or that flag's value.
    pub fn effective_timeout(&self, requested: Option<Duration>) -> Duration {
        requested.map_or(self.options.timeout, |t| t.min(self.options.timeout))
    }

    fn observe(&self, slice: Slice, since: Instant) {
        if let Some(metrics) = &self.metrics {
            metrics.observe(slice, since.elapsed());
        }
    }

    /// The options the engine was built with.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `query` at `time_ms`.
    pub fn instant_query(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        self.run(queryable, query, time_ms, time_ms, 0, None, None)
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms`; the
    /// result is always a matrix.
    pub fn range_query(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".to_string(),
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::BadData(
                "end timestamp must not be before start time".to_string(),
            ));
        }
        self.run(queryable, query, start_ms, end_ms, step_ms, None, None)
    }

    /// Like [`Engine::instant_query`] (`step_ms == 0`) or
    /// [`Engine::range_query`], stopping with a `canceled` error as soon as
    /// `cancel` becomes true, and with a timeout error after `timeout`
    /// (the API's `timeout` parameter; capped by `--query.timeout`).
    #[allow(clippy::too_many_arguments)]
    pub fn query_with_cancel(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        cancel: &AtomicBool,
        timeout: Option<Duration>,
    ) -> Result<QueryResult, QueryError> {
        self.run(
            queryable,
            query,
            start_ms,
            end_ms,
            step_ms,
            Some(cancel),
            timeout,
        )
    }

    fn acquire_slot(&self, deadline: Instant) -> Result<ConcurrencySlot<'_>, QueryError> {
        let mut running = self.running.lock();
        while *running >= self.options.max_concurrency.max(1) {
            if self
                .slot_freed
                .wait_until(&mut running, deadline)
                .timed_out()
            {
                return Err(QueryError::Timeout("query queue"));
            }
        }
        *running += 1;
        Ok(ConcurrencySlot { engine: self })
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        queryable: &dyn Queryable,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        cancel: Option<&AtomicBool>,
        timeout: Option<Duration>,
    ) -> Result<QueryResult, QueryError> {
        let deadline = Instant::now() + self.effective_timeout(timeout);
        let _counted = Counted::start(self.metrics.as_ref());
        let queued = Instant::now();
        let _slot = self.acquire_slot(deadline)?;
        self.observe(Slice::QueueTime, queued);
        let prepared = Instant::now();
        let expr = parse(query)?;
        let is_range = step_ms > 0;
        if is_range && !matches!(expr.value_type(), ValueType::Vector | ValueType::Scalar) {
            return Err(QueryError::BadData(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_display(expr.value_type())
            )));
        }
        self.observe(Slice::PrepareTime, prepared);
        let context = QueryContext {
            queryable,
            lookback_ms: i64::try_from(self.options.lookback_delta.as_millis())
                .unwrap_or(i64::MAX)
                .max(1),
            deadline,
            max_samples: self.options.max_samples,
            cancel,
            query_start: start_ms,
            query_end: end_ms,
            query_step: step_ms,
            annotations: std::cell::RefCell::new(Annotations::default()),
            samples_loaded: std::cell::Cell::new(0),
        };
        let grid = if is_range {
            Grid::new(start_ms, end_ms, step_ms)
        } else {
            Grid::new(start_ms, start_ms, 1)
        };
        if grid.len > context.max_samples {
            return Err(QueryError::TooManySamples("query execution"));
        }
        let evaluator = Evaluator::new(&context, grid);
        let evaluating = Instant::now();
        // Parsing already succeeded: what fails now is execution.
        let evaluated = evaluator.eval(&expr).map_err(|error| match error {
            QueryError::BadData(message) => QueryError::Execution(message),
            other => other,
        })?;
        self.observe(Slice::InnerEval, evaluating);
        let shaping = Instant::now();
        let value = shape_result(evaluated, grid, is_range)?;
        self.observe(Slice::ResultSort, shaping);
        let annotations = context.annotations.into_inner();
        Ok(QueryResult {
            value,
            warnings: annotations.warnings,
            infos: annotations.infos,
        })
    }
}

/// Parses a query, mapping parser errors to `bad_data`.
/// Deepest nesting of parentheses and brackets a query may have.
const MAX_NESTING_DEPTH: usize = 256;
/// Deepest expression tree a query may have (long operator chains nest
/// too).
const MAX_TREE_DEPTH: usize = 512;
/// Most operator characters a query may have: the parser slows down
/// quadratically on very long operator chains.
const MAX_OPERATOR_CHARACTERS: usize = 2048;
/// Longest query text accepted.
const MAX_QUERY_BYTES: usize = 1 << 20;

/// Rejects texts whose nesting would make parsing or evaluation recurse
/// without bound.
fn check_nesting(query: &str) -> Result<(), QueryError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(QueryError::BadData(format!(
            "query is longer than {MAX_QUERY_BYTES} bytes"
        )));
    }
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in query.chars() {
        if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && open != '`' {
                escaped = true;
            } else if c == open {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING_DEPTH {
                    return Err(QueryError::BadData(format!(
                        "query nests deeper than {MAX_NESTING_DEPTH} levels"
                    )));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '+' | '-' | '*' | '/' | '%' | '^' | '<' | '>' | '=' | '!' => {
                operators += 1;
                if operators > MAX_OPERATOR_CHARACTERS {
                    return Err(QueryError::BadData(format!(
                        "query has more than {MAX_OPERATOR_CHARACTERS} operators"
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The depth of the tree, giving up past `limit`.
fn tree_depth_exceeds(expr: &Expr, limit: usize) -> bool {
    if limit == 0 {
        return true;
    }
    let next = limit - 1;
    match expr {
        Expr::Aggregate(a) => {
            tree_depth_exceeds(&a.expr, next)
                || a.param
                    .as_ref()
                    .is_some_and(|p| tree_depth_exceeds(p, next))
        }
        Expr::Unary(u) => tree_depth_exceeds(&u.expr, next),
        Expr::Binary(b) => tree_depth_exceeds(&b.lhs, next) || tree_depth_exceeds(&b.rhs, next),
        Expr::Paren(p) => tree_depth_exceeds(&p.expr, next),
        Expr::Subquery(s) => tree_depth_exceeds(&s.expr, next),
        Expr::Call(c) => c.args.args.iter().any(|a| tree_depth_exceeds(a, next)),
        _ => false,
    }
}

/// Parses a query, mapping parser errors to `bad_data`.
pub(crate) fn parse(query: &str) -> Result<Expr, QueryError> {
    check_nesting(query)?;
    let expr = parser::parse(query).map_err(QueryError::BadData)?;
    if tree_depth_exceeds(&expr, MAX_TREE_DEPTH) {
        return Err(QueryError::BadData(format!(
            "query expression is nested deeper than {MAX_TREE_DEPTH} levels"
        )));
    }
    Ok(expr)
}

fn type_display(value_type: ValueType) -> &'static str {
    match value_type {
        ValueType::Vector => "instant vector",
        ValueType::Scalar => "scalar",
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
    }
}

/// Applies delayed name removal and rejects duplicate label sets.
fn finish_series(series: Vec<StepSeries>) -> Result<Vec<StepSeries>, QueryError> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut output: Vec<StepSeries> = Vec::with_capacity(series.len());
    for mut one in series {
        if one.drop_name {
            one.labels = one.labels.without_metric_name();
        }
        match index.get(&one.labels) {
            Some(&existing) => {
                for (target, value) in output[existing].values.iter_mut().zip(one.values) {
                    if value.is_some() {
                        if target.is_some() {
                            return Err(QueryError::Execution(
                                "vector cannot contain metrics with the same labelset".to_string(),
                            ));
                        }
                        *target = value;
                    }
                }
            }
            None => {
                index.insert(one.labels.clone(), output.len());
                output.push(one);
            }
        }
    }
    Ok(output)
}

fn shape_result(evaluated: Evaluated, grid: Grid, is_range: bool) -> Result<Value, QueryError> {
    let time = grid.start;
    if !is_range {
        return Ok(match evaluated {
            Evaluated::Scalar(values) => Value::Scalar {
                t: time,
                v: values.first().copied().unwrap_or(f64::NAN),
            },
            Evaluated::String(v) => Value::String { t: time, v },
            Evaluated::Vector(series) => Value::Vector(
                finish_series(series)?
                    .into_iter()
                    .filter_map(|s| {
                        s.values.first().copied().flatten().map(|v| InstantSample {
                            labels: s.labels,
                            t: time,
                            v,
                        })
                    })
                    .collect(),
            ),
            Evaluated::Matrix(series) => {
                let mut output: Vec<RangeSeries> = series
                    .into_iter()
                    .map(|s| RangeSeries {
                        labels: if s.drop_name {
                            s.labels.without_metric_name()
                        } else {
                            s.labels
                        },
                        points: s.samples,
                    })
                    .collect();
                output.sort_by(|a, b| a.labels.cmp(&b.labels));
                Value::Matrix(output)
            }
        });
    }
    let series = match evaluated {
        Evaluated::Scalar(values) => vec![StepSeries {
            labels: Labels::empty(),
            values: values.into_iter().map(Some).collect(),
            drop_name: false,
        }],
        Evaluated::Vector(series) => finish_series(series)?,
        _ => {
            return Err(QueryError::BadData(
                "invalid expression type for range query, must be Scalar or instant Vector"
                    .to_string(),
            ));
        }
    };
    let mut output: Vec<RangeSeries> = series
        .into_iter()
        .map(|s| RangeSeries {
            points: s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (grid.time(i), v)))
                .collect(),
            labels: s.labels,
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    output.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(Value::Matrix(output))
}
