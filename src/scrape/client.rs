//! The HTTP side of a scrape: one client per pool, one GET per scrape, the
//! body read under a size limit.

use std::time::Duration;

use reqwest::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT,
};

use super::ScrapeError;
use super::settings::{HttpClientSettings, ScrapeProtocol, accept_header};
use crate::model::textparse::Format;

/// The User-Agent sent with every scrape.
pub const SCRAPE_USER_AGENT: &str = concat!("promshard/", env!("CARGO_PKG_VERSION"));

/// The header telling the target how long it has to answer.
pub const SCRAPE_TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

/// The format to parse a body with: by its `Content-Type`; when that is
/// empty or names neither text format, `fallback` (default: text 0.0.4).
pub fn body_format(content_type: &str, fallback: Option<ScrapeProtocol>) -> Format {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let known = media_type.eq_ignore_ascii_case("text/plain")
        || media_type.eq_ignore_ascii_case("application/openmetrics-text");
    if known {
        return Format::from_content_type(content_type);
    }
    match fallback {
        Some(ScrapeProtocol::OpenMetricsText0_0_1 | ScrapeProtocol::OpenMetricsText1_0_0) => {
            Format::OpenMetrics
        }
        _ => Format::PrometheusText,
    }
}

/// A scraped body and its content type.
#[derive(Debug, Clone)]
pub struct ScrapedBody {
    /// The (decompressed) body.
    pub body: Vec<u8>,
    /// The response's `Content-Type`, empty when absent.
    pub content_type: String,
}

/// Issues scrapes for one pool.
#[derive(Debug, Clone)]
pub struct ScrapeClient {
    client: reqwest::Client,
    settings: HttpClientSettings,
    accept: HeaderValue,
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, ScrapeError> {
    std::fs::read(path).map_err(|error| ScrapeError::ClientFile {
        path: path.display().to_string(),
        message: error.to_string(),
    })
}

fn read_secret(path: &std::path::Path) -> Result<String, ScrapeError> {
    let bytes = read_file(path)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

impl ScrapeClient {
    /// Builds a client from a pool's HTTP settings. Fails when a TLS file
    /// cannot be read or parsed.
    pub fn new(
        settings: &HttpClientSettings,
        protocols: &[ScrapeProtocol],
    ) -> Result<Self, ScrapeError> {
        let redirect_policy = if settings.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        let mut builder = reqwest::Client::builder()
            .redirect(redirect_policy)
            .gzip(settings.enable_compression)
            .pool_idle_timeout(Duration::from_secs(300));
        if !settings.enable_http2 {
            builder = builder.http1_only();
        }
        let tls = &settings.tls;
        if tls.server_name.is_some() {
            return Err(ScrapeError::Unsupported(
                "tls_config.server_name".to_string(),
            ));
        }
        if let Some(proxy_url) = &settings.proxy_url {
            let proxy = reqwest::Proxy::all(proxy_url)
                .map_err(|error| ScrapeError::Unsupported(format!("proxy_url: {error}")))?;
            builder = builder.proxy(proxy);
        }
        let ca_pem = match (&tls.ca, &tls.ca_file) {
            (_, Some(ca_file)) => Some(read_file(ca_file)?),
            (Some(inline), None) => Some(inline.as_bytes().to_vec()),
            (None, None) => None,
        };
        if let Some(pem) = ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|error| ScrapeError::Tls(error.to_string()))?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let cert_pem = match (&tls.cert, &tls.cert_file) {
            (_, Some(file)) => Some(read_file(file)?),
            (Some(inline), None) => Some(inline.as_bytes().to_vec()),
            (None, None) => None,
        };
        let key_pem = match (&tls.key, &tls.key_file) {
            (_, Some(file)) => Some(read_file(file)?),
            (Some(inline), None) => Some(inline.as_bytes().to_vec()),
            (None, None) => None,
        };
        match (cert_pem, key_pem) {
            (Some(mut pem), Some(key)) => {
                pem.push(b'\n');
                pem.extend_from_slice(&key);
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|error| ScrapeError::Tls(error.to_string()))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(ScrapeError::Tls(
                    "a client certificate and key must both be set".to_string(),
                ));
            }
        }
        if tls.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let client = builder
            .build()
            .map_err(|error| ScrapeError::Tls(error.to_string()))?;
        let accept = HeaderValue::from_str(&accept_header(protocols))
            .map_err(|error| ScrapeError::Unsupported(error.to_string()))?;
        Ok(ScrapeClient {
            client,
            settings: settings.clone(),
            accept,
        })
    }

