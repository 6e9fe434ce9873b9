//! End to end, with the real binary on loopback: promshard scrapes a test
//! target whose gauge crosses a threshold. The recording rule's output is
//! queryable; the alert goes pending then firing (`/api/v1/alerts`,
//! `ALERTS`); a restart while pending keeps the `for` state (restore from
//! `ALERTS_FOR_STATE`); the alert resolves and its series go stale;
//! `/api/v1/rules` has Prometheus's shape and filters; a reload with a
//! broken rule file is refused and the running rules stay; a firing rule
//! reaches a webhook through the built-in Alertmanager exactly once, then
//! its resolve.

mod common;
#[path = "support/notify_sinks.rs"]
mod notify_sinks;

use std::time::{Duration, Instant};

use common::{Node, NodeOptions, TestTarget, eventually, self_metric};
use serde_json::Value;

const RULES: &str = r#"
groups:
  - name: e2e
    rules:
      - record: job:test_value:max
        expr: max by (job) (test_value)
      - alert: ValueHigh
        expr: job:test_value:max > 10
        for: 20s
        labels:
          severity: page
        annotations:
          summary: "value is {{ $value }} on {{ $labels.job }}"
"#;

fn config(target: &TestTarget) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels:\n    site: test\nrule_files:\n  - rules.yml\nscrape_configs:\n  - job_name: target\n    metrics_path: /ok\n    static_configs:\n      - targets: ['{}']\n",
        target.address()
    )
}

fn options(dir: &std::path::Path, port: u16) -> NodeOptions {
    NodeOptions {
        flags: vec![
            "--web.enable-lifecycle".into(),
            "--rules.alert.for-grace-period=1s".into(),
        ],
        dir: Some(dir.to_path_buf()),
        port: Some(port),
        resolv_conf: None,
    }
}

fn alerts(node: &Node) -> Vec<Value> {
    let (status, body) = node.get_json("/api/v1/alerts");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success");
    body["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn alert_in_state(node: &Node, state: &str) -> Option<Value> {
    alerts(node)
        .into_iter()
        .find(|alert| alert["state"] == state)
}

fn active_at_seconds(alert: &Value) -> f64 {
    let text = alert["activeAt"].as_str().unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|time| time.timestamp_millis() as f64 / 1000.0)
        .unwrap_or_else(|_| panic!("activeAt {text:?} is RFC 3339"))
}

fn now_seconds() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

