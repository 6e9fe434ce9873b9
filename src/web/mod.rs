//! The HTTP API and UI.

pub mod query_api;
pub mod targets_api;
