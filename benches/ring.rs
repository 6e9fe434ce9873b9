//! Hash ring figures: balance, movement on join and leave, rebuild and
//! lookup cost. Prints a table (no criterion: the figures are ratios).
//!
//!     CARGO_TARGET_DIR=/work/targets/cluster cargo bench --bench ring
//!
//! Goals (issue 5): with 1,000 targets over 4 nodes the largest share is at
//! most 1.10 × the fair share; a 5th node takes at most 1.1 × 1/5 of the
//! targets; removing a node moves only its targets; rebuilding the ring for
//! 100 members and computing ownership of 100k targets each take < 50 ms.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use promshard::cluster::ring::{Member, Ring, target_key};
use promshard::model::labels::Labels;
use xxhash_rust::xxh3::xxh3_64;

/// Realistic post-relabel target label sets; `salt` varies the addresses.
fn targets(count: usize, salt: usize) -> Vec<Labels> {
    let jobs = ["node", "app", "postgres", "redis", "blackbox"];
    (0..count)
        .map(|n| {
            let job = jobs[n % jobs.len()];
            let instance = format!(
                "10.{}.{}.{}:{}",
                salt % 256,
                (n / 256) % 256,
                n % 256,
                9100 + (n / 65_536)
            );
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

fn members(count: usize, naming: usize) -> Vec<Member> {
    (1..=count)
        .map(|n| match naming {
            0 => Member::new(format!("node-{n}"), format!("10.0.0.{n}:9090")),
            seed => Member::new(
                format!("promshard-{seed}-{n}"),
                format!("10.1.{seed}.{n}:9090"),
            ),
        })
        .collect()
}

/// A 64-bit finalizer (splitmix64) to combine a key with a member hash.
fn mix(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// The comparison scheme: rendezvous (highest random weight) hashing over
/// precomputed member hashes.
fn rendezvous_owner(member_hashes: &[u64], key: u64) -> usize {
    let mut best = (0u64, 0usize);
    for (index, member_hash) in member_hashes.iter().enumerate() {
        let weight = mix(key ^ member_hash);
        if weight >= best.0 {
            best = (weight, index);
        }
    }
    best.1
}

fn member_hashes(members: &[Member]) -> Vec<u64> {
    members
        .iter()
        .map(|m| xxh3_64(m.node_id.as_bytes()))
        .collect()
}

fn max_over_fair(owner_of: impl Fn(u64) -> String, all_targets: &[Labels], nodes: usize) -> f64 {
    let mut owned: HashMap<String, usize> = HashMap::new();
    for target in all_targets {
        *owned.entry(owner_of(target_key(target))).or_default() += 1;
    }
    let largest = owned.values().copied().max().unwrap_or(0);
    largest as f64 / (all_targets.len() as f64 / nodes as f64)
}

fn balance_table() {
    println!("## balance: 1,000 targets over 4 nodes, largest share / fair share (goal <= 1.10)");
    println!("scheme            | node-1..4 | mean of 50 sets | worst of 50 | sets over 1.10");
    let trials = 50;
    let mut schemes: Vec<(String, Option<usize>)> = [64, 128, 256, 512, 1024]
        .iter()
        .map(|v| (format!("ring vnodes={v:<4}"), Some(*v)))
        .collect();
    schemes.push(("rendezvous".to_string(), None));
    for (name, virtual_nodes) in schemes {
        let mut ratios = Vec::new();
        for trial in 0..=trials {
            let member_set = members(4, trial);
            let all_targets = targets(1_000, trial);
            let ratio = match virtual_nodes {
                Some(v) => {
                    let ring = Ring::new(&member_set, v);
                    max_over_fair(
                        |key| {
                            ring.primary_owner(key)
                                .map(|m| m.node_id.clone())
                                .unwrap_or_default()
                        },
                        &all_targets,
                        4,
                    )
                }
                None => max_over_fair(
                    |key| {
                        member_set[rendezvous_owner(&member_hashes(&member_set), key)]
                            .node_id
                            .clone()
                    },
                    &all_targets,
                    4,
                ),
            };
            ratios.push(ratio);
        }
        let first = ratios[0];
        let rest = &ratios[1..];
        let mean = rest.iter().sum::<f64>() / rest.len() as f64;
        let worst = rest.iter().copied().fold(0.0, f64::max);
        let over = rest.iter().filter(|r| **r > 1.10).count();
        println!(
            "{name:<17} | {first:>9.3} | {mean:>15.3} | {worst:>11.3} | {over:>3} of {trials}"
        );
    }
    println!();
}

fn movement_table(virtual_nodes: usize) {
    println!("## movement, vnodes={virtual_nodes}, 1,000 targets");
    let all_targets = targets(1_000, 0);
    let owners = |ring: &Ring| -> Vec<String> {
        all_targets
            .iter()
            .map(|t| {
                ring.primary_owner(target_key(t))
                    .map(|m| m.node_id.clone())
                    .unwrap_or_default()
            })
            .collect()
    };
    let four = owners(&Ring::new(&members(4, 0), virtual_nodes));
    let five = owners(&Ring::new(&members(5, 0), virtual_nodes));
    let moved = four.iter().zip(&five).filter(|(a, b)| a != b).count();
    let moved_elsewhere = four
        .iter()
        .zip(&five)
        .filter(|(a, b)| a != b && b.as_str() != "node-5")
        .count();
    println!(
        "join 5th node : moved {moved} = {:.3} of targets; (moved)/(1/5) = {:.3} (goal <= 1.10); moved between old nodes: {moved_elsewhere}",
        moved as f64 / 1_000.0,
        moved as f64 / 1_000.0 * 5.0
    );
    let without_third: Vec<Member> = members(5, 0)
        .into_iter()
        .filter(|m| m.node_id != "node-3")
        .collect();
    let after_leave = owners(&Ring::new(&without_third, virtual_nodes));
    let moved_leave = five
        .iter()
        .zip(&after_leave)
        .filter(|(a, b)| a != b)
        .count();
    let moved_not_its = five
        .iter()
        .zip(&after_leave)
        .filter(|(a, b)| a != b && a.as_str() != "node-3")
        .count();
    let owned_by_third = five.iter().filter(|a| a.as_str() == "node-3").count();
    println!(
        "leave node-3  : moved {moved_leave}, node-3 owned {owned_by_third}; targets of other nodes moved: {moved_not_its} (goal 0)"
    );
    println!();
}

fn median_time(runs: usize, mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn cost_table(virtual_nodes: usize) {
    println!("## cost, vnodes={virtual_nodes} (median of 11 runs; goal each < 50 ms)");
    let hundred = members(100, 0);
    let rebuild = median_time(11, || {
        black_box(Ring::new(black_box(&hundred), virtual_nodes));
    });
    println!(
        "rebuild ring for 100 members ({} tokens): {:.2} ms",
        100 * virtual_nodes,
        rebuild.as_secs_f64() * 1e3
    );
    let ring = Ring::new(&hundred, virtual_nodes);
    let all_targets = targets(100_000, 0);
    let ownership = median_time(11, || {
        let owned = all_targets
            .iter()
            .filter(|t| ring.owns("node-42", target_key(t), 1))
            .count();
        black_box(owned);
    });
    println!(
        "ownership of 100k targets (hash labels + lookup), R=1: {:.2} ms",
        ownership.as_secs_f64() * 1e3
    );
    let replicated = median_time(11, || {
        let owned = all_targets
            .iter()
            .filter(|t| ring.owns("node-42", target_key(t), 3))
            .count();
        black_box(owned);
    });
    println!(
        "ownership of 100k targets, R=3: {:.2} ms",
        replicated.as_secs_f64() * 1e3
    );
    let hundred_hashes = member_hashes(&hundred);
    let rendezvous = median_time(5, || {
        let owned = all_targets
            .iter()
            .filter(|t| rendezvous_owner(&hundred_hashes, target_key(t)) == 41)
            .count();
        black_box(owned);
    });
    println!(
        "(rendezvous, for comparison) ownership of 100k targets: {:.2} ms",
        rendezvous.as_secs_f64() * 1e3
    );
    println!();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it too, so
    // keep it quick either way.
    balance_table();
    movement_table(promshard::cluster::ring::DEFAULT_VIRTUAL_NODES);
    cost_table(promshard::cluster::ring::DEFAULT_VIRTUAL_NODES);
}
