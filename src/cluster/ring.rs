//! The consistent hash ring: members spread `virtual_nodes` tokens each over
//! the `u64` space; a key belongs to the member owning the first token at or
//! after it (wrapping), and with a replication factor R to the next R
//! distinct members walking clockwise.
//!
//! Token positions are `xxh3(node_id, 0xff, index as u32 little-endian)`, so
//! every node, process and version computes the same ring from the same
//! member set, whatever order the members were listed in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::model::labels::Labels;

/// The number of tokens each member places on the ring unless configured
/// otherwise. At 512 the ring's own imbalance is small next to the
/// binomial spread of hashing 1,000 targets at all (which rendezvous
/// hashing shows as the floor); 256 leaves twice as many member sets over
/// 1.10 × the fair share. See `benches/ring.rs` for the measured spread.
pub const DEFAULT_VIRTUAL_NODES: usize = 512;

/// One node of the cluster as the ring sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Member {
    /// The node's id, unique in the cluster (`cluster.node_id`).
    pub node_id: String,
    /// The address peers reach the node at (`host:port`).
    pub address: String,
}

impl Member {
    /// A member with the given id and address.
    pub fn new(node_id: impl Into<String>, address: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
            address: address.into(),
        }
    }
}

/// The ring key of a scrape target: the stable hash of its post-relabel
/// label set, identical on every node.
pub fn target_key(target_labels: &Labels) -> u64 {
    target_labels.stable_hash()
}

/// The ring key of a rule group: a stable hash of its file and group name.
pub fn rule_group_key(file: &str, group_name: &str) -> u64 {
    let mut hasher = Xxh3::new();
    hasher.update(file.as_bytes());
    // A separator byte that cannot occur in UTF-8 keeps ("ab", "c") and
    // ("a", "bc") apart.
    hasher.update(&[0xff]);
    hasher.update(group_name.as_bytes());
    hasher.digest()
}

/// The position of a member's `index`-th token.
pub fn token_position(node_id: &str, index: u32) -> u64 {
    let mut buffer = Vec::with_capacity(node_id.len() + 5);
    buffer.extend_from_slice(node_id.as_bytes());
    buffer.push(0xff);
    buffer.extend_from_slice(&index.to_le_bytes());
    xxh3_64(&buffer)
}

/// A consistent hash ring over a member set. Immutable: a new member set
/// builds a new ring (cheap: 100 members × 256 tokens take about a
/// millisecond). `Send + Sync`; share it behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Ring {
    /// Members sorted by node id, without duplicates.
    members: Vec<Member>,
    /// `(position, index into members)`, sorted by position then member.
    tokens: Vec<(u64, u32)>,
    virtual_nodes: usize,
}

impl Ring {
    /// Builds the ring. Members are deduplicated by node id (the first
    /// address listed wins) and their order does not matter. A
    /// `virtual_nodes` of 0 is treated as 1.
    pub fn new(members: &[Member], virtual_nodes: usize) -> Self {
        let mut by_id: BTreeMap<&str, &Member> = BTreeMap::new();
        for member in members {
            by_id.entry(member.node_id.as_str()).or_insert(member);
        }
        let sorted_members: Vec<Member> = by_id.into_values().cloned().collect();
        let virtual_nodes = virtual_nodes.max(1);
        let mut tokens = Vec::with_capacity(sorted_members.len() * virtual_nodes);
        for (member_index, member) in sorted_members.iter().enumerate() {
            for token_index in 0..virtual_nodes {
                tokens.push((
                    token_position(&member.node_id, token_index as u32),
                    member_index as u32,
                ));
            }
        }
        // Ties in position (astronomically rare) are broken by member order,
        // which is by node id, so every node still agrees.
        tokens.sort_unstable();
        Self {
            members: sorted_members,
            tokens,
            virtual_nodes,
        }
    }

    /// The members, sorted by node id.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Whether the ring has no members (then nothing is owned by anyone).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The number of tokens on the ring (members × virtual nodes).
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }

    /// Tokens per member.
    pub fn virtual_nodes(&self) -> usize {
        self.virtual_nodes
    }

    /// Whether a member with this id is on the ring.
    pub fn contains(&self, node_id: &str) -> bool {
        self.member_index(node_id).is_some()
    }

    fn member_index(&self, node_id: &str) -> Option<u32> {
        self.members
            .binary_search_by(|member| member.node_id.as_str().cmp(node_id))
            .ok()
            .map(|index| index as u32)
    }

    /// The index in `tokens` of the first token at or after `key`, wrapping.
    fn first_token_at_or_after(&self, key: u64) -> usize {
        let index = self.tokens.partition_point(|&(position, _)| position < key);
        if index == self.tokens.len() { 0 } else { index }
    }

    /// The owners of `key`: `replication_factor` distinct members (fewer if
    /// the ring has fewer members), primary first. Empty for an empty ring
    /// or a replication factor of 0.
    pub fn owners(&self, key: u64, replication_factor: usize) -> Vec<&Member> {
        let wanted = replication_factor.min(self.members.len());
        let mut owners: Vec<&Member> = Vec::with_capacity(wanted);
        if wanted == 0 {
            return owners;
        }
        let start = self.first_token_at_or_after(key);
        for step in 0..self.tokens.len() {
            let (_, member_index) = self.tokens[(start + step) % self.tokens.len()];
            let member = &self.members[member_index as usize];
            if !owners.iter().any(|owner| owner.node_id == member.node_id) {
                owners.push(member);
                if owners.len() == wanted {
                    break;
                }
            }
        }
        owners
    }

    /// The primary owner of `key`, if the ring has members.
    pub fn primary_owner(&self, key: u64) -> Option<&Member> {
        if self.tokens.is_empty() {
            return None;
        }
        let (_, member_index) = self.tokens[self.first_token_at_or_after(key)];
        Some(&self.members[member_index as usize])
    }

    /// Whether `node_id` is one of the `replication_factor` owners of `key`.
    /// Allocation-free for R = 1, the common case.
    pub fn owns(&self, node_id: &str, key: u64, replication_factor: usize) -> bool {
        let Some(wanted_index) = self.member_index(node_id) else {
            return false;
        };
        if replication_factor == 0 {
            return false;
        }
        if replication_factor == 1 {
            let (_, member_index) = self.tokens[self.first_token_at_or_after(key)];
            return member_index == wanted_index;
        }
        self.owners(key, replication_factor)
            .iter()
            .any(|owner| owner.node_id == node_id)
    }
}

#[cfg(test)]
mod tests;
