//! `GET /api/v1/status/cluster`: members, this node's id, ring tokens and
//! how many targets each member owns.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::api_success;

/// Produces the cluster status document (`cluster::status::status_json`).
pub type ClusterStatusProvider = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The route.
pub fn router(provider: ClusterStatusProvider) -> Router {
    Router::new()
        .route("/api/v1/status/cluster", get(status))
        .with_state(provider)
}

async fn status(State(provider): State<ClusterStatusProvider>) -> Response {
    let document = tokio::task::spawn_blocking(move || provider())
        .await
        .unwrap_or_default();
    api_success(document)
}
