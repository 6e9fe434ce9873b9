//! `promshard test rules FILE...`: promtool's rule unit tests. Each test
//! group loads its input series into an in-memory store, evaluates the
//! rule groups every `evaluation_interval` from time 0, compares firing
//! alerts at each `alert_rule_test` time and, at the end, the results of
//! each `promql_expr_test`. Output and exit codes are promtool's.

mod format;
mod report;
mod series;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use format::{
    AlertTestCase, ExpectedAlert, ExpectedSample, InputSeries, PromqlTestCase, TestGroup,
    UnitTestFile,
};
pub use series::{SeriesError, SeriesStep, expand_values, parse_series_labels};

use super::alerting::AlertState;
use super::file::load_rule_file;
use super::group::{EvaluationContext, Group, RuleKind};
use super::{RuleHealth, engine_query_fn};
use crate::model::Labels;
use crate::notify::NoSink;
use crate::promql::{Engine, EngineOptions};
use crate::storage::memory::MemStorage;
use crate::storage::{Appendable, Queryable};
use report::{AlertAndAnnotations, alerts_string, go_duration, samples_string};

/// What a test file produced: errors (empty = success) and the number of
/// cases skipped because they use native histograms.
#[derive(Debug, Default)]
pub struct FileOutcome {
    /// Failures, each a promtool-style message.
    pub errors: Vec<String>,
    /// Cases (series or expectations) over native histograms, not run.
    pub skipped_histogram_cases: usize,
}

/// Runs every test file, printing as promtool does; returns the exit code
/// (0 all passed, 1 any failed).
pub fn run_test_files(files: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut failed = false;
    for file in files {
        let _ = writeln!(out, "Unit Testing:  {}", file.display());
        let outcome = run_test_file(file);
        if outcome.skipped_histogram_cases > 0 {
            let _ = writeln!(
                out,
                "  SKIPPED: {} case(s) over native histograms (not supported yet)",
                outcome.skipped_histogram_cases
            );
        }
        if outcome.errors.is_empty() {
            let _ = writeln!(out, "  SUCCESS");
        } else {
            failed = true;
            let _ = writeln!(err, "  FAILED:");
            for error in &outcome.errors {
                let _ = writeln!(err, "{error}");
                let _ = writeln!(out);
            }
        }
        let _ = writeln!(out);
    }
    i32::from(failed)
}

/// Runs one test file.
pub fn run_test_file(path: &Path) -> FileOutcome {
    let mut outcome = FileOutcome::default();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            outcome.errors.push(format!("{}: {error}", path.display()));
            return outcome;
        }
    };
    let test_file: UnitTestFile = match serde_saphyr::from_str(&text) {
        Ok(parsed) => parsed,
        Err(error) => {
            outcome
                .errors
                .push(format!("{}: {}", path.display(), error.without_snippet()));
            return outcome;
        }
    };
    let directory = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let rule_files = match resolve_rule_files(&directory, &test_file.rule_files) {
        Ok(files) => files,
        Err(error) => {
            outcome.errors.push(error);
            return outcome;
        }
    };
    let mut definitions = Vec::new();
    for rule_file in &rule_files {
        match load_rule_file(rule_file) {
            Ok(loaded) => definitions.push((rule_file.display().to_string(), loaded)),
            Err(error) => {
                outcome.errors.push(error.to_string());
                return outcome;
            }
        }
    }
    let evaluation_interval = test_file
        .evaluation_interval
        .map(|d| d.as_duration())
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(60));
    let mut seen = std::collections::HashSet::new();
    if let Some(repeated) = test_file
        .group_eval_order
        .iter()
        .find(|name| !seen.insert(name.as_str()))
    {
        outcome.errors.push(format!(
            "group name repeated in evaluation order: {repeated}"
        ));
        return outcome;
    }
    let order: BTreeMap<&str, usize> = test_file
        .group_eval_order
        .iter()
        .enumerate()
        .map(|(index, name)| (name.as_str(), index))
        .collect();
    for test_group in &test_file.tests {
        let mut groups: Vec<Group> = definitions
            .iter()
            .flat_map(|(file, rule_file)| {
                rule_file.groups.iter().map(move |definition| {
                    Group::new(file, definition, evaluation_interval, Duration::ZERO)
                })
            })
            .collect();
        groups.sort_by_key(|group| order.get(group.name.as_str()).copied().unwrap_or(0));
        let (errors, skipped) = run_test_group(
            test_group,
            &groups,
            evaluation_interval,
            test_file.fuzzy_compare,
        );
        outcome.errors.extend(errors);
        outcome.skipped_histogram_cases += skipped;
    }
    outcome
}

