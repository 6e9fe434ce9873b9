//! Runs Prometheus's own PromQL script tests
//! (`../shared/testdata/promqltest/*.test`) against our engine.
//!
//! Run: `cargo test --test promqltest -- --nocapture`
//!
//! Every `eval` is counted as passed, failed or skipped (with a reason;
//! native histograms are not supported). The summary table is printed and
//! written to `<target dir>/promqltest-summary.txt`. The test fails when the
//! number of passing evals drops below `tests/promqltest_threshold.txt`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use promshard::model::{Labels, stale_nan};
use promshard::promql::{Engine, EngineOptions, QueryError, QueryResult, Value};
use promshard::storage::memory::MemStorage;
use promshard::storage::{Appendable, Queryable};

/// The store the scripts load into. Switching the harness to the real TSDB
/// is this one function.
fn new_storage() -> (Arc<dyn Queryable>, Arc<dyn Appendable>) {
    let storage = MemStorage::new();
    (Arc::new(storage.clone()), Arc::new(storage))
}

const EPSILON: f64 = 0.000001;

fn almost_equal(expected: f64, actual: f64) -> bool {
    if expected.is_nan() && actual.is_nan() {
        return true;
    }
    if expected == actual {
        return true;
    }
    let difference = (expected - actual).abs();
    if expected == 0.0 || actual == 0.0 || difference < f64::MIN_POSITIVE {
        return difference < EPSILON * f64::MIN_POSITIVE;
    }
    difference / (expected.abs() + actual.abs()).min(f64::MAX) < EPSILON
}

/// Parses a Prometheus duration (`5m`, `1h30m`, `10s`, `100ms`) or plain
/// seconds (`20010`, `0`), into milliseconds.
fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('-') {
        return parse_duration(rest).map(|d| -d);
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return Some((seconds * 1000.0).round() as i64);
    }
    let mut total = 0i64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            unit.push('s');
        }
        let value: i64 = number.parse().ok()?;
        number.clear();
        let factor = match unit.as_str() {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total += value * factor;
    }
    if !number.is_empty() {
        return None;
    }
    Some(total)
}

