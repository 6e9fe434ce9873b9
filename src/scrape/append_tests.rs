use std::time::Instant;

use super::*;
use crate::model::is_stale_nan;
use crate::model::relabel::{Action, RelabelRegex};
use crate::scrape::testutil::{RecordedSample, RecordingAppendable, value_of};
use crate::storage::StorageError;

fn target_labels() -> Labels {
    Labels::from_pairs(&[("instance", "h:1"), ("job", "node")])
}

struct Harness {
    store: RecordingAppendable,
    cache: ScrapeCache,
    report: ReportSeries,
    target_labels: Labels,
    honor_labels: bool,
    honor_timestamps: bool,
    track_timestamps_staleness: bool,
    metric_relabel_configs: Vec<RelabelConfig>,
    limits: ScrapeLimits,
}

impl Harness {
    fn new() -> Self {
        Harness {
            store: RecordingAppendable::new(),
            cache: ScrapeCache::new(),
            report: ReportSeries::new(&target_labels()),
            target_labels: target_labels(),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            metric_relabel_configs: Vec::new(),
            limits: ScrapeLimits::default(),
        }
    }

    fn scrape(&mut self, body: &str, t: i64) -> ScrapeWriteOutcome {
        self.write(Ok((body.as_bytes(), Format::PrometheusText)), t)
    }

    fn write(
        &mut self,
        fetched: Result<(&[u8], Format), ScrapeError>,
        t: i64,
    ) -> ScrapeWriteOutcome {
        let options = SeriesAppendOptions {
            target_labels: &self.target_labels,
            honor_labels: self.honor_labels,
            honor_timestamps: self.honor_timestamps,
            track_timestamps_staleness: self.track_timestamps_staleness,
            metric_relabel_configs: &self.metric_relabel_configs,
            limits: self.limits,
        };
        write_scrape(
            &self.store,
            &mut self.cache,
            &mut self.report,
            fetched,
            t,
            Instant::now(),
            &options,
        )
    }
}

fn series(samples: &[RecordedSample], name: &str) -> Vec<RecordedSample> {
    samples
        .iter()
        .filter(|s| s.labels.metric_name() == Some(name))
        .cloned()
        .collect()
}

#[test]
fn a_scrape_is_one_transaction_with_target_labels_and_report() {
    let mut harness = Harness::new();
    let outcome = harness.scrape("# TYPE a counter\na{x=\"1\"} 1\nb 2\n", 1000);
    assert_eq!(outcome.error, None);
    let transactions = harness.store.transactions();
    assert_eq!(transactions.len(), 1);
    let samples = &transactions[0];
    assert_eq!(
        samples[0].labels,
        Labels::from_pairs(&[
            ("__name__", "a"),
            ("instance", "h:1"),
            ("job", "node"),
            ("x", "1")
        ])
    );
    assert_eq!((samples[0].t, samples[0].v), (1000, 1.0));
    assert_eq!(value_of(samples, "up"), Some(1.0));
    assert_eq!(value_of(samples, "scrape_samples_scraped"), Some(2.0));
    assert_eq!(
        value_of(samples, "scrape_samples_post_metric_relabeling"),
        Some(2.0)
    );
    assert_eq!(value_of(samples, "scrape_series_added"), Some(2.0));
    assert!(value_of(samples, "scrape_duration_seconds").is_some());
    let up = &series(samples, "up")[0];
    assert_eq!(
        up.labels,
        Labels::from_pairs(&[("__name__", "up"), ("instance", "h:1"), ("job", "node")])
    );
    assert_eq!(up.t, 1000);
    assert_eq!(
        harness.cache.metadata(),
        vec![(
            "a".to_string(),
            Metadata {
                metric_type: crate::model::MetricType::Counter,
                ..Default::default()
            }
        )]
    );

    let second = harness.scrape("# TYPE a counter\na{x=\"1\"} 1\nb 2\n", 2000);
    assert_eq!(
        second.counts.series_added, 0,
        "known series come from the cache"
    );
    assert_eq!(
        value_of(&harness.store.last(), "scrape_series_added"),
        Some(0.0)
    );
}

#[test]
fn conflicting_labels_are_exported_unless_honored() {
    let body = "m{job=\"exposed\",exported_job=\"old\"} 1\n";
    let mut harness = Harness::new();
    harness.scrape(body, 1000);
    assert_eq!(
        harness.store.last()[0].labels,
        Labels::from_pairs(&[
            ("__name__", "m"),
            ("exported_exported_job", "exposed"),
            ("exported_job", "old"),
            ("instance", "h:1"),
            ("job", "node"),
        ])
    );

    let mut honoring = Harness::new();
    honoring.honor_labels = true;
    honoring.scrape(body, 1000);
    assert_eq!(
        honoring.store.last()[0].labels,
        Labels::from_pairs(&[
            ("__name__", "m"),
            ("exported_job", "old"),
            ("instance", "h:1"),
            ("job", "exposed"),
        ])
    );
}

