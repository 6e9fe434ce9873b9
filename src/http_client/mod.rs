//! The HTTP client factory (the role of prometheus/common's
//! `NewClientFromConfig`): [`HttpClient`] is built from an
//! [`HttpClientConfig`] and applies its credentials to each request.
//! Credential and header files are re-read on every request, as
//! Prometheus does, so rotated secrets take effect.
//!
//! Used by scrape, service discovery, the notifier and the receivers,
//! remote write and remote read.

mod oauth2;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, IntoUrl, RequestBuilder};

use crate::config::http_client::HttpClientConfig;

/// A client that cannot be built or a credential that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HttpClientError(pub String);

fn client_error(message: impl Into<String>) -> HttpClientError {
    HttpClientError(message.into())
}

fn read_file(path: &str, what: &str) -> Result<Vec<u8>, HttpClientError> {
    std::fs::read(path)
        .map_err(|error| client_error(format!("cannot read {what} {path:?}: {error}")))
}

fn read_trimmed(path: &str, what: &str) -> Result<String, HttpClientError> {
    let bytes = read_file(path, what)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

/// What a caller sets beyond the `http_client` settings.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// The whole-request timeout (none: the caller bounds each request).
    pub timeout: Option<Duration>,
    /// Do not ask for or decode gzip (scrape's `enable_compression: false`).
    pub no_gzip: bool,
    /// How long an idle connection is kept (default: reqwest's 90 s).
    pub pool_idle_timeout: Option<Duration>,
}

impl ClientOptions {
    /// Only a whole-request timeout.
    pub fn with_timeout(timeout: Option<Duration>) -> Self {
        ClientOptions {
            timeout,
            ..ClientOptions::default()
        }
    }
}

/// A client built from `http_client` settings: TLS, proxy, redirects and
/// HTTP/2 when built, credentials and headers per request. Cheap to clone
/// (clones share connections and the cached OAuth 2.0 token).
#[derive(Clone)]
pub struct HttpClient {
    client: Client,
    config: Arc<HttpClientConfig>,
    oauth2: Option<Arc<oauth2::TokenSource>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HttpClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client; fails when a TLS file cannot be read or parsed,
    /// or a proxy setting is unusable.
    pub fn new(
        config: &HttpClientConfig,
        options: &ClientOptions,
    ) -> Result<Self, HttpClientError> {
        let client = build_reqwest(config, options)?;
        let oauth2 = match &config.oauth2 {
            Some(oauth2) => {
                let token_client = build_reqwest(
                    &oauth2.token_client_config(),
                    &ClientOptions::with_timeout(options.timeout),
                )?;
                Some(Arc::new(oauth2::TokenSource::new(
                    oauth2.clone(),
                    token_client,
                )))
            }
            None => None,
        };
        Ok(HttpClient {
            client,
            config: Arc::new(config.clone()),
            oauth2,
        })
    }

    /// A GET request, without credentials yet (see [`HttpClient::authorize`]).
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.client.get(url)
    }

    /// A POST request, without credentials yet (see [`HttpClient::authorize`]).
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.client.post(url)
    }

    /// Adds basic auth, the `Authorization` header (or an OAuth 2.0 token,
    /// fetched when none is cached) and `http_headers`, reading any
    /// credential or header file now.
    pub async fn authorize(
        &self,
        request: RequestBuilder,
    ) -> Result<RequestBuilder, HttpClientError> {
        let mut request = authorize(request, &self.config)?;
        if let Some(source) = &self.oauth2 {
            request = request.header(reqwest::header::AUTHORIZATION, source.header().await?);
        }
        Ok(request)
    }
}

/// The reqwest client for `config`: TLS, redirects, HTTP/2 and proxy.
fn build_reqwest(
    config: &HttpClientConfig,
    options: &ClientOptions,
) -> Result<Client, HttpClientError> {
    let mut builder = Client::builder()
        .user_agent(concat!("promshard/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls::client_config(&config.tls_config, config.enable_http2)?);
    if let Some(timeout) = options.timeout {
        builder = builder.timeout(timeout);
    }
    if options.no_gzip {
        builder = builder.gzip(false);
    }
    if let Some(idle) = options.pool_idle_timeout {
        builder = builder.pool_idle_timeout(idle);
    }
    builder = builder.redirect(if config.follow_redirects {
        reqwest::redirect::Policy::limited(10)
    } else {
        reqwest::redirect::Policy::none()
    });
    if !config.enable_http2 {
        builder = builder.http1_only();
    }
    if !config.proxy_url.is_empty() {
        let mut proxy = reqwest::Proxy::all(&config.proxy_url)
            .map_err(|error| client_error(format!("invalid proxy_url: {error}")))?
            .no_proxy(reqwest::NoProxy::from_string(&config.no_proxy));
        if !config.proxy_connect_header.is_empty() {
            let mut headers = reqwest::header::HeaderMap::new();
            for (name, values) in &config.proxy_connect_header {
                let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| client_error(format!("proxy_connect_header {name:?}: {e}")))?;
                for value in values {
                    let value = reqwest::header::HeaderValue::from_str(value.expose())
                        .map_err(|e| client_error(format!("proxy_connect_header {name}: {e}")))?;
                    headers.append(name.clone(), value);
                }
            }
            proxy = proxy.headers(headers);
        }
        builder = builder.proxy(proxy);
    } else if !config.proxy_from_environment {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|error| {
        // reqwest's "builder error" says what failed only in its sources.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        client_error(message)
    })
}

/// Adds basic auth, the `Authorization` header and `http_headers`.
fn authorize(
    mut request: RequestBuilder,
    config: &HttpClientConfig,
) -> Result<RequestBuilder, HttpClientError> {
    if let Some(basic_auth) = &config.basic_auth {
        let username = if basic_auth.username_file.is_empty() {
            basic_auth.username.clone()
        } else {
            read_trimmed(&basic_auth.username_file, "username_file")?
        };
        let password = if basic_auth.password_file.is_empty() {
            basic_auth.password.expose().to_string()
        } else {
            read_trimmed(&basic_auth.password_file, "password_file")?
        };
        request = request.basic_auth(username, Some(password));
    }
    if let Some(authorization) = &config.authorization {
        let credentials = if authorization.credentials_file.is_empty() {
            authorization.credentials.expose().to_string()
        } else {
            read_trimmed(&authorization.credentials_file, "credentials_file")?
        };
        request = request.header(
            reqwest::header::AUTHORIZATION,
            format!("{} {credentials}", authorization.auth_type.trim()),
        );
    }
    for (name, values) in &config.http_headers {
        for value in &values.values {
            request = request.header(name.as_str(), value.as_str());
        }
        for secret in &values.secrets {
            request = request.header(name.as_str(), secret.expose());
        }
        for file in &values.files {
            request = request.header(name.as_str(), read_trimmed(file, "header file")?);
        }
    }
    Ok(request)
}
