//! The cluster with real processes, one scenario per test: a real etcd, promshard nodes started
//! from the built binary, 300 scrape targets on loopback ports. Checks
//! that every target is scraped by exactly one node, that a joining node
//! takes about a quarter of them with no gap and no duplicate in the global
//! view, that a `kill -9`ed node's targets are taken over within the lease
//! TTL plus one interval, that an etcd outage neither stops nor gaps
//! scraping, and that the global query from any node equals the union of
//! the `?local=true` answers.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Etcd, ManyTargets, Node, NodeOptions, eventually, free_port, self_metric, urlencode};

const TARGETS: usize = 300;
const INTERVAL_SECONDS: f64 = 1.0;
const LEASE_TTL_SECONDS: f64 = 3.0;
/// Scheduling slack of one scrape on a loaded 2-core machine.
const JITTER_SECONDS: f64 = 0.25;

fn config(targets: &[String]) -> String {
    let list = targets
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: many\n    static_configs:\n      - targets: [{list}]\n"
    )
}

fn start_node(etcd: &Etcd, id: &str, config: &str) -> Node {
    Node::start(
        config,
        NodeOptions {
            flags: vec![
                "--web.enable-lifecycle".to_string(),
                format!("--cluster.etcd.endpoints={}", etcd.endpoint),
                format!("--cluster.node-id={id}"),
                format!("--cluster.etcd.lease-ttl={}s", LEASE_TTL_SECONDS),
                "--cluster.peer-timeout=2s".to_string(),
            ],
            ..NodeOptions::default()
        },
    )
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A node's active targets: instance → (health, last scrape in seconds).
fn active_targets(node: &Node) -> Option<HashMap<String, (String, f64)>> {
    let (status, body) = common::blocking_get(&format!("{}/api/v1/targets", node.url)).ok()?;
    if status != 200 {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(&body).ok()?;
    let mut out = HashMap::new();
    for target in value["data"]["activeTargets"].as_array()? {
        let instance = target["labels"]["instance"].as_str()?.to_string();
        let health = target["health"].as_str().unwrap_or("").to_string();
        let last = target["lastScrape"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis() as f64 / 1000.0)
            .unwrap_or(0.0);
        out.insert(instance, (health, last));
    }
    Some(out)
}

/// The member ids a node sees.
fn members(node: &Node) -> Option<BTreeSet<String>> {
    let (status, body) =
        common::blocking_get(&format!("{}/api/v1/status/cluster", node.url)).ok()?;
    if status != 200 {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some(
        value["data"]["members"]
            .as_array()?
            .iter()
            .filter_map(|m| m["nodeId"].as_str().map(str::to_string))
            .collect(),
    )
}

/// What each node sees, for a failure message: its members, and its
/// active targets by health.
fn describe(nodes: &[(&str, &Node)]) -> String {
    let mut out = String::new();
    for (id, node) in nodes {
        let mut health: BTreeMap<String, usize> = BTreeMap::new();
        for (state, _) in active_targets(node).unwrap_or_default().into_values() {
            *health.entry(state).or_default() += 1;
        }
        out.push_str(&format!(
            "{id}: members {:?}, active targets {health:?}\n",
            members(node)
        ));
    }
    out
}

/// Like `eventually(limit, what, || stable_assignment(nodes, all))`, but a
/// timeout says what each node saw.
fn wait_for_stable_assignment(
    limit: Duration,
    what: &str,
    nodes: &[(&str, &Node)],
    all: &[String],
) -> BTreeMap<String, String> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(owners) = stable_assignment(nodes, all) {
            return owners;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "timed out after {limit:?} waiting for {what}:\n{}",
                describe(nodes)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// When every node sees exactly these nodes as members and every target
/// is active and up on exactly one of them: target → owner.
fn stable_assignment(nodes: &[(&str, &Node)], all: &[String]) -> Option<BTreeMap<String, String>> {
    let ids: BTreeSet<String> = nodes.iter().map(|(id, _)| id.to_string()).collect();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for (id, node) in nodes {
        if members(node)? != ids {
            return None;
        }
        for (instance, (health, _)) in active_targets(node)? {
            if health != "up" || owners.insert(instance, id.to_string()).is_some() {
                return None;
            }
        }
    }
    (owners.len() == all.len() && all.iter().all(|t| owners.contains_key(t))).then_some(owners)
}

/// The raw `up` samples of the last `window` seconds before `at`, through
/// one node's global view: instance → timestamps; plus the warnings.
fn raw_up_samples(node: &Node, window: f64, at: f64) -> (HashMap<String, Vec<f64>>, Vec<String>) {
    let query = format!("up{{job=\"many\"}}[{}s]", window.ceil() as i64);
    let (status, value) = node.get_json(&format!(
        "/api/v1/query?query={}&time={at:.3}",
        urlencode(&query)
    ));
    assert_eq!(status, 200, "{query}: {value}");
    let mut out = HashMap::new();
    for series in value["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let instance = series["metric"]["instance"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let stamps = series["values"]
            .as_array()
            .map(|values| values.iter().filter_map(|v| v[0].as_f64()).collect())
            .unwrap_or_default();
        out.insert(instance, stamps);
    }
    (out, warnings(&value))
}

/// Like [`raw_up_samples`], from the node's own shard.
fn raw_up_samples_local(
    node: &Node,
    window: f64,
    at: f64,
) -> (HashMap<String, Vec<f64>>, Vec<String>) {
    let query = format!("up{{job=\"many\"}}[{}s]", window.ceil() as i64);
    let (_, value) = node.get_json(&format!(
        "/api/v1/query?query={}&time={at:.3}&local=true",
        urlencode(&query)
    ));
    let mut out = HashMap::new();
    for series in value["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let instance = series["metric"]["instance"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let stamps = series["values"]
            .as_array()
            .map(|values| values.iter().filter_map(|v| v[0].as_f64()).collect())
            .unwrap_or_default();
        out.insert(instance, stamps);
    }
    (out, warnings(&value))
}

fn warnings(value: &serde_json::Value) -> Vec<String> {
    value["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The largest gap and the smallest step between consecutive samples of
/// `instances` inside `[from, to]`.
fn gaps(
    samples: &HashMap<String, Vec<f64>>,
    instances: &[String],
    from: f64,
    to: f64,
) -> (f64, f64) {
    let mut largest: f64 = 0.0;
    let mut smallest = f64::MAX;
    for instance in instances {
        let stamps: Vec<f64> = samples
            .get(instance)
            .map(|s| {
                s.iter()
                    .copied()
                    .filter(|t| *t >= from && *t <= to)
                    .collect()
            })
            .unwrap_or_default();
        if stamps.len() < 2 {
            let every: Vec<f64> = samples.get(instance).cloned().unwrap_or_default();
            panic!(
                "{instance}: too few samples in [{from:.3}, {to:.3}]: {stamps:?}; all: {every:?}"
            );
        }
        for pair in stamps.windows(2) {
            largest = largest.max(pair[1] - pair[0]);
            smallest = smallest.min(pair[1] - pair[0]);
        }
    }
    (largest, smallest)
}

/// The instances an API answer names, for `path` (query or series).
fn instances(node: &Node, path: &str) -> (BTreeSet<String>, Vec<String>) {
    let (status, value) = node.get_json(path);
    assert_eq!(status, 200, "{path}: {value}");
    let data = &value["data"];
    let rows = data["result"]
        .as_array()
        .or_else(|| data.as_array())
        .cloned()
        .unwrap_or_default();
    let set = rows
        .iter()
        .filter_map(|row| {
            row["metric"]["instance"]
                .as_str()
                .or_else(|| row["instance"].as_str())
                .map(str::to_string)
        })
        .collect();
    (set, warnings(&value))
}

/// The global answer of every node equals the union of the local ones,
/// for an instant query and for `/api/v1/series`.
fn assert_global_is_union_of_local(nodes: &[(&str, &Node)], expected: usize) {
    let start = now_seconds() - 30.0;
    let paths = [
        format!("/api/v1/query?query={}", urlencode("up{job=\"many\"}")),
        format!(
            "/api/v1/series?match[]={}&start={start:.3}",
            urlencode("up{job=\"many\"}")
        ),
    ];
    for path in paths {
        let mut union = BTreeSet::new();
        for (id, node) in nodes {
            let (local, local_warnings) = instances(node, &format!("{path}&local=true"));
            assert!(local_warnings.is_empty(), "{id} local: {local_warnings:?}");
            union.extend(local);
        }
        assert_eq!(union.len(), expected, "{path}: union of the local answers");
        for (id, node) in nodes {
            let (global, global_warnings) = instances(node, &path);
            assert!(global_warnings.is_empty(), "{id}: {global_warnings:?}");
            assert_eq!(global, union, "{path}: the global answer of {id}");
        }
    }
}

/// Median milliseconds of `expr` answered locally and globally by `node`.
fn query_latency(node: &Node, expr: &str) -> (f64, f64) {
    let median = |suffix: &str| {
        let mut times: Vec<f64> = (0..15)
            .map(|_| {
                let started = Instant::now();
                let (status, value) =
                    node.get_json(&format!("/api/v1/query?query={}{suffix}", urlencode(expr)));
                assert_eq!(status, 200, "{value}");
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    (median("&local=true"), median(""))
}

/// Target → owner as `promshard cluster ring` prints it for `node`'s config
/// and the members registered in `etcd`.
fn ring_command_owners(etcd: &Etcd, node: &Node) -> BTreeMap<String, String> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_promshard"))
        .args(["cluster", "ring"])
        .arg(format!("--config={}", node.config_path.display()))
        .arg(format!("--cluster.etcd.endpoints={}", etcd.endpoint))
        .output()
        .expect("run promshard cluster ring");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cluster ring: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("# 3 members"),
        "the live members: {stdout}"
    );
    stdout
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("JOB\t"))
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (_job, target, owner) = (fields.next()?, fields.next()?, fields.next()?);
            Some((target.to_string(), owner.to_string()))
        })
        .collect()
}

fn owned_by<'a>(owners: &'a BTreeMap<String, String>, id: &str) -> Vec<&'a String> {
    owners
        .iter()
        .filter(|(_, o)| *o == id)
        .map(|(t, _)| t)
        .collect()
}

fn counts(owners: &BTreeMap<String, String>) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for owner in owners.values() {
        *counts.entry(owner.as_str()).or_default() += 1;
    }
    counts
}

/// Three nodes on a real etcd, with every target scraped by exactly one
/// of them: the start of every scenario below. Fields drop in order: the
/// nodes first, then etcd, then the targets.
struct ThreeNodes {
    n1: Node,
    n2: Node,
    n3: Node,
    etcd: Etcd,
    config: String,
    all: Vec<String>,
    /// Target → owner once the three agreed.
    owners: BTreeMap<String, String>,
    _targets: ManyTargets,
}

impl ThreeNodes {
    fn start() -> ThreeNodes {
        let targets = ManyTargets::start(TARGETS);
        let all = targets.addresses.clone();
        let etcd = Etcd::start();
        let config = config(&all);
        let n1 = start_node(&etcd, "n1", &config);
        let n2 = start_node(&etcd, "n2", &config);
        let n3 = start_node(&etcd, "n3", &config);
        let owners = wait_for_stable_assignment(
            Duration::from_secs(60),
            "3 nodes to split the targets",
            &[("n1", &n1), ("n2", &n2), ("n3", &n3)],
            &all,
        );
        eprintln!("3 nodes own {:?}", counts(&owners));
        ThreeNodes {
            n1,
            n2,
            n3,
            etcd,
            config,
            all,
            owners,
            _targets: targets,
        }
    }

    fn nodes(&self) -> [(&'static str, &Node); 3] {
        [("n1", &self.n1), ("n2", &self.n2), ("n3", &self.n3)]
    }
}

/// Waits until `window_seconds` of samples after `since` can have been
/// scraped (a sample's timestamp is its scrape's start), then returns
/// `now`.
fn after_samples_of(since: f64, window_seconds: f64) -> f64 {
    let ready_at = since + window_seconds;
    eventually(
        Duration::from_secs_f64(window_seconds + 10.0),
        "the window to pass",
        || (now_seconds() >= ready_at).then_some(()),
    );
    now_seconds()
}

/// No moved or kept target of `instances` has a gap above one interval
/// or two samples closer than half of one in `[from, to]`.
fn assert_no_gap_no_duplicate(
    what: &str,
    samples: &HashMap<String, Vec<f64>>,
    instances: &[String],
    from: f64,
    to: f64,
) {
    let (largest_gap, smallest_step) = gaps(samples, instances, from, to);
    eprintln!("{what}: largest gap {largest_gap:.3}s, smallest step {smallest_step:.3}s");
    assert!(
        largest_gap <= INTERVAL_SECONDS + JITTER_SECONDS,
        "{what}: a target has a gap of {largest_gap}s"
    );
    assert!(
        smallest_step >= INTERVAL_SECONDS / 2.0,
        "{what}: two samples {smallest_step}s apart: not deduplicated"
    );
}

#[test]
fn three_nodes_split_the_targets_and_every_node_answers_for_all() {
    let cluster = ThreeNodes::start();
    let three = cluster.nodes();
    for (id, node) in &three {
        let up = node.query("up{job=\"many\"} == 1");
        assert_eq!(
            up.len(),
            TARGETS,
            "{id}: every target up once through the global view"
        );
    }
    assert_global_is_union_of_local(&three, TARGETS);
    assert_eq!(
        ring_command_owners(&cluster.etcd, &cluster.n1),
        cluster.owners,
        "`promshard cluster ring` over etcd's live members names who scrapes each target"
    );
    let (local_ms, global_ms) =
        query_latency(&cluster.n1, "count_over_time(up{job=\"many\"}[30s])");
    eprintln!(
        "median query latency over 300 series: local {local_ms:.1} ms, global (2 peers) {global_ms:.1} ms"
    );
}

#[test]
fn a_joining_node_takes_about_a_quarter_with_no_gap_and_no_duplicate() {
    let cluster = ThreeNodes::start();
    let all = &cluster.all;
    let joined_at = now_seconds();
    let n4 = start_node(&cluster.etcd, "n4", &cluster.config);
    let [(_, n1), (_, n2), (_, n3)] = cluster.nodes();
    let four = [("n1", n1), ("n2", n2), ("n3", n3), ("n4", &n4)];
    let after_join = eventually(
        Duration::from_secs(60),
        "4 nodes to split the targets",
        || stable_assignment(&four, all),
    );
    eprintln!(
        "4 nodes own {:?}, stable {:.1}s after the join",
        counts(&after_join),
        now_seconds() - joined_at
    );
    let moved: Vec<String> = all
        .iter()
        .filter(|t| cluster.owners[*t] != after_join[*t])
        .cloned()
        .collect();
    assert!(
        moved.iter().all(|t| after_join[t] == "n4"),
        "targets moved between old nodes"
    );
    let fraction = moved.len() as f64 / TARGETS as f64;
    eprintln!("moved fraction on join: {fraction:.3}");
    assert!(
        (0.15..=0.35).contains(&fraction),
        "moved fraction {fraction}"
    );
    // The hand-over window of every moved target: no gap, no duplicate.
    let at = after_samples_of(now_seconds(), 2.0);
    let (samples, join_warnings) = raw_up_samples(n1, at - joined_at + 10.0, at);
    assert!(join_warnings.is_empty(), "{join_warnings:?}");
    assert_no_gap_no_duplicate(
        "hand-over on join",
        &samples,
        &moved,
        joined_at - 3.0,
        at - 1.0,
    );
}

#[test]
fn a_killed_node_is_taken_over_within_the_lease_and_queries_warn_meanwhile() {
    let mut cluster = ThreeNodes::start();
    let orphans: Vec<String> = owned_by(&cluster.owners, "n2")
        .into_iter()
        .cloned()
        .collect();
    let killed_at_wall = now_seconds();
    let killed_at = Instant::now();
    cluster.n2.process.kill9();
    let (status, answer) = cluster
        .n1
        .get_json(&format!("/api/v1/query?query={}", urlencode("count(up)")));
    assert_eq!(status, 200, "{answer}");
    assert!(
        warnings(&answer).iter().any(|w| w.contains("n2")),
        "a query while n2 is down but still a member names it in a warning: {answer}"
    );
    let survivors = [("n1", &cluster.n1), ("n3", &cluster.n3)];
    let taken_over = eventually(
        Duration::from_secs(30),
        "n2's targets to be scraped again",
        || {
            let mut scraped = HashMap::new();
            for (_, node) in &survivors {
                for (instance, (health, last)) in active_targets(node)? {
                    if health == "up" && last > killed_at_wall {
                        scraped.insert(instance, last);
                    }
                }
            }
            orphans
                .iter()
                .map(|t| scraped.get(t).copied())
                .collect::<Option<Vec<f64>>>()
                .map(|lasts| lasts.into_iter().fold(0.0, f64::max))
        },
    );
    let takeover_seconds = taken_over - killed_at_wall;
    eprintln!(
        "kill -9: {} targets scraped again {takeover_seconds:.2}s after the kill (noticed after {:.2}s)",
        orphans.len(),
        killed_at.elapsed().as_secs_f64()
    );
    // Slack: etcd revokes expired leases on a 500 ms tick, and the test
    // polls every 200 ms over HTTP on a loaded machine.
    assert!(
        takeover_seconds <= LEASE_TTL_SECONDS + INTERVAL_SECONDS + 1.5,
        "takeover took {takeover_seconds}s"
    );
    let after_crash = eventually(
        Duration::from_secs(30),
        "2 survivors to split the targets",
        || stable_assignment(&survivors, &cluster.all),
    );
    eprintln!("after the crash {:?}", counts(&after_crash));
}

#[test]
fn an_etcd_outage_neither_stops_nor_gaps_scraping() {
    let mut cluster = ThreeNodes::start();
    let outage_from = now_seconds();
    cluster.etcd.stop();
    // The outage lasts 30 s; halfway, every node still scrapes its share.
    after_samples_of(outage_from, 15.0);
    for (id, node) in &cluster.nodes() {
        let active = active_targets(node).expect("targets during the outage");
        assert_eq!(
            active.len(),
            owned_by(&cluster.owners, id).len(),
            "{id} keeps its targets while etcd is down"
        );
    }
    after_samples_of(outage_from, 30.0);
    cluster.etcd.restart();
    let outage_to = now_seconds();
    for (id, node) in &cluster.nodes() {
        assert!(
            self_metric(&node.url, "promshard_cluster_etcd_errors_total") > 0.0,
            "{id} counted no etcd errors during the outage"
        );
    }
    let recovered = eventually(
        Duration::from_secs(30),
        "the cluster to settle after etcd returns",
        || stable_assignment(&cluster.nodes(), &cluster.all),
    );
    assert_eq!(
        recovered, cluster.owners,
        "ownership changed across the outage"
    );
    let at = after_samples_of(now_seconds(), 2.0);
    let (samples, _) = raw_up_samples(&cluster.n3, at - outage_from + 5.0, at);
    assert_no_gap_no_duplicate(
        &format!("etcd outage of {:.1}s", outage_to - outage_from),
        &samples,
        &cluster.all,
        outage_from - 2.0,
        at - 1.0,
    );
}

#[test]
fn an_etcd_paused_past_every_lease_neither_moves_nor_gaps_targets() {
    // SIGSTOP: clients hang instead of being refused, and etcd may expire
    // every lease when it resumes.
    let cluster = ThreeNodes::start();
    let paused_from = now_seconds();
    cluster.etcd.signal("STOP");
    after_samples_of(paused_from, 10.0);
    cluster.etcd.signal("CONT");
    let resumed_at = Instant::now();
    // Let etcd expire the leases it may expire before looking for calm.
    after_samples_of(now_seconds(), 2.0);
    let settled = eventually(
        Duration::from_secs(30),
        "the cluster to settle after etcd resumes",
        || stable_assignment(&cluster.nodes(), &cluster.all),
    );
    let settled_after = resumed_at.elapsed().as_secs_f64();
    assert_eq!(
        settled, cluster.owners,
        "ownership changed across the pause"
    );
    let at = after_samples_of(now_seconds(), 2.0);
    let (samples, pause_warnings) = raw_up_samples(&cluster.n1, at - paused_from + 5.0, at);
    for (id, node) in &cluster.nodes() {
        let (local, _) = raw_up_samples_local(node, at - paused_from + 5.0, at);
        let thin: Vec<(&String, usize)> = local
            .iter()
            .filter(|(instance, _)| cluster.owners[*instance] == *id)
            .map(|(instance, stamps)| (instance, stamps.len()))
            .filter(|(_, count)| *count < 5)
            .collect();
        if !thin.is_empty() {
            eprintln!("{id} local: owned targets with few samples: {thin:?}");
        }
    }
    assert!(pause_warnings.is_empty(), "{pause_warnings:?}");
    assert_no_gap_no_duplicate(
        &format!("etcd paused 10s, settled within {settled_after:.1}s of resuming"),
        &samples,
        &cluster.all,
        paused_from - 2.0,
        at - 1.0,
    );
}

#[test]
fn a_node_frozen_past_its_lease_is_taken_over_and_gets_its_share_back() {
    // A long pause, a VM freeze: the others take its targets over; when it
    // wakes it steps back, re-registers and gets the same share back.
    let cluster = ThreeNodes::start();
    let frozen_at = Instant::now();
    cluster.n3.process.signal("STOP");
    let without_n3 = [("n1", &cluster.n1), ("n2", &cluster.n2)];
    eventually(
        Duration::from_secs(30),
        "n1 and n2 to take over n3's targets",
        || stable_assignment(&without_n3, &cluster.all),
    );
    eprintln!(
        "n3 frozen: n1 and n2 scrape all targets {:.2}s later",
        frozen_at.elapsed().as_secs_f64()
    );
    let woken_at = Instant::now();
    cluster.n3.process.signal("CONT");
    let rejoined = eventually(Duration::from_secs(30), "n3 to step back in", || {
        stable_assignment(&cluster.nodes(), &cluster.all)
    });
    eprintln!(
        "n3 woken: ownership settled again {:.2}s later",
        woken_at.elapsed().as_secs_f64()
    );
    assert_eq!(
        rejoined, cluster.owners,
        "the woken node gets its share back"
    );
}

#[test]
fn a_clean_stop_deregisters_at_once_and_the_others_take_over() {
    let mut cluster = ThreeNodes::start();
    let stopped_at = Instant::now();
    cluster.n3.process.signal("TERM");
    let _ = cluster.n3.process.child.wait();
    let two = [("n1", &cluster.n1), ("n2", &cluster.n2)];
    let final_owners = eventually(
        Duration::from_secs(30),
        "2 nodes to split the targets",
        || stable_assignment(&two, &cluster.all),
    );
    eprintln!(
        "clean stop of n3: the other 2 own {:?} after {:.2}s",
        counts(&final_owners),
        stopped_at.elapsed().as_secs_f64()
    );
    assert_global_is_union_of_local(&two, TARGETS);
}

#[test]
fn a_peer_that_is_down_makes_the_global_answer_partial_with_a_warning() {
    let targets = ManyTargets::start(20);
    let dead_peer = format!("127.0.0.1:{}", free_port());
    let node = Node::start(
        &config(&targets.addresses),
        NodeOptions {
            flags: vec![
                format!("--cluster.peer={dead_peer}"),
                "--cluster.peer-timeout=1s".to_string(),
            ],
            ..NodeOptions::default()
        },
    );
    let query = format!("/api/v1/query?query={}", urlencode("up{job=\"many\"}"));
    let scraped = eventually(
        Duration::from_secs(20),
        "the local half to be scraped",
        || {
            let owned = active_targets(&node)?;
            let (status, value) = node.get_json(&format!("{query}&local=true"));
            let count = value["data"]["result"].as_array().map_or(0, Vec::len);
            (status == 200 && count > 0 && count == owned.len()).then_some(count)
        },
    );
    assert!(scraped < 20, "a static peer owns part of the targets");
    let (status, value) = node.get_json(&query);
    assert_eq!(status, 200, "{value}");
    assert_eq!(value["status"], "success");
    assert_eq!(
        value["data"]["result"].as_array().map_or(0, Vec::len),
        scraped
    );
    let partial = warnings(&value);
    assert!(
        partial.iter().any(|w| w.contains(&dead_peer)),
        "the answer names the peer that is down: {value}"
    );
    for path in ["/api/v1/labels", "/api/v1/label/instance/values"] {
        let (status, value) = node.get_json(path);
        assert_eq!(status, 200, "{path}: {value}");
        assert!(
            warnings(&value).iter().any(|w| w.contains(&dead_peer)),
            "{path} names the peer that is down: {value}"
        );
    }
    let (_, local) = node.get_json(&format!("{query}&local=true"));
    assert!(warnings(&local).is_empty(), "{local}");
}
