//! Cluster membership, the hash ring and target ownership.
//!
//! - [`ring`]: the consistent hash ring with virtual nodes; keys of targets
//!   (their post-relabel labels) and rule groups (file + group name).

pub mod ring;

pub use ring::{DEFAULT_VIRTUAL_NODES, Member, Ring, rule_group_key, target_key};
