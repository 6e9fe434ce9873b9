//! The targets and metadata half of the Prometheus HTTP API:
//! `/api/v1/targets`, `/api/v1/targets/metadata` and `/api/v1/metadata`,
//! with Prometheus's parameters and JSON shapes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::model::matcher::matches_all;
use crate::model::{MatchType, Matcher, Metadata};
use crate::scrape::ScrapeManager;
use crate::scrape::settings::format_duration;

/// The router serving the three endpoints over `manager`.
pub fn router(manager: Arc<ScrapeManager>) -> Router {
    Router::new()
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/targets/metadata", get(targets_metadata))
        .route("/api/v1/metadata", get(metadata))
        .with_state(manager)
}

fn success(data: Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

fn bad_data(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": "error", "errorType": "bad_data", "error": message})),
    )
        .into_response()
}

/// Go's zero time, which Prometheus shows for a target never scraped.
const NEVER_SCRAPED: &str = "0001-01-01T00:00:00Z";

fn rfc3339_millis(ms: i64) -> String {
    if ms == 0 {
        return NEVER_SCRAPED.to_string();
    }
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| NEVER_SCRAPED.to_string())
}

/// The scrape URL with a loopback host replaced by the node's host name.
fn global_url(scrape_url: &str, host: Option<&str>) -> String {
    let Some(host) = host else {
        return scrape_url.to_string();
    };
    let Ok(mut url) = url::Url::parse(scrape_url) else {
        return scrape_url.to_string();
    };
    let is_loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if is_loopback && url.set_host(Some(host)).is_ok() {
        return url.to_string();
    }
    scrape_url.to_string()
}

