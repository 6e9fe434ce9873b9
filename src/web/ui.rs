//! A small built-in UI: a query page (table and a simple line graph), the
//! targets page and the status pages, all reading the HTTP API from the
//! browser. One static page; no build step.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("ui/index.html");

/// Routes for the UI pages.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/query") }))
        .route("/graph", get(|| async { Redirect::to("/query") }))
        .route("/query", get(page))
        .route("/targets", get(page))
        .route("/alerts", get(page))
        .route("/rules", get(page))
        .route("/status", get(page))
        .route("/config", get(page))
        .route("/flags", get(page))
}

async fn page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response()
}
