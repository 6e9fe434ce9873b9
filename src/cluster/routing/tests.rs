//! The routing stage driven end to end: memberships on the in-memory etcd
//! twin, paused tokio time behind the stage's clock, and a recording sink
//! in place of scrape.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::cluster::kv_memory::MemoryKv;
use crate::cluster::membership::Membership;
use crate::cluster::metrics::ClusterMetrics;
use crate::cluster::settings::{ClusterMode, ClusterSettings, EtcdSettings};

const INTERVAL: Duration = Duration::from_secs(10);

/// What one sync told scrape: the targets to scrape, and of those that
/// left since the previous sync, which moved and which got staleness
/// markers.
#[derive(Debug, Clone, Default)]
struct Sync {
    at: Option<SystemTime>,
    scraped: BTreeSet<String>,
    moved: BTreeSet<String>,
    stale: BTreeSet<String>,
}

/// Called at the start of every sync (a test's way to make a sync slow).
type SyncHook = Box<dyn FnMut() + Send>;

struct RecordingSink {
    clock: Arc<dyn Clock>,
    syncs: Mutex<Vec<Sync>>,
    on_sync: Mutex<Option<SyncHook>>,
}

impl TargetSink for RecordingSink {
    fn sync_targets(
        &self,
        groups: HashMap<String, Vec<TargetGroup>>,
        moved: &dyn Fn(&Labels) -> bool,
    ) {
        if let Some(hook) = self.on_sync.lock().as_mut() {
            hook();
        }
        let scraped: BTreeSet<String> = groups
            .values()
            .flatten()
            .flat_map(|group| group.targets.iter())
            .map(|target| target.get_or_empty("__address__").to_string())
            .collect();
        let mut syncs = self.syncs.lock();
        let previous = syncs.last().map(|s| s.scraped.clone()).unwrap_or_default();
        let mut sync = Sync {
            at: Some(self.clock.now()),
            ..Sync::default()
        };
        for address in previous.difference(&scraped) {
            let labels = Labels::from_pairs(&[("__address__", address.as_str()), ("job", "node")]);
            if moved(&labels) {
                sync.moved.insert(address.clone());
            } else {
                sync.stale.insert(address.clone());
            }
        }
        sync.scraped = scraped;
        syncs.push(sync);
    }
}

impl RecordingSink {
    fn last(&self) -> Sync {
        self.syncs.lock().last().cloned().unwrap_or_default()
    }

    fn count(&self) -> usize {
        self.syncs.lock().len()
    }
}

fn address(n: usize) -> String {
    format!("10.1.{}.{}:9100", n / 256, n % 256)
}

fn discovered(targets: impl IntoIterator<Item = usize>) -> DiscoveredTargets {
    let group = TargetGroup {
        source: "node/static/0".to_string(),
        targets: targets
            .into_iter()
            .map(|n| Labels::from_pairs(&[("__address__", address(n).as_str())]))
            .collect(),
        labels: Labels::empty(),
    };
    Arc::new(HashMap::from([("node".to_string(), vec![group])]))
}

fn config() -> Config {
    crate::config::load_str(
        "scrape_configs:\n  - job_name: node\n    scrape_interval: 10s\n",
        "prometheus.yml",
    )
    .expect("config")
}

struct Node {
    membership: Option<Membership>,
    routing: Arc<TargetRouting>,
    sink: Arc<RecordingSink>,
    metrics: ClusterMetrics,
    discovery: watch::Sender<DiscoveredTargets>,
    cancel: CancellationToken,
}

fn start_node(
    id: &str,
    kv: &Arc<MemoryKv>,
    clock: Arc<dyn Clock>,
    targets: DiscoveredTargets,
) -> Node {
    let settings = ClusterSettings {
        mode: ClusterMode::Etcd,
        node_id: id.to_string(),
        advertise_address: format!("{id}:9090"),
        etcd: EtcdSettings {
            lease_ttl: Duration::from_secs(3),
            ..EtcdSettings::default()
        },
        ..ClusterSettings::default()
    };
    let metrics = ClusterMetrics::unregistered().expect("metrics");
    let membership =
        Membership::start_with_kv(&settings, kv.clone(), metrics.clone()).expect("membership");
    let ownership = Arc::new(Ownership::new(&settings, metrics.clone()));
    let routing = Arc::new(TargetRouting::new(
        ownership,
        clock.clone(),
        metrics.handovers_total.clone(),
    ));
    routing.apply_config(&config());
    let sink = Arc::new(RecordingSink {
        clock,
        syncs: Mutex::new(Vec::new()),
        on_sync: Mutex::new(None),
    });
    let (discovery, discovery_rx) = watch::channel(targets);
    let cancel = CancellationToken::new();
    tokio::spawn(routing.clone().run(
        membership.subscribe(),
        discovery_rx,
        sink.clone(),
        cancel.clone(),
    ));
    Node {
        membership: Some(membership),
        routing,
        sink,
        metrics,
        discovery,
        cancel,
    }
}

