//! The `pod` role's labels against a real kube-apiserver (1.20, from
//! `../shared/k8s/`): a pod is created and its status written as a
//! kubelet would, read back as the API server serves it, and turned into
//! targets by promshard's label logic; Prometheus 3.5.3 discovers the same
//! pod from the same server, and every target's `__address__` and
//! `__meta_*` labels must be equal.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ChildGuard, free_port};
use promshard::discovery::kubernetes::objects::Pod;
use serde_json::{Value, json};

/// A running API server: its URL, token and CA, stopped on drop.
struct ApiServer {
    url: String,
    token: String,
    ca_file: String,
    work: tempfile::TempDir,
}

impl ApiServer {
    fn start() -> ApiServer {
        let work = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/k8s/start-apiserver.sh");
        let output = Command::new("bash")
            .arg(&script)
            .arg(work.path())
            .args([free_port(), free_port(), free_port()].map(|p| p.to_string()))
            .stderr(Stdio::inherit())
            .output()
            .expect("run ../shared/k8s/start-apiserver.sh");
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "the API server did not start:\n{text}"
        );
        let value = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("{key} missing in:\n{text}"))
                .trim_matches('"')
                .to_string()
        };
        ApiServer {
            url: value("APISERVER_URL"),
            token: value("TOKEN"),
            ca_file: value("CA_FILE"),
            work,
        }
    }

    fn client(&self) -> reqwest::blocking::Client {
        let ca = std::fs::read(&self.ca_file).unwrap();
        reqwest::blocking::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap()
    }

    fn send(&self, method: reqwest::Method, path: &str, content_type: &str, body: &Value) -> Value {
        let response = self
            .client()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header("Content-Type", content_type)
            .body(body.to_string())
            .send()
            .expect("API request");
        let status = response.status();
        let answer: Value = response.json().expect("JSON answer");
        assert!(status.is_success(), "{path}: {status}: {answer}");
        answer
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/k8s/stop-apiserver.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg(self.work.path())
            .status();
    }
}

/// `__address__ container` -> the target's `__address__` and `__meta_*`
/// labels (containers without ports share the pod IP as address).
type Targets = BTreeMap<String, BTreeMap<String, String>>;

fn ours(pod: &Pod) -> Targets {
    let group = promshard::discovery::kubernetes::pod::build(pod);
    group
        .targets
        .iter()
        .map(|target| {
            let mut labels: BTreeMap<String, String> = group
                .labels
                .iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect();
            labels.extend(
                target
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string())),
            );
            (key(&labels), labels)
        })
        .collect()
}

fn key(labels: &BTreeMap<String, String>) -> String {
    format!(
        "{} {}",
        labels["__address__"],
        labels
            .get("__meta_kubernetes_pod_container_name")
            .map(String::as_str)
            .unwrap_or("")
    )
}

fn prometheus_targets(url: &str) -> Targets {
    let (_, body) = common::blocking_get(&format!("{url}/api/v1/targets")).expect("targets");
    let body: Value = serde_json::from_str(&body).expect("json");
    body["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|target| {
            let labels: BTreeMap<String, String> = target["discoveredLabels"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(name, _)| name.starts_with("__meta_") || *name == "__address__")
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or("").to_string()))
                .collect();
            (key(&labels), labels)
        })
        .collect()
}

#[test]
fn pod_targets_match_prometheus_against_a_real_api_server() {
    let server = ApiServer::start();
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "web", "namespace": "default",
            "labels": {"app.kubernetes.io/name": "web", "tier": ""},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9100"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9",
                                 "uid": "7d9a7f5e-0000-4000-8000-000000000001", "controller": true}]
        },
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {"name": "app", "image": "shop/web:1",
                 "ports": [{"name": "metrics", "containerPort": 9100}, {"containerPort": 8080, "protocol": "UDP"}]},
                {"name": "sidecar", "image": "envoy:1", "ports": [{"name": "envoy-prom", "containerPort": 15090}]}
            ],
            "initContainers": [{"name": "init", "image": "busybox:1"}]
        }
    });
    server.send(
        reqwest::Method::POST,
        "/api/v1/namespaces/default/pods",
        "application/json",
        &pod,
    );
    let status = json!({"status": {
        "phase": "Running", "podIP": "10.1.2.3", "hostIP": "192.0.2.10",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "app", "containerID": "containerd://abc", "image": "shop/web:1",
                               "imageID": "", "ready": true, "restartCount": 0}]
    }});
    let served = server.send(
        reqwest::Method::PATCH,
        "/api/v1/namespaces/default/pods/web/status",
        "application/merge-patch+json",
        &status,
    );
    // Two port-less containers would share the pod IP as address, and the
    // scrape pool keeps one of them; the init container is the one here.
    let served: Pod = serde_json::from_value(served).expect("the served pod decodes");
    let ours = ours(&served);
    assert_eq!(ours.len(), 4, "{ours:#?}");

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "scrape_configs:\n  - job_name: pods\n    scrape_interval: 1h\n    kubernetes_sd_configs:\n      - role: pod\n        api_server: {}\n        tls_config:\n          ca_file: {}\n        authorization:\n          credentials: {}\n",
            server.url, server.ca_file, server.token
        ),
    )
    .unwrap();
    let log = dir.path().join("prometheus.log");
    let prometheus = ChildGuard {
        child: Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn prometheus 3.5.3"),
        log,
    };
    let prometheus_url = format!("http://127.0.0.1:{port}");
    let last = std::cell::RefCell::new(Targets::new());
    let theirs = common::eventually_or(
        Duration::from_secs(60),
        "Prometheus to discover the pod",
        || {
            common::blocking_get(&format!("{prometheus_url}/-/ready"))
                .ok()
                .filter(|(status, _)| *status == 200)?;
            let targets = prometheus_targets(&prometheus_url);
            *last.borrow_mut() = targets.clone();
            (targets.len() == ours.len()).then_some(targets)
        },
        || format!("last seen: {:#?}\n{}", last.borrow(), prometheus.log_text()),
    );
    let names = |targets: &Targets| -> BTreeSet<String> {
        targets
            .values()
            .flat_map(|labels| labels.keys().cloned())
            .collect()
    };
    assert_eq!(names(&ours), names(&theirs), "the same label names");
    assert_eq!(
        ours, theirs,
        "the same targets and labels as Prometheus 3.5.3"
    );
}
