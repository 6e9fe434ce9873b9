//! A rule group: its rules in order, one evaluation at a time, the
//! staleness of series a rule stops producing, and state carried across
//! reloads.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::alerting::{AlertingRule, TemplateEnvironment};
use super::file::RuleGroup;
use super::metrics::RuleMetrics;
use super::recording::RecordingRule;
use super::template::expression_link;
use super::{QueryFn, RuleHealth};
use crate::model::{Labels, stale_nan};
use crate::notify::AlertSink;
use crate::storage::{AppendError, Appendable};

/// What every group's evaluation uses: where to read, write and send.
#[derive(Clone)]
pub struct EvaluationContext {
    /// Runs an instant query (the global view in a cluster).
    pub query: QueryFn,
    /// Where rule output goes.
    pub appendable: Arc<dyn Appendable>,
    /// Where alerts go.
    pub sink: Arc<dyn AlertSink>,
    /// `global.external_labels`: applied to sent alerts, `$externalLabels`.
    pub external_labels: Labels,
    /// `--web.external-url`: `$externalURL` and the generator URL.
    pub external_url: String,
    /// `--rules.alert.resend-delay`.
    pub resend_delay: Duration,
}

/// A recording or an alerting rule.
#[derive(Debug)]
pub enum RuleKind {
    /// `record:`.
    Recording(RecordingRule),
    /// `alert:`.
    Alerting(AlertingRule),
}

impl RuleKind {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match self {
            RuleKind::Recording(rule) => &rule.name,
            RuleKind::Alerting(rule) => &rule.name,
        }
    }

    /// The expression.
    pub fn expr(&self) -> &str {
        match self {
            RuleKind::Recording(rule) => &rule.expr,
            RuleKind::Alerting(rule) => &rule.expr,
        }
    }

    /// The rule's labels.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        match self {
            RuleKind::Recording(rule) => &rule.labels,
            RuleKind::Alerting(rule) => &rule.labels,
        }
    }
}

/// How the last evaluation of a rule went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleStatus {
    /// ok / err / unknown.
    pub health: RuleHealth,
    /// The last error, empty when healthy.
    pub last_error: String,
    /// When it was last evaluated (ms).
    pub last_evaluation_ms: Option<i64>,
    /// How long that took.
    pub evaluation_seconds: f64,
}

/// A rule inside a group with its evaluation status.
#[derive(Debug)]
pub struct GroupRule {
    /// The rule.
    pub kind: RuleKind,
    /// The last evaluation's outcome.
    pub status: Mutex<RuleStatus>,
    series_in_previous_evaluation: Mutex<HashSet<Labels>>,
}

/// How the last evaluation of a group went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupStatus {
    /// When it last ran (ms).
    pub last_evaluation_ms: Option<i64>,
    /// How long that took.
    pub evaluation_seconds: f64,
    /// Samples written.
    pub samples: usize,
}

/// A group of rules evaluated together on one interval.
#[derive(Debug)]
pub struct Group {
    /// The file the group came from.
    pub file: String,
    /// The group's name.
    pub name: String,
    /// Evaluation interval.
    pub interval: Duration,
    /// How far in the past to evaluate.
    pub query_offset: Duration,
    /// Most series (alerts) a rule may produce; 0 = no limit.
    pub limit: usize,
    /// The rules in order.
    pub rules: Vec<GroupRule>,
    /// Last evaluation.
    pub status: Mutex<GroupStatus>,
    definition: RuleGroup,
    evaluation: Mutex<()>,
    pending_stale: Mutex<Vec<Labels>>,
    retired: std::sync::atomic::AtomicBool,
}

