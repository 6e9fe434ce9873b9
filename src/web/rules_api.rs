//! `/api/v1/rules` and `/api/v1/alerts` in Prometheus's JSON shapes (what
//! Grafana reads): groups with their rules, health, last error, evaluation
//! time and, for alerting rules, their alerts.
//!
//! In a cluster each rule group is evaluated by one node, so a node's own
//! groups are only part of the picture. Unless asked with `local=true`,
//! both endpoints also ask every live peer (with `local=true`, in
//! parallel) and merge the answers, as the query API's global view does; a
//! peer that fails or is slower than the timeout makes the answer partial,
//! with a warning.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::cluster::peers::PeerClient;
use crate::model::Labels;
use crate::rules::RuleManager;
use crate::rules::alerting::{Alert, AlertState};
use crate::rules::group::{Group, GroupRule, RuleKind};
use crate::rules::template::go_float_e;

#[derive(Clone)]
struct ApiState {
    manager: Arc<RuleManager>,
    peers: Option<PeerClient>,
}

/// The router serving both endpoints over `manager`'s groups, merged with
/// the answers of `peers`' members when given.
pub fn router(manager: Arc<RuleManager>, peers: Option<PeerClient>) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules).post(rules))
        .route("/api/v1/alerts", get(alerts).post(alerts))
        .with_state(ApiState { manager, peers })
}

fn success(data: Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

fn success_with_warnings(data: Value, warnings: Vec<String>) -> Response {
    if warnings.is_empty() {
        return success(data);
    }
    Json(json!({"status": "success", "data": data, "warnings": warnings})).into_response()
}

/// Whether the request asks for this node's own answer only.
fn is_local(query: Option<&str>) -> Result<bool, String> {
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "local" {
            return match value.as_ref() {
                "" | "false" | "0" => Ok(false),
                "true" | "1" => Ok(true),
                other => Err(format!("parsing local: invalid boolean {other:?}")),
            };
        }
    }
    Ok(false)
}

/// Asks every peer for `path` with the request's query and `local=true`;
/// returns each answer's `data` and a warning per peer that failed.
async fn ask_peers(
    state: &ApiState,
    path: &str,
    query: Option<&str>,
    local: bool,
) -> (Vec<Value>, Vec<String>) {
    let Some(peers) = state.peers.as_ref().filter(|_| !local) else {
        return (Vec::new(), Vec::new());
    };
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .filter(|(key, _)| key != "local")
            .collect();
    peers.ask_all(path, &params).await
}

/// The entries of `key` (an array) in each peer answer.
fn peer_entries(answers: Vec<Value>, key: &str) -> impl Iterator<Item = Value> {
    answers.into_iter().flat_map(
        move |mut answer| match answer.get_mut(key).map(Value::take) {
            Some(Value::Array(entries)) => entries,
            _ => Vec::new(),
        },
    )
}

/// Merges groups from several nodes: one entry per file and group name
/// (during a hand-over two nodes may both show one; the more recently
/// evaluated wins), sorted as Prometheus sorts them.
fn merge_groups(groups: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut by_key: BTreeMap<(String, String), Value> = BTreeMap::new();
    for group in groups {
        let text = |field: &str| {
            group
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let key = (text("file"), text("name"));
        let evaluated = text("lastEvaluation");
        let newer = by_key.get(&key).is_none_or(|kept| {
            kept.get("lastEvaluation")
                .and_then(Value::as_str)
                .unwrap_or_default()
                < evaluated.as_str()
        });
        if newer {
            by_key.insert(key, group);
        }
    }
    by_key.into_values().collect()
}

/// Merges alerts from several nodes, one per label set.
fn merge_alerts(alerts: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    alerts
        .filter(|alert| {
            seen.insert(
                alert
                    .get("labels")
                    .map(Value::to_string)
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn bad_data(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": "error", "errorType": "bad_data", "error": message})),
    )
        .into_response()
}

/// Go's zero time, shown for "never".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time_text(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| ZERO_TIME.to_string())
}

fn labels_json(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|label| {
                (
                    label.name.to_string(),
                    Value::String(label.value.to_string()),
                )
            })
            .collect(),
    )
}

/// The filters of `/api/v1/rules`.
#[derive(Debug, Default)]
struct RuleFilter {
    kind: Option<&'static str>,
    rule_names: Vec<String>,
    group_names: Vec<String>,
    files: Vec<String>,
    exclude_alerts: bool,
}

impl RuleFilter {
    fn parse(query: Option<&str>) -> Result<RuleFilter, String> {
        let mut filter = RuleFilter::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "type" => {
                    filter.kind = match value.to_lowercase().as_str() {
                        "" => None,
                        "alert" => Some("alert"),
                        "record" => Some("record"),
                        other => return Err(format!("not supported value {other:?}")),
                    };
                }
                "rule_name[]" => filter.rule_names.push(value.into_owned()),
                "rule_group[]" => filter.group_names.push(value.into_owned()),
                "file[]" => filter.files.push(value.into_owned()),
                "exclude_alerts" => {
                    filter.exclude_alerts = match value.as_ref() {
                        "" | "false" | "0" => false,
                        "true" | "1" => true,
                        other => {
                            return Err(format!(
                                "parsing exclude_alerts: invalid boolean {other:?}"
                            ));
                        }
                    };
                }
                _ => {}
            }
        }
        Ok(filter)
    }

    fn is_filtering(&self) -> bool {
        self.kind.is_some()
            || !self.rule_names.is_empty()
            || !self.group_names.is_empty()
            || !self.files.is_empty()
    }

    fn keeps_group(&self, group: &Group) -> bool {
        (self.group_names.is_empty() || self.group_names.contains(&group.name))
            && (self.files.is_empty() || self.files.contains(&group.file))
    }

    fn keeps_rule(&self, rule: &GroupRule) -> bool {
        let kind_matches = matches!(
            (self.kind, &rule.kind),
            (None, _)
                | (Some("alert"), RuleKind::Alerting(_))
                | (Some("record"), RuleKind::Recording(_))
        );
        kind_matches
            && (self.rule_names.is_empty()
                || self.rule_names.iter().any(|name| name == rule.kind.name()))
    }
}

