//! The remote-write HTTP client behind the [`WriteClient`] seam.
//!
//! Spec 1.0: a snappy block-compressed protobuf `WriteRequest`, with
//! `Content-Encoding: snappy`, `Content-Type: application/x-protobuf`,
//! `X-Prometheus-Remote-Write-Version: 0.1.0` and a `User-Agent`.
//! Outcomes follow Prometheus: 2xx ok; 5xx retried; 429 retried when
//! `retry_on_http_429` is set, honouring `Retry-After`; any other 4xx is
//! not retried (the batch is dropped, counted and logged by the queue).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::config::http_client::HttpClientConfig;

/// Why a send failed, and whether to try again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteClientError {
    /// Worth retrying: a 5xx, a 429 (when enabled), a timeout or a
    /// connection error. `retry_after` is the server's `Retry-After`.
    #[error("recoverable: {message}")]
    Recoverable {
        /// What happened.
        message: String,
        /// The delay the server asked for.
        retry_after: Option<Duration>,
    },
    /// Not worth retrying: any other 4xx. The batch is dropped.
    #[error("non-recoverable: {message}")]
    NonRecoverable {
        /// What happened, with the status and the server's message.
        message: String,
    },
}

impl WriteClientError {
    /// Whether the queue should retry.
    pub fn is_retryable(&self) -> bool {
        matches!(self, WriteClientError::Recoverable { .. })
    }
}

/// Sends one encoded, compressed `WriteRequest`. Implementations are shared
/// by the shards of a queue and must be safe to call concurrently.
#[async_trait]
pub trait WriteClient: Send + Sync {
    /// Sends `body` (already protobuf-encoded and snappy-compressed).
    /// `attempt` counts from 0 and goes into the
    /// `Retry-Attempt` header on retries.
    async fn store(&self, body: Vec<u8>, attempt: u32) -> Result<(), WriteClientError>;

    /// A name for logs and metric labels (`remote_name`).
    fn name(&self) -> &str;

    /// The endpoint (`url` metric label).
    fn endpoint(&self) -> &str;
}

/// Settings of an [`HttpWriteClient`].
#[derive(Debug, Clone)]
pub struct HttpClientSettings {
    /// The `name` of the remote_write entry.
    pub name: String,
    /// The endpoint URL.
    pub url: String,
    /// Per-request timeout (`remote_timeout`, default 30s).
    pub timeout: Duration,
    /// Extra headers (e.g. Mimir's `X-Scope-OrgID`).
    pub headers: BTreeMap<String, String>,
    /// Every `http_client` setting (credentials, TLS, proxy, redirects,
    /// HTTP/2, `http_headers`), applied by the crate's client factory.
    pub http_client: HttpClientConfig,
    /// Whether 429 is retried (Prometheus's `retry_on_http_429`, default on).
    pub retry_on_http_429: bool,
}

/// The User-Agent promshard sends.
pub fn user_agent() -> String {
    format!("promshard/{}", env!("CARGO_PKG_VERSION"))
}

/// The standard remote-write client over HTTP.
pub struct HttpWriteClient {
    settings: HttpClientSettings,
    client: crate::http_client::HttpClient,
}

impl HttpWriteClient {
    /// Builds the client; fails on an unusable TLS setting.
    pub fn new(settings: HttpClientSettings) -> Result<Self, String> {
        let client = crate::http_client::HttpClient::new(
            &settings.http_client,
            &crate::http_client::ClientOptions::with_timeout(Some(settings.timeout)),
        )
        .map_err(|e| e.to_string())?;
        Ok(HttpWriteClient { settings, client })
    }
}

/// Parses `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    delta.to_std().ok()
}

