//! Durations in Prometheus's `model.Duration` syntax: `15s`, `1m`, `1h30m`,
//! `1d`, `1w`, `1y`, `500ms` and `0`, units in descending order, each at
//! most once, integers only.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

const MILLIS_PER_SECOND: u64 = 1_000;
const MILLIS_PER_MINUTE: u64 = 60 * MILLIS_PER_SECOND;
const MILLIS_PER_HOUR: u64 = 60 * MILLIS_PER_MINUTE;
const MILLIS_PER_DAY: u64 = 24 * MILLIS_PER_HOUR;
const MILLIS_PER_WEEK: u64 = 7 * MILLIS_PER_DAY;
const MILLIS_PER_YEAR: u64 = 365 * MILLIS_PER_DAY;

/// The units in the order Prometheus requires them, with their size in ms.
const UNITS: [(&str, u64); 7] = [
    ("y", MILLIS_PER_YEAR),
    ("w", MILLIS_PER_WEEK),
    ("d", MILLIS_PER_DAY),
    ("h", MILLIS_PER_HOUR),
    ("m", MILLIS_PER_MINUTE),
    ("s", MILLIS_PER_SECOND),
    ("ms", 1),
];

/// A duration written in Prometheus's syntax; millisecond precision.
///
/// Zero means "unset" wherever Prometheus treats it so (a scrape config's
/// `scrape_interval`, for example, then inherits the global one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(Duration);

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string was empty.
    #[error("empty duration string")]
    Empty,
    /// The string does not follow the syntax.
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    /// The value does not fit in 64-bit milliseconds.
    #[error("duration out of range: {0:?}")]
    OutOfRange(String),
}

impl PromDuration {
    /// The zero duration.
    pub const ZERO: PromDuration = PromDuration(Duration::ZERO);

    /// A duration of whole seconds.
    pub const fn from_secs(seconds: u64) -> Self {
        PromDuration(Duration::from_secs(seconds))
    }

    /// A duration of milliseconds.
    pub const fn from_millis(milliseconds: u64) -> Self {
        PromDuration(Duration::from_millis(milliseconds))
    }

    /// The standard-library duration.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// Whole milliseconds.
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }

    /// True for zero ("unset" in the fields where Prometheus reads it so).
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Parses Prometheus's syntax.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        if text.is_empty() {
            return Err(DurationError::Empty);
        }
        if text == "0" {
            return Ok(PromDuration::ZERO);
        }
        let invalid = || DurationError::Invalid(text.to_string());
        let mut rest = text.as_bytes();
        let mut next_unit_index = 0;
        let mut total_millis: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return Err(invalid());
            }
            let number_text = std::str::from_utf8(&rest[..digits]).map_err(|_| invalid())?;
            let number: u64 = number_text
                .parse()
                .map_err(|_| DurationError::OutOfRange(text.to_string()))?;
            rest = &rest[digits..];
            let unit_len = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            let unit = std::str::from_utf8(&rest[..unit_len]).map_err(|_| invalid())?;
            rest = &rest[unit_len..];
            let position = UNITS[next_unit_index..]
                .iter()
                .position(|(name, _)| *name == unit)
                .ok_or_else(invalid)?;
            let (_, unit_millis) = UNITS[next_unit_index + position];
            next_unit_index += position + 1;
            total_millis = number
                .checked_mul(unit_millis)
                .and_then(|millis| total_millis.checked_add(millis))
                .filter(|millis| *millis <= i64::MAX as u64)
                .ok_or_else(|| DurationError::OutOfRange(text.to_string()))?;
        }
        Ok(PromDuration::from_millis(total_millis))
    }
}

impl From<Duration> for PromDuration {
    fn from(duration: Duration) -> Self {
        PromDuration(duration)
    }
}

impl From<PromDuration> for Duration {
    fn from(duration: PromDuration) -> Self {
        duration.0
    }
}

impl std::str::FromStr for PromDuration {
    type Err = DurationError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        PromDuration::parse(text)
    }
}

impl fmt::Display for PromDuration {
    /// Formats as Prometheus does: largest units first, `0s` for zero;
    /// years and weeks only when they divide the duration exactly (`90d`,
    /// not `12w6d`).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut remaining = self.as_millis();
        if remaining == 0 {
            return formatter.write_str("0s");
        }
        for (unit, unit_millis) in UNITS {
            let exact_only = unit_millis >= MILLIS_PER_WEEK;
            if exact_only && !remaining.is_multiple_of(unit_millis) {
                continue;
            }
            if remaining >= unit_millis {
                write!(formatter, "{}{unit}", remaining / unit_millis)?;
                remaining %= unit_millis;
            }
        }
        Ok(())
    }
}

impl Serialize for PromDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A bare YAML `0` arrives as an integer.
        let text = scalar_text(deserializer, "a duration such as 15s, 1m or 1h30m")?;
        PromDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Reads a YAML scalar written as text or a number (`0`, `10MB`, `15s`)
/// as text; anything else is an error saying what was `expected`.
pub(crate) fn scalar_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    expected: &'static str,
) -> Result<String, D::Error> {
    struct ScalarVisitor(&'static str);
    impl serde::de::Visitor<'_> for ScalarVisitor {
        type Value = String;
        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str(self.0)
        }
        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<String, E> {
            Ok(value.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<String, E> {
            Ok(value.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<String, E> {
            Ok(value.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<String, E> {
            Ok(value.to_string())
        }
    }
    deserializer.deserialize_any(ScalarVisitor(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_duration_syntax() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("0s", 0),
            ("15s", 15_000),
            ("1m", 60_000),
            ("1h30m", 5_400_000),
            ("1d", 86_400_000),
            ("1w", 604_800_000),
            ("1y", 31_536_000_000),
            ("500ms", 500),
            ("1m30s500ms", 90_500),
            (
                "1y2w3d4h5m6s7ms",
                31_536_000_000
                    + 2 * 604_800_000
                    + 3 * 86_400_000
                    + 4 * 3_600_000
                    + 5 * 60_000
                    + 6_000
                    + 7,
            ),
        ];
        for (text, millis) in cases {
            assert_eq!(
                PromDuration::parse(text),
                Ok(PromDuration::from_millis(*millis)),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        for text in [
            "", "1", "1.5s", "-1s", "1x", "s", "30s1m", "1m1m", "1h 30m", " 1s", "1S", "1sm",
        ] {
            assert!(
                PromDuration::parse(text).is_err(),
                "{text:?} should be rejected"
            );
        }
        assert_eq!(PromDuration::parse(""), Err(DurationError::Empty));
        assert!(matches!(
            PromDuration::parse("99999999999y"),
            Err(DurationError::OutOfRange(_))
        ));
    }

    #[test]
    fn formats_like_prometheus_and_round_trips() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (15_000, "15s"),
            (5_400_000, "1h30m"),
            (604_800_000, "1w"),
            (86_400_000 * 8, "8d"),
            (86_400_000 * 15, "15d"),
            (86_400_000 * 14, "2w"),
            (86_400_000 * 365, "1y"),
            (1_500, "1s500ms"),
        ];
        for (millis, text) in cases {
            let duration = PromDuration::from_millis(*millis);
            assert_eq!(duration.to_string(), *text);
            assert_eq!(PromDuration::parse(text), Ok(duration));
        }
    }
}
