//! Inhibition: while a source alert fires, target alerts with the same
//! values of the `equal` labels are muted (Alertmanager's
//! `inhibit_rules`). An alert matching both sides of a rule does not
//! inhibit itself.

use chrono::{DateTime, Utc};

use super::NotifyError;
use super::alert::{Alert, LabelSet};
use crate::config::notify::{InhibitRuleConfig, combined_matchers};
use crate::model::matcher::Matcher;

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    source: Vec<Matcher>,
    target: Vec<Matcher>,
    equal: Vec<String>,
}

fn all_match(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
}

impl InhibitRule {
    /// Compiles a config entry.
    pub fn from_config(config: &InhibitRuleConfig) -> Result<Self, NotifyError> {
        let source = combined_matchers(
            &config.source_matchers,
            &config.source_match,
            &config.source_match_re,
        )
        .map_err(|e| NotifyError::Config(e.to_string()))?;
        let target = combined_matchers(
            &config.target_matchers,
            &config.target_match,
            &config.target_match_re,
        )
        .map_err(|e| NotifyError::Config(e.to_string()))?;
        Ok(InhibitRule {
            source,
            target,
            equal: config.equal.clone(),
        })
    }
}

/// Fingerprints (hex) of the firing alerts that inhibit `target` at `now`.
pub fn inhibited_by<'a>(
    rules: &[InhibitRule],
    target: &LabelSet,
    candidates: impl Iterator<Item = &'a Alert> + Clone,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut sources = Vec::new();
    let target_fingerprint = super::alert::fingerprint(target);
    for rule in rules {
        if !all_match(&rule.target, target) {
            continue;
        }
        for candidate in candidates.clone() {
            if candidate.resolved_at(now) || !all_match(&rule.source, &candidate.labels) {
                continue;
            }
            if candidate.fingerprint() == target_fingerprint {
                continue;
            }
            let equal = rule
                .equal
                .iter()
                .all(|name| candidate.labels.get(name) == target.get(name));
            if equal {
                sources.push(format!("{:016x}", candidate.fingerprint()));
            }
        }
    }
    sources.sort();
    sources.dedup();
    sources
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::alert::label_set as labels;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap_or_default()
    }

    fn alert(pairs: &[(&str, &str)], ends: i64) -> Alert {
        Alert {
            labels: labels(pairs),
            annotations: LabelSet::new(),
            starts_at: at(0),
            ends_at: at(ends),
            updated_at: at(0),
            generator_url: String::new(),
            timeout: false,
        }
    }

    #[test]
    fn critical_alerts_mute_warnings_of_the_same_cluster() {
        let config: InhibitRuleConfig = serde_saphyr::from_str(
            "source_matchers: [severity=critical]\ntarget_matchers: [severity=warning]\nequal: [cluster]\n",
        )
        .unwrap();
        let rules = vec![InhibitRule::from_config(&config).unwrap()];
        let alerts = [
            alert(
                &[
                    ("alertname", "Down"),
                    ("severity", "critical"),
                    ("cluster", "a"),
                ],
                100,
            ),
            alert(
                &[
                    ("alertname", "Old"),
                    ("severity", "critical"),
                    ("cluster", "b"),
                ],
                10,
            ),
        ];
        let cases: [(&[(&str, &str)], bool); 4] = [
            (
                &[
                    ("alertname", "Slow"),
                    ("severity", "warning"),
                    ("cluster", "a"),
                ],
                true,
            ),
            (
                &[
                    ("alertname", "Slow"),
                    ("severity", "warning"),
                    ("cluster", "c"),
                ],
                false,
            ),
            // The source of cluster b is resolved at the time of the check.
            (
                &[
                    ("alertname", "Slow"),
                    ("severity", "warning"),
                    ("cluster", "b"),
                ],
                false,
            ),
            (
                &[
                    ("alertname", "Other"),
                    ("severity", "critical"),
                    ("cluster", "a"),
                ],
                false,
            ),
        ];
        for (target, muted) in cases {
            let sources = inhibited_by(&rules, &labels(target), alerts.iter(), at(50));
            assert_eq!(!sources.is_empty(), muted, "{target:?}");
        }
    }

    #[test]
    fn an_alert_does_not_inhibit_itself() {
        let config: InhibitRuleConfig =
            serde_saphyr::from_str("source_matchers: [team=x]\ntarget_matchers: [team=x]\n")
                .unwrap();
        let rules = vec![InhibitRule::from_config(&config).unwrap()];
        let only = alert(&[("alertname", "A"), ("team", "x")], 100);
        assert!(inhibited_by(&rules, &only.labels, std::iter::once(&only), at(1)).is_empty());
    }
}
