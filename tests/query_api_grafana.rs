//! The query API asked as Grafana asks it: data source "Save & test", the
//! metrics browser (`series`, `labels`, `label/__name__/values`), panels
//! (`query_range`), and the error shapes. Checked byte for byte against
//! Prometheus's JSON.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use promshard::model::Labels;
use promshard::promql::{Engine, EngineOptions};
use promshard::storage::memory::MemStorage;
use promshard::storage::{Appendable, Queryable};
use promshard::web::query_api::{QueryApiState, router};

/// The store under test; switching to the TSDB is this one function.
fn new_storage() -> (Arc<dyn Queryable>, Arc<dyn Appendable>) {
    let storage = MemStorage::new();
    (Arc::new(storage.clone()), Arc::new(storage))
}

fn app() -> axum::Router {
    let (queryable, appendable) = new_storage();
    let mut appender = appendable.appender();
    let series = [
        Labels::from_pairs(&[("__name__", "up"), ("job", "node"), ("instance", "a:9100")]),
        Labels::from_pairs(&[("__name__", "up"), ("job", "node"), ("instance", "b:9100")]),
        Labels::from_pairs(&[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("code", "200"),
        ]),
    ];
    for step in 0..=40i64 {
        let t = step * 15_000;
        let _ = appender.append(&series[0], t, 1.0);
        let _ = appender.append(&series[1], t, if step > 20 { 0.0 } else { 1.0 });
        let _ = appender.append(&series[2], t, (step * 10) as f64);
    }
    let _ = appender.commit();
    let engine = Arc::new(Engine::new(EngineOptions::default()));
    router(QueryApiState::new(queryable, engine))
}

async fn send(request: Request<Body>) -> (StatusCode, String) {
    let response = match app().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&bytes).to_string())
}

async fn get(uri: &str) -> (StatusCode, String) {
    send(Request::get(uri).body(Body::empty()).unwrap_or_default()).await
}

async fn post_form(uri: &str, form: &str) -> (StatusCode, String) {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap_or_default();
    send(request).await
}

#[tokio::test]
async fn grafana_save_and_test_gets_exactly_the_scalar() {
    let (status, body) = post_form("/api/v1/query", "query=1%2B1&time=4").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#
    );
}

#[tokio::test]
async fn instant_vector_query_has_prometheus_shape() {
    let (status, body) =
        get("/api/v1/query?query=up%7Binstance%3D%22a%3A9100%22%7D&time=600").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"a:9100","job":"node"},"value":[600,"1"]}]}}"#
    );
}

#[tokio::test]
async fn range_query_for_a_panel_returns_a_matrix() {
    let (status, body) = post_form(
        "/api/v1/query_range",
        "query=sum(up)&start=270&end=330&step=30",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[270,"2"],[300,"2"],[330,"1"]]}]}}"#
    );
}

#[tokio::test]
async fn rate_query_carries_no_name_and_string_values() {
    let (status, body) = get(
        "/api/v1/query_range?query=rate(http_requests_total%5B1m%5D)&start=300&end=300&step=15s",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"code":"200","job":"api"},"values":[[300,"0.6666666666666666"]]}]}}"#
    );
}

#[tokio::test]
async fn metrics_browser_endpoints() {
    let (status, body) = get("/api/v1/label/__name__/values").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":["http_requests_total","up"]}"#
    );

    let (status, body) = get("/api/v1/labels?match[]=up").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":["__name__","instance","job"]}"#
    );

    let (status, body) = post_form(
        "/api/v1/series",
        "match%5B%5D=up%7Binstance%3D%22b%3A9100%22%7D&match%5B%5D=http_requests_total&start=0&end=600",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":[{"__name__":"http_requests_total","code":"200","job":"api"},{"__name__":"up","instance":"b:9100","job":"node"}]}"#
    );

    let (status, body) = get("/api/v1/label/job/values?match[]=up&limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"status":"success","data":["node"]}"#);
}

