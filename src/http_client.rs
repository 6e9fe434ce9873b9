//! The HTTP client factory (the role of prometheus/common's
//! `NewClientFromConfig`): builds a `reqwest` client from an
//! [`HttpClientConfig`] and applies its credentials to requests.
//! Credentials and header files are re-read on every request, as
//! Prometheus does, so rotated secrets take effect.
//!
//! Used by service discovery, remote write and remote read. The scrape
//! client and the notifier still build their own (not yet moved here).

use std::time::Duration;

use reqwest::{Client, RequestBuilder};

use crate::config::http_client::{HttpClientConfig, TlsVersion};

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

fn tls_version(version: TlsVersion) -> reqwest::tls::Version {
    match version {
        TlsVersion::TLS10 => reqwest::tls::Version::TLS_1_0,
        TlsVersion::TLS11 => reqwest::tls::Version::TLS_1_1,
        TlsVersion::TLS12 => reqwest::tls::Version::TLS_1_2,
        TlsVersion::TLS13 => reqwest::tls::Version::TLS_1_3,
    }
}

/// A client honouring TLS, redirects, HTTP/2 and proxy settings.
/// (`tls_config.server_name` is not applied: reqwest verifies against the
/// URL's host.)
pub fn build_client(
    config: &HttpClientConfig,
    timeout: Option<Duration>,
) -> Result<Client, HttpClientError> {
    let mut builder =
        Client::builder().user_agent(concat!("promshard/", env!("CARGO_PKG_VERSION")));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder = builder.redirect(if config.follow_redirects {
        reqwest::redirect::Policy::limited(10)
    } else {
        reqwest::redirect::Policy::none()
    });
    if !config.enable_http2 {
        builder = builder.http1_only();
    }
    let tls = &config.tls_config;
    let ca_pem = if !tls.ca.is_empty() {
        Some(tls.ca.as_bytes().to_vec())
    } else if !tls.ca_file.is_empty() {
        Some(read_file(&tls.ca_file, "ca_file")?)
    } else {
        None
    };
    if let Some(pem) = ca_pem {
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|error| client_error(format!("invalid CA certificate: {error}")))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    let certificate = if !tls.cert.is_empty() {
        Some(tls.cert.as_bytes().to_vec())
    } else if !tls.cert_file.is_empty() {
        Some(read_file(&tls.cert_file, "cert_file")?)
    } else {
        None
    };
    if let Some(mut identity_pem) = certificate {
        let key = if !tls.key.is_empty() {
            tls.key.expose().as_bytes().to_vec()
        } else {
            read_file(&tls.key_file, "key_file")?
        };
        identity_pem.push(b'\n');
        identity_pem.extend_from_slice(&key);
        let identity = reqwest::Identity::from_pem(&identity_pem)
            .map_err(|error| client_error(format!("invalid client certificate or key: {error}")))?;
        builder = builder.identity(identity);
    }
    if tls.insecure_skip_verify {
        builder = builder.danger_accept_invalid_certs(true);
    }
    if let Some(version) = tls.min_version {
        builder = builder.min_tls_version(tls_version(version));
    }
    if let Some(version) = tls.max_version {
        builder = builder.max_tls_version(tls_version(version));
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
pub fn authorize(
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
