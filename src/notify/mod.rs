//! Alert grouping, dedup, inhibition, silences and receivers.
