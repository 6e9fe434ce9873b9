//! The scrape HTTP client on the wire: headers, auth, gzip, redirects,
//! and the pool-level target limit and pool removal.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use parking_lot::Mutex;
use promshard::config::{BasicAuth, HttpClientConfig, Secret};
use promshard::model::{Labels, is_stale_nan};
use promshard::scrape::client::ScrapeClient;
use promshard::scrape::settings::HttpClientSettings;
use promshard::scrape::{
    ScrapeManager, ScrapeOptions, ScrapeProtocol, ScrapeSettings, TargetGroup,
};
use promshard::storage::memory::MemStorage;

type SeenHeaders = Arc<Mutex<Vec<HeaderMap>>>;

async fn server(seen: SeenHeaders) -> String {
    let app = Router::new()
        .route(
            "/metrics",
            get(move |headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    seen.lock().push(headers);
                    "m 1\n"
                }
            }),
        )
        .route(
            "/gzipped",
            get(|| async {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(b"zipped 1\n").unwrap();
                let body = encoder.finish().unwrap();
                (
                    [
                        (header::CONTENT_ENCODING, "gzip"),
                        (header::CONTENT_TYPE, "text/plain; version=0.0.4"),
                    ],
                    body,
                )
                    .into_response()
            }),
        )
        .route("/moved", get(|| async { Redirect::temporary("/metrics") }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    address
}

#[tokio::test]
async fn requests_carry_prometheus_headers_and_credentials() {
    let seen = SeenHeaders::default();
    let address = server(seen.clone()).await;
    let settings = HttpClientSettings {
        http_client: HttpClientConfig {
            basic_auth: Some(BasicAuth {
                username: "user".into(),
                password: Secret("pass".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let client = ScrapeClient::new(&settings, &[ScrapeProtocol::PrometheusText0_0_4]).unwrap();
    let scraped = client
        .scrape(
            &format!("http://{address}/metrics"),
            Duration::from_millis(1500),
            0,
        )
        .await
        .unwrap();
    assert_eq!(scraped.body, b"m 1\n");
    let headers = seen.lock()[0].clone();
    assert_eq!(
        headers["accept"],
        "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
    );
    assert_eq!(headers["x-prometheus-scrape-timeout-seconds"], "1.5");
    assert_eq!(headers["authorization"], "Basic dXNlcjpwYXNz");
    assert!(
        headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("promshard/")
    );
    assert!(
        headers["accept-encoding"]
            .to_str()
            .unwrap()
            .contains("gzip")
    );
}

#[tokio::test]
async fn gzip_bodies_are_decoded_and_redirects_follow_the_setting() {
    let address = server(SeenHeaders::default()).await;
    let following =
        ScrapeClient::new(&HttpClientSettings::default(), &ScrapeProtocol::DEFAULT).unwrap();
    let timeout = Duration::from_secs(2);
    let zipped = following
        .scrape(&format!("http://{address}/gzipped"), timeout, 0)
        .await
        .unwrap();
    assert_eq!(zipped.body, b"zipped 1\n");
    assert_eq!(zipped.content_type, "text/plain; version=0.0.4");
    let redirected = following
        .scrape(&format!("http://{address}/moved"), timeout, 0)
        .await
        .unwrap();
    assert_eq!(redirected.body, b"m 1\n");

    let not_following = ScrapeClient::new(
        &HttpClientSettings {
            http_client: HttpClientConfig {
                follow_redirects: false,
                ..Default::default()
            },
            ..Default::default()
        },
        &ScrapeProtocol::DEFAULT,
    )
    .unwrap();
    let refused = not_following
        .scrape(&format!("http://{address}/moved"), timeout, 0)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "server returned HTTP status 307 Temporary Redirect"
    );
    let missing = following
        .scrape(&format!("http://{address}/missing"), timeout, 0)
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "server returned HTTP status 404 Not Found"
    );
}

fn samples(store: &MemStorage, name: &str, job: &str) -> Vec<(i64, f64)> {
    store
        .dump()
        .into_iter()
        .filter(|(labels, _)| labels.metric_name() == Some(name) && labels.get("job") == Some(job))
        .flat_map(|(_, samples)| samples)
        .collect()
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_limit_fails_every_target_and_removed_pools_go_stale() {
    let address = server(SeenHeaders::default()).await;
    let store = MemStorage::new();
    let manager = ScrapeManager::new(
        Arc::new(store.clone()),
        &prometheus::Registry::new(),
        ScrapeOptions::default(),
    )
    .unwrap();
    let mut limited = ScrapeSettings::new("limited");
    limited.scrape_interval = Duration::from_millis(200);
    limited.scrape_timeout = Duration::from_millis(150);
    limited.limits.target_limit = 1;
    let mut fine = limited.clone();
    fine.job_name = "fine".into();
    fine.limits.target_limit = 0;
    manager.apply_config(vec![limited, fine.clone()]).unwrap();
    let two_targets = |job: &str| TargetGroup {
        source: format!("{job}/0"),
        targets: vec![
            Labels::from_pairs(&[("__address__", address.as_str())]),
            Labels::from_pairs(&[("__address__", address.as_str()), ("replica", "b")]),
        ],
        labels: Labels::empty(),
    };
    manager.sync(HashMap::from([
        ("limited".to_string(), vec![two_targets("limited")]),
        ("fine".to_string(), vec![two_targets("fine")]),
    ]));
    wait_until("both pools scraped", || {
        samples(&store, "up", "limited").len() >= 2 && samples(&store, "m", "fine").len() >= 2
    })
    .await;
    for view in manager.active_targets() {
        let status = view.target.status();
        if view.scrape_pool == "limited" {
            assert_eq!(
                status.last_error,
                "target_limit exceeded (number of targets: 2, limit: 1)"
            );
        } else {
            assert_eq!(status.last_error, "");
        }
    }
    assert!(
        samples(&store, "up", "limited")
            .iter()
            .all(|(_, v)| *v == 0.0)
    );
    assert!(samples(&store, "m", "limited").is_empty());

    manager.apply_config(vec![]).unwrap();
    wait_until("staleness markers of the removed pool", || {
        samples(&store, "m", "fine")
            .last()
            .is_some_and(|(_, v)| is_stale_nan(*v))
    })
    .await;
    assert!(manager.active_targets().is_empty());
    manager.stop().await;
}
