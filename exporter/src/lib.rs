//! promshard-exporter: a cheap host exporter serving node_exporter-compatible
//! metrics (same names, labels, types and help texts) on `/metrics`, so
//! existing node_exporter dashboards work unchanged.
//!
//! It reads `/proc` directly into reused buffers and writes the text format
//! straight into the response, so a scrape costs a fraction of a millisecond.
#![warn(missing_docs)]

pub mod collectors;
pub mod exposition;
pub mod host_collector;
pub mod logfmt;
pub mod server;

pub use host_collector::{CollectorConfig, HostCollector};
