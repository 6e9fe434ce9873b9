//! Parsers for the Prometheus text format 0.0.4 and OpenMetrics 1.0.