/// One alert in the API's shape.
pub fn alert_json(alert: &Alert) -> Value {
    let mut value = json!({
        "labels": labels_json(&alert.labels),
        "annotations": alert.annotations,
        "state": alert.state.as_str(),
        "activeAt": time_text(Some(alert.active_at_ms)),
        "value": go_float_e(alert.value),
    });
    if let (Some(since), Value::Object(map)) = (alert.keep_firing_since_ms, &mut value) {
        map.insert(
            "keepFiringSince".to_string(),
            Value::String(time_text(Some(since))),
        );
    }
    value
}

fn rule_json(rule: &GroupRule, exclude_alerts: bool) -> Value {
    let status = rule.status.lock().clone();
    let labels: BTreeMap<&String, &String> = rule.kind.labels().iter().collect();
    let mut value = match &rule.kind {
        RuleKind::Alerting(alerting) => {
            let alerts: Vec<Value> = if exclude_alerts {
                Vec::new()
            } else {
                alerting
                    .alerts()
                    .iter()
                    .filter(|alert| alert.state != AlertState::Inactive)
                    .map(alert_json)
                    .collect()
            };
            let state = if status.last_evaluation_ms.is_none() {
                "inactive"
            } else {
                alerting.rule_state().as_str()
            };
            json!({
                "state": state,
                "name": alerting.name,
                "query": alerting.expr,
                "duration": alerting.hold_duration.as_secs_f64(),
                "keepFiringFor": alerting.keep_firing_for.as_secs_f64(),
                "labels": labels,
                "annotations": alerting.annotations,
                "alerts": alerts,
                "type": "alerting",
            })
        }
        RuleKind::Recording(recording) => json!({
            "name": recording.name,
            "query": recording.expr,
            "labels": labels,
            "type": "recording",
        }),
    };
    if let Value::Object(map) = &mut value {
        map.insert("health".to_string(), json!(status.health.as_str()));
        if !status.last_error.is_empty() {
            map.insert("lastError".to_string(), json!(status.last_error));
        }
        map.insert(
            "evaluationTime".to_string(),
            json!(status.evaluation_seconds),
        );
        map.insert(
            "lastEvaluation".to_string(),
            json!(time_text(status.last_evaluation_ms)),
        );
    }
    value
}

fn sorted_groups(manager: &RuleManager) -> Vec<Arc<Group>> {
    let mut groups = manager.groups();
    groups.sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
    groups
}

async fn rules(State(state): State<ApiState>, RawQuery(query): RawQuery) -> Response {
    let filter = match RuleFilter::parse(query.as_deref()) {
        Ok(filter) => filter,
        Err(message) => return bad_data(&message),
    };
    let local = match is_local(query.as_deref()) {
        Ok(local) => local,
        Err(message) => return bad_data(&message),
    };
    let groups = local_groups(&state.manager, &filter);
    let (answers, warnings) = ask_peers(&state, "/api/v1/rules", query.as_deref(), local).await;
    let groups = merge_groups(groups.into_iter().chain(peer_entries(answers, "groups")));
    success_with_warnings(json!({ "groups": groups }), warnings)
}

fn local_groups(manager: &RuleManager, filter: &RuleFilter) -> Vec<Value> {
    let mut groups = Vec::new();
    for group in sorted_groups(manager) {
        if !filter.keeps_group(&group) {
            continue;
        }
        let rules: Vec<Value> = group
            .rules
            .iter()
            .filter(|rule| filter.keeps_rule(rule))
            .map(|rule| rule_json(rule, filter.exclude_alerts))
            .collect();
        if filter.is_filtering() && rules.is_empty() {
            continue;
        }
        let status = group.status.lock().clone();
        groups.push(json!({
            "name": group.name,
            "file": group.file,
            "rules": rules,
            "interval": group.interval.as_secs_f64(),
            "limit": group.limit,
            "evaluationTime": status.evaluation_seconds,
            "lastEvaluation": time_text(status.last_evaluation_ms),
        }));
    }
    groups
}

