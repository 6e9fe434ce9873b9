//! Byte sizes in the syntax Prometheus uses for `body_size_limit`
//! (alecthomas/units `Base2Bytes`): `10MB`, `512KiB`, `1GB`, `1MB512KB`, `0`.
//! All units are powers of 1024, whether written `MB` or `MiB`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::duration::scalar_text;

const UNITS: [(&str, u64); 15] = [
    ("B", 1),
    ("KB", 1 << 10),
    ("KiB", 1 << 10),
    ("MB", 1 << 20),
    ("MiB", 1 << 20),
    ("GB", 1 << 30),
    ("GiB", 1 << 30),
    ("TB", 1 << 40),
    ("TiB", 1 << 40),
    ("PB", 1 << 50),
    ("PiB", 1 << 50),
    ("EB", 1 << 60),
    ("EiB", 1 << 60),
    ("K", 1 << 10),
    ("M", 1 << 20),
];

/// A size in bytes; zero means "no limit" in the limit fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// Why a size string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByteSizeError {
    /// The string does not follow the syntax.
    #[error("invalid byte size {0:?}: expected a number with a unit such as 10MB, 512KiB or 1GB")]
    Invalid(String),
    /// The value does not fit in 64 bits.
    #[error("byte size {0:?} is too large")]
    TooLarge(String),
}

impl ByteSize {
    /// Parses `10MB`, `1.5GiB`, `1MB512KB` or `0`.
    pub fn parse(text: &str) -> Result<Self, ByteSizeError> {
        if text == "0" {
            return Ok(ByteSize(0));
        }
        let invalid = || ByteSizeError::Invalid(text.to_string());
        if text.is_empty() {
            return Err(invalid());
        }
        let mut rest = text;
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|character: char| !(character.is_ascii_digit() || character == '.'))
                .ok_or_else(invalid)?;
            if number_len == 0 {
                return Err(invalid());
            }
            let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|character: char| !character.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let (_, multiplier) = UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .ok_or_else(invalid)?;
            total += number * (*multiplier as f64);
        }
        if total >= u64::MAX as f64 {
            return Err(ByteSizeError::TooLarge(text.to_string()));
        }
        Ok(ByteSize(total as u64))
    }

    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// The size as Prometheus's flags page writes it (alecthomas/units
    /// `Base2Bytes.String`): binary units, largest first (`1GiB`,
    /// `1KiB512B`, `0B`). [`ByteSize::parse`] reads it back.
    pub fn base2_text(self) -> String {
        if self.0 == 0 {
            return "0B".into();
        }
        let mut rest = self.0;
        let mut out = String::new();
        for (unit, multiplier) in BINARY_UNITS {
            if rest >= multiplier {
                out.push_str(&format!("{}{unit}", rest / multiplier));
                rest %= multiplier;
            }
        }
        out
    }
}

/// The binary units, largest first, as [`ByteSize::base2_text`] writes them.
const BINARY_UNITS: [(&str, u64); 7] = [
    ("EiB", 1 << 60),
    ("PiB", 1 << 50),
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

impl fmt::Display for ByteSize {
    /// The largest binary unit that divides the size exactly (`10MB`).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return formatter.write_str("0B");
        }
        for (unit, multiplier) in [
            ("EB", 1u64 << 60),
            ("PB", 1 << 50),
            ("TB", 1 << 40),
            ("GB", 1 << 30),
            ("MB", 1 << 20),
            ("KB", 1 << 10),
        ] {
            if self.0.is_multiple_of(multiplier) {
                return write!(formatter, "{}{unit}", self.0 / multiplier);
            }
        }
        write!(formatter, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = scalar_text(deserializer, "a size such as 10MB")?;
        ByteSize::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_base2_units_like_prometheus() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("512B", 512),
            ("1KB", 1024),
            ("1KiB", 1024),
            ("10MB", 10 * 1024 * 1024),
            ("10MiB", 10 * 1024 * 1024),
            ("1GB", 1 << 30),
            ("1.5GB", 3 << 29),
            ("1MB512KB", (1 << 20) + 512 * 1024),
        ];
        for (text, bytes) in cases {
            assert_eq!(ByteSize::parse(text), Ok(ByteSize(*bytes)), "{text}");
        }
    }

    #[test]
    fn rejects_sizes_without_units_or_with_unknown_units() {
        for text in ["", "10", "MB", "10XB", "-1MB", "10 MB"] {
            assert!(
                ByteSize::parse(text).is_err(),
                "{text:?} should be rejected"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for bytes in [0u64, 1, 1024, 10 << 20, (1 << 20) + 1] {
            let size = ByteSize(bytes);
            assert_eq!(ByteSize::parse(&size.to_string()), Ok(size));
        }
    }
}
