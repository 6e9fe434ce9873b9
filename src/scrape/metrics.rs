//! The scrape manager's self-metrics, with Prometheus's names.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use super::ScrapeError;
use super::append::AppendCounts;

/// Every self-metric of the scrape stage.
#[derive(Clone)]
pub struct ScrapeMetrics {
    /// `prometheus_target_interval_length_seconds{interval}`: actual time
    /// between scrapes (a histogram; Prometheus uses a summary).
    pub interval_length: HistogramVec,
    /// `prometheus_target_scrape_pool_targets{scrape_job}`.
    pub pool_targets: IntGaugeVec,
    /// `prometheus_target_scrape_pool_target_limit{scrape_job}`.
    pub pool_target_limit: IntGaugeVec,
    /// `prometheus_target_scrape_pools_total`.
    pub pools_total: IntCounter,
    /// `prometheus_target_scrape_pools_failed_total`.
    pub pools_failed_total: IntCounter,
    /// `prometheus_target_scrape_pool_reloads_total`.
    pub pool_reloads_total: IntCounter,
    /// `prometheus_target_scrape_pool_reloads_failed_total`.
    pub pool_reloads_failed_total: IntCounter,
    /// `prometheus_target_scrape_pool_sync_total{scrape_job}`.
    pub pool_sync_total: IntCounterVec,
    /// `prometheus_target_sync_length_seconds{scrape_job}` (histogram).
    pub sync_length: HistogramVec,
    /// `prometheus_target_scrape_pool_exceeded_target_limit_total`.
    pub exceeded_target_limit_total: IntCounter,
    /// `prometheus_target_scrape_pool_exceeded_label_limits_total`.
    pub exceeded_label_limits_total: IntCounter,
    /// `prometheus_target_scrapes_exceeded_sample_limit_total`.
    pub exceeded_sample_limit_total: IntCounter,
    /// `prometheus_target_scrapes_exceeded_body_size_limit_total`.
    pub exceeded_body_size_limit_total: IntCounter,
    /// `prometheus_target_scrapes_sample_duplicate_timestamp_total`.
    pub sample_duplicate_timestamp_total: IntCounter,
    /// `prometheus_target_scrapes_sample_out_of_order_total`.
    pub sample_out_of_order_total: IntCounter,
    /// `prometheus_target_scrapes_sample_out_of_bounds_total`.
    pub sample_out_of_bounds_total: IntCounter,
    /// `promshard_target_scrapes_duplicate_series_total`: the same series
    /// twice in one body (ours; Prometheus counts these as duplicate
    /// timestamps).
    pub duplicate_series_total: IntCounter,
    /// `prometheus_target_scrapes_cache_flush_forced_total`.
    pub cache_flush_forced_total: IntCounter,
    /// `prometheus_target_metadata_cache_entries{scrape_job}`.
    pub metadata_cache_entries: IntGaugeVec,
    /// `promshard_scrape_append_duration_seconds`: parse + relabel + append.
    pub append_duration: Histogram,
    /// `promshard_target_scrape_pools_active`: pools running now.
    pub pools_active: IntGauge,
}