async fn alerts(State(state): State<ApiState>, RawQuery(query): RawQuery) -> Response {
    let local = match is_local(query.as_deref()) {
        Ok(local) => local,
        Err(message) => return bad_data(&message),
    };
    let mut alerts = Vec::new();
    for group in sorted_groups(&state.manager) {
        for rule in group.alerting_rules() {
            alerts.extend(
                rule.alerts()
                    .iter()
                    .filter(|alert| {
                        alert.state != AlertState::Inactive && alert.resolved_at_ms.is_none()
                    })
                    .map(alert_json),
            );
        }
    }
    let (answers, warnings) = ask_peers(&state, "/api/v1/alerts", query.as_deref(), local).await;
    let alerts = merge_alerts(alerts.into_iter().chain(peer_entries(answers, "alerts")));
    success_with_warnings(json!({ "alerts": alerts }), warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_prometheus_reads_them() {
        let filter = RuleFilter::parse(Some(
            "type=alert&rule_name[]=A&rule_name%5B%5D=B&rule_group[]=g&file[]=f.yml&exclude_alerts=true",
        ))
        .expect("valid filters");
        assert_eq!(filter.kind, Some("alert"));
        assert_eq!(filter.rule_names, vec!["A", "B"]);
        assert_eq!(filter.group_names, vec!["g"]);
        assert_eq!(filter.files, vec!["f.yml"]);
        assert!(filter.exclude_alerts);
        assert!(filter.is_filtering());
        let none = RuleFilter::parse(None).expect("no filters");
        assert!(!none.is_filtering());
        for bad in ["type=alerts", "exclude_alerts=maybe"] {
            assert!(RuleFilter::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn groups_from_several_nodes_merge_to_one_per_file_and_name() {
        let group = |file: &str, name: &str, evaluated: &str| json!({"file": file, "name": name, "lastEvaluation": evaluated, "rules": []});
        let merged = merge_groups(
            vec![
                group("b.yml", "g", "2026-01-01T00:00:01Z"),
                group("a.yml", "g", "2026-01-01T00:00:05Z"),
                // the same group on the node it just moved from: older
                group("a.yml", "g", "2026-01-01T00:00:02Z"),
                group("a.yml", "never", ZERO_TIME),
            ]
            .into_iter(),
        );
        let keys: Vec<(String, String, String)> = merged
            .iter()
            .map(|g| {
                let text = |f: &str| g[f].as_str().unwrap_or_default().to_string();
                (text("file"), text("name"), text("lastEvaluation"))
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                ("a.yml".into(), "g".into(), "2026-01-01T00:00:05Z".into()),
                ("a.yml".into(), "never".into(), ZERO_TIME.into()),
                ("b.yml".into(), "g".into(), "2026-01-01T00:00:01Z".into()),
            ]
        );
    }

    #[test]
    fn alerts_from_several_nodes_keep_one_per_label_set() {
        let alert =
            |name: &str, state: &str| json!({"labels": {"alertname": name}, "state": state});
        let merged = merge_alerts(
            vec![
                alert("A", "firing"),
                alert("B", "pending"),
                alert("A", "pending"),
            ]
            .into_iter(),
        );
        assert_eq!(merged, vec![alert("A", "firing"), alert("B", "pending")]);
    }

    #[test]
    fn local_parameter_parses_as_a_boolean() {
        assert_eq!(is_local(None), Ok(false));
        assert_eq!(is_local(Some("type=alert&local=true")), Ok(true));
        assert_eq!(is_local(Some("local=0")), Ok(false));
        assert!(is_local(Some("local=yes")).is_err());
    }

    #[test]
    fn alerts_show_state_active_at_and_value_as_prometheus_does() {
        let alert = Alert {
            labels: Labels::from_pairs(&[("alertname", "A")]),
            annotations: BTreeMap::from([("summary".to_string(), "s".to_string())]),
            state: AlertState::Firing,
            value: 1234.5,
            active_at_ms: 1_700_000_000_123,
            fired_at_ms: Some(1_700_000_060_000),
            resolved_at_ms: None,
            last_sent_at_ms: None,
            valid_until_ms: 0,
            keep_firing_since_ms: None,
        };
        assert_eq!(
            alert_json(&alert),
            json!({
                "labels": {"alertname": "A"},
                "annotations": {"summary": "s"},
                "state": "firing",
                "activeAt": "2023-11-14T22:13:20.123Z",
                "value": "1.2345e+03",
            })
        );
    }
}
