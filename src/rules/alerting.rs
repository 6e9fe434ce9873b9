//! Alerting rules: the alert state machine (pending → firing after `for`,
//! `keep_firing_for`, resolved alerts kept 15 minutes), templated labels and
//! annotations, the `ALERTS`/`ALERTS_FOR_STATE` series and what is sent.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use super::template::{AlertTemplateData, Template, TemplateQuery};
use crate::model::{Labels, LabelsBuilder};
use crate::notify::PostableAlert;
use crate::promql::InstantSample;

/// How long a resolved alert is kept (and re-sent as resolved).
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);

/// The metric name of the alert-state series.
pub const ALERTS_METRIC: &str = "ALERTS";
/// The metric name of the series that keeps each alert's `activeAt`.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";

/// The state of one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    /// Resolved (kept for [`RESOLVED_RETENTION`]), or never active.
    Inactive,
    /// Active for less than `for`.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// The name in the API and the `alertstate` label.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule, identified by its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The alert's labels, `alertname` included (external labels not).
    pub labels: Labels,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// Current state.
    pub state: AlertState,
    /// The value of the sample at the last evaluation.
    pub value: f64,
    /// When the alert became active (ms).
    pub active_at_ms: i64,
    /// When it started firing (ms).
    pub fired_at_ms: Option<i64>,
    /// When it was resolved (ms).
    pub resolved_at_ms: Option<i64>,
    /// When it was last handed to the sink (ms).
    pub last_sent_at_ms: Option<i64>,
    /// The `endsAt` sent with a firing alert (ms).
    pub valid_until_ms: i64,
    /// Since when the condition is gone while `keep_firing_for` holds it (ms).
    pub keep_firing_since_ms: Option<i64>,
}

impl Alert {
    fn needs_sending(&self, now_ms: i64, resend_delay: Duration) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last_sent = self.last_sent_at_ms;
        if let Some(resolved) = self.resolved_at_ms
            && last_sent.is_none_or(|sent| resolved > sent)
        {
            return true;
        }
        match last_sent {
            None => true,
            Some(sent) => (sent + resend_delay.as_millis() as i64) < now_ms,
        }
    }
}

/// The mutable part of an alerting rule.
#[derive(Debug, Default)]
pub struct AlertingState {
    /// Alerts by label set, including resolved ones still retained.
    pub active: BTreeMap<Labels, Alert>,
    /// Whether the `for` state was restored (or needed no restore); until
    /// then no `ALERTS`/`ALERTS_FOR_STATE` samples are written.
    pub restored: bool,
}

/// Why an alerting rule's evaluation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertingError {
    /// Two samples produced the same alert labels.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateLabelSet,
    /// More alerts than the group's `limit`.
    #[error("exceeded limit of {limit} with {count} alerts")]
    LimitExceeded {
        /// The limit.
        limit: usize,
        /// How many alerts there were.
        count: usize,
    },
}

/// An alerting rule with its alerts.
#[derive(Debug)]
pub struct AlertingRule {
    /// The alert name.
    pub name: String,
    /// The expression.
    pub expr: String,
    /// `for`.
    pub hold_duration: Duration,
    /// `keep_firing_for`.
    pub keep_firing_for: Duration,
    /// Labels (group labels merged under the rule's own); values are templates.
    pub labels: BTreeMap<String, String>,
    /// Annotations; values are templates.
    pub annotations: BTreeMap<String, String>,
    label_templates: Vec<(String, Result<Template, String>)>,
    annotation_templates: Vec<(String, Result<Template, String>)>,
    /// Alerts and health.
    pub state: Mutex<AlertingState>,
}

/// What templates see besides the sample.
pub struct TemplateEnvironment<'a> {
    /// `$externalLabels`.
    pub external_labels: &'a BTreeMap<String, String>,
    /// `$externalURL`.
    pub external_url: &'a str,
    /// The `query` function at the evaluation time.
    pub query: Option<TemplateQuery<'a>>,
}

fn compile(map: &BTreeMap<String, String>) -> Vec<(String, Result<Template, String>)> {
    map.iter()
        .map(|(name, text)| {
            (
                name.clone(),
                Template::parse(text).map_err(|e| e.to_string()),
            )
        })
        .collect()
}

impl AlertingRule {
    /// A rule with no alerts yet.
    pub fn new(
        name: String,
        expr: String,
        hold_duration: Duration,
        keep_firing_for: Duration,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    ) -> Self {
        AlertingRule {
            label_templates: compile(&labels),
            annotation_templates: compile(&annotations),
            name,
            expr,
            hold_duration,
            keep_firing_for,
            labels,
            annotations,
            state: Mutex::new(AlertingState::default()),
        }
    }

