//! The TSDB admin API (`--web.enable-admin-api`), with Prometheus 3's
//! routes, parameters, status codes and error shapes:
//!
//! - `POST|PUT /api/v1/admin/tsdb/delete_series?match[]=..&start=..&end=..`
//!   marks the range deleted (tombstones); 204;
//! - `POST|PUT /api/v1/admin/tsdb/clean_tombstones` rewrites blocks without
//!   their deleted data; 204;
//! - `POST|PUT /api/v1/admin/tsdb/snapshot?skip_head=false` writes
//!   `<data>/snapshots/<name>` and answers `{"name": name}`.
//!
//! Disabled, every route answers 503 `unavailable` "admin APIs disabled".

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::query_api::params::{MAX_TIME_MS, MIN_TIME_MS, Params, parse_time};
use super::query_api::{json, json_response, request_params};
use crate::model::Matcher;
use crate::storage::StorageError;
use crate::storage::admin::AdminStorage;

/// What the admin routes need.
#[derive(Clone)]
pub struct AdminApiState {
    /// The local store the operations act on (the TSDB).
    pub storage: Arc<dyn AdminStorage>,
    /// Whether `--web.enable-admin-api` was given.
    pub enabled: bool,
}

impl AdminApiState {
    /// `Err(Disabled)` unless `--web.enable-admin-api` was given.
    fn ensure_enabled(&self) -> Result<(), AdminApiError> {
        if self.enabled {
            Ok(())
        } else {
            Err(AdminApiError::Disabled)
        }
    }
}

/// Why an admin request failed, with Prometheus's error types.
#[derive(Debug, thiserror::Error)]
pub enum AdminApiError {
    /// The admin API is not enabled.
    #[error("admin APIs disabled")]
    Disabled,
    /// A parameter is missing or malformed.
    #[error("{0}")]
    BadData(String),
    /// The operation failed in the TSDB.
    #[error("{0}")]
    Internal(String),
}

impl AdminApiError {
    /// Prometheus's `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            AdminApiError::Disabled => "unavailable",
            AdminApiError::BadData(_) => "bad_data",
            AdminApiError::Internal(_) => "internal",
        }
    }

    /// The HTTP status Prometheus answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AdminApiError::Disabled => StatusCode::SERVICE_UNAVAILABLE,
            AdminApiError::BadData(_) => StatusCode::BAD_REQUEST,
            AdminApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AdminApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status(),
            json::error(self.error_type(), &self.to_string()),
        )
    }
}

/// The admin routes.
pub fn router(state: AdminApiState) -> Router {
    Router::new()
        .route(
            "/api/v1/admin/tsdb/delete_series",
            post(delete_series).put(delete_series),
        )
        .route(
            "/api/v1/admin/tsdb/clean_tombstones",
            post(clean_tombstones).put(clean_tombstones),
        )
        .route("/api/v1/admin/tsdb/snapshot", post(snapshot).put(snapshot))
        .with_state(state)
}

fn time_param(params: &Params, name: &str, default: i64) -> Result<i64, AdminApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(text) => parse_time(text)
            .map_err(|e| AdminApiError::BadData(format!("invalid parameter \"{name}\": {e}"))),
    }
}

/// Go's `strconv.ParseBool`, which Prometheus uses for `skip_head`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Runs a TSDB operation off the async threads.
async fn blocking<T: Send + 'static>(
    operation: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, AdminApiError> {
    match tokio::task::spawn_blocking(operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(AdminApiError::Internal(error.to_string())),
        Err(join_error) => Err(AdminApiError::Internal(join_error.to_string())),
    }
}

async fn delete_series(
    State(state): State<AdminApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AdminApiError> {
    state.ensure_enabled()?;
    let params = request_params(query, &headers, &body);
    let selectors = params.all("match[]");
    if selectors.is_empty() {
        return Err(AdminApiError::BadData(
            "no match[] parameter provided".to_string(),
        ));
    }
    let start = time_param(&params, "start", MIN_TIME_MS)?;
    let end = time_param(&params, "end", MAX_TIME_MS)?;
    let matcher_sets: Vec<Vec<Matcher>> = selectors
        .into_iter()
        .map(|selector| {
            crate::promql::parse_series_selector(selector)
                .map_err(|e| AdminApiError::BadData(format!("invalid parameter \"match[]\": {e}")))
        })
        .collect::<Result<_, _>>()?;
    let storage = state.storage.clone();
    blocking(move || {
        for matchers in &matcher_sets {
            storage.delete_series(start, end, matchers)?;
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn clean_tombstones(State(state): State<AdminApiState>) -> Result<Response, AdminApiError> {
    state.ensure_enabled()?;
    let storage = state.storage.clone();
    blocking(move || storage.clean_tombstones()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn snapshot(
    State(state): State<AdminApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AdminApiError> {
    state.ensure_enabled()?;
    let params = request_params(query, &headers, &body);
    let skip_head = match params.get("skip_head") {
        None => false,
        Some(text) => parse_go_bool(text).ok_or_else(|| {
            AdminApiError::BadData(format!(
                "unable to parse boolean 'skip_head' argument: strconv.ParseBool: parsing \"{text}\": invalid syntax"
            ))
        })?,
    };
    let storage = state.storage.clone();
    let name = blocking(move || storage.snapshot(skip_head)).await?;
    tracing::info!(name = %name, skip_head, "snapshot created");
    Ok(super::api_success(json!({ "name": name })))
}

#[cfg(test)]
mod tests;
