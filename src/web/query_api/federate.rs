//! `/federate`: the newest sample of every matching series in the text
//! format 0.0.4.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, QueryApiState, request_params};
use crate::model::{Labels, LabelsBuilder, METRIC_NAME, is_stale_nan};
use crate::promql::format_float_text;
use crate::storage::StorageError;

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
                out.push_str(&format!(" {} {t}\n", format_float_text(v)));
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
