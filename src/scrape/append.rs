//! One scrape's body into one appender: parse, attach target labels,
//! metric relabeling, limits, the series cache, staleness markers and the
//! `up` / `scrape_*` report series.
//!
//! The cache (Prometheus's `scrapeCache`) maps the series bytes exactly as
//! the target wrote them to the final labels and the store's reference, so
//! a series seen before skips label building, relabeling and the store's
//! label lookup.

use std::collections::HashMap;
use std::time::Duration;

use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use super::ScrapeError;
use super::settings::ScrapeLimits;
use crate::model::relabel::{RelabelConfig, process_builder};
use crate::model::textparse::{Entry, Format, Parser};
use crate::model::{Labels, LabelsBuilder, METRIC_NAME, Metadata, ScratchBuilder, stale_nan};
use crate::storage::{AppendError, Appendable, Appender, SeriesRef};

/// Cache entries and metadata not seen for this many scrapes are forgotten.
const CACHE_RETENTION_ITERATIONS: u64 = 10;

/// How scraped series are turned into stored series for one target.
#[derive(Debug, Clone, Copy)]
pub struct SeriesAppendOptions<'a> {
    /// The target's public labels (no `__` prefix), attached to every series.
    pub target_labels: &'a Labels,
    /// `honor_labels`: on a conflict the scraped label wins (else the
    /// scraped one is kept as `exported_<name>`).
    pub honor_labels: bool,
    /// `honor_timestamps`: use the timestamps the target exposes.
    pub honor_timestamps: bool,
    /// `track_timestamps_staleness`: also write staleness markers for
    /// series that carried their own timestamps.
    pub track_timestamps_staleness: bool,
    /// `metric_relabel_configs`.
    pub metric_relabel_configs: &'a [RelabelConfig],
    /// The limits (sample and label limits apply here).
    pub limits: ScrapeLimits,
}

/// Counts from one append, for the report series and the self-metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendCounts {
    /// Samples in the body (`scrape_samples_scraped`).
    pub scraped: u64,
    /// Samples kept after metric relabeling (`scrape_samples_post_metric_relabeling`).
    pub post_relabel: u64,
    /// Series new to the cache (`scrape_series_added`).
    pub series_added: u64,
    /// Samples refused as out of order.
    pub out_of_order: u64,
    /// Samples refused as out of bounds.
    pub out_of_bounds: u64,
    /// Samples refused as a different value at the same timestamp.
    pub duplicate_timestamp: u64,
    /// The same series written twice in one body (second one dropped).
    pub duplicate_series: u64,
}

#[derive(Debug)]
struct CacheSlot {
    series_ref: SeriesRef,
    labels: Labels,
    /// Dropped by metric relabeling: counted, never stored.
    dropped: bool,
    last_seen_iteration: u64,
    live: bool,
}

#[derive(Debug, Clone)]
struct MetadataEntry {
    metadata: Metadata,
    last_seen_iteration: u64,
}

/// The per-target series cache, staleness tracking and metadata. Owned by
/// one scrape loop; survives a pool reload when the settings that shape
/// series did not change.
#[derive(Debug, Default)]
pub struct ScrapeCache {
    index: HashMap<Box<[u8]>, u32, Xxh3DefaultBuilder>,
    slots: Vec<CacheSlot>,
    free_slots: Vec<u32>,
    iteration: u64,
    /// Slots written (and tracked for staleness) by the last successful append.
    previous_series: Vec<u32>,
    current_series: Vec<u32>,
    metadata: HashMap<String, MetadataEntry>,
    scratch: ScratchBuilder,
}

