//! `POST /api/v1/write` (the remote-write receiver, when
//! `--web.enable-remote-write-receiver` is given) and `POST /api/v1/read`
//! (remote read, samples response type), with Prometheus's status codes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::remote::proto::{ReadRequest, ResponseType, WriteRequest};
use crate::remote::{codec, read, receiver};
use crate::storage::{Appendable, Queryable};

/// The largest compressed body accepted.
const MAX_BODY: usize = 64 << 20;

/// Shared state of the remote endpoints.
#[derive(Clone)]
pub struct RemoteApiState {
    /// Where pushed samples go; `None` when the receiver is not enabled.
    pub receiver: Option<Arc<dyn Appendable>>,
    /// What remote read answers from.
    pub queryable: Arc<dyn Queryable>,
    /// What remote read answers from with `?local=true`: this node's own
    /// store (cluster peers ask for it, so that a read never recurses).
    /// `None`: the same as `queryable`.
    pub local_queryable: Option<Arc<dyn Queryable>>,
    /// Most samples one read may return (0 = no limit); Prometheus's
    /// `--storage.remote.read-sample-limit` defaults to 5e7.
    pub read_sample_limit: usize,
    /// At most this many reads are served at once; others wait their turn
    /// (`--storage.remote.read-concurrent-limit`; `None`: no limit).
    pub read_concurrency: Option<Arc<tokio::sync::Semaphore>>,
}

/// Routes for `/api/v1/write` and `/api/v1/read`.
pub fn router(state: RemoteApiState) -> Router {
    Router::new()
        .route("/api/v1/write", post(write))
        .route("/api/v1/read", post(read_handler))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message + "\n",
    )
        .into_response()
}

