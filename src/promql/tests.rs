//! Engine behaviour users rely on, beyond the Prometheus scripts: limits,
//! hostile queries, error types, annotations.

use std::time::Duration;

use super::{Engine, EngineOptions, QueryError, Value};
use crate::model::Labels;
use crate::storage::memory::MemStorage;
use crate::storage::{Appendable, Appender};

fn storage_with(series: &[(&str, &[(&str, &str)])], points: i64) -> MemStorage {
    let storage = MemStorage::new();
    for (name, labels) in series {
        let mut pairs: Vec<(&str, &str)> = labels.to_vec();
        pairs.push(("__name__", name));
        let labels = Labels::from_pairs(&pairs);
        let mut appender: Box<dyn Appender> = storage.appender();
        for step in 0..points {
            let _ = appender.append(&labels, step * 15_000, step as f64);
        }
        let _ = appender.commit();
    }
    storage
}

#[test]
fn hostile_queries_fail_cleanly() {
    let storage = storage_with(&[("up", &[("job", "a")])], 10);
    let engine = Engine::new(EngineOptions::default());
    let deep_parens = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let long_chain = vec!["1"; 20_000].join(" + ");
    let giant_regex = "up{job=~\"((a|b){1000}){1000}\"}".to_string();
    let long_text = format!("up{{job=~\"{}\"}}", "a".repeat(2 << 20));
    let cases: Vec<(&str, String, &str)> = vec![
        ("deep parentheses", deep_parens, "bad_data"),
        ("long operator chain", long_chain, "bad_data"),
        ("giant regex", giant_regex, "bad_data"),
        ("2 MiB query", long_text, "bad_data"),
        (
            "tiny subquery step",
            "count_over_time(up[10y:1ms])".to_string(),
            "execution",
        ),
        ("huge offset", "up offset 10000000y".to_string(), "ok"),
    ];
    for (name, query, want) in cases {
        let outcome = engine.instant_query(&storage, &query, 100_000);
        match (outcome, want) {
            (Ok(_), "ok") => {}
            (Err(error), want) => assert_eq!(error.error_type(), want, "{name}: {error}"),
            (Ok(result), _) => panic!("{name}: expected an error, got {:?}", result.value),
        }
    }
    let huge_range = engine.range_query(&storage, "up", 0, i64::MAX / 2, 1);
    assert!(
        matches!(huge_range, Err(QueryError::TooManySamples(_))),
        "{huge_range:?}"
    );
}

#[test]
fn sample_limit_gives_prometheus_message() {
    let storage = storage_with(&[("up", &[("job", "a")]), ("up", &[("job", "b")])], 100);
    let options = EngineOptions {
        max_samples: 50,
        ..EngineOptions::default()
    };
    let engine = Engine::new(options);
    let Err(error) = engine.range_query(&storage, "up", 0, 1_485_000, 15_000) else {
        panic!("expected the sample limit to trip");
    };
    assert_eq!(
        error.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    assert_eq!(error.error_type(), "execution");
    assert_eq!(error.http_status(), 422);
}

#[test]
fn timeout_gives_prometheus_message() {
    let storage = storage_with(&[("up", &[("job", "a")])], 100);
    let engine = Engine::new(EngineOptions {
        timeout: Duration::ZERO,
        ..EngineOptions::default()
    });
    let Err(error) = engine.instant_query(&storage, "up", 100_000) else {
        panic!("expected a timeout");
    };
    assert_eq!(
        error.to_string(),
        "query timed out in expression evaluation"
    );
    assert_eq!(error.error_type(), "timeout");
    assert_eq!(error.http_status(), 503);
}

#[test]
fn rate_on_a_gauge_name_gives_the_counter_info() {
    let storage = storage_with(&[("temperature", &[("room", "a")])], 20);
    let engine = Engine::new(EngineOptions::default());
    let result = engine.instant_query(&storage, "rate(temperature[1m])", 200_000);
    let Ok(result) = result else {
        panic!("{result:?}");
    };
    assert_eq!(
        result.infos,
        vec![
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"temperature\""
                .to_string()
        ]
    );
}

#[test]
fn range_query_equals_instant_queries_at_each_step() {
    let storage = storage_with(
        &[
            ("requests_total", &[("code", "200")]),
            ("requests_total", &[("code", "500")]),
        ],
        200,
    );
    let engine = Engine::new(EngineOptions::default());
    let queries = [
        "sum by (code) (rate(requests_total[2m]))",
        "requests_total offset 1m / on(code) requests_total",
        "max_over_time(requests_total[5m:30s])",
        "topk(1, requests_total)",
    ];
    for query in queries {
        let Ok(range) = engine.range_query(&storage, query, 600_000, 1_200_000, 60_000) else {
            panic!("{query}");
        };
        let Value::Matrix(series) = range.value else {
            panic!("{query}: not a matrix");
        };
        for step in 0..=10 {
            let time = 600_000 + step * 60_000;
            let Ok(instant) = engine.instant_query(&storage, query, time) else {
                panic!("{query} at {time}");
            };
            let Value::Vector(samples) = instant.value else {
                panic!("{query}: not a vector");
            };
            for sample in &samples {
                let matching = series
                    .iter()
                    .find(|s| s.labels == sample.labels)
                    .and_then(|s| s.points.iter().find(|p| p.0 == time));
                assert_eq!(matching.map(|p| p.1), Some(sample.v), "{query} at {time}");
            }
        }
    }
}

/// A store whose queriers take a while to open: holds a query in flight.
struct SlowStorage {
    inner: MemStorage,
    delay: Duration,
}

impl crate::storage::Queryable for SlowStorage {
    fn querier(
        &self,
        mint: i64,
        maxt: i64,
    ) -> Result<Box<dyn crate::storage::Querier>, crate::storage::StorageError> {
        std::thread::sleep(self.delay);
        self.inner.querier(mint, maxt)
    }
}

#[test]
fn queries_beyond_max_concurrency_wait_then_time_out() {
    let storage = std::sync::Arc::new(SlowStorage {
        inner: storage_with(&[("up", &[("job", "a")])], 10),
        delay: Duration::from_millis(400),
    });
    let engine = std::sync::Arc::new(Engine::new(EngineOptions {
        max_concurrency: 1,
        timeout: Duration::from_millis(150),
        ..EngineOptions::default()
    }));
    let first = {
        let (engine, storage) = (engine.clone(), storage.clone());
        std::thread::spawn(move || engine.instant_query(storage.as_ref(), "up", 100_000))
    };
    std::thread::sleep(Duration::from_millis(50));
    let second = engine.instant_query(storage.as_ref(), "up", 100_000);
    let Err(error) = second else {
        panic!("the second query should not have found a free slot");
    };
    assert_eq!(error.to_string(), "query timed out in query queue");
    assert_eq!(error.error_type(), "timeout");
    let _ = first.join();
}
