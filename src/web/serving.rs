//! How the HTTP server meets its clients, as Prometheus's web flags set it:
//! a connection limit on every listener (`--web.max-connections`), CORS on
//! the API (`--web.cors.origin`) and the server's own request metrics
//! (`prometheus_http_requests_total`, `prometheus_http_request_duration_seconds`).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A TCP listener that holds at most `limit` connections open at once: when
/// that many are open, it stops accepting until one closes, as Prometheus's
/// `--web.max-connections` does (0: no limit).
pub struct LimitedListener {
    inner: TcpListener,
    permits: Option<Arc<Semaphore>>,
}

impl LimitedListener {
    /// Wraps `inner`, sharing `permits` (one per connection) with the
    /// other listeners of the server; `None` is unlimited.
    pub fn new(inner: TcpListener, permits: Option<Arc<Semaphore>>) -> Self {
        LimitedListener { inner, permits }
    }

    /// The semaphore for `--web.max-connections`: `None` for 0.
    pub fn permits(max_connections: usize) -> Option<Arc<Semaphore>> {
        (max_connections > 0).then(|| Arc::new(Semaphore::new(max_connections)))
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so acquiring only waits.
        let permit = match &self.permits {
            Some(permits) => permits.clone().acquire_owned().await.ok(),
            None => None,
        };
        let (stream, address) = axum::serve::Listener::accept(&mut self.inner).await;
        (
            LimitedStream {
                stream,
                _permit: permit,
            },
            address,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted connection; its slot under the limit frees when it drops.
pub struct LimitedStream {
    stream: TcpStream,
    _permit: Option<OwnedSemaphorePermit>,
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Which browser origins may call the API: `--web.cors.origin`, a regular
/// expression anchored at both ends (Prometheus's default `.*` allows all).
#[derive(Clone)]
pub struct CorsOrigin(Arc<regex::Regex>);

impl CorsOrigin {
    /// Compiles `pattern` anchored, as Prometheus does.
    pub fn new(pattern: &str) -> Result<Self, String> {
        regex::Regex::new(&format!("^(?s:{pattern})$"))
            .map(|regex| CorsOrigin(Arc::new(regex)))
            .map_err(|e| format!("--web.cors.origin: {e}"))
    }
}

/// Middleware: on `/api/` paths, a request whose `Origin` matches gets
/// Prometheus's CORS headers, and a preflight `OPTIONS` is answered 200
/// without reaching a handler.
pub async fn cors(State(origin): State<CorsOrigin>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let allowed = request
        .headers()
        .get(header::ORIGIN)
        .filter(|value| value.to_str().is_ok_and(|text| origin.0.is_match(text)))
        .cloned();
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::OK.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(allowed) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Accept, Authorization, Content-Type, Origin"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Date"),
        );
    }
    response
}

/// The server's request metrics, under Prometheus's names: requests by
/// route and status code, and their durations by route.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: prometheus::IntCounterVec,
    duration: prometheus::HistogramVec,
}

impl HttpMetrics {
    /// Registers the metrics on `registry`.
    pub fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let requests = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "prometheus_http_requests_total",
                "Counter of HTTP requests.",
            ),
            &["code", "handler"],
        )?;
        let duration = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new(
                "prometheus_http_request_duration_seconds",
                "Histogram of latencies for HTTP requests.",
            )
            .buckets(vec![0.1, 0.2, 0.4, 1.0, 3.0, 8.0, 20.0, 60.0, 120.0]),
            &["handler"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(HttpMetrics { requests, duration })
    }
}

/// Middleware (a route layer, so the route is known): counts each request
/// by its route pattern and status code and times it.
pub async fn measure(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let handler = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "other".to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .duration
        .with_label_values(&[&handler])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[response.status().as_str(), &handler])
        .inc();
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(pattern: &str, registry: &prometheus::Registry) -> Router {
        Router::new()
            .route("/api/v1/query", get(|| async { "ok" }))
            .route("/metrics", get(|| async { "m" }))
            .route_layer(axum::middleware::from_fn_with_state(
                HttpMetrics::register(registry).unwrap(),
                measure,
            ))
            .layer(axum::middleware::from_fn_with_state(
                CorsOrigin::new(pattern).unwrap(),
                cors,
            ))
    }

    async fn send(app: &Router, method: &str, uri: &str, origin: Option<&str>) -> Response {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        app.clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_matching_origin_gets_the_cors_headers_and_others_do_not() {
        let app = app(r"https?://grafana\.example", &prometheus::Registry::new());
        let response = send(
            &app,
            "GET",
            "/api/v1/query",
            Some("https://grafana.example"),
        )
        .await;
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://grafana.example"
        );
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET, POST, OPTIONS"
        );
        // Anchored: a longer origin that contains the pattern is refused.
        let response = send(
            &app,
            "GET",
            "/api/v1/query",
            Some("https://grafana.example.evil"),
        )
        .await;
        assert!(
            !response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
        // Outside the API, no CORS at all.
        let response = send(&app, "GET", "/metrics", Some("https://grafana.example")).await;
        assert!(
            !response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
    }

    #[tokio::test]
    async fn a_preflight_is_answered_without_the_handler() {
        let app = app(".*", &prometheus::Registry::new());
        let response = send(&app, "OPTIONS", "/api/v1/query", Some("http://a")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://a"
        );
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_and_code() {
        let registry = prometheus::Registry::new();
        let app = app(".*", &registry);
        send(&app, "GET", "/api/v1/query", None).await;
        send(&app, "GET", "/api/v1/query", None).await;
        send(&app, "GET", "/metrics", None).await;
        let families = registry.gather();
        let requests = families
            .iter()
            .find(|f| f.name() == "prometheus_http_requests_total")
            .unwrap();
        let count = |handler: &str| {
            requests
                .get_metric()
                .iter()
                .find(|m| {
                    m.get_label()
                        .iter()
                        .any(|l| l.name() == "handler" && l.value() == handler)
                })
                .map(|m| {
                    (
                        m.get_counter().value() as u64,
                        m.get_label()[0].value().to_string(),
                    )
                })
        };
        assert_eq!(count("/api/v1/query"), Some((2, "200".to_string())));
        assert_eq!(count("/metrics"), Some((1, "200".to_string())));
    }

    #[tokio::test]
    async fn the_listener_holds_no_more_connections_than_the_limit() {
        use axum::serve::Listener;
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = tcp.local_addr().unwrap();
        let permits = LimitedListener::permits(1);
        let mut listener = LimitedListener::new(tcp, permits.clone());
        let _first_client = TcpStream::connect(address).await.unwrap();
        let (first, _) = listener.accept().await;
        let _second_client = TcpStream::connect(address).await.unwrap();
        // With the one slot taken, the second is not accepted...
        let mut second = Box::pin(listener.accept());
        assert!(
            futures::poll!(second.as_mut()).is_pending(),
            "accepted past the limit"
        );
        // ...until the first closes.
        drop(first);
        let (_second, _) = second.await;
        assert_eq!(permits.unwrap().available_permits(), 0);
    }
}