async fn write(State(state): State<RemoteApiState>, body: Bytes) -> Response {
    let Some(appendable) = state.receiver.clone() else {
        return text(
            StatusCode::NOT_FOUND,
            "remote write receiver needs to be enabled with --web.enable-remote-write-receiver"
                .into(),
        );
    };
    let request: WriteRequest = match codec::decode(&body) {
        Ok(request) => request,
        Err(error) => {
            tracing::warn!(err = %error, "remote write: malformed request");
            return text(StatusCode::BAD_REQUEST, error.to_string());
        }
    };
    let outcome =
        tokio::task::spawn_blocking(move || receiver::receive(appendable.as_ref(), &request)).await;
    match outcome {
        Ok(Ok(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(error)) => {
            let status = StatusCode::from_u16(error.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            text(status, error.to_string())
        }
        Err(join_error) => text(StatusCode::INTERNAL_SERVER_ERROR, join_error.to_string()),
    }
}

async fn read_handler(
    State(state): State<RemoteApiState>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let request: ReadRequest = match codec::decode(&body) {
        Ok(request) => request,
        Err(error) => return text(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let wants_samples = request.accepted_response_types.is_empty()
        || request
            .accepted_response_types
            .contains(&(ResponseType::Samples as i32));
    if !wants_samples {
        return text(
            StatusCode::BAD_REQUEST,
            "server does not support any of the requested response types; only SAMPLES is served"
                .into(),
        );
    }
    let params = super::query_api::params::Params::from_parts(raw.as_deref(), None);
    let local = match super::query_api::wants_local(&params) {
        Ok(local) => local,
        Err(error) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("invalid parameter \"local\": {error}"),
            );
        }
    };
    let queryable = match (&state.local_queryable, local) {
        (Some(local_queryable), true) => local_queryable.clone(),
        _ => state.queryable.clone(),
    };
    let limit = state.read_sample_limit;
    let _permit = match &state.read_concurrency {
        Some(gate) => match gate.clone().acquire_owned().await {
            Ok(permit) => Some(permit),
            Err(_) => return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down".into()),
        },
        None => None,
    };
    let outcome =
        tokio::task::spawn_blocking(move || read::serve(queryable.as_ref(), &request, limit)).await;
    match outcome {
        Ok(Ok(response)) => (
            [
                (header::CONTENT_TYPE, "application/x-protobuf"),
                (header::CONTENT_ENCODING, "snappy"),
            ],
            codec::encode(&response),
        )
            .into_response(),
        Ok(Err(error)) => {
            let status = StatusCode::from_u16(error.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            text(status, error.to_string())
        }
        Err(join_error) => text(StatusCode::INTERNAL_SERVER_ERROR, join_error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::remote::proto::{Label, Query, ReadResponse, Sample, TimeSeries};
    use crate::storage::memory::MemStorage;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn app(store: &MemStorage, receiver: bool) -> Router {
        router(RemoteApiState {
            receiver: receiver.then(|| Arc::new(store.clone()) as Arc<dyn Appendable>),
            queryable: Arc::new(store.clone()),
            local_queryable: None,
            read_sample_limit: 0,
            read_concurrency: None,
        })
    }

    async fn post(app: Router, uri: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let response = app
            .oneshot(Request::post(uri).body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        (
            status,
            axum::body::to_bytes(response.into_body(), 1 << 24)
                .await
                .unwrap()
                .to_vec(),
        )
    }

    fn one_series(name: &str, samples: &[(i64, f64)]) -> WriteRequest {
        WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: name.into(),
                }],
                samples: samples
                    .iter()
                    .map(|&(timestamp, value)| Sample { value, timestamp })
                    .collect(),
                ..Default::default()
            }],
            metadata: vec![],
        }
    }

    #[tokio::test]
    async fn receiver_is_off_without_the_flag() {
        let store = MemStorage::new();
        let (status, body) = post(
            app(&store, false),
            "/api/v1/write",
            codec::encode(&one_series("x", &[(1, 1.0)])),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(String::from_utf8_lossy(&body).contains("--web.enable-remote-write-receiver"));
    }

    #[tokio::test]
    async fn write_then_read_back() {
        let store = MemStorage::new();
        let (status, _) = post(
            app(&store, true),
            "/api/v1/write",
            codec::encode(&one_series("pushed", &[(1000, 1.5), (2000, 2.5)])),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            store.samples(&Labels::from_pairs(&[("__name__", "pushed")])),
            Some(vec![(1000, 1.5), (2000, 2.5)])
        );

        let request = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: 5000,
                matchers: read::matchers_to_proto(&[crate::model::Matcher::equal(
                    "__name__", "pushed",
                )]),
                hints: None,
            }],
            accepted_response_types: vec![ResponseType::Samples as i32],
        };
        let (status, body) = post(app(&store, true), "/api/v1/read", codec::encode(&request)).await;
        assert_eq!(status, StatusCode::OK);
        let response: ReadResponse = codec::decode(&body).unwrap();
        assert_eq!(response.results[0].timeseries[0].samples.len(), 2);
    }

    #[tokio::test]
    async fn local_true_reads_only_this_nodes_own_store() {
        let whole = MemStorage::new();
        let own = MemStorage::new();
        for (store, name) in [(&whole, "everywhere"), (&own, "here")] {
            let mut app = store.appender();
            app.append(&Labels::from_pairs(&[("__name__", name)]), 1000, 1.0)
                .unwrap();
            app.commit().unwrap();
        }
        let app = router(RemoteApiState {
            receiver: None,
            queryable: Arc::new(whole),
            local_queryable: Some(Arc::new(own)),
            read_sample_limit: 0,
            read_concurrency: None,
        });
        let request = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: 5000,
                matchers: read::matchers_to_proto(&[crate::model::Matcher::new(
                    crate::model::MatchType::Regex,
                    "__name__",
                    ".+",
                )
                .unwrap()]),
                hints: None,
            }],
            accepted_response_types: vec![ResponseType::Samples as i32],
        };
        let names = |body: &[u8]| -> Vec<String> {
            let response: ReadResponse = codec::decode(body).unwrap();
            response.results[0]
                .timeseries
                .iter()
                .map(|ts| ts.labels[0].value.clone())
                .collect()
        };
        for (uri, expected) in [
            ("/api/v1/read", "everywhere"),
            ("/api/v1/read?local=false", "everywhere"),
            ("/api/v1/read?local=true", "here"),
            ("/api/v1/read?local=1", "here"),
        ] {
            let (status, body) = post(app.clone(), uri, codec::encode(&request)).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(names(&body), vec![expected], "{uri}");
        }
        let (status, body) = post(app, "/api/v1/read?local=maybe", codec::encode(&request)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(&body).contains("local"));
    }

    #[tokio::test]
    async fn malformed_bodies_get_400_never_a_panic() {
        let store = MemStorage::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let valid = codec::encode(&one_series("x", &[(1, 1.0), (2, 2.0)]));
        for round in 0..300 {
            let mut body = valid.clone();
            // Deterministic xorshift mutations: flips, truncations, garbage.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            match round % 3 {
                0 => {
                    let i = (seed as usize) % body.len();
                    body[i] ^= (seed >> 32) as u8 | 1;
                }
                1 => body.truncate((seed as usize) % body.len()),
                _ => body = (0..(seed % 64)).map(|i| (seed >> (i % 56)) as u8).collect(),
            }
            let (status, _) = post(app(&store, true), "/api/v1/write", body).await;
            assert!(
                status == StatusCode::NO_CONTENT || status == StatusCode::BAD_REQUEST,
                "round {round}: {status}"
            );
        }
    }

    #[tokio::test]
    async fn out_of_order_is_a_400_naming_the_problem() {
        let store = MemStorage::new();
        let (status, body) = post(
            app(&store, true),
            "/api/v1/write",
            codec::encode(&one_series("o", &[(10, 1.0), (5, 1.0)])),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(&body).contains("out of order sample"));
    }
}
