//! One target's scrape loop: wait for the target's slot in the interval,
//! then scrape on every tick with timestamps aligned to the schedule, and
//! write staleness markers when the loop ends for good.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::ScrapeError;
use super::append::{
    ReportSeries, ScrapeCache, SeriesAppendOptions, write_end_of_run_staleness, write_scrape,
};
use super::client::{ScrapeClient, body_format};
use super::metrics::ScrapeMetrics;
use super::settings::ScrapeSettings;
use super::target::Target;
use crate::model::sample::now_millis;
use crate::storage::Appendable;

/// How far (at most) a scrape may start from its slot and still get the
/// slot's timestamp, as Prometheus's `ScrapeTimestampTolerance`.
const TIMESTAMP_TOLERANCE: Duration = Duration::from_millis(2);

/// What a loop keeps between scrapes and hands to its successor on reload.
#[derive(Debug)]
pub struct LoopState {
    /// The series cache, staleness baseline and metadata.
    pub cache: ScrapeCache,
    /// The `up`/`scrape_*` series.
    pub report: ReportSeries,
    /// Timestamp of the last scrape written (ms), 0 before the first.
    pub last_scrape_ms: i64,
}

impl LoopState {
    /// A fresh state for `target`.
    pub fn new(target: &Target) -> Self {
        LoopState {
            cache: ScrapeCache::new(),
            report: ReportSeries::new(&target.public_labels()),
            last_scrape_ms: 0,
        }
    }
}

/// Everything one loop needs, shared or owned.
pub struct LoopContext {
    /// The target scraped.
    pub target: Arc<Target>,
    /// The pool's settings.
    pub settings: Arc<ScrapeSettings>,
    /// The pool's HTTP client.
    pub client: ScrapeClient,
    /// Where samples go.
    pub appendable: Arc<dyn Appendable>,
    /// Self-metrics.
    pub metrics: ScrapeMetrics,
    /// Mixed into the per-target offset.
    pub offset_seed: u64,
    /// Cache and report state, possibly inherited from a previous loop.
    pub state: Arc<Mutex<LoopState>>,
    /// An error that replaces every scrape (target limit exceeded).
    pub forced_error: Arc<Mutex<Option<ScrapeError>>>,
}

/// A running loop.
pub struct LoopHandle {
    cancel: CancellationToken,
    write_staleness_on_stop: Arc<AtomicBool>,
    join: JoinHandle<()>,
    /// The loop's state (for metadata and for a successor).
    pub state: Arc<Mutex<LoopState>>,
    /// Set to make every scrape fail with this error.
    pub forced_error: Arc<Mutex<Option<ScrapeError>>>,
}

impl LoopHandle {
    /// Starts the loop on `runtime`.
    pub fn start(context: LoopContext, runtime: &tokio::runtime::Handle) -> Self {
        let cancel = CancellationToken::new();
        let write_staleness_on_stop = Arc::new(AtomicBool::new(true));
        let state = context.state.clone();
        let forced_error = context.forced_error.clone();
        let join = runtime.spawn(run(
            context,
            cancel.clone(),
            write_staleness_on_stop.clone(),
        ));
        LoopHandle {
            cancel,
            write_staleness_on_stop,
            join,
            state,
            forced_error,
        }
    }

    /// Asks the loop to stop. With `write_staleness_markers` false the
    /// target's series are left as they are: used when a successor loop
    /// takes over (reload) or another node takes the target (hand-over).
    pub fn stop(&self, write_staleness_markers: bool) {
        self.write_staleness_on_stop
            .store(write_staleness_markers, Ordering::SeqCst);
        self.cancel.cancel();
    }

    /// Stops and waits until the loop (and its staleness write) finished.
    pub async fn stop_and_wait(self, write_staleness_markers: bool) {
        self.stop(write_staleness_markers);
        let _ = self.join.await;
    }

    /// The task, to wait for after [`LoopHandle::stop`].
    pub fn into_join_handle(self) -> JoinHandle<()> {
        self.join
    }
}

/// Time until this target's next slot: the next interval boundary of wall
/// clock time plus the target's offset (Prometheus's `Target.offset`).
fn initial_wait(interval: Duration, offset: Duration) -> Duration {
    let interval_ns = interval.as_nanos().max(1);
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let to_boundary = interval_ns - now_ns % interval_ns;
    let mut wait = to_boundary + offset.as_nanos();
    if wait > interval_ns {
        wait -= interval_ns;
    }
    Duration::from_nanos(wait as u64)
}

/// The timestamp of a scrape started at `now_ms`: the slot's timestamp when
/// the scrape started within the tolerance of it, so that samples of a
/// steady target are exactly one interval apart.
fn aligned_timestamp(aligned_ms: &mut i64, now_ms: i64, interval: Duration) -> i64 {
    let interval_ms = interval.as_millis() as i64;
    let tolerance_ms = (TIMESTAMP_TOLERANCE.as_millis() as i64).min(interval_ms / 100);
    if interval_ms <= 0 {
        return now_ms;
    }
    while now_ms - *aligned_ms >= interval_ms {
        *aligned_ms += interval_ms;
    }
    if now_ms - *aligned_ms <= tolerance_ms {
        return *aligned_ms;
    }
    now_ms
}

