//! Samples and the staleness marker.

/// The bit pattern of Prometheus's staleness marker, a NaN that ends a series.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a float. Compare with [`is_stale_nan`], never
/// with `==` (NaN is unequal to itself).
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is exactly the staleness marker (other NaNs are values).
#[inline]
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One float sample: a millisecond timestamp and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; may be NaN, ±Inf or the staleness marker.
    pub v: f64,
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_nan_is_distinct_from_nan() {
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
        assert!(stale_nan().is_nan());
    }
}
