//! Which targets and rule groups this node owns, from the current cluster
//! view, and the rings recent view changes replaced (for the hand-over
//! grace).
//!
//! - **Targets:** the routing stage ([`super::routing`]) filters
//!   discovery's groups with [`Ownership::filter_target_groups_at`]. The
//!   key is the discovered label set (group labels overlaid by target
//!   labels, plus `job`): every node runs the same discovery, so every node
//!   computes the same owner. [`Ownership::owns_target`] answers for one
//!   such label set (status pages, `promshard cluster ring`).
//! - **Rule groups:** [`Ownership::owns_rule_group`] before evaluating.
//!
//! Views arrive from [`super::membership::Membership`]; the routing stage
//! feeds each to [`Ownership::apply_view_at`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;

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
/// [`Ownership::filter_target_groups_at`] and of `print_ring`.
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
    /// the hand-over grace). A view without this node means it owns nothing
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

    /// The address of the member that owns `key` (a notification group's
    /// key hashed) when that is another node; `None` when this node owns
    /// it or the ring is empty.
    pub fn remote_owner_of(&self, key: u64, advertise_address: &str) -> Option<String> {
        let ring = self.ring();
        ring.primary_owner(key)
            .filter(|m| m.node_id != self.local_node_id && m.address != advertise_address)
            .map(|m| m.address.clone())
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
    /// labels (see [`discovered_target_labels`]), and those it owned under a
    /// ring replaced less than `2 × scrape_interval(job)` before `now` (the
    /// hand-over grace), as long as someone owns them now. The new owner
    /// sees the same view at about the same time and starts at once; its
    /// first scrape falls due within one interval, and the old owner covers
    /// one more interval after that, so the series has no gap (queries
    /// merge the overlap). Groups left empty are kept (empty), so a scrape
    /// pool sees its targets go away. Sets `promshard_cluster_owned_targets`.
    ///
    /// A target nobody owns under the current ring (an empty view) stays:
    /// better scraped twice than not at all.
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

    /// When the next hand-over grace still to come after `now` ends, for a
    /// job scraped every `scrape_interval`: re-filter then to drop the
    /// targets kept for it. `None` when no grace is running.
    pub fn handover_deadline_at(
        &self,
        scrape_interval: Duration,
        now: SystemTime,
    ) -> Option<SystemTime> {
        self.history
            .read()
            .iter()
            .map(|(_, replaced_at)| *replaced_at + scrape_interval * 2)
            .filter(|deadline| *deadline > now)
            .min()
    }
}

#[cfg(test)]
mod tests;
