//! One scrape's parse, metric relabeling and append, for a body of 1,000
//! series, into a no-op appender, with the scrape cache warm (steady state).
//!
//! Run: `CARGO_TARGET_DIR=/work/targets/scrape cargo bench --bench scrape`
//! (the figure is `thrpt`, in samples per second).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promshard::model::Labels;
use promshard::model::relabel::{Action, RelabelConfig, RelabelRegex};
use promshard::model::textparse::Format;
use promshard::scrape::ScrapeLimits;
use promshard::scrape::append::{ReportSeries, ScrapeCache, SeriesAppendOptions, write_scrape};
use promshard::storage::{AppendError, Appendable, Appender, SeriesRef, StorageError};

struct NoopAppendable;

struct NoopAppender;

impl Appendable for NoopAppendable {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(NoopAppender)
    }
}

impl Appender for NoopAppender {
    fn append_ref(
        &mut self,
        cached: SeriesRef,
        labels: &Labels,
        _t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        black_box(v);
        if cached.is_unknown() {
            return Ok(SeriesRef(labels.stable_hash() | 1));
        }
        Ok(cached)
    }

    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        Ok(())
    }
}

/// 1,000 series in 50 families of 20, with HELP and TYPE, like a typical
/// application exporter.
fn body() -> String {
    let mut body = String::new();
    for family in 0..50 {
        body.push_str(&format!(
            "# HELP app_requests_{family}_total Requests handled by handler group {family}.\n"
        ));
        body.push_str(&format!("# TYPE app_requests_{family}_total counter\n"));
        for series in 0..20 {
            body.push_str(&format!(
                "app_requests_{family}_total{{method=\"GET\",code=\"{}\",handler=\"/api/v1/endpoint_{series}\"}} {}\n",
                200 + series % 3,
                family * 1000 + series
            ));
        }
    }
    body
}

fn metric_relabel_rules() -> Vec<RelabelConfig> {
    vec![
        RelabelConfig {
            source_labels: vec!["__name__".into()],
            regex: RelabelRegex::new("go_gc_.*").expect("valid regex"),
            action: Action::Drop,
            ..Default::default()
        },
        RelabelConfig {
            regex: RelabelRegex::new("pod_template_hash").expect("valid regex"),
            action: Action::LabelDrop,
            ..Default::default()
        },
    ]
}

fn scrape_append(criterion: &mut Criterion) {
    let body = body();
    let target_labels = Labels::from_pairs(&[("instance", "app-1:8080"), ("job", "app")]);
    let rules = metric_relabel_rules();
    let options = SeriesAppendOptions {
        target_labels: &target_labels,
        honor_labels: false,
        honor_timestamps: true,
        track_timestamps_staleness: false,
        metric_relabel_configs: &rules,
        limits: ScrapeLimits {
            sample_limit: 10_000,
            ..Default::default()
        },
    };
    let mut cache = ScrapeCache::new();
    let mut report = ReportSeries::new(&target_labels);
    let mut timestamp_ms = 1_700_000_000_000i64;
    let mut group = criterion.benchmark_group("scrape");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("parse_relabel_append_1000_series", |bencher| {
        bencher.iter(|| {
            timestamp_ms += 15_000;
            let outcome = write_scrape(
                &NoopAppendable,
                &mut cache,
                &mut report,
                Ok((body.as_bytes(), Format::PrometheusText)),
                timestamp_ms,
                Instant::now(),
                &options,
            );
            assert!(outcome.error.is_none());
            black_box(outcome.counts.post_relabel)
        })
    });
    group.finish();
}

criterion_group!(benches, scrape_append);
criterion_main!(benches);
