//! Scrape pools and loops: turn discovered targets into per-target loops
//! that fetch `/metrics`, parse, relabel, apply limits and write one
//! transaction per scrape through [`crate::storage::Appendable`], with the
//! `up` / `scrape_*` series, staleness markers and per-target metadata, as
//! Prometheus does.
//!
//! Layout: [`settings`] (what a pool needs), [`target`] (target labels and
//! health), [`client`] (HTTP), [`append`] (one scrape's body into one
//! appender, with the series cache), [`scrape_loop`] (the timed loop),
//! [`pool`] (one job's targets), [`manager`] (all pools, the entry point),
//! [`metrics`] (self-metrics).

pub mod append;
pub mod client;
pub mod from_config;
pub mod manager;
pub mod metrics;
pub mod pool;
pub mod scrape_loop;
pub mod settings;
pub mod target;
#[cfg(test)]
pub(crate) mod testutil;

pub use manager::{
    ActiveTargetView, DroppedTargetView, ScrapeManager, ScrapeOptions, TargetMetadata,
};
pub use settings::{ScrapeLimits, ScrapeProtocol, ScrapeSettings, TargetGroup};
pub use target::{Target, TargetHealth};

use std::time::Duration;

/// Why a scrape (or setting up a pool) failed. A scrape error makes `up` 0
/// and becomes the target's `lastError`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScrapeError {
    /// The request failed (connection refused, reset, ...).
    #[error("{0}")]
    Http(String),
    /// The target answered with a non-2xx status.
    #[error("server returned HTTP status {0}")]
    HttpStatus(String),
    /// No complete answer within the scrape timeout.
    #[error("context deadline exceeded (timeout {0:?})")]
    Timeout(Duration),
    /// The body was larger than `body_size_limit`.
    #[error("body size limit exceeded")]
    BodySizeLimit,
    /// More samples than `sample_limit` after metric relabeling.
    #[error("sample limit exceeded")]
    SampleLimit,
    /// A series over `label_limit` or a label length limit.
    #[error("{0}")]
    LabelLimit(String),
    /// The body did not parse.
    #[error("parse error at line {line}: {message}")]
    Parse {
        /// 1-based line of the error.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// A series without a metric name after relabeling.
    #[error("no metric name (__name__ label) in series {0}")]
    NoMetricName(String),
    /// The store refused the whole transaction.
    #[error("storage error: {0}")]
    Storage(String),
    /// The pool has more targets than `target_limit`.
    #[error("target_limit exceeded (number of targets: {targets}, limit: {limit})")]
    TargetLimit {
        /// Active targets.
        targets: usize,
        /// The limit.
        limit: u64,
    },
    /// The HTTP client could not be built (a TLS file, a proxy setting).
    #[error("http client: {0}")]
    HttpClient(String),
    /// A credential could not be read or an OAuth 2.0 token not fetched.
    #[error("{0}")]
    Credentials(String),
    /// A setting this implementation does not support.
    #[error("unsupported setting: {0}")]
    Unsupported(String),
    /// Self-metrics could not be registered.
    #[error("registering metrics: {0}")]
    Metrics(String),
    /// Not called inside a tokio runtime.
    #[error("the scrape manager must be created inside a tokio runtime")]
    NoRuntime,
}

impl From<prometheus::Error> for ScrapeError {
    fn from(error: prometheus::Error) -> Self {
        ScrapeError::Metrics(error.to_string())
    }
}
