//! promshard: a Prometheus-compatible monitoring node that scales out.
//!
//! One module per pipeline stage; dependencies point one way, down this
//! list. See `DESIGN.md` in the shared folder for the data flow and seams.

#![warn(missing_docs)]

pub mod cluster;
pub mod config;
pub mod discovery;
pub mod http_client;
pub mod lifecycle;
pub mod model;
pub mod notify;
pub mod promql;
pub mod remote;
pub mod rules;
pub mod scrape;
pub mod storage;
pub mod tsdb;
pub mod web;
