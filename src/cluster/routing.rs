//! Target routing: the stage between discovery and scrape that decides
//! which discovered targets this node scrapes.
//!
//! On every discovery update, every change of the cluster view and at the
//! end of every hand-over grace, the stage filters discovery's target
//! groups down to the targets this node owns on the ring (plus those it
//! owned under a ring replaced less than two scrape intervals ago: the
//! hand-over grace) and hands them to a [`TargetSink`] (the scrape
//! manager). Targets that leave the scrape set because another node owns
//! them now are *moved*, not gone: the sink stops them without staleness
//! markers, so the new owner's samples continue the series.
//!
//! The hand-over timer lives here: the stage wakes itself when the next
//! grace ends, so a released target is dropped on time even when neither
//! discovery nor the view changes again. Time comes from a [`Clock`], so
//! tests drive the whole stage with a fake one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::membership::ClusterView;
use super::ownership::{MovedAway, Ownership, TargetGroup, discovered_target_labels};
use super::ring::{Ring, target_key};
use crate::config::Config;
use crate::model::labels::Labels;

/// The discovered target groups of every job, as discovery publishes them.
pub type DiscoveredTargets = Arc<HashMap<String, Vec<TargetGroup>>>;

/// The scrape interval assumed for a job the config does not name.
const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);

/// How long after a grace ends the stage looks again (so that the deadline
/// has surely passed by the clock it is compared with).
const DEADLINE_SLACK: Duration = Duration::from_millis(50);

/// Where time comes from. `Send + Sync`; [`SystemClock`] in the node.
pub trait Clock: Send + Sync {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that follows tokio's clock from a fixed start, so that a test
/// with paused tokio time (`tokio::time::pause`, `advance`) moves both the
/// stage's timers and the times it compares with.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start_wall: SystemTime,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// Starts at `start_wall` now.
    pub fn starting_at(start_wall: SystemTime) -> Self {
        Self {
            start_wall,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.start_wall + self.start.elapsed()
    }
}

/// Receives the routed targets: the scrape manager.
///
/// Contract: each call passes the full current groups of every job;
/// targets missing from them stop. A stopping target for which
/// `moved(target_labels)` is true (its labels after relabeling) moved to
/// another node and must stop *without* staleness markers; any other
/// stopping target gets them. Called from the stage's task, never
/// concurrently with itself.
pub trait TargetSink: Send + Sync {
    /// Replaces the scrape set with `groups`.
    fn sync_targets(
        &self,
        groups: HashMap<String, Vec<TargetGroup>>,
        moved: &dyn Fn(&Labels) -> bool,
    );
}

/// One routing decision: what the sink gets and when to look again.
#[derive(Debug)]
pub struct Routed {
    /// The groups to scrape: discovery's, with only the owned targets (and
    /// those in a hand-over grace).
    pub groups: HashMap<String, Vec<TargetGroup>>,
    /// Discovered targets that this node leaves to others.
    pub moved_away: MovedAway,
    /// When the earliest hand-over grace still running ends.
    pub next_deadline: Option<SystemTime>,
}

/// The routing stage. Construct it once; [`TargetRouting::apply_config`]
/// on every (re)load; [`TargetRouting::run`] until cancelled.
pub struct TargetRouting {
    ownership: Arc<Ownership>,
    clock: Arc<dyn Clock>,
    intervals: RwLock<HashMap<String, Duration>>,
    /// Called after each ring change (rule groups follow their owner).
    ring_listeners: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
    /// The ring and the strictly owned targets at the last routing, to
    /// count hand-overs when the ring changes.
    last: Mutex<Option<(Arc<Ring>, HashSet<u64>)>>,
    handovers_total: prometheus::IntCounter,
}

impl TargetRouting {
    /// A stage over `ownership`, counting hand-overs in `handovers_total`
    /// (`promshard_cluster_handovers_total`).
    pub fn new(
        ownership: Arc<Ownership>,
        clock: Arc<dyn Clock>,
        handovers_total: prometheus::IntCounter,
    ) -> Self {
        Self {
            ownership,
            clock,
            intervals: RwLock::new(HashMap::new()),
            ring_listeners: Mutex::new(Vec::new()),
            last: Mutex::new(None),
            handovers_total,
        }
    }

    /// The ownership the stage routes by.
    pub fn ownership(&self) -> &Arc<Ownership> {
        &self.ownership
    }

    /// Runs `listener` after every ring change.
    pub fn on_ring_change(&self, listener: impl Fn() + Send + Sync + 'static) {
        self.ring_listeners.lock().push(Box::new(listener));
    }