impl Group {
    /// Builds a group from its definition; `default_interval` and
    /// `default_query_offset` come from `global`.
    pub fn new(
        file: &str,
        definition: &RuleGroup,
        default_interval: Duration,
        default_query_offset: Duration,
    ) -> Group {
        let interval = if definition.interval.is_zero() {
            default_interval
        } else {
            definition.interval.as_duration()
        };
        let rules = definition
            .rules
            .iter()
            .map(|rule| {
                let mut labels = definition.labels.clone();
                labels.extend(rule.labels.clone());
                let kind = if rule.is_alert() {
                    RuleKind::Alerting(AlertingRule::new(
                        rule.alert.clone(),
                        rule.expr.clone(),
                        rule.for_duration.as_duration(),
                        rule.keep_firing_for.as_duration(),
                        labels,
                        rule.annotations.clone(),
                    ))
                } else {
                    RuleKind::Recording(RecordingRule {
                        name: rule.record.clone(),
                        expr: rule.expr.clone(),
                        labels,
                    })
                };
                GroupRule {
                    kind,
                    status: Mutex::new(RuleStatus::default()),
                    series_in_previous_evaluation: Mutex::new(HashSet::new()),
                }
            })
            .collect();
        Group {
            file: file.to_string(),
            name: definition.name.clone(),
            interval: interval.max(Duration::from_millis(1)),
            query_offset: definition
                .query_offset
                .map(|offset| offset.as_duration())
                .unwrap_or(default_query_offset),
            limit: definition.limit as usize,
            rules,
            status: Mutex::new(GroupStatus::default()),
            definition: definition.clone(),
            evaluation: Mutex::new(()),
            pending_stale: Mutex::new(Vec::new()),
            retired: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// `file;name`, the `rule_group` label of the self-metrics.
    pub fn key(&self) -> String {
        group_key(&self.file, &self.name)
    }

    /// Whether `other` has the same definition and timing (a reload keeps
    /// such a group running untouched).
    pub fn same_as(&self, other: &Group) -> bool {
        self.file == other.file
            && self.definition == other.definition
            && self.interval == other.interval
            && self.query_offset == other.query_offset
    }

    /// A stable offset inside the interval, from the group's key, so that
    /// groups spread out and keep their phase across restarts.
    pub fn offset_ms(&self) -> i64 {
        let interval = self.interval.as_millis().max(1) as u64;
        (fnv64a(self.key().as_bytes()) % interval) as i64
    }

    /// The evaluation timestamp of the slot that `now_ms` falls in.
    pub fn evaluation_timestamp(&self, now_ms: i64) -> i64 {
        let interval = self.interval.as_millis().max(1) as i64;
        let offset = self.offset_ms();
        let adjusted = now_ms - offset;
        adjusted - adjusted.rem_euclid(interval) + offset
    }

    /// Stops evaluating: waits for an evaluation in progress, after which
    /// [`Group::evaluate`] does nothing. Its state can then be copied.
    pub fn retire(&self) {
        let _one_at_a_time = self.evaluation.lock();
        self.retired
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether every alerting rule has its `for` state restored.
    pub fn is_restored(&self) -> bool {
        self.alerting_rules().all(|rule| rule.state.lock().restored)
    }

    /// Marks every alerting rule restored (no restore wanted).
    pub fn mark_restored(&self) {
        for rule in self.alerting_rules() {
            rule.state.lock().restored = true;
        }
    }

    /// The alerting rules.
    pub fn alerting_rules(&self) -> impl Iterator<Item = &AlertingRule> {
        self.rules.iter().filter_map(|rule| match &rule.kind {
            RuleKind::Alerting(rule) => Some(rule),
            RuleKind::Recording(_) => None,
        })
    }

    /// Evaluates every rule in order at `ts_ms`: queries, writes each
    /// rule's output (committed before the next rule runs), marks series a
    /// rule stopped producing stale, and hands due alerts to the sink.
    /// Returns the number of samples written.
    pub fn evaluate(
        &self,
        ts_ms: i64,
        context: &EvaluationContext,
        metrics: Option<&RuleMetrics>,
    ) -> usize {
        let _one_at_a_time = self.evaluation.lock();
        if self.retired.load(std::sync::atomic::Ordering::Acquire) {
            return 0;
        }
        let started = Instant::now();
        let key = self.key();
        let query_time_ms = ts_ms - self.query_offset.as_millis() as i64;
        let external_labels: BTreeMap<String, String> = context
            .external_labels
            .iter()
            .map(|label| (label.name.to_string(), label.value.to_string()))
            .collect();
        let mut samples_written = 0;
        for rule in &self.rules {
            let rule_started = Instant::now();
            if let Some(metrics) = metrics {
                metrics.evaluations.with_label_values(&[&key]).inc();
            }
            let outcome = self.evaluate_rule(rule, ts_ms, query_time_ms, context, &external_labels);
            let mut status = rule.status.lock();
            status.last_evaluation_ms = Some(ts_ms);
            match outcome {
                Ok(output) => {
                    status.health = RuleHealth::Good;
                    status.last_error.clear();
                    drop(status);
                    samples_written += output.len();
                    if let Err(error) = self.write(rule, output, query_time_ms, context) {
                        let mut status = rule.status.lock();
                        status.health = RuleHealth::Bad;
                        status.last_error = error.clone();
                        if let Some(metrics) = metrics {
                            metrics.evaluation_failures.with_label_values(&[&key]).inc();
                        }
                        tracing::warn!(group = %self.name, rule = rule.kind.name(), err = %error, "writing rule output failed");
                    }
                }
                Err(error) => {
                    status.health = RuleHealth::Bad;
                    status.last_error = error.clone();
                    drop(status);
                    if let Some(metrics) = metrics {
                        metrics.evaluation_failures.with_label_values(&[&key]).inc();
                    }
                    tracing::warn!(group = %self.name, file = %self.file, rule = rule.kind.name(), err = %error, "evaluating rule failed");
                }
            }
            if let RuleKind::Alerting(alerting) = &rule.kind {
                let generator_url = format!(
                    "{}{}",
                    context.external_url.trim_end_matches('/'),
                    expression_link(&alerting.expr, 1)
                );
                let alerts = alerting.alerts_to_send(
                    ts_ms,
                    context.resend_delay,
                    self.interval,
                    &context.external_labels,
                    &generator_url,
                );
                if !alerts.is_empty() {
                    context.sink.send(alerts);
                }
            }
            rule.status.lock().evaluation_seconds = rule_started.elapsed().as_secs_f64();
        }
        self.flush_pending_stale(query_time_ms, context);
        let elapsed = started.elapsed().as_secs_f64();
        *self.status.lock() = GroupStatus {
            last_evaluation_ms: Some(ts_ms),
            evaluation_seconds: elapsed,
            samples: samples_written,
        };
        if let Some(metrics) = metrics {
            metrics
                .last_duration
                .with_label_values(&[&key])
                .set(elapsed);
            metrics
                .last_evaluation_timestamp
                .with_label_values(&[&key])
                .set(ts_ms as f64 / 1000.0);
            metrics
                .last_samples
                .with_label_values(&[&key])
                .set(samples_written as f64);
        }
        samples_written
    }

    fn evaluate_rule(
        &self,
        rule: &GroupRule,
        ts_ms: i64,
        query_time_ms: i64,
        context: &EvaluationContext,
        external_labels: &BTreeMap<String, String>,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let samples = (context.query)(rule.kind.expr(), query_time_ms)?;
        match &rule.kind {
            RuleKind::Recording(recording) => recording
                .output(&samples, self.limit)
                .map_err(|e| e.to_string()),
            RuleKind::Alerting(alerting) => {
                let query = |expression: &str| {
                    (context.query)(expression, ts_ms).map(|samples| {
                        samples
                            .into_iter()
                            .map(|sample| {
                                let labels = sample
                                    .labels
                                    .iter()
                                    .map(|label| (label.name.to_string(), label.value.to_string()))
                                    .collect();
                                (labels, sample.v)
                            })
                            .collect()
                    })
                };
                let environment = TemplateEnvironment {
                    external_labels,
                    external_url: &context.external_url,
                    query: Some(&query),
                };
                alerting
                    .apply_result(&samples, ts_ms, self.limit, &environment)
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Appends a rule's output and stale markers for the series it no
    /// longer produces, in one committed transaction.
    fn write(
        &self,
        rule: &GroupRule,
        output: Vec<(Labels, f64)>,
        sample_ts_ms: i64,
        context: &EvaluationContext,
    ) -> Result<(), String> {
        let mut appender = context.appendable.appender();
        let mut returned = HashSet::with_capacity(output.len());
        let mut out_of_order = 0;
        for (labels, value) in output {
            match appender.append(&labels, sample_ts_ms, value) {
                Ok(_) => {}
                Err(
                    AppendError::OutOfOrder
                    | AppendError::OutOfBounds
                    | AppendError::TooOldSample
                    | AppendError::DuplicateSampleForTimestamp,
                ) => {
                    out_of_order += 1;
                }
                Err(error) => {
                    tracing::warn!(series = %labels, err = %error, "rule evaluation result discarded")
                }
            }
            returned.insert(labels);
        }
        if out_of_order > 0 {
            tracing::warn!(group = %self.name, rule = rule.kind.name(), count = out_of_order, "rule evaluation results discarded: out of order or duplicate");
        }
        let mut previous = rule.series_in_previous_evaluation.lock();
        for gone in previous.iter().filter(|labels| !returned.contains(*labels)) {
            // Already-stale or newer series refuse the marker; nothing to do.
            let _ = appender.append(gone, sample_ts_ms, stale_nan());
        }
        appender.commit().map_err(|e| e.to_string())?;
        *previous = returned;
        Ok(())
    }

    /// Marks stale the series of rules a reload removed, unless a rule of
    /// this group wrote them again.
    fn flush_pending_stale(&self, ts_ms: i64, context: &EvaluationContext) {
        let stale: Vec<Labels> = std::mem::take(&mut *self.pending_stale.lock());
        if stale.is_empty() {
            return;
        }
        let mut appender = context.appendable.appender();
        for labels in stale {
            let rewritten = self
                .rules
                .iter()
                .any(|rule| rule.series_in_previous_evaluation.lock().contains(&labels));
            if !rewritten {
                let _ = appender.append(&labels, ts_ms, stale_nan());
            }
        }
        if let Err(error) = appender.commit() {
            tracing::warn!(group = %self.name, err = %error, "writing stale markers failed");
        }
    }

    /// Writes stale markers at `ts_ms` for every series the group wrote
    /// last: the group was removed, or (`moved`) another node owns it now.
    /// A moved group keeps its `ALERTS_FOR_STATE` series unstaled so that
    /// the new owner restores the `for` state from them.
    pub fn mark_all_stale(&self, ts_ms: i64, appendable: &dyn Appendable, moved: bool) {
        let keep = |labels: &Labels| {
            moved && labels.metric_name() == Some(super::alerting::ALERTS_FOR_STATE_METRIC)
        };
        let mut appender = appendable.appender();
        for labels in self.pending_stale.lock().drain(..) {
            let _ = appender.append(&labels, ts_ms, stale_nan());
        }
        for rule in &self.rules {
            let mut previous = rule.series_in_previous_evaluation.lock();
            for labels in previous.drain() {
                if !keep(&labels) {
                    let _ = appender.append(&labels, ts_ms, stale_nan());
                }
            }
        }
        if let Err(error) = appender.commit() {
            tracing::warn!(group = %self.name, err = %error, "writing stale markers failed");
        }
    }

    /// Takes over the state of `old` (the same group before a reload):
    /// alerts, health and previously written series of rules with the same
    /// name and labels, matched in order.
    pub fn copy_state_from(&self, old: &Group) {
        let mut taken = vec![false; old.rules.len()];
        for rule in &self.rules {
            let found = old.rules.iter().enumerate().find(|(index, candidate)| {
                !taken[*index]
                    && candidate.kind.name() == rule.kind.name()
                    && candidate.kind.labels() == rule.kind.labels()
                    && matches!(
                        (&candidate.kind, &rule.kind),
                        (RuleKind::Alerting(_), RuleKind::Alerting(_))
                            | (RuleKind::Recording(_), RuleKind::Recording(_))
                    )
            });
            let Some((index, old_rule)) = found else {
                continue;
            };
            taken[index] = true;
            *rule.status.lock() = old_rule.status.lock().clone();
            *rule.series_in_previous_evaluation.lock() =
                old_rule.series_in_previous_evaluation.lock().clone();
            if let (RuleKind::Alerting(new), RuleKind::Alerting(previous)) =
                (&rule.kind, &old_rule.kind)
            {
                let previous = previous.state.lock();
                let mut state = new.state.lock();
                state.active = previous.active.clone();
                state.restored = previous.restored;
            }
        }
        // Series of old rules that have no successor go stale after the
        // next evaluation.
        let mut stale = self.pending_stale.lock();
        stale.extend(old.pending_stale.lock().drain(..));
        for (index, old_rule) in old.rules.iter().enumerate() {
            if !taken[index] {
                stale.extend(
                    old_rule
                        .series_in_previous_evaluation
                        .lock()
                        .iter()
                        .cloned(),
                );
            }
        }
        *self.status.lock() = old.status.lock().clone();
    }
}

/// `file;name`.
pub fn group_key(file: &str, name: &str) -> String {
    format!("{file};{name}")
}

fn fnv64a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in bytes {
        hash ^= *byte as u64;
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