fn resolve_rule_files(directory: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for pattern in patterns {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            directory.join(pattern)
        };
        let full_text = full.display().to_string();
        let matches: Vec<PathBuf> = glob::glob(&full_text)
            .map_err(|error| format!("invalid rule file pattern {pattern:?}: {error}"))?
            .filter_map(Result::ok)
            .collect();
        if matches.is_empty() {
            return Err(format!("{full_text}: no such rule file"));
        }
        files.extend(matches);
    }
    Ok(files)
}

fn load_input(
    storage: &MemStorage,
    test_group: &TestGroup,
    interval_ms: i64,
) -> Result<usize, String> {
    let mut skipped = 0;
    for input in &test_group.input_series {
        let labels = parse_series_labels(&input.series).map_err(|e| e.to_string())?;
        let steps = match expand_values(&input.values) {
            Ok(steps) => steps,
            Err(SeriesError::Histogram) => {
                skipped += 1;
                continue;
            }
            Err(error) => return Err(error.to_string()),
        };
        let mut appender = storage.appender();
        for (index, step) in steps.iter().enumerate() {
            if let SeriesStep::Value(value) = step {
                appender
                    .append(&labels, index as i64 * interval_ms, *value)
                    .map_err(|e| format!("input series {}: {e}", input.series))?;
            }
        }
        appender.commit().map_err(|e| e.to_string())?;
    }
    Ok(skipped)
}

/// Runs one test group; returns its failures and skipped cases.
fn run_test_group(
    test_group: &TestGroup,
    groups: &[Group],
    evaluation_interval: Duration,
    fuzzy_compare: bool,
) -> (Vec<String>, usize) {
    let name_prefix = if test_group.test_group_name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", test_group.test_group_name)
    };
    let interval_ms = test_group
        .interval
        .map(|d| d.as_millis() as i64)
        .filter(|ms| *ms > 0)
        .unwrap_or(evaluation_interval.as_millis() as i64);
    let storage = MemStorage::new();
    let mut skipped = match load_input(&storage, test_group, interval_ms) {
        Ok(skipped) => skipped,
        Err(error) => return (vec![format!("{name_prefix}    {error}")], 0),
    };
    let engine = Arc::new(Engine::new(EngineOptions::default()));
    let queryable: Arc<dyn Queryable> = Arc::new(storage.clone());
    let query = engine_query_fn(engine, queryable);
    let context = EvaluationContext {
        query: query.clone(),
        appendable: Arc::new(storage.clone()),
        sink: Arc::new(NoSink),
        external_labels: Labels::from_pairs(
            &test_group
                .external_labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        ),
        external_url: test_group.external_url.clone(),
        resend_delay: Duration::from_secs(60),
    };
    for group in groups {
        group.mark_restored();
    }

    let mut errors = Vec::new();
    let mut alert_times: BTreeMap<i64, Vec<&AlertTestCase>> = BTreeMap::new();
    for case in &test_group.alert_rule_test {
        if case.alertname.is_empty() {
            errors.push(format!("{name_prefix}    alertname can't be empty"));
            continue;
        }
        alert_times
            .entry(case.eval_time.as_millis() as i64)
            .or_default()
            .push(case);
    }
    let max_time = alert_times
        .keys()
        .copied()
        .chain(
            test_group
                .promql_expr_test
                .iter()
                .map(|case| case.eval_time.as_millis() as i64),
        )
        .max()
        .unwrap_or(0);
    let step_ms = evaluation_interval.as_millis().max(1) as i64;
    let mut pending_alert_times = alert_times.iter().peekable();
    let mut ts = 0;
    while ts <= max_time {
        let mut evaluation_errors = Vec::new();
        for group in groups {
            group.evaluate(ts, &context, None);
            for rule in &group.rules {
                let status = rule.status.lock();
                if status.health == RuleHealth::Bad && status.last_evaluation_ms == Some(ts) {
                    evaluation_errors.push(format!(
                        "    rule: {}, time: {}, err: {}",
                        rule.kind.name(),
                        go_duration(ts),
                        status.last_error
                    ));
                }
            }
        }
        if !evaluation_errors.is_empty() {
            errors.extend(evaluation_errors);
            return (errors, skipped);
        }
        while let Some((time, cases)) = pending_alert_times.peek() {
            let time = **time;
            if !(ts <= time && time < ts + step_ms) {
                break;
            }
            for case in cases.iter() {
                if let Some(error) = compare_alerts(case, groups) {
                    errors.push(format!("{name_prefix}{error}"));
                }
            }
            pending_alert_times.next();
        }
        ts += step_ms;
    }

    for case in &test_group.promql_expr_test {
        if case
            .exp_samples
            .iter()
            .any(|sample| !sample.histogram.is_empty())
        {
            skipped += 1;
            continue;
        }
        if let Some(error) = compare_expression(case, &query, fuzzy_compare) {
            errors.push(format!("{name_prefix}{error}"));
        }
    }
    (errors, skipped)
}

