//! The one client for node-to-node calls, and the one idea of who the
//! peers are: the live members of the membership view, this node left out
//! ([`super::global::GlobalQueryView::peers`]).
//!
//! - samples: Prometheus remote read (`/api/v1/read?local=true`), through
//!   [`PeerClient::read_client`];
//! - label names and values: the label endpoints (`/api/v1/labels`,
//!   `/api/v1/label/{name}/values`, with `local=true`), so a label query
//!   does not pull every sample over remote read;
//! - rules and alerts: their JSON endpoints (`local=true`);
//! - silences: Alertmanager's API v2 (`POST /api/v2/silences`), retried by
//!   [`crate::notify::silence_sync`].
//!
//! Every call asks for the peer's own shard only, so nothing recurses
//! through the cluster, and gives up after the peer timeout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::config::http_client::HttpClientConfig;
use crate::http_client::{ClientOptions, HttpClient};
use crate::model::Matcher;
use crate::remote::read_client::{ReadClientSettings, RemoteReadClient};

/// A live member other than this node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Peer {
    /// Its node id.
    pub node_id: String,
    /// Where it serves its API (`host:port`, or a URL with a scheme).
    pub address: String,
}

/// Who the peers are now; called on every use, so it follows the view.
pub type PeerList = Arc<dyn Fn() -> Vec<Peer> + Send + Sync>;

use crate::notify::alertmanager::FORWARDED_HEADER;

/// Node-to-node calls. Cheap to clone.
#[derive(Clone)]
pub struct PeerClient {
    http: HttpClient,
    peers: PeerList,
    timeout: Duration,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PeerClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The base URL of a peer at `address`.
pub fn base_url(address: &str) -> String {
    if address.starts_with("http://") || address.starts_with("https://") {
        address.trim_end_matches('/').to_string()
    } else {
        format!("http://{address}")
    }
}

/// A time in milliseconds as an API parameter (seconds), or `None` for
/// the open ends queriers use for "all time".
fn time_param(ms: i64) -> Option<String> {
    const OPEN_END_MS: i64 = 9_223_372_036_854_775;
    (ms.unsigned_abs() < OPEN_END_MS as u64)
        .then(|| format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000)))
}

/// The `match[]` selector for `matchers` (none when empty).
fn selector(matchers: &[Matcher]) -> Option<String> {
    if matchers.is_empty() {
        return None;
    }
    let parts: Vec<String> = matchers.iter().map(Matcher::to_string).collect();
    Some(format!("{{{}}}", parts.join(",")))
}

/// A Prometheus-shaped answer's `data`, or what went wrong.
async fn api_data(response: reqwest::Response) -> Result<Value, String> {
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    match body.get("data") {
        Some(data) if status.is_success() => Ok(data.clone()),
        _ => Err(format!("status {status}: {body}")),
    }
}

impl PeerClient {
    /// A client asking the members `peers` lists, each call bounded by
    /// `timeout`.
    pub fn new(peers: PeerList, timeout: Duration) -> Result<Self, String> {
        let http = HttpClient::new(&HttpClientConfig::default(), &ClientOptions::default())
            .map_err(|e| e.to_string())?;
        Ok(PeerClient {
            http,
            peers,
            timeout,
        })
    }

    /// The same client (sharing its connections) asking `peers`.
    pub fn with_peers(&self, peers: PeerList) -> Self {
        PeerClient {
            http: self.http.clone(),
            peers,
            timeout: self.timeout,
        }
    }

    /// The live peers now.
    pub fn peers(&self) -> Vec<Peer> {
        (self.peers)()
    }

    /// A remote-read client for a peer's local shard, named `name` in
    /// warnings, giving up after `timeout`.
    pub fn read_client(
        &self,
        name: &str,
        address: &str,
        timeout: Duration,
    ) -> Result<RemoteReadClient, String> {
        RemoteReadClient::new(ReadClientSettings {
            name: name.to_string(),
            url: format!("{}/api/v1/read?local=true", base_url(address)),
            timeout,
            headers: BTreeMap::new(),
            http_client: HttpClientConfig::default(),
            required_matchers: BTreeMap::new(),
            external_labels: crate::model::Labels::empty(),
        })
    }

