use std::collections::HashSet;

use super::*;
use crate::cluster::ring::Member;
use crate::cluster::settings::ClusterMode;

fn settings(node_id: &str, mode: ClusterMode, peers: &[&str]) -> ClusterSettings {
    ClusterSettings {
        mode,
        node_id: node_id.to_string(),
        peers: peers
            .iter()
            .map(|p| Member::new(*p, format!("{p}:9090")))
            .collect(),
        ..ClusterSettings::default()
    }
}

fn metrics() -> ClusterMetrics {
    ClusterMetrics::unregistered().expect("metrics")
}

fn target(n: usize) -> Labels {
    let address = format!("10.0.{}.{}:9100", n / 256, n % 256);
    Labels::from_pairs(&[("__address__", address.as_str()), ("job", "node")])
}

fn view(ids: &[&str]) -> ClusterView {
    ClusterView::new(
        ids.iter()
            .map(|id| Member::new(*id, format!("{id}:9090")))
            .collect(),
    )
}

#[test]
fn a_lone_node_owns_every_target_and_rule_group() {
    let ownership = Ownership::new(&settings("solo", ClusterMode::None, &[]), metrics());
    assert!((0..200).all(|n| ownership.owns_target(&target(n))));
    assert!(ownership.owns_rule_group("rules/a.yml", "group"));
}

#[test]
fn static_peers_split_targets_exactly_once() {
    let peers = ["a", "b", "c"];
    let nodes: Vec<Ownership> = peers
        .iter()
        .map(|id| Ownership::new(&settings(id, ClusterMode::Static, &peers), metrics()))
        .collect();
    for n in 0..300 {
        let owners = nodes.iter().filter(|o| o.owns_target(&target(n))).count();
        assert_eq!(owners, 1, "target {n} has {owners} owners");
    }
    for group in ["g1", "g2", "g3", "g4"] {
        let evaluators = nodes
            .iter()
            .filter(|o| o.owns_rule_group("f.yml", group))
            .count();
        assert_eq!(evaluators, 1, "rule group {group}");
    }
}

#[test]
fn replication_factor_gives_each_target_r_owners() {
    let peers = ["a", "b", "c", "d"];
    let nodes: Vec<Ownership> = peers
        .iter()
        .map(|id| {
            let mut config = settings(id, ClusterMode::Static, &peers);
            config.replication_factor = 2;
            Ownership::new(&config, metrics())
        })
        .collect();
    for n in 0..200 {
        assert_eq!(
            nodes.iter().filter(|o| o.owns_target(&target(n))).count(),
            2
        );
    }
    // Rule groups stay single-owner whatever R is.
    assert_eq!(
        nodes
            .iter()
            .filter(|o| o.owns_rule_group("f.yml", "g"))
            .count(),
        1
    );
}

#[test]
fn a_node_missing_from_the_view_owns_nothing() {
    let ownership = Ownership::new(&settings("a", ClusterMode::Etcd, &[]), metrics());
    ownership.apply_view(&view(&["b", "c"]));
    assert!((0..100).all(|n| !ownership.owns_target(&target(n))));
    assert!(!ownership.owns_rule_group("f.yml", "g"));
}

#[test]
fn filtering_discovery_output_partitions_targets_and_sets_the_gauge() {
    let group = TargetGroup {
        source: "file.yml:0".to_string(),
        targets: (0..100).map(target).collect(),
        labels: Labels::from_pairs(&[("env", "prod")]),
    };
    let discovered: HashMap<String, Vec<TargetGroup>> =
        HashMap::from([("node".to_string(), vec![group.clone()])]);
    let peers = ["a", "b"];
    let mut seen: HashSet<Labels> = HashSet::new();
    let mut total = 0;
    for id in peers {
        let node_metrics = metrics();
        let ownership = Ownership::new(
            &settings(id, ClusterMode::Static, &peers),
            node_metrics.clone(),
        );
        let filtered = strict(&ownership, discovered.clone());
        let groups = &filtered["node"];
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].labels, group.labels, "group labels kept");
        assert_eq!(groups[0].source, group.source);
        assert_eq!(
            node_metrics.owned_targets.get() as usize,
            groups[0].targets.len()
        );
        total += groups[0].targets.len();
        seen.extend(groups[0].targets.iter().cloned());
    }
    assert_eq!(total, 100, "no target dropped or doubled");
    assert_eq!(seen.len(), 100);
}

#[test]
fn discovered_labels_overlay_target_on_group_and_add_job() {
    let group = TargetGroup {
        source: String::new(),
        targets: vec![],
        labels: Labels::from_pairs(&[("env", "prod"), ("team", "a")]),
    };
    let labels = discovered_target_labels(
        "node",
        &group,
        &Labels::from_pairs(&[("__address__", "h:1"), ("team", "b")]),
    );
    assert_eq!(
        labels,
        Labels::from_pairs(&[
            ("__address__", "h:1"),
            ("env", "prod"),
            ("job", "node"),
            ("team", "b")
        ])
    );
}

fn discovered(count: usize) -> HashMap<String, Vec<TargetGroup>> {
    let group = TargetGroup {
        source: "static:0".to_string(),
        targets: (0..count).map(target).collect(),
        labels: Labels::empty(),
    };
    HashMap::from([("node".to_string(), vec![group])])
}

fn kept(groups: &HashMap<String, Vec<TargetGroup>>) -> HashSet<Labels> {
    groups["node"][0].targets.iter().cloned().collect()
}

