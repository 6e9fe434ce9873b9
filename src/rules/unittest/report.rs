//! How promtool prints unit-test failures: Go durations, alerts with their
//! annotations, samples with `%E` values.

use std::collections::BTreeMap;

use crate::model::Labels;
use crate::rules::template::go_float;

/// An alert as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertAndAnnotations {
    /// Labels, `alertname` included.
    pub labels: Labels,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A map printed like Prometheus's `Labels.String()`.
fn map_string(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Prefixes every line but the first with `indent`.
pub fn indent_lines(text: &str, indent: &str) -> String {
    text.split('\n')
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

/// promtool's list of alerts: `[]`, or numbered entries.
pub fn alerts_string(alerts: &[AlertAndAnnotations]) -> String {
    if alerts.is_empty() {
        return "[]".to_string();
    }
    let entry = |alert: &AlertAndAnnotations| {
        indent_lines(
            &format!(
                "\nLabels:{}\nAnnotations:{}",
                alert.labels,
                map_string(&alert.annotations)
            ),
            "  ",
        )
    };
    let mut out = format!("[\n0:{}", entry(&alerts[0]));
    for (index, alert) in alerts.iter().enumerate().skip(1) {
        out.push_str(&format!(",\n{index}:{}", entry(alert)));
    }
    out.push_str("\n]");
    out
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`.
fn float_e(value: f64) -> String {
    if value.is_nan() || value.is_infinite() {
        return go_float(value);
    }
    super::super::template::go_float_e(value).to_uppercase()
}

/// promtool's list of samples: `nil` or `labels value, ...`.
pub fn samples_string(samples: &[(Labels, f64)]) -> String {
    if samples.is_empty() {
        return "nil".to_string();
    }
    samples
        .iter()
        .map(|(labels, value)| format!("{labels} {}", float_e(*value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Go's `time.Duration.String()` of `ms` milliseconds: `1m0s`, `0s`, `1.5s`.
pub fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let negative = ms < 0;
    let total = ms.unsigned_abs();
    let hours = total / 3_600_000;
    let minutes = (total / 60_000) % 60;
    let millis = total % 60_000;
    let seconds = if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        let text = format!("{}.{:03}", millis / 1000, millis % 1000);
        format!("{}s", text.trim_end_matches('0'))
    };
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if total < 1000 {
        out.push_str(&format!("{total}ms"));
        return out;
    }
    if hours > 0 {
        out.push_str(&format!("{hours}h{minutes}m"));
    } else if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&seconds);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_print_as_promtool_prints_them() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(179_999), "2m59.999s");
        assert_eq!(go_duration(500), "500ms");
        assert_eq!(float_e(60.0), "6E+01");
        assert_eq!(float_e(1.0), "1E+00");
        assert_eq!(float_e(0.125), "1.25E-01");
        let labels = Labels::from_pairs(&[("alertname", "A"), ("job", "x")]);
        let alert = AlertAndAnnotations {
            labels: labels.clone(),
            annotations: BTreeMap::from([("summary".to_string(), "s".to_string())]),
        };
        assert_eq!(
            alerts_string(&[alert]),
            "[\n0:\n  Labels:{alertname=\"A\", job=\"x\"}\n  Annotations:{summary=\"s\"}\n]"
        );
        assert_eq!(
            samples_string(&[(labels, 60.0)]),
            "{alertname=\"A\", job=\"x\"} 6E+01"
        );
        assert_eq!(samples_string(&[]), "nil");
    }
}
