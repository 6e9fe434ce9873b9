//! Prometheus text format 0.0.4 specific rules.
