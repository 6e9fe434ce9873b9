//! The HTTP side of a scrape: one client per pool, one GET per scrape, the
//! body read under a size limit.

use std::time::Duration;

use reqwest::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_TYPE, HeaderValue, USER_AGENT};

use super::ScrapeError;
use super::settings::{HttpClientSettings, ScrapeProtocol, accept_header};
use crate::http_client::{ClientOptions, HttpClient};
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
    client: HttpClient,
    enable_compression: bool,
    accept: HeaderValue,
}

impl ScrapeClient {
    /// Builds a client from a pool's HTTP settings through the crate's
    /// client factory. Fails when a TLS file cannot be read or parsed.
    pub fn new(
        settings: &HttpClientSettings,
        protocols: &[ScrapeProtocol],
    ) -> Result<Self, ScrapeError> {
        let client = HttpClient::new(
            &settings.http_client,
            &ClientOptions {
                timeout: None,
                no_gzip: !settings.enable_compression,
                pool_idle_timeout: Some(Duration::from_secs(300)),
            },
        )
        .map_err(|error| ScrapeError::HttpClient(error.0))?;
        let accept = HeaderValue::from_str(&accept_header(protocols))
            .map_err(|error| ScrapeError::Unsupported(error.to_string()))?;
        Ok(ScrapeClient {
            client,
            enable_compression: settings.enable_compression,
            accept,
        })
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
            if !self.enable_compression {
                request = request.header(ACCEPT_ENCODING, "identity");
            }
            request = request
                .header(ACCEPT, self.accept.clone())
                .header(USER_AGENT, SCRAPE_USER_AGENT)
                .header(SCRAPE_TIMEOUT_HEADER, format!("{}", timeout.as_secs_f64()));
            let request = self
                .client
                .authorize(request)
                .await
                .map_err(|error| ScrapeError::Credentials(error.0))?;
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
}
