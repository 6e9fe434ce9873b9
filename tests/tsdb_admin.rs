//! The TSDB admin side with the real binary: blocks backfilled by
//! `promshard tsdb import openmetrics` while the server runs become
//! queryable without a restart.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Node, NodeOptions, blocking_get, eventually, urlencode};

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
    let from = (now_seconds() - 5 * 3600) / 60 * 60;
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
