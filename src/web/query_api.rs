//! The query half of the Prometheus HTTP API.
