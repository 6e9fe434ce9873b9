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

/// Credentials for the remote endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Auth {
    /// None.
    #[default]
    None,
    /// HTTP basic auth.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: <type> <credentials>`.
    Authorization {
        /// The scheme, e.g. `Bearer`.
        kind: String,
        /// The credentials.
        credentials: String,
    },
}

impl Auth {
    /// Adds the credentials to a request.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
            Auth::Authorization { kind, credentials } => {
                request.header("Authorization", format!("{kind} {credentials}"))
            }
        }
    }
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
    /// Credentials.
    pub auth: Auth,
    /// PEM of a CA to trust, if any.
    pub ca_pem: Option<Vec<u8>>,
    /// Skip TLS verification.
    pub insecure_skip_verify: bool,
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
    client: reqwest::Client,
}

impl HttpWriteClient {
    /// Builds the client; fails on an unusable TLS setting.
    pub fn new(settings: HttpClientSettings) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(user_agent())
            .danger_accept_invalid_certs(settings.insecure_skip_verify);
        if let Some(pem) = &settings.ca_pem {
            let certificate = reqwest::Certificate::from_pem(pem)
                .map_err(|e| format!("tls_config.ca_file: {e}"))?;
            builder = builder.add_root_certificate(certificate);
        }
        let client = builder.build().map_err(|e| e.to_string())?;
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
        request = self.settings.auth.apply(request);
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
            auth: Auth::None,
            ca_pem: None,
            insecure_skip_verify: false,
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
