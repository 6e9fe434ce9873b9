//! The command line a Prometheus 3.5 user brings: every flag of the
//! reference Prometheus 3.5.3 is accepted, and `/api/v1/status/flags`
//! shows the same names and values as the reference for the same command
//! line; flags that take effect are seen to.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ChildGuard, Node, NodeOptions, blocking_get, eventually, free_port};

/// Flags whose default Debian's build of Prometheus patches (paths under
/// /etc and /usr); both processes are given upstream's defaults.
const DEBIAN_PATHS: &[(&str, &str)] = &[
    ("web.console.templates", "consoles"),
    ("web.console.libraries", "console_libraries"),
    ("web.local-assets", ""),
];

/// Not compared: the ports and paths each process is given, and
/// `storage.agent.path`, whose default Debian patches
/// (`/var/lib/prometheus/data-agent/`, upstream and promshard `data-agent/`)
/// and which a server refuses on its command line.
const NOT_COMPARED: &[&str] = &[
    "web.listen-address",
    "storage.tsdb.path",
    "config.file",
    "storage.agent.path",
];

/// Starts the reference Prometheus with `flags` and returns its
/// `/api/v1/status/flags`.
fn reference_flags(dir: &std::path::Path, flags: &[String]) -> BTreeMap<String, String> {
    let port = free_port();
    let log = dir.join("prometheus.log");
    let child = Command::new("prometheus")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prometheus-data").display()
        ))
        .args(flags)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn prometheus 3.5.3 (scripts/test puts it on PATH)");
    let mut guard = ChildGuard { child, log };
    // Prometheus serves under the external URL's path.
    let prefix = flags
        .iter()
        .find_map(|flag| flag.strip_prefix("--web.external-url="))
        .and_then(|url| reqwest::Url::parse(url).ok())
        .map(|url| url.path().trim_end_matches('/').to_string())
        .unwrap_or_default();
    let url = format!("http://127.0.0.1:{port}{prefix}/api/v1/status/flags");
    let body = eventually(Duration::from_secs(60), "prometheus to answer", || {
        if let Ok(Some(exit)) = guard.child.try_wait() {
            panic!("prometheus exited ({exit}):\n{}", guard.log_text());
        }
        blocking_get(&url).ok().filter(|(status, _)| *status == 200)
    })
    .1;
    let version = Command::new("prometheus")
        .arg("--version")
        .output()
        .expect("version");
    assert!(
        String::from_utf8_lossy(&version.stdout).contains("version 3.5.3"),
        "the reference is Prometheus 3.5.3 (run through scripts/test); got {}",
        String::from_utf8_lossy(&version.stdout)
    );
    drop(guard);
    flags_of(&serde_json::from_str(&body).expect("json"))
}

/// The `data` of a `/api/v1/status/flags` answer: flag → value.
fn flags_of(value: &serde_json::Value) -> BTreeMap<String, String> {
    value["data"]
        .as_object()
        .expect("data")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// Both processes with `flags` (plus their own ports and data paths), and
/// their flag pages compared: every key, every value but the port and path.
fn assert_same_flags(flags: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").expect("config");
    let mut common: Vec<String> = vec![format!("--config.file={}", config.display())];
    common.extend(
        DEBIAN_PATHS
            .iter()
            .map(|(flag, value)| format!("--{flag}={value}")),
    );
    common.extend(flags.iter().map(|flag| flag.to_string()));
    let reference = reference_flags(dir.path(), &common);

    let options = NodeOptions {
        flags: common[1..].to_vec(),
        ..NodeOptions::default()
    };
    let node = Node::start("global:\n  scrape_interval: 15s\n", options);
    let ours = flag_page(&node);

    let mut differences = Vec::new();
    for (flag, value) in &reference {
        match ours.get(flag) {
            None => differences.push(format!("{flag}: missing (Prometheus: {value:?})")),
            Some(_) if NOT_COMPARED.contains(&flag.as_str()) => {}
            Some(mine) if mine != value => {
                differences.push(format!("{flag}: {mine:?}, Prometheus: {value:?}"))
            }
            Some(_) => {}
        }
    }
    assert!(
        differences.is_empty(),
        "flags given {flags:?}:\n{}",
        differences.join("\n")
    );
}

#[test]
fn the_flags_page_matches_prometheus_at_the_defaults() {
    assert_same_flags(&[]);
}

#[test]
fn the_flags_page_matches_prometheus_for_values_given() {
    assert_same_flags(&[
        "--no-auto-gomaxprocs",
        "--no-auto-gomemlimit",
        "--web.enable-lifecycle",
        "--web.enable-admin-api",
        "--web.max-connections=7",
        "--web.external-url=http://monitor.example:9090/prom/",
        "--web.page-title=Shard A",
        "--web.cors.origin=https?://grafana\\.example",
        "--storage.tsdb.retention.size=1GB",
        "--storage.tsdb.min-block-duration=1h",
        "--storage.remote.flush-deadline=90s",
        "--storage.remote.read-sample-limit=5e6",
        "--query.timeout=120s",
        "--query.max-samples=1e6",
        "--query.max-concurrency=3",
        "--alertmanager.notification-batch-size=64",
        "--no-alertmanager.drain-notification-queue-on-shutdown",
        "--rules.alert.resend-delay=30s",
        "--enable-feature=auto-reload-config",
        "--config.auto-reload-interval=2s",
        "--log.level=debug",
    ]);
}

#[test]
fn web_flags_take_effect() {
    let second_port = free_port();
    let options = NodeOptions {
        flags: vec![
            format!("--web.listen-address=127.0.0.1:{second_port}"),
            "--web.page-title=Shard A & B".into(),
            "--web.cors.origin=https://grafana\\.example".into(),
        ],
        ..NodeOptions::default()
    };
    let node = Node::start("global:\n  scrape_interval: 15s\n", options);
    // Both listen addresses serve.
    let (status, _) =
        blocking_get(&format!("http://127.0.0.1:{second_port}/-/ready")).expect("second address");
    assert_eq!(status, 200);
    // The page title.
    let (_, page) = blocking_get(&format!("{}/query", node.url)).expect("page");
    assert!(page.contains("<title>Shard A &amp; B</title>"), "{page}");
    // CORS for the origin allowed, none for another.
    let client = reqwest::blocking::Client::new();
    let url = format!("{}/api/v1/query?query=1", node.url);
    let allowed = client
        .get(&url)
        .header("Origin", "https://grafana.example")
        .send()
        .expect("GET");
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://grafana.example"
    );
    let refused = client
        .get(&url)
        .header("Origin", "https://other.example")
        .send()
        .expect("GET");
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // The request metrics count the queries by route.
    let (_, metrics) = blocking_get(&format!("{}/metrics", node.url)).expect("metrics");
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("prometheus_http_requests_total{")
                && line.contains("handler=\"/api/v1/query\"")
                && line.contains("code=\"200\"")),
        "{metrics}"
    );
}

