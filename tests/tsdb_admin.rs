//! The TSDB admin side with the real binary: blocks backfilled by
//! `promshard tsdb import openmetrics` while the server runs become
//! queryable without a restart; `delete_series` hides ranges in blocks and
//! the head, across kill -9 and clean restarts, and `clean_tombstones`
//! rewrites the blocks; a snapshot serves a second node; a node without
//! `--web.enable-admin-api` answers Prometheus's error; a tombstones file
//! written by the real Prometheus decodes with our reader.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    ChildGuard, Node, NodeOptions, TestTarget, blocking_get, blocking_post, eventually, free_port,
    urlencode,
};
use promshard::tsdb::tombstones::Tombstones;

const CONFIG: &str = "global:\n  scrape_interval: 1s\nscrape_configs: []\n";

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn fast_reload_options(extra: &[&str]) -> NodeOptions {
    let mut flags = vec!["--storage.tsdb.block-reload-interval=1s".to_string()];
    flags.extend(extra.iter().map(|f| f.to_string()));
    NodeOptions {
        flags,
        ..NodeOptions::default()
    }
}

/// Writes an OpenMetrics file of `backfilled{job="import"}` with one
/// sample a minute from `from` (seconds) for `minutes` minutes; value =
/// minute number.
fn write_openmetrics(path: &Path, from: i64, minutes: i64) {
    let mut text = String::from("# TYPE backfilled gauge\n");
    for minute in 0..minutes {
        text.push_str(&format!(
            "backfilled{{job=\"import\"}} {minute} {}\n",
            from + minute * 60
        ));
    }
    text.push_str("# EOF\n");
    std::fs::write(path, text).expect("write openmetrics file");
}