#[test]
fn vanished_series_get_a_staleness_marker_once() {
    let mut harness = Harness::new();
    harness.scrape("a 1\nb 1\n", 1000);
    harness.scrape("a 2\n", 2000);
    let stale_b = series(&harness.store.last(), "b");
    assert_eq!(stale_b.len(), 1);
    assert_eq!(stale_b[0].t, 2000);
    assert!(is_stale_nan(stale_b[0].v));
    harness.scrape("a 3\n", 3000);
    assert!(
        series(&harness.store.last(), "b").is_empty(),
        "only one marker"
    );
    harness.scrape("a 4\nb 4\n", 4000);
    assert_eq!(
        series(&harness.store.last(), "b")[0].v,
        4.0,
        "series resumes"
    );
}

#[test]
fn a_failed_scrape_marks_everything_stale_and_reports_down() {
    let mut harness = Harness::new();
    harness.scrape("a 1\nb 1\n", 1000);
    let outcome = harness.write(
        Err(ScrapeError::HttpStatus("500 Internal Server Error".into())),
        2000,
    );
    assert_eq!(
        outcome.error,
        Some(ScrapeError::HttpStatus("500 Internal Server Error".into()))
    );
    let samples = harness.store.last();
    assert_eq!(value_of(&samples, "up"), Some(0.0));
    assert!(is_stale_nan(value_of(&samples, "a").unwrap()));
    assert!(is_stale_nan(value_of(&samples, "b").unwrap()));
    assert_eq!(value_of(&samples, "scrape_samples_scraped"), Some(0.0));
}

#[test]
fn a_scrape_over_a_limit_fails_as_a_whole() {
    let body = "a{l=\"x\"} 1\nb{l=\"yyyyyy\"} 2\nc 3\n";
    let cases: [(ScrapeLimits, &str); 4] = [
        (
            ScrapeLimits {
                sample_limit: 2,
                ..Default::default()
            },
            "sample limit exceeded",
        ),
        (
            ScrapeLimits {
                label_limit: 3,
                ..Default::default()
            },
            "label_limit exceeded (metric: a, number of labels: 4, limit: 3)",
        ),
        (
            ScrapeLimits {
                label_name_length_limit: 4,
                ..Default::default()
            },
            "label_name_length_limit exceeded (metric: a, label name: __name__, length: 8, limit: 4)",
        ),
        (
            ScrapeLimits {
                label_value_length_limit: 5,
                ..Default::default()
            },
            "label_value_length_limit exceeded (metric: b, label name: l, value: \"yyyyyy\", length: 6, limit: 5)",
        ),
    ];
    for (limits, message) in cases {
        let mut harness = Harness::new();
        harness.scrape("old 1\n", 500);
        harness.limits = limits;
        let outcome = harness.scrape(body, 1000);
        assert_eq!(
            outcome.error.map(|e| e.to_string()).as_deref(),
            Some(message)
        );
        let samples = harness.store.last();
        assert_eq!(value_of(&samples, "up"), Some(0.0), "{message}");
        for name in ["a", "b", "c"] {
            assert!(
                value_of(&samples, name).is_none(),
                "{message}: {name} must not be stored"
            );
        }
        assert!(
            is_stale_nan(value_of(&samples, "old").unwrap()),
            "{message}"
        );
        assert!(harness.store.rollbacks() >= 1);
    }
}

#[test]
fn a_parse_error_names_the_line() {
    let mut harness = Harness::new();
    let outcome = harness.scrape("a 1\nb{ 2\n", 1000);
    match outcome.error {
        Some(ScrapeError::Parse { line, .. }) => assert_eq!(line, 2),
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert_eq!(value_of(&harness.store.last(), "up"), Some(0.0));
    assert!(value_of(&harness.store.last(), "a").is_none());
}

#[test]
fn duplicate_series_are_counted_and_dropped() {
    let mut harness = Harness::new();
    let outcome = harness.scrape("a 1\na 2\nb 1\n", 1000);
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.counts.duplicate_series, 1);
    assert_eq!(series(&harness.store.last(), "a").len(), 1);
    assert_eq!(series(&harness.store.last(), "a")[0].v, 1.0);
}

