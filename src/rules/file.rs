//! The Prometheus rule-file model: groups and rules, with validation.
