//! `/federate`: the newest sample of every matching series in the text
//! format 0.0.4, and the fallback cardinality statistics of
//! `/api/v1/status/tsdb`.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, QueryApiState, request_params};
use crate::model::{Labels, LabelsBuilder, METRIC_NAME, Matcher, is_stale_nan};
use crate::promql::format_float;
use crate::storage::{Queryable, StorageError};

/// Escapes a label value for the text format.
fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('"', "\\\"")
}

pub(super) async fn federate(
    State(state): State<QueryApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = request_params(raw, &headers, &body);
    let selectors = super::parse_matchers(&params)?;
    let now = super::now_ms();
    let lookback = i64::try_from(state.lookback_delta.as_millis()).unwrap_or(300_000);
    let queryable = state.queryable.clone();
    let external_labels = state.external_labels.clone();
    let task = tokio::task::spawn_blocking(move || -> Result<String, StorageError> {
        let querier = queryable.querier(now - lookback, now)?;
        let mut newest: BTreeMap<Labels, (i64, f64)> = BTreeMap::new();
        for matchers in &selectors {
            let mut set = querier.select(false, None, matchers);
            while let Some(series) = set.next() {
                let mut iterator = series.iter();
                let mut last = None;
                let mut current = iterator.seek(now - lookback + 1);
                while let Some((t, v)) = current {
                    if t > now {
                        break;
                    }
                    last = Some((t, v));
                    current = iterator.next();
                }
                if let Some((t, v)) = last
                    && !is_stale_nan(v)
                {
                    let mut builder = LabelsBuilder::new(series.labels());
                    for label in external_labels.iter() {
                        if builder.get(label.name).is_empty() {
                            builder.set(label.name, label.value);
                        }
                    }
                    newest.insert(builder.build(), (t, v));
                }
            }
            if let Some(error) = set.err() {
                return Err(error);
            }
        }
        // Group by metric name, as the text format wants.
        let mut by_name: BTreeMap<String, Vec<(Labels, i64, f64)>> = BTreeMap::new();
        for (labels, (t, v)) in newest {
            let name = labels.get_or_empty(METRIC_NAME).to_string();
            by_name.entry(name).or_default().push((labels, t, v));
        }
        let mut out = String::new();
        for (name, samples) in by_name {
            out.push_str(&format!("# TYPE {name} untyped\n"));
            for (labels, t, v) in samples {
                out.push_str(&name);
                let pairs: Vec<String> = labels
                    .iter()
                    .filter(|l| l.name != METRIC_NAME)
                    .map(|l| format!("{}=\"{}\"", l.name, escape_label_value(l.value)))
                    .collect();
                if !pairs.is_empty() {
                    out.push('{');
                    out.push_str(&pairs.join(","));
                    out.push('}');
                }
                out.push_str(&format!(" {} {t}\n", format_float(v)));
            }
        }
        Ok(out)
    });
    let text = task
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(super::storage_error)?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

fn top(counts: HashMap<String, u64>, limit: usize) -> Vec<serde_json::Value> {
    let mut entries: Vec<(String, u64)> = counts.into_iter().collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    entries.truncate(limit);
    entries
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect()
}

/// Cardinality statistics over every series the queryable holds, in the
/// shape of Prometheus's `/api/v1/status/tsdb` `data`.
pub(super) fn cardinality_stats(
    queryable: &dyn Queryable,
    limit: usize,
) -> Result<serde_json::Value, StorageError> {
    let querier = queryable.querier(super::MIN_TIME_MS, super::MAX_TIME_MS)?;
    let everything = Matcher::new(crate::model::MatchType::Regex, METRIC_NAME, ".+")
        .map_err(|e| StorageError::Other(e.to_string()))?;
    let mut set = querier.select(false, None, &[everything]);
    let mut series_by_name: HashMap<String, u64> = HashMap::new();
    let mut values_by_label: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    let mut memory_by_label: HashMap<String, u64> = HashMap::new();
    let mut series_by_pair: HashMap<String, u64> = HashMap::new();
    let mut series_count: u64 = 0;
    let (mut min_time, mut max_time) = (i64::MAX, i64::MIN);
    while let Some(series) = set.next() {
        series_count += 1;
        let labels = series.labels();
        *series_by_name
            .entry(labels.get_or_empty(METRIC_NAME).to_string())
            .or_default() += 1;
        for label in labels.iter() {
            let values = values_by_label.entry(label.name.to_string()).or_default();
            if values.insert(label.value.to_string()) {
                *memory_by_label.entry(label.name.to_string()).or_default() +=
                    label.value.len() as u64;
            }
            *series_by_pair
                .entry(format!("{}={}", label.name, label.value))
                .or_default() += 1;
        }
        let mut iterator = series.iter();
        if let Some((t, _)) = iterator.next() {
            min_time = min_time.min(t);
            max_time = max_time.max(t);
            while let Some((t, _)) = iterator.next() {
                max_time = max_time.max(t);
            }
        }
    }
    if let Some(error) = set.err() {
        return Err(error);
    }
    let value_counts: HashMap<String, u64> = values_by_label
        .into_iter()
        .map(|(name, values)| (name, values.len() as u64))
        .collect();
    let (min_time, max_time) = if series_count == 0 {
        (0, 0)
    } else {
        (min_time, max_time)
    };
    Ok(json!({
        "headStats": {
            "numSeries": series_count,
            "numLabelPairs": series_by_pair.len(),
            "chunkCount": 0,
            "minTime": min_time,
            "maxTime": max_time,
        },
        "seriesCountByMetricName": top(series_by_name, limit),
        "labelValueCountByLabelName": top(value_counts, limit),
        "memoryInBytesByLabelName": top(memory_by_label, limit),
        "seriesCountByLabelValuePair": top(series_by_pair, limit),
    }))
}
