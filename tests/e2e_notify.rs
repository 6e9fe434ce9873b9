//! The built-in Alertmanager end to end, with the real binary: alerts
//! POSTed to `/api/v2/alerts` reach receivers on loopback grouped, once,
//! updated and resolved; inhibited and silenced alerts stay quiet; a
//! restart does not page again; silence management honours basic auth;
//! email, Slack and PagerDuty integrations deliver.

mod common;
#[path = "support/notify_sinks.rs"]
mod notify_sinks;

use std::time::{Duration, Instant};

use common::{Node, NodeOptions};
use notify_sinks::{RecordingServer, SmtpSink, alert, alert_started, delete, post_json};
use serde_json::{Value, json};

fn config(receiver: &RecordingServer, smtp_port: u16) -> String {
    format!(
        r#"
global:
  scrape_interval: 15s
notify:
  global:
    smtp_smarthost: 127.0.0.1:{smtp_port}
    smtp_from: promshard@example.org
    smtp_require_tls: false
  route:
    receiver: hook
    group_by: [alertname]
    group_wait: 1s
    group_interval: 3s
    repeat_interval: 1h
    routes:
      - matchers: ['channel="email"']
        receiver: mail
      - matchers: ['channel="email-tls"']
        receiver: mail-tls
      - matchers: ['channel="slack"']
        receiver: chat
      - matchers: ['channel="pagerduty"']
        receiver: pager
  receivers:
    - name: hook
      webhook_configs:
        - url: {webhook}
          http_config:
            basic_auth:
              username: promshard
              password: hook-secret
    - name: mail
      email_configs:
        - to: oncall@example.org
    - name: mail-tls
      email_configs:
        - to: secure@example.org
          require_tls: true
    - name: chat
      slack_configs:
        - api_url: {slack}
          channel: '#ops'
    - name: pager
      pagerduty_configs:
        - routing_key: test-key
          url: {pagerduty}
  inhibit_rules:
    - source_matchers: [severity="critical"]
      target_matchers: [severity="warning"]
      equal: [cluster]
"#,
        webhook = receiver.url("/webhook"),
        slack = receiver.url("/slack"),
        pagerduty = receiver.url("/pagerduty"),
    )
}

fn post_alerts(node: &Node, alerts: Vec<Value>) {
    let (status, body) = post_json(
        &format!("{}/api/v2/alerts", node.url),
        &Value::Array(alerts),
        None,
    );
    assert_eq!(status, 200, "POST /api/v2/alerts: {body}");
}

