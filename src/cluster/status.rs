//! Visibility: `promshard cluster ring --config F` ([`print_ring`]) and the
//! `data` of `/api/v1/status/cluster` ([`status_json`]).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use serde_json::json;

use super::ownership::{Ownership, TargetGroup, discovered_target_labels};
use super::ring::{Member, Ring, target_key};
use super::settings::ClusterSettings;
use crate::model::labels::Labels;

/// The `data` object of `GET /api/v1/status/cluster`:
///
/// ```json
/// {"nodeId": "a", "replicationFactor": 1, "virtualNodes": 256,
///  "ringTokens": 768, "ownedTargets": 103,
///  "members": [{"nodeId": "a", "address": "10.0.0.1:9090", "local": true,
///               "targets": 103}, ...]}
/// ```
///
/// `targets` are the label sets ownership is keyed on (post-relabel, as
/// passed to [`Ownership::owns_target`]); every member's count is what
/// that member owns of them under this node's view.
pub fn status_json(ownership: &Ownership, targets: &[Labels]) -> serde_json::Value {
    let ring = ownership.ring();
    let counts = targets_per_member(&ring, ownership.replication_factor(), targets);
    let members: Vec<serde_json::Value> = ring
        .members()
        .iter()
        .map(|member| {
            json!({
                "nodeId": member.node_id,
                "address": member.address,
                "local": member.node_id == ownership.local_node_id(),
                "targets": counts.get(member.node_id.as_str()).copied().unwrap_or(0),
            })
        })
        .collect();
    json!({
        "nodeId": ownership.local_node_id(),
        "replicationFactor": ownership.replication_factor(),
        "virtualNodes": ring.virtual_nodes(),
        "ringTokens": ring.token_count(),
        "ownedTargets": counts.get(ownership.local_node_id()).copied().unwrap_or(0),
        "members": members,
    })
}

fn targets_per_member<'a>(
    ring: &'a Ring,
    replication_factor: usize,
    targets: &[Labels],
) -> HashMap<&'a str, usize> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for target in targets {
        for owner in ring.owners(target_key(target), replication_factor) {
            *counts.entry(owner.node_id.as_str()).or_default() += 1;
        }
    }
    counts
}

/// [`status_json`] over every discovered target (keyed on its discovered
/// labels, as routing keys it).
pub fn status_json_for_discovered(
    ownership: &Ownership,
    discovered: &HashMap<String, Vec<TargetGroup>>,
) -> serde_json::Value {
    let targets: Vec<Labels> = discovered
        .iter()
        .flat_map(|(job_name, groups)| {
            groups.iter().flat_map(move |group| {
                group
                    .targets
                    .iter()
                    .map(move |target| discovered_target_labels(job_name, group, target))
            })
        })
        .collect();
    status_json(ownership, &targets)
}

/// Prints who owns which target under the configured member set (this
/// node in mode none, the peers in static and etcd mode; for etcd's live
/// set use [`print_ring_for_members`]). Targets are keyed on their
/// discovered labels, as [`Ownership::filter_target_groups_at`] does.
pub fn print_ring(
    settings: &ClusterSettings,
    targets_by_job: &HashMap<String, Vec<TargetGroup>>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    print_ring_for_members(
        &settings.configured_members(),
        settings,
        targets_by_job,
        out,
    )
}

