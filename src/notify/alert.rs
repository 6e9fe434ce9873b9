//! The built-in Alertmanager's alert: a posted alert with its times made
//! explicit, identified by the fingerprint of its labels, and merged with
//! later copies of itself as Alertmanager merges them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::Serialize;

use super::PostableAlert;

/// A label set as alerts carry it.
pub type LabelSet = BTreeMap<String, String>;

/// A label set from pairs, for tests.
#[cfg(test)]
pub(crate) fn label_set(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// An alert held by the built-in Alertmanager.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Identifying labels.
    pub labels: LabelSet,
    /// Annotations of the latest copy.
    pub annotations: LabelSet,
    /// The earliest start seen.
    pub starts_at: DateTime<Utc>,
    /// When it ends (in the past once resolved).
    pub ends_at: DateTime<Utc>,
    /// When the latest copy arrived.
    pub updated_at: DateTime<Utc>,
    /// Link to the expression that produced it.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// True when `ends_at` was not given and is `updated_at + resolve_timeout`.
    #[serde(skip)]
    pub timeout: bool,
}

/// `time + duration`, saturating at chrono's limits instead of panicking
/// (alert times come from outside and may be extreme).
pub fn add_saturating(time: DateTime<Utc>, duration: std::time::Duration) -> DateTime<Utc> {
    ChronoDuration::from_std(duration)
        .ok()
        .and_then(|delta| time.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The 64-bit fingerprint of a label set (stable across processes).
pub fn fingerprint(labels: &LabelSet) -> u64 {
    let mut bytes = Vec::with_capacity(labels.len() * 16);
    for (name, value) in labels {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&bytes, 0)
}

/// A label set in Prometheus's text form: `{a="1", b="2"}`.
pub fn format_labels(labels: &LabelSet) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

impl Alert {
    /// Builds an alert from what `POST /api/v2/alerts` or a rule sink gave,
    /// as Alertmanager does: a missing start is `now` (or the end, if
    /// given), a missing end is `now + resolve_timeout`. Errors carry
    /// Alertmanager's wording.
    pub fn from_postable(
        posted: PostableAlert,
        now: DateTime<Utc>,
        resolve_timeout: std::time::Duration,
    ) -> Result<Alert, String> {
        if posted.labels.is_empty() {
            return Err("at least one label pair required".to_string());
        }
        for (name, value) in &posted.labels {
            if name.is_empty() {
                return Err(format!("invalid name {name:?}"));
            }
            if value.is_empty() {
                return Err(format!("invalid value {value:?} of label {name:?}"));
            }
        }
        let starts_at = match (posted.starts_at, posted.ends_at) {
            (Some(start), _) => start,
            (None, Some(end)) => end,
            (None, None) => now,
        };
        let (ends_at, timeout) = match posted.ends_at {
            Some(end) => (end, false),
            None => (add_saturating(now, resolve_timeout), true),
        };
        if ends_at < starts_at {
            return Err("start time must be before end time".to_string());
        }
        Ok(Alert {
            labels: posted.labels,
            annotations: posted.annotations,
            starts_at,
            ends_at,
            updated_at: now,
            generator_url: posted.generator_url,
            timeout,
        })
    }

    /// The fingerprint of the labels.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    /// Whether the alert is resolved at `now`.
    pub fn resolved_at(&self, now: DateTime<Utc>) -> bool {
        self.ends_at <= now
    }

    /// Merges a newer copy of the same alert into this one, as
    /// Alertmanager does: the younger copy wins, the earliest start is
    /// kept, and an explicit later end is not undone by a timeout.
    pub fn merge(&self, other: &Alert) -> Alert {
        let (older, younger) = if other.updated_at < self.updated_at {
            (other, self)
        } else {
            (self, other)
        };
        let mut merged = younger.clone();
        if older.starts_at < younger.starts_at {
            merged.starts_at = older.starts_at;
        }
        let younger_resolved = younger.resolved_at(younger.updated_at);
        if younger_resolved {
            if older.resolved_at(younger.updated_at) && older.ends_at > younger.ends_at {
                merged.ends_at = older.ends_at;
            }
        } else if older.ends_at > younger.ends_at && !older.timeout {
            merged.ends_at = older.ends_at;
            merged.timeout = false;
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap_or_default()
    }

    fn posted(labels: &[(&str, &str)]) -> PostableAlert {
        PostableAlert {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..PostableAlert::default()
        }
    }

    #[test]
    fn missing_times_are_filled_as_alertmanager_does() {
        let timeout = std::time::Duration::from_secs(300);
        let alert = Alert::from_postable(posted(&[("alertname", "A")]), at(0), timeout).unwrap();
        assert_eq!(alert.starts_at, at(0));
        assert_eq!(alert.ends_at, at(300));
        assert!(alert.timeout);
        let mut resolved = posted(&[("alertname", "A")]);
        resolved.ends_at = Some(at(-10));
        let alert = Alert::from_postable(resolved, at(0), timeout).unwrap();
        assert_eq!(alert.starts_at, at(-10));
        assert!(alert.resolved_at(at(0)));
    }

    #[test]
    fn invalid_alerts_are_rejected_with_alertmanagers_words() {
        let timeout = std::time::Duration::from_secs(300);
        let error = Alert::from_postable(posted(&[]), at(0), timeout).unwrap_err();
        assert_eq!(error, "at least one label pair required");
        let mut backwards = posted(&[("alertname", "A")]);
        backwards.starts_at = Some(at(10));
        backwards.ends_at = Some(at(0));
        let error = Alert::from_postable(backwards, at(0), timeout).unwrap_err();
        assert_eq!(error, "start time must be before end time");
    }

    #[test]
    fn merge_keeps_earliest_start_and_lets_a_resolve_through() {
        let timeout = std::time::Duration::from_secs(300);
        let mut first = posted(&[("alertname", "A")]);
        first.starts_at = Some(at(0));
        let first = Alert::from_postable(first, at(0), timeout).unwrap();
        let mut again = posted(&[("alertname", "A")]);
        again.starts_at = Some(at(30));
        let again = Alert::from_postable(again, at(30), timeout).unwrap();
        let merged = first.merge(&again);
        assert_eq!(merged.starts_at, at(0));
        assert_eq!(merged.ends_at, at(330));
        let mut resolve = posted(&[("alertname", "A")]);
        resolve.ends_at = Some(at(40));
        let resolve = Alert::from_postable(resolve, at(40), timeout).unwrap();
        let merged = merged.merge(&resolve);
        assert!(merged.resolved_at(at(40)));
        assert_eq!(merged.starts_at, at(0));
    }
}
