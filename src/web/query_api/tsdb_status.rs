//! The cardinality statistics of `/api/v1/status/tsdb` when no TSDB
//! provider is wired in: computed by walking every series.

use std::collections::HashMap;

use serde_json::json;

use crate::model::{METRIC_NAME, Matcher};
use crate::storage::{Queryable, StorageError};

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