fn compare_alerts(case: &AlertTestCase, groups: &[Group]) -> Option<String> {
    let mut got: Vec<AlertAndAnnotations> = Vec::new();
    for group in groups {
        for rule in &group.rules {
            let RuleKind::Alerting(alerting) = &rule.kind else {
                continue;
            };
            if alerting.name != case.alertname {
                continue;
            }
            for alert in alerting.alerts() {
                if alert.state == AlertState::Firing && alert.resolved_at_ms.is_none() {
                    got.push(AlertAndAnnotations {
                        labels: alert.labels.clone(),
                        annotations: alert.annotations.clone(),
                    });
                }
            }
        }
    }
    let mut expected: Vec<AlertAndAnnotations> = case
        .exp_alerts
        .iter()
        .map(|alert| {
            let mut labels = alert.exp_labels.clone();
            labels.insert("alertname".to_string(), case.alertname.clone());
            let pairs: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            AlertAndAnnotations {
                labels: Labels::from_pairs(&pairs),
                annotations: alert.exp_annotations.clone(),
            }
        })
        .collect();
    got.sort();
    expected.sort();
    if got == expected {
        return None;
    }
    Some(format!(
        "    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
        case.alertname,
        case.eval_time,
        report::indent_lines(&alerts_string(&expected), "            "),
        report::indent_lines(&alerts_string(&got), "            "),
    ))
}

fn compare_expression(
    case: &PromqlTestCase,
    query: &super::QueryFn,
    fuzzy: bool,
) -> Option<String> {
    let got = match query(&case.expr, case.eval_time.as_millis() as i64) {
        Ok(samples) => samples,
        Err(error) => {
            return Some(format!(
                "    expr: {:?}, time: {}, err: {error}",
                case.expr, case.eval_time
            ));
        }
    };
    let mut got: Vec<(Labels, f64)> = got
        .into_iter()
        .map(|sample| (sample.labels, sample.v))
        .collect();
    let mut expected = Vec::with_capacity(case.exp_samples.len());
    for sample in &case.exp_samples {
        match parse_series_labels(&sample.labels) {
            Ok(labels) => expected.push((labels, sample.value)),
            Err(error) => {
                return Some(format!(
                    "    expr: {:?}, time: {}, err: labels {:?}: {error}",
                    case.expr, case.eval_time, sample.labels
                ));
            }
        }
    }
    got.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let equal = got.len() == expected.len()
        && got.iter().zip(&expected).all(|(g, e)| {
            g.0 == e.0
                && (g.1 == e.1
                    || (g.1.is_nan() && e.1.is_nan())
                    || (fuzzy && (g.1 - e.1).abs() <= 1e-9 * g.1.abs().max(e.1.abs())))
        });
    if equal {
        return None;
    }
    Some(format!(
        "    expr: {:?}, time: {},\n        exp: {}\n        got: {}",
        case.expr,
        case.eval_time,
        samples_string(&expected),
        samples_string(&got)
    ))
}
