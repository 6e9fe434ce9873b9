//! Interop with the real Alertmanager ecosystem (Debian's
//! `prometheus-alertmanager`, `amtool`, `prometheus`), in both directions:
//! promshard's sender delivers to a real Alertmanager; a real Prometheus
//! sends its firing alert to promshard's built-in Alertmanager; amtool
//! manages silences and lists alerts against promshard.

mod common;
#[path = "support/notify_sinks.rs"]
mod notify_sinks;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{ChildGuard, Node, NodeOptions, blocking_get, eventually, free_port};
use notify_sinks::{RecordingServer, alert, post_json};
use promshard::notify::sender::AlertmanagerSender;
use promshard::notify::{AlertSink, PostableAlert};
use serde_json::Value;

fn alertmanager_binary() -> &'static str {
    if Path::new("/usr/bin/alertmanager").exists() {
        "/usr/bin/alertmanager"
    } else {
        "prometheus-alertmanager"
    }
}

/// Starts a real Alertmanager on a free port with gossip off; it sends
/// everything to `webhook_url` after one second.
fn start_alertmanager(dir: &Path, webhook_url: &str) -> (ChildGuard, u16) {
    let port = free_port();
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: hook\n  group_wait: 1s\n  group_interval: 2s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: {webhook_url}\n"
        ),
    )
    .expect("write alertmanager config");
    let log = dir.join("alertmanager.log");
    let log_file = std::fs::File::create(&log).expect("log");
    let child = Command::new(alertmanager_binary())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("spawn alertmanager (scripts/setup-system --test installs it)");
    let guard = ChildGuard { child, log };
    eventually(Duration::from_secs(30), "alertmanager to be ready", || {
        blocking_get(&format!("http://127.0.0.1:{port}/-/ready"))
            .ok()
            .filter(|r| r.0 == 200)
    });
    (guard, port)
}

#[test]
fn promshards_sender_delivers_to_a_real_alertmanager() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = RecordingServer::start();
    let (am, am_port) = start_alertmanager(dir.path(), &receiver.url("/from-am"));
    let alerting_yaml = format!(
        "alertmanagers:\n  - static_configs:\n      - targets: ['127.0.0.1:{am_port}']\n    alert_relabel_configs:\n      - target_label: via\n        replacement: promshard\n"
    );

    // The node lists the Alertmanager it would send to.
    let node = Node::start(
        &format!(
            "global:\n  scrape_interval: 15s\nalerting:\n{}",
            indent(&alerting_yaml)
        ),
        NodeOptions::default(),
    );
    let (status, listed) = node.get_json("/api/v1/alertmanagers");
    assert_eq!(status, 200);
    let expected_url = format!("http://127.0.0.1:{am_port}/api/v2/alerts");
    let active = eventually(
        Duration::from_secs(10),
        "the discovered alertmanager",
        || {
            let (_, listed) = node.get_json("/api/v1/alertmanagers");
            let urls = listed["data"]["activeAlertmanagers"].clone();
            (urls[0]["url"] == expected_url.as_str()).then_some(urls)
        },
    );
    assert_eq!(active.as_array().map(Vec::len), Some(1), "{listed}");

    // The sender, driven as the rule manager drives it.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let registry = prometheus::Registry::new();
    let cancel = tokio_util::sync::CancellationToken::new();
    let sender: Arc<AlertmanagerSender> = runtime.block_on(async {
        let sender = AlertmanagerSender::new(100, &registry).expect("sender");
        let config: promshard::config::AlertingConfig =
            serde_saphyr::from_str(&alerting_yaml).expect("alerting yaml");
        sender.apply_config(&config).expect("apply");
        tokio::spawn(sender.clone().run(cancel.clone()));
        sender
    });
    let now = chrono::Utc::now();
    let alerts: Vec<PostableAlert> = ["a", "b"]
        .iter()
        .map(|instance| PostableAlert {
            labels: BTreeMap::from([
                ("alertname".to_string(), "FromPromshard".to_string()),
                ("instance".to_string(), instance.to_string()),
            ]),
            annotations: BTreeMap::from([("summary".to_string(), "sent by promshard".to_string())]),
            starts_at: Some(now),
            ends_at: Some(now + chrono::Duration::minutes(4)),
            generator_url: "http://promshard/graph".into(),
        })
        .collect();
    eventually(
        Duration::from_secs(10),
        "the sender to discover the alertmanager",
        || (!sender.alertmanagers().0.is_empty()).then_some(()),
    );
    sender.send(alerts);
    let in_am = eventually(
        Duration::from_secs(15),
        "alerts in the real alertmanager",
        || {
            let (_, body) =
                blocking_get(&format!("http://127.0.0.1:{am_port}/api/v2/alerts")).ok()?;
            let alerts: Value = serde_json::from_str(&body).ok()?;
            (alerts.as_array()?.len() == 2).then_some(alerts)
        },
    );
    assert_eq!(
        in_am[0]["labels"]["via"], "promshard",
        "alert_relabel_configs applied"
    );
    assert_eq!(in_am[0]["annotations"]["summary"], "sent by promshard");
    let notified = receiver.wait_for("/from-am", 1, Duration::from_secs(15));
    assert_eq!(notified[0].body["alerts"].as_array().map(Vec::len), Some(2));
    let sent = registry
        .gather()
        .into_iter()
        .find(|family| family.name() == "prometheus_notifications_sent_total")
        .map(|family| {
            family
                .get_metric()
                .iter()
                .map(|m| m.get_counter().value())
                .sum::<f64>()
        });
    assert_eq!(sent, Some(2.0));
    cancel.cancel();
    drop(am);
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

