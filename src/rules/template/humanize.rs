//! Prometheus's humanizing template functions: SI and binary prefixes,
//! durations, percentages and timestamps, with Go's `%.4g`.

use super::format::go_format_float;

/// `%.4g` as Go prints it.
pub fn four_digits(value: f64) -> String {
    go_format_float(value, 'g', Some(4))
}

/// `value` divided by `base` until below it, with the prefix of the last
/// division (none if `value` is already below `base`).
fn scale_down(value: f64, base: f64, prefixes: [&'static str; 8]) -> (f64, &'static str) {
    let mut scaled = value;
    let mut prefix = "";
    for next in prefixes {
        if scaled.abs() < base {
            break;
        }
        prefix = next;
        scaled /= base;
    }
    (scaled, prefix)
}

/// `value` multiplied by 1000 until at least one, with its SI prefix.
fn scale_below_one(value: f64) -> (f64, &'static str) {
    let mut scaled = value;
    let mut prefix = "";
    for next in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if scaled.abs() >= 1.0 {
            break;
        }
        prefix = next;
        scaled *= 1000.0;
    }
    (scaled, prefix)
}

pub fn humanize(value: f64) -> String {
    if value == 0.0 || value.is_nan() || value.is_infinite() {
        return four_digits(value);
    }
    let (scaled, prefix) = if value.abs() >= 1.0 {
        scale_down(value, 1000.0, ["k", "M", "G", "T", "P", "E", "Z", "Y"])
    } else {
        scale_below_one(value)
    };
    format!("{}{prefix}", four_digits(scaled))
}

pub fn humanize_1024(value: f64) -> String {
    if value.abs() <= 1.0 || value.is_nan() || value.is_infinite() {
        return four_digits(value);
    }
    let (scaled, prefix) = scale_down(
        value,
        1024.0,
        ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"],
    );
    format!("{}{prefix}", four_digits(scaled))
}

pub fn humanize_duration(value: f64) -> String {
    if value.is_nan() || value.is_infinite() {
        return four_digits(value);
    }
    if value == 0.0 {
        return format!("{}s", four_digits(value));
    }
    if value.abs() >= 1.0 {
        let sign = if value < 0.0 { "-" } else { "" };
        let magnitude = value.abs();
        let whole = magnitude as i64;
        let seconds = whole % 60;
        let minutes = (whole / 60) % 60;
        let hours = (whole / 3600) % 24;
        let days = whole / 86400;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", four_digits(magnitude));
    }
    let (scaled, prefix) = scale_below_one(value);
    format!("{}{prefix}s", four_digits(scaled))
}

/// Go's `time.Time.String()` of a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC`.
pub fn humanize_timestamp(value: f64) -> String {
    if value.is_nan() || value.is_infinite() {
        return four_digits(value);
    }
    let seconds = value.floor() as i64;
    // Prometheus keeps millisecond precision.
    let nanos = (((value - value.floor()) * 1000.0).round() as u32) * 1_000_000;
    match chrono::DateTime::from_timestamp(seconds, nanos.min(999_999_999)) {
        Some(time) => {
            let mut text = time.format("%Y-%m-%d %H:%M:%S").to_string();
            if nanos > 0 {
                let fraction = format!("{:09}", nanos.min(999_999_999));
                text.push('.');
                text.push_str(fraction.trim_end_matches('0'));
            }
            text.push_str(" +0000 UTC");
            text
        }
        None => four_digits(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizers_match_prometheus() {
        type Humanizer = fn(f64) -> String;
        let cases: &[(Humanizer, f64, &str)] = &[
            (humanize, 0.0, "0"),
            (humanize, 1234567.0, "1.235M"),
            (humanize, 12.5, "12.5"),
            (humanize, 0.00123, "1.23m"),
            (humanize, -1500.0, "-1.5k"),
            (humanize_1024, 1024.0, "1ki"),
            (humanize_1024, 1048576.0 * 3.5, "3.5Mi"),
            (humanize_1024, 0.5, "0.5"),
            (humanize_duration, 0.0, "0s"),
            (humanize_duration, 1.0, "1s"),
            (humanize_duration, 60.0, "1m 0s"),
            (humanize_duration, 3661.0, "1h 1m 1s"),
            (humanize_duration, 90061.0, "1d 1h 1m 1s"),
            (humanize_duration, 0.25, "250ms"),
            (humanize_duration, 1.5, "1.5s"),
            (
                humanize_timestamp,
                1435065584.128,
                "2015-06-23 13:19:44.128 +0000 UTC",
            ),
            (humanize_timestamp, 0.0, "1970-01-01 00:00:00 +0000 UTC"),
        ];
        for (function, input, expected) in cases {
            assert_eq!(function(*input), *expected, "{input}");
        }
    }
}