#[test]
fn a_threshold_crossing_alert_goes_pending_survives_a_restart_fires_and_resolves() {
    let target = TestTarget::start();
    target.set_value(1.0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("rules.yml"), RULES).expect("write rules");
    let port = common::free_port();
    let node = Node::start(&config(&target), options(&dir, port));

    // The recording rule's output is queryable.
    eventually(
        Duration::from_secs(20),
        "the recording rule's output",
        || {
            let result = node.query("job:test_value:max");
            (result.len() == 1 && result[0]["value"][1] == "1").then_some(())
        },
    );
    assert_eq!(
        node.query("job:test_value:max")[0]["metric"]["job"],
        "target"
    );
    assert!(
        alerts(&node).is_empty(),
        "nothing is active below the threshold"
    );

    // /api/v1/rules in Prometheus's shape.
    let (status, body) = node.get_json("/api/v1/rules");
    assert_eq!(status, 200, "{body}");
    let group = &body["data"]["groups"][0];
    assert_eq!(group["name"], "e2e");
    assert!(
        group["file"]
            .as_str()
            .unwrap_or_default()
            .ends_with("rules.yml"),
        "{group}"
    );
    assert_eq!(group["interval"], 1.0);
    assert_ne!(group["lastEvaluation"], "0001-01-01T00:00:00Z");
    let recording = &group["rules"][0];
    assert_eq!(recording["type"], "recording");
    assert_eq!(recording["name"], "job:test_value:max");
    assert_eq!(recording["health"], "ok");
    assert!(recording["evaluationTime"].is_number());
    let alerting = &group["rules"][1];
    assert_eq!(alerting["type"], "alerting");
    assert_eq!(alerting["state"], "inactive");
    assert_eq!(alerting["duration"], 20.0);
    assert_eq!(alerting["labels"]["severity"], "page");
    assert_eq!(alerting["alerts"], Value::Array(Vec::new()));
    let (_, recording_only) = node.get_json("/api/v1/rules?type=record");
    let rules = &recording_only["data"]["groups"][0]["rules"];
    assert_eq!(rules.as_array().map(Vec::len), Some(1), "{recording_only}");
    let (_, by_name) = node.get_json("/api/v1/rules?rule_name[]=ValueHigh&rule_name[]=nope");
    assert_eq!(
        by_name["data"]["groups"][0]["rules"][0]["name"],
        "ValueHigh"
    );
    let (status, error) = node.get_json("/api/v1/rules?type=bogus");
    assert_eq!(status, 400);
    assert_eq!(error["errorType"], "bad_data");

    // The gauge crosses the threshold: pending.
    target.set_value(50.0);
    let pending = eventually(Duration::from_secs(20), "a pending alert", || {
        alert_in_state(&node, "pending")
    });
    assert_eq!(pending["labels"]["alertname"], "ValueHigh");
    assert_eq!(pending["labels"]["job"], "target");
    assert_eq!(pending["labels"]["severity"], "page");
    assert_eq!(pending["value"], "5e+01");
    assert_eq!(pending["annotations"]["summary"], "value is 50 on target");
    let active_at = active_at_seconds(&pending);
    eventually(
        Duration::from_secs(10),
        "ALERTS{alertstate=\"pending\"}",
        || {
            let result = node.query(r#"ALERTS{alertname="ValueHigh", alertstate="pending"}"#);
            (result.len() == 1).then_some(())
        },
    );
    std::thread::sleep(Duration::from_secs(5));

    // Restart while pending: the `for` state is restored, not restarted.
    let mut node = node;
    node.process.signal("TERM");
    let _ = node.process.child.wait();
    let restarted_at = now_seconds();
    let started = Instant::now();
    let node = Node::start(&config(&target), options(&dir, port));
    let restored = eventually(
        Duration::from_secs(20),
        "the restored pending alert",
        || {
            alert_in_state(&node, "pending")
                .filter(|alert| active_at_seconds(alert) < restarted_at - 2.0)
        },
    );
    let pending_before_restart = restarted_at - active_at;
    assert!(
        active_at_seconds(&restored) <= now_seconds() - pending_before_restart + 2.0,
        "activeAt {restored} keeps the time pending before the restart ({pending_before_restart}s)"
    );

    // It fires 20s after it became active, outage excluded.
    let firing = eventually(Duration::from_secs(30), "the firing alert", || {
        alert_in_state(&node, "firing")
    });
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "fired {:?} after the restart: the pending time before it counted",
        started.elapsed()
    );
    assert_eq!(firing["labels"]["alertname"], "ValueHigh");
    let series = node.query(r#"ALERTS{alertname="ValueHigh", alertstate="firing"}"#);
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(series[0]["metric"]["severity"], "page");
    assert!(self_metric(&node.url, "prometheus_rule_evaluations_total") > 0.0);
    assert_eq!(
        self_metric(&node.url, "prometheus_rule_evaluation_failures_total"),
        0.0
    );

    // Back under the threshold: resolved, and ALERTS goes stale.
    target.set_value(1.0);
    eventually(Duration::from_secs(20), "the alert to resolve", || {
        alerts(&node).is_empty().then_some(())
    });
    eventually(Duration::from_secs(10), "ALERTS to go stale", || {
        node.query(r#"ALERTS{alertname="ValueHigh"}"#)
            .is_empty()
            .then_some(())
    });
    let (_, body) = node.get_json("/api/v1/rules?type=alert");
    assert_eq!(
        body["data"]["groups"][0]["rules"][0]["state"], "inactive",
        "{body}"
    );
}

#[test]
fn a_reload_with_a_broken_rule_file_is_refused_and_the_running_rules_stay() {
    let target = TestTarget::start();
    target.set_value(3.0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("rules.yml"), RULES).expect("write rules");
    let node = Node::start(&config(&target), options(&dir, common::free_port()));
    eventually(
        Duration::from_secs(20),
        "the recording rule's output",
        || (node.query("job:test_value:max").len() == 1).then_some(()),
    );

    std::fs::write(
        dir.join("rules.yml"),
        "groups:\n  - name: e2e\n    rules:\n      - alert: Broken\n        expr: up ==\n",
    )
    .expect("write broken rules");
    let (status, body) = node.reload();
    assert_ne!(status, 200, "{body}");
    assert!(body.contains("could not parse expression"), "{body}");
    let (_, rules) = node.get_json("/api/v1/rules");
    assert_eq!(
        rules["data"]["groups"][0]["rules"][1]["name"], "ValueHigh",
        "{rules}"
    );

    // A good reload that drops the group: its series go stale.
    std::fs::write(dir.join("rules.yml"), "groups: []\n").expect("write empty rules");
    let (status, body) = node.reload();
    assert_eq!(status, 200, "{body}");
    let (_, rules) = node.get_json("/api/v1/rules");
    assert_eq!(rules["data"]["groups"], Value::Array(Vec::new()));
    eventually(
        Duration::from_secs(10),
        "the removed rule's series to go stale",
        || node.query("job:test_value:max").is_empty().then_some(()),
    );
}

#[test]
fn a_firing_rule_reaches_a_webhook_once_through_the_builtin_alertmanager_then_resolves() {
    let receiver = notify_sinks::RecordingServer::start();
    let target = TestTarget::start();
    target.set_value(1.0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    std::fs::write(
        dir.join("rules.yml"),
        "groups:\n  - name: e2e\n    rules:\n      - alert: ValueHigh\n        expr: max by (job) (test_value) > 10\n        labels:\n          severity: page\n        annotations:\n          summary: 'value is {{ $value }}'\n",
    )
    .expect("write rules");
    let config = format!(
        "{}notify:\n  route:\n    receiver: hook\n    group_by: [alertname]\n    group_wait: 1s\n    group_interval: 2s\n    repeat_interval: 1h\n  receivers:\n    - name: hook\n      webhook_configs:\n        - url: {}\n",
        self::config(&target),
        receiver.url("/webhook")
    );
    let node = Node::start(&config, options(&dir, common::free_port()));
    eventually(Duration::from_secs(20), "the rule to be evaluated", || {
        let (_, body) = node.get_json("/api/v1/rules");
        (body["data"]["groups"][0]["rules"][0]["health"] == "ok").then_some(())
    });

    target.set_value(50.0);
    let first = receiver.wait_for("/webhook", 1, Duration::from_secs(20));
    let message = &first[0].body;
    assert_eq!(message["status"], "firing", "{message}");
    let alert = &message["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "ValueHigh");
    assert_eq!(alert["labels"]["job"], "target");
    assert_eq!(
        alert["labels"]["site"], "test",
        "external labels are applied"
    );
    assert_eq!(alert["annotations"]["summary"], "value is 50");
    assert!(
        alert["generatorURL"]
            .as_str()
            .unwrap_or_default()
            .contains("/graph?g0.expr="),
        "{alert}"
    );
    // Evaluations every second re-send nothing new: no second page.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(receiver.received("/webhook").len(), 1, "paged once");

    target.set_value(1.0);
    let all = receiver.wait_for("/webhook", 2, Duration::from_secs(20));
    assert_eq!(all[1].body["status"], "resolved", "{}", all[1].body);
    assert_eq!(all[1].body["alerts"][0]["labels"]["alertname"], "ValueHigh");
}

#[test]
fn in_a_cluster_each_rule_group_is_evaluated_by_exactly_one_node() {
    let shared = tempfile::tempdir().expect("tempdir");
    let rules_path = shared.path().join("rules.yml");
    let mut rules = String::from("groups:\n");
    for index in 0..8 {
        rules.push_str(&format!(
            "  - name: group-{index}\n    interval: 1s\n    rules:\n      - record: group_output\n        expr: vector({index})\n        labels:\n          group: g{index}\n"
        ));
    }
    std::fs::write(&rules_path, rules).expect("write rules");
    let ports = [common::free_port(), common::free_port()];
    let config = |port: u16| {
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs: []\ncluster:\n  mode: static\n  node_id: 127.0.0.1:{port}\n  advertise_address: 127.0.0.1:{port}\n  peers: ['127.0.0.1:{}', '127.0.0.1:{}']\n",
            rules_path.display(),
            ports[0],
            ports[1]
        )
    };
    let nodes: Vec<Node> = ports
        .iter()
        .map(|port| {
            Node::start(
                &config(*port),
                NodeOptions {
                    port: Some(*port),
                    ..NodeOptions::default()
                },
            )
        })
        .collect();
    let groups_at = |node: &Node, path: &str| -> Vec<String> {
        let (_, body) = node.get_json(path);
        body["data"]["groups"]
            .as_array()
            .map(|groups| {
                groups
                    .iter()
                    .filter_map(|group| group["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let groups_of = |node: &Node| groups_at(node, "/api/v1/rules?local=true");
    let (first, second) = eventually(Duration::from_secs(20), "the ring to settle", || {
        let first = groups_of(&nodes[0]);
        let second = groups_of(&nodes[1]);
        (first.len() + second.len() == 8).then_some((first, second))
    });
    assert!(
        first.iter().all(|name| !second.contains(name)),
        "{first:?} / {second:?}"
    );
    assert!(
        !first.is_empty() && !second.is_empty(),
        "both nodes evaluate some groups: {first:?} / {second:?}"
    );
    // Without local=true, either node lists every group once (what Grafana
    // pointed at one node needs).
    for node in &nodes {
        let mut all = groups_at(node, "/api/v1/rules");
        all.sort();
        let expected: Vec<String> = (0..8).map(|index| format!("group-{index}")).collect();
        assert_eq!(all, expected, "the cluster-wide rules view");
    }
    // Every group's output is visible from either node (the global view).
    for node in &nodes {
        eventually(
            Duration::from_secs(20),
            "every group's output from one node",
            || (node.query("group_output").len() == 8).then_some(()),
        );
    }
}