async fn run(
    context: LoopContext,
    cancel: CancellationToken,
    write_staleness_on_stop: Arc<AtomicBool>,
) {
    let interval = context.target.interval();
    let wait = initial_wait(
        interval,
        context.target.offset_in_interval(context.offset_seed),
    );
    tokio::select! {
        _ = cancel.cancelled() => {
            finish(&context, &write_staleness_on_stop);
            return;
        }
        _ = tokio::time::sleep(wait) => {}
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut aligned_ms = now_millis();
    let interval_label = super::settings::format_duration(interval);
    let mut last_start: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        if let Some(previous) = last_start {
            context
                .metrics
                .interval_length
                .with_label_values(&[interval_label.as_str()])
                .observe(started.duration_since(previous).as_secs_f64());
        }
        last_start = Some(started);
        let timestamp_ms = aligned_timestamp(&mut aligned_ms, now_millis(), interval);
        let forced = context.forced_error.lock().clone();
        let fetched = match forced {
            Some(error) => Err(error),
            None => {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    result = context.client.scrape(
                        context.target.url(),
                        context.target.timeout(),
                        context.settings.limits.body_size_limit,
                    ) => result,
                }
            }
        };
        scrape_once(&context, fetched, timestamp_ms, started);
    }
    finish(&context, &write_staleness_on_stop);
}

/// Writes one fetched scrape and records its outcome on the target.
pub fn scrape_once(
    context: &LoopContext,
    fetched: Result<super::client::ScrapedBody, ScrapeError>,
    timestamp_ms: i64,
    started: Instant,
) {
    let target_labels = context.target.public_labels();
    let settings = &context.settings;
    let options = SeriesAppendOptions {
        target_labels: &target_labels,
        honor_labels: settings.honor_labels,
        honor_timestamps: settings.honor_timestamps,
        track_timestamps_staleness: settings.track_timestamps_staleness,
        metric_relabel_configs: &settings.metric_relabel_configs,
        limits: settings.limits,
    };
    let append_started = Instant::now();
    let mut state = context.state.lock();
    let state = &mut *state;
    let outcome = {
        let body_and_format = fetched
            .as_ref()
            .map(|scraped| {
                (
                    scraped.body.as_slice(),
                    body_format(&scraped.content_type, settings.fallback_scrape_protocol),
                )
            })
            .map_err(Clone::clone);
        write_scrape(
            context.appendable.as_ref(),
            &mut state.cache,
            &mut state.report,
            body_and_format,
            timestamp_ms,
            started,
            &options,
        )
    };
    state.last_scrape_ms = timestamp_ms;
    context
        .metrics
        .append_duration
        .observe(append_started.elapsed().as_secs_f64());
    context
        .metrics
        .record_scrape(&outcome.counts, outcome.error.as_ref());
    if let Some(commit_error) = &outcome.commit_error {
        tracing::warn!(target = %context.target.url(), job = %settings.job_name, error = %commit_error, "scrape commit failed");
    }
    let error_text = outcome.error.as_ref().map(ToString::to_string);
    if let Some(error) = &error_text {
        tracing::debug!(target = %context.target.url(), job = %settings.job_name, error = %error, "scrape failed");
    }
    context
        .target
        .report(timestamp_ms, started.elapsed(), error_text.as_deref());
}

fn finish(context: &LoopContext, write_staleness_on_stop: &AtomicBool) {
    if !write_staleness_on_stop.load(Ordering::SeqCst) {
        return;
    }
    let mut state = context.state.lock();
    if state.last_scrape_ms == 0 {
        return;
    }
    let timestamp_ms = now_millis().max(state.last_scrape_ms + 1);
    let target_labels = context.target.public_labels();
    let settings = &context.settings;
    let options = SeriesAppendOptions {
        target_labels: &target_labels,
        honor_labels: settings.honor_labels,
        honor_timestamps: settings.honor_timestamps,
        track_timestamps_staleness: settings.track_timestamps_staleness,
        metric_relabel_configs: &settings.metric_relabel_configs,
        limits: settings.limits,
    };
    let state = &mut *state;
    if let Err(error) = write_end_of_run_staleness(
        context.appendable.as_ref(),
        &mut state.cache,
        &mut state.report,
        timestamp_ms,
        &options,
    ) {
        tracing::warn!(target = %context.target.url(), job = %settings.job_name, error = %error, "writing end-of-run staleness markers failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_timestamps_snap_to_the_schedule_within_tolerance() {
        let interval = Duration::from_secs(15);
        let mut aligned = 1_000_000;
        assert_eq!(
            aligned_timestamp(&mut aligned, 1_015_001, interval),
            1_015_000
        );
        assert_eq!(
            aligned_timestamp(&mut aligned, 1_030_002, interval),
            1_030_000
        );
        assert_eq!(
            aligned_timestamp(&mut aligned, 1_045_050, interval),
            1_045_050,
            "too late for the slot: the real time is used"
        );
        assert_eq!(
            aligned_timestamp(&mut aligned, 1_090_001, interval),
            1_090_000,
            "skipped slots are caught up"
        );
    }

    #[test]
    fn initial_wait_is_within_one_interval() {
        let interval = Duration::from_millis(500);
        for offset_ms in [0, 1, 250, 499] {
            let wait = initial_wait(interval, Duration::from_millis(offset_ms));
            assert!(wait <= interval, "{wait:?}");
        }
    }
}