    /// Takes the scrape intervals of the config's jobs: a job's hand-over
    /// grace is two of its intervals. Cannot fail.
    pub fn apply_config(&self, config: &Config) {
        *self.intervals.write() = config
            .scrape_configs
            .iter()
            .map(|job| (job.job_name.clone(), job.scrape_interval.as_duration()))
            .collect();
    }

    fn scrape_interval(&self, job_name: &str) -> Duration {
        self.intervals
            .read()
            .get(job_name)
            .copied()
            .unwrap_or(DEFAULT_SCRAPE_INTERVAL)
    }

    /// Applies a new cluster view to the ring, now by the stage's clock,
    /// and tells the ring listeners.
    pub fn apply_view(&self, view: &ClusterView) {
        self.ownership.apply_view_at(view, self.clock.now());
        for listener in self.ring_listeners.lock().iter() {
            listener();
        }
    }

    /// Decides, now by the stage's clock, which of `discovered` this node
    /// scrapes. Counts hand-overs when the ring changed since the last
    /// call and sets `promshard_cluster_owned_targets`.
    pub fn route(&self, discovered: &DiscoveredTargets) -> Routed {
        let now = self.clock.now();
        let groups =
            self.ownership
                .filter_target_groups_at((**discovered).clone(), now, &|job_name| {
                    self.scrape_interval(job_name)
                });
        self.count_handovers(discovered);
        let moved_away = MovedAway::new(discovered, &groups);
        let intervals: HashSet<Duration> = discovered
            .keys()
            .map(|job_name| self.scrape_interval(job_name))
            .collect();
        let next_deadline = intervals
            .into_iter()
            .filter_map(|interval| self.ownership.handover_deadline_at(interval, now))
            .min();
        Routed {
            groups,
            moved_away,
            next_deadline,
        }
    }

    /// Counts the discovered targets whose strict owner set changed to or
    /// from this node with the last ring change.
    fn count_handovers(&self, discovered: &DiscoveredTargets) {
        let ring = self.ownership.ring();
        let local = self.ownership.local_node_id();
        let replication = self.ownership.replication_factor();
        let owned: HashSet<u64> = discovered
            .iter()
            .flat_map(|(job_name, groups)| {
                groups.iter().flat_map(move |group| {
                    group.targets.iter().map(move |target| {
                        target_key(&discovered_target_labels(job_name, group, target))
                    })
                })
            })
            .filter(|key| ring.owns(local, *key, replication))
            .collect();
        let mut last = self.last.lock();
        if let Some((last_ring, last_owned)) = last.as_ref()
            && !Arc::ptr_eq(last_ring, &ring)
        {
            let moved = owned.symmetric_difference(last_owned).count();
            self.handovers_total.inc_by(moved as u64);
        }
        *last = Some((ring, owned));
    }

    /// Routes until `cancel`: on every discovery update, every view change
    /// and at the end of every hand-over grace. Targets leaving the scrape
    /// set because of a view change or a grace's end are moved (no
    /// staleness markers); so are targets leaving on a discovery update
    /// that another node owns now.
    pub async fn run(
        self: Arc<Self>,
        mut views: watch::Receiver<Arc<ClusterView>>,
        mut discovery: watch::Receiver<DiscoveredTargets>,
        sink: Arc<dyn TargetSink>,
        cancel: CancellationToken,
    ) {
        let view = views.borrow_and_update().clone();
        self.apply_view(&view);
        // A view change or a grace's end moves every target that leaves.
        let mut release_all = false;
        loop {
            let discovered = discovery.borrow_and_update().clone();
            let routed = self.route(&discovered);
            let moved_away = routed.moved_away;
            sink.sync_targets(routed.groups, &|labels| {
                release_all || moved_away.contains(labels)
            });
            // A deadline that passed while routing (a loaded machine) means
            // route again at once; skipping it would keep the released
            // targets until the next discovery or view change, which for
            // static targets never comes.
            let until_deadline = routed.next_deadline.map(|deadline| {
                deadline
                    .duration_since(self.clock.now())
                    .unwrap_or(Duration::ZERO)
            });
            let wait_for_deadline = async {
                match until_deadline {
                    Some(delay) => tokio::time::sleep(delay + DEADLINE_SLACK).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                changed = discovery.changed() => {
                    if changed.is_err() { return }
                    release_all = false;
                }
                changed = views.changed() => {
                    if changed.is_err() { return }
                    let view = views.borrow_and_update().clone();
                    self.apply_view(&view);
                    release_all = true;
                }
                _ = wait_for_deadline => release_all = true,
            }
        }
    }
}

impl crate::lifecycle::Reloader for TargetRouting {
    fn name(&self) -> &'static str {
        "routing"
    }

    fn check(&self, _config: &Config) -> Result<(), String> {
        Ok(())
    }

    fn apply(&self, config: &Config) -> Result<(), String> {
        self.apply_config(config);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
