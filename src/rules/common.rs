//! Helpers several rules share.

use crate::object::Object;
use k8s_openapi::api::core::v1::ServiceSpec;
use serde_json::{json, Value};

/// Pods and every kind with a pod template, as the workload rules declare them.
pub const WORKLOAD_KINDS: &[&str] = &[
    "Pod",
    "PodTemplate",
    "apps/Deployment",
    "apps/ReplicaSet",
    "apps/StatefulSet",
    "apps/DaemonSet",
    "ReplicationController",
    "batch/Job",
    "batch/CronJob",
];

/// The JSON Patch that turns a NodePort or LoadBalancer Service into a
/// ClusterIP one: the type, and every field only those types may carry.
pub fn to_cluster_ip_patch(obj: &Object<'_>, spec: &ServiceSpec) -> Vec<Value> {
    let mut patch = vec![json!({"op": "replace", "path": "/spec/type", "value": "ClusterIP"})];
    for (i, port) in spec.ports.iter().flatten().enumerate() {
        if port.node_port.is_some() {
            patch.push(json!({"op": "remove", "path": format!("/spec/ports/{i}/nodePort")}));
        }
    }
    for field in [
        "allocateLoadBalancerNodePorts",
        "externalTrafficPolicy",
        "healthCheckNodePort",
        "loadBalancerClass",
        "loadBalancerIP",
        "loadBalancerSourceRanges",
    ] {
        if obj.raw.get("spec").and_then(|s| s.get(field)).is_some() {
            patch.push(json!({"op": "remove", "path": format!("/spec/{field}")}));
        }
    }
    patch
}

/// The Service's type, `ClusterIP` when unset.
pub fn service_type(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or("ClusterIP")
}
