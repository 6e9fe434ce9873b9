//! OpenMetrics 1.0 specific rules.
