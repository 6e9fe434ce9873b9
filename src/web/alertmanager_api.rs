//! Alertmanager's API v2, served by the built-in Alertmanager, in the
//! shapes of Alertmanager's OpenAPI spec (amtool and Grafana read it):
//! alerts, alert groups, silences, status and receivers. Errors are
//! Alertmanager's: a JSON string with the message and a 400/404/500.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::BasicAuthUsers;
use crate::config::notify::parse_matcher;
use crate::model::matcher::Matcher;
use crate::notify::alert::{Alert, LabelSet};
use crate::notify::alertmanager::{BuiltinAlertmanager, FORWARDED_HEADER};
use crate::notify::silence_sync::SilenceSync;
use crate::notify::silences::{Silence, SilenceMatcher, silence_state};
use crate::notify::{NotifyError, PostableAlert};

/// What the API handlers need.
#[derive(Clone)]
pub struct AlertmanagerApiState {
    /// The built-in Alertmanager.
    pub alertmanager: Arc<BuiltinAlertmanager>,
    /// Users allowed to create and expire silences; `None`: anyone.
    pub silence_admins: Option<Arc<BasicAuthUsers>>,
    /// Process start (RFC 3339), shown as `uptime`.
    pub start_time: String,
    /// `disabled` for a single node, `ready` in a cluster.
    pub cluster_status: String,
    /// Hands silence changes made here to the cluster's peers (`None`
    /// for a single node).
    pub silence_sync: Option<Arc<SilenceSync>>,
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// Tells the cluster that silence `id` changed here.
fn silence_changed(state: &AlertmanagerApiState, headers: &HeaderMap, id: &str) {
    if let Some(sync) = &state.silence_sync {
        sync.changed(id, authorization(headers));
    }
}

/// The `/api/v2` routes.
pub fn router(state: AlertmanagerApiState) -> Router {
    Router::new()
        .route("/api/v2/alerts", get(get_alerts).post(post_alerts))
        .route("/api/v2/alerts/groups", get(get_alert_groups))
        .route("/api/v2/silences", get(get_silences).post(post_silence))
        .route(
            "/api/v2/silence/{id}",
            get(get_silence).delete(delete_silence),
        )
        .route("/api/v2/status", get(get_status))
        .route("/api/v2/receivers", get(get_receivers))
        .with_state(state)
}

fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(Value::String(message.into()))).into_response()
}

fn notify_error(error: NotifyError) -> Response {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error_response(status, error.to_string())
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(axum::http::header::WWW_AUTHENTICATE, "Basic")],
        Json(Value::String("Unauthorized".into())),
    )
        .into_response()
}

async fn post_alerts(
    State(state): State<AlertmanagerApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let alerts: Vec<PostableAlert> = match serde_json::from_slice(&body) {
        Ok(alerts) => alerts,
        Err(error) => return error_response(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let forwarded = headers.contains_key(FORWARDED_HEADER);
    let errors = state.alertmanager.put_alerts(alerts, forwarded);
    if !errors.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, errors.join("; "));
    }
    StatusCode::OK.into_response()
}

/// The query parameters of the alert listings.
struct AlertFilter {
    active: bool,
    silenced: bool,
    inhibited: bool,
    matchers: Vec<Matcher>,
    receiver: Option<regex::Regex>,
}

fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default()
}

fn flag(pairs: &[(String, String)], name: &str) -> Result<bool, String> {
    match pairs.iter().rev().find(|(key, _)| key == name) {
        None => Ok(true),
        Some((_, value)) => value
            .parse::<bool>()
            .map_err(|_| format!("{name} in query must be of type boolean: {value:?}")),
    }
}

fn filter_matchers(pairs: &[(String, String)]) -> Result<Vec<Matcher>, String> {
    pairs
        .iter()
        .filter(|(key, _)| key == "filter")
        .map(|(_, value)| parse_matcher(value).map_err(|e| e.to_string()))
        .collect()
}

