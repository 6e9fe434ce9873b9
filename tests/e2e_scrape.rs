//! End to end, with the real binary on loopback: promshard scrapes the real
//! bundled exporter, itself, and hostile targets; `up`, the `scrape_*`
//! series and `/api/v1/targets` are right; limits hold; reload works and a
//! bad config is refused; staleness markers end a removed target's series.

mod common;

use std::time::Duration;

use common::{Node, NodeOptions, TestTarget, eventually, start_exporter};
use serde_json::Value;

fn value_of(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn targets(node: &Node) -> Vec<Value> {
    let (status, body) = node.get_json("/api/v1/targets");
    assert_eq!(status, 200, "{body}");
    body["data"]["activeTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn target_by_pool<'a>(targets: &'a [Value], pool: &str) -> &'a Value {
    targets
        .iter()
        .find(|t| t["scrapePool"] == pool)
        .unwrap_or_else(|| panic!("no target in pool {pool}: {targets:?}"))
}

#[test]
fn scrapes_the_bundled_exporter_and_itself() {
    let (_exporter, exporter_port) = start_exporter();
    let config = format!(
        r#"
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: promshard
    static_configs: [{{targets: ["127.0.0.1:{{{{PORT}}}}"]}}]
  - job_name: node
    static_configs: [{{targets: ["127.0.0.1:{exporter_port}"], labels: {{env: test}}}}]
"#
    );
    let node = Node::start(&config, NodeOptions::default());

    let up = eventually(Duration::from_secs(30), "both targets up", || {
        let up = node.query("up");
        (up.len() == 2 && up.iter().all(|s| value_of(s) == 1.0)).then_some(up)
    });
    let jobs: Vec<&str> = up
        .iter()
        .filter_map(|s| s["metric"]["job"].as_str())
        .collect();
    assert!(
        jobs.contains(&"promshard") && jobs.contains(&"node"),
        "{up:?}"
    );
    let node_up = up.iter().find(|s| s["metric"]["job"] == "node").unwrap();
    assert_eq!(
        node_up["metric"]["env"], "test",
        "target labels are attached"
    );
    assert_eq!(
        node_up["metric"]["instance"],
        format!("127.0.0.1:{exporter_port}"),
        "instance defaults to the address"
    );

    for series in [
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        let result = node.query(&format!("{series}{{job=\"node\"}}"));
        assert_eq!(result.len(), 1, "{series}: {result:?}");
    }
    let scraped = value_of(&node.query("scrape_samples_scraped{job=\"node\"}")[0]);
    assert!(
        scraped > 20.0,
        "the exporter exposes many samples, got {scraped}"
    );

    // The host's metrics are queryable with node_exporter's names.
    let cpu = node.query("node_cpu_seconds_total{mode=\"idle\"}");
    assert!(!cpu.is_empty(), "node_cpu_seconds_total is stored");
    let memory = node.query("node_memory_MemTotal_bytes");
    assert!(value_of(&memory[0]) > 0.0);
    // Its own metrics too.
    assert!(
        !node
            .query("prometheus_config_last_reload_successful")
            .is_empty()
    );

    let targets = targets(&node);
    assert_eq!(targets.len(), 2);
    let exporter = target_by_pool(&targets, "node");
    assert_eq!(exporter["health"], "up");
    assert_eq!(exporter["lastError"], "");
    assert_eq!(
        exporter["scrapeUrl"],
        format!("http://127.0.0.1:{exporter_port}/metrics")
    );
    assert_eq!(exporter["labels"]["job"], "node");
    assert_eq!(
        exporter["discoveredLabels"]["__address__"],
        format!("127.0.0.1:{exporter_port}")
    );
    assert!(exporter["lastScrapeDuration"].as_f64().unwrap_or(-1.0) >= 0.0);
}

#[test]
fn hostile_targets_fail_cleanly_and_limits_hold() {
    let target = TestTarget::start();
    let address = target.address();
    let job = |name: &str, path: &str, extra: &str| {
        format!(
            "  - job_name: {name}\n    metrics_path: {path}\n{extra}    static_configs: [{{targets: [\"{address}\"]}}]\n"
        )
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n{}{}{}{}{}{}{}",
        job("ok", "/ok", ""),
        job("slow", "/slow", ""),
        job("huge", "/huge", "    body_size_limit: 1MB\n"),
        job(
            "endless",
            "/endless",
            "    scrape_interval: 5s\n    scrape_timeout: 5s\n    body_size_limit: 512KB\n"
        ),
        job("malformed", "/malformed", ""),
        job("many", "/many", "    sample_limit: 1000\n"),
        job("flapping", "/flapping", ""),
    );
    let node = Node::start(&config, NodeOptions::default());

    let targets = eventually(
        Duration::from_secs(30),
        "every target scraped at least twice",
        || {
            let targets = targets(&node);
            (targets.len() == 7 && targets.iter().all(|t| t["health"] != "unknown"))
                .then_some(targets)
        },
    );
    assert_eq!(target_by_pool(&targets, "ok")["health"], "up");
    for pool in ["slow", "huge", "endless", "malformed", "many"] {
        let t = target_by_pool(&targets, pool);
        assert_eq!(t["health"], "down", "{pool}: {t}");
        assert!(
            !t["lastError"].as_str().unwrap_or("").is_empty(),
            "{pool} has a reason"
        );
    }
    let error_of = |pool: &str| {
        target_by_pool(&targets, pool)["lastError"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
    };
    assert!(
        error_of("malformed").contains("line 3") || error_of("malformed").contains(":3"),
        "{}",
        error_of("malformed")
    );
    assert!(
        error_of("many").contains("sample limit"),
        "{}",
        error_of("many")
    );
    assert!(
        error_of("huge").contains("body size limit"),
        "{}",
        error_of("huge")
    );
    assert!(
        error_of("endless").contains("body size limit"),
        "{}",
        error_of("endless")
    );

    // Over a limit, the scrape fails as a whole: nothing of it is stored.
    assert!(
        node.query("many_metric").is_empty(),
        "a scrape over sample_limit stores nothing"
    );
    assert!(node.query("huge_metric").is_empty());
    for pool in ["slow", "huge", "endless", "malformed", "many"] {
        let up = node.query(&format!("up{{job=\"{pool}\"}}"));
        assert_eq!(up.len(), 1, "{pool}");
        assert_eq!(value_of(&up[0]), 0.0, "{pool} is down");
    }
    // The flapping target is stored when up and goes stale when down.
    eventually(
        Duration::from_secs(20),
        "flapping target to have been up and down",
        || {
            let changes = node.query("changes(up{job=\"flapping\"}[1m])");
            changes.first().map(value_of).filter(|v| *v >= 2.0)
        },
    );
    // The node itself stays healthy throughout.
    assert_eq!(
        common::blocking_get(&format!("{}/-/healthy", node.url))
            .unwrap()
            .0,
        200
    );
}

#[test]
fn reload_keeps_good_config_and_stales_removed_targets() {
    let first = TestTarget::start();
    let second = TestTarget::start();
    let config_two = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: a\n    metrics_path: /ok\n    static_configs: [{{targets: [\"{}\"]}}]\n  - job_name: b\n    metrics_path: /ok\n    static_configs: [{{targets: [\"{}\"]}}]\n",
        first.address(),
        second.address()
    );
    let node = Node::start(&config_two, NodeOptions::default());
    eventually(Duration::from_secs(20), "both jobs scraped", || {
        (node.query("test_value").len() == 2).then_some(())
    });

    // A bad config is refused, the running one kept, and the metric says so.
    node.write_config(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: a\n    no_such_field: 1\n",
    );
    let (status, body) = node.reload();
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("no_such_field"),
        "the error names the field: {body}"
    );
    let (_, flags) = node.get_json("/api/v1/status/config");
    assert!(
        flags["data"]["yaml"]
            .as_str()
            .unwrap_or("")
            .contains("job_name: b"),
        "the running config is kept"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        node.query("test_value").len(),
        2,
        "both targets still scraped"
    );

    // A good config with job b removed: b's series end with a stale marker.
    let config_one = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: a\n    metrics_path: /ok\n    static_configs: [{{targets: [\"{}\"]}}]\n",
        first.address()
    );
    node.write_config(&config_one);
    let (status, body) = node.reload();
    assert_eq!(status, 200, "{body}");
    eventually(
        Duration::from_secs(10),
        "job b's series to go stale",
        || node.query("test_value{job=\"b\"}").is_empty().then_some(()),
    );
    assert_eq!(
        node.query("test_value{job=\"a\"}").len(),
        1,
        "job a keeps going"
    );
    // Unchanged job a kept scraping across both reloads without a gap: at a
    // 1s interval, no two consecutive samples of the last 10s (which span
    // both reloads) are more than ~2 intervals apart.
    std::thread::sleep(Duration::from_secs(5));
    let range = node.query("test_value{job=\"a\"}[10s]");
    let times: Vec<f64> = range[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point[0].as_f64().unwrap())
        .collect();
    assert!(times.len() >= 8, "job a scraped every second: {times:?}");
    let widest = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(widest < 2.1, "no gap in job a across reloads: {times:?}");
    let (_, metrics) = common::blocking_get(&format!("{}/metrics", node.url)).unwrap();
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 1"),
        "the last reload succeeded"
    );
}

#[test]
fn sighup_reloads_the_config() {
    let target = TestTarget::start();
    let node = Node::start(
        "global:\n  scrape_interval: 1s\nscrape_configs: []\n",
        NodeOptions::default(),
    );
    node.write_config(&format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: added\n    metrics_path: /ok\n    static_configs: [{{targets: [\"{}\"]}}]\n",
        target.address()
    ));
    node.process.signal("HUP");
    eventually(
        Duration::from_secs(20),
        "the job added by SIGHUP to be scraped",
        || (!node.query("test_value{job=\"added\"}").is_empty()).then_some(()),
    );
}

#[test]
fn check_config_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: x\n    static_configs: [{targets: ['a:1']}]\n").unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: x\n    kubernetes_sd_configs: [{role: pod}]\n").unwrap();
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_promshard"))
            .args(["check", "config"])
            .arg(file)
            .output()
            .unwrap()
    };
    let ok = run(&good);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let failed = run(&bad);
    assert_eq!(failed.status.code(), Some(1));
    let text = String::from_utf8_lossy(&failed.stderr).to_string()
        + &String::from_utf8_lossy(&failed.stdout);
    assert!(
        text.contains("bad.yml") && text.contains(":5") && text.contains("kubernetes_sd_configs"),
        "{text}"
    );
    let example = run(std::path::Path::new(
        "../shared/testdata/promtool/prometheus.example.yml",
    ));
    assert_eq!(
        example.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&example.stderr)
    );
}
