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

/// A boolean as Go's `strconv.ParseBool` reads it: `1`, `t`, `T`, `TRUE`,
/// `true`, `True` and `0`, `f`, `F`, `FALSE`, `false`, `False`, nothing
/// trimmed; None for anything else. kube-apiserver reads its boolean flags
/// this way, and ingress-nginx and GCE's Ingress controller their boolean
/// annotations, so a value means to the rules what it means to them.
pub fn go_parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::go_parse_bool;

    #[test]
    fn go_booleans() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(go_parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(go_parse_bool(f), Some(false), "{f}");
        }
        for bad in [
            " false", "false ", "yes", "no", "on", "off", "tRUE", "", "2",
        ] {
            assert_eq!(go_parse_bool(bad), None, "{bad:?}");
        }
    }
}
