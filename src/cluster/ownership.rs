//! Which targets and rule groups this node owns, from the current cluster
//! view, and the hand-over bookkeeping when ownership moves.
//!
//! Where to call it (the lead wires this):
//! - **Targets:** between discovery and scrape, as the scrape manager on
//!   main expects (`ScrapeManager::sync_releasing(groups, release)` takes
//!   groups already filtered): [`Ownership::filter_target_groups_at`]
//!   (with the hand-over grace), or [`Ownership::retain_owned_at`] on any
//!   target-group type (e.g. `scrape::TargetGroup`, whose fields match the
//!   local [`TargetGroup`]). The key is the discovered label set (group
//!   labels overlaid by target labels, plus `job`): every node runs the
//!   same discovery, so every node computes the same owner.
//! - **Targets, post-relabel:** [`Ownership::owns_target`] takes the label
//!   set after relabeling, for a hook inside scrape if one is added. Use
//!   one key or the other, never both: they split targets differently.
//! - **Rule groups:** [`Ownership::owns_rule_group`] before evaluating.
//!
//! Views arrive from [`super::membership::Membership`]; feed each to
//! [`Ownership::apply_view`] (or run [`Ownership::follow`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::membership::ClusterView;
use super::metrics::ClusterMetrics;
use super::ring::{Ring, rule_group_key, target_key};
use super::settings::ClusterSettings;
use crate::model::labels::{Labels, LabelsBuilder};

pub use crate::discovery::TargetGroup;

/// Replaced rings older than this are forgotten (no grace is that long).
const HISTORY_MAX_AGE: Duration = Duration::from_secs(3_600);
/// At most this many replaced rings are remembered.
const HISTORY_MAX_RINGS: usize = 32;

/// The discovered labels of a target: the group's labels overlaid by the
/// target's, plus `job` when missing. The key of
/// [`Ownership::filter_target_groups`] and of `print_ring`.
pub fn discovered_target_labels(job_name: &str, group: &TargetGroup, target: &Labels) -> Labels {
    let mut builder = LabelsBuilder::new(&group.labels);
    for label in target.iter() {
        builder.set(label.name, label.value);
    }
    if builder.get("job").is_empty() {
        builder.set("job", job_name);
    }
    builder.build()
}

/// The `(job, __address__)` of the targets discovered but left out of this
/// node's scrape set by the ownership filter: they are scraped elsewhere.
/// A target that leaves the scrape set and is in here moved to another
/// node, so it ends without staleness markers; any other target that
/// leaves (gone from discovery, or whose labels changed) gets them.
#[derive(Debug, Default, Clone)]
pub struct MovedAway(HashSet<(String, String)>);

impl MovedAway {
    /// From discovery's output and what the ownership filter kept of it.
    pub fn new(
        discovered: &HashMap<String, Vec<TargetGroup>>,
        kept: &HashMap<String, Vec<TargetGroup>>,
    ) -> Self {
        let kept = job_addresses(kept);
        Self(
            job_addresses(discovered)
                .into_iter()
                .filter(|pair| !kept.contains(pair))
                .collect(),
        )
    }

    /// Whether a scrape target, by its labels after relabeling, moved to
    /// another node. A relabeled `job` or `__address__` reads as not moved.
    pub fn contains(&self, target_labels: &Labels) -> bool {
        self.0.contains(&(
            target_labels.get_or_empty("job").to_string(),
            target_labels.get_or_empty("__address__").to_string(),
        ))
    }
}

fn job_addresses(groups_by_job: &HashMap<String, Vec<TargetGroup>>) -> HashSet<(String, String)> {
    let mut found = HashSet::new();
    for (job_name, groups) in groups_by_job {
        for group in groups {
            for target in &group.targets {
                let labels = discovered_target_labels(job_name, group, target);
                found.insert((
                    labels.get_or_empty("job").to_string(),
                    labels.get_or_empty("__address__").to_string(),
                ));
            }
        }
    }
    found
}

