//! Request parameters: repeated keys (`match[]`) from the query string and
//! a form-encoded body, and Prometheus's time and duration syntax.

use chrono::DateTime;

/// The parameters of one request, in order, repeated keys kept.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Collects the pairs of the URL query and of a form body.
    pub fn from_parts(query: Option<&str>, form_body: Option<&[u8]>) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(query) = query {
            pairs.extend(
                serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default(),
            );
        }
        if let Some(body) = form_body {
            pairs.extend(
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default(),
            );
        }
        Params { pairs }
    }

    /// The first value of `name` that is not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

/// Smallest and largest times the API accepts (Prometheus's `MinTime` and
/// `MaxTime` as milliseconds).
pub const MIN_TIME_MS: i64 = -9_223_372_036_854_775 + 1;
/// See [`MIN_TIME_MS`].
pub const MAX_TIME_MS: i64 = 9_223_372_036_854_775 - 1;

/// Parses a time: Unix seconds with an optional fraction, or RFC 3339.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    if let Ok(seconds) = trimmed.parse::<f64>()
        && seconds.is_finite()
    {
        let ms = (seconds * 1000.0).round();
        if ms >= MIN_TIME_MS as f64 && ms <= MAX_TIME_MS as f64 {
            return Ok(ms as i64);
        }
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(time.timestamp_millis());
    }
    // Prometheus accepts these formatted MinTime/MaxTime values too.
    match trimmed {
        "-292273086-05-16T16:47:06Z" => return Ok(MIN_TIME_MS),
        "292277025-08-18T07:12:54.999999999Z" => return Ok(MAX_TIME_MS),
        _ => {}
    }
    Err(format!("cannot parse {trimmed:?} to a valid timestamp"))
}

/// Parses a duration: float seconds or Prometheus syntax (`1m30s`).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let invalid = || format!("cannot parse {trimmed:?} to a valid duration");
    if let Ok(seconds) = trimmed.parse::<f64>() {
        let ms = (seconds * 1000.0).round();
        if !ms.is_finite() || ms.abs() >= i64::MAX as f64 {
            return Err(format!(
                "cannot parse {trimmed:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ms as i64);
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut chars = trimmed.chars().peekable();
    let mut any_unit = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            "ms"
        } else {
            match c {
                's' => "s",
                'm' => "m",
                'h' => "h",
                'd' => "d",
                'w' => "w",
                'y' => "y",
                _ => return Err(invalid()),
            }
        };
        let value: i64 = number.parse().map_err(|_| invalid())?;
        number.clear();
        let factor: i64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => 31_536_000_000,
        };
        total = value
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(invalid)?;
        any_unit = true;
    }
    if !number.is_empty() || !any_unit {
        return Err(invalid());
    }
    Ok(total)
}

/// Formats milliseconds as Prometheus's JSON timestamps: whole seconds, or
/// seconds with three decimals (`4`, `1.500`, `1435781451.781`).
pub fn format_timestamp(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let magnitude = ms.unsigned_abs();
    let (seconds, millis) = (magnitude / 1000, magnitude % 1000);
    if millis == 0 {
        return format!("{sign}{seconds}");
    }
    // Prometheus writes all three digits of a fraction ("1.500").
    format!("{sign}{seconds}.{millis:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_accept_unix_seconds_and_rfc3339() {
        let cases = [
            ("4", Ok(4_000)),
            ("1435781451.781", Ok(1_435_781_451_781)),
            ("2015-07-01T20:10:51.781Z", Ok(1_435_781_451_781)),
            ("2015-07-01T20:10:51Z", Ok(1_435_781_451_000)),
            ("yesterday", Err(())),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_time(text).map_err(|_| ()), expected, "{text}");
        }
    }

    #[test]
    fn durations_accept_float_seconds_and_units() {
        let cases = [
            ("15", Ok(15_000)),
            ("0.5", Ok(500)),
            ("1m30s", Ok(90_000)),
            ("5m", Ok(300_000)),
            ("100ms", Ok(100)),
            ("abc", Err(())),
            ("5", Ok(5_000)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text).map_err(|_| ()), expected, "{text}");
        }
    }

    #[test]
    fn timestamps_format_like_prometheus() {
        assert_eq!(format_timestamp(4_000), "4");
        assert_eq!(format_timestamp(1_500), "1.500");
        assert_eq!(format_timestamp(1_005), "1.005");
        assert_eq!(format_timestamp(1_435_781_451_781), "1435781451.781");
        assert_eq!(format_timestamp(-1_500), "-1.500");
    }

    #[test]
    fn repeated_match_parameters_are_all_kept() {
        let params = Params::from_parts(
            Some("match[]=up&match[]=process_start_time_seconds%7Bjob%3D%22x%22%7D"),
            Some(b"match[]=go_goroutines"),
        );
        assert_eq!(
            params.all("match[]"),
            vec![
                "up",
                "process_start_time_seconds{job=\"x\"}",
                "go_goroutines"
            ]
        );
    }
}
