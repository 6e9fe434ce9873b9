//! Writes responses in the exact shape of Prometheus's HTTP API. Results
//! are written by hand (not through a map) so that field order matches
//! Prometheus byte for byte, and large matrices stream into one buffer.

use std::fmt::Write as _;

use super::params::format_timestamp;
use crate::model::Labels;
use crate::promql::{QueryResult, Value, format_float};

/// Appends `text` as a JSON string.
pub fn push_string(out: &mut String, text: &str) {
    match serde_json::to_string(text) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

/// Appends a label set as a JSON object.
pub fn push_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (index, label) in labels.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_string(out, label.name);
        out.push(':');
        push_string(out, label.value);
    }
    out.push('}');
}

fn push_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    out.push_str(&format_timestamp(t));
    out.push_str(",\"");
    out.push_str(&format_float(v));
    out.push_str("\"]");
}

fn push_string_list(out: &mut String, key: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    let _ = write!(out, ",\"{key}\":[");
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_string(out, value);
    }
    out.push(']');
}

/// `{"status":"success","data":{"resultType":..,"result":..}, warnings, infos}`.
pub fn query_result(result: &QueryResult) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"status\":\"success\",\"data\":{\"resultType\":\"");
    out.push_str(result.value.type_name());
    out.push_str("\",\"result\":");
    match &result.value {
        Value::Scalar { t, v } => push_point(&mut out, *t, *v),
        Value::String { t, v } => {
            out.push('[');
            out.push_str(&format_timestamp(*t));
            out.push(',');
            push_string(&mut out, v);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (index, sample) in samples.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_labels(&mut out, &sample.labels);
                out.push_str(",\"value\":");
                push_point(&mut out, sample.t, sample.v);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (index, one) in series.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_labels(&mut out, &one.labels);
                out.push_str(",\"values\":[");
                for (point_index, (t, v)) in one.points.iter().enumerate() {
                    if point_index > 0 {
                        out.push(',');
                    }
                    push_point(&mut out, *t, *v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
    push_string_list(&mut out, "warnings", &result.warnings);
    push_string_list(&mut out, "infos", &result.infos);
    out.push('}');
    out
}

/// `{"status":"success","data":<data>}` with optional warnings.
pub fn success(data_json: &str, warnings: &[String]) -> String {
    let mut out = String::with_capacity(data_json.len() + 64);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(data_json);
    push_string_list(&mut out, "warnings", warnings);
    out.push('}');
    out
}

/// `{"status":"error","errorType":..,"error":..}`.
pub fn error(error_type: &str, message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 64);
    out.push_str("{\"status\":\"error\",\"errorType\":");
    push_string(&mut out, error_type);
    out.push_str(",\"error\":");
    push_string(&mut out, message);
    out.push('}');
    out
}
