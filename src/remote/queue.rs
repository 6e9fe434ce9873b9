//! One remote-write queue: samples read from the WAL are spread over shards
//! by series (so a series' samples stay in order), batched, encoded and sent
//! with retries; the number of shards follows throughput and lag as in
//! Prometheus.
//!
//! Nothing is lost silently. A sample leaves the queue only when it was
//! delivered, refused with a non-recoverable error (counted in
//! `samples_failed`), or dropped by relabeling (counted in
//! `samples_dropped`). [`QueueManager::resume_position`] is the WAL position
//! before which every record is done; it is what the sender persists, so a
//! restart re-reads from there (at-least-once: a receiver accepts a repeated
//! identical sample).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::model::relabel::{RelabelConfig, process};
use crate::model::{Labels, LabelsBuilder};

use super::client::{WriteClient, WriteClientError};
use super::encode::encode_write_request;
use super::metrics::RemoteMetrics;

/// Prometheus's `queue_config`, with its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSettings {
    /// Samples buffered per shard before reading from the WAL blocks.
    pub capacity: usize,
    /// Fewest shards.
    pub min_shards: usize,
    /// Most shards.
    pub max_shards: usize,
    /// Most samples in one request.
    pub max_samples_per_send: usize,
    /// Longest a sample waits in a partial batch.
    pub batch_send_deadline: Duration,
    /// First retry delay.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            capacity: 10_000,
            min_shards: 1,
            max_shards: 50,
            max_samples_per_send: 2_000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// A position in the WAL: segment number and byte offset of a record.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct WalPosition {
    /// Segment number.
    pub segment: u64,
    /// Byte offset inside the segment.
    pub offset: u64,
}

/// A sample as the WAL holds it: a series reference, time and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    /// The WAL's series reference.
    pub series: u64,
    /// Milliseconds.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// A sample on its way out, with everything a shard needs.
struct Queued {
    series: Arc<OutSeries>,
    t: i64,
    v: f64,
    record: WalPosition,
}

/// A series after external labels and `write_relabel_configs`.
struct OutSeries {
    labels: Labels,
    shard_hash: u64,
}

/// Which WAL records still have samples in flight.
#[derive(Default)]
struct Watermark {
    in_flight: BTreeMap<WalPosition, usize>,
    last_end: Option<WalPosition>,
}

impl Watermark {
    fn enqueue(&mut self, record: WalPosition, samples: usize, end: WalPosition) {
        if samples > 0 {
            *self.in_flight.entry(record).or_default() += samples;
        }
        self.last_end = Some(end);
    }

    fn done(&mut self, record: WalPosition, samples: usize) {
        if let Some(count) = self.in_flight.get_mut(&record) {
            *count = count.saturating_sub(samples);
            if *count == 0 {
                self.in_flight.remove(&record);
            }
        }
    }

    fn resume_from(&self) -> Option<WalPosition> {
        self.in_flight.keys().next().copied().or(self.last_end)
    }
}

/// Counters the resharding decision reads.
#[derive(Default)]
struct Rates {
    samples_in: u64,
    samples_out: u64,
    send_seconds: f64,
}

struct Shards {
    senders: Vec<mpsc::Sender<Queued>>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

/// What the shard tasks share.
struct ShardContext {
    client: Arc<dyn WriteClient>,
    settings: QueueSettings,
    metrics: RemoteMetrics,
    label_values: [String; 2],
    watermark: Mutex<Watermark>,
    rates: Mutex<Rates>,
    highest_sent_ms: AtomicI64,
    pending: AtomicU64,
    hard_stop: CancellationToken,
}

/// A WAL series as a queue knows it: the segment it was last seen in and
/// its output labels (`None`: dropped by relabeling).
type SeriesEntry = (u32, Option<Arc<OutSeries>>);

/// One `remote_write` queue.
pub struct QueueManager {
    context: Arc<ShardContext>,
    relabel: Vec<RelabelConfig>,
    external_labels: Labels,
    /// Each WAL series reference: the WAL segment it was last seen in (its
    /// series record, or the checkpoint that kept it) and its output
    /// labels (`None`: dropped by relabeling).
    series: RwLock<HashMap<u64, SeriesEntry>>,
    shards: tokio::sync::RwLock<Shards>,
    highest_in_ms: AtomicI64,
}

impl QueueManager {
    /// A queue sending through `client`, starting with `min_shards` shards.
    /// Must be called inside a tokio runtime: the shards are tasks on it.
    pub fn new(
        client: Arc<dyn WriteClient>,
        settings: QueueSettings,
        relabel: Vec<RelabelConfig>,
        external_labels: Labels,
        metrics: RemoteMetrics,
    ) -> Arc<Self> {
        let label_values = [client.name().to_string(), client.endpoint().to_string()];
        let context = Arc::new(ShardContext {
            client,
            settings: settings.clone(),
            metrics,
            label_values,
            watermark: Mutex::new(Watermark::default()),
            rates: Mutex::new(Rates::default()),
            highest_sent_ms: AtomicI64::new(0),
            pending: AtomicU64::new(0),
            hard_stop: CancellationToken::new(),
        });
        let shards = start_shards(&context, settings.min_shards.max(1));
        Arc::new(QueueManager {
            context,
            relabel,
            external_labels,
            series: RwLock::new(HashMap::new()),
            shards: tokio::sync::RwLock::new(shards),
            highest_in_ms: AtomicI64::new(0),
        })
    }