fn parse_number(text: &str) -> Option<f64> {
    match text {
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Point {
    Value(f64),
    Missing,
    Stale,
}

/// Expands the value notation: `1+2x3`, `1-2x3`, `5x2`, `_`, `_x3`,
/// `stale`, numbers. `None` for native histograms or malformed input.
fn expand_points(tokens: &[&str]) -> Option<Vec<Point>> {
    let mut points = Vec::new();
    for token in tokens {
        if token.starts_with("{{") {
            return None;
        }
        if *token == "_" {
            points.push(Point::Missing);
            continue;
        }
        if *token == "stale" {
            points.push(Point::Stale);
            continue;
        }
        if let Some(count) = token.strip_prefix("_x") {
            let count: usize = count.parse().ok()?;
            points.extend(std::iter::repeat_n(Point::Missing, count));
            continue;
        }
        if let Some(value) = parse_number(token) {
            points.push(Point::Value(value));
            continue;
        }
        let (base, count) = token.rsplit_once('x')?;
        let count: usize = count.parse().ok()?;
        // Find the operator between the start and the increment.
        let bytes = base.as_bytes();
        let mut split = None;
        for i in 1..bytes.len() {
            if (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
                split = Some(i);
            }
        }
        let (start, increment) = match split {
            Some(i) => {
                let start = parse_number(&base[..i])?;
                let increment = parse_number(&base[i + 1..])?;
                (
                    start,
                    if bytes[i] == b'-' {
                        -increment
                    } else {
                        increment
                    },
                )
            }
            None => (parse_number(base)?, 0.0),
        };
        if *token == "stale" {
            return None;
        }
        let mut value = start;
        for _ in 0..=count {
            points.push(Point::Value(value));
            value += increment;
        }
    }
    Some(points)
}

/// Splits `metric{a="b"} 1 2 3` into the selector and the value tokens,
/// keeping `{{...}}` histogram tokens whole.
fn split_series_line(line: &str) -> (String, Vec<String>) {
    let line = line.trim();
    let mut selector_end = line.len();
    let mut depth = 0;
    let mut in_quote = false;
    let mut previous = ' ';
    for (index, c) in line.char_indices() {
        if in_quote {
            if c == '"' && previous != '\\' {
                in_quote = false;
            }
        } else if c == '"' {
            in_quote = true;
        } else if c == '{' {
            depth += 1;
        } else if c == '}' {
            depth -= 1;
            if depth == 0 {
                selector_end = index + 1;
                break;
            }
        } else if c.is_whitespace() && depth == 0 {
            selector_end = index;
            break;
        }
        previous = c;
    }
    let selector = line[..selector_end].trim().to_string();
    let rest = line[selector_end..].trim();
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut histogram_depth = 0;
    for c in rest.chars() {
        if c == '{' {
            histogram_depth += 1;
        } else if c == '}' {
            histogram_depth -= 1;
        }
        if c.is_whitespace() && histogram_depth == 0 {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    (selector, tokens)
}

/// The labels of a series written as a selector.
fn parse_labels(selector: &str) -> Option<Labels> {
    if selector.is_empty() || selector == "{}" {
        return Some(Labels::empty());
    }
    let expr = promql_parser::parser::parse(selector).ok()?;
    let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
        return None;
    };
    let mut pairs: Vec<(String, String)> = vs
        .matchers
        .matchers
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    if let Some(name) = vs.name
        && !pairs.iter().any(|(n, _)| n == "__name__")
    {
        pairs.push(("__name__".to_string(), name));
    }
    Some(Labels::from_pairs(&pairs))
}

#[derive(Debug, Default)]
struct Expectation {
    fail: Option<(bool, Option<String>, Option<String>)>,
    warn: Option<bool>,
    warn_msg: Vec<(bool, String)>,
    info: Option<bool>,
    info_msg: Vec<(bool, String)>,
    ordered: bool,
    string: Option<String>,
    range_vector: Option<(i64, i64, i64)>,
    lines: Vec<String>,
}

#[derive(Debug)]
enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

struct Eval {
    line_number: usize,
    query: String,
    /// (start, end, step); step 0 for instant.
    start: i64,
    end: i64,
    step: i64,
    expect: Expectation,
}

fn parse_message(rest: &str) -> (Option<String>, Option<String>) {
    let rest = rest.trim();
    if let Some(message) = rest.strip_prefix("msg:") {
        return (Some(message.trim().to_string()), None);
    }
    if let Some(regex) = rest.strip_prefix("regex:") {
        return (None, Some(regex.trim().to_string()));
    }
    (None, None)
}

/// Drops a trailing ` (line:column)` position, which our parser cannot give.
fn strip_position(message: &str) -> &str {
    let trimmed = message.trim_end();
    if trimmed.ends_with(')')
        && let Some(open) = trimmed.rfind(" (")
    {
        let inside = &trimmed[open + 2..trimmed.len() - 1];
        if inside
            .split(':')
            .all(|p| p.chars().all(|c| c.is_ascii_digit()))
        {
            return &trimmed[..open];
        }
    }
    trimmed
}

fn strip_regex_position(regex: &str) -> &str {
    let trimmed = regex.trim_end();
    if trimmed.ends_with("\\)")
        && let Some(open) = trimmed.rfind(" \\(")
    {
        return &trimmed[..open];
    }
    trimmed
}

fn message_matches(actual: &[String], expected_message: &str, is_regex: bool) -> bool {
    if is_regex {
        let pattern = strip_regex_position(expected_message);
        let Ok(regex) = regex::Regex::new(&format!("^(?:{pattern})$")) else {
            return false;
        };
        return actual.iter().any(|m| regex.is_match(m));
    }
    let expected = strip_position(expected_message);
    actual.iter().any(|m| m == expected)
}

fn check_annotations(eval: &Eval, result: &QueryResult) -> Result<(), String> {
    let expect = &eval.expect;
    if let Some(want) = expect.warn
        && want == result.warnings.is_empty()
    {
        return Err(format!(
            "expected warnings: {want}, got {:?}",
            result.warnings
        ));
    }
    for (is_regex, message) in &expect.warn_msg {
        if !message_matches(&result.warnings, message, *is_regex) {
            return Err(format!(
                "expected warning {message:?}, got {:?}",
                result.warnings
            ));
        }
    }
    if let Some(want) = expect.info
        && want == result.infos.is_empty()
    {
        return Err(format!("expected infos: {want}, got {:?}", result.infos));
    }
    for (is_regex, message) in &expect.info_msg {
        if !message_matches(&result.infos, message, *is_regex) {
            return Err(format!("expected info {message:?}, got {:?}", result.infos));
        }
    }
    Ok(())
}

fn compare_points(
    labels: &Labels,
    expected: &[Point],
    actual: &[(i64, f64)],
    start: i64,
    step: i64,
) -> Result<(), String> {
    let mut expected_points = Vec::new();
    for (index, point) in expected.iter().enumerate() {
        let time = start + index as i64 * step;
        match point {
            Point::Value(v) => expected_points.push((time, *v)),
            Point::Missing => {}
            Point::Stale => return Err("stale marker in expected output".to_string()),
        }
    }
    if expected_points.len() != actual.len() {
        return Err(format!(
            "series {labels}: expected {} points {:?}, got {} {:?}",
            expected_points.len(),
            expected_points,
            actual.len(),
            actual
        ));
    }
    for (want, got) in expected_points.iter().zip(actual) {
        if want.0 != got.0 || !almost_equal(want.1, got.1) {
            return Err(format!(
                "series {labels}: expected {want:?}, got {got:?} (all: {actual:?})"
            ));
        }
    }
    Ok(())
}

fn compare_matrix(
    eval: &Eval,
    series: &[promshard::promql::RangeSeries],
    start: i64,
    step: i64,
) -> Result<(), String> {
    let mut expected: Vec<(Labels, Vec<Point>)> = Vec::new();
    for line in &eval.expect.lines {
        let (selector, tokens) = split_series_line(line);
        let labels = parse_labels(&selector).ok_or_else(|| format!("bad line {line}"))?;
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let points = expand_points(&tokens).ok_or_else(|| format!("bad values {line}"))?;
        expected.push((labels, points));
    }
    if expected.len() != series.len() {
        return Err(format!(
            "expected {} series, got {}: {:?}",
            expected.len(),
            series.len(),
            series
                .iter()
                .map(|s| format!("{} {:?}", s.labels, s.points))
                .collect::<Vec<_>>()
        ));
    }
    for (labels, points) in &expected {
        let Some(actual) = series.iter().find(|s| &s.labels == labels) else {
            return Err(format!(
                "missing series {labels}; got {:?}",
                series
                    .iter()
                    .map(|s| s.labels.to_string())
                    .collect::<Vec<_>>()
            ));
        };
        compare_points(labels, points, &actual.points, start, step)?;
    }
    Ok(())
}

fn compare_result(eval: &Eval, result: &QueryResult) -> Result<(), String> {
    let expect = &eval.expect;
    match &result.value {
        Value::String { v, .. } => match &expect.string {
            Some(want) if want == v => Ok(()),
            other => Err(format!("expected string {other:?}, got {v:?}")),
        },
        Value::Scalar { v, .. } => {
            let [line] = expect.lines.as_slice() else {
                return Err(format!("got scalar {v}, expected {:?}", expect.lines));
            };
            let want = parse_number(line.trim()).ok_or_else(|| format!("bad scalar {line}"))?;
            if almost_equal(want, *v) {
                Ok(())
            } else {
                Err(format!("expected scalar {want}, got {v}"))
            }
        }
        Value::Vector(samples) => {
            let mut expected: Vec<(Labels, f64)> = Vec::new();
            for line in &expect.lines {
                let (selector, tokens) = split_series_line(line);
                let labels = parse_labels(&selector).ok_or_else(|| format!("bad line {line}"))?;
                let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
                let points = expand_points(&tokens).ok_or_else(|| format!("bad values {line}"))?;
                let [Point::Value(value)] = points.as_slice() else {
                    return Err(format!("expected one value in {line}"));
                };
                expected.push((labels, *value));
            }
            if expected.len() != samples.len() {
                return Err(format!(
                    "expected {} samples, got {}: {:?}",
                    expected.len(),
                    samples.len(),
                    samples
                        .iter()
                        .map(|s| format!("{} {}", s.labels, s.v))
                        .collect::<Vec<_>>()
                ));
            }
            for (index, (labels, value)) in expected.iter().enumerate() {
                let found = if expect.ordered {
                    samples.get(index).filter(|s| &s.labels == labels)
                } else {
                    samples.iter().find(|s| &s.labels == labels)
                };
                let Some(sample) = found else {
                    return Err(format!(
                        "missing or misplaced sample {labels}; got {:?}",
                        samples
                            .iter()
                            .map(|s| format!("{} {}", s.labels, s.v))
                            .collect::<Vec<_>>()
                    ));
                };
                if !almost_equal(*value, sample.v) {
                    return Err(format!("{labels}: expected {value}, got {}", sample.v));
                }
            }
            Ok(())
        }
        Value::Matrix(series) => {
            if eval.step > 0 {
                compare_matrix(eval, series, eval.start, eval.step)
            } else if let Some((from, _, step)) = expect.range_vector {
                compare_matrix(eval, series, from, step)
            } else {
                Err("got a range vector without `expect range vector`".to_string())
            }
        }
    }
}

fn run_eval(engine: &Engine, storage: &dyn Queryable, eval: &Eval) -> Outcome {
    let result = if eval.step == 0 {
        engine.instant_query(storage, &eval.query, eval.start)
    } else {
        engine.range_query(storage, &eval.query, eval.start, eval.end, eval.step)
    };
    let result: Result<QueryResult, QueryError> = result;
    match (&eval.expect.fail, result) {
        (Some((_, message, regex)), Err(error)) => {
            let text = error.to_string();
            if let Some(message) = message
                && &text != message
            {
                return Outcome::Failed(format!("expected error {message:?}, got {text:?}"));
            }
            if let Some(regex) = regex {
                let matched = regex::Regex::new(regex)
                    .map(|r| r.is_match(&text))
                    .unwrap_or(false);
                if !matched {
                    return Outcome::Failed(format!("expected error /{regex}/, got {text:?}"));
                }
            }
            Outcome::Passed
        }
        (Some(_), Ok(result)) => {
            Outcome::Failed(format!("expected an error, got {:?}", result.value))
        }
        (None, Err(error)) => Outcome::Failed(format!("unexpected error: {error}")),
        (None, Ok(result)) => {
            if let Err(problem) = check_annotations(eval, &result) {
                return Outcome::Failed(problem);
            }
            if let Err(problem) = compare_result(eval, &result) {
                return Outcome::Failed(problem);
            }
            // An instant query must answer the same as a one-step range query.
            if eval.step == 0
                && let Value::Vector(samples) = &result.value
            {
                match engine.range_query(storage, &eval.query, eval.start, eval.start, 60_000) {
                    Ok(QueryResult {
                        value: Value::Matrix(series),
                        ..
                    }) => {
                        let same = series.len() == samples.len()
                            && samples.iter().all(|s| {
                                series.iter().any(|r| {
                                    r.labels == s.labels
                                        && r.points.len() == 1
                                        && almost_equal(s.v, r.points[0].1)
                                })
                            });
                        if !same {
                            return Outcome::Failed(format!(
                                "one-step range query differs: {series:?}"
                            ));
                        }
                    }
                    Ok(other) => {
                        return Outcome::Failed(format!(
                            "one-step range query gave {:?}",
                            other.value
                        ));
                    }
                    Err(error) => {
                        return Outcome::Failed(format!("one-step range query failed: {error}"));
                    }
                }
            }
            Outcome::Passed
        }
    }
}

#[derive(Default)]
struct FileCounts {
    passed: usize,
    failed: usize,
    skipped: usize,
    failures: Vec<String>,
    skip_reasons: BTreeMap<String, usize>,
    skip_details: Vec<String>,
}

const NATIVE_ONLY_FUNCTIONS: [&str; 8] = [
    "histogram_count",
    "histogram_sum",
    "histogram_avg",
    "histogram_fraction",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_quantiles",
    "info(",
];

fn run_file(path: &Path) -> FileCounts {
    let mut counts = FileCounts::default();
    let Ok(text) = std::fs::read_to_string(path) else {
        counts.failed += 1;
        counts
            .failures
            .push(format!("cannot read {}", path.display()));
        return counts;
    };
    let engine = Engine::new(EngineOptions::default());
    let (mut queryable, mut appendable) = new_storage();
    let mut histogram_series: Vec<Labels> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;
    let is_indented = |line: &str| line.starts_with(' ') || line.starts_with('\t');
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim();
        index += 1;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed == "clear" {
            (queryable, appendable) = new_storage();
            histogram_series.clear();
            continue;
        }
        let with_nhcb = trimmed.starts_with("load_with_nhcb ");
        if let Some(rest) = trimmed
            .strip_prefix("load_with_nhcb ")
            .or_else(|| trimmed.strip_prefix("load "))
        {
            let interval = parse_duration(rest).unwrap_or(60_000);
            // A series written twice in one load keeps its last line, as in
            // Prometheus's harness.
            let mut loaded: Vec<(Labels, Vec<Point>)> = Vec::new();
            while index < lines.len() && is_indented(lines[index]) {
                let series_line = lines[index].trim();
                index += 1;
                if series_line.is_empty() || series_line.starts_with('#') {
                    continue;
                }
                let (selector, tokens) = split_series_line(series_line);
                let Some(labels) = parse_labels(&selector) else {
                    continue;
                };
                // Loaded "with NHCB", classic histograms also exist as native
                // histograms under the name without `_bucket`.
                if with_nhcb
                    && let Some(base) = labels.metric_name().and_then(|n| n.strip_suffix("_bucket"))
                {
                    let mut builder = promshard::model::LabelsBuilder::new(&labels);
                    builder.set("__name__", base).del(&["le"]);
                    histogram_series.push(builder.build());
                }
                let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
                let Some(points) = expand_points(&tokens) else {
                    histogram_series.push(labels);
                    continue;
                };
                loaded.retain(|(existing, _)| existing != &labels);
                loaded.push((labels, points));
            }
            let mut appender = appendable.appender();
            for (labels, points) in &loaded {
                for (step, point) in points.iter().enumerate() {
                    let time = step as i64 * interval;
                    let value = match point {
                        Point::Value(v) => *v,
                        Point::Stale => stale_nan(),
                        Point::Missing => continue,
                    };
                    let _ = appender.append(labels, time, value);
                }
            }
            let _ = appender.commit();
            continue;
        }
        if !trimmed.starts_with("eval") {
            continue;
        }
        let line_number = index;
        let (command, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
        let mut expect = Expectation::default();
        match command {
            "eval_fail" => expect.fail = Some((true, None, None)),
            "eval_warn" => expect.warn = Some(true),
            "eval_info" => expect.info = Some(true),
            "eval_ordered" => expect.ordered = true,
            _ => {}
        }
        let parsed = if let Some(after) = rest.strip_prefix("instant at ") {
            after
                .split_once(' ')
                .and_then(|(time, query)| Some((parse_duration(time)?, 0, 0, query.to_string())))
        } else if let Some(after) = rest.strip_prefix("range from ") {
            let parts: Vec<&str> = after.splitn(6, ' ').collect();
            if parts.len() == 6 && parts[1] == "to" && parts[3] == "step" {
                (|| {
                    Some((
                        parse_duration(parts[0])?,
                        parse_duration(parts[2])?,
                        parse_duration(parts[4])?,
                        parts[5].to_string(),
                    ))
                })()
            } else {
                None
            }
        } else {
            None
        };
        let mut raw_lines = Vec::new();
        while index < lines.len() && is_indented(lines[index]) && !lines[index].trim().is_empty() {
            raw_lines.push(lines[index].trim().to_string());
            index += 1;
        }
        for expected_line in raw_lines {
            if expected_line.starts_with('#') {
                continue;
            }
            if let Some(rest) = expected_line.strip_prefix("expect ") {
                let (keyword, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                match keyword {
                    "fail" => {
                        let (message, regex) = parse_message(tail);
                        expect.fail = Some((true, message, regex));
                    }
                    "warn" => {
                        expect.warn = Some(true);
                        let (message, regex) = parse_message(tail);
                        if let Some(m) = message {
                            expect.warn_msg.push((false, m));
                        }
                        if let Some(r) = regex {
                            expect.warn_msg.push((true, r));
                        }
                    }
                    "no_warn" => expect.warn = Some(false),
                    "info" => {
                        expect.info = Some(true);
                        let (message, regex) = parse_message(tail);
                        if let Some(m) = message {
                            expect.info_msg.push((false, m));
                        }
                        if let Some(r) = regex {
                            expect.info_msg.push((true, r));
                        }
                    }
                    "no_info" => expect.info = Some(false),
                    "ordered" => expect.ordered = true,
                    "string" => {
                        let value = tail.trim();
                        let unquoted = value
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .or_else(|| value.strip_prefix('`').and_then(|v| v.strip_suffix('`')))
                            .unwrap_or(value);
                        expect.string = Some(unquoted.to_string());
                    }
                    "range" => {
                        // expect range vector from <a> to <b> step <c>
                        let parts: Vec<&str> = tail.split_whitespace().collect();
                        if parts.len() == 7
                            && let (Some(a), Some(b), Some(c)) = (
                                parse_duration(parts[2]),
                                parse_duration(parts[4]),
                                parse_duration(parts[6]),
                            )
                        {
                            expect.range_vector = Some((a, b, c));
                        }
                    }
                    _ => {}
                }
                continue;
            }
            expect.lines.push(expected_line);
        }
        let Some((start, end, step, query)) = parsed else {
            counts.failed += 1;
            counts.failures.push(format!(
                "line {line_number}: cannot parse eval line {trimmed}"
            ));
            continue;
        };
        let eval = Eval {
            line_number,
            query,
            start,
            end,
            step,
            expect,
        };
        let uses_histograms = eval.expect.lines.iter().any(|l| l.contains("{{"))
            || NATIVE_ONLY_FUNCTIONS.iter().any(|f| eval.query.contains(f));
        let outcome = if uses_histograms {
            Outcome::Skipped("native histograms are not supported".to_string())
        } else {
            match run_eval(&engine, queryable.as_ref(), &eval) {
                // The harness cannot load native histogram samples, so an
                // eval over series that have them sees partial data.
                Outcome::Failed(reason) if selects_any(&eval.query, &histogram_series) => {
                    counts.skip_details.push(format!(
                        "line {}: {} :: {reason}",
                        eval.line_number, eval.query
                    ));
                    Outcome::Skipped(
                        "selects native histogram series, which cannot be loaded".to_string(),
                    )
                }
                other => other,
            }
        };
        match outcome {
            Outcome::Passed => counts.passed += 1,
            Outcome::Failed(reason) => {
                counts.failed += 1;
                counts.failures.push(format!(
                    "line {}: {} :: {reason}",
                    eval.line_number, eval.query
                ));
            }
            Outcome::Skipped(reason) => {
                counts.skipped += 1;
                *counts.skip_reasons.entry(reason).or_default() += 1;
            }
        }
    }
    counts
}

/// Whether any selector of `query` selects one of `series`.
fn selects_any(query: &str, series: &[Labels]) -> bool {
    use promql_parser::parser::Expr;
    fn walk(expr: &Expr, series: &[Labels]) -> bool {
        let selector_matches = |vs: &promql_parser::parser::VectorSelector| {
            series.iter().any(|labels| {
                vs.name
                    .as_ref()
                    .is_none_or(|name| labels.get_or_empty("__name__") == name)
                    && vs
                        .matchers
                        .matchers
                        .iter()
                        .all(|m| m.is_match(labels.get_or_empty(&m.name)))
            })
        };
        match expr {
            Expr::Aggregate(a) => {
                walk(&a.expr, series) || a.param.as_ref().is_some_and(|p| walk(p, series))
            }
            Expr::Unary(u) => walk(&u.expr, series),
            Expr::Binary(b) => walk(&b.lhs, series) || walk(&b.rhs, series),
            Expr::Paren(p) => walk(&p.expr, series),
            Expr::Subquery(s) => walk(&s.expr, series),
            Expr::VectorSelector(vs) => selector_matches(vs),
            Expr::MatrixSelector(ms) => selector_matches(&ms.vs),
            Expr::Call(c) => c.args.args.iter().any(|a| walk(a, series)),
            _ => false,
        }
    }
    if series.is_empty() {
        return false;
    }
    promql_parser::parser::parse(query).is_ok_and(|expr| walk(&expr, series))
}

fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/promqltest")
}

#[test]
fn prometheus_promql_scripts() {
    let directory = testdata_dir();
    let Ok(entries) = std::fs::read_dir(&directory) else {
        panic!("cannot read {}", directory.display());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    let mut table = String::new();
    let mut details = String::new();
    let _ = writeln!(
        table,
        "{:<28} {:>7} {:>7} {:>8}",
        "file", "passed", "failed", "skipped"
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for file in &files {
        let counts = run_file(file);
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let _ = writeln!(
            table,
            "{:<28} {:>7} {:>7} {:>8}",
            name, counts.passed, counts.failed, counts.skipped
        );
        passed += counts.passed;
        failed += counts.failed;
        skipped += counts.skipped;
        for failure in &counts.failures {
            let _ = writeln!(details, "FAIL {name}:{failure}");
        }
        for detail in &counts.skip_details {
            let _ = writeln!(details, "SKIPPED-FAILURE {name}:{detail}");
        }
        for (reason, count) in &counts.skip_reasons {
            let _ = writeln!(details, "SKIP {name}: {count} evals: {reason}");
        }
    }
    let _ = writeln!(
        table,
        "{:<28} {:>7} {:>7} {:>8}",
        "TOTAL", passed, failed, skipped
    );
    println!("{details}");
    println!("{table}");
    let target = option_env!("CARGO_TARGET_DIR").unwrap_or("target");
    let target = if Path::new(target).is_absolute() {
        PathBuf::from(target)
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(target)
    };
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(
        target.join("promqltest-summary.txt"),
        format!("{table}\n{details}"),
    );
    let threshold_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/promqltest_threshold.txt"),
    )
    .unwrap_or_default();
    let threshold: usize = threshold_text.trim().parse().unwrap_or(0);
    assert!(
        passed >= threshold,
        "{passed} evals passed, fewer than the threshold {threshold}"
    );
}
