//! The TSDB as a stage of the node: its part of a config reload (the
//! `storage` section) and its background maintenance (block reload, head
//! cut, compaction, retention), run off the async workers, and closing it
//! at stop.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tracing::error;

use super::Db;
use crate::config::Config;
use crate::lifecycle::{Reloader, Stage};

/// Runs [`Db::run_maintenance`] every `interval` (Prometheus's block
/// reload interval, 1m) and closes the database at stop.
pub struct TsdbStage {
    db: Arc<Db>,
    interval: Duration,
}

impl TsdbStage {
    /// The stage over `db`.
    pub fn new(db: Arc<Db>, interval: Duration) -> Self {
        Self { db, interval }
    }
}

#[async_trait]
impl Stage for TsdbStage {
    fn name(&self) -> &'static str {
        "tsdb"
    }

    async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let db = self.db.clone();
            match tokio::task::spawn_blocking(move || db.run_maintenance()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => error!(err = %e, "storage maintenance failed"),
                Err(e) => error!(err = %e, "storage maintenance panicked"),
            }
        }
    }

    async fn stop(&self) {
        let db = self.db.clone();
        match tokio::task::spawn_blocking(move || db.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(err = %e, "closing storage failed"),
            Err(e) => error!(err = %e, "closing storage panicked"),
        }
    }
}

impl Reloader for TsdbStage {
    fn name(&self) -> &'static str {
        "tsdb"
    }

    fn check(&self, _config: &Config) -> Result<(), String> {
        Ok(())
    }

    fn apply(&self, config: &Config) -> Result<(), String> {
        self.db
            .set_out_of_order_time_window(config.storage.out_of_order_time_window_ms());
        Ok(())
    }
}
