//! Remote write and remote read: the protobuf messages, the snappy codec,
//! the push receiver, the remote-read server and the remote-write sender
//! (queues with shards and retries behind the [`client::WriteClient`] seam).

pub mod client;
pub mod codec;
pub mod encode;
pub mod metrics;
pub mod proto;
pub mod queue;
pub mod read;
pub mod read_client;
pub mod read_sources;
pub mod receiver;
pub mod watcher;
pub mod write;
