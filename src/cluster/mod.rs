//! Cluster membership, the hash ring and target ownership.
//!
//! - [`ring`]: the consistent hash ring with virtual nodes; keys of targets
//!   (their post-relabel labels) and rule groups (file + group name).
//! - [`kv`]: the key-value store membership needs, as a trait, with etcd
//!   ([`kv_etcd`]) and an in-memory twin ([`kv_memory`]), both checked by
//!   one conformance suite.

pub mod kv;
pub mod kv_etcd;
pub mod kv_memory;
pub mod ring;

#[cfg(test)]
mod kv_conformance;
#[cfg(test)]
mod test_etcd;

pub use kv::{KvError, KvStore};
pub use kv_etcd::EtcdKv;
pub use kv_memory::MemoryKv;
pub use ring::{DEFAULT_VIRTUAL_NODES, Member, Ring, rule_group_key, target_key};
