//! Cardinality statistics of the head, as served by `/api/v1/status/tsdb`.

use serde::Serialize;

use super::Head;
use crate::model::METRIC_NAME;

/// The head's totals (Prometheus's `headStats`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HeadStats {
    /// Number of series in the head.
    pub num_series: u64,
    /// Number of distinct label pairs.
    pub num_label_pairs: u64,
    /// Number of chunks in the head.
    pub chunk_count: i64,
    /// Oldest sample time in milliseconds (0 when empty).
    pub min_time: i64,
    /// Newest sample time in milliseconds (0 when empty).
    pub max_time: i64,
}

/// One `{name, value}` entry of a top-N list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LabelCount {
    /// The metric name, label name or `name=value` pair.
    pub name: String,
    /// The count or byte size.
    pub value: u64,
}

/// The body of `/api/v1/status/tsdb`, with Prometheus's field names.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TsdbStats {
    /// Head totals.
    pub head_stats: HeadStats,
    /// Series count per metric name, largest first.
    pub series_count_by_metric_name: Vec<LabelCount>,
    /// Distinct value count per label name, largest first.
    pub label_value_count_by_label_name: Vec<LabelCount>,
    /// Bytes of label values per label name, largest first.
    pub memory_in_bytes_by_label_name: Vec<LabelCount>,
    /// Series count per label pair, largest first.
    pub series_count_by_label_value_pair: Vec<LabelCount>,
}

fn top(mut entries: Vec<LabelCount>, limit: usize) -> Vec<LabelCount> {
    entries.sort_unstable_by(|a, b| b.value.cmp(&a.value).then_with(|| a.name.cmp(&b.name)));
    entries.truncate(limit);
    entries
}

impl Head {
    /// Statistics with top-`limit` lists.
    pub fn stats(&self, limit: usize) -> TsdbStats {
        let chunk_count = self.metrics.head_chunks.get();
        let empty = self.num_series() == 0 || self.max_time() == i64::MIN;
        let head_stats_times = if empty {
            (0, 0)
        } else {
            (self.min_time(), self.max_time())
        };
        let postings = self.postings.read();
        let mut by_metric_name = Vec::new();
        let mut value_count_by_name = Vec::new();
        let mut memory_by_name = Vec::new();
        let mut by_pair = Vec::new();
        for name in postings.label_names() {
            let mut bytes = 0u64;
            let mut value_count = 0u64;
            for (value, list) in postings.values_of(name) {
                value_count += 1;
                bytes += (value.len() * list.len()) as u64;
                let series = list.len() as u64;
                if name == METRIC_NAME {
                    by_metric_name.push(LabelCount {
                        name: value.to_string(),
                        value: series,
                    });
                }
                by_pair.push(LabelCount {
                    name: format!("{name}={value}"),
                    value: series,
                });
            }
            value_count_by_name.push(LabelCount {
                name: name.to_string(),
                value: value_count,
            });
            memory_by_name.push(LabelCount {
                name: name.to_string(),
                value: bytes,
            });
        }
        TsdbStats {
            head_stats: HeadStats {
                num_series: self.num_series(),
                num_label_pairs: postings.label_pair_count() as u64,
                chunk_count,
                min_time: head_stats_times.0,
                max_time: head_stats_times.1,
            },
            series_count_by_metric_name: top(by_metric_name, limit),
            label_value_count_by_label_name: top(value_count_by_name, limit),
            memory_in_bytes_by_label_name: top(memory_by_name, limit),
            series_count_by_label_value_pair: top(by_pair, limit),
        }
    }
}
