//! The `remote_read` entries as secondary sources of the query view, and
//! their part in a config reload.

use std::sync::Arc;

use crate::config::Config;
use crate::storage::fanout::Secondary;

use super::read_client::{ReadClientSettings, RemoteReadClient, RemoteReadQueryable};

/// The oldest sample the local storage holds (ms): history before it comes
/// from entries with `read_recent: false`.
pub type LocalMinTime = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Builds a queryable per `remote_read` entry of `config`. Entries with
/// `read_recent: false` are asked only for what is older than
/// `local_min_time()`.
pub fn sources_from_config(
    config: &Config,
    local_min_time: &LocalMinTime,
    runtime: &tokio::runtime::Handle,
) -> Result<Vec<Secondary>, String> {
    config
        .remote_read
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let name = if entry.name.is_empty() {
                format!("remote_read[{index}]")
            } else {
                entry.name.clone()
            };
            let client = RemoteReadClient::new(ReadClientSettings {
                name: name.clone(),
                url: entry.url.clone(),
                timeout: entry.remote_timeout.as_duration(),
                headers: entry.headers.clone(),
                http_client: entry.http_client.clone(),
                required_matchers: entry.required_matchers.clone(),
                external_labels: if entry.filter_external_labels {
                    config.global.external_labels.clone()
                } else {
                    crate::model::Labels::empty()
                },
            })
            .map_err(|e| format!("{name}: {e}"))?;
            let complete_from = (!entry.read_recent).then(|| local_min_time.clone());
            Ok(Secondary {
                queryable: Arc::new(RemoteReadQueryable::new(Arc::new(client), runtime.clone())),
                name,
                complete_from,
            })
        })
        .collect()
}

/// Where the built sources go (the global query view).
pub type SetSources = Arc<dyn Fn(Vec<Secondary>) + Send + Sync>;

/// The `remote_read` entries' reloader: builds every client in the check,
/// swaps the sources in on apply.
pub struct RemoteReadReloader {
    local_min_time: LocalMinTime,
    set_sources: SetSources,
    runtime: tokio::runtime::Handle,
}

impl RemoteReadReloader {
    /// Sources go to `set_sources`; queries run on `runtime`.
    pub fn new(
        local_min_time: LocalMinTime,
        set_sources: SetSources,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            local_min_time,
            set_sources,
            runtime,
        }
    }
}

impl crate::lifecycle::Reloader for RemoteReadReloader {
    fn name(&self) -> &'static str {
        "remote_read"
    }

    fn check(&self, config: &Config) -> Result<(), String> {
        sources_from_config(config, &self.local_min_time, &self.runtime).map(|_| ())
    }

    fn apply(&self, config: &Config) -> Result<(), String> {
        let sources = sources_from_config(config, &self.local_min_time, &self.runtime)?;
        (self.set_sources)(sources);
        Ok(())
    }
}
