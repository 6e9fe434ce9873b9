use std::collections::{HashMap, HashSet};

use super::*;

fn members(count: usize) -> Vec<Member> {
    (1..=count)
        .map(|n| Member::new(format!("node-{n}"), format!("10.0.0.{n}:9090")))
        .collect()
}

/// Realistic post-relabel target label sets: a handful of jobs, node
/// exporters and applications on private addresses.
fn targets(count: usize) -> Vec<Labels> {
    let jobs = ["node", "app", "postgres", "redis", "blackbox"];
    (0..count)
        .map(|n| {
            let job = jobs[n % jobs.len()];
            let instance = format!("10.{}.{}.{}:9100", n / 65_536, (n / 256) % 256, n % 256);
            Labels::from_pairs(&[
                ("__address__", instance.as_str()),
                ("__metrics_path__", "/metrics"),
                ("__scheme__", "http"),
                ("env", if n % 3 == 0 { "prod" } else { "staging" }),
                ("instance", instance.as_str()),
                ("job", job),
            ])
        })
        .collect()
}

fn primary_owners(ring: &Ring, targets: &[Labels]) -> Vec<String> {
    targets
        .iter()
        .map(|target| match ring.primary_owner(target_key(target)) {
            Some(member) => member.node_id.clone(),
            None => String::new(),
        })
        .collect()
}

#[test]
fn every_node_owns_at_most_ten_percent_over_its_fair_share() {
    let ring = Ring::new(&members(4), DEFAULT_VIRTUAL_NODES);
    let all_targets = targets(1_000);
    let mut owned: HashMap<String, usize> = HashMap::new();
    for owner in primary_owners(&ring, &all_targets) {
        *owned.entry(owner).or_default() += 1;
    }
    assert_eq!(owned.len(), 4, "every node owns some targets: {owned:?}");
    let fair_share = all_targets.len() as f64 / 4.0;
    for (node, count) in &owned {
        assert!(
            *count as f64 <= 1.10 * fair_share,
            "{node} owns {count} of 1000 targets, fair share {fair_share}: {owned:?}"
        );
    }
}

#[test]
fn adding_a_node_moves_only_targets_to_it_and_about_a_fifth() {
    let all_targets = targets(1_000);
    let before = primary_owners(&Ring::new(&members(4), DEFAULT_VIRTUAL_NODES), &all_targets);
    let after = primary_owners(&Ring::new(&members(5), DEFAULT_VIRTUAL_NODES), &all_targets);
    let mut moved = 0;
    for (old_owner, new_owner) in before.iter().zip(&after) {
        if old_owner != new_owner {
            moved += 1;
            assert_eq!(new_owner, "node-5", "a target moved between old nodes");
        }
    }
    assert!(moved > 0);
    assert!(
        moved as f64 <= 1.1 * all_targets.len() as f64 / 5.0,
        "{moved} of 1000 targets moved"
    );
}

#[test]
fn removing_a_node_moves_only_its_targets() {
    let all_targets = targets(1_000);
    let five = members(5);
    let before = primary_owners(&Ring::new(&five, DEFAULT_VIRTUAL_NODES), &all_targets);
    let without_third: Vec<Member> = five.into_iter().filter(|m| m.node_id != "node-3").collect();
    let after = primary_owners(
        &Ring::new(&without_third, DEFAULT_VIRTUAL_NODES),
        &all_targets,
    );
    for (old_owner, new_owner) in before.iter().zip(&after) {
        if old_owner != "node-3" {
            assert_eq!(old_owner, new_owner, "a target of a remaining node moved");
        } else {
            assert_ne!(new_owner, "node-3");
        }
    }
}

#[test]
fn owners_are_distinct_and_capped_by_member_count() {
    let ring = Ring::new(&members(4), 64);
    for replication_factor in 0..=6 {
        for target in targets(200) {
            let key = target_key(&target);
            let owners = ring.owners(key, replication_factor);
            assert_eq!(owners.len(), replication_factor.min(4));
            let distinct: HashSet<&str> = owners.iter().map(|m| m.node_id.as_str()).collect();
            assert_eq!(distinct.len(), owners.len(), "owners repeat: {owners:?}");
            if let Some(first) = owners.first() {
                assert_eq!(Some(*first), ring.primary_owner(key));
            }
            for member in ring.members() {
                let listed = owners.iter().any(|m| m.node_id == member.node_id);
                assert_eq!(ring.owns(&member.node_id, key, replication_factor), listed);
            }
        }
    }
}

#[test]
fn replication_keeps_the_primary_and_adds_the_next_members() {
    let ring = Ring::new(&members(5), DEFAULT_VIRTUAL_NODES);
    for target in targets(100) {
        let key = target_key(&target);
        let two = ring.owners(key, 2);
        let three = ring.owners(key, 3);
        assert_eq!(&three[..2], &two[..], "R=3 extends R=2");
    }
}

#[test]
fn member_order_and_duplicates_do_not_change_ownership() {
    let listed = members(6);
    let mut shuffled: Vec<Member> = listed.iter().rev().cloned().collect();
    shuffled.push(listed[2].clone());
    let ring_a = Ring::new(&listed, DEFAULT_VIRTUAL_NODES);
    let ring_b = Ring::new(&shuffled, DEFAULT_VIRTUAL_NODES);
    assert_eq!(ring_b.members().len(), 6);
    assert_eq!(ring_a.token_count(), ring_b.token_count());
    let all_targets = targets(500);
    assert_eq!(
        primary_owners(&ring_a, &all_targets),
        primary_owners(&ring_b, &all_targets)
    );
}

#[test]
fn token_positions_are_frozen_across_versions() {
    // Nodes of different versions must agree on the ring during a rolling
    // upgrade: this pins the token formula (xxh3 of id, 0xff, index LE).
    let mut buffer = b"node-1".to_vec();
    buffer.push(0xff);
    buffer.extend_from_slice(&7u32.to_le_bytes());
    assert_eq!(token_position("node-1", 7), xxh3_64(&buffer));
    assert_ne!(token_position("node-1", 7), token_position("node-1", 8));
    assert_ne!(token_position("node-1", 0), token_position("node-2", 0));
}

#[test]
fn empty_ring_owns_nothing() {
    let ring = Ring::new(&[], DEFAULT_VIRTUAL_NODES);
    assert!(ring.is_empty());
    assert!(ring.owners(42, 1).is_empty());
    assert!(ring.primary_owner(42).is_none());
    assert!(!ring.owns("node-1", 42, 1));
}

#[test]
fn a_single_node_owns_every_key() {
    let ring = Ring::new(&members(1), 8);
    for key in [0, 1, u64::MAX / 2, u64::MAX] {
        assert!(ring.owns("node-1", key, 1));
        assert!(!ring.owns("node-2", key, 1));
    }
}

#[test]
fn rule_group_keys_separate_file_from_group_name() {
    assert_ne!(rule_group_key("ab", "c"), rule_group_key("a", "bc"));
    assert_eq!(
        rule_group_key("rules/a.yml", "g"),
        rule_group_key("rules/a.yml", "g")
    );
}
