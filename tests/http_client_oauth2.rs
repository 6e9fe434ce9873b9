//! `oauth2` in a scrape config, as a user writes it, against a token
//! endpoint and a target on loopback: the client credentials grant, the
//! token cache and its expiry, a rotated `client_secret_file`, the fallback
//! from basic auth to form credentials, and a failing token endpoint.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use parking_lot::Mutex;
use promshard::scrape::ScrapeSettings;
use promshard::scrape::client::ScrapeClient;

/// One token request as the endpoint saw it.
#[derive(Debug, Clone)]
struct TokenRequest {
    authorization: Option<String>,
    form: Vec<(String, String)>,
}

#[derive(Default)]
struct Endpoint {
    requests: Mutex<Vec<TokenRequest>>,
    /// Answer 401 to basic auth (credentials must come in the form).
    refuse_basic: Mutex<bool>,
    /// Answer every token request with 401.
    refuse_all: Mutex<bool>,
    expires_in: Mutex<u64>,
}

async fn token(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let authorization = headers
        .get("authorization")
        .map(|value| value.to_str().unwrap().to_string());
    let mut requests = endpoint.requests.lock();
    requests.push(TokenRequest {
        authorization: authorization.clone(),
        form: form.clone(),
    });
    if *endpoint.refuse_all.lock() {
        return (StatusCode::UNAUTHORIZED, r#"{"error":"invalid_client"}"#).into_response();
    }
    if authorization.is_some() && *endpoint.refuse_basic.lock() {
        return (StatusCode::UNAUTHORIZED, r#"{"error":"invalid_client"}"#).into_response();
    }
    let number = requests.len();
    (
        [("content-type", "application/json")],
        format!(
            r#"{{"access_token":"tok-{number}","token_type":"bearer","expires_in":{}}}"#,
            *endpoint.expires_in.lock()
        ),
    )
        .into_response()
}

/// Serves `/token` and `/metrics` (which answers only a bearer token) on
/// loopback; returns the address.
async fn serve(endpoint: Arc<Endpoint>, seen: Arc<Mutex<Vec<String>>>) -> String {
    let app = Router::new()
        .route("/token", post(token))
        .with_state(endpoint)
        .route(
            "/metrics",
            get(move |headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    let authorization = headers
                        .get("authorization")
                        .map(|value| value.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    seen.lock().push(authorization.clone());
                    if authorization.starts_with("Bearer tok-") {
                        (StatusCode::OK, "up_test 1\n")
                    } else {
                        (StatusCode::UNAUTHORIZED, "")
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    address
}

/// A scrape client for the `oauth2` block written as `oauth2` (YAML under
/// the job), loaded from a config file in `dir`.
fn scrape_client(dir: &std::path::Path, oauth2: &str) -> ScrapeClient {
    let path = dir.join("prometheus.yml");
    std::fs::write(
        &path,
        format!("scrape_configs:\n  - job_name: app\n    oauth2:\n{oauth2}    static_configs:\n      - targets: [x]\n"),
    )
    .unwrap();
    let config = promshard::config::load_file(&path).expect("config loads");
    let settings = ScrapeSettings::try_from(config.scrape_config("app").unwrap()).unwrap();
    ScrapeClient::new(&settings.http_client, &settings.scrape_protocols).expect("client builds")
}

/// The `Authorization: Basic` value for `id` and `secret` (built by
/// reqwest, the reference encoder here).
fn basic(id: &str, secret: &str) -> String {
    let request = reqwest::Client::new()
        .get("http://127.0.0.1/")
        .basic_auth(id, Some(secret))
        .build()
        .unwrap();
    request.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_string()
}

fn field<'a>(request: &'a TokenRequest, name: &str) -> Option<&'a str> {
    request
        .form
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[tokio::test]
async fn client_credentials_token_is_fetched_cached_and_renewed() {
    let endpoint = Arc::new(Endpoint::default());
    *endpoint.expires_in.lock() = 3600;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let address = serve(endpoint.clone(), seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "s3cret\n").unwrap();
    let client = scrape_client(
        dir.path(),
        &format!(
            "      client_id: promshard\n      client_secret_file: secret\n      token_url: http://{address}/token\n      scopes: [read, write]\n      endpoint_params:\n        audience: metrics\n"
        ),
    );
    let url = format!("http://{address}/metrics");
    let timeout = Duration::from_secs(5);

    let scraped = client
        .scrape(&url, timeout, 0)
        .await
        .expect("scrape with a token");
    assert_eq!(scraped.body, b"up_test 1\n");
    client
        .scrape(&url, timeout, 0)
        .await
        .expect("second scrape");
    {
        let requests = endpoint.requests.lock();
        assert_eq!(requests.len(), 1, "the token is cached: {requests:?}");
        let request = &requests[0];
        assert_eq!(
            request.authorization.as_deref(),
            Some(basic("promshard", "s3cret").as_str())
        );
        assert_eq!(field(request, "grant_type"), Some("client_credentials"));
        assert_eq!(field(request, "scope"), Some("read write"));
        assert_eq!(field(request, "audience"), Some("metrics"));
        assert_eq!(
            field(request, "client_secret"),
            None,
            "the secret goes in the header"
        );
    }
    assert_eq!(*seen.lock(), ["Bearer tok-1", "Bearer tok-1"]);

    // A rotated secret drops the cached token.
    std::fs::write(dir.path().join("secret"), "rotated").unwrap();
    client
        .scrape(&url, timeout, 0)
        .await
        .expect("scrape after rotation");
    let requests = endpoint.requests.lock().clone();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].authorization.as_deref(),
        Some(basic("promshard", "rotated").as_str())
    );
    assert_eq!(seen.lock().last().map(String::as_str), Some("Bearer tok-2"));

    // A token that expires within 10 s is renewed on the next request.
    *endpoint.expires_in.lock() = 10;
    std::fs::write(dir.path().join("secret"), "again").unwrap();
    client.scrape(&url, timeout, 0).await.unwrap();
    client.scrape(&url, timeout, 0).await.unwrap();
    assert_eq!(
        endpoint.requests.lock().len(),
        4,
        "a short-lived token is not reused"
    );
}

#[tokio::test]
async fn credentials_move_into_the_form_when_basic_auth_is_refused() {
    let endpoint = Arc::new(Endpoint::default());
    *endpoint.refuse_basic.lock() = true;
    *endpoint.expires_in.lock() = 3600;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let address = serve(endpoint.clone(), seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let client = scrape_client(
        dir.path(),
        &format!(
            "      client_id: a b\n      client_secret: x&y\n      token_url: http://{address}/token\n"
        ),
    );
    client
        .scrape(
            &format!("http://{address}/metrics"),
            Duration::from_secs(5),
            0,
        )
        .await
        .expect("the form credentials are accepted");
    let requests = endpoint.requests.lock().clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    // Go's client form-encodes the id and secret inside the Basic header.
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some(basic("a+b", "x%26y").as_str())
    );
    assert_eq!(requests[1].authorization, None);
    assert_eq!(field(&requests[1], "client_id"), Some("a b"));
    assert_eq!(field(&requests[1], "client_secret"), Some("x&y"));
}

#[tokio::test]
async fn a_failing_token_endpoint_fails_the_scrape_with_its_answer() {
    let endpoint = Arc::new(Endpoint::default());
    *endpoint.refuse_all.lock() = true;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let address = serve(endpoint.clone(), seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let client = scrape_client(
        dir.path(),
        &format!(
            "      client_id: id\n      client_secret: wrong\n      token_url: http://{address}/token\n"
        ),
    );
    let error = client
        .scrape(
            &format!("http://{address}/metrics"),
            Duration::from_secs(5),
            0,
        )
        .await
        .expect_err("no token, no scrape");
    let message = error.to_string();
    assert!(
        message.contains("oauth2: cannot fetch token: 401 Unauthorized"),
        "{message}"
    );
    assert!(message.contains("invalid_client"), "{message}");
    assert!(
        seen.lock().is_empty(),
        "the target is not asked without a token"
    );
}
