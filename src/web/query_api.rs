//! The query half of the Prometheus HTTP API: `/api/v1/query`,
//! `query_range`, `series`, `labels`, `label/{name}/values`,
//! `query_exemplars`, `format_query`, `parse_query`, `status/tsdb`, and
//! `/federate`. Shapes, error types and status codes follow Prometheus 3.

mod federate;
pub mod json;
pub mod params;
mod tsdb_status;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::model::{Labels, Matcher};
use crate::promql::{Engine, QueryError};
use crate::storage::{Queryable, SelectHints};
use params::{MAX_TIME_MS, MIN_TIME_MS, Params, parse_duration, parse_time};

/// Gives the JSON of `/api/v1/status/tsdb` (`data` only) for a `limit`.
pub type TsdbStatsProvider = Arc<dyn Fn(usize) -> serde_json::Value + Send + Sync>;

/// Stack of the thread each query is evaluated on.
const QUERY_THREAD_STACK_BYTES: usize = 64 << 20;

/// Most points a range query may return per series (Prometheus: 11,000).
const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// What the query API needs.
#[derive(Clone)]
pub struct QueryApiState {
    /// Where data is read from (the local TSDB or the fan-out querier).
    pub queryable: Arc<dyn Queryable>,
    /// The PromQL engine.
    pub engine: Arc<Engine>,
    /// The lookback delta, used by `/federate` to pick each series' newest
    /// sample.
    pub lookback_delta: Duration,
    /// Cardinality statistics for `/api/v1/status/tsdb`; without it the
    /// API computes them from the queryable.
    pub tsdb_stats: Option<TsdbStatsProvider>,
    /// `global.external_labels`, added by `/federate` to series lacking them.
    pub external_labels: Labels,
    /// What `?local=true` answers from: this node's own store, without the
    /// cluster's peers. `None`: the same as `queryable`.
    pub local_queryable: Option<Arc<dyn Queryable>>,
    /// One permit per query the engine may run at once
    /// (`--query.max-concurrency`): a query waits for one before its
    /// thread is started, so waiting queries hold no thread.
    slots: Arc<tokio::sync::Semaphore>,
}

impl QueryApiState {
    /// A state with no TSDB stats provider and no external labels.
    pub fn new(queryable: Arc<dyn Queryable>, engine: Arc<Engine>) -> Self {
        let lookback_delta = engine.options().lookback_delta;
        QueryApiState {
            queryable,
            engine: engine.clone(),
            lookback_delta,
            tsdb_stats: None,
            external_labels: Labels::empty(),
            local_queryable: None,
            slots: Arc::new(tokio::sync::Semaphore::new(engine_concurrency(&engine))),
        }
    }

    /// The store a request reads: the local one for `?local=true`.
    fn queryable_for(&self, params: &Params) -> Result<Arc<dyn Queryable>, ApiError> {
        let local = wants_local(params).map_err(|e| ApiError::invalid_parameter("local", e))?;
        Ok(match (&self.local_queryable, local) {
            (Some(local_queryable), true) => local_queryable.clone(),
            _ => self.queryable.clone(),
        })
    }
}

/// Whether a request asks for this node's own shard only (`local=true`);
/// `true`/`1` and `false`/`0` are accepted.
pub fn wants_local(params: &Params) -> Result<bool, String> {
    match params.get("local") {
        None => Ok(false),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => Err(format!("cannot parse {other:?} to a boolean")),
    }
}

/// The routes of the query API, GET and POST where Prometheus allows both.
pub fn router(state: QueryApiState) -> Router {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route(
            "/api/v1/query_exemplars",
            get(query_exemplars).post(query_exemplars),
        )
        .route("/api/v1/format_query", get(format_query).post(format_query))
        .route("/api/v1/parse_query", get(parse_query).post(parse_query))
        .route("/api/v1/status/tsdb", get(tsdb_status))
        .route("/federate", get(federate::federate))
        .with_state(state)
}