    /// GETs `path` at `address` with `params` and `local=true`; the
    /// answer's `data`.
    pub async fn get_data(
        &self,
        address: &str,
        path: &str,
        params: &[(String, String)],
        timeout: Duration,
    ) -> Result<Value, String> {
        let response = self
            .http
            .get(format!("{}{path}", base_url(address)))
            .query(params)
            .query(&[("local", "true")])
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        api_data(response).await
    }

    /// Asks every peer for `path` (with `params` and `local=true`), all at
    /// once; each answer's `data`, and a warning per peer that failed.
    pub async fn ask_all(
        &self,
        path: &str,
        params: &[(String, String)],
    ) -> (Vec<Value>, Vec<String>) {
        let requests = self.peers().into_iter().map(|peer| async move {
            self.get_data(&peer.address, path, params, self.timeout)
                .await
                .map_err(|error| format!("peer {}: {error}", peer.address))
        });
        let mut data = Vec::new();
        let mut warnings = Vec::new();
        for answer in futures::future::join_all(requests).await {
            match answer {
                Ok(value) => data.push(value),
                Err(warning) => warnings.push(warning),
            }
        }
        (data, warnings)
    }

    fn label_params(mint: i64, maxt: i64, matchers: &[Matcher]) -> Vec<(String, String)> {
        let mut params = Vec::new();
        if let Some(start) = time_param(mint) {
            params.push(("start".to_string(), start));
        }
        if let Some(end) = time_param(maxt) {
            params.push(("end".to_string(), end));
        }
        if let Some(selector) = selector(matchers) {
            params.push(("match[]".to_string(), selector));
        }
        params
    }

    /// The label names of a peer's shard (`/api/v1/labels`), or with
    /// `name` the values of that label (`/api/v1/label/{name}/values`).
    pub async fn labels(
        &self,
        address: &str,
        name: Option<&str>,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
        timeout: Duration,
    ) -> Result<Vec<String>, String> {
        let params = Self::label_params(mint, maxt, matchers);
        let path = match name {
            None => "/api/v1/labels".to_string(),
            Some(name) => {
                let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
                format!("/api/v1/label/{name}/values")
            }
        };
        let data = self.get_data(address, &path, &params, timeout).await?;
        serde_json::from_value(data).map_err(|e| format!("{path}: {e}"))
    }

    /// POSTs a silence, as stored here, to a peer's Alertmanager API
    /// (marked forwarded, so the peer keeps it as it is and does not pass
    /// it on), with `authorization` when the API guards silences.
    pub async fn post_silence(
        &self,
        address: &str,
        silence: &Value,
        authorization: Option<&str>,
    ) -> Result<(), String> {
        let mut request = self
            .http
            .post(format!("{}/api/v2/silences", base_url(address)))
            .header(FORWARDED_HEADER, "true")
            .timeout(self.timeout)
            .json(silence);
        if let Some(authorization) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(format!("status {status}: {}", body.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MatchType;

    #[test]
    fn label_queries_carry_the_window_and_the_selector() {
        let matchers = [
            Matcher::new(MatchType::Equal, "job", "a\"b").unwrap(),
            Matcher::new(MatchType::Regex, "instance", "x.*").unwrap(),
        ];
        assert_eq!(
            PeerClient::label_params(1_500, -2_250, &matchers),
            [
                ("start".to_string(), "1.500".to_string()),
                ("end".to_string(), "-3.750".to_string()),
                (
                    "match[]".to_string(),
                    r#"{job="a\"b",instance=~"x.*"}"#.to_string()
                ),
            ]
        );
        assert!(PeerClient::label_params(i64::MIN, i64::MAX, &[]).is_empty());
    }

    #[test]
    fn addresses_become_base_urls() {
        assert_eq!(base_url("10.0.0.1:9090"), "http://10.0.0.1:9090");
        assert_eq!(base_url("https://n1:9090/"), "https://n1:9090");
    }
}
