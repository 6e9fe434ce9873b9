//! HTTP-based discovery (`http_sd_configs`): GET a JSON list of target
//! groups every `refresh_interval`; on failure keep the last good result.

use std::time::Duration;

use prometheus::IntCounter;
use tokio_util::sync::CancellationToken;

use super::DiscoveryError;
use super::target_group::{GroupFormat, TargetGroup, parse_target_groups};
use crate::config::HttpSdConfig;
use crate::http_client::{ClientOptions, HttpClient};

/// The label holding the URL a target came from.
pub const META_URL_LABEL: &str = "__meta_url";

/// One `http_sd_configs` entry's provider.
pub struct HttpDiscovery {
    config: HttpSdConfig,
    client: HttpClient,
    last_good_groups: Vec<TargetGroup>,
    failures: Option<IntCounter>,
}

impl HttpDiscovery {
    /// A provider for `config`; `failures` counts failed refreshes.
    pub fn new(config: HttpSdConfig, failures: Option<IntCounter>) -> Result<Self, DiscoveryError> {
        let timeout = config
            .refresh_interval
            .as_duration()
            .max(Duration::from_secs(1));
        let client = HttpClient::new(
            &config.http_client,
            &ClientOptions::with_timeout(Some(timeout)),
        )?;
        Ok(HttpDiscovery {
            config,
            client,
            last_good_groups: Vec::new(),
            failures,
        })
    }

    /// Fetches and decodes the endpoint's groups.
    pub async fn fetch(&self) -> Result<Vec<TargetGroup>, DiscoveryError> {
        let url = &self.config.url;
        let http_error = |message: String| DiscoveryError::Http {
            url: url.clone(),
            message,
        };
        let request = self.client.get(url).header(
            "X-Prometheus-Refresh-Interval-Seconds",
            self.config
                .refresh_interval
                .as_duration()
                .as_secs()
                .to_string(),
        );
        let request = self.client.authorize(request).await?;
        let response = request
            .send()
            .await
            .map_err(|error| http_error(error.to_string()))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(http_error(format!(
                "server returned HTTP status {}",
                response.status()
            )));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if media_type != "application/json" {
            return Err(http_error(format!(
                "unsupported content type {content_type:?}"
            )));
        }
        let body = response
            .text()
            .await
            .map_err(|error| http_error(error.to_string()))?;
        parse_target_groups(&body, GroupFormat::Json, url, &[(META_URL_LABEL, url)])
    }

    /// Fetches; on failure logs, counts and returns the last good groups.
    pub async fn refresh(&mut self) -> Vec<TargetGroup> {
        match self.fetch().await {
            Ok(groups) => self.last_good_groups = groups,
            Err(error) => {
                tracing::error!(url = %self.config.url, %error, "http_sd refresh failed, keeping the last good targets");
                if let Some(counter) = &self.failures {
                    counter.inc();
                }
            }
        }
        self.last_good_groups.clone()
    }

    /// Refreshes now and every `refresh_interval`, calling `publish` when
    /// the groups differ from the last published.
    pub async fn run(self, publish: impl Fn(Vec<TargetGroup>) + Send, cancel: CancellationToken) {
        let interval = self.config.refresh_interval.as_duration();
        crate::discovery::refresh::run(self, interval, publish, cancel).await;
    }
}

#[async_trait::async_trait]
impl crate::discovery::refresh::Refresh for HttpDiscovery {
    async fn refresh(&mut self) -> Vec<TargetGroup> {
        HttpDiscovery::refresh(self).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::http::{StatusCode, header};
    use axum::routing::get;

    use super::*;
    use crate::model::labels::ADDRESS_LABEL;

    /// Serves good JSON on the first call, then a 500, then a wrong
    /// content type, then good JSON with two targets.
    async fn serve_sequence() -> String {
        let calls = Arc::new(AtomicUsize::new(0));
        let app = Router::new().route(
            "/targets",
            get(move |headers: axum::http::HeaderMap| {
                let calls = calls.clone();
                async move {
                    assert_eq!(
                        headers
                            .get(header::AUTHORIZATION)
                            .and_then(|value| value.to_str().ok()),
                        Some("Bearer token-1")
                    );
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 => (
                            StatusCode::OK,
                            [(header::CONTENT_TYPE, "application/json")],
                            r#"[{"targets":["a:1"],"labels":{"dc":"x"}}]"#.to_string(),
                        ),
                        1 => (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            [(header::CONTENT_TYPE, "application/json")],
                            "oops".to_string(),
                        ),
                        2 => (
                            StatusCode::OK,
                            [(header::CONTENT_TYPE, "text/plain")],
                            "[]".to_string(),
                        ),
                        _ => (
                            StatusCode::OK,
                            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                            r#"[{"targets":["a:1","b:2"]}]"#.to_string(),
                        ),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("{error}"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}/targets")
    }

    #[tokio::test]
    async fn keeps_last_good_result_on_failures_and_counts_them() {
        let url = serve_sequence().await;
        let config = HttpSdConfig {
            url: url.clone(),
            http_client: crate::config::HttpClientConfig {
                authorization: Some(crate::config::Authorization {
                    credentials: crate::config::Secret("token-1".to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..HttpSdConfig::default()
        };
        let failures =
            IntCounter::new("failures", "failures").unwrap_or_else(|error| panic!("{error}"));
        let mut discovery = HttpDiscovery::new(config, Some(failures.clone()))
            .unwrap_or_else(|error| panic!("{error}"));
        let first = discovery.refresh().await;
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].source, format!("{url}:0"));
        assert_eq!(first[0].labels.get(META_URL_LABEL), Some(url.as_str()));
        assert_eq!(first[0].labels.get("dc"), Some("x"));
        assert_eq!(
            discovery.refresh().await,
            first,
            "HTTP 500 keeps the last good groups"
        );
        assert_eq!(
            discovery.refresh().await,
            first,
            "a wrong content type keeps the last good groups"
        );
        assert_eq!(failures.get(), 2);
        let latest = discovery.refresh().await;
        assert_eq!(latest[0].targets[1].get(ADDRESS_LABEL), Some("b:2"));
    }
}
