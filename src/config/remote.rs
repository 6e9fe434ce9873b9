//! `remote_write[]` and `remote_read[]`: parsed and validated now; the
//! remote-storage issue adds behaviour.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::duration::PromDuration;
use super::http_client::{HttpClientConfig, config_struct_with_http_client};
use super::serde_helpers::null_as_default;
use crate::model::relabel::RelabelConfig;

/// `queue_config`: how a remote-write queue batches, shards and retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Samples buffered per shard; default 10000.
    pub capacity: u64,
    /// Most shards; default 50.
    pub max_shards: u64,
    /// Fewest shards; default 1.
    pub min_shards: u64,
    /// Largest batch; default 2000.
    pub max_samples_per_send: u64,
    /// Longest a partial batch waits; default 5s.
    pub batch_send_deadline: PromDuration,
    /// First retry delay; default 30ms.
    pub min_backoff: PromDuration,
    /// Longest retry delay; default 5s.
    pub max_backoff: PromDuration,
    /// Retry on HTTP 429 (honouring `Retry-After`). promshard's default is
    /// true, so a rate-limited receiver loses nothing; Prometheus 3's is false.
    pub retry_on_http_429: bool,
    /// Samples older than this are dropped instead of sent; 0 = never.
    pub sample_age_limit: PromDuration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2_000,
            batch_send_deadline: PromDuration::from_secs(5),
            min_backoff: PromDuration::from_millis(30),
            max_backoff: PromDuration::from_secs(5),
            retry_on_http_429: true,
            sample_age_limit: PromDuration::ZERO,
        }
    }
}

/// `metadata_config`: whether and how often metric metadata is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataConfig {
    /// Send metadata; default true.
    pub send: bool,
    /// How often; default 1m.
    pub send_interval: PromDuration,
    /// Largest metadata batch; default 2000.
    pub max_samples_per_send: u64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            send: true,
            send_interval: PromDuration::from_secs(60),
            max_samples_per_send: 2_000,
        }
    }
}

config_struct_with_http_client! {
    /// One `remote_write` entry.
    pub struct RemoteWriteConfig / RawRemoteWriteConfig {
        /// The receiver's URL; required.
        pub url: String,
        /// A unique name for metrics and logs; optional.
        pub name: String,
        /// Timeout per request; default 30s.
        pub remote_timeout: PromDuration,
        /// Extra headers (for example Mimir's `X-Scope-OrgID`).
        #[serde(deserialize_with = "null_as_default")]
        pub headers: BTreeMap<String, String>,
        /// Relabeling before sending.
        #[serde(deserialize_with = "null_as_default")]
        pub write_relabel_configs: Vec<RelabelConfig>,
        /// Send exemplars.
        pub send_exemplars: bool,
        /// Send native histograms.
        pub send_native_histograms: bool,
        /// Spread requests over the host's DNS records.
        pub round_robin_dns: bool,
        /// `prometheus.WriteRequest` (1.0, default) or `io.prometheus.write.v2.Request`.
        pub protobuf_message: String,
        /// Batching, sharding and retry.
        pub queue_config: QueueConfig,
        /// Metadata sending.
        pub metadata_config: MetadataConfig,
    }
}

impl Default for RemoteWriteConfig {
    fn default() -> Self {
        RemoteWriteConfig {
            url: String::new(),
            name: String::new(),
            remote_timeout: PromDuration::from_secs(30),
            headers: BTreeMap::new(),
            write_relabel_configs: Vec::new(),
            send_exemplars: false,
            send_native_histograms: false,
            round_robin_dns: false,
            protobuf_message: "prometheus.WriteRequest".to_string(),
            queue_config: QueueConfig::default(),
            metadata_config: MetadataConfig::default(),
            // Prometheus's remote-write client defaults to HTTP/1.1.
            http_client: HttpClientConfig {
                enable_http2: false,
                ..HttpClientConfig::default()
            },
        }
    }
}

config_struct_with_http_client! {
    /// One `remote_read` entry.
    pub struct RemoteReadConfig / RawRemoteReadConfig {
        /// The endpoint's URL; required.
        pub url: String,
        /// A unique name; optional.
        pub name: String,
        /// Timeout per request; default 1m.
        pub remote_timeout: PromDuration,
        /// Extra headers.
        #[serde(deserialize_with = "null_as_default")]
        pub headers: BTreeMap<String, String>,
        /// Also read ranges the local store holds.
        pub read_recent: bool,
        /// Only read when a query has these equality matchers.
        #[serde(deserialize_with = "null_as_default")]
        pub required_matchers: BTreeMap<String, String>,
        /// Add external labels as matchers; default true.
        pub filter_external_labels: bool,
        /// Largest frame of a chunked (streamed) read response; default 50MB.
        pub chunked_read_limit: u64,
    }
}

impl Default for RemoteReadConfig {
    fn default() -> Self {
        RemoteReadConfig {
            url: String::new(),
            name: String::new(),
            remote_timeout: PromDuration::from_secs(60),
            headers: BTreeMap::new(),
            read_recent: false,
            required_matchers: BTreeMap::new(),
            filter_external_labels: true,
            chunked_read_limit: 50_000_000,
            http_client: HttpClientConfig::default(),
        }
    }
}

/// Headers a remote-write/read config may not set (Prometheus's list).
pub(crate) const RESERVED_REMOTE_HEADERS: [&str; 13] = [
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
];
