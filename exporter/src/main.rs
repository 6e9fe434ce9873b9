//! promshard-exporter: placeholder, filled in by the exporter work.
fn main() {}
