//! The remote-write sender's metrics, with Prometheus's
//! `prometheus_remote_storage_*` names. Registered once per registry and
//! shared by every queue (each queue uses its own `remote_name`/`url`
//! labels).

use prometheus::{CounterVec, Gauge, GaugeVec, HistogramOpts, HistogramVec, Opts, Registry};

/// Every metric of the remote-write sender.
#[derive(Clone)]
pub struct RemoteMetrics {
    /// Samples sent successfully.
    pub samples_sent: CounterVec,
    /// Samples that failed with a non-recoverable error (not retried).
    pub samples_failed: CounterVec,
    /// Samples in sends that were retried.
    pub samples_retried: CounterVec,
    /// Samples dropped before sending (relabeling, unknown series, past the
    /// WAL retention bound).
    pub samples_dropped: CounterVec,
    /// Samples queued and not yet sent.
    pub samples_pending: GaugeVec,
    /// Compressed bytes sent.
    pub bytes_sent: CounterVec,
    /// Newest timestamp successfully sent, seconds.
    pub highest_sent_timestamp: GaugeVec,
    /// Newest timestamp read from the WAL by any queue, seconds.
    pub highest_timestamp_in: Gauge,
    /// Current shards.
    pub shards: GaugeVec,
    /// Shards the resharding logic wants.
    pub shards_desired: GaugeVec,
    /// Duration of sends.
    pub sent_batch_duration: HistogramVec,
}

impl RemoteMetrics {
    /// Creates and registers the metrics.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let labels = &["remote_name", "url"];
        let counter = |name: &str, help: &str| -> Result<CounterVec, prometheus::Error> {
            let metric = CounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let gauge = |name: &str, help: &str| -> Result<GaugeVec, prometheus::Error> {
            let metric = GaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let highest_timestamp_in = Gauge::new(
            "prometheus_remote_storage_highest_timestamp_in_seconds",
            "Highest timestamp that has come into the remote storage via the WAL, in seconds since epoch.",
        )?;
        registry.register(Box::new(highest_timestamp_in.clone()))?;
        let sent_batch_duration = HistogramVec::new(
            HistogramOpts::new(
                "prometheus_remote_storage_sent_batch_duration_seconds",
                "Duration of send calls to the remote storage.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0,
            ]),
            labels,
        )?;
        registry.register(Box::new(sent_batch_duration.clone()))?;
        Ok(RemoteMetrics {
            samples_sent: counter(
                "prometheus_remote_storage_samples_total",
                "Total number of samples sent to remote storage.",
            )?,
            samples_failed: counter(
                "prometheus_remote_storage_samples_failed_total",
                "Total number of samples which failed on send to remote storage, non-recoverable errors.",
            )?,
            samples_retried: counter(
                "prometheus_remote_storage_samples_retried_total",
                "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.",
            )?,
            samples_dropped: counter(
                "prometheus_remote_storage_samples_dropped_total",
                "Total number of samples which were dropped after being read from the WAL before being sent via remote write.",
            )?,
            samples_pending: gauge(
                "prometheus_remote_storage_samples_pending",
                "The number of samples pending in the queues shards to be sent to the remote storage.",
            )?,
            bytes_sent: counter(
                "prometheus_remote_storage_bytes_total",
                "The total number of bytes of data (not metadata) sent by the queue after compression.",
            )?,
            highest_sent_timestamp: gauge(
                "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
                "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.",
            )?,
            highest_timestamp_in,
            shards: gauge(
                "prometheus_remote_storage_shards",
                "The number of shards used for parallel sending to the remote storage.",
            )?,
            shards_desired: gauge(
                "prometheus_remote_storage_shards_desired",
                "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.",
            )?,
            sent_batch_duration,
        })
    }
}
