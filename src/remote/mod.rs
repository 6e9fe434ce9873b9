//! Remote write and remote read: the protobuf messages, the snappy codec,
//! the push receiver and the remote-read server.

pub mod codec;
pub mod proto;
pub mod read;
pub mod receiver;