/// This node's share of the work under the current view. `Send + Sync`;
/// reads are lock-light (one `Arc` clone of the ring).
pub struct Ownership {
    local_node_id: String,
    replication_factor: usize,
    virtual_nodes: usize,
    ring: RwLock<Arc<Ring>>,
    /// The rings replaced by recent view changes and when each was
    /// replaced, oldest first, for the hand-over grace of
    /// [`Ownership::filter_target_groups_at`]. Every recent ring counts, not
    /// only the last: views can change several times within one grace
    /// (members leaving one by one, an etcd that expired every lease).
    history: RwLock<Vec<(Arc<Ring>, SystemTime)>>,
    metrics: ClusterMetrics,
}

impl Ownership {
    /// Starts from the configured member set (this node alone in mode
    /// none, which then owns everything).
    pub fn new(settings: &ClusterSettings, metrics: ClusterMetrics) -> Self {
        let ring = Ring::new(&settings.configured_members(), settings.virtual_nodes);
        Self {
            local_node_id: settings.node_id.clone(),
            replication_factor: settings.replication_factor.max(1),
            virtual_nodes: settings.virtual_nodes,
            ring: RwLock::new(Arc::new(ring)),
            history: RwLock::new(Vec::new()),
            metrics,
        }
    }

    /// This node's id.
    pub fn local_node_id(&self) -> &str {
        &self.local_node_id
    }

    /// The replication factor R.
    pub fn replication_factor(&self) -> usize {
        self.replication_factor
    }

    /// The current ring.
    pub fn ring(&self) -> Arc<Ring> {
        self.ring.read().clone()
    }

    /// Rebuilds the ring for a new view; returns the previous ring (for
    /// [`plan_handover`]). A view without this node means it owns nothing
    /// (its lease expired and others took over).
    pub fn apply_view(&self, view: &ClusterView) -> Arc<Ring> {
        self.apply_view_at(view, SystemTime::now())
    }

    /// [`Ownership::apply_view`] at a given time (the start of the
    /// hand-over grace).
    pub fn apply_view_at(&self, view: &ClusterView, now: SystemTime) -> Arc<Ring> {
        let new_ring = Arc::new(Ring::new(&view.members, self.virtual_nodes));
        let old_ring = {
            let mut current = self.ring.write();
            std::mem::replace(&mut *current, new_ring)
        };
        if old_ring.members() != self.ring().members() {
            let mut history = self.history.write();
            history.push((old_ring.clone(), now));
            history.retain(|(_, replaced_at)| {
                now.duration_since(*replaced_at)
                    .map_or(true, |age| age <= HISTORY_MAX_AGE)
            });
            if history.len() > HISTORY_MAX_RINGS {
                let excess = history.len() - HISTORY_MAX_RINGS;
                history.drain(..excess);
            }
        }
        old_ring
    }

