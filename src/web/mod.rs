//! The HTTP API and UI: lifecycle (`/-/healthy`, `/-/ready`, `/-/reload`,
//! `/-/quit`), status endpoints, the node's own `/metrics`, a small UI, and
//! the routers of the query and targets APIs merged in.
//!
//! Handlers here only read: reload and quit are requests that `main`
//! carries out through [`Lifecycle`].

pub mod admin_api;
pub mod alertmanager_api;
pub mod auth;
pub mod cluster_api;
pub mod query_api;
pub mod remote_api;
pub mod rules_api;
pub mod serving;
mod status_reload;
pub mod targets_api;
mod ui;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use parking_lot::RwLock;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

/// The version of Prometheus whose behaviour promshard implements.
pub const PROMETHEUS_COMPAT_VERSION: &str = "3.0.0";

/// A request to reload the configuration, answered with the outcome.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// How handlers ask `main` to reload or quit.
#[derive(Clone)]
pub struct Lifecycle {
    /// Whether `--web.enable-lifecycle` was given.
    pub enabled: bool,
    /// Carries reload requests to the reload loop.
    pub reload: mpsc::Sender<ReloadRequest>,
    /// Cancelled to shut the process down.
    pub quit: tokio_util::sync::CancellationToken,
}

/// What the status endpoints show; updated by `main` on reload.
pub struct StatusInfo {
    /// The YAML of the running configuration.
    pub config_yaml: RwLock<String>,
    /// Every command-line flag and its value.
    pub flags: BTreeMap<String, String>,
    /// When the process started (RFC 3339).
    pub start_time: String,
    /// Whether the last reload succeeded.
    pub reload_success: AtomicBool,
    /// When the configuration was last loaded (RFC 3339).
    pub last_config_time: RwLock<String>,
    /// The retention setting, for `runtimeinfo`.
    pub storage_retention: String,
    /// Whether the node has finished starting (WAL replayed, API up).
    pub ready: AtomicBool,
}

/// Everything the router needs.
#[derive(Clone)]
pub struct WebState {
    /// Status information.
    pub status: Arc<StatusInfo>,
    /// Reload and quit.
    pub lifecycle: Lifecycle,
    /// The registry served on `/metrics`.
    pub registry: prometheus::Registry,
    /// The UI pages' title (`--web.page-title`).
    pub page_title: String,
    /// Which origins the API answers with CORS headers (`--web.cors.origin`).
    pub cors_origin: serving::CorsOrigin,
}

/// The full router: this module's routes plus `extra` routers (the query
/// API, the targets API, the remote-write receiver...).
///
/// Every route is counted in `prometheus_http_requests_total` and timed in
/// `prometheus_http_request_duration_seconds` (registered on the state's
/// registry), and `/api/` answers CORS as `--web.cors.origin` says.
pub fn router(state: WebState, extra: Vec<Router>) -> Result<Router, prometheus::Error> {
    let http_metrics = serving::HttpMetrics::register(&state.registry)?;
    let cors_origin = state.cors_origin.clone();
    let page_title = state.page_title.clone();
    let own = Router::new()
        .route("/-/healthy", get(healthy).head(healthy))
        .route("/-/ready", get(ready).head(ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/-/quit", post(quit).put(quit))
        .route("/metrics", get(metrics))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/status/config", get(status_config))
        .route("/api/v1/status/flags", get(status_flags))
        .route("/api/v1/status/runtimeinfo", get(runtimeinfo))
        .with_state(state);
    let mut app = own.merge(ui::router(&page_title));
    for router in extra {
        app = app.merge(router);
    }
    Ok(app
        .route_layer(axum::middleware::from_fn_with_state(
            http_metrics,
            serving::measure,
        ))
        .layer(axum::middleware::from_fn_with_state(
            cors_origin,
            serving::cors,
        ))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true)))
}

/// `{"status":"success","data":...}`, the envelope of every API answer.
pub fn api_success(data: serde_json::Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

async fn healthy() -> &'static str {
    "Prometheus Server is Healthy.\n"
}

async fn ready(State(state): State<WebState>) -> Response {
    if state.status.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "Prometheus Server is Ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response()
    }
}

async fn reload(State(state): State<WebState>) -> Response {
    if !state.lifecycle.enabled {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n").into_response();
    }
    let (answer, outcome) = oneshot::channel();
    if state.lifecycle.reload.send(answer).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match outcome.await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(message)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {message}\n"),
        )
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

async fn quit(State(state): State<WebState>) -> Response {
    if !state.lifecycle.enabled {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n").into_response();
    }
    state.lifecycle.quit.cancel();
    (StatusCode::OK, "Requesting termination... Goodbye!\n").into_response()
}