/// An API failure: the Prometheus error type and message.
#[derive(Debug)]
pub struct ApiError {
    error_type: &'static str,
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_data(message: String) -> Self {
        ApiError {
            error_type: "bad_data",
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }

    fn invalid_parameter(name: &str, message: impl std::fmt::Display) -> Self {
        Self::bad_data(format!("invalid parameter \"{name}\": {message}"))
    }

    fn internal(message: String) -> Self {
        ApiError {
            error_type: "internal",
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message,
        }
    }

    fn from_query(error: QueryError) -> Self {
        ApiError {
            error_type: error.error_type(),
            status: StatusCode::from_u16(error.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: error.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, json::error(self.error_type, &self.message))
    }
}

/// A JSON body with `status`.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A request's parameters: the query string, plus the body when it is a
/// form (Prometheus accepts both on POST).
pub(crate) fn request_params(query: Option<String>, headers: &HeaderMap, body: &Bytes) -> Params {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    Params::from_parts(
        query.as_deref(),
        if is_form { Some(body.as_ref()) } else { None },
    )
}

fn engine_concurrency(engine: &Engine) -> usize {
    engine.options().max_concurrency.max(1)
}

/// Sets the flag when dropped: a client that goes away cancels its query.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

async fn run_query(
    state: &QueryApiState,
    queryable: Arc<dyn Queryable>,
    query: String,
    start: i64,
    end: i64,
    step: i64,
    timeout: Option<Duration>,
) -> Result<crate::promql::QueryResult, ApiError> {
    let limit = state.engine.effective_timeout(timeout);
    let started = std::time::Instant::now();
    let permit = match tokio::time::timeout(limit, state.slots.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) => return Err(ApiError::internal("the query queue is closed".to_string())),
        Err(_) => return Err(ApiError::from_query(QueryError::Timeout("query queue"))),
    };
    let timeout = Some(limit.saturating_sub(started.elapsed()));
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    let engine = state.engine.clone();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    // Each query runs on its own thread with a large stack, so that deep
    // expressions cannot overflow it; a panic is caught here as a last
    // resort and becomes an internal error instead of taking the node down.
    let spawned = std::thread::Builder::new()
        .name("promql-query".to_string())
        .stack_size(QUERY_THREAD_STACK_BYTES)
        .spawn(move || {
            let _permit = permit;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                engine.query_with_cancel(
                    queryable.as_ref(),
                    &query,
                    start,
                    end,
                    step,
                    &cancel,
                    timeout,
                )
            }));
            let _ = sender.send(outcome);
        });
    if let Err(error) = spawned {
        return Err(ApiError::internal(format!(
            "cannot start query thread: {error}"
        )));
    }
    match receiver.await {
        Ok(Ok(Ok(result))) => Ok(result),
        Ok(Ok(Err(QueryError::BadData(message)))) => {
            Err(ApiError::invalid_parameter("query", message))
        }
        Ok(Ok(Err(error))) => Err(ApiError::from_query(error)),
        Ok(Err(_panic)) => {
            tracing::error!(
                query_start = start,
                query_end = end,
                "query evaluation panicked"
            );
            Err(ApiError::internal("query evaluation failed".to_string()))
        }
        Err(_) => Err(ApiError::internal(
            "query thread ended without an answer".to_string(),
        )),
    }
}

fn now_ms() -> i64 {
    crate::model::sample::now_millis()
}

fn time_param(params: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(text) => parse_time(text).map_err(|e| ApiError::invalid_parameter(name, e)),
    }
}

/// A parameter that must be present: a missing or empty one is reported as
/// Prometheus does (`cannot parse "" to a valid <kind>`).
fn required_param<T>(
    params: &Params,
    name: &str,
    parse: fn(&str) -> Result<T, String>,
    kind: &str,
) -> Result<T, ApiError> {
    let text = params.get(name).unwrap_or("");
    if text.is_empty() {
        return Err(ApiError::invalid_parameter(
            name,
            format!("cannot parse \"\" to a valid {kind}"),
        ));
    }
    parse(text).map_err(|e| ApiError::invalid_parameter(name, e))
}

fn limit_param(params: &Params) -> Result<usize, ApiError> {
    match params.get("limit") {
        None => Ok(0),
        Some(text) => match text.parse::<i64>() {
            Ok(limit) if limit >= 0 => Ok(limit as usize),
            _ => Err(ApiError::bad_data("limit must be non-negative".to_string())),
        },
    }
}

/// The `timeout` parameter: how long this query may take, capped by
/// `--query.timeout`.
fn timeout_param(params: &Params) -> Result<Option<Duration>, ApiError> {
    match params.get("timeout") {
        None => Ok(None),
        Some(text) => parse_duration(text)
            .map(|ms| Some(Duration::from_millis(ms.max(0) as u64)))
            .map_err(|e| ApiError::invalid_parameter("timeout", e)),
    }
}

async fn query(
    State(state): State<QueryApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = request_params(raw, &headers, &body);
    let Some(query) = params.get("query").map(str::to_string) else {
        return Err(ApiError::invalid_parameter(
            "query",
            "parse error: no expression found in input",
        ));
    };
    let time = time_param(&params, "time", now_ms())?;
    let timeout = timeout_param(&params)?;
    let limit = limit_param(&params)?;
    let queryable = state.queryable_for(&params)?;
    let mut result = run_query(&state, queryable, query, time, time, 0, timeout).await?;
    if limit > 0 {
        truncate_result(&mut result, limit);
    }
    Ok(json_response(StatusCode::OK, json::query_result(&result)))
}