#[test]
fn a_changed_config_is_reloaded_with_auto_reload() {
    let options = NodeOptions {
        flags: vec![
            "--enable-feature=auto-reload-config".into(),
            "--config.auto-reload-interval=1s".into(),
        ],
        ..NodeOptions::default()
    };
    let node = Node::start("global:\n  scrape_interval: 15s\n", options);
    node.write_config("global:\n  scrape_interval: 7s\n");
    eventually(
        Duration::from_secs(30),
        "the new config to be loaded",
        || {
            let (_, config) = node.get_json("/api/v1/status/config");
            config["data"]["yaml"]
                .as_str()
                .filter(|yaml| yaml.contains("scrape_interval: 7s"))
                .map(|_| ())
        },
    );
}

/// Every server flag, each away from its default, in a form Prometheus
/// accepts (`{DIR}`: a scratch directory).
const EVERY_FLAG: &[&str] = &[
    "--config.auto-reload-interval=10s",
    "--no-auto-gomaxprocs",
    "--no-auto-gomemlimit",
    "--auto-gomemlimit.ratio=0.5",
    "--web.config.file={DIR}/web.yml",
    "--web.read-timeout=1m",
    "--web.max-connections=100",
    "--web.max-notifications-subscribers=4",
    "--web.external-url=http://localhost:9999/",
    "--web.route-prefix=/",
    "--web.local-assets={DIR}",
    "--web.user-assets={DIR}",
    "--web.enable-lifecycle",
    "--web.enable-admin-api",
    "--web.enable-remote-write-receiver",
    "--web.remote-write-receiver.accepted-protobuf-messages=prometheus.WriteRequest",
    "--web.console.templates={DIR}/consoles",
    "--web.console.libraries={DIR}/console_libraries",
    "--web.page-title=Every flag",
    "--web.cors.origin=https://.*\\.example",
    "--storage.tsdb.retention.time=30d",
    "--storage.tsdb.retention.size=1GB",
    "--storage.tsdb.no-lockfile",
    "--storage.tsdb.head-chunks-write-queue-size=100",
    "--storage.tsdb.min-block-duration=1h",
    "--storage.tsdb.max-block-duration=2d",
    "--storage.tsdb.max-block-chunk-segment-size=64MB",
    "--storage.tsdb.wal-segment-size=32MB",
    "--no-storage.tsdb.allow-overlapping-compaction",
    "--no-storage.tsdb.wal-compression",
    "--storage.tsdb.wal-compression-type=zstd",
    "--storage.tsdb.samples-per-chunk=240",
    "--storage.tsdb.delayed-compaction.max-percent=5",
    "--storage.tsdb.block-reload-interval=10s",
    "--storage.agent.path={DIR}/agent",
    "--no-storage.agent.wal-compression",
    "--storage.agent.wal-compression-type=zstd",
    "--storage.agent.wal-segment-size=16MB",
    "--storage.agent.wal-truncate-frequency=1h",
    "--storage.agent.retention.min-time=1h",
    "--storage.agent.retention.max-time=2h",
    "--storage.agent.no-lockfile",
    "--storage.remote.flush-deadline=10s",
    "--storage.remote.read-sample-limit=1000",
    "--storage.remote.read-concurrent-limit=2",
    "--storage.remote.read-max-bytes-in-frame=4096",
    "--rules.alert.for-outage-tolerance=2h",
    "--rules.alert.for-grace-period=5m",
    "--rules.alert.resend-delay=30s",
    "--rules.max-concurrent-evals=2",
    "--alertmanager.notification-queue-capacity=100",
    "--alertmanager.notification-batch-size=10",
    "--no-alertmanager.drain-notification-queue-on-shutdown",
    "--query.lookback-delta=2m",
    "--query.timeout=1m",
    "--query.max-concurrency=5",
    "--query.max-samples=1000000",
    "--enable-feature=exemplar-storage,auto-reload-config",
    "--agent",
    "--log.level=debug",
    "--log.format=json",
    "--no-scrape.adjust-timestamps",
    "--scrape.timestamp-tolerance=5ms",
    "--scrape.discovery-reload-interval=10s",
];

