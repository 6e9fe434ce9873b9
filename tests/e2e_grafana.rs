//! Grafana against the real binary: data pushed through the remote-write
//! receiver, then every endpoint asked the way Grafana's Prometheus data
//! source asks it, checking the JSON shapes.

mod common;

use common::{Node, NodeOptions, blocking_get, blocking_post, urlencode};
use promshard::model::Labels;
use serde_json::{Value, json};

fn push(node: &Node, samples: &[(Labels, i64, f64)]) {
    let (status, body) = node.remote_write(samples);
    assert_eq!(status, 204, "{body}");
}

fn json_of(url: &str) -> Value {
    let (status, body) = blocking_get(url).unwrap();
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn grafana_data_source_endpoints() {
    let mut flags = NodeOptions::default().flags;
    flags.push("--web.enable-remote-write-receiver".into());
    let node = Node::start(
        "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
        NodeOptions {
            flags,
            ..NodeOptions::default()
        },
    );
    let now = chrono::Utc::now().timestamp() * 1000;
    let start = now - 600_000;
    let mut samples = Vec::new();
    for (instance, rate) in [("a:9100", 1.0), ("b:9100", 2.0)] {
        let labels = Labels::from_pairs(&[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("instance", instance),
        ]);
        for step in 0..=40 {
            samples.push((
                labels.clone(),
                start + step * 15_000,
                rate * (step * 15) as f64,
            ));
        }
    }
    push(&node, &samples);

    // "Save & test".
    let (status, body) =
        blocking_post(&format!("{}/api/v1/query", node.url), "query=1%2B1&time=4").unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"status":"success","data":{"resultType":"scalar","result":[4,"2"]}})
    );

    // A panel: query_range over the pushed counters.
    let range = json_of(&format!(
        "{}/api/v1/query_range?query={}&start={}&end={}&step=60",
        node.url,
        urlencode("sum by (instance) (rate(http_requests_total[2m]))"),
        (start + 120_000) / 1000,
        now / 1000
    ));
    assert_eq!(range["status"], "success");
    assert_eq!(range["data"]["resultType"], "matrix");
    let result = range["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    let b = result
        .iter()
        .find(|s| s["metric"]["instance"] == "b:9100")
        .unwrap();
    assert_eq!(b["metric"], json!({"instance": "b:9100"}));
    let point = &b["values"][0];
    assert!(
        point[0].is_number() && point[1].is_string(),
        "[time, \"value\"] pairs: {point}"
    );
    let value: f64 = point[1].as_str().unwrap().parse().unwrap();
    assert!((value - 2.0).abs() < 1e-9, "rate of 2/s, got {value}");

    // The metrics browser.
    let names = json_of(&format!("{}/api/v1/label/__name__/values", node.url));
    assert_eq!(
        names,
        json!({"status":"success","data":["http_requests_total"]})
    );
    let labels = json_of(&format!(
        "{}/api/v1/labels?match[]={}",
        node.url,
        urlencode("{job=\"api\"}")
    ));
    assert_eq!(labels["data"], json!(["__name__", "instance", "job"]));
    let series = json_of(&format!(
        "{}/api/v1/series?match[]={}&match[]={}&start={}&end={}",
        node.url,
        urlencode("http_requests_total{instance=\"a:9100\"}"),
        urlencode("http_requests_total{instance=\"b:9100\"}"),
        start / 1000,
        now / 1000
    ));
    assert_eq!(
        series["data"].as_array().unwrap().len(),
        2,
        "repeated match[] parameters: {series}"
    );

    // Errors are Prometheus-shaped.
    let (status, body) = blocking_get(&format!(
        "{}/api/v1/query?query={}",
        node.url,
        urlencode("sum((")
    ))
    .unwrap();
    assert_eq!(status, 400);
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["status"], "error");
    assert_eq!(error["errorType"], "bad_data");

    // Grafana reads buildinfo to pick the flavour: features must be empty.
    let buildinfo = json_of(&format!("{}/api/v1/status/buildinfo", node.url));
    assert_eq!(buildinfo["data"]["features"], json!({}));
}