async fn targets(
    State(manager): State<Arc<ScrapeManager>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let state = params.get("state").map(|s| s.to_lowercase());
    let (show_active, show_dropped) = match state.as_deref() {
        None | Some("") | Some("any") => (true, true),
        Some("active") => (true, false),
        Some("dropped") => (false, true),
        // Prometheus treats an unknown state as "any".
        Some(_) => (true, true),
    };
    let pool_filter = params.get("scrapePool").filter(|p| !p.is_empty());
    let in_pool = |pool: &str| pool_filter.is_none_or(|wanted| wanted == pool);
    let global_host = manager.options().global_url_host.clone();

    let active: Vec<Value> = if show_active {
        manager
            .active_targets()
            .into_iter()
            .filter(|view| in_pool(&view.scrape_pool))
            .map(|view| {
                let target = &view.target;
                let status = target.status();
                json!({
                    "discoveredLabels": target.discovered_labels(),
                    "labels": target.public_labels(),
                    "scrapePool": view.scrape_pool,
                    "scrapeUrl": target.url(),
                    "globalUrl": global_url(target.url(), global_host.as_deref()),
                    "lastError": status.last_error,
                    "lastScrape": rfc3339_millis(status.last_scrape_ms),
                    "lastScrapeDuration": status.last_scrape_duration.as_secs_f64(),
                    "health": status.health.as_str(),
                    "scrapeInterval": format_duration(target.interval()),
                    "scrapeTimeout": format_duration(target.timeout()),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let (dropped, dropped_counts): (Vec<Value>, Value) = if show_dropped {
        let dropped = manager
            .dropped_targets()
            .into_iter()
            .filter(|view| in_pool(&view.scrape_pool))
            .map(|view| {
                json!({
                    "discoveredLabels": view.discovered_labels,
                    "scrapePool": view.scrape_pool,
                })
            })
            .collect();
        let counts: BTreeMap<String, usize> = manager
            .dropped_target_counts()
            .into_iter()
            .filter(|(pool, _)| in_pool(pool))
            .collect();
        (dropped, json!(counts))
    } else {
        (Vec::new(), Value::Null)
    };
    success(json!({
        "activeTargets": active,
        "droppedTargets": dropped,
        "droppedTargetCounts": dropped_counts,
    }))
}

/// Parses a `limit`-like parameter: absent means -1 (no limit).
fn limit_param(params: &HashMap<String, String>, name: &str) -> Result<i64, String> {
    match params.get(name).filter(|s| !s.is_empty()) {
        None => Ok(-1),
        Some(text) => text
            .parse::<i64>()
            .map_err(|_| format!("{name} must be a number")),
    }
}

/// Parses a series selector such as `{job="node"}` into matchers.
fn parse_selector(text: &str) -> Result<Vec<Matcher>, String> {
    let expression = promql_parser::parser::parse(text)?;
    let promql_parser::parser::Expr::VectorSelector(selector) = expression else {
        return Err(format!("{text:?} is not a series selector"));
    };
    let mut matchers = Vec::new();
    if let Some(name) = &selector.name {
        matchers.push(Matcher::equal("__name__", name.clone()));
    }
    for matcher in &selector.matchers.matchers {
        let match_type = match matcher.op {
            promql_parser::label::MatchOp::Equal => MatchType::Equal,
            promql_parser::label::MatchOp::NotEqual => MatchType::NotEqual,
            promql_parser::label::MatchOp::Re(_) => MatchType::Regex,
            promql_parser::label::MatchOp::NotRe(_) => MatchType::NotRegex,
        };
        let converted = Matcher::new(match_type, matcher.name.clone(), matcher.value.clone())
            .map_err(|error| error.message)?;
        matchers.push(converted);
    }
    Ok(matchers)
}

async fn targets_metadata(
    State(manager): State<Arc<ScrapeManager>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let limit = match limit_param(&params, "limit") {
        Ok(limit) => limit,
        Err(message) => return bad_data(message),
    };
    let matchers = match params.get("match_target").filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match parse_selector(text) {
            Ok(matchers) => Some(matchers),
            Err(error) => {
                return bad_data(format!("invalid parameter \"match_target\": {error}"));
            }
        },
    };
    let metric = params.get("metric").filter(|s| !s.is_empty());
    let mut by_target: Vec<(crate::model::Labels, Vec<(String, Metadata)>)> = Vec::new();
    for entry in manager.target_metadata() {
        match by_target.last_mut() {
            Some((labels, families)) if *labels == entry.target_labels => {
                families.push((entry.metric, entry.metadata));
            }
            _ => by_target.push((entry.target_labels, vec![(entry.metric, entry.metadata)])),
        }
    }
    let mut result: Vec<Value> = Vec::new();
    for (target_labels, families) in by_target {
        if limit >= 0 && result.len() as i64 >= limit {
            break;
        }
        if let Some(matchers) = &matchers
            && !matches_all(&target_labels, matchers)
        {
            continue;
        }
        for (family, metadata) in families {
            match metric {
                None => result.push(json!({
                    "target": target_labels,
                    "metric": family,
                    "type": metadata.metric_type.as_str(),
                    "help": metadata.help,
                    "unit": metadata.unit,
                })),
                Some(wanted) if *wanted == family => result.push(json!({
                    "target": target_labels,
                    "type": metadata.metric_type.as_str(),
                    "help": metadata.help,
                    "unit": metadata.unit,
                })),
                Some(_) => {}
            }
        }
    }
    success(Value::Array(result))
}

async fn metadata(
    State(manager): State<Arc<ScrapeManager>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let limit = match limit_param(&params, "limit") {
        Ok(limit) => limit,
        Err(message) => return bad_data(message),
    };
    let limit_per_metric = match limit_param(&params, "limit_per_metric") {
        Ok(limit) => limit,
        Err(message) => return bad_data(message),
    };
    let metric = params.get("metric").filter(|s| !s.is_empty());
    let mut families: BTreeMap<String, Vec<Metadata>> = BTreeMap::new();
    for entry in manager.target_metadata() {
        if metric.is_some_and(|wanted| *wanted != entry.metric) {
            continue;
        }
        let known = families.entry(entry.metric).or_default();
        if limit_per_metric > 0 && known.len() as i64 >= limit_per_metric {
            continue;
        }
        if !known.contains(&entry.metadata) {
            known.push(entry.metadata);
        }
    }
    let mut result = serde_json::Map::new();
    for (family, entries) in families {
        if limit >= 0 && result.len() as i64 >= limit {
            break;
        }
        let entries: Vec<Value> = entries
            .into_iter()
            .map(|m| json!({"type": m.metric_type.as_str(), "help": m.help, "unit": m.unit}))
            .collect();
        result.insert(family, Value::Array(entries));
    }
    success(Value::Object(result))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::model::Labels;
    use crate::model::relabel::{Action, RelabelConfig, RelabelRegex};
    use crate::scrape::{ScrapeOptions, ScrapeSettings, TargetGroup, TargetHealth};
    use crate::storage::memory::MemStorage;

    const BODY: &str =
        "# HELP a_total A counter.\n# TYPE a_total counter\na_total 1\n# TYPE g gauge\ng 2\n";

    async fn serve_metrics() -> String {
        let app = Router::new().route("/metrics", get(|| async { BODY }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        address
    }

    async fn scraped_manager() -> (Arc<ScrapeManager>, String) {
        let address = serve_metrics().await;
        let manager = Arc::new(
            ScrapeManager::new(
                Arc::new(MemStorage::new()),
                &prometheus::Registry::new(),
                ScrapeOptions::default(),
            )
            .unwrap(),
        );
        let mut settings = ScrapeSettings::new("node");
        settings.scrape_interval = Duration::from_millis(200);
        settings.scrape_timeout = Duration::from_millis(150);
        settings.relabel_configs = vec![RelabelConfig {
            source_labels: vec!["drop".into()],
            regex: RelabelRegex::new("yes").unwrap(),
            action: Action::Drop,
            ..Default::default()
        }];
        manager.apply_config(vec![settings]).unwrap();
        let group = TargetGroup {
            source: "static/0".into(),
            targets: vec![
                Labels::from_pairs(&[("__address__", address.as_str())]),
                Labels::from_pairs(&[("__address__", "gone:1"), ("drop", "yes")]),
            ],
            labels: Labels::empty(),
        };
        manager.sync(HashMap::from([("node".to_string(), vec![group])]));
        for _ in 0..100 {
            let up = manager
                .active_targets()
                .iter()
                .all(|view| view.target.status().health == TargetHealth::Up);
            if up && !manager.target_metadata().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (manager, address)
    }

    async fn get_json(manager: &Arc<ScrapeManager>, uri: &str) -> (StatusCode, Value) {
        let response = router(manager.clone())
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn targets_have_prometheus_shape() {
        let (manager, address) = scraped_manager().await;
        let (status, mut body) = get_json(&manager, "/api/v1/targets").await;
        assert_eq!(status, StatusCode::OK);
        let active = &mut body["data"]["activeTargets"][0];
        assert!(active["lastScrape"].as_str().unwrap().ends_with('Z'));
        assert!(active["lastScrapeDuration"].as_f64().unwrap() > 0.0);
        active["lastScrape"] = json!("<time>");
        active["lastScrapeDuration"] = json!(0);
        let url = format!("http://{address}/metrics");
        assert_eq!(
            body,
            json!({"status": "success", "data": {
                "activeTargets": [{
                    "discoveredLabels": {
                        "__address__": address, "__metrics_path__": "/metrics",
                        "__scheme__": "http", "__scrape_interval__": "200ms",
                        "__scrape_timeout__": "150ms", "job": "node",
                    },
                    "labels": {"instance": address, "job": "node"},
                    "scrapePool": "node",
                    "scrapeUrl": url,
                    "globalUrl": url,
                    "lastError": "",
                    "lastScrape": "<time>",
                    "lastScrapeDuration": 0,
                    "health": "up",
                    "scrapeInterval": "200ms",
                    "scrapeTimeout": "150ms",
                }],
                "droppedTargets": [{
                    "discoveredLabels": {
                        "__address__": "gone:1", "__metrics_path__": "/metrics",
                        "__scheme__": "http", "__scrape_interval__": "200ms",
                        "__scrape_timeout__": "150ms", "drop": "yes", "job": "node",
                    },
                    "scrapePool": "node",
                }],
                "droppedTargetCounts": {"node": 1},
            }})
        );

        let (_, active_only) = get_json(&manager, "/api/v1/targets?state=active").await;
        assert_eq!(active_only["data"]["droppedTargets"], json!([]));
        assert_eq!(active_only["data"]["droppedTargetCounts"], Value::Null);
        let (_, dropped_only) = get_json(&manager, "/api/v1/targets?state=dropped").await;
        assert_eq!(dropped_only["data"]["activeTargets"], json!([]));
        let (_, other_pool) = get_json(&manager, "/api/v1/targets?scrapePool=other").await;
        assert_eq!(other_pool["data"]["activeTargets"], json!([]));
        assert_eq!(other_pool["data"]["droppedTargets"], json!([]));
        manager.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metadata_endpoints_have_prometheus_shape() {
        let (manager, address) = scraped_manager().await;
        let (_, by_target) = get_json(
            &manager,
            "/api/v1/targets/metadata?match_target=%7Bjob%3D%22node%22%7D&metric=a_total",
        )
        .await;
        assert_eq!(
            by_target,
            json!({"status": "success", "data": [{
                "target": {"instance": address, "job": "node"},
                "type": "counter", "help": "A counter.", "unit": "",
            }]})
        );
        let (_, all_families) = get_json(&manager, "/api/v1/targets/metadata").await;
        assert_eq!(all_families["data"].as_array().unwrap().len(), 2);
        assert_eq!(all_families["data"][1]["metric"], json!("g"));
        let (_, no_match) = get_json(
            &manager,
            "/api/v1/targets/metadata?match_target=%7Bjob%3D%22x%22%7D",
        )
        .await;
        assert_eq!(no_match["data"], json!([]));

        let (_, families) = get_json(&manager, "/api/v1/metadata").await;
        assert_eq!(
            families,
            json!({"status": "success", "data": {
                "a_total": [{"type": "counter", "help": "A counter.", "unit": ""}],
                "g": [{"type": "gauge", "help": "", "unit": ""}],
            }})
        );
        let (_, limited) = get_json(&manager, "/api/v1/metadata?limit=1").await;
        assert_eq!(limited["data"].as_object().unwrap().len(), 1);
        let (_, one) = get_json(&manager, "/api/v1/metadata?metric=g").await;
        assert_eq!(
            one["data"],
            json!({"g": [{"type": "gauge", "help": "", "unit": ""}]})
        );

        let (status, error) = get_json(&manager, "/api/v1/metadata?limit=x").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            error,
            json!({"status": "error", "errorType": "bad_data", "error": "limit must be a number"})
        );
        let (status, _) = get_json(&manager, "/api/v1/targets/metadata?match_target=%7B").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        manager.stop().await;
    }

    #[test]
    fn global_url_replaces_loopback_hosts_only() {
        assert_eq!(
            global_url("http://localhost:9100/metrics", Some("node-a")),
            "http://node-a:9100/metrics"
        );
        assert_eq!(
            global_url("http://127.0.0.1:9100/metrics", Some("node-a")),
            "http://node-a:9100/metrics"
        );
        assert_eq!(
            global_url("http://db:9100/metrics", Some("node-a")),
            "http://db:9100/metrics"
        );
    }
}