    /// Applies every view the membership publishes until cancelled.
    /// `on_change(old_ring, new_ring)` runs after each change (to re-filter
    /// targets and plan hand-overs).
    pub async fn follow(
        self: Arc<Self>,
        mut views: watch::Receiver<Arc<ClusterView>>,
        cancel: CancellationToken,
        mut on_change: impl FnMut(Arc<Ring>, Arc<Ring>) + Send,
    ) {
        loop {
            let view = views.borrow_and_update().clone();
            let old_ring = self.apply_view(&view);
            on_change(old_ring, self.ring());
            tokio::select! {
                _ = cancel.cancelled() => return,
                changed = views.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Whether this node scrapes the target with these post-relabel labels.
    pub fn owns_target(&self, target_labels: &Labels) -> bool {
        self.ring.read().owns(
            &self.local_node_id,
            target_key(target_labels),
            self.replication_factor,
        )
    }

    /// Whether this node evaluates the rule group. Always R = 1: a group is
    /// evaluated by exactly one live node.
    pub fn owns_rule_group(&self, file: &str, group_name: &str) -> bool {
        self.ring
            .read()
            .owns(&self.local_node_id, rule_group_key(file, group_name), 1)
    }

    /// Keeps only the targets this node owns, keyed on their discovered
    /// labels (see [`discovered_target_labels`]). Groups left empty are
    /// kept (empty), so a scrape pool sees its targets go away. Sets
    /// `promshard_cluster_owned_targets`. No hand-over grace: see
    /// [`Ownership::filter_target_groups_at`].
    pub fn filter_target_groups(
        &self,
        groups_by_job: HashMap<String, Vec<TargetGroup>>,
    ) -> HashMap<String, Vec<TargetGroup>> {
        self.filter_target_groups_at(groups_by_job, SystemTime::now(), &|_| Duration::ZERO)
    }

    /// Like [`Ownership::filter_target_groups`], but a target this node
    /// owned before the last view change is kept until
    /// `change + 2 × scrape_interval(job)` (see [`plan_handover`] for why),
    /// as long as someone owns it now.
    ///
    /// How the lead wires it into scrape: on every discovery update, view
    /// change, and at [`Ownership::handover_deadline`], call this and pass
    /// the result to `ScrapeManager::sync_releasing(groups, release)` with
    /// `release` returning true when the sync was caused by a view change
    /// or the deadline (targets leaving then moved to another node: no
    /// staleness markers), false when caused by discovery.
    pub fn filter_target_groups_at(
        &self,
        groups_by_job: HashMap<String, Vec<TargetGroup>>,
        now: SystemTime,
        scrape_interval: &dyn Fn(&str) -> Duration,
    ) -> HashMap<String, Vec<TargetGroup>> {
        let mut owned_count = 0usize;
        let filtered = groups_by_job
            .into_iter()
            .map(|(job_name, groups)| {
                let grace = scrape_interval(&job_name) * 2;
                let kept_groups = groups
                    .into_iter()
                    .map(|mut group| {
                        owned_count += self.retain_owned_at(
                            &job_name,
                            &group.labels,
                            &mut group.targets,
                            now,
                            grace,
                        );
                        group
                    })
                    .collect();
                (job_name, kept_groups)
            })
            .collect();
        self.metrics.owned_targets.set(owned_count as i64);
        filtered
    }

    /// The primitive under the filters, for any target-group type: keeps in
    /// `targets` those this node owns (keyed on the group labels overlaid
    /// by the target's, plus `job`), or owned under a ring replaced less
    /// than `grace` ago; under an empty view, those owned under the last
    /// non-empty ring (nobody else owns them). Returns how many kept
    /// targets it owns now.
    pub fn retain_owned_at(
        &self,
        job_name: &str,
        group_labels: &Labels,
        targets: &mut Vec<Labels>,
        now: SystemTime,
        grace: Duration,
    ) -> usize {
        let ring = self.ring();
        let history = self.history.read().clone();
        // The rings whose targets this node still covers: those replaced
        // within the grace, or the last non-empty one under an empty view.
        let covering: Vec<Arc<Ring>> = if ring.is_empty() {
            history
                .iter()
                .rev()
                .find(|(old, _)| !old.is_empty())
                .map(|(old, _)| old.clone())
                .into_iter()
                .collect()
        } else {
            history
                .iter()
                .filter(|(_, replaced_at)| now < *replaced_at + grace)
                .map(|(old, _)| old.clone())
                .collect()
        };
        let group = TargetGroup {
            source: String::new(),
            targets: Vec::new(),
            labels: group_labels.clone(),
        };
        let mut owned_now = 0usize;
        targets.retain(|target| {
            let key = target_key(&discovered_target_labels(job_name, &group, target));
            if ring.owns(&self.local_node_id, key, self.replication_factor) {
                owned_now += 1;
                return true;
            }
            covering
                .iter()
                .any(|old| old.owns(&self.local_node_id, key, self.replication_factor))
        });
        owned_now
    }

    /// When the next hand-over grace ends for a job scraped every
    /// `scrape_interval` (the earliest still to come, else the last one):
    /// re-filter then to drop the targets kept for it. `None` if no view
    /// change happened yet.
    pub fn handover_deadline(&self, scrape_interval: Duration) -> Option<SystemTime> {
        let now = SystemTime::now();
        let deadlines: Vec<SystemTime> = self
            .history
            .read()
            .iter()
            .map(|(_, replaced_at)| *replaced_at + scrape_interval * 2)
            .collect();
        deadlines
            .iter()
            .copied()
            .filter(|deadline| *deadline > now)
            .min()
            .or_else(|| deadlines.last().copied())
    }

    /// Sets `promshard_cluster_owned_targets` when ownership is decided by
    /// [`Ownership::owns_target`] in scrape.
    pub fn set_owned_targets(&self, count: usize) {
        self.metrics.owned_targets.set(count as i64);
    }

    /// Plans the hand-over for `targets` from `old_ring` to the current
    /// ring and counts it in `promshard_cluster_handovers_total`.
    pub fn plan_handover_from(
        &self,
        old_ring: &Ring,
        targets: &[Labels],
        now: SystemTime,
        scrape_interval: Duration,
    ) -> HandoverPlan {
        let new_ring = self.ring();
        let plan = plan_handover(
            &self.local_node_id,
            old_ring,
            &new_ring,
            self.replication_factor,
            targets,
            now,
            scrape_interval,
        );
        self.metrics
            .handovers_total
            .inc_by((plan.acquired.len() + plan.released.len()) as u64);
        plan
    }
}

/// A target this node no longer owns but keeps scraping for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedTarget {
    /// The target's (post-relabel) labels.
    pub target_labels: Labels,
    /// Keep scraping until then, then stop *without* writing staleness
    /// markers (the new owner's samples continue the series).
    pub keep_scraping_until: SystemTime,
    /// Who owns it now.
    pub new_owners: Vec<String>,
}

/// What changes for this node between two views.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HandoverPlan {
    /// Targets newly owned: start scraping at once.
    pub acquired: Vec<Labels>,
    /// Targets no longer owned: keep scraping until the given time.
    pub released: Vec<ReleasedTarget>,
    /// How many targets this node owned before and still owns.
    pub kept: usize,
}

/// Compares this node's ownership of `targets` under two rings.
///
/// A released target is scraped until `now + 2 × scrape_interval`: the new
/// owner sees the same view at about the same time and starts at once, its
/// first scrape falls due within one interval (scrapes are spread over the
/// interval), and the old owner covers one more interval after that, so the
/// series has no gap; queries deduplicate the overlap.
///
/// A target that nobody owns under the new ring (the new view is empty) is
/// not released: it is better scraped twice than not at all.
pub fn plan_handover(
    local_node_id: &str,
    old_ring: &Ring,
    new_ring: &Ring,
    replication_factor: usize,
    targets: &[Labels],
    now: SystemTime,
    scrape_interval: Duration,
) -> HandoverPlan {
    let mut plan = HandoverPlan::default();
    let keep_scraping_until = now + scrape_interval * 2;
    for target in targets {
        let key = target_key(target);
        let owned_before = old_ring.owns(local_node_id, key, replication_factor);
        let owned_now = new_ring.owns(local_node_id, key, replication_factor);
        match (owned_before, owned_now) {
            (false, true) => plan.acquired.push(target.clone()),
            (true, true) => plan.kept += 1,
            (true, false) => {
                let new_owners: Vec<String> = new_ring
                    .owners(key, replication_factor)
                    .into_iter()
                    .map(|member| member.node_id.clone())
                    .collect();
                if new_owners.is_empty() {
                    plan.kept += 1;
                    continue;
                }
                plan.released.push(ReleasedTarget {
                    target_labels: target.clone(),
                    keep_scraping_until,
                    new_owners,
                });
            }
            (false, false) => {}
        }
    }
    plan
}

#[cfg(test)]
mod tests;