fn alert_names(message: &Value) -> Vec<String> {
    let mut names: Vec<String> = message["alerts"]
        .as_array()
        .map(|alerts| {
            alerts
                .iter()
                .map(|a| {
                    format!(
                        "{}:{}",
                        a["labels"]["instance"].as_str().unwrap_or(""),
                        a["status"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn one_grouped_notification_then_one_update_then_the_resolve() {
    let receiver = RecordingServer::start();
    let node = Node::start(&config(&receiver, 1), NodeOptions::default());
    let posted_at = Instant::now();
    post_alerts(
        &node,
        vec![
            alert(&[("alertname", "DiskFull"), ("instance", "a")], false),
            alert(&[("alertname", "DiskFull"), ("instance", "b")], false),
        ],
    );
    let first = receiver.wait_for("/webhook", 1, Duration::from_secs(15));
    assert!(
        first[0].at.duration_since(posted_at) >= Duration::from_millis(900),
        "sent before group_wait"
    );
    assert_eq!(alert_names(&first[0].body), vec!["a:firing", "b:firing"]);
    assert_eq!(first[0].body["status"], "firing");
    assert_eq!(
        first[0].body["groupLabels"],
        json!({"alertname": "DiskFull"})
    );
    assert_eq!(first[0].body["receiver"], "hook");
    assert_eq!(first[0].body["version"], "4");
    // "promshard:hook-secret", from the webhook's http_config.
    assert_eq!(
        first[0].authorization.as_deref(),
        Some("Basic cHJvbXNoYXJkOmhvb2stc2VjcmV0")
    );

    // The same alerts again (a sender re-sends them) are not news.
    post_alerts(
        &node,
        vec![
            alert(&[("alertname", "DiskFull"), ("instance", "a")], false),
            alert(&[("alertname", "DiskFull"), ("instance", "b")], false),
            alert(&[("alertname", "DiskFull"), ("instance", "c")], false),
        ],
    );
    let second = receiver.wait_for("/webhook", 2, Duration::from_secs(15));
    assert_eq!(
        alert_names(&second[1].body),
        vec!["a:firing", "b:firing", "c:firing"]
    );
    assert!(
        second[1].at.duration_since(first[0].at) >= Duration::from_millis(2500),
        "update sent before group_interval"
    );

    post_alerts(
        &node,
        ["a", "b", "c"]
            .iter()
            .map(|instance| alert(&[("alertname", "DiskFull"), ("instance", instance)], true))
            .collect(),
    );
    let third = receiver.wait_for("/webhook", 3, Duration::from_secs(15));
    assert_eq!(third[2].body["status"], "resolved");
    assert_eq!(
        alert_names(&third[2].body),
        vec!["a:resolved", "b:resolved", "c:resolved"]
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        receiver.received("/webhook").len(),
        3,
        "nothing after the resolve"
    );
}

#[test]
fn inhibited_and_silenced_alerts_are_not_sent() {
    let receiver = RecordingServer::start();
    let node = Node::start(&config(&receiver, 1), NodeOptions::default());
    let now = chrono::Utc::now();
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Noisy.*", "isRegex": true, "isEqual": true}],
        "startsAt": now.to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "test",
        "comment": "maintenance",
    });
    let (status, body) = post_json(&format!("{}/api/v2/silences", node.url), &silence, None);
    assert_eq!(status, 200, "{body}");
    let silence_id = serde_json::from_str::<Value>(&body).expect("json")["silenceID"]
        .as_str()
        .expect("silenceID")
        .to_string();
    post_alerts(
        &node,
        vec![
            alert(
                &[
                    ("alertname", "ClusterDown"),
                    ("severity", "critical"),
                    ("cluster", "x"),
                ],
                false,
            ),
            alert(
                &[
                    ("alertname", "SlowQueries"),
                    ("severity", "warning"),
                    ("cluster", "x"),
                ],
                false,
            ),
            alert(&[("alertname", "NoisyNeighbour"), ("instance", "n")], false),
        ],
    );
    receiver.wait_for("/webhook", 1, Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(3));
    let sent: Vec<String> = receiver
        .received("/webhook")
        .iter()
        .map(|r| {
            r.body["groupLabels"]["alertname"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(sent, vec!["ClusterDown"]);

    let (status, listed) = node.get_json("/api/v2/alerts");
    assert_eq!(status, 200);
    let state_of = |name: &str| {
        listed
            .as_array()
            .and_then(|alerts| alerts.iter().find(|a| a["labels"]["alertname"] == name))
            .map(|a| a["status"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(state_of("ClusterDown")["state"], "active");
    assert_eq!(state_of("SlowQueries")["state"], "suppressed");
    assert_eq!(
        state_of("SlowQueries")["inhibitedBy"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        state_of("NoisyNeighbour")["silencedBy"],
        json!([silence_id])
    );
    let (_, only_active) = node.get_json("/api/v2/alerts?silenced=false&inhibited=false");
    assert_eq!(
        only_active.as_array().map(Vec::len),
        Some(1),
        "{only_active}"
    );
    let (_, groups) = node.get_json("/api/v2/alerts/groups");
    assert!(groups.as_array().is_some_and(|g| !g.is_empty()), "{groups}");
}

#[test]
fn a_restart_during_firing_neither_pages_again_nor_forgets_the_resolve() {
    let receiver = RecordingServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let options = || NodeOptions {
        dir: Some(dir.path().to_path_buf()),
        port: Some(port),
        ..NodeOptions::default()
    };
    let started = chrono::Utc::now();
    let labels = [("alertname", "Restarted"), ("instance", "a")];
    let mut node = Node::start(&config(&receiver, 1), options());
    post_alerts(&node, vec![alert_started(&labels, started)]);
    receiver.wait_for("/webhook", 1, Duration::from_secs(15));
    // The log is written right after the receiver answered.
    let nflog = dir.path().join("data/notify/nflog");
    common::eventually(
        Duration::from_secs(5),
        "the notification log on disk",
        || {
            std::fs::read_to_string(&nflog)
                .ok()
                .filter(|text| text.contains("Restarted"))
        },
    );
    node.process.kill9();
    drop(node);

    let node = Node::start(&config(&receiver, 1), options());
    // The sender keeps re-sending the firing alert, as Prometheus does.
    for _ in 0..3 {
        post_alerts(&node, vec![alert_started(&labels, started)]);
        std::thread::sleep(Duration::from_secs(2));
    }
    assert_eq!(
        receiver.received("/webhook").len(),
        1,
        "paged again after the restart"
    );
    let mut resolved = alert_started(&labels, started);
    resolved["endsAt"] = Value::String(chrono::Utc::now().to_rfc3339());
    post_alerts(&node, vec![resolved]);
    let all = receiver.wait_for("/webhook", 2, Duration::from_secs(15));
    assert_eq!(all[1].body["status"], "resolved");
}

#[test]
fn silence_management_requires_basic_auth_when_users_are_set() {
    let receiver = RecordingServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let web_config = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret", 4).expect("hash");
    std::fs::write(
        &web_config,
        format!("basic_auth_users:\n  admin: '{hash}'\n"),
    )
    .expect("write");
    let node = Node::start(
        &config(&receiver, 1),
        NodeOptions {
            flags: vec![format!("--web.config.file={}", web_config.display())],
            ..NodeOptions::default()
        },
    );
    let now = chrono::Utc::now();
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "X", "isRegex": false}],
        "startsAt": now.to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "test",
        "comment": "c",
    });
    let url = format!("{}/api/v2/silences", node.url);
    assert_eq!(post_json(&url, &silence, None).0, 401);
    assert_eq!(post_json(&url, &silence, Some(("admin", "wrong"))).0, 401);
    let (status, body) = post_json(&url, &silence, Some(("admin", "s3cret")));
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).expect("json")["silenceID"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, listed) = node.get_json("/api/v2/silences");
    assert_eq!(status, 200, "reading stays open");
    assert_eq!(listed[0]["status"]["state"], "active");
    let silence_url = format!("{}/api/v2/silence/{id}", node.url);
    assert_eq!(delete(&silence_url, None), 401);
    assert_eq!(delete(&silence_url, Some(("admin", "s3cret"))), 200);
    let (_, expired) = node.get_json(&format!("/api/v2/silence/{id}"));
    assert_eq!(expired["status"]["state"], "expired");
}

#[test]
fn email_slack_and_pagerduty_receive_notifications() {
    let receiver = RecordingServer::start();
    let smtp = SmtpSink::start();
    let node = Node::start(&config(&receiver, smtp.port), NodeOptions::default());
    post_alerts(
        &node,
        vec![
            alert(&[("alertname", "Mailed"), ("channel", "email")], false),
            alert(&[("alertname", "Chatted"), ("channel", "slack")], false),
            alert(&[("alertname", "Paged"), ("channel", "pagerduty")], false),
        ],
    );
    let slack = receiver.wait_for("/slack", 1, Duration::from_secs(15));
    assert_eq!(slack[0].body["channel"], "#ops");
    assert_eq!(
        slack[0].body["attachments"][0]["title"],
        "[FIRING:1] Chatted"
    );
    let trigger = receiver.wait_for("/pagerduty", 1, Duration::from_secs(15));
    assert_eq!(trigger[0].body["event_action"], "trigger");
    assert_eq!(trigger[0].body["routing_key"], "test-key");
    let mail = common::eventually(Duration::from_secs(15), "an email", || {
        smtp.messages().into_iter().next()
    });
    assert!(mail.contains("Subject: [FIRING:1] Mailed"), "{mail}");
    assert!(mail.contains("oncall@example.org"), "{mail}");

    // require_tls against a server without STARTTLS: refused, never sent
    // in the clear.
    post_alerts(
        &node,
        vec![alert(
            &[("alertname", "MailedSecurely"), ("channel", "email-tls")],
            false,
        )],
    );
    common::eventually(Duration::from_secs(15), "a failed email delivery", || {
        (common::self_metric(&node.url, "alertmanager_notifications_failed_total") >= 1.0)
            .then_some(())
    });
    assert_eq!(smtp.messages().len(), 1, "nothing sent without TLS");

    post_alerts(
        &node,
        vec![alert(
            &[("alertname", "Paged"), ("channel", "pagerduty")],
            true,
        )],
    );
    let events = receiver.wait_for("/pagerduty", 2, Duration::from_secs(15));
    assert_eq!(events[1].body["event_action"], "resolve");
    assert_eq!(events[1].body["dedup_key"], events[0].body["dedup_key"]);
}

#[test]
fn invalid_alerts_and_silences_get_alertmanagers_400() {
    let receiver = RecordingServer::start();
    let node = Node::start(&config(&receiver, 1), NodeOptions::default());
    let url = format!("{}/api/v2/alerts", node.url);
    let (status, body) = post_json(&url, &json!([{"labels": {}}]), None);
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).ok(),
        Some(json!("at least one label pair required"))
    );
    let (status, _) = post_json(&url, &json!({"not": "a list"}), None);
    assert_eq!(status, 400);
    // Extreme times are taken, not a crash.
    let far = json!([{"labels": {"alertname": "Far"}, "startsAt": "9999-12-31T23:59:59Z"}]);
    let (status, body) = post_json(&url, &far, None);
    assert_eq!(
        (status, body.as_str()),
        (400, "\"start time must be before end time\"")
    );
    let far = json!([{"labels": {"alertname": "Far"}, "startsAt": "9999-12-31T23:59:58Z", "endsAt": "9999-12-31T23:59:59Z"}]);
    assert_eq!(post_json(&url, &far, None).0, 200);
    let (status, _) = node.get_json("/api/v2/alerts?filter=alertname%3D%22Far%22");
    assert_eq!(status, 200, "still serving");
    let (status, _) = node.get_json("/api/v2/alerts?filter=%7Bbroken");
    assert_eq!(status, 400);
    let now = chrono::Utc::now();
    let backwards = json!({
        "matchers": [{"name": "a", "value": "b", "isRegex": false}],
        "startsAt": now.to_rfc3339(),
        "endsAt": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "t",
        "comment": "c",
    });
    let (status, _) = post_json(&format!("{}/api/v2/silences", node.url), &backwards, None);
    assert_eq!(status, 400);
    let (status, receivers) = node.get_json("/api/v2/receivers");
    assert_eq!(status, 200);
    assert_eq!(receivers.as_array().map(Vec::len), Some(5));
    let (status, status_body) = node.get_json("/api/v2/status");
    assert_eq!(status, 200);
    assert_eq!(status_body["cluster"]["status"], "disabled");
}

#[test]
fn in_a_cluster_each_group_is_notified_once_by_its_owner() {
    let receiver = RecordingServer::start();
    let ports = [common::free_port(), common::free_port()];
    let cluster = |port: u16| {
        format!(
            "{}cluster:\n  mode: static\n  node_id: 127.0.0.1:{port}\n  advertise_address: 127.0.0.1:{port}\n  peers: ['127.0.0.1:{}', '127.0.0.1:{}']\n",
            config(&receiver, 1),
            ports[0],
            ports[1]
        )
    };
    let nodes: Vec<Node> = ports
        .iter()
        .map(|port| {
            Node::start(
                &cluster(*port),
                NodeOptions {
                    port: Some(*port),
                    ..NodeOptions::default()
                },
            )
        })
        .collect();
    // A silence made on one node mutes wherever the group's owner is.
    let now = chrono::Utc::now();
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Clustered0", "isRegex": false}],
        "startsAt": now.to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "test",
        "comment": "replicated",
    });
    let (status, body) = post_json(&format!("{}/api/v2/silences", nodes[0].url), &silence, None);
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).expect("json")["silenceID"].clone();
    common::eventually(
        Duration::from_secs(10),
        "the silence on the other node",
        || {
            let (status, replica) =
                nodes[1].get_json(&format!("/api/v2/silence/{}", id.as_str().unwrap_or("")));
            (status == 200 && replica["comment"] == "replicated").then_some(())
        },
    );
    let names: Vec<String> = (0..6).map(|i| format!("Clustered{i}")).collect();
    // Every node hears of every alert, as when each evaluates some rules
    // or a Prometheus sends to all of them.
    for node in &nodes {
        post_alerts(
            node,
            names
                .iter()
                .map(|name| alert(&[("alertname", name), ("instance", "a")], false))
                .collect(),
        );
    }
    receiver.wait_for("/webhook", names.len() - 1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(4));
    let mut notified: Vec<String> = receiver
        .received("/webhook")
        .iter()
        .map(|r| {
            r.body["groupLabels"]["alertname"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    notified.sort();
    assert_eq!(
        notified,
        names[1..].to_vec(),
        "each unsilenced group exactly once across the cluster"
    );
    let (_, status) = nodes[0].get_json("/api/v2/status");
    assert_eq!(status["cluster"]["status"], "ready");
}

/// Two static-cluster node configs over `receiver` on `ports`.
fn cluster_config(receiver: &RecordingServer, ports: [u16; 2], port: u16) -> String {
    format!(
        "{}cluster:\n  mode: static\n  node_id: 127.0.0.1:{port}\n  advertise_address: 127.0.0.1:{port}\n  peers: ['127.0.0.1:{}', '127.0.0.1:{}']\n",
        config(receiver, 1),
        ports[0],
        ports[1]
    )
}

#[test]
fn silences_made_while_a_peer_is_down_reach_it_when_it_starts() {
    let receiver = RecordingServer::start();
    let ports = [common::free_port(), common::free_port()];
    let first = Node::start(
        &cluster_config(&receiver, ports, ports[0]),
        NodeOptions {
            port: Some(ports[0]),
            ..NodeOptions::default()
        },
    );
    let now = chrono::Utc::now();
    let silence = |name: &str| {
        json!({
            "matchers": [{"name": "alertname", "value": name, "isRegex": false}],
            "startsAt": now.to_rfc3339(),
            "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
            "createdBy": "test",
            "comment": name,
        })
    };
    let post = |name: &str| {
        let (status, body) = post_json(
            &format!("{}/api/v2/silences", first.url),
            &silence(name),
            None,
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).expect("json")["silenceID"]
            .as_str()
            .expect("an id")
            .to_string()
    };
    // Made, and one expired, while the second node is not running.
    let kept = post("Kept");
    let expired = post("Expired");
    assert_eq!(
        delete(&format!("{}/api/v2/silence/{expired}", first.url), None),
        200
    );
    common::eventually(
        Duration::from_secs(10),
        "failed deliveries to the stopped peer",
        || {
            (common::self_metric(&first.url, "promshard_cluster_silence_sync_failures_total")
                >= 1.0)
                .then_some(())
        },
    );
    assert!(
        common::self_metric(&first.url, "promshard_cluster_silence_sync_pending") >= 2.0,
        "both changes wait for the peer"
    );

    let second = Node::start(
        &cluster_config(&receiver, ports, ports[1]),
        NodeOptions {
            port: Some(ports[1]),
            ..NodeOptions::default()
        },
    );
    common::eventually(
        Duration::from_secs(30),
        "both silences on the node that was down, in their state",
        || {
            let (status, listed) = second.get_json("/api/v2/silences");
            if status != 200 {
                return None;
            }
            let state = |id: &str| {
                listed
                    .as_array()?
                    .iter()
                    .find(|s| s["id"] == id)
                    .map(|s| s["status"]["state"].as_str().unwrap_or("").to_string())
            };
            (state(&kept).as_deref() == Some("active")
                && state(&expired).as_deref() == Some("expired"))
            .then_some(())
        },
    );
    common::eventually(Duration::from_secs(10), "nothing left to deliver", || {
        (common::self_metric(&first.url, "promshard_cluster_silence_sync_pending") == 0.0)
            .then_some(())
    });
    // A change made on the second node comes back to the first.
    assert_eq!(
        delete(&format!("{}/api/v2/silence/{kept}", second.url), None),
        200
    );
    common::eventually(
        Duration::from_secs(10),
        "the expiry on the first node",
        || {
            let (_, silence) = first.get_json(&format!("/api/v2/silence/{kept}"));
            (silence["status"]["state"] == "expired").then_some(())
        },
    );
}

#[test]
fn a_reload_applies_new_routes_without_paging_again() {
    let receiver = RecordingServer::start();
    let node = Node::start(&config(&receiver, 1), NodeOptions::default());
    post_alerts(
        &node,
        vec![alert(
            &[("alertname", "BeforeReload"), ("instance", "a")],
            false,
        )],
    );
    receiver.wait_for("/webhook", 1, Duration::from_secs(15));

    node.write_config(&config(&receiver, 1).replace("/webhook", "/webhook-after-reload"));
    let (status, body) = node.reload();
    assert_eq!(status, 200, "{body}");
    post_alerts(
        &node,
        vec![alert(
            &[("alertname", "AfterReload"), ("instance", "a")],
            false,
        )],
    );
    let after = receiver.wait_for("/webhook-after-reload", 1, Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(4));
    let after_groups: Vec<String> = receiver
        .received("/webhook-after-reload")
        .iter()
        .map(|r| {
            r.body["groupLabels"]["alertname"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(after_groups, vec!["AfterReload"], "{:?}", after[0].body);
    assert_eq!(receiver.received("/webhook").len(), 1);

    // A broken notify section is refused and the running one stays.
    node.write_config(&config(&receiver, 1).replace(
        "receiver: hook\n    group_by",
        "receiver: nobody\n    group_by",
    ));
    let (status, body) = node.reload();
    assert_ne!(status, 200, "{body}");
    assert!(body.contains("undefined receiver"), "{body}");
}

#[test]
fn a_failed_delivery_is_retried_with_backoff() {
    let receiver = RecordingServer::start();
    let node = Node::start(
        &config(&receiver, 1).replace("/webhook", "/flaky-webhook"),
        NodeOptions::default(),
    );
    post_alerts(
        &node,
        vec![alert(&[("alertname", "Retried"), ("instance", "a")], false)],
    );
    let attempts = receiver.wait_for("/flaky-webhook", 2, Duration::from_secs(15));
    assert_eq!(
        attempts[0].body, attempts[1].body,
        "the same notification again"
    );
    let gap = attempts[1].at.duration_since(attempts[0].at);
    assert!(
        gap >= Duration::from_millis(400),
        "retried after a backoff, not at once: {gap:?}"
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        receiver.received("/flaky-webhook").len(),
        2,
        "delivered once it succeeded"
    );
    let failed = common::self_metric(&node.url, "alertmanager_notifications_failed_total");
    let total = common::self_metric(&node.url, "alertmanager_notifications_total");
    assert_eq!((failed, total), (1.0, 2.0));
}