fn flag_page(node: &Node) -> BTreeMap<String, String> {
    let (status, body) = node.get_json("/api/v1/status/flags");
    assert_eq!(status, 200);
    flags_of(&body)
}

#[test]
fn a_node_starts_with_every_flag_given_and_names_the_ones_not_in_effect() {
    let config = "global:\n  scrape_interval: 15s\n";
    let defaults = flag_page(&Node::start(
        config,
        NodeOptions {
            flags: Vec::new(),
            ..NodeOptions::default()
        },
    ));

    let scratch = tempfile::tempdir().expect("tempdir");
    std::fs::write(scratch.path().join("web.yml"), "").expect("web config");
    let dir = scratch.path().display().to_string();
    let flags: Vec<String> = EVERY_FLAG
        .iter()
        .map(|flag| flag.replace("{DIR}", &dir))
        .collect();
    let node = Node::start(
        config,
        NodeOptions {
            flags: flags.clone(),
            ..NodeOptions::default()
        },
    );
    let page = flag_page(&node);

    // Every flag the node knows (but the three every start gives) is in
    // the list, and each one given took its value.
    let given: Vec<&str> = flags
        .iter()
        .map(|flag| {
            let name = flag.trim_start_matches("--");
            let name = name.split('=').next().unwrap_or(name);
            if page.contains_key(name) {
                name
            } else {
                name.trim_start_matches("no-")
            }
        })
        .collect();
    for flag in defaults.keys() {
        if ["config.file", "web.listen-address", "storage.tsdb.path"].contains(&flag.as_str()) {
            continue;
        }
        assert!(given.contains(&flag.as_str()), "--{flag} is not exercised");
    }
    for flag in &given {
        // `/` is also the default route prefix.
        if *flag == "web.route-prefix" {
            continue;
        }
        assert_ne!(
            page.get(*flag),
            defaults.get(*flag),
            "--{flag} was not taken"
        );
    }

    // The ones that are not (fully) in effect are named in a warning.
    let log = node.process.log_text();
    for flag in [
        "--storage.tsdb.samples-per-chunk",
        "--agent",
        "--web.read-timeout",
        "--no-storage.tsdb.wal-compression",
        "--enable-feature=exemplar-storage",
    ] {
        let named = flag.replace("--no-", "--");
        assert!(
            log.lines()
                .any(|line| line.contains("not fully in effect") && line.contains(&named)),
            "no warning names {named}:\n{log}"
        );
    }
    assert!(
        !log.lines()
            .any(|line| line.contains("not fully in effect") && line.contains("--query.timeout")),
        "--query.timeout takes effect and is not warned about"
    );
}

#[test]
fn a_changed_scrape_config_file_is_reloaded_with_auto_reload() {
    let options = NodeOptions {
        flags: vec![
            "--enable-feature=auto-reload-config".into(),
            "--config.auto-reload-interval=1s".into(),
        ],
        ..NodeOptions::default()
    };
    let node = Node::start(
        "global:\n  scrape_interval: 15s\nscrape_config_files: [jobs/*.yml]\n",
        options,
    );
    let jobs = node.dir.join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs dir");
    std::fs::write(
        jobs.join("extra.yml"),
        "scrape_configs:\n  - job_name: included\n    static_configs: [{targets: ['127.0.0.1:1']}]\n",
    )
    .expect("write jobs");
    eventually(
        Duration::from_secs(30),
        "the included job to be scraped",
        || {
            let (_, targets) = node.get_json("/api/v1/targets");
            targets["data"]["activeTargets"]
                .as_array()?
                .iter()
                .any(|t| t["labels"]["job"] == "included")
                .then_some(())
        },
    );
}
