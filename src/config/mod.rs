//! The `prometheus.yml`-compatible configuration model.
