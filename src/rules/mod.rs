//! Recording and alerting rules.

pub mod file;