    fn expand(
        template: &Result<Template, String>,
        data: &AlertTemplateData,
        environment: &TemplateEnvironment<'_>,
        rule: &str,
    ) -> String {
        let outcome = match template {
            Ok(template) => template
                .expand(data, environment.query)
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.clone()),
        };
        outcome.unwrap_or_else(|error| {
            tracing::warn!(alert = rule, err = %error, "expanding alert template failed");
            format!("<error expanding template: {error}>")
        })
    }

    /// Applies one evaluation's query result at `ts_ms` and returns the
    /// `ALERTS` and `ALERTS_FOR_STATE` samples to write (at the query time).
    pub fn apply_result(
        &self,
        samples: &[InstantSample],
        ts_ms: i64,
        limit: usize,
        environment: &TemplateEnvironment<'_>,
    ) -> Result<Vec<(Labels, f64)>, AlertingError> {
        let mut fresh: BTreeMap<Labels, Alert> = BTreeMap::new();
        for sample in samples {
            let data = AlertTemplateData {
                labels: sample
                    .labels
                    .iter()
                    .map(|label| (label.name.to_string(), label.value.to_string()))
                    .collect(),
                external_labels: environment.external_labels.clone(),
                external_url: environment.external_url.to_string(),
                value: sample.v,
            };
            let mut builder = LabelsBuilder::new(&sample.labels);
            builder.del(&["__name__"]);
            for (name, template) in &self.label_templates {
                let value = Self::expand(template, &data, environment, &self.name);
                builder.set(name, &value);
            }
            builder.set("alertname", &self.name);
            let annotations = self
                .annotation_templates
                .iter()
                .map(|(name, template)| {
                    (
                        name.clone(),
                        Self::expand(template, &data, environment, &self.name),
                    )
                })
                .collect();
            let labels = builder.build();
            if fresh.contains_key(&labels) {
                return Err(AlertingError::DuplicateLabelSet);
            }
            fresh.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value: sample.v,
                    active_at_ms: ts_ms,
                    fired_at_ms: None,
                    resolved_at_ms: None,
                    last_sent_at_ms: None,
                    valid_until_ms: 0,
                    keep_firing_since_ms: None,
                },
            );
        }

        let mut state = self.state.lock();
        for (labels, alert) in &fresh {
            match state.active.get_mut(labels) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = alert.value;
                    existing.annotations = alert.annotations.clone();
                }
                _ => {
                    state.active.insert(labels.clone(), alert.clone());
                }
            }
        }

        let hold_ms = self.hold_duration.as_millis() as i64;
        let keep_ms = self.keep_firing_for.as_millis() as i64;
        let retention_ms = RESOLVED_RETENTION.as_millis() as i64;
        let restored = state.restored;
        let mut output = Vec::new();
        let mut active_or_pending = 0;
        let mut to_delete = Vec::new();
        for (labels, alert) in state.active.iter_mut() {
            if !fresh.contains_key(labels) {
                let mut keep_firing = false;
                if alert.state == AlertState::Firing && keep_ms > 0 {
                    let since = *alert.keep_firing_since_ms.get_or_insert(ts_ms);
                    keep_firing = ts_ms - since < keep_ms;
                }
                if alert.state == AlertState::Pending
                    || alert
                        .resolved_at_ms
                        .is_some_and(|resolved| ts_ms - resolved > retention_ms)
                {
                    to_delete.push(labels.clone());
                }
                if alert.state != AlertState::Inactive && !keep_firing {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at_ms = Some(ts_ms);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                alert.keep_firing_since_ms = None;
            }
            active_or_pending += 1;
            if alert.state == AlertState::Pending && ts_ms - alert.active_at_ms >= hold_ms {
                alert.state = AlertState::Firing;
                alert.fired_at_ms = Some(ts_ms);
            }
            if restored {
                output.push((alert_series(labels, alert.state), 1.0));
                output.push((
                    for_state_series(labels),
                    (alert.active_at_ms.div_euclid(1000)) as f64,
                ));
            }
        }
        for labels in to_delete {
            state.active.remove(&labels);
        }
        if limit > 0 && active_or_pending > limit {
            state.active.clear();
            return Err(AlertingError::LimitExceeded {
                limit,
                count: active_or_pending,
            });
        }
        Ok(output)
    }

    /// The alerts due to be sent at `now_ms` (firing ones every resend
    /// delay, resolved ones once more after resolving), marked as sent, in
    /// Alertmanager's shape with `external_labels` applied.
    pub fn alerts_to_send(
        &self,
        now_ms: i64,
        resend_delay: Duration,
        interval: Duration,
        external_labels: &Labels,
        generator_url: &str,
    ) -> Vec<PostableAlert> {
        let delta_ms = resend_delay.max(interval).as_millis() as i64;
        let mut state = self.state.lock();
        let mut out = Vec::new();
        for alert in state.active.values_mut() {
            if !alert.needs_sending(now_ms, resend_delay) {
                continue;
            }
            alert.last_sent_at_ms = Some(now_ms);
            alert.valid_until_ms = now_ms + 4 * delta_ms;
            let mut labels: BTreeMap<String, String> = external_labels
                .iter()
                .map(|label| (label.name.to_string(), label.value.to_string()))
                .collect();
            for label in alert.labels.iter() {
                labels.insert(label.name.to_string(), label.value.to_string());
            }
            out.push(PostableAlert {
                labels,
                annotations: alert.annotations.clone(),
                starts_at: alert.fired_at_ms.and_then(ms_to_time),
                ends_at: ms_to_time(alert.resolved_at_ms.unwrap_or(alert.valid_until_ms)),
                generator_url: generator_url.to_string(),
            });
        }
        out
    }

    /// The highest state of any alert; `None` before the first evaluation.
    pub fn rule_state(&self) -> AlertState {
        self.state
            .lock()
            .active
            .values()
            .map(|alert| alert.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Copies of the alerts (resolved ones included).
    pub fn alerts(&self) -> Vec<Alert> {
        self.state.lock().active.values().cloned().collect()
    }
}

/// `ALERTS{alertname, alertstate, ...}` for an alert.
pub fn alert_series(labels: &Labels, state: AlertState) -> Labels {
    let mut builder = LabelsBuilder::new(labels);
    builder.set("__name__", ALERTS_METRIC);
    builder.set("alertstate", state.as_str());
    builder.build()
}

/// `ALERTS_FOR_STATE{alertname, ...}` for an alert.
pub fn for_state_series(labels: &Labels) -> Labels {
    let mut builder = LabelsBuilder::new(labels);
    builder.set("__name__", ALERTS_FOR_STATE_METRIC);
    builder.build()
}

/// Milliseconds since the epoch as a UTC time.
pub fn ms_to_time(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

#[cfg(test)]
#[path = "alerting_tests.rs"]
mod tests;
