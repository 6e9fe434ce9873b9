//! Number parsing with the semantics of Prometheus's parsers.
//!
//! Sample values use Go's `strconv.ParseFloat` syntax minus what Prometheus
//! rejects up front (`p`, `P` and `_`, which keeps to pre-Go-1.13 formats, so
//! hex floats are refused): an optional sign, decimal digits with an optional
//! point and exponent, `Inf`/`Infinity` (any case, optional sign) and `NaN`
//! (any case, no sign). A finite literal out of the float range is an error,
//! as Go reports `ErrRange`. Every NaN becomes Prometheus's canonical NaN
//! (`0x7ff8000000000001`), so input can never forge a staleness marker.

use std::fmt::Write as _;

/// Prometheus's `value.NormalNaN`: the NaN produced for every parsed NaN.
pub const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// Exact powers of ten up to 10^15 (all representable exactly in an f64).
const POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Parses a sample value; `None` when Prometheus would reject it.
#[inline]
pub(super) fn parse_value(token: &[u8]) -> Option<f64> {
    match parse_short_decimal(token) {
        Some(value) => Some(value),
        None => parse_value_slow(token),
    }
}

/// The fast path: `[+-]?digits[.digits]` with at most 15 digits. The digits
/// form an exact integer below 2^53 and the divisor is an exact power of ten,
/// so the one division is correctly rounded, as `ParseFloat` is.
#[inline]
fn parse_short_decimal(token: &[u8]) -> Option<f64> {
    let (negative, digits) = match token.first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    };
    let mut mantissa: u64 = 0;
    let mut digit_count = 0usize;
    let mut fraction_digits = 0usize;
    let mut seen_point = false;
    for &byte in digits {
        match byte {
            b'0'..=b'9' => {
                digit_count += 1;
                if digit_count > 15 {
                    return None;
                }
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                if seen_point {
                    fraction_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if digit_count == 0 {
        return None;
    }
    let magnitude = mantissa as f64 / POWERS_OF_TEN[fraction_digits];
    Some(if negative { -magnitude } else { magnitude })
}

fn parse_value_slow(token: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(token).ok()?;
    if !is_go_float_syntax(text.as_bytes()) {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    if value.is_nan() {
        return Some(f64::from_bits(NORMAL_NAN_BITS));
    }
    if value.is_infinite() && !is_infinity_literal(text.as_bytes()) {
        // Go's ParseFloat reports ErrRange for finite literals that overflow.
        return None;
    }
    Some(value)
}

fn is_infinity_literal(text: &[u8]) -> bool {
    let unsigned = match text.first() {
        Some(b'+' | b'-') => &text[1..],
        _ => text,
    };
    unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity")
}

/// Whether `text` is a decimal float, infinity or NaN in Go's syntax.
fn is_go_float_syntax(text: &[u8]) -> bool {
    if text.eq_ignore_ascii_case(b"nan") || is_infinity_literal(text) {
        return true;
    }
    let mut rest = match text.first() {
        Some(b'+' | b'-') => &text[1..],
        _ => text,
    };
    let integer_digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    rest = &rest[integer_digits..];
    let mut fraction_digits = 0;
    if let Some(b'.') = rest.first() {
        rest = &rest[1..];
        fraction_digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        rest = &rest[fraction_digits..];
    }
    if integer_digits + fraction_digits == 0 {
        return false;
    }
    if let Some(b'e' | b'E') = rest.first() {
        rest = &rest[1..];
        if let Some(b'+' | b'-') = rest.first() {
            rest = &rest[1..];
        }
        let exponent_digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if exponent_digits == 0 {
            return false;
        }
        rest = &rest[exponent_digits..];
    }
    rest.is_empty()
}

/// Parses a text-format timestamp: decimal digits only, as an i64.
#[inline]
pub(super) fn parse_millis(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(byte - b'0'))?;
    }
    Some(value)
}

/// Parses an OpenMetrics timestamp (float seconds) into milliseconds,
/// truncating toward zero as Prometheus's `int64(ts * 1000)` does. NaN and
/// infinities are rejected.
pub(super) fn parse_seconds_as_millis(token: &[u8]) -> Option<i64> {
    let seconds = parse_value(token)?;
    if !seconds.is_finite() {
        return None;
    }
    Some((seconds * 1000.0) as i64)
}

/// A small stack buffer for formatting floats without allocating.
struct StackText {
    bytes: [u8; 48],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends `value` formatted as Prometheus's `formatOpenMetricsFloat` does
/// (Go's shortest `%g`, plus `.0` when the result has neither a point nor an
/// exponent; `NaN`, `+Inf`, `-Inf`). Used to normalise `le` and `quantile`.
pub(super) fn format_openmetrics_float(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if value.is_sign_negative() {
        out.push('-');
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, as Go's -1
    // precision does: "d[.ddd]e[-]x".
    let mut scientific = StackText {
        bytes: [0; 48],
        len: 0,
    };
    if write!(scientific, "{:e}", value.abs()).is_err() {
        out.push_str("NaN");
        return;
    }
    let text = &scientific.bytes[..scientific.len];
    let exponent_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let mut digits = [0u8; 24];
    let mut digit_count = 0;
    for &byte in &text[..exponent_at] {
        if byte.is_ascii_digit() && digit_count < digits.len() {
            digits[digit_count] = byte;
            digit_count += 1;
        }
    }
    let digits = &digits[..digit_count];
    let exponent: i32 = std::str::from_utf8(text.get(exponent_at + 1..).unwrap_or_default())
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let as_str = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    if !(-4..6).contains(&exponent) {
        out.push_str(&as_str(&digits[..1]));
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&as_str(&digits[1..]));
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
        return;
    }
    if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(&as_str(digits));
        return;
    }
    let integer_len = exponent as usize + 1;
    if digits.len() <= integer_len {
        out.push_str(&as_str(digits));
        for _ in digits.len()..integer_len {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(&as_str(&digits[..integer_len]));
        out.push('.');
        out.push_str(&as_str(&digits[integer_len..]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_prometheus_accepts() {
        let cases: &[(&str, f64)] = &[
            ("0", 0.0),
            ("1", 1.0),
            ("-1.5", -1.5),
            ("+2", 2.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("2.5e-3", 0.0025),
            ("1.726839813016397e+09", 1.726839813016397e9),
            ("0.30000000000000004", 0.30000000000000004),
            ("123456789012345678", 123456789012345678.0),
            ("-0.0007899999999999999", -0.0007899999999999999),
            ("1e-400", 0.0),
            ("+Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("inf", f64::INFINITY),
            ("+infinity", f64::INFINITY),
            ("INFINITY", f64::INFINITY),
        ];
        for &(text, expected) in cases {
            assert_eq!(parse_value(text.as_bytes()), Some(expected), "{text}");
        }
    }

    #[test]
    fn nan_is_canonical() {
        for text in ["NaN", "nan", "NAN"] {
            let value = parse_value(text.as_bytes()).map(f64::to_bits);
            assert_eq!(value, Some(NORMAL_NAN_BITS), "{text}");
        }
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        for text in [
            "",
            "+",
            "-",
            ".",
            "e1",
            "1e",
            "1e+",
            "1.2.3",
            "0x1p-2",
            "0x10",
            "1_000",
            "1p5",
            "+NaN",
            "-nan",
            "infin",
            "Infinityy",
            "1e400",
            "-1e400",
            "1,5",
            " 1",
            "1 ",
            "١",
            "0X1P2",
            "nan1",
        ] {
            assert_eq!(parse_value(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn fast_path_matches_the_standard_parser() {
        for text in [
            "0.1",
            "0.7",
            "123.456",
            "9.99999999999999",
            "999999999999999",
            "0.00000000000001",
            "-12345.6789",
        ] {
            let expected: f64 = text.parse().unwrap_or(f64::NAN);
            assert_eq!(
                parse_short_decimal(text.as_bytes()),
                Some(expected),
                "{text}"
            );
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_millis(b"1726839813016"), Some(1726839813016));
        assert_eq!(parse_millis(b"99999999999999999999"), None);
        assert_eq!(parse_millis(b""), None);
        assert_eq!(parse_seconds_as_millis(b"1.5"), Some(1500));
        assert_eq!(
            parse_seconds_as_millis(b"1.7268398142239082e+09"),
            Some(1726839814223)
        );
        assert_eq!(parse_seconds_as_millis(b"-1.5"), Some(-1500));
        assert_eq!(parse_seconds_as_millis(b"NaN"), None);
        assert_eq!(parse_seconds_as_millis(b"+Inf"), None);
    }

    #[test]
    fn openmetrics_float_format_matches_go() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.0, "0.0"),
            (0.5, "0.5"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1.5e6, "1.5e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.00099, "-0.00099"),
            (2.5e-7, "2.5e-07"),
            (123.25, "123.25"),
            (1e100, "1e+100"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for &(value, expected) in cases {
            let mut out = String::new();
            format_openmetrics_float(value, &mut out);
            assert_eq!(out, expected, "{value}");
        }
    }
}