    fn authorization_header(&self) -> Result<Option<String>, ScrapeError> {
        if let Some(basic) = &self.settings.basic_auth {
            let password = match (&basic.password, &basic.password_file) {
                (_, Some(file)) => read_secret(file)?,
                (Some(password), None) => password.clone(),
                (None, None) => String::new(),
            };
            let token = base64_encode(format!("{}:{}", basic.username, password).as_bytes());
            return Ok(Some(format!("Basic {token}")));
        }
        if let Some(authorization) = &self.settings.authorization {
            let credentials = match (&authorization.credentials, &authorization.credentials_file) {
                (_, Some(file)) => read_secret(file)?,
                (Some(credentials), None) => credentials.clone(),
                (None, None) => String::new(),
            };
            return Ok(Some(format!(
                "{} {}",
                authorization.credentials_type, credentials
            )));
        }
        Ok(None)
    }

    /// GETs `url` within `timeout`, reading at most `body_size_limit` bytes
    /// of decompressed body (0: no limit). The body is streamed, so an
    /// endless or huge response costs at most the limit in memory.
    pub async fn scrape(
        &self,
        url: &str,
        timeout: Duration,
        body_size_limit: u64,
    ) -> Result<ScrapedBody, ScrapeError> {
        let fetch = async {
            let mut request = self.client.get(url);
            for (name, value) in &self.settings.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            if !self.settings.enable_compression {
                request = request.header(ACCEPT_ENCODING, "identity");
            }
            request = request
                .header(ACCEPT, self.accept.clone())
                .header(USER_AGENT, SCRAPE_USER_AGENT)
                .header(SCRAPE_TIMEOUT_HEADER, format!("{}", timeout.as_secs_f64()));
            if let Some(authorization) = self.authorization_header()? {
                request = request.header(AUTHORIZATION, authorization);
            }
            let mut response = request.send().await.map_err(http_error)?;
            let status = response.status();
            if !status.is_success() {
                return Err(ScrapeError::HttpStatus(status.to_string()));
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
                .to_string();
            let capacity = response
                .content_length()
                .unwrap_or(0)
                .min(if body_size_limit == 0 {
                    1 << 20
                } else {
                    body_size_limit
                }) as usize;
            let mut body = Vec::with_capacity(capacity);
            while let Some(chunk) = response.chunk().await.map_err(http_error)? {
                if body_size_limit > 0 && (body.len() + chunk.len()) as u64 > body_size_limit {
                    return Err(ScrapeError::BodySizeLimit);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(ScrapedBody { body, content_type })
        };
        match tokio::time::timeout(timeout, fetch).await {
            Ok(result) => result,
            Err(_) => Err(ScrapeError::Timeout(timeout)),
        }
    }
}

fn http_error(error: reqwest::Error) -> ScrapeError {
    if error.is_timeout() {
        return ScrapeError::Http("context deadline exceeded".to_string());
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ScrapeError::Http(message)
}

/// Standard base64 with padding, for basic auth.
fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(ALPHABET[(n >> 18) as usize & 63] as char);
        out.push(ALPHABET[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            ALPHABET[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_format_follows_content_type_then_fallback() {
        let open_metrics = Some(ScrapeProtocol::OpenMetricsText1_0_0);
        let cases = [
            (
                "application/openmetrics-text; version=1.0.0",
                None,
                Format::OpenMetrics,
            ),
            (
                "text/plain; version=0.0.4",
                open_metrics,
                Format::PrometheusText,
            ),
            ("", None, Format::PrometheusText),
            ("", open_metrics, Format::OpenMetrics),
            ("application/json", open_metrics, Format::OpenMetrics),
        ];
        for (content_type, fallback, expected) in cases {
            assert_eq!(
                body_format(content_type, fallback),
                expected,
                "{content_type:?}"
            );
        }
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("user:pass", "dXNlcjpwYXNz"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64_encode(input.as_bytes()), expected);
        }
    }

    #[test]
    fn credentials_are_reread_from_file_each_scrape() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "first\n").unwrap();
        let settings = HttpClientSettings {
            authorization: Some(super::super::settings::Authorization {
                credentials_file: Some(token_file.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let client = ScrapeClient::new(&settings, &ScrapeProtocol::DEFAULT).unwrap();
        assert_eq!(
            client.authorization_header().unwrap().as_deref(),
            Some("Bearer first")
        );
        std::fs::write(&token_file, "second").unwrap();
        assert_eq!(
            client.authorization_header().unwrap().as_deref(),
            Some("Bearer second")
        );
    }
}