    fn label_values(&self) -> [&str; 2] {
        [&self.context.label_values[0], &self.context.label_values[1]]
    }

    /// Records series from the WAL: external labels are added (a series'
    /// own label wins), then `write_relabel_configs` apply; a dropped series'
    /// samples are counted as dropped. `segment` is the WAL segment (or
    /// checkpoint) the records were read from.
    pub fn store_series(&self, series: &[(u64, Labels)], segment: u32) {
        let mut map = self.series.write();
        for (reference, labels) in series {
            let out = self.output_labels(labels).map(|labels| {
                Arc::new(OutSeries {
                    shard_hash: labels.stable_hash(),
                    labels,
                })
            });
            map.insert(*reference, (segment, out));
        }
    }

    fn output_labels(&self, labels: &Labels) -> Option<Labels> {
        let with_external = if self.external_labels.is_empty() {
            labels.clone()
        } else {
            let mut builder = LabelsBuilder::new(labels);
            for label in self.external_labels.iter() {
                if !labels.has(label.name) {
                    builder.set(label.name, label.value);
                }
            }
            builder.build()
        };
        if self.relabel.is_empty() {
            return Some(with_external);
        }
        process(&with_external, &self.relabel)
    }

    /// Forgets the series last seen before WAL segment `segment`: after a
    /// checkpoint of segments up to `segment` was read (and its series
    /// stored as seen in it), every series it did not keep is gone from
    /// the head, as Prometheus's `SeriesReset` does. Without this the map
    /// grows with every series ever created.
    pub fn forget_series_before(&self, segment: u32) {
        self.series
            .write()
            .retain(|_, (seen_in, _)| *seen_in >= segment);
    }

    /// How many series references the queue knows (status and tests).
    pub fn known_series(&self) -> usize {
        self.series.read().len()
    }

    /// Queues the samples of one WAL record at `record`, whose end is `end`.
    /// Waits when the shards are full (back-pressure on the WAL reader;
    /// never a drop).
    pub async fn append(&self, samples: &[RefSample], record: WalPosition, end: WalPosition) {
        let mut items = Vec::with_capacity(samples.len());
        let mut dropped = 0u64;
        let mut newest = i64::MIN;
        {
            let series = self.series.read();
            for sample in samples {
                newest = newest.max(sample.t);
                match series.get(&sample.series) {
                    Some((_, Some(out))) => items.push(Queued {
                        series: out.clone(),
                        t: sample.t,
                        v: sample.v,
                        record,
                    }),
                    Some((_, None)) => dropped += 1,
                    None => {
                        dropped += 1;
                        tracing::debug!(
                            series = sample.series,
                            "remote write: sample of an unknown series dropped"
                        );
                    }
                }
            }
        }
        if dropped > 0 {
            self.context
                .metrics
                .samples_dropped
                .with_label_values(&self.label_values())
                .inc_by(dropped as f64);
        }
        if newest > self.highest_in_ms.load(Ordering::Relaxed) {
            self.highest_in_ms.store(newest, Ordering::Relaxed);
            let seconds = newest as f64 / 1000.0;
            if seconds > self.context.metrics.highest_timestamp_in.get() {
                self.context.metrics.highest_timestamp_in.set(seconds);
            }
        }
        self.context
            .watermark
            .lock()
            .enqueue(record, items.len(), end);
        self.context.rates.lock().samples_in += items.len() as u64;
        self.context
            .pending
            .fetch_add(items.len() as u64, Ordering::Relaxed);
        self.context
            .metrics
            .samples_pending
            .with_label_values(&self.label_values())
            .add(items.len() as f64);
        let shards = self.shards.read().await;
        let count = shards.senders.len() as u64;
        for item in items {
            let index = (item.series.shard_hash % count) as usize;
            if shards.senders[index].send(item).await.is_err() {
                tracing::error!("remote write: shard stopped while queueing");
            }
        }
    }

