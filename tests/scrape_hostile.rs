//! The scrape manager against real HTTP targets on loopback: a normal one
//! and hostile ones (slow, huge, endless, malformed, flapping), checked
//! through the stored `up` / `scrape_*` series and the targets' status.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::get;
use promshard::model::{Labels, is_stale_nan};
use promshard::scrape::{ScrapeManager, ScrapeOptions, ScrapeSettings, TargetGroup};
use promshard::storage::memory::MemStorage;

const INTERVAL: Duration = Duration::from_millis(200);

/// 100,000 series, about 3 MB, built once.
fn huge_body() -> &'static str {
    static BODY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BODY.get_or_init(|| {
        let mut body = String::with_capacity(3 << 20);
        for i in 0..100_000 {
            body.push_str(&format!("huge_series{{index=\"{i}\"}} {i}\n"));
        }
        body
    })
}

async fn hostile_server() -> String {
    huge_body();
    let flaps = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/normal",
            get(|| async { "# TYPE requests_total counter\nrequests_total 7\ntemperature 21.5\n" }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late 1\n"
            }),
        )
        .route("/huge", get(|| async { huge_body().to_string() }))
        .route(
            "/endless",
            get(|| async {
                let chunks = futures::stream::unfold(0u64, |i| async move {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let line = format!("endless{{i=\"{i}\"}} 1\n").repeat(4000);
                    Some((Ok::<_, std::io::Error>(line), i + 1))
                });
                Body::from_stream(chunks)
            }),
        )
        .route("/malformed", get(|| async { "good 1\nbad{ 2\n" }))
        .route(
            "/flapping",
            get(move || {
                let flaps = flaps.clone();
                async move {
                    if flaps.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                        (StatusCode::OK, "flap_metric 1\n")
                    } else {
                        (StatusCode::INTERNAL_SERVER_ERROR, "down\n")
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    address
}

fn job(name: &str, path: &str) -> ScrapeSettings {
    let mut settings = ScrapeSettings::new(name);
    settings.scrape_interval = INTERVAL;
    settings.scrape_timeout = Duration::from_millis(150);
    settings.metrics_path = path.to_string();
    settings
}

fn groups_for(jobs: &[&str], address: &str) -> HashMap<String, Vec<TargetGroup>> {
    jobs.iter()
        .map(|job| {
            let group = TargetGroup {
                source: format!("{job}/static/0"),
                targets: vec![Labels::from_pairs(&[("__address__", address)])],
                labels: Labels::empty(),
            };
            (job.to_string(), vec![group])
        })
        .collect()
}

fn new_manager(store: &MemStorage) -> Arc<ScrapeManager> {
    Arc::new(
        ScrapeManager::new(
            Arc::new(store.clone()),
            &prometheus::Registry::new(),
            ScrapeOptions::default(),
        )
        .unwrap(),
    )
}

/// The samples of the series named `name` of job `job`.
fn samples(store: &MemStorage, name: &str, job: &str) -> Vec<(i64, f64)> {
    store
        .dump()
        .into_iter()
        .filter(|(labels, _)| labels.metric_name() == Some(name) && labels.get("job") == Some(job))
        .flat_map(|(_, samples)| samples)
        .collect()
}

fn last_value(store: &MemStorage, name: &str, job: &str) -> Option<f64> {
    samples(store, name, job).last().map(|(_, v)| *v)
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn last_error(manager: &ScrapeManager, job: &str) -> String {
    manager
        .active_targets()
        .into_iter()
        .find(|view| view.scrape_pool == job)
        .map(|view| view.target.status().last_error)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_targets_fail_alone_with_the_reason() {
    let address = hostile_server().await;
    let store = MemStorage::new();
    let manager = new_manager(&store);
    let mut huge_by_bytes = job("huge_bytes", "/huge");
    huge_by_bytes.limits.body_size_limit = 1 << 20;
    let mut huge_by_samples = job("huge_samples", "/huge");
    huge_by_samples.limits.sample_limit = 1000;
    huge_by_samples.scrape_timeout = INTERVAL;
    let mut endless = job("endless", "/endless");
    endless.limits.body_size_limit = 256 << 10;
    endless.scrape_timeout = INTERVAL;
    let jobs = vec![
        job("normal", "/normal"),
        job("slow", "/slow"),
        huge_by_bytes,
        huge_by_samples,
        endless,
        job("endless_unlimited", "/endless"),
        job("malformed", "/malformed"),
    ];
    let names: Vec<String> = jobs.iter().map(|j| j.job_name.clone()).collect();
    manager.apply_config(jobs).unwrap();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    manager.sync(groups_for(&name_refs, &address));
    wait_until("every target scraped twice", || {
        name_refs
            .iter()
            .all(|job| samples(&store, "up", job).len() >= 2)
    })
    .await;

    assert_eq!(last_value(&store, "up", "normal"), Some(1.0));
    assert_eq!(last_value(&store, "requests_total", "normal"), Some(7.0));
    assert_eq!(
        last_value(&store, "scrape_samples_scraped", "normal"),
        Some(2.0)
    );
    assert_eq!(
        last_value(&store, "scrape_samples_post_metric_relabeling", "normal"),
        Some(2.0)
    );
    assert!(last_value(&store, "scrape_duration_seconds", "normal").unwrap() > 0.0);
    assert_eq!(last_error(&manager, "normal"), "");

    let expectations = [
        ("slow", "deadline exceeded"),
        ("huge_bytes", "body size limit exceeded"),
        ("huge_samples", "sample limit exceeded"),
        ("endless", "body size limit exceeded"),
        ("endless_unlimited", "deadline exceeded"),
        ("malformed", "line 2"),
    ];
    for (job, reason) in expectations {
        assert_eq!(last_value(&store, "up", job), Some(0.0), "{job}");
        let error = last_error(&manager, job);
        assert!(
            error.contains(reason),
            "{job}: {error:?} should mention {reason:?}"
        );
    }
    assert!(
        samples(&store, "huge_series", "huge_samples").is_empty(),
        "a scrape over sample_limit stores nothing"
    );
    assert!(
        samples(&store, "good", "malformed").is_empty(),
        "a body that fails to parse stores nothing"
    );
    manager.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_target_gets_staleness_markers_then_resumes() {
    let address = hostile_server().await;
    let store = MemStorage::new();
    let manager = new_manager(&store);
    manager
        .apply_config(vec![job("flapping", "/flapping")])
        .unwrap();
    manager.sync(groups_for(&["flapping"], &address));
    wait_until("four scrapes", || {
        samples(&store, "up", "flapping").len() >= 4
    })
    .await;
    manager.stop().await;

    let up: Vec<f64> = samples(&store, "up", "flapping")
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| !is_stale_nan(*v))
        .collect();
    assert_eq!(&up[..4], &[1.0, 0.0, 1.0, 0.0]);
    let flap = samples(&store, "flap_metric", "flapping");
    let kinds: Vec<bool> = flap.iter().map(|(_, v)| is_stale_nan(*v)).collect();
    assert_eq!(
        &kinds[..4],
        &[false, true, false, true],
        "value, stale, value again, stale"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_target_gets_staleness_markers() {
    let address = hostile_server().await;
    let store = MemStorage::new();
    let manager = new_manager(&store);
    manager
        .apply_config(vec![job("normal", "/normal")])
        .unwrap();
    manager.sync(groups_for(&["normal"], &address));
    wait_until("a scrape", || !samples(&store, "up", "normal").is_empty()).await;
    manager.sync(HashMap::from([("normal".to_string(), Vec::new())]));
    wait_until("staleness markers", || {
        last_value(&store, "requests_total", "normal").is_some_and(is_stale_nan)
    })
    .await;
    assert!(last_value(&store, "up", "normal").is_some_and(is_stale_nan));
    assert!(last_value(&store, "temperature", "normal").is_some_and(is_stale_nan));
    assert!(manager.active_targets().is_empty());
    manager.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_target_stops_without_staleness_markers() {
    let address = hostile_server().await;
    let store = MemStorage::new();
    let manager = new_manager(&store);
    manager
        .apply_config(vec![job("normal", "/normal")])
        .unwrap();
    manager.sync(groups_for(&["normal"], &address));
    wait_until("a scrape", || !samples(&store, "up", "normal").is_empty()).await;
    manager.sync_releasing(HashMap::from([("normal".to_string(), Vec::new())]), &|_| {
        true
    });
    tokio::time::sleep(INTERVAL * 2).await;
    let up = samples(&store, "up", "normal");
    assert!(up.iter().all(|(_, v)| !is_stale_nan(*v)), "{up:?}");
    manager.stop().await;
}

/// The largest distance between consecutive `up` samples of `job`.
fn largest_gap_ms(store: &MemStorage, job: &str) -> i64 {
    samples(store, "up", job)
        .windows(2)
        .map(|pair| pair[1].0 - pair[0].0)
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_unchanged_pools_running_without_a_gap() {
    let address = hostile_server().await;
    let store = MemStorage::new();
    let manager = new_manager(&store);
    manager
        .apply_config(vec![job("steady", "/normal"), job("changed", "/normal")])
        .unwrap();
    manager.sync(groups_for(&["steady", "changed"], &address));
    wait_until("three scrapes", || {
        samples(&store, "up", "steady").len() >= 3
    })
    .await;

    let mut changed = job("changed", "/normal");
    changed.scrape_timeout = Duration::from_millis(100);
    for _ in 0..3 {
        manager
            .apply_config(vec![job("steady", "/normal"), changed.clone()])
            .unwrap();
        tokio::time::sleep(INTERVAL / 2).await;
    }
    let before = samples(&store, "up", "steady").len();
    wait_until("three more scrapes", || {
        samples(&store, "up", "steady").len() >= before + 3
    })
    .await;
    manager.stop().await;

    let interval_ms = INTERVAL.as_millis() as i64;
    assert!(
        largest_gap_ms(&store, "steady") <= interval_ms + interval_ms / 2,
        "unchanged pool: gap {} ms",
        largest_gap_ms(&store, "steady")
    );
    let changed_up = samples(&store, "up", "changed");
    let stale_before_stop = changed_up[..changed_up.len() - 1]
        .iter()
        .any(|(_, v)| is_stale_nan(*v));
    assert!(
        !stale_before_stop,
        "a changed pool restarts without staleness markers"
    );
    assert!(
        largest_gap_ms(&store, "changed") <= 2 * interval_ms + interval_ms / 2,
        "changed pool: gap {} ms",
        largest_gap_ms(&store, "changed")
    );
}