#[async_trait]
impl WriteClient for HttpWriteClient {
    async fn store(&self, body: Vec<u8>, attempt: u32) -> Result<(), WriteClientError> {
        let mut request = self
            .client
            .post(&self.settings.url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0");
        if attempt > 0 {
            request = request.header("Retry-Attempt", attempt.to_string());
        }
        for (name, value) in &self.settings.headers {
            request = request.header(name, value);
        }
        // Credential files are read per request; an unreadable one is
        // retried like an unreachable endpoint.
        request =
            self.client
                .authorize(request)
                .await
                .map_err(|e| WriteClientError::Recoverable {
                    message: e.to_string(),
                    retry_after: None,
                })?;
        let response =
            request
                .body(body)
                .send()
                .await
                .map_err(|e| WriteClientError::Recoverable {
                    message: e.to_string(),
                    retry_after: None,
                })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response.text().await.unwrap_or_default();
        let line = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(256)
            .collect::<String>();
        let message = format!("server returned HTTP status {status}: {line}");
        if status.is_server_error() || (status.as_u16() == 429 && self.settings.retry_on_http_429) {
            return Err(WriteClientError::Recoverable {
                message,
                retry_after,
            });
        }
        Err(WriteClientError::NonRecoverable { message })
    }

    fn name(&self) -> &str {
        &self.settings.name
    }

    fn endpoint(&self) -> &str {
        &self.settings.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A receiver on loopback answering from a script of statuses, then 204.
    async fn scripted_receiver(
        script: Vec<(u16, Option<&'static str>)>,
    ) -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let app = axum::Router::new().route(
            "/api/v1/write",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    let (status, retry_after) = script.get(n).copied().unwrap_or((204, None));
                    async move {
                        assert_eq!(headers["content-encoding"], "snappy");
                        assert_eq!(headers["content-type"], "application/x-protobuf");
                        assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
                        assert!(
                            headers["user-agent"]
                                .to_str()
                                .unwrap()
                                .starts_with("promshard/")
                        );
                        assert!(
                            crate::remote::codec::decode::<crate::remote::proto::WriteRequest>(
                                &body
                            )
                            .is_ok()
                        );
                        let mut response = axum::response::Response::builder().status(status);
                        if let Some(value) = retry_after {
                            response = response.header("Retry-After", value);
                        }
                        response.body(axum::body::Body::from("scripted")).unwrap()
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{address}/api/v1/write"), calls)
    }

    fn settings(url: String, retry_on_http_429: bool) -> HttpClientSettings {
        HttpClientSettings {
            name: "t".into(),
            url,
            timeout: Duration::from_secs(5),
            headers: BTreeMap::from([("X-Scope-OrgID".to_string(), "tenant".to_string())]),
            http_client: HttpClientConfig::default(),
            retry_on_http_429,
        }
    }

    fn body() -> Vec<u8> {
        let labels = crate::model::Labels::from_pairs(&[("__name__", "x")]);
        crate::remote::encode::encode_write_request([(&labels, 1, 1.0)].into_iter())
    }

    #[tokio::test]
    async fn classifies_400_429_and_500_over_real_http() {
        let (url, calls) =
            scripted_receiver(vec![(400, None), (429, Some("3")), (500, None)]).await;
        let client = HttpWriteClient::new(settings(url.clone(), true)).unwrap();
        let bad_request = client.store(body(), 0).await.unwrap_err();
        assert!(
            matches!(bad_request, WriteClientError::NonRecoverable { .. }),
            "400 is not retried: {bad_request:?}"
        );
        let too_many = client.store(body(), 1).await.unwrap_err();
        assert_eq!(
            too_many,
            WriteClientError::Recoverable {
                message: "server returned HTTP status 429 Too Many Requests: scripted".into(),
                retry_after: Some(Duration::from_secs(3)),
            },
            "429 is retried after Retry-After"
        );
        let server_error = client.store(body(), 2).await.unwrap_err();
        assert!(server_error.is_retryable(), "5xx is retried");
        assert!(client.store(body(), 3).await.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        // With retry_on_http_429 off, a 429 is dropped like any other 4xx.
        let (url, _) = scripted_receiver(vec![(429, Some("1"))]).await;
        let client = HttpWriteClient::new(settings(url, false)).unwrap();
        assert!(!client.store(body(), 0).await.unwrap_err().is_retryable());
    }

    #[tokio::test]
    async fn the_http_client_settings_apply_and_credential_files_are_reread() {
        let seen: Arc<parking_lot::Mutex<Vec<(String, String)>>> = Arc::default();
        let app = {
            let seen = seen.clone();
            axum::Router::new().route(
                "/api/v1/write",
                axum::routing::post(move |headers: axum::http::HeaderMap| {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    seen.lock()
                        .push((header("authorization"), header("x-scope-orgid")));
                    async { axum::http::StatusCode::NO_CONTENT }
                }),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("password"), "first\n").unwrap();
        std::fs::write(dir.path().join("tenant"), "team-a\n").unwrap();
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(
            &config_path,
            format!(
                "remote_write:\n  - url: http://{address}/api/v1/write\n    basic_auth:\n      username: promshard\n      password_file: password\n    http_headers:\n      X-Scope-OrgID:\n        files: [tenant]\n"
            ),
        )
        .unwrap();
        let config = crate::config::load_file(&config_path).unwrap();
        let settings = crate::remote::write::client_settings(&config.remote_write[0]).unwrap();
        let client = HttpWriteClient::new(settings).unwrap();
        client.store(body(), 0).await.unwrap();
        // Rotated on disk: the next request carries the new values.
        std::fs::write(dir.path().join("password"), "second\n").unwrap();
        std::fs::write(dir.path().join("tenant"), "team-b\n").unwrap();
        client.store(body(), 0).await.unwrap();
        std::fs::remove_file(dir.path().join("password")).unwrap();
        let missing = client.store(body(), 0).await.unwrap_err();
        assert!(
            missing.is_retryable(),
            "an unreadable credential file is retried: {missing:?}"
        );

        // RFC 7617: base64 of "promshard:first" and "promshard:second".
        let basic = |password: &str| match password {
            "first" => "Basic cHJvbXNoYXJkOmZpcnN0".to_string(),
            _ => "Basic cHJvbXNoYXJkOnNlY29uZA==".to_string(),
        };
        assert_eq!(
            *seen.lock(),
            vec![
                (basic("first"), "team-a".to_string()),
                (basic("second"), "team-b".to_string()),
            ]
        );
    }

    #[tokio::test]
    async fn writes_go_through_proxy_url_unless_no_proxy_names_the_host() {
        // The "proxy" answers every request it is sent; a request reaching
        // it for a host that does not resolve went through it.
        let hosts: Arc<parking_lot::Mutex<Vec<String>>> = Arc::default();
        let app = {
            let hosts = hosts.clone();
            axum::Router::new().route(
                "/api/v1/write",
                axum::routing::post(
                    move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
                        let token = headers
                            .get("proxy-authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        hosts
                            .lock()
                            .push(format!("{} {token}", uri.host().unwrap_or("")));
                        async { axum::http::StatusCode::NO_CONTENT }
                    },
                ),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = |no_proxy: &str| {
            let mut settings = settings("http://receiver.invalid/api/v1/write".into(), true);
            settings.http_client.proxy_url = format!("http://{proxy}");
            settings.http_client.no_proxy = no_proxy.to_string();
            settings.http_client.proxy_connect_header = std::collections::BTreeMap::from([(
                "Proxy-Authorization".to_string(),
                vec![crate::config::http_client::Secret(
                    "Bearer proxy-token".to_string(),
                )],
            )]);
            HttpWriteClient::new(settings).unwrap()
        };
        client("").store(body(), 0).await.unwrap();
        assert_eq!(*hosts.lock(), ["receiver.invalid Bearer proxy-token"]);
        // Bypassing the proxy, the host does not resolve.
        let direct = client("receiver.invalid")
            .store(body(), 0)
            .await
            .unwrap_err();
        assert!(direct.is_retryable(), "{direct:?}");
        assert_eq!(hosts.lock().len(), 1, "no_proxy went around the proxy");
    }

    #[tokio::test]
    async fn a_dead_receiver_is_recoverable() {
        let client =
            HttpWriteClient::new(settings("http://127.0.0.1:1/api/v1/write".into(), true)).unwrap();
        assert!(client.store(body(), 0).await.unwrap_err().is_retryable());
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("soon"), None);
        let future = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let parsed = parse_retry_after(&future).unwrap();
        assert!(parsed <= Duration::from_secs(30) && parsed >= Duration::from_secs(25));
    }
}