/// [`print_ring`] over an explicit member set.
pub fn print_ring_for_members(
    members: &[Member],
    settings: &ClusterSettings,
    targets_by_job: &HashMap<String, Vec<TargetGroup>>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let ring = Ring::new(members, settings.virtual_nodes);
    let replication_factor = settings.replication_factor.max(1);
    writeln!(
        out,
        "# {} members, {} virtual nodes each, {} tokens, replication factor {}",
        ring.members().len(),
        ring.virtual_nodes(),
        ring.token_count(),
        replication_factor
    )?;
    writeln!(out, "JOB\tTARGET\tOWNERS")?;
    let jobs: BTreeMap<&String, &Vec<TargetGroup>> = targets_by_job.iter().collect();
    let mut per_member: BTreeMap<String, usize> = ring
        .members()
        .iter()
        .map(|m| (m.node_id.clone(), 0))
        .collect();
    let mut total = 0usize;
    for (job_name, groups) in jobs {
        let mut rows: Vec<(String, String)> = Vec::new();
        for group in groups.iter() {
            for target in &group.targets {
                let labels = discovered_target_labels(job_name, group, target);
                let owners: Vec<String> = ring
                    .owners(target_key(&labels), replication_factor)
                    .into_iter()
                    .map(|m| m.node_id.clone())
                    .collect();
                for owner in &owners {
                    *per_member.entry(owner.clone()).or_default() += 1;
                }
                let address = labels.get("__address__").unwrap_or("").to_string();
                let shown = if address.is_empty() {
                    labels.to_string()
                } else {
                    address
                };
                rows.push((shown, owners.join(",")));
            }
        }
        rows.sort();
        total += rows.len();
        for (target, owners) in rows {
            writeln!(out, "{job_name}\t{target}\t{owners}")?;
        }
    }
    writeln!(out, "# MEMBER\tADDRESS\tTARGETS\tSHARE")?;
    for member in ring.members() {
        let count = per_member.get(&member.node_id).copied().unwrap_or(0);
        let share = if total == 0 {
            0.0
        } else {
            count as f64 / total as f64
        };
        writeln!(
            out,
            "# {}\t{}\t{}\t{:.3}",
            member.node_id, member.address, count, share
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::metrics::ClusterMetrics;
    use crate::cluster::settings::ClusterMode;

    fn static_settings() -> ClusterSettings {
        ClusterSettings {
            mode: ClusterMode::Static,
            node_id: "a".to_string(),
            peers: ["a", "b", "c"]
                .iter()
                .map(|id| Member::new(*id, format!("{id}:9090")))
                .collect(),
            ..ClusterSettings::default()
        }
    }

    fn targets(count: usize) -> Vec<Labels> {
        (0..count)
            .map(|n| {
                let address = format!("10.0.0.{n}:9100");
                Labels::from_pairs(&[("__address__", address.as_str()), ("job", "node")])
            })
            .collect()
    }

    #[test]
    fn status_counts_every_target_once_and_marks_the_local_node() {
        let metrics = ClusterMetrics::unregistered().expect("metrics");
        let ownership = Ownership::new(&static_settings(), metrics);
        let all_targets = targets(90);
        let status = status_json(&ownership, &all_targets);
        assert_eq!(status["nodeId"], "a");
        assert_eq!(status["ringTokens"], 3 * static_settings().virtual_nodes);
        let members = status["members"].as_array().expect("members array");
        assert_eq!(members.len(), 3);
        let sum: u64 = members.iter().filter_map(|m| m["targets"].as_u64()).sum();
        assert_eq!(sum, 90);
        let local: Vec<&serde_json::Value> =
            members.iter().filter(|m| m["local"] == true).collect();
        assert_eq!(local.len(), 1);
        assert_eq!(local[0]["targets"], status["ownedTargets"]);
        let owned_here = all_targets
            .iter()
            .filter(|t| ownership.owns_target(t))
            .count();
        assert_eq!(status["ownedTargets"], owned_here);
    }

    #[test]
    fn printed_ring_lists_each_target_with_its_owner() {
        let group = TargetGroup {
            source: "static:0".to_string(),
            targets: targets(12),
            labels: Labels::empty(),
        };
        let discovered = HashMap::from([("node".to_string(), vec![group])]);
        let mut out = Vec::new();
        print_ring(&static_settings(), &discovered, &mut out).expect("print");
        let text = String::from_utf8(out).expect("utf-8");
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("node\t")).collect();
        assert_eq!(rows.len(), 12);
        for row in rows {
            let owner = row.rsplit('\t').next().unwrap_or("");
            assert!(["a", "b", "c"].contains(&owner), "row {row:?}");
        }
        assert!(text.contains("# a\ta:9090\t"));
    }
}
