//! A small built-in UI: a query page (table and a simple line graph), the
//! targets page and the status pages, all reading the HTTP API from the
//! browser. One static page; no build step.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("ui/index.html");

/// Routes for the UI pages, titled `title` (`--web.page-title`).
pub fn router(title: &str) -> Router {
    let escaped = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let html: Arc<str> = INDEX_HTML
        .replace(
            "<title>promshard</title>",
            &format!("<title>{escaped}</title>"),
        )
        .into();
    let page = move || {
        let html = html.clone();
        async move {
            (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html.to_string(),
            )
                .into_response()
        }
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/query") }))
        .route("/graph", get(|| async { Redirect::to("/query") }))
        .route("/query", get(page.clone()))
        .route("/targets", get(page.clone()))
        .route("/alerts", get(page.clone()))
        .route("/rules", get(page.clone()))
        .route("/status", get(page.clone()))
        .route("/config", get(page.clone()))
        .route("/flags", get(page))
}
