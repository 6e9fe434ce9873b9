//! The parts of Kubernetes API objects discovery reads, decoded from the
//! API server's JSON. Missing fields take their zero value, as in Go;
//! fields nothing reads are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `metadata`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The name.
    pub name: String,
    /// The namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// The UID.
    pub uid: String,
    /// The resource version.
    pub resource_version: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Owners.
    pub owner_references: Vec<OwnerReference>,
}

/// One `metadata.ownerReferences` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OwnerReference {
    /// The owner's kind (`ReplicaSet`, `DaemonSet`, ...).
    pub kind: String,
    /// The owner's name.
    pub name: String,
    /// Whether it is the managing controller.
    pub controller: Option<bool>,
}

impl ObjectMeta {
    /// The owner that is the controller, as Go's `metav1.GetControllerOf`.
    pub fn controller(&self) -> Option<&OwnerReference> {
        self.owner_references
            .iter()
            .find(|owner| owner.controller == Some(true))
    }
}

/// A pod.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Pod {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: PodSpec,
    /// Status.
    pub status: PodStatus,
}

/// `spec` of a pod.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    /// The node it is bound to.
    pub node_name: String,
    /// Containers.
    pub containers: Vec<Container>,
    /// Init containers.
    pub init_containers: Vec<Container>,
}

/// A container of a pod spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    /// Its name.
    pub name: String,
    /// Its image.
    pub image: String,
    /// Declared ports.
    pub ports: Vec<ContainerPort>,
}

/// A declared container port.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerPort {
    /// Its name.
    pub name: String,
    /// The port number.
    pub container_port: u32,
    /// `TCP` (the API server's default), `UDP` or `SCTP`.
    pub protocol: String,
}

/// `status` of a pod.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: String,
    /// The pod's IP (empty while starting or once evicted).
    #[serde(rename = "podIP")]
    pub pod_ip: String,
    /// The node's IP.
    #[serde(rename = "hostIP")]
    pub host_ip: String,
    /// Conditions (`Ready`, ...).
    pub conditions: Vec<Condition>,
    /// Container statuses.
    pub container_statuses: Vec<ContainerStatus>,
    /// Init container statuses.
    pub init_container_statuses: Vec<ContainerStatus>,
}

/// A status condition.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Condition {
    /// Its type.
    #[serde(rename = "type")]
    pub condition_type: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
}

/// A container's status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStatus {
    /// The container's name.
    pub name: String,
    /// The runtime's id (`containerd://...`).
    #[serde(rename = "containerID")]
    pub container_id: String,
}