fn truncate_result(result: &mut crate::promql::QueryResult, limit: usize) {
    let truncated = match &mut result.value {
        crate::promql::Value::Vector(samples) if samples.len() > limit => {
            samples.truncate(limit);
            true
        }
        crate::promql::Value::Matrix(series) if series.len() > limit => {
            series.truncate(limit);
            true
        }
        _ => false,
    };
    if truncated {
        result
            .warnings
            .push("results truncated due to limit".to_string());
    }
}

async fn query_range(
    State(state): State<QueryApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = request_params(raw, &headers, &body);
    let start = required_param(&params, "start", parse_time, "timestamp")?;
    let end = required_param(&params, "end", parse_time, "timestamp")?;
    if end < start {
        return Err(ApiError::invalid_parameter(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step = required_param(&params, "step", parse_duration, "duration")?;
    if step <= 0 {
        return Err(ApiError::invalid_parameter(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step >= MAX_POINTS_PER_SERIES {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".to_string(),
        ));
    }
    let timeout = timeout_param(&params)?;
    let limit = limit_param(&params)?;
    let Some(query) = params.get("query").map(str::to_string) else {
        return Err(ApiError::invalid_parameter(
            "query",
            "parse error: no expression found in input",
        ));
    };
    let queryable = state.queryable_for(&params)?;
    let mut result = run_query(&state, queryable, query, start, end, step, timeout).await?;
    if limit > 0 {
        truncate_result(&mut result, limit);
    }
    Ok(json_response(StatusCode::OK, json::query_result(&result)))
}

fn parse_matchers(params: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    params
        .all("match[]")
        .into_iter()
        .map(|selector| {
            crate::promql::parse_series_selector(selector)
                .map_err(|e| ApiError::invalid_parameter("match[]", e))
        })
        .collect()
}

fn time_range(params: &Params) -> Result<(i64, i64), ApiError> {
    let start = time_param(params, "start", MIN_TIME_MS)?;
    let end = time_param(params, "end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::invalid_parameter(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    Ok((start, end))
}

fn storage_error(error: crate::storage::StorageError) -> ApiError {
    ApiError {
        error_type: "execution",
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: error.to_string(),
    }
}

fn string_list_json(values: &[String]) -> String {
    let mut out = String::from("[");
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        json::push_string(&mut out, value);
    }
    out.push(']');
    out
}

fn apply_limit(values: &mut Vec<String>, limit: usize, warnings: &mut Vec<String>) {
    if limit > 0 && values.len() > limit {
        values.truncate(limit);
        warnings.push("results truncated due to limit".to_string());
    }
}

async fn series(
    State(state): State<QueryApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = request_params(raw, &headers, &body);
    let selectors = parse_matchers(&params)?;
    if selectors.is_empty() {
        return Err(ApiError::bad_data(
            "no match[] parameter provided".to_string(),
        ));
    }
    let (start, end) = time_range(&params)?;
    let limit = limit_param(&params)?;
    let queryable = state.queryable_for(&params)?;
    let task = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let querier = queryable.querier(start, end).map_err(storage_error)?;
        let hints = SelectHints {
            start,
            end,
            func: Some("series".to_string()),
            ..SelectHints::default()
        };
        let mut found: BTreeSet<Labels> = BTreeSet::new();
        let mut warnings = Vec::new();
        for matchers in &selectors {
            let mut set = querier.select(true, Some(&hints), matchers);
            while let Some(one) = set.next() {
                found.insert(one.labels().clone());
            }
            if let Some(error) = set.err() {
                return Err(storage_error(error));
            }
            warnings.extend(set.warnings());
        }
        Ok((found, warnings))
    });
    let (found, mut warnings) = task
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let mut out = String::from("[");
    for (index, labels) in found.iter().enumerate() {
        if limit > 0 && index >= limit {
            warnings.push("results truncated due to limit".to_string());
            break;
        }
        if index > 0 {
            out.push(',');
        }
        json::push_labels(&mut out, labels);
    }
    out.push(']');
    Ok(json_response(
        StatusCode::OK,
        json::success(&out, &warnings),
    ))
}

async fn labels(
    State(state): State<QueryApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = request_params(raw, &headers, &body);
    let selectors = parse_matchers(&params)?;
    let (start, end) = time_range(&params)?;
    let limit = limit_param(&params)?;
    let queryable = state.queryable_for(&params)?;
    let task = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let querier = queryable.querier(start, end).map_err(storage_error)?;
        let mut names = BTreeSet::new();
        if selectors.is_empty() {
            names.extend(querier.label_names(&[]).map_err(storage_error)?);
        }
        for matchers in &selectors {
            names.extend(querier.label_names(matchers).map_err(storage_error)?);
        }
        Ok((names.into_iter().collect(), querier.label_warnings()))
    });
    let (mut names, mut warnings) = task
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    apply_limit(&mut names, limit, &mut warnings);
    Ok(json_response(
        StatusCode::OK,
        json::success(&string_list_json(&names), &warnings),
    ))
}