impl Node {
    fn ring_size(&self) -> usize {
        self.routing.ownership().ring().members().len()
    }

    /// The targets this node owns now, without grace.
    fn strictly_owned(&self, targets: &DiscoveredTargets) -> BTreeSet<String> {
        let ownership = self.routing.ownership();
        targets
            .iter()
            .flat_map(|(job, groups)| {
                groups.iter().flat_map(move |group| {
                    group
                        .targets
                        .iter()
                        .map(move |target| discovered_target_labels(job, group, target))
                })
            })
            .filter(|labels| ownership.owns_target(labels))
            .map(|labels| labels.get_or_empty("__address__").to_string())
            .collect()
    }

    async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(membership) = self.membership.take() {
            membership.shutdown().await;
        }
    }
}

/// Polls `condition` in (paused, auto-advancing) tokio time.
async fn wait_for(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_joining_node_takes_its_share_after_the_grace_and_moved_targets_end_without_staleness() {
    let kv = Arc::new(MemoryKv::new());
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let targets = discovered(0..200);
    let a = start_node("a", &kv, clock.clone(), targets.clone());
    wait_for("a scrapes every target", Duration::from_secs(5), || {
        a.sink.last().scraped.len() == 200
    })
    .await;

    let b = start_node("b", &kv, clock.clone(), targets.clone());
    wait_for("both see two members", Duration::from_secs(10), || {
        a.ring_size() == 2 && b.ring_size() == 2
    })
    .await;
    let joined_at = clock.now();
    let owned_by_a = a.strictly_owned(&targets);
    let owned_by_b = b.strictly_owned(&targets);
    assert!(owned_by_a.is_disjoint(&owned_by_b));
    assert_eq!(owned_by_a.len() + owned_by_b.len(), 200);
    assert!(!owned_by_b.is_empty() && !owned_by_a.is_empty());

    // The old owner keeps scraping what it released for the grace.
    let syncs_at_join = a.sink.count();
    assert_eq!(
        a.sink.last().scraped.len(),
        200,
        "a keeps its released targets during the grace"
    );
    assert_eq!(
        a.metrics.handovers_total.get() as usize,
        owned_by_b.len(),
        "a counts every target it handed to b"
    );

    // ...and drops them, as moved, when the grace ends: two intervals
    // after the change, with no other event to wake the stage.
    wait_for("a drops b's targets", Duration::from_secs(60), || {
        a.sink.last().scraped == owned_by_a
    })
    .await;
    let dropped = a.sink.last();
    assert!(a.sink.count() > syncs_at_join);
    let grace_end = joined_at + INTERVAL * 2;
    let at = dropped.at.expect("sync time");
    assert!(
        at >= grace_end,
        "dropped at {at:?}, before the grace ends at {grace_end:?}"
    );
    assert!(
        at <= grace_end + Duration::from_secs(1),
        "dropped {:?} after the grace ended",
        at.duration_since(grace_end)
    );
    assert_eq!(dropped.moved, owned_by_b, "every released target moved");
    assert!(
        dropped.stale.is_empty(),
        "no staleness markers for moved targets: {:?}",
        dropped.stale
    );

    // The joiner scrapes its share (it owned everything alone for a moment
    // at its start, so it too releases a's share after its grace).
    wait_for(
        "b scrapes exactly its share",
        Duration::from_secs(60),
        || b.sink.last().scraped == owned_by_b,
    )
    .await;
    assert!(b.sink.last().stale.is_empty());

    // A target that vanishes from discovery ends with staleness markers.
    let gone = owned_by_a.iter().next().cloned().expect("a owns something");
    let remaining: Vec<usize> = (0..200).filter(|n| address(*n) != gone).collect();
    let _ = a.discovery.send(discovered(remaining));
    wait_for(
        "a stops the vanished target",
        Duration::from_secs(5),
        || !a.sink.last().scraped.contains(&gone),
    )
    .await;
    let last = a.sink.last();
    assert_eq!(last.stale, BTreeSet::from([gone]));
    assert!(last.moved.is_empty());

    a.stop().await;
    b.stop().await;
}

/// A [`TokioClock`] that can be pushed ahead, as if work took that long.
struct LaggingClock {
    inner: TokioClock,
    ahead_ms: std::sync::atomic::AtomicU64,
}

impl Clock for LaggingClock {
    fn now(&self) -> SystemTime {
        self.inner.now()
            + Duration::from_millis(self.ahead_ms.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[tokio::test(start_paused = true)]
async fn a_grace_that_ends_during_a_slow_sync_still_releases_the_targets() {
    let kv = Arc::new(MemoryKv::new());
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let lagging = Arc::new(LaggingClock {
        inner: TokioClock::starting_at(start),
        ahead_ms: std::sync::atomic::AtomicU64::new(0),
    });
    let targets = discovered(0..100);
    let a = start_node("a", &kv, lagging.clone(), targets.clone());
    wait_for("a scrapes every target", Duration::from_secs(5), || {
        a.sink.last().scraped.len() == 100
    })
    .await;
    // The sync that follows b's arrival takes longer than the whole grace
    // (a loaded machine), so the grace has ended when the stage next
    // looks at its clock.
    {
        let routing = a.routing.clone();
        let lagging = lagging.clone();
        let mut fired = false;
        *a.sink.on_sync.lock() = Some(Box::new(move || {
            if !fired && routing.ownership().ring().members().len() == 2 {
                fired = true;
                let slow = (INTERVAL * 2 + Duration::from_secs(1)).as_millis() as u64;
                lagging
                    .ahead_ms
                    .fetch_add(slow, std::sync::atomic::Ordering::SeqCst);
            }
        }));
    }
    let b = start_node(
        "b",
        &kv,
        Arc::new(TokioClock::starting_at(start)),
        targets.clone(),
    );
    wait_for("both see two members", Duration::from_secs(10), || {
        a.ring_size() == 2 && b.ring_size() == 2
    })
    .await;
    let owned_by_a = a.strictly_owned(&targets);
    assert!(owned_by_a.len() < 100, "b owns a share");
    wait_for(
        "a drops b's targets though no event follows",
        Duration::from_secs(60),
        || a.sink.last().scraped == owned_by_a,
    )
    .await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_discovery_update_during_the_grace_neither_drops_nor_marks_released_targets() {
    let kv = Arc::new(MemoryKv::new());
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let targets = discovered(0..100);
    let a = start_node("a", &kv, clock.clone(), targets.clone());
    wait_for("a scrapes every target", Duration::from_secs(5), || {
        a.sink.last().scraped.len() == 100
    })
    .await;
    let b = start_node("b", &kv, clock.clone(), targets.clone());
    wait_for("a sees b", Duration::from_secs(10), || a.ring_size() == 2).await;
    let joined_at = clock.now();
    let owned_by_a = a.strictly_owned(&targets);

    // Mid-grace, discovery adds a target: the sync it causes keeps every
    // released target, and nothing leaves.
    tokio::time::sleep(INTERVAL / 2).await;
    let more = discovered(0..101);
    let _ = a.discovery.send(more.clone());
    wait_for("a routes the new discovery", Duration::from_secs(5), || {
        let last = a.sink.last();
        last.at.is_some_and(|at| at > joined_at + INTERVAL / 4) && last.scraped.len() >= 100
    })
    .await;
    let mid = a.sink.last();
    assert!(
        mid.moved.is_empty() && mid.stale.is_empty(),
        "nothing leaves mid-grace: {mid:?}"
    );

    wait_for("the grace ends", Duration::from_secs(60), || {
        a.sink.last().scraped == a.strictly_owned(&more)
    })
    .await;
    let end = a.sink.last();
    assert!(
        end.stale.is_empty(),
        "released targets end as moved: {:?}",
        end.stale
    );
    assert!(
        end.moved
            .iter()
            .all(|address| !owned_by_a.contains(address))
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(start_paused = true)]
async fn ring_listeners_run_after_each_view_change() {
    let kv = Arc::new(MemoryKv::new());
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(SystemTime::UNIX_EPOCH));
    let a = start_node("a", &kv, clock.clone(), discovered(0..10));
    let changes = Arc::new(Mutex::new(Vec::new()));
    {
        let changes = changes.clone();
        let ownership = a.routing.ownership().clone();
        a.routing.on_ring_change(move || {
            changes.lock().push(ownership.ring().members().len());
        });
    }
    let b = start_node("b", &kv, clock.clone(), discovered(0..10));
    wait_for("a hears of b", Duration::from_secs(10), || {
        changes.lock().last() == Some(&2)
    })
    .await;
    b.stop().await;
    wait_for("a hears b left", Duration::from_secs(10), || {
        changes.lock().last() == Some(&1)
    })
    .await;
    a.stop().await;
}