#[tokio::test]
async fn errors_use_prometheus_types_and_codes() {
    let cases = [
        (
            "/api/v1/query?query=sum(",
            StatusCode::BAD_REQUEST,
            "bad_data",
        ),
        (
            "/api/v1/query_range?query=up&start=10&end=5&step=1",
            StatusCode::BAD_REQUEST,
            "bad_data",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            StatusCode::BAD_REQUEST,
            "bad_data",
        ),
        (
            "/api/v1/query?query=up&time=yesterday",
            StatusCode::BAD_REQUEST,
            "bad_data",
        ),
        ("/api/v1/series", StatusCode::BAD_REQUEST, "bad_data"),
        (
            "/api/v1/query?query=up%20%2B%20on()%20group_left%20up&time=100",
            StatusCode::UNPROCESSABLE_ENTITY,
            "execution",
        ),
    ];
    for (uri, want_status, want_type) in cases {
        let (status, body) = get(uri).await;
        assert_eq!(status, want_status, "{uri}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(json["status"], "error", "{uri}");
        assert_eq!(json["errorType"], want_type, "{uri}");
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{uri}"
        );
    }
    let (_, body) = get("/api/v1/query_range?query=up&start=0&end=100000&step=1").await;
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"}"#
    );
}

#[tokio::test]
async fn rfc3339_times_and_duration_steps_are_accepted() {
    let (status, body) = get(
        "/api/v1/query_range?query=vector(1)&start=1970-01-01T00:01:00Z&end=1970-01-01T00:02:00.000Z&step=1m",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[60,"1"],[120,"1"]]}]}}"#
    );
}

#[tokio::test]
async fn exemplars_format_parse_and_tsdb_status() {
    let (status, body) = get("/api/v1/query_exemplars?query=up&start=0&end=100").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"status":"success","data":[]}"#);

    let (status, body) = get("/api/v1/format_query?query=sum%20by(job)(up)").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"status":"success","data":"sum by (job) (up)"}"#);

    let (status, body) = get("/api/v1/parse_query?query=up").await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(json["data"]["type"], "vectorSelector");
    assert_eq!(json["data"]["name"], "up");

    let (status, body) = get("/api/v1/status/tsdb").await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(json["data"]["headStats"]["numSeries"], 3);
    assert_eq!(
        json["data"]["seriesCountByMetricName"][0],
        serde_json::json!({"name": "up", "value": 2})
    );
}

#[tokio::test]
async fn federate_answers_in_the_text_format() {
    // The data is from 1970, so nothing is inside the lookback window now.
    let (status, body) = get("/federate?match[]=up").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "");

    let (queryable, appendable) = new_storage();
    let now = promshard::model::sample::now_millis();
    let mut appender = appendable.appender();
    let labels = Labels::from_pairs(&[("__name__", "up"), ("job", "node"), ("path", "a\"b")]);
    let _ = appender.append(&labels, now - 30_000, 0.0);
    let _ = appender.append(&labels, now - 15_000, 1.0);
    let _ = appender.commit();
    let mut state = QueryApiState::new(queryable, Arc::new(Engine::new(EngineOptions::default())));
    state.external_labels = Labels::from_pairs(&[("cluster", "eu"), ("job", "ignored")]);
    let request = Request::get("/federate?match[]=up&match[]=nothing")
        .body(Body::empty())
        .unwrap_or_default();
    let response = match router(state).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    assert_eq!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        format!(
            "# TYPE up untyped\nup{{cluster=\"eu\",job=\"node\",path=\"a\\\"b\"}} 1 {}\n",
            now - 15_000
        )
    );
}

#[tokio::test]
async fn grafana_over_real_http_on_loopback() {
    let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
        panic!("cannot bind a loopback port");
    };
    let Ok(address) = listener.local_addr() else {
        panic!("no local address");
    };
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app()).await;
    });
    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://{address}/api/v1/query"))
        .form(&[("query", "1+1"), ("time", "4")])
        .send()
        .await;
    let Ok(response) = response else {
        panic!("request failed: {response:?}");
    };
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(
        response.text().await.unwrap_or_default(),
        r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#
    );
    server.abort();
}
