//! Service discovery: static, file and HTTP sources of target groups.
//!
//! A [`DiscoveryManager`] runs one provider per discovery config of each
//! job and publishes the full current set of [`TargetGroup`]s per job on a
//! `watch` channel. Reloading with unchanged configs keeps their providers
//! (and their targets) without a re-discovery gap.
//!
//! Wiring, in outline:
//!
//! ```text
//! let manager = Arc::new(DiscoveryManager::new(&registry));
//! manager.apply_config(&config.scrape_sd_configs())?;   // also on every reload
//! tokio::spawn({ let m = manager.clone(); async move { m.run(cancel).await } });
//! let mut targets = manager.subscribe();                 // job -> Vec<TargetGroup>
//! while targets.changed().await.is_ok() { scrape_manager.sync(targets.borrow().clone()) }
//! ```

pub mod dns;
pub mod file;
pub mod http;
pub mod kubernetes;
mod manager;
mod metrics;
pub mod refresh;
pub mod target_group;

pub use manager::{DEFAULT_UPDATE_INTERVAL, DiscoveryManager, DiscoveryState};
pub use target_group::{TargetGroup, parse_target_groups};

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Target groups could not be decoded.
    #[error("{source_name}: {message}")]
    Decode {
        /// The file or URL.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// A file's extension is neither JSON nor YAML.
    #[error("invalid file extension {extension:?} for {path}")]
    Extension {
        /// The file.
        path: String,
        /// The extension found.
        extension: String,
    },
    /// A glob pattern is malformed.
    #[error("invalid file pattern {pattern:?}: {message}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// A discovery config that cannot be run.
    #[error("invalid discovery config: {0}")]
    Config(String),
    /// The HTTP client could not be built, or a credential not read.
    #[error("http client: {0}")]
    HttpClient(String),
    /// An HTTP SD request failed.
    #[error("{url}: {message}")]
    Http {
        /// The endpoint.
        url: String,
        /// What went wrong.
        message: String,
    },
}

impl From<crate::http_client::HttpClientError> for DiscoveryError {
    fn from(error: crate::http_client::HttpClientError) -> Self {
        DiscoveryError::HttpClient(error.0)
    }
}
