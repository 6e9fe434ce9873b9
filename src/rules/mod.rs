//! Recording and alerting rules.

pub mod file;
pub mod template;