async fn metrics(State(state): State<WebState>) -> Response {
    let families = state.registry.gather();
    let mut body = String::new();
    if let Err(error) = prometheus::TextEncoder::new().encode_utf8(&families, &mut body) {
        return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn buildinfo() -> Response {
    // `features` stays empty: Grafana treats a server with features as Mimir.
    api_success(json!({
        "version": format!("{PROMETHEUS_COMPAT_VERSION}+promshard.{}", env!("CARGO_PKG_VERSION")),
        "revision": option_env!("PROMSHARD_GIT_REVISION").unwrap_or("unknown"),
        "branch": "main",
        "buildUser": "promshard",
        "buildDate": "unknown",
        "goVersion": "rust",
        "features": {},
    }))
}

async fn status_config(State(state): State<WebState>) -> Response {
    api_success(json!({"yaml": *state.status.config_yaml.read()}))
}

async fn status_flags(State(state): State<WebState>) -> Response {
    api_success(json!(state.status.flags))
}

async fn runtimeinfo(State(state): State<WebState>) -> Response {
    let status = &state.status;
    api_success(json!({
        "startTime": status.start_time,
        "CWD": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
        "reloadConfigSuccess": status.reload_success.load(Ordering::Relaxed),
        "lastConfigTime": *status.last_config_time.read(),
        "corruptionCount": 0,
        "goroutineCount": 0,
        "GOMAXPROCS": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "GOMEMLIMIT": 0,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": status.storage_retention,
    }))
}

/// Helpers for the API tests of this module's routers.
#[cfg(test)]
pub(crate) mod testing {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    /// Sends `method uri` with no body to `app`: the status and the body
    /// as JSON (`Null` when it is not JSON).
    pub(crate) async fn call_json(
        app: &Router,
        method: &str,
        uri: &str,
    ) -> (StatusCode, serde_json::Value) {
        let response = app
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn state(enabled: bool) -> (WebState, mpsc::Receiver<ReloadRequest>) {
        let (tx, rx) = mpsc::channel(1);
        let status = StatusInfo {
            config_yaml: RwLock::new("global: {}\n".into()),
            flags: BTreeMap::from([("config.file".to_string(), "x.yml".to_string())]),
            start_time: "2026-01-01T00:00:00Z".into(),
            reload_success: AtomicBool::new(true),
            last_config_time: RwLock::new("2026-01-01T00:00:00Z".into()),
            storage_retention: "15d".into(),
            ready: AtomicBool::new(true),
        };
        let state = WebState {
            status: Arc::new(status),
            lifecycle: Lifecycle {
                enabled,
                reload: tx,
                quit: tokio_util::sync::CancellationToken::new(),
            },
            registry: prometheus::Registry::new(),
            page_title: "Prometheus Time Series Collection and Processing Server".into(),
            cors_origin: serving::CorsOrigin::new(".*").unwrap(),
        };
        (state, rx)
    }

    async fn call(app: Router, method: &str, uri: &str) -> (StatusCode, String) {
        let response = app
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn reload_needs_lifecycle_flag() {
        let (state, _rx) = state(false);
        let (status, body) = call(router(state, vec![]).unwrap(), "POST", "/-/reload").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("Lifecycle API is not enabled"));
    }

    #[tokio::test]
    async fn reload_reports_failure_from_main() {
        let (state, mut rx) = state(true);
        tokio::spawn(async move {
            if let Some(answer) = rx.recv().await {
                let _ = answer.send(Err("config.yml:3: field x: bad".into()));
            }
        });
        let (status, body) = call(router(state, vec![]).unwrap(), "POST", "/-/reload").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("config.yml:3"), "{body}");
    }

    #[tokio::test]
    async fn buildinfo_has_empty_features() {
        let (state, _rx) = state(false);
        let (status, body) = call(
            router(state, vec![]).unwrap(),
            "GET",
            "/api/v1/status/buildinfo",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["status"], "success");
        assert_eq!(value["data"]["features"], json!({}));
        assert!(value["data"]["version"].as_str().unwrap().starts_with("3."));
    }

    #[tokio::test]
    async fn status_config_and_flags_shapes() {
        let (state, _rx) = state(false);
        let app = router(state, vec![]).unwrap();
        let (_, body) = call(app.clone(), "GET", "/api/v1/status/config").await;
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            json!({"status":"success","data":{"yaml":"global: {}\n"}})
        );
        let (_, body) = call(app, "GET", "/api/v1/status/flags").await;
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            json!({"status":"success","data":{"config.file":"x.yml"}})
        );
    }

    #[tokio::test]
    async fn health_and_readiness() {
        let (state, _rx) = state(false);
        state.status.ready.store(false, Ordering::Relaxed);
        let app = router(state.clone(), vec![]).unwrap();
        assert_eq!(
            call(app.clone(), "GET", "/-/healthy").await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(app.clone(), "GET", "/-/ready").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        state.status.ready.store(true, Ordering::Relaxed);
        assert_eq!(call(app, "GET", "/-/ready").await.0, StatusCode::OK);
    }
}