#[test]
fn released_targets_stay_for_two_intervals_after_a_view_change() {
    let ownership = Ownership::new(&settings("a", ClusterMode::Etcd, &[]), metrics());
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let interval = Duration::from_secs(15);
    ownership.apply_view_at(&view(&["a", "b"]), start);
    let owned_with_b = kept(&strict(&ownership, discovered(300)));

    let change = start + Duration::from_secs(600);
    ownership.apply_view_at(&view(&["a", "b", "c"]), change);
    let strictly_owned = kept(&strict(&ownership, discovered(300)));
    assert!(strictly_owned.is_subset(&owned_with_b));
    assert!(
        strictly_owned.len() < owned_with_b.len(),
        "c took some of a's targets"
    );

    let within = change + interval * 2 - Duration::from_secs(1);
    let held = kept(&ownership.filter_target_groups_at(discovered(300), within, &|_| interval));
    assert_eq!(
        held, owned_with_b,
        "released targets are still scraped during the grace"
    );

    let after = change + interval * 2;
    let dropped = kept(&ownership.filter_target_groups_at(discovered(300), after, &|_| interval));
    assert_eq!(
        dropped, strictly_owned,
        "released targets go once the grace ends"
    );
    assert_eq!(
        ownership.handover_deadline_at(interval, change),
        Some(after)
    );
    assert_eq!(ownership.handover_deadline_at(interval, after), None);
}

#[test]
fn an_empty_view_keeps_what_was_owned() {
    let ownership = Ownership::new(&settings("a", ClusterMode::Etcd, &[]), metrics());
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    ownership.apply_view_at(&view(&["a", "b"]), start);
    let owned_before = kept(&strict(&ownership, discovered(100)));
    ownership.apply_view_at(&view(&[]), start + Duration::from_secs(10));
    let much_later = start + Duration::from_secs(3_600);
    let held = kept(
        &ownership
            .filter_target_groups_at(discovered(100), much_later, &|_| Duration::from_secs(15)),
    );
    assert_eq!(held, owned_before);
}

#[test]
fn members_leaving_one_by_one_within_the_grace_keep_every_target_covered() {
    // An etcd that expired every lease at once deletes the members one by
    // one: each node must keep what it owned under any ring replaced
    // within the grace, not only under the last one.
    let ownership = Ownership::new(&settings("a", ClusterMode::Etcd, &[]), metrics());
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let interval = Duration::from_secs(1);
    ownership.apply_view_at(&view(&["a", "b", "c"]), start);
    let owned_by_a =
        kept(&ownership.filter_target_groups_at(discovered(300), start, &|_| interval));
    let step = Duration::from_millis(10);
    ownership.apply_view_at(&view(&["b", "c"]), start + step);
    ownership.apply_view_at(&view(&["c"]), start + step * 2);
    let held =
        kept(&ownership.filter_target_groups_at(discovered(300), start + step * 3, &|_| interval));
    assert_eq!(held, owned_by_a, "a keeps its targets through the grace");
    ownership.apply_view_at(&view(&[]), start + step * 3);
    let much_later = start + Duration::from_secs(600);
    let held = kept(&ownership.filter_target_groups_at(discovered(300), much_later, &|_| interval));
    assert!(
        held.is_empty(),
        "under an empty view a covers what it owned under the last non-empty ring ({{c}}): nothing"
    );
    ownership.apply_view_at(&view(&["a"]), much_later);
    let all = kept(&ownership.filter_target_groups_at(discovered(300), much_later, &|_| interval));
    assert_eq!(all.len(), 300, "alone again, a owns everything");
}

#[test]
fn the_next_handover_deadline_is_the_earliest_to_come() {
    let ownership = Ownership::new(&settings("a", ClusterMode::Etcd, &[]), metrics());
    let now = SystemTime::now();
    let interval = Duration::from_secs(10);
    assert_eq!(ownership.handover_deadline_at(interval, now), None);
    ownership.apply_view_at(&view(&["a", "b"]), now - Duration::from_secs(60));
    ownership.apply_view_at(&view(&["a", "b", "c"]), now);
    ownership.apply_view_at(&view(&["a", "c"]), now + Duration::from_secs(5));
    assert_eq!(
        ownership.handover_deadline_at(interval, now),
        Some(now + interval * 2),
        "the grace of the change at `now` ends first; the one a minute ago is over"
    );
}

#[test]
fn moved_away_tells_a_target_scraped_elsewhere_from_a_vanished_one() {
    let group = |addresses: &[&str]| TargetGroup {
        source: "static:0".to_string(),
        targets: addresses
            .iter()
            .map(|a| Labels::from_pairs(&[("__address__", a)]))
            .collect(),
        labels: Labels::from_pairs(&[("env", "prod")]),
    };
    let discovered = HashMap::from([("node".to_string(), vec![group(&["a:1", "b:1", "c:1"])])]);
    let kept = HashMap::from([("node".to_string(), vec![group(&["a:1"])])]);
    let moved = MovedAway::new(&discovered, &kept);
    let cases = [
        (&[("job", "node"), ("__address__", "b:1")][..], true),
        (&[("job", "node"), ("__address__", "c:1")][..], true),
        (&[("job", "node"), ("__address__", "a:1")][..], false),
        (&[("job", "node"), ("__address__", "gone:1")][..], false),
        (&[("job", "other"), ("__address__", "b:1")][..], false),
        (&[("__address__", "b:1")][..], false),
    ];
    for (labels, expected) in cases {
        assert_eq!(
            moved.contains(&Labels::from_pairs(labels)),
            expected,
            "{labels:?}"
        );
    }
}

/// The targets owned now, without any hand-over grace.
fn strict(
    ownership: &Ownership,
    groups: HashMap<String, Vec<TargetGroup>>,
) -> HashMap<String, Vec<TargetGroup>> {
    ownership.filter_target_groups_at(groups, SystemTime::now(), &|_| Duration::ZERO)
}