impl AlertFilter {
    fn parse(raw: Option<String>) -> Result<Self, String> {
        let pairs = query_pairs(raw);
        let receiver = match pairs.iter().find(|(key, _)| key == "receiver") {
            Some((_, pattern)) => {
                Some(crate::model::matcher::anchored_regex(pattern).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        Ok(AlertFilter {
            active: flag(&pairs, "active")?,
            silenced: flag(&pairs, "silenced")?,
            inhibited: flag(&pairs, "inhibited")?,
            matchers: filter_matchers(&pairs)?,
            receiver,
        })
    }
}

fn matches_all(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
}

/// An alert in the `gettableAlert` shape, or `None` when filtered out.
fn gettable_alert(
    state: &AlertmanagerApiState,
    alert: &Alert,
    filter: &AlertFilter,
    now: DateTime<Utc>,
) -> Option<Value> {
    if alert.resolved_at(now) || !matches_all(&filter.matchers, &alert.labels) {
        return None;
    }
    let shared = state.alertmanager.shared();
    let setup = shared.setup();
    let mut receivers: Vec<String> = setup
        .route
        .matching(&alert.labels)
        .iter()
        .map(|route| route.options.receiver.clone())
        .collect();
    receivers.dedup();
    if let Some(pattern) = &filter.receiver
        && !receivers.iter().any(|name| pattern.is_match(name))
    {
        return None;
    }
    let mute = shared.mute_status(&setup, &alert.labels, now);
    let silenced = !mute.silenced_by.is_empty();
    let inhibited = !mute.inhibited_by.is_empty();
    if (!filter.silenced && silenced)
        || (!filter.inhibited && inhibited)
        || (!filter.active && !silenced && !inhibited)
    {
        return None;
    }
    Some(json!({
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": alert.starts_at,
        "endsAt": alert.ends_at,
        "updatedAt": alert.updated_at,
        "generatorURL": alert.generator_url,
        "fingerprint": format!("{:016x}", alert.fingerprint()),
        "receivers": receivers.iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
        "status": {
            "state": if silenced || inhibited { "suppressed" } else { "active" },
            "silencedBy": mute.silenced_by,
            "inhibitedBy": mute.inhibited_by,
            "mutedBy": [],
        },
    }))
}

async fn get_alerts(
    State(state): State<AlertmanagerApiState>,
    RawQuery(raw): RawQuery,
) -> Response {
    let filter = match AlertFilter::parse(raw) {
        Ok(filter) => filter,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, message),
    };
    let now = Utc::now();
    let alerts: Vec<Alert> = state
        .alertmanager
        .shared()
        .alerts
        .lock()
        .values()
        .cloned()
        .collect();
    let listed: Vec<Value> = alerts
        .iter()
        .filter_map(|alert| gettable_alert(&state, alert, &filter, now))
        .collect();
    Json(listed).into_response()
}

async fn get_alert_groups(
    State(state): State<AlertmanagerApiState>,
    RawQuery(raw): RawQuery,
) -> Response {
    let filter = match AlertFilter::parse(raw) {
        Ok(filter) => filter,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, message),
    };
    let now = Utc::now();
    let mut groups: Vec<Value> = Vec::new();
    let mut held = state.alertmanager.groups();
    held.sort_by(|a, b| a.key.cmp(&b.key));
    for group in held {
        if let Some(pattern) = &filter.receiver
            && !pattern.is_match(&group.options.receiver)
        {
            continue;
        }
        let alerts: Vec<Alert> = group.alerts.lock().values().cloned().collect();
        let listed: Vec<Value> = alerts
            .iter()
            .filter_map(|alert| gettable_alert(&state, alert, &filter, now))
            .collect();
        if listed.is_empty() {
            continue;
        }
        groups.push(json!({
            "labels": group.group_labels,
            "receiver": {"name": group.options.receiver},
            "alerts": listed,
        }));
    }
    Json(groups).into_response()
}

fn gettable_silence(silence: &Silence, now: DateTime<Utc>) -> Value {
    json!({
        "id": silence.id,
        "status": {"state": silence_state(silence, now)},
        "updatedAt": silence.updated_at,
        "matchers": silence.matchers,
        "startsAt": silence.starts_at,
        "endsAt": silence.ends_at,
        "createdBy": silence.created_by,
        "comment": silence.comment,
    })
}

/// Whether a silence passes the API's `filter` matchers: each filter
/// must be satisfied by an equality matcher of the silence.
fn silence_passes(silence: &Silence, filters: &[Matcher]) -> bool {
    filters.iter().all(|filter| {
        silence
            .matchers
            .iter()
            .any(|m| m.name == filter.name && !m.is_regex && m.is_equal && filter.matches(&m.value))
    })
}

async fn get_silences(
    State(state): State<AlertmanagerApiState>,
    RawQuery(raw): RawQuery,
) -> Response {
    let filters = match filter_matchers(&query_pairs(raw)) {
        Ok(filters) => filters,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, message),
    };
    let now = Utc::now();
    let mut silences: Vec<Silence> = state
        .alertmanager
        .shared()
        .silences
        .list()
        .into_iter()
        .filter(|s| silence_passes(s, &filters))
        .collect();
    // Active first (ending soonest first), then pending (starting soonest
    // first), then expired (most recently ended first), as Alertmanager.
    let rank = |s: &Silence| match silence_state(s, now) {
        "active" => 0,
        "pending" => 1,
        _ => 2,
    };
    silences.sort_by(|a, b| {
        rank(a).cmp(&rank(b)).then_with(|| match rank(a) {
            0 => a.ends_at.cmp(&b.ends_at),
            1 => a.starts_at.cmp(&b.starts_at),
            _ => b.ends_at.cmp(&a.ends_at),
        })
    });
    let listed: Vec<Value> = silences.iter().map(|s| gettable_silence(s, now)).collect();
    Json(listed).into_response()
}

