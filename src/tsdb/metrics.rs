//! The TSDB's self-metrics, with Prometheus's `prometheus_tsdb_*` names.

use prometheus::{Gauge, IntCounter, IntGauge, Opts, Registry};

use super::TsdbError;

/// Every TSDB metric, registered into the registry given to `Db::open`.
#[derive(Clone)]
pub(crate) struct TsdbMetrics {
    pub head_series: IntGauge,
    pub head_series_created: IntCounter,
    pub head_series_removed: IntCounter,
    pub head_chunks: IntGauge,
    pub head_samples_appended: IntCounter,
    pub head_min_time: IntGauge,
    pub head_max_time: IntGauge,
    pub head_truncations: IntCounter,
    pub head_truncations_failed: IntCounter,
    pub out_of_order_samples: IntCounter,
    pub head_out_of_order_samples_appended: IntCounter,
    pub out_of_bound_samples: IntCounter,
    pub too_old_samples: IntCounter,
    pub wal_storage_size_bytes: IntGauge,
    pub wal_corruptions: IntCounter,
    pub wal_truncations: IntCounter,
    pub checkpoint_creations: IntCounter,
    pub compactions: IntCounter,
    pub compactions_failed: IntCounter,
    pub compactions_triggered: IntCounter,
    pub vertical_compactions: IntCounter,
    pub reloads: IntCounter,
    pub reloads_failures: IntCounter,
    pub data_replay_duration_seconds: Gauge,
    pub blocks_loaded: IntGauge,
    pub storage_blocks_bytes: IntGauge,
    pub time_retentions: IntCounter,
    pub size_retentions: IntCounter,
    pub lowest_timestamp: IntGauge,
}

fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> Result<C, TsdbError> {
    registry
        .register(Box::new(collector.clone()))
        .map_err(|e| TsdbError::InvalidArgument(format!("registering tsdb metrics: {e}")))?;
    Ok(collector)
}

fn counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, TsdbError> {
    let counter = IntCounter::new(name, help)
        .map_err(|e| TsdbError::InvalidArgument(format!("metric {name}: {e}")))?;
    register(registry, counter)
}

fn float_counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, TsdbError> {
    let counter = IntCounter::with_opts(Opts::new(name, help).const_label("type", "float"))
        .map_err(|e| TsdbError::InvalidArgument(format!("metric {name}: {e}")))?;
    register(registry, counter)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, TsdbError> {
    let gauge = IntGauge::new(name, help)
        .map_err(|e| TsdbError::InvalidArgument(format!("metric {name}: {e}")))?;
    register(registry, gauge)
}

impl TsdbMetrics {
    /// Creates and registers every metric.
    pub fn register(registry: &Registry) -> Result<Self, TsdbError> {
        let replay = Gauge::new(
            "prometheus_tsdb_data_replay_duration_seconds",
            "Time taken to replay the data on disk.",
        )
        .map_err(|e| TsdbError::InvalidArgument(format!("metric replay duration: {e}")))?;
        Ok(TsdbMetrics {
            head_series: gauge(
                registry,
                "prometheus_tsdb_head_series",
                "Total number of series in the head block.",
            )?,
            head_series_created: counter(
                registry,
                "prometheus_tsdb_head_series_created_total",
                "Total number of series created in the head",
            )?,
            head_series_removed: counter(
                registry,
                "prometheus_tsdb_head_series_removed_total",
                "Total number of series removed in the head",
            )?,
            head_chunks: gauge(
                registry,
                "prometheus_tsdb_head_chunks",
                "Total number of chunks in the head block.",
            )?,
            head_samples_appended: float_counter(
                registry,
                "prometheus_tsdb_head_samples_appended_total",
                "Total number of appended samples.",
            )?,
            head_min_time: gauge(
                registry,
                "prometheus_tsdb_head_min_time",
                "Minimum time bound of the head block.",
            )?,
            head_max_time: gauge(
                registry,
                "prometheus_tsdb_head_max_time",
                "Maximum timestamp of the head block.",
            )?,
            head_truncations: counter(
                registry,
                "prometheus_tsdb_head_truncations_total",
                "Total number of head truncations attempted.",
            )?,
            head_truncations_failed: counter(
                registry,
                "prometheus_tsdb_head_truncations_failed_total",
                "Total number of head truncations that failed.",
            )?,
            out_of_order_samples: float_counter(
                registry,
                "prometheus_tsdb_out_of_order_samples_total",
                "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
            )?,
            head_out_of_order_samples_appended: float_counter(
                registry,
                "prometheus_tsdb_head_out_of_order_samples_appended_total",
                "Total number of appended out of order samples.",
            )?,
            out_of_bound_samples: float_counter(
                registry,
                "prometheus_tsdb_out_of_bound_samples_total",
                "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
            )?,
            too_old_samples: float_counter(
                registry,
                "prometheus_tsdb_too_old_samples_total",
                "Samples refused because out-of-order ingestion is on and they are older than its window.",
            )?,
            wal_storage_size_bytes: gauge(
                registry,
                "prometheus_tsdb_wal_storage_size_bytes",
                "Size of the write log directory.",
            )?,
            wal_corruptions: counter(
                registry,
                "prometheus_tsdb_wal_corruptions_total",
                "Total number of WAL corruptions.",
            )?,
            wal_truncations: counter(
                registry,
                "prometheus_tsdb_wal_truncations_total",
                "Total number of write log truncations attempted.",
            )?,
            checkpoint_creations: counter(
                registry,
                "prometheus_tsdb_checkpoint_creations_total",
                "Total number of checkpoint creations attempted.",
            )?,
            compactions: counter(
                registry,
                "prometheus_tsdb_compactions_total",
                "Total number of compactions that were executed for the partition.",
            )?,
            compactions_failed: counter(
                registry,
                "prometheus_tsdb_compactions_failed_total",
                "Total number of compactions that failed for the partition.",
            )?,
            compactions_triggered: counter(
                registry,
                "prometheus_tsdb_compactions_triggered_total",
                "Total number of triggered compactions for the partition.",
            )?,
            vertical_compactions: counter(
                registry,
                "prometheus_tsdb_vertical_compactions_total",
                "Total number of compactions done on overlapping blocks.",
            )?,
            reloads: counter(
                registry,
                "prometheus_tsdb_reloads_total",
                "Number of times the database reloaded block data from disk.",
            )?,
            reloads_failures: counter(
                registry,
                "prometheus_tsdb_reloads_failures_total",
                "Number of times the database failed to reloadBlocks block data from disk.",
            )?,
            data_replay_duration_seconds: register(registry, replay)?,
            blocks_loaded: gauge(
                registry,
                "prometheus_tsdb_blocks_loaded",
                "Number of currently loaded data blocks",
            )?,
            storage_blocks_bytes: gauge(
                registry,
                "prometheus_tsdb_storage_blocks_bytes",
                "The number of bytes that are currently used for local storage by all blocks.",
            )?,
            time_retentions: counter(
                registry,
                "prometheus_tsdb_time_retentions_total",
                "The number of times that blocks were deleted because the maximum time limit was exceeded.",
            )?,
            size_retentions: counter(
                registry,
                "prometheus_tsdb_size_retentions_total",
                "The number of times that blocks were deleted because the maximum number of bytes was exceeded.",
            )?,
            lowest_timestamp: gauge(
                registry,
                "prometheus_tsdb_lowest_timestamp",
                "Lowest timestamp value stored in the database.",
            )?,
        })
    }
}
