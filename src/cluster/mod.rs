//! Cluster membership, the hash ring and target ownership.