/// Runs the real `promshard tsdb import openmetrics FILE DIR`.
fn import(file: &Path, data_dir: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_promshard"))
        .args(["tsdb", "import", "openmetrics"])
        .arg(file)
        .arg(data_dir)
        .output()
        .expect("run promshard tsdb import");
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `query_range` of `expr` over `[start, end]` every `step` seconds:
/// the (time, value) points of the single series, empty when none.
fn range_points(url: &str, expr: &str, start: i64, end: i64, step: i64) -> Vec<(i64, String)> {
    let (status, body) = blocking_get(&format!(
        "{url}/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
        urlencode(expr)
    ))
    .expect("GET query_range");
    assert_eq!(status, 200, "{body}");
    let value: serde_json::Value = serde_json::from_str(&body).expect("json");
    let Some(series) = value["data"]["result"].as_array() else {
        return Vec::new();
    };
    assert!(series.len() <= 1, "one series expected: {body}");
    series
        .first()
        .and_then(|s| s["values"].as_array())
        .map(|points| {
            points
                .iter()
                .map(|p| {
                    (
                        p[0].as_f64().unwrap_or(0.0) as i64,
                        p[1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn blocks_imported_while_running_become_queryable_without_restart() {
    let node = Node::start(CONFIG, fast_reload_options(&[]));
    // Aligned to a 2 h block boundary: the backfill is exactly one block
    // whatever the time of day (unaligned, it spans two some of the day).
    let from = (now_seconds() - 5 * 3600) / 7200 * 7200;
    let file = node.dir.join("backfill.om");
    write_openmetrics(&file, from, 120);
    let end = from + 119 * 60;
    assert!(range_points(&node.url, "backfilled", from, end, 60).is_empty());

    import(&file, &node.dir.join("data"));

    let points = eventually(
        Duration::from_secs(30),
        "imported samples to be queryable",
        || {
            let points = range_points(&node.url, "backfilled", from, end, 60);
            (points.len() == 120).then_some(points)
        },
    );
    assert_eq!(points[0], (from, "0".to_string()));
    assert_eq!(points[119], (end, "119".to_string()));
}

fn scrape_config(target: &TestTarget) -> String {
    format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: target\n    metrics_path: /ok\n    static_configs: [{{targets: [\"{}\"]}}]\n",
        target.address()
    )
}

/// The raw sample timestamps (as the API prints them, seconds) of
/// `test_value` over the last ten minutes.
fn head_timestamps(url: &str) -> Vec<String> {
    let (status, body) = blocking_get(&format!(
        "{url}/api/v1/query?query={}",
        urlencode("test_value{job=\"target\"}[10m]")
    ))
    .expect("GET query");
    assert_eq!(status, 200, "{body}");
    let value: serde_json::Value = serde_json::from_str(&body).expect("json");
    value["data"]["result"][0]["values"]
        .as_array()
        .map(|points| points.iter().map(|p| p[0].to_string()).collect())
        .unwrap_or_default()
}

fn admin_post(url: &str, path_and_query: &str) -> (u16, String) {
    blocking_post(&format!("{url}{path_and_query}"), "").expect("POST admin API")
}

/// Starts a node with the admin API and a backfilled block of
/// `backfilled` (the two hours of the 2 h block range that began five to
/// seven hours ago), scraping `target` into the
/// head; returns the node and the backfill's first timestamp.
fn node_with_blocks_and_head(target: &TestTarget) -> (Node, i64) {
    let node = Node::start(
        &scrape_config(target),
        fast_reload_options(&["--web.enable-admin-api"]),
    );
    // Aligned to a 2 h block boundary: the backfill is exactly one block
    // whatever the time of day (unaligned, it spans two some of the day).
    let from = (now_seconds() - 5 * 3600) / 7200 * 7200;
    let file = node.dir.join("backfill.om");
    write_openmetrics(&file, from, 120);
    import(&file, &node.dir.join("data"));
    eventually(Duration::from_secs(30), "backfill queryable", || {
        (range_points(&node.url, "backfilled", from, from + 119 * 60, 60).len() == 120)
            .then_some(())
    });
    eventually(Duration::from_secs(30), "five scraped samples", || {
        (head_timestamps(&node.url).len() >= 5).then_some(())
    });
    (node, from)
}

fn restart(node: &Node, extra: &[&str]) -> Node {
    let mut options = fast_reload_options(extra);
    options.dir = Some(node.dir.clone());
    Node::start(
        &std::fs::read_to_string(&node.config_path).expect("config"),
        options,
    )
}

fn block_tombstone_files(data: &Path) -> usize {
    std::fs::read_dir(data)
        .expect("data dir")
        .flatten()
        .filter(|e| e.path().join("meta.json").exists() && e.path().join("tombstones").exists())
        .count()
}

#[test]
fn delete_series_hides_ranges_across_restarts_and_clean_tombstones_rewrites_blocks() {
    let target = TestTarget::start();
    let (mut node, from) = node_with_blocks_and_head(&target);
    let end = from + 119 * 60;

    // Half an hour out of the backfilled block.
    let (status, body) = admin_post(
        &node.url,
        &format!(
            "/api/v1/admin/tsdb/delete_series?match[]=backfilled&start={}&end={}",
            from + 30 * 60,
            from + 59 * 60
        ),
    );
    assert_eq!((status, body.as_str()), (204, ""));
    // Two scraped samples out of the head.
    let before = head_timestamps(&node.url);
    let (status, _) = admin_post(
        &node.url,
        &format!(
            "/api/v1/admin/tsdb/delete_series?match[]={}&start={}&end={}",
            urlencode("test_value{job=\"target\"}"),
            before[1],
            before[2]
        ),
    );
    assert_eq!(status, 204);

    let check = |url: &str, when: &str| {
        let points: Vec<(i64, String)> = range_points(url, "backfilled", from, end, 60)
            .into_iter()
            .map(|(t, v)| ((t - from) / 60, v))
            .collect();
        // Minutes 30..=59 are deleted; the 5m lookback carries minute 29
        // through minute 33, then the series is absent until minute 60.
        let expected: Vec<(i64, String)> = (0..30)
            .map(|m| (m, m.to_string()))
            .chain((30..34).map(|m| (m, "29".to_string())))
            .chain((60..120).map(|m| (m, m.to_string())))
            .collect();
        assert_eq!(points, expected, "{when}: the deleted half hour is a gap");
        let head = head_timestamps(url);
        assert!(
            head.contains(&before[0]) && head.contains(&before[3]),
            "{when}: {head:?}"
        );
        assert!(
            !head.contains(&before[1]) && !head.contains(&before[2]),
            "{when}: deleted head samples stay hidden: {head:?}"
        );
    };
    check(&node.url, "right after the delete");

    node.process.kill9();
    let mut node = {
        let mut restarted = restart(&node, &["--web.enable-admin-api"]);
        check(&restarted.url, "after kill -9");
        restarted.process.signal("TERM");
        let _ = restarted.process.child.wait();
        restart(&node, &["--web.enable-admin-api"])
    };
    check(&node.url, "after a clean restart");

    let data = node.dir.join("data");
    assert_eq!(block_tombstone_files(&data), 1);
    let (status, body) = admin_post(&node.url, "/api/v1/admin/tsdb/clean_tombstones");
    assert_eq!((status, body.as_str()), (204, ""));
    assert_eq!(block_tombstone_files(&data), 0, "the block was rewritten");
    check(&node.url, "after clean_tombstones");
    node.process.kill9();
}

#[test]
fn a_snapshot_directory_serves_a_second_node_the_same_data() {
    let target = TestTarget::start();
    let (node, from) = node_with_blocks_and_head(&target);
    let (status, body) = admin_post(&node.url, "/api/v1/admin/tsdb/snapshot");
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["status"], "success");
    let name = answer["data"]["name"]
        .as_str()
        .expect("snapshot name")
        .to_string();
    let snapshot = node.dir.join("data").join("snapshots").join(&name);
    assert!(snapshot.is_dir(), "{name}");
    let snapshotted_head = head_timestamps(&node.url);

    // The second node's --storage.tsdb.path is the snapshot directory.
    let second_dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(&snapshot, second_dir.path().join("data")).expect("symlink");
    let second = Node::start(
        CONFIG,
        NodeOptions {
            dir: Some(second_dir.path().to_path_buf()),
            ..NodeOptions::default()
        },
    );
    let end = from + 119 * 60;
    assert_eq!(
        range_points(&second.url, "backfilled", from, end, 60),
        range_points(&node.url, "backfilled", from, end, 60)
    );
    let copied_head = head_timestamps(&second.url);
    assert!(
        copied_head.len() >= 5 && snapshotted_head.starts_with(&copied_head),
        "the head went into the snapshot: {copied_head:?} vs {snapshotted_head:?}"
    );
}

#[test]
fn without_the_flag_the_admin_api_answers_prometheus_unavailable_error() {
    let node = Node::start(CONFIG, NodeOptions::default());
    for path in [
        "/api/v1/admin/tsdb/delete_series?match[]=up",
        "/api/v1/admin/tsdb/clean_tombstones",
        "/api/v1/admin/tsdb/snapshot",
    ] {
        let (status, body) = admin_post(&node.url, path);
        assert_eq!(status, 503, "{path}");
        let value: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            value,
            serde_json::json!({"status": "error", "errorType": "unavailable", "error": "admin APIs disabled"})
        );
    }
    assert!(
        !node
            .process
            .log_text()
            .contains("admin API is not available")
    );
}

#[test]
fn a_tombstones_file_written_by_prometheus_decodes_with_our_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("prometheus-data");
    // Aligned to a 2 h block boundary: the backfill is exactly one block
    // whatever the time of day (unaligned, it spans two some of the day).
    let from = (now_seconds() - 5 * 3600) / 7200 * 7200;
    let file = dir.path().join("backfill.om");
    write_openmetrics(&file, from, 120);
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run promtool");
    assert!(status.success(), "promtool create-blocks-from failed");

    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, CONFIG).expect("write config");
    let log = dir.path().join("prometheus.log");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-admin-api")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn prometheus");
    let mut prometheus = ChildGuard { child, log };
    let url = format!("http://127.0.0.1:{port}");
    eventually(Duration::from_secs(60), "prometheus to be ready", || {
        blocking_get(&format!("{url}/-/ready"))
            .ok()
            .filter(|r| r.0 == 200)
    });
    let (start, end) = (from + 30 * 60, from + 59 * 60);
    let (status, body) = admin_post(
        &url,
        &format!("/api/v1/admin/tsdb/delete_series?match[]=backfilled&start={start}&end={end}"),
    );
    assert_eq!(status, 204, "{body}");
    prometheus.kill9();

    let mut intervals = Vec::new();
    for entry in std::fs::read_dir(&data).expect("data dir").flatten() {
        if !entry.path().join("tombstones").exists() {
            continue;
        }
        let tombstones = Tombstones::read_file(&entry.path()).expect("our reader decodes it");
        for (_, series_intervals) in tombstones.iter() {
            intervals.extend(series_intervals.as_slice().iter().copied());
        }
    }
    assert!(!intervals.is_empty(), "prometheus wrote tombstones");
    let lowest = intervals.iter().map(|i| i.min_time).min();
    let highest = intervals.iter().map(|i| i.max_time).max();
    assert_eq!(
        (lowest, highest),
        (Some(start * 1000), Some(end * 1000)),
        "{intervals:?}"
    );
}
