//! DNS service discovery against a real DNS server: Debian's bind9
//! (`named`), authoritative for `sd.test` on a loopback address of its own
//! (port 53, as `resolv.conf` cannot name a port), records changed during
//! the test with `nsupdate`. promshard and the reference Prometheus 3.5.3
//! run in private mount namespaces whose `/etc/resolv.conf` names that
//! server, so both find it the way they find any resolver. Needs root (for
//! port 53 and the namespaces), as CI has.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ChildGuard, Node, NodeOptions, TestTarget, eventually, free_port};
use serde_json::Value;

/// `named` serving `zone` for `sd.test` on `address`:53, updatable.
fn start_named(dir: &Path, address: &str, zone: &str) -> ChildGuard {
    let zone_file = dir.join("sd.test.zone");
    std::fs::write(&zone_file, zone).unwrap();
    let conf = dir.join("named.conf");
    std::fs::write(
        &conf,
        format!(
            "options {{\n  directory \"{dir}\";\n  pid-file \"{dir}/named.pid\";\n  listen-on port 53 {{ {address}; }};\n  listen-on-v6 {{ none; }};\n  recursion no;\n  max-records-per-type 0;\n  dnssec-validation no;\n  allow-query {{ any; }};\n}};\ncontrols {{ }};\nzone \"sd.test\" {{\n  type primary;\n  file \"{zone}\";\n  allow-update {{ any; }};\n}};\n",
            dir = dir.display(),
            zone = zone_file.display(),
        ),
    )
    .unwrap();
    let log = dir.join("named.log");
    let child = Command::new("named")
        .args(["-g", "-4", "-c"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn named (scripts/setup-system --test installs bind9)");
    let guard = ChildGuard { child, log };
    common::eventually_or(
        Duration::from_secs(20),
        "named to answer",
        || dig(address, "ns.sd.test", "A").filter(|answer| !answer.is_empty()),
        || format!("named's log:\n{}", guard.log_text()),
    );
    guard
}

/// The answer lines of `dig` (bind9-dnsutils), `None` when it fails.
fn dig(server: &str, name: &str, record_type: &str) -> Option<String> {
    let output = Command::new("dig")
        .args([
            &format!("@{server}"),
            "+short",
            "+time=1",
            "+tries=1",
            name,
            record_type,
        ])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Sends `updates` (nsupdate commands) to the server.
fn nsupdate(server: &str, updates: &str) {
    let mut child = Command::new("nsupdate")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nsupdate (bind9-dnsutils)");
    write!(
        child.stdin.take().unwrap(),
        "server {server} 53\nzone sd.test\n{updates}send\n"
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "nsupdate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A loopback address of this test's own (not 127.0.0.1 or systemd's
/// 127.0.0.53), so that port 53 is free on it; added to `lo` (named
/// listens on interface addresses only) and removed on drop.
struct PrivateLoopback(String);

impl PrivateLoopback {
    fn add() -> Self {
        let pid = std::process::id();
        let address = format!(
            "127.{}.{}.{}",
            100 + pid % 100,
            (pid / 100) % 250 + 1,
            free_port() % 250 + 1
        );
        let status = Command::new("ip")
            .args(["addr", "add", &format!("{address}/32"), "dev", "lo"])
            .status()
            .expect("run ip (iproute2)");
        assert!(
            status.success(),
            "ip addr add {address}/32 dev lo (needs root)"
        );
        PrivateLoopback(address)
    }
}

impl Drop for PrivateLoopback {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["addr", "del", &format!("{}/32", self.0), "dev", "lo"])
            .status();
    }
}

/// `job -> discovered address -> discovered labels` from a
/// Prometheus-compatible `/api/v1/targets`.
fn discovered(base_url: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
    let (status, body) =
        common::blocking_get(&format!("{base_url}/api/v1/targets")).expect("GET targets");
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("json");
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for target in body["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let labels = &target["discoveredLabels"];
        out.entry(labels["job"].as_str().unwrap_or("").to_string())
            .or_default()
            .insert(
                labels["__address__"].as_str().unwrap_or("").to_string(),
                labels.clone(),
            );
    }
    out
}

/// A records of `many.sd.test`.
const MANY: usize = 400;

fn config(port_b: u16) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n  - job_name: srv\n    metrics_path: /ok\n    dns_sd_configs:\n      - names: [_node._tcp]\n        refresh_interval: 1s\n  - job_name: a\n    metrics_path: /ok\n    dns_sd_configs:\n      - names: [web1.sd.test]\n        type: A\n        port: {port_b}\n        refresh_interval: 1s\n  - job_name: mx\n    dns_sd_configs:\n      - names: [sd.test]\n        type: mx\n        port: 25\n        refresh_interval: 1s\n  - job_name: many\n    scrape_interval: 1h\n    dns_sd_configs:\n      - names: [many.sd.test]\n        type: A\n        port: 9\n        refresh_interval: 1s\n"
    )
}

#[test]
fn dns_records_are_followed_and_match_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let loopback = PrivateLoopback::add();
    let server = loopback.0.clone();
    let (target_a, target_b) = (TestTarget::start(), TestTarget::start());
    let zone = format!(
        "$TTL 1\n@ IN SOA ns.sd.test. admin.sd.test. 1 60 60 60 1\n@ IN NS ns.sd.test.\n@ IN MX 10 mail.sd.test.\nns IN A 127.0.0.1\nweb1 IN A 127.0.0.1\nweb2 IN A 127.0.0.1\n_node._tcp IN SRV 0 0 {} web1.sd.test.\n{}",
        target_a.port,
        // More than fits in 4,096 bytes of UDP: the answer is truncated
        // and asked again over TCP.
        (0..MANY)
            .map(|i| format!("many IN A 10.77.{}.{}\n", i / 200, i % 200 + 1))
            .collect::<String>()
    );
    let mut named = start_named(dir.path(), &server, &zone);
    let resolv_conf = dir.path().join("resolv.conf");
    // The search path makes `_node._tcp` a name of sd.test (after the
    // rooted name, which has more dots than ndots, is refused).
    std::fs::write(
        &resolv_conf,
        format!("nameserver {server}\nsearch sd.test\n"),
    )
    .unwrap();

    let node = Node::start(
        &config(target_b.port),
        NodeOptions {
            resolv_conf: Some(resolv_conf.clone()),
            ..NodeOptions::default()
        },
    );
    let prometheus_port = free_port();
    let prometheus_config = dir.path().join("prometheus.yml");
    std::fs::write(&prometheus_config, config(target_b.port)).unwrap();
    let prometheus_bin = which("prometheus");
    let prometheus_log = dir.path().join("prometheus.log");
    let prometheus = ChildGuard {
        child: common::private_resolv_conf(&prometheus_bin, Some(&resolv_conf))
            .arg(format!("--config.file={}", prometheus_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("prom-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&prometheus_log).unwrap())
            .spawn()
            .expect("spawn prometheus 3.5.3"),
        log: prometheus_log,
    };
    let prometheus_url = format!("http://127.0.0.1:{prometheus_port}");
    let address_a = format!("web1.sd.test:{}", target_a.port);

    // Discovered, and scraped through the same resolver (the system's).
    eventually(
        Duration::from_secs(30),
        "the SRV target up on promshard",
        || {
            let up = common::query_at(&node.url, "up{job=\"srv\"}", now());
            (up.len() == 1
                && up[0]["value"][1] == "1"
                && up[0]["metric"]["instance"] == address_a.as_str())
            .then_some(())
        },
    );
    let ours = eventually(
        Duration::from_secs(30),
        "every job discovered on both",
        || {
            let ours = discovered(&node.url);
            let theirs = discovered(&prometheus_url);
            (ours.len() == 4 && theirs.len() == 4).then_some(ours)
        },
    );
    assert_eq!(
        ours,
        discovered(&prometheus_url),
        "the same targets and labels as Prometheus 3.5.3"
    );
    assert_eq!(
        ours["srv"][&address_a]["__meta_dns_srv_record_target"], "web1.sd.test.",
        "{ours:#?}"
    );
    assert!(
        ours["a"].contains_key(&format!("127.0.0.1:{}", target_b.port)),
        "{ours:#?}"
    );
    assert!(ours["mx"].contains_key("mail.sd.test:25"), "{ours:#?}");
    assert_eq!(
        ours["many"].len(),
        MANY,
        "the truncated answer is read over TCP"
    );

    // Changed records are followed within the refresh interval.
    nsupdate(
        &server,
        &format!(
            "update delete _node._tcp.sd.test. SRV\nupdate add _node._tcp.sd.test. 1 SRV 0 0 {} web2.sd.test.\n",
            target_b.port
        ),
    );
    let address_b = format!("web2.sd.test:{}", target_b.port);
    eventually(
        Duration::from_secs(15),
        "the changed SRV record on promshard",
        || {
            let srv = discovered(&node.url).remove("srv")?;
            (srv.len() == 1 && srv.contains_key(&address_b)).then_some(())
        },
    );
    eventually(Duration::from_secs(15), "the same on Prometheus", || {
        (discovered(&prometheus_url) == discovered(&node.url)).then_some(())
    });

    // A server that stops answering leaves the last good targets.
    let failures_before = common::self_metric(&node.url, "prometheus_sd_dns_lookup_failures_total");
    named.kill9();
    eventually(Duration::from_secs(20), "failed lookups counted", || {
        (common::self_metric(&node.url, "prometheus_sd_dns_lookup_failures_total")
            > failures_before)
            .then_some(())
    });
    let kept = discovered(&node.url);
    assert!(kept["srv"].contains_key(&address_b), "{kept:#?}");
    assert!(kept["mx"].contains_key("mail.sd.test:25"), "{kept:#?}");
    drop(prometheus);
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The full path of `program` on PATH.
fn which(program: &str) -> std::path::PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(program))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}
