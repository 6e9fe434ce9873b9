use super::*;
use crate::cluster::kv_memory::MemoryKv;
use crate::cluster::settings::EtcdSettings;
use crate::cluster::test_etcd::EtcdServer;

fn settings(node_id: &str, mode: ClusterMode) -> ClusterSettings {
    ClusterSettings {
        mode,
        node_id: node_id.to_string(),
        advertise_address: format!("{node_id}.local:9090"),
        etcd: EtcdSettings {
            lease_ttl: Duration::from_secs(2),
            ..EtcdSettings::default()
        },
        ..ClusterSettings::default()
    }
}

fn ids(view: &ClusterView) -> Vec<String> {
    view.members.iter().map(|m| m.node_id.clone()).collect()
}

/// Waits until the membership's view has exactly these node ids.
async fn wait_for_members(membership: &Membership, expected: &[&str], within: Duration) {
    let mut receiver = membership.subscribe();
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    let waited = tokio::time::timeout(within, async {
        loop {
            if ids(&receiver.borrow_and_update()) == expected {
                return;
            }
            if receiver.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
    assert!(
        waited.is_ok() && ids(&membership.current()) == expected,
        "expected members {expected:?}, view is {:?}",
        ids(&membership.current())
    );
}

fn metrics() -> ClusterMetrics {
    ClusterMetrics::unregistered().expect("metrics")
}

#[tokio::test]
async fn mode_none_is_this_node_alone() {
    let membership = Membership::start(&settings("solo", ClusterMode::None), metrics())
        .await
        .expect("start");
    assert_eq!(ids(&membership.current()), vec!["solo"]);
}

#[tokio::test]
async fn static_mode_is_the_peer_list_plus_this_node() {
    let mut config = settings("b", ClusterMode::Static);
    config.peers = vec![Member::new("c", "c:9090"), Member::new("a", "a:9090")];
    let membership = Membership::start(&config, metrics()).await.expect("start");
    assert_eq!(ids(&membership.current()), vec!["a", "b", "c"]);
}

#[tokio::test]
async fn members_join_and_a_clean_leave_is_seen_at_once() {
    let kv = Arc::new(MemoryKv::new());
    let node_metrics = metrics();
    let a = Membership::start_with_kv(
        &settings("a", ClusterMode::Etcd),
        kv.clone(),
        node_metrics.clone(),
    )
    .expect("a");
    let b = Membership::start_with_kv(&settings("b", ClusterMode::Etcd), kv.clone(), metrics())
        .expect("b");
    wait_for_members(&a, &["a", "b"], Duration::from_secs(5)).await;
    wait_for_members(&b, &["a", "b"], Duration::from_secs(5)).await;
    assert_eq!(node_metrics.members.get(), 2);
    let record = kv.get_prefix("/promshard/members/a").await.expect("get");
    let value: serde_json::Value =
        serde_json::from_slice(&record.entries[0].value).expect("member record is JSON");
    assert_eq!(value["addr"], "a.local:9090");
    assert!(value["started"].is_string());
    b.shutdown().await;
    // Well under the lease TTL: deregistration is immediate.
    wait_for_members(&a, &["a"], Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn an_expired_lease_drops_the_member_and_it_rejoins() {
    let kv = Arc::new(MemoryKv::new());
    let a = Membership::start_with_kv(&settings("a", ClusterMode::Etcd), kv.clone(), metrics())
        .expect("a");
    let b = Membership::start_with_kv(&settings("b", ClusterMode::Etcd), kv.clone(), metrics())
        .expect("b");
    wait_for_members(&a, &["a", "b"], Duration::from_secs(5)).await;
    let lease_of_b = kv
        .get_prefix("/promshard/members/b")
        .await
        .expect("get")
        .entries[0]
        .lease;
    kv.expire_lease(lease_of_b);
    wait_for_members(&a, &["a"], Duration::from_secs(2)).await;
    // b finds its lease gone on its next keep-alive (TTL/3) and rejoins.
    wait_for_members(&a, &["a", "b"], Duration::from_secs(5)).await;
    wait_for_members(&b, &["a", "b"], Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_crashed_member_is_dropped_after_its_lease_ttl() {
    let kv = Arc::new(MemoryKv::new());
    let a = Membership::start_with_kv(&settings("a", ClusterMode::Etcd), kv.clone(), metrics())
        .expect("a");
    let b = Membership::start_with_kv(&settings("b", ClusterMode::Etcd), kv.clone(), metrics())
        .expect("b");
    wait_for_members(&a, &["a", "b"], Duration::from_secs(5)).await;
    b.abort();
    wait_for_members(&a, &["a"], Duration::from_secs(4)).await;
}

#[tokio::test]
async fn an_outage_keeps_the_last_view_and_counts_errors() {
    let kv = Arc::new(MemoryKv::new());
    let node_metrics = metrics();
    let a = Membership::start_with_kv(
        &settings("a", ClusterMode::Etcd),
        kv.clone(),
        node_metrics.clone(),
    )
    .expect("a");
    let b = Membership::start_with_kv(&settings("b", ClusterMode::Etcd), kv.clone(), metrics())
        .expect("b");
    wait_for_members(&a, &["a", "b"], Duration::from_secs(5)).await;
    kv.set_available(false);
    // Longer than the lease TTL: the view must not shrink meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ids(&a.current()), vec!["a", "b"]);
    assert_eq!(ids(&b.current()), vec!["a", "b"]);
    assert!(node_metrics.etcd_errors_total.get() > 0);
    kv.set_available(true);
    let c = Membership::start_with_kv(&settings("c", ClusterMode::Etcd), kv.clone(), metrics())
        .expect("c");
    wait_for_members(&a, &["a", "b", "c"], Duration::from_secs(10)).await;
    wait_for_members(&c, &["a", "b", "c"], Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_member_record_that_is_not_json_is_ignored() {
    let kv = Arc::new(MemoryKv::new());
    kv.put("/promshard/members/broken", b"not json".to_vec(), None)
        .await
        .expect("put");
    let a = Membership::start_with_kv(&settings("a", ClusterMode::Etcd), kv.clone(), metrics())
        .expect("a");
    wait_for_members(&a, &["a"], Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_node_id_with_a_slash_is_refused() {
    let kv = Arc::new(MemoryKv::new());
    let result = Membership::start_with_kv(&settings("a/b", ClusterMode::Etcd), kv, metrics());
    assert!(matches!(result, Err(MembershipError::InvalidSettings(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_over_real_etcd_join_leave_fail_and_ride_out_an_outage() {
    let mut server = EtcdServer::start().await;
    let start = |node_id: &str| {
        let mut config = settings(node_id, ClusterMode::Etcd);
        config.etcd.endpoints = vec![server.endpoint()];
        config.etcd.dial_timeout = Duration::from_secs(1);
        config
    };
    let (config_a, config_b, config_c) = (start("a"), start("b"), start("c"));
    let a = Membership::start(&config_a, metrics()).await.expect("a");
    let b = Membership::start(&config_b, metrics()).await.expect("b");
    let c = Membership::start(&config_c, metrics()).await.expect("c");
    for node in [&a, &b, &c] {
        wait_for_members(node, &["a", "b", "c"], Duration::from_secs(10)).await;
    }

    // etcd down for a few seconds (longer than the 2 s TTL): last views stay.
    server.stop();
    tokio::time::sleep(Duration::from_secs(4)).await;
    for node in [&a, &b, &c] {
        assert_eq!(
            ids(&node.current()),
            vec!["a", "b", "c"],
            "view kept during the outage"
        );
    }
    server.resume().await;

    // After recovery the watches work again: a clean leave is seen.
    c.shutdown().await;
    for node in [&a, &b] {
        wait_for_members(node, &["a", "b"], Duration::from_secs(15)).await;
    }

    // A crash (no deregistration) is seen within the lease TTL plus slack.
    b.abort();
    wait_for_members(&a, &["a"], Duration::from_secs(10)).await;
    a.shutdown().await;
}