#[test]
fn refused_samples_are_counted_per_kind_and_not_fatal() {
    let cases = [
        (AppendError::OutOfOrder, [1, 0, 0]),
        (AppendError::OutOfBounds, [0, 1, 0]),
        (AppendError::DuplicateSampleForTimestamp, [0, 0, 1]),
    ];
    for (error, [out_of_order, out_of_bounds, duplicate]) in cases {
        let mut harness = Harness::new();
        harness.store.fail_metric("bad", error.clone());
        let outcome = harness.scrape("bad 1\ngood 1\n", 1000);
        assert_eq!(outcome.error, None, "{error}");
        assert_eq!(outcome.counts.out_of_order, out_of_order);
        assert_eq!(outcome.counts.out_of_bounds, out_of_bounds);
        assert_eq!(outcome.counts.duplicate_timestamp, duplicate);
        assert_eq!(value_of(&harness.store.last(), "good"), Some(1.0));
        assert_eq!(value_of(&harness.store.last(), "up"), Some(1.0));
    }
}

#[test]
fn a_storage_failure_fails_the_scrape() {
    let mut harness = Harness::new();
    harness
        .store
        .fail_metric("bad", AppendError::Storage(StorageError::Closed));
    let outcome = harness.scrape("good 1\nbad 1\n", 1000);
    assert_eq!(
        outcome.error,
        Some(ScrapeError::Storage("storage is closed".into()))
    );
    assert!(value_of(&harness.store.last(), "good").is_none());
}

#[test]
fn exposed_timestamps_follow_honor_timestamps_and_skip_staleness() {
    let mut harness = Harness::new();
    harness.scrape("a 1 500\n", 1000);
    assert_eq!(series(&harness.store.last(), "a")[0].t, 500);
    harness.scrape("", 2000);
    assert!(
        series(&harness.store.last(), "a").is_empty(),
        "series with their own timestamps get no staleness marker by default"
    );

    let mut tracking = Harness::new();
    tracking.track_timestamps_staleness = true;
    tracking.scrape("a 1 500\n", 1000);
    tracking.scrape("", 2000);
    assert!(is_stale_nan(value_of(&tracking.store.last(), "a").unwrap()));

    let mut ignoring = Harness::new();
    ignoring.honor_timestamps = false;
    ignoring.scrape("a 1 500\n", 1000);
    assert_eq!(series(&ignoring.store.last(), "a")[0].t, 1000);
}

#[test]
fn metric_relabeling_drops_and_rewrites_series() {
    let mut harness = Harness::new();
    harness.metric_relabel_configs = vec![
        RelabelConfig {
            source_labels: vec!["__name__".into()],
            regex: RelabelRegex::new("drop_me.*").unwrap(),
            action: Action::Drop,
            ..Default::default()
        },
        RelabelConfig {
            target_label: "env".into(),
            replacement: "prod".into(),
            ..Default::default()
        },
    ];
    for t in [1000, 2000] {
        let outcome = harness.scrape("drop_me_total 1\nkeep 1\n", t);
        assert_eq!(outcome.counts.scraped, 2);
        assert_eq!(outcome.counts.post_relabel, 1);
        let samples = harness.store.last();
        assert!(value_of(&samples, "drop_me_total").is_none());
        assert_eq!(series(&samples, "keep")[0].labels.get("env"), Some("prod"));
        assert_eq!(
            value_of(&samples, "scrape_samples_post_metric_relabeling"),
            Some(1.0)
        );
    }
}

#[test]
fn end_of_run_staleness_covers_series_and_report() {
    let mut harness = Harness::new();
    harness.scrape("a 1\n", 1000);
    let options = SeriesAppendOptions {
        target_labels: &harness.target_labels,
        honor_labels: false,
        honor_timestamps: true,
        track_timestamps_staleness: false,
        metric_relabel_configs: &[],
        limits: ScrapeLimits::default(),
    };
    write_end_of_run_staleness(
        &harness.store,
        &mut harness.cache,
        &mut harness.report,
        1500,
        &options,
    )
    .unwrap();
    let samples = harness.store.last();
    for name in ["a", "up", "scrape_duration_seconds", "scrape_series_added"] {
        let value = value_of(&samples, name).unwrap_or(0.0);
        assert!(is_stale_nan(value), "{name}");
    }
    assert!(samples.iter().all(|s| s.t == 1500));
}

#[test]
fn a_commit_failure_is_reported_separately() {
    let mut harness = Harness::new();
    harness.store.fail_commits(true);
    let outcome = harness.scrape("a 1\n", 1000);
    assert_eq!(outcome.error, None);
    assert!(outcome.commit_error.is_some());
}
