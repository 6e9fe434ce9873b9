//! Several nodes against a real etcd: membership drives ownership so that
//! every target has exactly one live owner through joins, crashes and an
//! etcd outage.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::membership::Membership;
use super::metrics::ClusterMetrics;
use super::ownership::Ownership;
use super::settings::{ClusterMode, ClusterSettings, EtcdSettings};
use super::test_etcd::EtcdServer;
use crate::model::labels::Labels;

struct Node {
    membership: Option<Membership>,
    ownership: Arc<Ownership>,
    cancel: CancellationToken,
}

async fn start_node(id: &str, endpoint: &str) -> Node {
    let settings = ClusterSettings {
        mode: ClusterMode::Etcd,
        node_id: id.to_string(),
        advertise_address: format!("{id}:9090"),
        etcd: EtcdSettings {
            endpoints: vec![endpoint.to_string()],
            prefix: "/promshard".to_string(),
            lease_ttl: Duration::from_secs(2),
            dial_timeout: Duration::from_secs(1),
        },
        ..ClusterSettings::default()
    };
    let metrics = ClusterMetrics::unregistered().expect("metrics");
    let membership = Membership::start(&settings, metrics.clone())
        .await
        .expect("membership");
    let ownership = Arc::new(Ownership::new(&settings, metrics));
    let cancel = CancellationToken::new();
    tokio::spawn(apply_views(
        ownership.clone(),
        membership.subscribe(),
        cancel.clone(),
    ));
    Node {
        membership: Some(membership),
        ownership,
        cancel,
    }
}

/// Applies every view the membership publishes until `cancel`, as the
/// routing stage does.
async fn apply_views(
    ownership: Arc<Ownership>,
    mut views: tokio::sync::watch::Receiver<Arc<super::membership::ClusterView>>,
    cancel: CancellationToken,
) {
    loop {
        let view = views.borrow_and_update().clone();
        ownership.apply_view(&view);
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = views.changed() => if changed.is_err() { return },
        }
    }
}

fn targets() -> Vec<Labels> {
    (0..300)
        .map(|n| {
            let address = format!("127.0.0.1:{}", 20_000 + n);
            Labels::from_pairs(&[
                ("__address__", address.as_str()),
                ("instance", address.as_str()),
                ("job", "loopback"),
            ])
        })
        .collect()
}

/// Each node's owned target indices.
fn owned(nodes: &[&Node], all_targets: &[Labels]) -> Vec<Vec<usize>> {
    nodes
        .iter()
        .map(|node| {
            (0..all_targets.len())
                .filter(|&i| node.ownership.owns_target(&all_targets[i]))
                .collect()
        })
        .collect()
}

fn every_target_owned_once(nodes: &[&Node], all_targets: &[Labels]) -> bool {
    (0..all_targets.len()).all(|i| {
        nodes
            .iter()
            .filter(|n| n.ownership.owns_target(&all_targets[i]))
            .count()
            == 1
    })
}

async fn wait_until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ring_size_is(nodes: &[&Node], size: usize) -> bool {
    nodes
        .iter()
        .all(|n| n.ownership.ring().members().len() == size)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_have_one_live_owner_through_join_crash_and_outage() {
    let mut server = EtcdServer::start().await;
    let endpoint = server.endpoint();
    let all_targets = targets();
    let a = start_node("a", &endpoint).await;
    let b = start_node("b", &endpoint).await;
    let c = start_node("c", &endpoint).await;
    wait_until("three members everywhere", Duration::from_secs(10), || {
        ring_size_is(&[&a, &b, &c], 3)
    })
    .await;
    assert!(every_target_owned_once(&[&a, &b, &c], &all_targets));
    let before_join = owned(&[&a, &b, &c], &all_targets);

    // A 4th node joins: about a quarter moves, all of it to the new node.
    let d = start_node("d", &endpoint).await;
    wait_until("four members everywhere", Duration::from_secs(10), || {
        ring_size_is(&[&a, &b, &c, &d], 4)
    })
    .await;
    assert!(every_target_owned_once(&[&a, &b, &c, &d], &all_targets));
    let after_join = owned(&[&a, &b, &c, &d], &all_targets);
    let moved = after_join[3].len();
    for (old, new) in before_join.iter().zip(&after_join) {
        assert!(
            new.iter().all(|i| old.contains(i)),
            "a target moved between old nodes"
        );
    }
    let moved_fraction = moved as f64 / all_targets.len() as f64;
    assert!(
        (0.15..=0.35).contains(&moved_fraction),
        "moved fraction {moved_fraction} is not close to 1/4"
    );

    // b crashes (no deregistration): within the lease TTL plus slack the
    // survivors own b's targets, each exactly once.
    let mut b = b;
    if let Some(membership) = b.membership.take() {
        membership.abort();
    }
    b.cancel.cancel();
    wait_until("b dropped after its lease", Duration::from_secs(8), || {
        ring_size_is(&[&a, &c, &d], 3)
    })
    .await;
    assert!(every_target_owned_once(&[&a, &c, &d], &all_targets));

    // etcd goes away for longer than the TTL: ownership does not change.
    let during_outage_before = owned(&[&a, &c, &d], &all_targets);
    server.stop();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(owned(&[&a, &c, &d], &all_targets), during_outage_before);
    server.resume().await;

    // After recovery changes flow again: d leaves cleanly, a and c cover.
    let mut d = d;
    if let Some(membership) = d.membership.take() {
        membership.shutdown().await;
    }
    d.cancel.cancel();
    wait_until("d gone after recovery", Duration::from_secs(15), || {
        ring_size_is(&[&a, &c], 2)
    })
    .await;
    assert!(every_target_owned_once(&[&a, &c], &all_targets));
    for node in [a, c] {
        node.cancel.cancel();
        if let Some(membership) = node.membership {
            membership.shutdown().await;
        }
    }
}
