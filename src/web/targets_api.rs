//! The targets and metadata half of the Prometheus HTTP API.
