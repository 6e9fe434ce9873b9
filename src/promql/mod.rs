//! The PromQL evaluation engine.