fn counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, ScrapeError> {
    let metric = IntCounter::new(name, help)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl ScrapeMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, ScrapeError> {
        let interval_length = HistogramVec::new(
            HistogramOpts::new(
                "prometheus_target_interval_length_seconds",
                "Actual intervals between scrapes.",
            )
            .buckets(vec![
                0.01, 0.1, 1.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
            ]),
            &["interval"],
        )?;
        registry.register(Box::new(interval_length.clone()))?;
        let pool_targets = IntGaugeVec::new(
            Opts::new(
                "prometheus_target_scrape_pool_targets",
                "Current number of targets in this scrape pool.",
            ),
            &["scrape_job"],
        )?;
        registry.register(Box::new(pool_targets.clone()))?;
        let pool_target_limit = IntGaugeVec::new(
            Opts::new(
                "prometheus_target_scrape_pool_target_limit",
                "Maximum number of targets allowed in this scrape pool.",
            ),
            &["scrape_job"],
        )?;
        registry.register(Box::new(pool_target_limit.clone()))?;
        let pool_sync_total = IntCounterVec::new(
            Opts::new(
                "prometheus_target_scrape_pool_sync_total",
                "Total number of syncs that were executed on a scrape pool.",
            ),
            &["scrape_job"],
        )?;
        registry.register(Box::new(pool_sync_total.clone()))?;
        let sync_length = HistogramVec::new(
            HistogramOpts::new(
                "prometheus_target_sync_length_seconds",
                "Actual interval to sync the scrape pool.",
            ),
            &["scrape_job"],
        )?;
        registry.register(Box::new(sync_length.clone()))?;
        let metadata_cache_entries = IntGaugeVec::new(
            Opts::new(
                "prometheus_target_metadata_cache_entries",
                "Total number of metric metadata entries in the cache",
            ),
            &["scrape_job"],
        )?;
        registry.register(Box::new(metadata_cache_entries.clone()))?;
        let append_duration = Histogram::with_opts(HistogramOpts::new(
            "promshard_scrape_append_duration_seconds",
            "Time spent parsing, relabeling and appending one scrape.",
        ))?;
        registry.register(Box::new(append_duration.clone()))?;
        let pools_active = IntGauge::new(
            "promshard_target_scrape_pools_active",
            "Scrape pools currently running.",
        )?;
        registry.register(Box::new(pools_active.clone()))?;
        Ok(ScrapeMetrics {
            interval_length,
            pool_targets,
            pool_target_limit,
            pools_total: counter(
                registry,
                "prometheus_target_scrape_pools_total",
                "Total number of scrape pool creation attempts.",
            )?,
            pools_failed_total: counter(
                registry,
                "prometheus_target_scrape_pools_failed_total",
                "Total number of scrape pool creations that failed.",
            )?,
            pool_reloads_total: counter(
                registry,
                "prometheus_target_scrape_pool_reloads_total",
                "Total number of scrape pool reloads.",
            )?,
            pool_reloads_failed_total: counter(
                registry,
                "prometheus_target_scrape_pool_reloads_failed_total",
                "Total number of failed scrape pool reloads.",
            )?,
            pool_sync_total,
            sync_length,
            exceeded_target_limit_total: counter(
                registry,
                "prometheus_target_scrape_pool_exceeded_target_limit_total",
                "Total number of times scrape pools hit the target limit, during sync or config reload.",
            )?,
            exceeded_label_limits_total: counter(
                registry,
                "prometheus_target_scrape_pool_exceeded_label_limits_total",
                "Total number of times scrape pools hit the label limits, during sync or config reload.",
            )?,
            exceeded_sample_limit_total: counter(
                registry,
                "prometheus_target_scrapes_exceeded_sample_limit_total",
                "Total number of scrapes that hit the sample limit and were rejected.",
            )?,
            exceeded_body_size_limit_total: counter(
                registry,
                "prometheus_target_scrapes_exceeded_body_size_limit_total",
                "Total number of scrapes that hit the body size limit",
            )?,
            sample_duplicate_timestamp_total: counter(
                registry,
                "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                "Total number of samples rejected due to duplicate timestamps but different values.",
            )?,
            sample_out_of_order_total: counter(
                registry,
                "prometheus_target_scrapes_sample_out_of_order_total",
                "Total number of samples rejected due to not being out of the expected order.",
            )?,
            sample_out_of_bounds_total: counter(
                registry,
                "prometheus_target_scrapes_sample_out_of_bounds_total",
                "Total number of samples rejected due to timestamp falling outside of the time bounds.",
            )?,
            duplicate_series_total: counter(
                registry,
                "promshard_target_scrapes_duplicate_series_total",
                "Total number of series exposed twice in one scrape (the repeat is dropped).",
            )?,
            cache_flush_forced_total: counter(
                registry,
                "prometheus_target_scrapes_cache_flush_forced_total",
                "How many times a scrape cache was flushed due to getting big while scrapes are failing.",
            )?,
            metadata_cache_entries,
            append_duration,
            pools_active,
        })
    }

    /// Adds one scrape's refused-sample counts and its error kind.
    pub fn record_scrape(&self, counts: &AppendCounts, error: Option<&ScrapeError>) {
        self.sample_out_of_order_total.inc_by(counts.out_of_order);
        self.sample_out_of_bounds_total.inc_by(counts.out_of_bounds);
        self.sample_duplicate_timestamp_total
            .inc_by(counts.duplicate_timestamp);
        self.duplicate_series_total.inc_by(counts.duplicate_series);
        match error {
            Some(ScrapeError::SampleLimit) => self.exceeded_sample_limit_total.inc(),
            Some(ScrapeError::BodySizeLimit) => self.exceeded_body_size_limit_total.inc(),
            Some(ScrapeError::LabelLimit(_)) => self.exceeded_label_limits_total.inc(),
            _ => {}
        }
    }
}
