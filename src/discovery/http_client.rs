//! Service discovery's use of the crate's HTTP client factory, with its
//! errors as [`DiscoveryError`]s.

use std::time::Duration;

use reqwest::{Client, RequestBuilder};

use super::DiscoveryError;
use crate::config::http_client::HttpClientConfig;

/// [`crate::http_client::build_client`].
pub fn build_client(
    config: &HttpClientConfig,
    timeout: Option<Duration>,
) -> Result<Client, DiscoveryError> {
    crate::http_client::build_client(config, timeout).map_err(|e| DiscoveryError::HttpClient(e.0))
}

/// [`crate::http_client::authorize`].
pub fn authorize(
    request: RequestBuilder,
    config: &HttpClientConfig,
) -> Result<RequestBuilder, DiscoveryError> {
    crate::http_client::authorize(request, config).map_err(|e| DiscoveryError::HttpClient(e.0))
}