fn builtin_config(webhook: &str) -> String {
    format!(
        "global:\n  scrape_interval: 15s\nnotify:\n  route:\n    receiver: hook\n    group_by: [alertname]\n    group_wait: 1s\n    group_interval: 3s\n  receivers:\n    - name: hook\n      webhook_configs:\n        - url: {webhook}\n"
    )
}

#[test]
fn a_real_prometheus_sends_its_alerts_to_promshard() {
    let receiver = RecordingServer::start();
    let node = Node::start(
        &builtin_config(&receiver.url("/hook")),
        NodeOptions::default(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: always\n    interval: 1s\n    rules:\n      - alert: AlwaysFiring\n        expr: vector(1)\n        labels:\n          severity: page\n        annotations:\n          summary: always\n",
    )
    .expect("rules");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    - api_version: v2\n      static_configs:\n        - targets: ['127.0.0.1:{}']\n",
            rules.display(),
            node.port
        ),
    )
    .expect("config");
    let port = free_port();
    let log = dir.path().join("prometheus.log");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // Its first send may come before it discovered promshard.
        .arg("--rules.alert.resend-delay=1s")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn prometheus");
    let _prometheus = ChildGuard { child, log };
    let listed = eventually(
        Duration::from_secs(40),
        "Prometheus's alert in promshard",
        || {
            let (_, alerts) = node.get_json("/api/v2/alerts?filter=alertname%3D%22AlwaysFiring%22");
            (alerts.as_array()?.len() == 1).then_some(alerts)
        },
    );
    assert_eq!(listed[0]["labels"]["severity"], "page");
    assert_eq!(listed[0]["status"]["state"], "active");
    let notified = receiver.wait_for("/hook", 1, Duration::from_secs(20));
    assert_eq!(notified[0].body["groupLabels"]["alertname"], "AlwaysFiring");
    assert_eq!(
        notified[0].body["alerts"][0]["annotations"]["summary"],
        "always"
    );
}

fn amtool(node: &Node, args: &[&str]) -> (bool, String) {
    let output = Command::new("amtool")
        .arg(format!("--alertmanager.url={}", node.url))
        .args(args)
        .output()
        .expect("run amtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn amtool_manages_silences_and_lists_alerts() {
    let receiver = RecordingServer::start();
    let node = Node::start(
        &builtin_config(&receiver.url("/hook")),
        NodeOptions::default(),
    );
    let (status, body) = post_json(
        &format!("{}/api/v2/alerts", node.url),
        &Value::Array(vec![
            alert(&[("alertname", "AmtoolVisible"), ("instance", "x")], false),
            alert(&[("alertname", "AmtoolSilenced"), ("instance", "y")], false),
        ]),
        None,
    );
    assert_eq!(status, 200, "{body}");

    let (ok, added) = amtool(
        &node,
        &[
            "silence",
            "add",
            "alertname=AmtoolSilenced",
            "--comment=interop",
            "--author=tester",
            "--duration=1h",
        ],
    );
    assert!(ok, "amtool silence add: {added}");
    // stdout holds the id; stderr may warn that the versions differ.
    let silence_id = added.lines().next().unwrap_or_default().trim().to_string();
    assert_eq!(silence_id.len(), 36, "a UUID: {added}");

    let (ok, queried) = amtool(&node, &["silence", "query"]);
    assert!(ok, "amtool silence query: {queried}");
    assert!(queried.contains(&silence_id), "{queried}");
    assert!(
        queried.contains("tester") && queried.contains("interop"),
        "{queried}"
    );

    let (ok, alerts) = amtool(&node, &["alert", "query"]);
    assert!(ok, "amtool alert query: {alerts}");
    assert!(alerts.contains("AmtoolVisible"), "{alerts}");
    assert!(
        !alerts.contains("AmtoolSilenced"),
        "silenced alerts are hidden by default: {alerts}"
    );
    let (ok, filtered) = amtool(
        &node,
        &["alert", "query", "--silenced", "alertname=AmtoolSilenced"],
    );
    assert!(ok, "{filtered}");
    assert!(filtered.contains("AmtoolSilenced"), "{filtered}");

    let (ok, expired) = amtool(&node, &["silence", "expire", &silence_id]);
    assert!(ok, "amtool silence expire: {expired}");
    let (_, after) = node.get_json(&format!("/api/v2/silence/{silence_id}"));
    assert_eq!(after["status"]["state"], "expired");
}