async fn label_values(
    State(state): State<QueryApiState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = request_params(raw, &headers, &body);
    // Prometheus 3 accepts UTF-8 names, escaped as `U__` when not legacy.
    let name = decode_label_name(&name);
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let selectors = parse_matchers(&params)?;
    let (start, end) = time_range(&params)?;
    let limit = limit_param(&params)?;
    let queryable = state.queryable_for(&params)?;
    let task = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let querier = queryable.querier(start, end).map_err(storage_error)?;
        let mut values = BTreeSet::new();
        if selectors.is_empty() {
            values.extend(querier.label_values(&name, &[]).map_err(storage_error)?);
        }
        for matchers in &selectors {
            values.extend(
                querier
                    .label_values(&name, matchers)
                    .map_err(storage_error)?,
            );
        }
        Ok((values.into_iter().collect(), querier.label_warnings()))
    });
    let (mut values, mut warnings) = task
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    apply_limit(&mut values, limit, &mut warnings);
    Ok(json_response(
        StatusCode::OK,
        json::success(&string_list_json(&values), &warnings),
    ))
}

/// Undoes Prometheus's `U__` escaping of UTF-8 label names in URL paths
/// (`U__` prefix, `_` for `_`... `_2e_` for `.`).
fn decode_label_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let mut hex = String::new();
        while let Some(&next) = chars.peek() {
            chars.next();
            if next == '_' {
                break;
            }
            hex.push(next);
        }
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(decoded) => out.push(decoded),
            None => return name.to_string(),
        }
    }
    out
}

async fn query_exemplars(
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = request_params(raw, &headers, &body);
    if let Some(query) = params.get("query") {
        crate::promql::format_query(query).map_err(|e| ApiError::invalid_parameter("query", e))?;
    }
    Ok(json_response(StatusCode::OK, json::success("[]", &[])))
}

async fn format_query(
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = request_params(raw, &headers, &body);
    let query = params.get("query").unwrap_or_default();
    let formatted =
        crate::promql::format_query(query).map_err(|e| ApiError::invalid_parameter("query", e))?;
    let mut data = String::new();
    json::push_string(&mut data, &formatted);
    Ok(json_response(StatusCode::OK, json::success(&data, &[])))
}

async fn parse_query(
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = request_params(raw, &headers, &body);
    let query = params.get("query").unwrap_or_default();
    let tree = crate::promql::parse_query_json(query)
        .map_err(|e| ApiError::invalid_parameter("query", e))?;
    Ok(json_response(
        StatusCode::OK,
        json::success(&tree.to_string(), &[]),
    ))
}

async fn tsdb_status(
    State(state): State<QueryApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::from_parts(raw.as_deref(), None);
    let limit = match params.get("limit") {
        None => 10,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if limit > 0 => limit,
            _ => {
                return Err(ApiError::bad_data(
                    "limit must be a positive number".to_string(),
                ));
            }
        },
    };
    let data = match &state.tsdb_stats {
        Some(provider) => provider(limit),
        None => {
            let queryable = state.queryable.clone();
            tokio::task::spawn_blocking(move || {
                tsdb_status::cardinality_stats(queryable.as_ref(), limit)
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(storage_error)?
        }
    };
    Ok(json_response(
        StatusCode::OK,
        json::success(&data.to_string(), &[]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(max_concurrency: usize) -> QueryApiState {
        let engine = Arc::new(Engine::new(crate::promql::EngineOptions {
            max_concurrency,
            ..Default::default()
        }));
        QueryApiState::new(Arc::new(crate::storage::memory::MemStorage::new()), engine)
    }

    async fn get(state: &QueryApiState, uri: &str) -> (StatusCode, serde_json::Value) {
        crate::web::testing::call_json(&router(state.clone()), "GET", uri).await
    }

    #[tokio::test]
    async fn a_query_waits_for_a_slot_no_longer_than_its_timeout_parameter() {
        let state = state(1);
        // The only slot is taken (a long query running).
        let _running = state.slots.clone().acquire_owned().await.unwrap();
        let started = std::time::Instant::now();
        let (status, body) = get(&state, "/api/v1/query?query=1&timeout=200ms").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["errorType"], "timeout");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "gave up after the timeout parameter, not --query.timeout (2m)"
        );
        // Once the slot is free the same query answers.
        drop(_running);
        let (status, body) = get(&state, "/api/v1/query?query=1&timeout=200ms").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    #[tokio::test]
    async fn a_bad_timeout_parameter_is_refused() {
        let (status, body) = get(&state(1), "/api/v1/query?query=1&timeout=soon").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["errorType"], "bad_data");
    }
}
