//! PromQL range-query figures, after Prometheus's `BenchmarkRangeQuery`
//! (promql/bench_test.go): `rate`, `sum by`, `histogram_quantile`, `topk`
//! and a binary operator over 1, 100 and 1,000 series, at 1h and 24h ranges
//! with a 15s scrape interval and a 15s query step.
//!
//! Run: `cargo bench --bench promql`
//! (one case: append a filter, e.g. `-- 'rate/1000 series/24h'`).
//!
//! Data: `a_N` and `b_N` (N series each, label `l`) and `h_N`, a classic
//! histogram of max(1, N/10) label sets times 10 `le` buckets; 24h of
//! samples every 15s, loaded through the `Appender` into the TSDB.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

use promshard::model::Labels;
use promshard::promql::{Engine, EngineOptions};
use promshard::storage::memory::MemStorage;
use promshard::storage::{Appendable, Queryable};
use promshard::tsdb::{Db, DbOptions};

const SCRAPE_INTERVAL_MS: i64 = 15_000;
const DAY_MS: i64 = 86_400_000;
const SERIES_COUNTS: [usize; 3] = [1, 100, 1000];

/// The store under test: the real TSDB in a temporary directory (kept for
/// the whole run), as a node queries it. `PROMQL_BENCH_STORE=memory` uses
/// the in-memory twin instead, to separate engine from storage cost.
fn new_storage() -> (Arc<dyn Queryable>, Arc<dyn Appendable>) {
    if std::env::var("PROMQL_BENCH_STORE").as_deref() == Ok("memory") {
        let storage = MemStorage::new();
        return (Arc::new(storage.clone()), Arc::new(storage));
    }
    let dir = tempfile::tempdir().expect("temporary directory").keep();
    let db =
        Db::open(&dir, DbOptions::default(), &prometheus::Registry::new()).expect("open the TSDB");
    (db.clone(), db)
}

fn append_series(appendable: &dyn Appendable, labels: &Labels, value_at: impl Fn(i64) -> f64) {
    let mut appender = appendable.appender();
    let mut t = 0;
    while t <= DAY_MS {
        let _ = appender.append(labels, t, value_at(t));
        t += SCRAPE_INTERVAL_MS;
    }
    let _ = appender.commit();
}

fn load(appendable: &dyn Appendable) {
    for &count in &SERIES_COUNTS {
        for index in 0..count {
            let l = index.to_string();
            for metric in ["a", "b"] {
                let labels = Labels::from_pairs(&[
                    ("__name__", format!("{metric}_{count}").as_str()),
                    ("l", l.as_str()),
                ]);
                let slope = (index % 7 + 1) as f64;
                append_series(appendable, &labels, |t| {
                    (t / SCRAPE_INTERVAL_MS) as f64 * slope
                });
            }
        }
        for group in 0..(count / 10).max(1) {
            let l = group.to_string();
            for bucket in 0..10 {
                let le = if bucket == 9 {
                    "+Inf".to_string()
                } else {
                    (bucket + 1).to_string()
                };
                let labels = Labels::from_pairs(&[
                    ("__name__", format!("h_{count}").as_str()),
                    ("l", l.as_str()),
                    ("le", le.as_str()),
                ]);
                append_series(appendable, &labels, |t| {
                    (t / SCRAPE_INTERVAL_MS) as f64 * (bucket + 1) as f64
                });
            }
        }
    }
}

fn range_queries(criterion: &mut Criterion) {
    let (queryable, appendable) = new_storage();
    load(appendable.as_ref());
    let engine = Engine::new(EngineOptions::default());
    let cases = [
        ("rate", "rate(a_N[1m])"),
        ("sum by", "sum by (le) (h_N)"),
        (
            "histogram_quantile",
            "histogram_quantile(0.9, rate(h_N[5m]))",
        ),
        ("topk", "topk(5, a_N)"),
        ("binary", "a_N - b_N"),
    ];
    for (name, template) in cases {
        let mut group = criterion.benchmark_group(name);
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(1));
        for &count in &SERIES_COUNTS {
            let query = template.replace("_N", &format!("_{count}"));
            for (range_name, range_ms) in [("1h", 3_600_000i64), ("24h", DAY_MS)] {
                let end = DAY_MS;
                let start = end - range_ms;
                let id = BenchmarkId::new(format!("{count} series"), range_name);
                group.bench_with_input(id, &query, |bencher, query| {
                    bencher.iter(|| {
                        let result = engine.range_query(
                            queryable.as_ref(),
                            query,
                            start,
                            end,
                            SCRAPE_INTERVAL_MS,
                        );
                        assert!(result.is_ok(), "{query}: {result:?}");
                        result
                    });
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, range_queries);
criterion_main!(benches);
