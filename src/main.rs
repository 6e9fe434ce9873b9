//! The promshard binary: flags and wiring only.
fn main() {}
