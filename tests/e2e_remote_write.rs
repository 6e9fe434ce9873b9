//! Remote write to a real Prometheus (Debian's, with
//! `--web.enable-remote-write-receiver`): the same query asked of both gives
//! the same samples; a two-minute receiver outage, with a promshard restart
//! in the middle of it, loses nothing, and the lag goes up and back down.

mod common;

use std::time::{Duration, Instant};

use common::{
    Node, NodeOptions, TestTarget, eventually, free_port, query_at, self_metric, start_prometheus,
};
use serde_json::Value;

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn config(target: &TestTarget, prometheus_port: u16) -> String {
    format!(
        r#"
global:
  scrape_interval: 1s
  external_labels: {{replica: promshard}}
scrape_configs:
  - job_name: pushed
    metrics_path: /ok
    static_configs: [{{targets: ["{}"]}}]
remote_write:
  - url: http://127.0.0.1:{prometheus_port}/api/v1/write
    name: real-prometheus
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 50ms
      max_backoff: 2s
"#,
        target.address()
    )
}

/// (timestamp, value) pairs of a range-vector query's only series.
fn points(result: &[Value]) -> Vec<(i64, String)> {
    let Some(series) = result.first() else {
        return Vec::new();
    };
    series["values"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|p| {
                    (
                        (p[0].as_f64().unwrap_or(0.0) * 1000.0).round() as i64,
                        p[1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn lag_seconds(node: &Node) -> f64 {
    self_metric(
        &node.url,
        "prometheus_remote_storage_highest_timestamp_in_seconds",
    ) - self_metric(
        &node.url,
        "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
    )
}

#[test]
fn delivers_to_real_prometheus_and_survives_outage_and_restart() {
    let target = TestTarget::start();
    let dir = tempfile::tempdir().unwrap();
    let prometheus_data = dir.path().join("prometheus");
    let prometheus_port = free_port();
    let prometheus_url = format!("http://127.0.0.1:{prometheus_port}");
    let mut prometheus = start_prometheus(&prometheus_data, prometheus_port);

    let node_dir = dir.path().join("node");
    std::fs::create_dir_all(&node_dir).unwrap();
    let node_port = free_port();
    // The restart below happens with the receiver down: the flush at stop
    // waits --storage.remote.flush-deadline (1m by default, as in
    // Prometheus) before leaving the unsent samples to the next start.
    let options = || NodeOptions {
        dir: Some(node_dir.clone()),
        port: Some(node_port),
        flags: vec![
            "--web.enable-lifecycle".into(),
            "--storage.remote.flush-deadline=5s".into(),
        ],
        resolv_conf: None,
    };
    let mut node = Node::start(&config(&target, prometheus_port), options());

    // Delivery: the same query asked of both gives the same samples.
    let mut value = 1.0;
    let started = now_seconds();
    while now_seconds() - started < 8.0 {
        value += 0.5;
        target.set_value(value);
        std::thread::sleep(Duration::from_millis(500));
    }
    let at = now_seconds() - 2.0;
    let ours = eventually(Duration::from_secs(20), "samples delivered", || {
        let ours = points(&query_at(&node.url, "test_value[6s]", at));
        let theirs = points(&query_at(
            &prometheus_url,
            "test_value{replica=\"promshard\"}[6s]",
            at,
        ));
        (!ours.is_empty() && ours == theirs).then_some(ours)
    });
    assert!(ours.len() >= 4, "several samples compared: {ours:?}");

    // Outage of two minutes, with promshard restarted in the middle of it.
    let outage_start = now_seconds();
    prometheus.kill9();
    let mut max_lag: f64 = 0.0;
    let mid = Instant::now() + Duration::from_secs(60);
    while Instant::now() < mid {
        value += 1.0;
        target.set_value(value);
        max_lag = max_lag.max(lag_seconds(&node));
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(
        max_lag > 30.0,
        "the lag grows while the receiver is down: {max_lag}"
    );
    let stopping = Instant::now();
    node.process.signal("TERM");
    let _ = node.process.child.wait();
    assert!(
        stopping.elapsed() < Duration::from_secs(30),
        "the flush at stop gave up after --storage.remote.flush-deadline=5s, not the default 1m: {:?}",
        stopping.elapsed()
    );
    node = Node::start(&config(&target, prometheus_port), options());
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        value += 1.0;
        target.set_value(value);
        std::thread::sleep(Duration::from_secs(1));
    }
    let outage_end = now_seconds();
    prometheus = start_prometheus(&prometheus_data, prometheus_port);

    // Every sample scraped during the outage arrives; the lag comes back down.
    let window = (outage_end - outage_start).ceil() as i64;
    let at = outage_end;
    let ours = points(&query_at(&node.url, &format!("test_value[{window}s]"), at));
    assert!(
        ours.len() as i64 >= window - 10,
        "promshard scraped through the outage: {} samples",
        ours.len()
    );
    eventually(
        Duration::from_secs(120),
        "the outage's samples to reach prometheus",
        || {
            let theirs = points(&query_at(
                &prometheus_url,
                &format!("test_value{{replica=\"promshard\"}}[{window}s]"),
                at,
            ));
            let missing: Vec<_> = ours.iter().filter(|p| !theirs.contains(p)).collect();
            missing.is_empty().then_some(())
        },
    );
    eventually(Duration::from_secs(60), "lag back down", || {
        (lag_seconds(&node) < 5.0).then_some(())
    });
    drop(prometheus);
}

#[test]
fn remote_read_entries_join_the_query_view() {
    let target = TestTarget::start();
    let holder = Node::start(
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: far\n    metrics_path: /ok\n    static_configs: [{{targets: [\"{}\"]}}]\n",
            target.address()
        ),
        NodeOptions::default(),
    );
    eventually(Duration::from_secs(20), "the holder to have data", || {
        (!holder.query("test_value").is_empty()).then_some(())
    });
    let reader = Node::start(
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs: []\nremote_read:\n  - url: {}/api/v1/read\n    name: holder\n    read_recent: true\n",
            holder.url
        ),
        NodeOptions::default(),
    );
    let through_reader = eventually(
        Duration::from_secs(20),
        "remote data through the reader",
        || {
            let result = reader.query("test_value{job=\"far\"}");
            (!result.is_empty()).then_some(result)
        },
    );
    assert_eq!(through_reader[0]["metric"]["instance"], target.address());
    let at = now_seconds() - 1.0;
    assert_eq!(
        points(&query_at(&reader.url, "test_value[5s]", at)),
        points(&query_at(&holder.url, "test_value[5s]", at)),
        "the same samples through remote read"
    );

    // With the remote down, the reader answers from what it has, with a warning.
    drop(holder);
    let (status, body) = reader.get_json(&format!(
        "/api/v1/query?query={}",
        common::urlencode("test_value")
    ));
    assert_eq!(status, 200, "{body}");
    let warnings = body["warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap_or("").contains("holder")),
        "a partial-result warning: {body}"
    );
}