/// `postableSilence`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    #[serde(default)]
    id: String,
    matchers: Vec<SilenceMatcher>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    created_by: String,
    comment: String,
    /// Sent by a peer with a replica (not in Alertmanager's schema).
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
}

async fn post_silence(
    State(state): State<AlertmanagerApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(admins) = &state.silence_admins
        && !admins.allows(&headers)
    {
        return unauthorized();
    }
    let posted: PostableSilence = match serde_json::from_slice(&body) {
        Ok(posted) => posted,
        Err(error) => return error_response(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let now = Utc::now();
    let replica = headers.contains_key(FORWARDED_HEADER);
    let previous_id = posted.id.clone();
    let silence = Silence {
        id: posted.id,
        matchers: posted.matchers,
        starts_at: posted.starts_at,
        ends_at: posted.ends_at,
        updated_at: match posted.updated_at {
            Some(updated_at) if replica => updated_at,
            _ => now,
        },
        created_by: posted.created_by,
        comment: posted.comment,
    };
    match state
        .alertmanager
        .shared()
        .silences
        .upsert(silence, now, replica)
    {
        Ok(id) => {
            if replica {
                if let Some(sync) = &state.silence_sync {
                    sync.received(&id, authorization(&headers));
                }
            } else {
                // An update that replaced the silence expired the old one.
                if !previous_id.is_empty() && previous_id != id {
                    silence_changed(&state, &headers, &previous_id);
                }
                silence_changed(&state, &headers, &id);
            }
            Json(json!({"silenceID": id})).into_response()
        }
        Err(error) => notify_error(error),
    }
}

async fn get_silence(
    State(state): State<AlertmanagerApiState>,
    Path(id): Path<String>,
) -> Response {
    match state.alertmanager.shared().silences.get(&id) {
        Some(silence) => Json(gettable_silence(&silence, Utc::now())).into_response(),
        None => error_response(StatusCode::NOT_FOUND, format!("silence {id} not found")),
    }
}

async fn delete_silence(
    State(state): State<AlertmanagerApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(admins) = &state.silence_admins
        && !admins.allows(&headers)
    {
        return unauthorized();
    }
    let replica = headers.contains_key(FORWARDED_HEADER);
    match state.alertmanager.shared().silences.expire(&id, Utc::now()) {
        Ok(()) => {
            if !replica {
                silence_changed(&state, &headers, &id);
            }
            StatusCode::OK.into_response()
        }
        // A replica that is unknown or already expired here is fine.
        Err(NotifyError::BadRequest(_) | NotifyError::NotFound(_)) if replica => {
            StatusCode::OK.into_response()
        }
        Err(NotifyError::BadRequest(message)) => {
            error_response(StatusCode::INTERNAL_SERVER_ERROR, message)
        }
        Err(error) => notify_error(error),
    }
}

async fn get_status(State(state): State<AlertmanagerApiState>) -> Response {
    let setup = state.alertmanager.shared().setup();
    Json(json!({
        "cluster": {"name": "", "status": state.cluster_status, "peers": []},
        "versionInfo": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": "",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "config": {"original": setup.original_yaml},
        "uptime": state.start_time,
    }))
    .into_response()
}

async fn get_receivers(State(state): State<AlertmanagerApiState>) -> Response {
    let setup = state.alertmanager.shared().setup();
    let names: BTreeSet<&String> = setup.receivers.keys().collect();
    Json(
        names
            .into_iter()
            .map(|name| json!({"name": name}))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

/// `GET /api/v1/alertmanagers`: the external Alertmanagers alerts are sent
/// to, in Prometheus's shape.
pub fn alertmanagers_router(sender: Arc<crate::notify::sender::AlertmanagerSender>) -> Router {
    Router::new().route(
        "/api/v1/alertmanagers",
        get(move || {
            let (active, dropped) = sender.alertmanagers();
            async move {
                Json(json!({
                    "status": "success",
                    "data": {"activeAlertmanagers": active, "droppedAlertmanagers": dropped},
                }))
            }
        }),
    )
}
