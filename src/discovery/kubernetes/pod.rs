//! The `pod` role: one target group per pod (source `pod/<ns>/<name>`),
//! one target per declared container port, and one per container that
//! declares none (the pod IP alone), init containers included, as
//! Prometheus 3.5's `buildPod`. A pod without an IP (starting, evicted)
//! has an empty group.

use crate::discovery::TargetGroup;
use crate::model::Labels;

use super::add_object_meta_labels;
use super::objects::{ContainerStatus, Pod};

const PREFIX: &str = "__meta_kubernetes_pod";

/// `host:port`, bracketing an IPv6 host.
fn join_host_port(host: &str, port: u32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Labels from pairs, leaving out empty values (which Prometheus's label
/// builder drops).
fn labels(pairs: Vec<(String, String)>) -> Labels {
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    Labels::from_pairs(&kept)
}

/// `__meta_kubernetes_pod_ready`: the `Ready` condition's status, lower
/// case, or `unknown`.
fn ready(pod: &Pod) -> String {
    pod.status
        .conditions
        .iter()
        .find(|condition| condition.condition_type == "Ready")
        .map(|condition| condition.status.to_lowercase())
        .unwrap_or_else(|| "unknown".to_string())
}

fn container_id(statuses: &[ContainerStatus], name: &str) -> String {
    statuses
        .iter()
        .find(|status| status.name == name)
        .map(|status| status.container_id.clone())
        .unwrap_or_default()
}

/// The group's own labels (shared by every target of the pod).
fn pod_labels(pod: &Pod) -> Vec<(String, String)> {
    let mut pairs = vec![
        (
            "__meta_kubernetes_namespace".to_string(),
            pod.metadata.namespace.clone(),
        ),
        (format!("{PREFIX}_ip"), pod.status.pod_ip.clone()),
        (format!("{PREFIX}_ready"), ready(pod)),
        (format!("{PREFIX}_phase"), pod.status.phase.clone()),
        (format!("{PREFIX}_node_name"), pod.spec.node_name.clone()),
        (format!("{PREFIX}_host_ip"), pod.status.host_ip.clone()),
        (format!("{PREFIX}_uid"), pod.metadata.uid.clone()),
    ];
    add_object_meta_labels(&mut pairs, &pod.metadata, PREFIX);
    if let Some(controller) = pod.metadata.controller() {
        pairs.push((format!("{PREFIX}_controller_kind"), controller.kind.clone()));
        pairs.push((format!("{PREFIX}_controller_name"), controller.name.clone()));
    }
    pairs
}

/// The group's source for a pod.
pub fn source(namespace: &str, name: &str) -> String {
    format!("pod/{namespace}/{name}")
}

/// The target group of `pod`.
pub fn build(pod: &Pod) -> TargetGroup {
    let source = source(&pod.metadata.namespace, &pod.metadata.name);
    let ip = &pod.status.pod_ip;
    if ip.is_empty() {
        return TargetGroup {
            source,
            targets: Vec::new(),
            labels: Labels::empty(),
        };
    }
    let containers = pod
        .spec
        .containers
        .iter()
        .map(|c| (c, false))
        .chain(pod.spec.init_containers.iter().map(|c| (c, true)));
    let mut targets = Vec::new();
    for (container, is_init) in containers {
        let statuses = if is_init {
            &pod.status.init_container_statuses
        } else {
            &pod.status.container_statuses
        };
        let common = vec![
            (format!("{PREFIX}_container_name"), container.name.clone()),
            (
                format!("{PREFIX}_container_id"),
                container_id(statuses, &container.name),
            ),
            (format!("{PREFIX}_container_image"), container.image.clone()),
            (format!("{PREFIX}_container_init"), is_init.to_string()),
        ];
        if container.ports.is_empty() {
            let mut pairs = common;
            pairs.push(("__address__".to_string(), ip.clone()));
            targets.push(labels(pairs));
            continue;
        }
        for port in &container.ports {
            let mut pairs = common.clone();
            pairs.push((
                "__address__".to_string(),
                join_host_port(ip, port.container_port),
            ));
            pairs.push((
                format!("{PREFIX}_container_port_number"),
                port.container_port.to_string(),
            ));
            pairs.push((format!("{PREFIX}_container_port_name"), port.name.clone()));
            pairs.push((
                format!("{PREFIX}_container_port_protocol"),
                port.protocol.clone(),
            ));
            targets.push(labels(pairs));
        }
    }
    TargetGroup {
        source,
        targets,
        labels: labels(pod_labels(pod)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD: &str = r#"{
      "apiVersion": "v1", "kind": "Pod",
      "metadata": {
        "name": "web-7d9", "namespace": "shop", "uid": "u-1",
        "labels": {"app.kubernetes.io/name": "web"},
        "annotations": {"prometheus.io/scrape": "true"},
        "ownerReferences": [
          {"kind": "Node", "name": "n1"},
          {"kind": "ReplicaSet", "name": "web-7d9", "controller": true}
        ]
      },
      "spec": {
        "nodeName": "n1",
        "containers": [
          {"name": "app", "image": "shop/web:1",
           "ports": [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"},
                     {"containerPort": 8080, "protocol": "TCP"}]},
          {"name": "sidecar", "image": "envoy:1"}
        ],
        "initContainers": [{"name": "init", "image": "busybox"}]
      },
      "status": {
        "phase": "Running", "podIP": "10.1.2.3", "hostIP": "192.168.0.10",
        "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "app", "containerID": "containerd://abc"}]
      }
    }"#;

    #[test]
    fn a_pod_becomes_prometheus_targets() {
        let pod: Pod = serde_json::from_str(POD).unwrap();
        let group = build(&pod);
        assert_eq!(group.source, "pod/shop/web-7d9");
        let get = |labels: &Labels, name: &str| labels.get(name).map(str::to_string);
        let shared = &group.labels;
        for (name, value) in [
            ("__meta_kubernetes_namespace", "shop"),
            ("__meta_kubernetes_pod_name", "web-7d9"),
            ("__meta_kubernetes_pod_ip", "10.1.2.3"),
            ("__meta_kubernetes_pod_ready", "false"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_node_name", "n1"),
            ("__meta_kubernetes_pod_host_ip", "192.168.0.10"),
            ("__meta_kubernetes_pod_uid", "u-1"),
            ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "web"),
            (
                "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
                "true",
            ),
            ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
            ("__meta_kubernetes_pod_controller_name", "web-7d9"),
        ] {
            assert_eq!(get(shared, name).as_deref(), Some(value), "{name}");
        }
        let addresses: Vec<String> = group
            .targets
            .iter()
            .map(|t| get(t, "__address__").unwrap_or_default())
            .collect();
        assert_eq!(
            addresses,
            ["10.1.2.3:9100", "10.1.2.3:8080", "10.1.2.3", "10.1.2.3"]
        );
        let metrics = &group.targets[0];
        assert_eq!(
            get(metrics, "__meta_kubernetes_pod_container_port_name").as_deref(),
            Some("metrics")
        );
        assert_eq!(
            get(metrics, "__meta_kubernetes_pod_container_port_protocol").as_deref(),
            Some("TCP")
        );
        assert_eq!(
            get(metrics, "__meta_kubernetes_pod_container_id").as_deref(),
            Some("containerd://abc")
        );
        assert_eq!(
            get(metrics, "__meta_kubernetes_pod_container_init").as_deref(),
            Some("false")
        );
        assert_eq!(
            get(
                &group.targets[1],
                "__meta_kubernetes_pod_container_port_name"
            ),
            None,
            "an unnamed port has no name label"
        );
        let init = &group.targets[3];
        assert_eq!(
            get(init, "__meta_kubernetes_pod_container_name").as_deref(),
            Some("init")
        );
        assert_eq!(
            get(init, "__meta_kubernetes_pod_container_init").as_deref(),
            Some("true")
        );
        assert_eq!(get(init, "__meta_kubernetes_pod_container_id"), None);
    }

    #[test]
    fn a_pod_without_an_ip_has_an_empty_group() {
        let mut pod: Pod = serde_json::from_str(POD).unwrap();
        pod.status.pod_ip.clear();
        let group = build(&pod);
        assert_eq!(group.source, "pod/shop/web-7d9");
        assert!(group.targets.is_empty());
        let ready_unknown = Pod::default();
        assert_eq!(ready(&ready_unknown), "unknown");
        assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
    }
}
