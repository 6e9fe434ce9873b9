//! Cluster membership, the hash ring and target ownership.
//!
//! - [`ring`]: the consistent hash ring with virtual nodes; keys of targets
//!   (their post-relabel labels) and rule groups (file + group name).
//! - [`kv`]: the key-value store membership needs, as a trait, with etcd
//!   ([`kv_etcd`]) and an in-memory twin ([`kv_memory`]), both checked by
//!   one conformance suite.
//! - [`membership`]: who is in the cluster (none, static, etcd), published
//!   as a [`ClusterView`] on a watch channel.
//! - [`ownership`]: which targets and rule groups this node owns under the
//!   current view, and the rings recent changes replaced.
//! - [`routing`]: the stage between discovery and scrape: the owned
//!   targets go to scrape, moved ones end without staleness markers, and
//!   the hand-over grace has its own timer.
//! - [`status`]: `/api/v1/status/cluster` and `promshard cluster ring`.
//! - [`global`]: the global query view (local TSDB + every live peer over
//!   remote read, `?local=true`).
//! - [`peers`]: the one client for node-to-node calls (samples, labels,
//!   rules and alerts, silences) and the one list of peers.
//!
//! Wiring (in `node.rs`): `ClusterMetrics::register(&registry)`,
//! `Membership::start(&settings, metrics.clone())`,
//! `Ownership::new(&settings, metrics)` in an `Arc`, a [`TargetRouting`]
//! over it whose `run(membership.subscribe(), discovery, scrape, cancel)`
//! feeds scrape; rules ask `owns_rule_group`; on shutdown
//! `membership.shutdown().await` deregisters.

pub mod global;
pub mod kv;
pub mod kv_etcd;
pub mod kv_memory;
pub mod membership;
pub mod metrics;
pub mod overlap;
pub mod ownership;
pub mod peers;
pub mod ring;
pub mod routing;
pub mod settings;
pub mod stages;
pub mod status;

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod kv_conformance;
#[cfg(test)]
mod test_etcd;

pub use global::GlobalQueryView;
pub use kv::{KvError, KvStore};
pub use kv_etcd::EtcdKv;
pub use kv_memory::MemoryKv;
pub use membership::{ClusterView, Membership, MembershipError};
pub use metrics::ClusterMetrics;
pub use ownership::{MovedAway, Ownership, TargetGroup, discovered_target_labels};
pub use ring::{DEFAULT_VIRTUAL_NODES, Member, Ring, rule_group_key, target_key};
pub use routing::{Clock, SystemClock, TargetRouting, TargetSink};
pub use settings::{ClusterMode, ClusterOverrides, ClusterSettings, EtcdSettings};
pub use status::{print_ring, print_ring_for_members, status_json};