impl ScrapeCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of cached series (including ones dropped by relabeling).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The metadata of the families seen recently, sorted by family name.
    pub fn metadata(&self) -> Vec<(String, Metadata)> {
        let mut out: Vec<(String, Metadata)> = self
            .metadata
            .iter()
            .map(|(family, entry)| (family.clone(), entry.metadata.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The labels of the series written by the last successful scrape (the
    /// ones that get a staleness marker when the target goes away).
    pub fn live_series(&self) -> Vec<Labels> {
        self.previous_series
            .iter()
            .map(|&slot| self.slots[slot as usize].labels.clone())
            .collect()
    }

    fn metadata_entry(&mut self, family: &str) -> &mut Metadata {
        let iteration = self.iteration;
        if !self.metadata.contains_key(family) {
            self.metadata.insert(
                family.to_string(),
                MetadataEntry {
                    metadata: Metadata::default(),
                    last_seen_iteration: iteration,
                },
            );
        }
        let entry = self
            .metadata
            .get_mut(family)
            .unwrap_or_else(|| unreachable!("inserted above"));
        entry.last_seen_iteration = iteration;
        &mut entry.metadata
    }

    fn insert_slot(&mut self, raw: &[u8], slot: CacheSlot) -> u32 {
        let index = match self.free_slots.pop() {
            Some(free) => {
                self.slots[free as usize] = slot;
                free
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(raw.into(), index);
        index
    }

    /// Ends a successful append: the series just written become the ones
    /// checked for staleness next time, and long-unseen entries are dropped.
    fn finish_iteration(&mut self) {
        std::mem::swap(&mut self.previous_series, &mut self.current_series);
        self.current_series.clear();
        if !self.iteration.is_multiple_of(CACHE_RETENTION_ITERATIONS) {
            return;
        }
        let oldest_kept = self.iteration.saturating_sub(CACHE_RETENTION_ITERATIONS);
        let slots = &mut self.slots;
        let free_slots = &mut self.free_slots;
        self.index.retain(|_, slot| {
            let entry = &mut slots[*slot as usize];
            if entry.last_seen_iteration >= oldest_kept {
                return true;
            }
            entry.live = false;
            entry.labels = Labels::empty();
            free_slots.push(*slot);
            false
        });
        self.previous_series
            .retain(|&slot| self.slots[slot as usize].live);
        self.metadata
            .retain(|_, entry| entry.last_seen_iteration >= oldest_kept);
    }
}

/// Attaches the target's labels to a scraped series and applies metric
/// relabeling (Prometheus's `mutateSampleLabels`). `None`: dropped.
pub fn mutate_sample_labels(scraped: &Labels, options: &SeriesAppendOptions<'_>) -> Option<Labels> {
    let mut builder = LabelsBuilder::new(scraped);
    if options.honor_labels {
        for label in options.target_labels.iter() {
            if !scraped.has(label.name) {
                builder.set(label.name, label.value);
            }
        }
    } else {
        let mut conflicts: Vec<(&str, &str)> = Vec::new();
        for label in options.target_labels.iter() {
            if let Some(exposed) = scraped.get(label.name) {
                conflicts.push((label.name, exposed));
            }
            builder.set(label.name, label.value);
        }
        // Shorter names first, so `exported_x` is settled before
        // `exported_exported_x` could be needed.
        conflicts.sort_by_key(|(name, _)| name.len());
        for (name, exposed_value) in conflicts {
            let mut new_name = name.to_string();
            loop {
                new_name.insert_str(0, "exported_");
                if builder.get(&new_name).is_empty() {
                    builder.set(&new_name, exposed_value);
                    break;
                }
            }
        }
    }
    if !options.metric_relabel_configs.is_empty()
        && !process_builder(&mut builder, options.metric_relabel_configs)
    {
        return None;
    }
    let labels = builder.build();
    if labels.is_empty() {
        return None;
    }
    Some(labels)
}

fn check_label_limits(labels: &Labels, limits: &ScrapeLimits) -> Result<(), ScrapeError> {
    if limits.label_limit == 0
        && limits.label_name_length_limit == 0
        && limits.label_value_length_limit == 0
    {
        return Ok(());
    }
    let metric: String = labels.get_or_empty(METRIC_NAME).chars().take(50).collect();
    let count = labels.len() as u64;
    if limits.label_limit > 0 && count > limits.label_limit {
        return Err(ScrapeError::LabelLimit(format!(
            "label_limit exceeded (metric: {metric}, number of labels: {count}, limit: {})",
            limits.label_limit
        )));
    }
    for label in labels.iter() {
        let name_length = label.name.chars().count() as u64;
        if limits.label_name_length_limit > 0 && name_length > limits.label_name_length_limit {
            return Err(ScrapeError::LabelLimit(format!(
                "label_name_length_limit exceeded (metric: {metric}, label name: {}, length: {name_length}, limit: {})",
                label.name, limits.label_name_length_limit
            )));
        }
        let value_length = label.value.chars().count() as u64;
        if limits.label_value_length_limit > 0 && value_length > limits.label_value_length_limit {
            let value: String = label.value.chars().take(50).collect();
            return Err(ScrapeError::LabelLimit(format!(
                "label_value_length_limit exceeded (metric: {metric}, label name: {}, value: {value:?}, length: {value_length}, limit: {})",
                label.name, limits.label_value_length_limit
            )));
        }
    }
    Ok(())
}

/// Sorts a refused sample into its counter; `Err` for failures that end
/// the scrape (the store itself failed).
fn count_append_error(error: AppendError, counts: &mut AppendCounts) -> Result<(), ScrapeError> {
    match error {
        AppendError::OutOfOrder => counts.out_of_order += 1,
        // Prometheus counts a too-old sample (out-of-order ingestion on)
        // with the out-of-bounds ones: outside the window the store takes.
        AppendError::OutOfBounds | AppendError::TooOldSample => counts.out_of_bounds += 1,
        AppendError::DuplicateSampleForTimestamp => counts.duplicate_timestamp += 1,
        AppendError::InvalidLabels(message) => {
            return Err(ScrapeError::Storage(format!("invalid labels: {message}")));
        }
        AppendError::Storage(error) => return Err(ScrapeError::Storage(error.to_string())),
    }
    Ok(())
}

/// Appends one scraped body (an empty body: a failed scrape) at
/// `default_timestamp_ms`, then staleness markers for series of the
/// previous successful append that are now absent. On `Err` the caller
/// must roll the appender back; the cache stays consistent (the series of
/// the previous success remain the staleness baseline).
pub fn append_body(
    cache: &mut ScrapeCache,
    appender: &mut dyn Appender,
    body: &[u8],
    format: Format,
    default_timestamp_ms: i64,
    options: &SeriesAppendOptions<'_>,
) -> (AppendCounts, Result<(), ScrapeError>) {
    let mut counts = AppendCounts::default();
    cache.iteration += 1;
    cache.current_series.clear();
    let result = append_entries(
        cache,
        appender,
        body,
        format,
        default_timestamp_ms,
        options,
        &mut counts,
    );
    if result.is_err() {
        return (counts, result);
    }
    let iteration = cache.iteration;
    for &slot in &cache.previous_series {
        let entry = &cache.slots[slot as usize];
        if entry.last_seen_iteration == iteration {
            continue;
        }
        // A staleness marker the store refuses (e.g. out of order because a
        // newer sample exists) is not an error of this scrape.
        let _ = appender.append_ref(
            entry.series_ref,
            &entry.labels,
            default_timestamp_ms,
            stale_nan(),
        );
    }
    cache.finish_iteration();
    (counts, Ok(()))
}

fn append_entries(
    cache: &mut ScrapeCache,
    appender: &mut dyn Appender,
    body: &[u8],
    format: Format,
    default_timestamp_ms: i64,
    options: &SeriesAppendOptions<'_>,
    counts: &mut AppendCounts,
) -> Result<(), ScrapeError> {
    let iteration = cache.iteration;
    let sample_limit = options.limits.sample_limit;
    let mut parser = Parser::new(body, format);
    loop {
        let entry = match parser.next() {
            Ok(Some(entry)) => entry,
            Ok(None) => return Ok(()),
            Err(error) => {
                return Err(ScrapeError::Parse {
                    line: error.line,
                    message: error.message,
                });
            }
        };
        let (raw_series, exposed_timestamp, value) = match entry {
            Entry::Series {
                series,
                timestamp_ms,
                value,
            } => (series, timestamp_ms, value),
            Entry::Type {
                family,
                metric_type,
            } => {
                cache.metadata_entry(family).metric_type = metric_type;
                continue;
            }
            Entry::Help { family, help } => {
                let metadata = cache.metadata_entry(family);
                if metadata.help != *help {
                    metadata.help = help.into_owned();
                }
                continue;
            }
            Entry::Unit { family, unit } => {
                let metadata = cache.metadata_entry(family);
                if metadata.unit != unit {
                    unit.clone_into(&mut metadata.unit);
                }
                continue;
            }
            Entry::Comment => continue,
        };
        counts.scraped += 1;
        let timestamp_ms = match exposed_timestamp {
            Some(exposed) if options.honor_timestamps => exposed,
            _ => default_timestamp_ms,
        };
        let track_staleness = exposed_timestamp.is_none()
            || !options.honor_timestamps
            || options.track_timestamps_staleness;

        let (slot, is_new) = match cache.index.get(raw_series) {
            Some(&slot) => {
                let entry = &mut cache.slots[slot as usize];
                if entry.last_seen_iteration == iteration {
                    counts.duplicate_series += 1;
                    continue;
                }
                entry.last_seen_iteration = iteration;
                if entry.dropped {
                    continue;
                }
                (slot, false)
            }
            None => {
                cache.scratch.reset();
                parser.series_labels(&mut cache.scratch);
                let scraped = cache.scratch.labels();
                let Some(labels) = mutate_sample_labels(&scraped, options) else {
                    cache.insert_slot(
                        raw_series,
                        CacheSlot {
                            series_ref: SeriesRef::UNKNOWN,
                            labels: Labels::empty(),
                            dropped: true,
                            last_seen_iteration: iteration,
                            live: true,
                        },
                    );
                    continue;
                };
                if !labels.has(METRIC_NAME) {
                    return Err(ScrapeError::NoMetricName(labels.to_string()));
                }
                check_label_limits(&labels, &options.limits)?;
                let slot = cache.insert_slot(
                    raw_series,
                    CacheSlot {
                        series_ref: SeriesRef::UNKNOWN,
                        labels,
                        dropped: false,
                        last_seen_iteration: iteration,
                        live: true,
                    },
                );
                (slot, true)
            }
        };
        counts.post_relabel += 1;
        if sample_limit > 0 && counts.post_relabel > sample_limit {
            return Err(ScrapeError::SampleLimit);
        }
        let entry = &mut cache.slots[slot as usize];
        match appender.append_ref(entry.series_ref, &entry.labels, timestamp_ms, value) {
            Ok(series_ref) => {
                entry.series_ref = series_ref;
                if is_new {
                    counts.series_added += 1;
                }
                if track_staleness {
                    cache.current_series.push(slot);
                }
            }
            Err(error) => count_append_error(error, counts)?,
        }
    }
}

/// The names of the synthetic series written after every scrape.
pub const REPORT_SERIES_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// The synthetic `up` / `scrape_*` series of one target, with their store
/// references.
#[derive(Debug, Clone)]
pub struct ReportSeries {
    series: Vec<(Labels, SeriesRef)>,
}

impl ReportSeries {
    /// The report series for a target with these public labels.
    pub fn new(target_labels: &Labels) -> Self {
        let series = REPORT_SERIES_NAMES
            .iter()
            .map(|name| {
                let mut builder = LabelsBuilder::new(target_labels);
                builder.set(METRIC_NAME, name);
                (builder.build(), SeriesRef::UNKNOWN)
            })
            .collect();
        ReportSeries { series }
    }

    /// The label sets, in [`REPORT_SERIES_NAMES`] order.
    pub fn labels(&self) -> impl Iterator<Item = &Labels> {
        self.series.iter().map(|(labels, _)| labels)
    }

    fn append_values(
        &mut self,
        appender: &mut dyn Appender,
        timestamp_ms: i64,
        values: [f64; 5],
    ) -> Result<(), AppendError> {
        for ((labels, series_ref), value) in self.series.iter_mut().zip(values) {
            match appender.append_ref(*series_ref, labels, timestamp_ms, value) {
                Ok(new_ref) => *series_ref = new_ref,
                Err(AppendError::OutOfOrder)
                | Err(AppendError::OutOfBounds)
                | Err(AppendError::TooOldSample)
                | Err(AppendError::DuplicateSampleForTimestamp) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Writes the report of one scrape.
    pub fn append_report(
        &mut self,
        appender: &mut dyn Appender,
        timestamp_ms: i64,
        up: bool,
        duration: Duration,
        counts: &AppendCounts,
    ) -> Result<(), AppendError> {
        let values = [
            if up { 1.0 } else { 0.0 },
            duration.as_secs_f64(),
            counts.scraped as f64,
            counts.post_relabel as f64,
            counts.series_added as f64,
        ];
        self.append_values(appender, timestamp_ms, values)
    }

    /// Writes staleness markers for every report series.
    pub fn append_stale(
        &mut self,
        appender: &mut dyn Appender,
        timestamp_ms: i64,
    ) -> Result<(), AppendError> {
        self.append_values(appender, timestamp_ms, [stale_nan(); 5])
    }
}

/// The result of one scrape as written: the error that made `up` 0 (if
/// any) and the counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeWriteOutcome {
    /// Why the scrape failed; `None` when `up` was 1.
    pub error: Option<ScrapeError>,
    /// The counts of the append that was attempted.
    pub counts: AppendCounts,
    /// A failure to commit the transaction (logged; not the target's error).
    pub commit_error: Option<String>,
}

/// Writes one scrape as one transaction, as Prometheus's
/// `scrapeAndReport` does: the body (or, when fetching or appending
/// failed, an empty body, which writes staleness markers for everything
/// the target had), then the report series, then commit.
#[allow(clippy::too_many_arguments)]
pub fn write_scrape(
    appendable: &dyn Appendable,
    cache: &mut ScrapeCache,
    report: &mut ReportSeries,
    fetched: Result<(&[u8], Format), ScrapeError>,
    timestamp_ms: i64,
    started: std::time::Instant,
    options: &SeriesAppendOptions<'_>,
) -> ScrapeWriteOutcome {
    let mut appender = appendable.appender();
    let (body, format, mut error) = match fetched {
        Ok((body, format)) => (body, format, None),
        Err(fetch_error) => (&b""[..], Format::PrometheusText, Some(fetch_error)),
    };
    // A failed fetch is appended as an empty body: that writes staleness
    // markers for every series the target had.
    let (counts, append_result) = append_body(
        cache,
        appender.as_mut(),
        body,
        format,
        timestamp_ms,
        options,
    );
    if let Err(append_error) = append_result {
        // The body is refused as a whole (limit, parse error, store
        // failure): drop what it wrote, mark everything stale instead.
        let _ = appender.rollback();
        appender = appendable.appender();
        let (_, stale_result) = append_body(
            cache,
            appender.as_mut(),
            b"",
            Format::PrometheusText,
            timestamp_ms,
            options,
        );
        if let Err(stale_error) = stale_result {
            tracing::warn!(error = %stale_error, "writing staleness markers failed");
            let _ = appender.rollback();
            appender = appendable.appender();
        }
        error.get_or_insert(append_error);
    }
    if let Err(report_error) = report.append_report(
        appender.as_mut(),
        timestamp_ms,
        error.is_none(),
        started.elapsed(),
        &counts,
    ) {
        tracing::warn!(error = %report_error, "appending scrape report failed");
        if error.is_none() {
            error = Some(ScrapeError::Storage(report_error.to_string()));
        }
    }
    let commit_error = appender.commit().err().map(|e| e.to_string());
    ScrapeWriteOutcome {
        error,
        counts,
        commit_error,
    }
}

/// Writes staleness markers for every series of a target that goes away
/// (and for its report series), in one transaction, at `timestamp_ms`.
pub fn write_end_of_run_staleness(
    appendable: &dyn Appendable,
    cache: &mut ScrapeCache,
    report: &mut ReportSeries,
    timestamp_ms: i64,
    options: &SeriesAppendOptions<'_>,
) -> Result<(), ScrapeError> {
    let mut appender = appendable.appender();
    let (_, result) = append_body(
        cache,
        appender.as_mut(),
        b"",
        Format::PrometheusText,
        timestamp_ms,
        options,
    );
    if let Err(error) = result {
        let _ = appender.rollback();
        return Err(error);
    }
    if let Err(error) = report.append_stale(appender.as_mut(), timestamp_ms) {
        let _ = appender.rollback();
        return Err(ScrapeError::Storage(error.to_string()));
    }
    appender
        .commit()
        .map_err(|error| ScrapeError::Storage(error.to_string()))
}

#[cfg(test)]
#[path = "append_tests.rs"]
mod tests;