    /// The WAL position from which a restart must re-read: every record
    /// before it is done. `None` before anything was queued.
    pub fn resume_position(&self) -> Option<WalPosition> {
        self.context.watermark.lock().resume_from()
    }

    /// Samples queued and not yet done.
    pub fn pending(&self) -> u64 {
        self.context.pending.load(Ordering::Relaxed)
    }

    /// Newest timestamp sent, milliseconds (0 before the first send).
    pub fn highest_sent_ms(&self) -> i64 {
        self.context.highest_sent_ms.load(Ordering::Relaxed)
    }

    /// Current number of shards.
    pub async fn num_shards(&self) -> usize {
        self.shards.read().await.senders.len()
    }

    /// Re-evaluates the number of shards every `period` until `cancel`.
    pub async fn run_resharding(self: Arc<Self>, period: Duration, cancel: CancellationToken) {
        let mut last = Instant::now();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            let elapsed = last.elapsed().as_secs_f64();
            last = Instant::now();
            let current = self.num_shards().await;
            let desired = self.desired_shards(elapsed, current);
            self.context
                .metrics
                .shards_desired
                .with_label_values(&self.label_values())
                .set(desired as f64);
            if desired != current {
                tracing::info!(from = current, to = desired, remote_name = %self.context.label_values[0], "remote write: resharding");
                self.reshard(desired).await;
            }
        }
    }

    /// Prometheus's calculation: shards needed to send the incoming rate
    /// plus a share of the backlog, ignoring changes within 30%.
    fn desired_shards(&self, elapsed_seconds: f64, current: usize) -> usize {
        let rates = std::mem::take(&mut *self.context.rates.lock());
        if elapsed_seconds <= 0.0 || rates.samples_out == 0 {
            return current;
        }
        let rate_in = rates.samples_in as f64 / elapsed_seconds;
        let seconds_per_sample = rates.send_seconds / rates.samples_out as f64;
        let lag_seconds = (self.highest_in_ms.load(Ordering::Relaxed) - self.highest_sent_ms())
            .max(0) as f64
            / 1000.0;
        let backlog = lag_seconds * rate_in;
        let desired = seconds_per_sample * (rate_in + 0.05 * backlog);
        let settings = &self.context.settings;
        let lower = current as f64 * 0.7;
        let upper = current as f64 * 1.3;
        if desired > lower && desired < upper {
            return current;
        }
        (desired.ceil() as usize).clamp(settings.min_shards.max(1), settings.max_shards.max(1))
    }

    /// Flushes the current shards, then starts `count` new ones. Appends wait
    /// meanwhile, so per-series order is kept.
    pub async fn reshard(&self, count: usize) {
        let mut shards = self.shards.write().await;
        let old = std::mem::replace(&mut *shards, start_shards(&self.context, count.max(1)));
        drop(old.senders);
        for handle in old.handles {
            let _ = handle.await;
        }
    }

    /// Stops the queue: sends what is queued for up to `flush_deadline`,
    /// then gives up on the rest, which stays unacknowledged (so a restart
    /// re-reads it from the WAL).
    pub async fn stop(&self, flush_deadline: Duration) {
        let mut shards = self.shards.write().await;
        let old = std::mem::replace(
            &mut *shards,
            Shards {
                senders: Vec::new(),
                handles: Vec::new(),
            },
        );
        drop(old.senders);
        let all = futures::future::join_all(old.handles);
        if tokio::time::timeout(flush_deadline, all).await.is_err() {
            tracing::warn!(
                pending = self.pending(),
                "remote write: flush deadline passed; the rest is re-sent after restart"
            );
            self.context.hard_stop.cancel();
        }
    }
}

