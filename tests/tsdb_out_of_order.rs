//! Out-of-order ingestion against the real binary: a node whose config has
//! `storage.tsdb.out_of_order_time_window: 10m` takes late samples through
//! the remote-write receiver, serves them from `/api/v1/query_range`, keeps
//! them across a kill -9, and refuses a sample older than the window with
//! Prometheus's out-of-order error.

mod common;

use common::{Node, NodeOptions, urlencode};
use promshard::model::Labels;
use serde_json::Value;

const CONFIG: &str = "global:\n  scrape_interval: 15s\nscrape_configs: []\nstorage:\n  tsdb:\n    out_of_order_time_window: 10m\n  exemplars:\n    max_exemplars: 100000\n";

/// The points of `late_metric` between `start` and `end` (ms), one-second
/// resolution.
fn points(node: &Node, start: i64, end: i64) -> Vec<(i64, String)> {
    let (status, value) = node.get_json(&format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=1",
        urlencode("late_metric"),
        start as f64 / 1000.0,
        end as f64 / 1000.0
    ));
    assert_eq!(status, 200, "{value}");
    let result = value["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    result
        .first()
        .and_then(|series| series["values"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|pair: &Value| {
            let t = (pair[0].as_f64().unwrap_or(f64::NAN) * 1000.0).round() as i64;
            (t, pair[1].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn flags() -> Vec<String> {
    let mut flags = NodeOptions::default().flags;
    flags.push("--web.enable-remote-write-receiver".into());
    // The query lookback would repeat a point over the one-second steps;
    // a short one keeps each pushed point at its own timestamp.
    flags.push("--query.lookback-delta=1s".into());
    flags
}

#[test]
fn late_samples_are_stored_queried_and_survive_kill_9() {
    let node = Node::start(
        CONFIG,
        NodeOptions {
            flags: flags(),
            ..NodeOptions::default()
        },
    );
    let labels = Labels::from_pairs(&[("__name__", "late_metric"), ("job", "pushed")]);
    // Whole seconds, so that one-second query steps land on the samples.
    let now = chrono::Utc::now().timestamp() * 1000;
    let newest = now - 60_000;
    let (status, body) = node.remote_write(&[(labels.clone(), newest, 100.0)]);
    assert_eq!(status, 204, "{body}");

    // Late samples, 1 to 5 minutes behind the newest one, pushed newest
    // first so that every one is older than the series' newest sample.
    let late: Vec<(Labels, i64, f64)> = (1..=5)
        .map(|minutes| (labels.clone(), newest - minutes * 60_000, minutes as f64))
        .collect();
    let (status, body) = node.remote_write(&late);
    assert_eq!(
        status, 204,
        "late samples inside the window are accepted: {body}"
    );

    let expected: Vec<(i64, String)> = (1..=5)
        .rev()
        .map(|minutes| (newest - minutes * 60_000, minutes.to_string()))
        .chain(std::iter::once((newest, "100".to_string())))
        .collect();
    let start = newest - 6 * 60_000;
    assert_eq!(
        points(&node, start, newest),
        expected,
        "late samples are queryable at once"
    );

    // Older than the window: Prometheus's "too old sample" error (with the
    // window on, out-of-order and out-of-bounds become that), and the
    // self-metrics count what was appended and what was refused.
    let (status, body) = node.remote_write(&[(labels.clone(), newest - 11 * 60_000, 7.0)]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("too old sample"), "{body}");
    assert_eq!(
        common::self_metric(
            &node.url,
            "prometheus_tsdb_head_out_of_order_samples_appended_total"
        ),
        5.0
    );
    assert!(common::self_metric(&node.url, "prometheus_tsdb_too_old_samples_total") >= 1.0);
    assert!(
        node.process.log_text().contains("exemplars are not stored"),
        "the exemplars setting is warned about"
    );

    // kill -9 and restart on the same data: the WAL brings them back.
    let dir = node.dir.clone();
    let port = node.port;
    let mut node = node;
    node.process.kill9();
    let restarted = Node::start(
        CONFIG,
        NodeOptions {
            flags: flags(),
            dir: Some(dir),
            port: Some(port),
            resolv_conf: None,
        },
    );
    assert_eq!(
        points(&restarted, start, newest),
        expected,
        "late samples survive kill -9"
    );
    drop(node);
}

#[test]
fn the_window_follows_a_config_reload() {
    let node = Node::start(
        "scrape_configs: []\n",
        NodeOptions {
            flags: flags(),
            ..NodeOptions::default()
        },
    );
    let labels = Labels::from_pairs(&[("__name__", "late_metric"), ("job", "reload")]);
    let now = chrono::Utc::now().timestamp() * 1000;
    assert_eq!(node.remote_write(&[(labels.clone(), now, 1.0)]).0, 204);
    let (status, body) = node.remote_write(&[(labels.clone(), now - 60_000, 2.0)]);
    assert_eq!(status, 400, "no window yet: {body}");
    assert!(body.contains("out of order sample"), "{body}");

    node.write_config(CONFIG);
    let (status, body) = node.reload();
    assert_eq!(status, 200, "{body}");
    let (status, config) = node.get_json("/api/v1/status/config");
    assert_eq!(status, 200);
    assert!(
        config["data"]["yaml"]
            .as_str()
            .is_some_and(|yaml| yaml.contains("out_of_order_time_window: 10m")),
        "{config}"
    );
    let (status, body) = node.remote_write(&[(labels.clone(), now - 60_000, 2.0)]);
    assert_eq!(status, 204, "the reloaded window applies: {body}");
}