fn start_shards(context: &Arc<ShardContext>, count: usize) -> Shards {
    let per_shard = context.settings.capacity.max(1);
    let mut senders = Vec::with_capacity(count);
    let mut handles = Vec::with_capacity(count);
    for _ in 0..count {
        let (tx, rx) = mpsc::channel(per_shard);
        senders.push(tx);
        handles.push(tokio::spawn(run_shard(rx, context.clone())));
    }
    context
        .metrics
        .shards
        .with_label_values(&[&context.label_values[0], &context.label_values[1]])
        .set(count as f64);
    Shards { senders, handles }
}

async fn run_shard(mut rx: mpsc::Receiver<Queued>, context: Arc<ShardContext>) {
    let max = context.settings.max_samples_per_send.max(1);
    let mut batch: Vec<Queued> = Vec::with_capacity(max);
    let mut batch_deadline = tokio::time::Instant::now();
    loop {
        tokio::select! {
            item = rx.recv() => match item {
                Some(item) => {
                    if batch.is_empty() {
                        batch_deadline = tokio::time::Instant::now() + context.settings.batch_send_deadline;
                    }
                    batch.push(item);
                    if batch.len() >= max && !send_batch(&context, &mut batch).await {
                        return;
                    }
                }
                None => {
                    if !batch.is_empty() {
                        send_batch(&context, &mut batch).await;
                    }
                    return;
                }
            },
            _ = tokio::time::sleep_until(batch_deadline), if !batch.is_empty() => {
                if !send_batch(&context, &mut batch).await {
                    return;
                }
            }
        }
    }
}

/// Sends one batch with retries. Returns false when a hard stop interrupted
/// it (the batch stays unacknowledged).
async fn send_batch(context: &ShardContext, batch: &mut Vec<Queued>) -> bool {
    let labels = [
        context.label_values[0].as_str(),
        context.label_values[1].as_str(),
    ];
    let body = encode_write_request(batch.iter().map(|q| (&q.series.labels, q.t, q.v)));
    let count = batch.len() as u64;
    let mut backoff = context.settings.min_backoff;
    let mut attempt = 0u32;
    let started = Instant::now();
    let delivered = loop {
        match context.client.store(body.clone(), attempt).await {
            Ok(()) => break true,
            Err(WriteClientError::NonRecoverable { message }) => {
                tracing::error!(err = %message, samples = count, remote_name = labels[0], "remote write: non-recoverable error, batch dropped");
                context
                    .metrics
                    .samples_failed
                    .with_label_values(&labels)
                    .inc_by(count as f64);
                break false;
            }
            Err(WriteClientError::Recoverable {
                message,
                retry_after,
            }) => {
                tracing::warn!(err = %message, samples = count, attempt, remote_name = labels[0], "remote write: recoverable error, retrying");
                context
                    .metrics
                    .samples_retried
                    .with_label_values(&labels)
                    .inc_by(count as f64);
                let delay = retry_after.unwrap_or(backoff);
                tokio::select! {
                    _ = context.hard_stop.cancelled() => return false,
                    _ = tokio::time::sleep(delay) => {}
                }
                backoff = (backoff * 2).min(context.settings.max_backoff);
                attempt = attempt.saturating_add(1);
            }
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    if delivered {
        context
            .metrics
            .samples_sent
            .with_label_values(&labels)
            .inc_by(count as f64);
        context
            .metrics
            .bytes_sent
            .with_label_values(&labels)
            .inc_by(body.len() as f64);
        context
            .metrics
            .sent_batch_duration
            .with_label_values(&labels)
            .observe(elapsed);
        let newest = batch.iter().map(|q| q.t).max().unwrap_or(0);
        if newest > context.highest_sent_ms.fetch_max(newest, Ordering::Relaxed) {
            context
                .metrics
                .highest_sent_timestamp
                .with_label_values(&labels)
                .set(newest as f64 / 1000.0);
        }
    }
    {
        let mut rates = context.rates.lock();
        rates.samples_out += count;
        rates.send_seconds += elapsed;
    }
    {
        let mut per_record: HashMap<WalPosition, usize> = HashMap::new();
        for item in batch.iter() {
            *per_record.entry(item.record).or_default() += 1;
        }
        let mut watermark = context.watermark.lock();
        for (record, samples) in per_record {
            watermark.done(record, samples);
        }
    }
    context.pending.fetch_sub(count, Ordering::Relaxed);
    context
        .metrics
        .samples_pending
        .with_label_values(&labels)
        .sub(count as f64);
    batch.clear();
    true
}

#[cfg(test)]
mod tests;
