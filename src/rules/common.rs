//! Helpers several rules share.

use crate::object::Object;
use crate::review::Context;
use k8s_openapi::api::core::v1::ServiceSpec;
use serde_json::{json, Value};

/// `&[…]` of Pods and every kind with a pod template, with the kinds given
/// before `;` ahead of them and those after it behind them: the `kinds` of
/// every rule that reads pod specs, in one place.
macro_rules! with_workload_kinds {
    ($($before:literal),* ; $($after:literal),* $(,)?) => {
        &[
            $($before,)*
            "Pod",
            "PodTemplate",
            "apps/Deployment",
            "apps/ReplicaSet",
            "apps/StatefulSet",
            "apps/DaemonSet",
            "ReplicationController",
            "batch/Job",
            "batch/CronJob",
            $($after),*
        ]
    };
}
pub(crate) use with_workload_kinds;

/// Pods and every kind with a pod template, as the workload rules declare them.
pub const WORKLOAD_KINDS: &[&str] = with_workload_kinds!(;);

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

/// Labels that mark the pods (or the Service) of an ingress or gateway
/// controller, with the controller's name: (label, value or `*`, name).
const CONTROLLER_LABELS: &[(&str, &str, &str)] = &[
    ("app.kubernetes.io/name", "ingress-nginx", "ingress-nginx"),
    (
        "app.kubernetes.io/name",
        "nginx-ingress",
        "NGINX Ingress Controller",
    ),
    ("app", "nginx-ingress", "NGINX Ingress Controller"),
    ("app", "ingress-nginx", "ingress-nginx"),
    ("k8s-app", "nginx-ingress-controller", "ingress-nginx"),
    ("app.kubernetes.io/name", "traefik", "Traefik"),
    ("app", "traefik", "Traefik"),
    (
        "app.kubernetes.io/name",
        "haproxy-ingress",
        "HAProxy Ingress",
    ),
    (
        "app.kubernetes.io/name",
        "kubernetes-ingress",
        "HAProxy Kubernetes Ingress",
    ),
    ("app.kubernetes.io/name", "kong", "Kong"),
    ("app", "kong", "Kong"),
    ("app.kubernetes.io/name", "contour", "Contour"),
    (
        "app.kubernetes.io/name",
        "emissary-ingress",
        "Emissary-ingress",
    ),
    ("app.kubernetes.io/name", "ambassador", "Ambassador"),
    ("istio", "ingressgateway", "the Istio ingress gateway"),
    ("istio", "ingress", "the Istio ingress gateway"),
    ("app", "istio-ingressgateway", "the Istio ingress gateway"),
    ("istio", "eastwestgateway", "the Istio east-west gateway"),
    ("istio", "eastwest", "the Istio east-west gateway"),
    ("component", "ingress-controller", "the ingress controller"),
    (
        "app.kubernetes.io/component",
        "ingress-controller",
        "the ingress controller",
    ),
    (
        "gateway.networking.k8s.io/gateway-name",
        "*",
        "a Gateway API gateway",
    ),
];

/// Images of ingress controllers, by name without registry and tag.
const CONTROLLER_IMAGES: &[(&str, &str)] = &[
    ("ingress-nginx/controller", "ingress-nginx"),
    ("nginx-ingress-controller", "ingress-nginx"),
    ("nginx/nginx-ingress", "NGINX Ingress Controller"),
    ("traefik", "Traefik"),
    ("haproxy-ingress", "HAProxy Ingress"),
    (
        "haproxytech/kubernetes-ingress",
        "HAProxy Kubernetes Ingress",
    ),
    ("kong/kubernetes-ingress-controller", "Kong"),
    ("emissary", "Emissary-ingress"),
    ("ambassador", "Ambassador"),
    ("skipper", "Skipper"),
];

fn image_matches(image: &str, name: &str) -> bool {
    named(image_name(image), name)
}

/// An image reference without its digest and tag (the tag follows the last
/// `:` after the last `/`: a registry port does not count).
fn image_name(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rsplit_once(':') {
        Some((head, tag)) if !tag.contains('/') => head,
        _ => image,
    }
}

/// Whether an image name is `name`, in any registry or organisation.
/// Compared without building strings: it runs for every container of
/// objects that may hold thousands.
fn named(image: &str, name: &str) -> bool {
    image
        .strip_suffix(name)
        .is_some_and(|head| head.is_empty() || head.ends_with('/'))
}

/// The ingress or gateway controller this Service exposes, if it is one:
/// by the labels of the Service or its selector, or by the image of a
/// workload of the bundle that its selector picks. Its Service is the
/// entry point everything else is reached through, so advice to make it
/// ClusterIP would cut the cluster off.
pub fn controller_of(service: &Object<'_>, cx: &Context<'_>) -> Option<&'static str> {
    let selector = service
        .raw
        .pointer("/spec/selector")
        .and_then(Value::as_object);
    let label_match = |get: &dyn Fn(&str) -> Option<String>| {
        CONTROLLER_LABELS
            .iter()
            .find_map(|(k, v, name)| get(k).filter(|have| *v == "*" || have == v).map(|_| *name))
    };
    let by_own = label_match(&|k| service.label(k).map(str::to_string));
    let by_selector = || {
        label_match(&|k| {
            selector
                .and_then(|s| s.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    };
    if let Some(name) = by_own.or_else(by_selector) {
        return Some(name);
    }
    let selector = selector.filter(|s| !s.is_empty())?;
    let ns = service.namespace_or_default();
    cx.all().find_map(|o| {
        let (spec, spec_path) = o.pod_spec()?;
        if o.namespace_or_default() != ns {
            return None;
        }
        let labels_path = spec_path
            .strip_suffix("/spec")
            .map_or("/metadata/labels".to_string(), |t| {
                format!("{t}/metadata/labels")
            });
        let labels = o.raw.pointer(&labels_path).and_then(Value::as_object)?;
        let picked = selector.iter().all(|(k, v)| labels.get(k) == Some(v));
        if !picked {
            return None;
        }
        spec.containers.iter().find_map(|c| {
            let image = c.image.as_deref()?;
            CONTROLLER_IMAGES
                .iter()
                .find(|(name, _)| image_matches(image, name))
                .map(|(_, ctl)| *ctl)
        })
    })
}

/// Node agents, which need the node's network for what they do: the control
/// plane's static pods, kube-proxy, CNI plugins, load-balancer speakers and
/// node exporters. By image name or by the program a container runs.
const NODE_AGENTS: &[(&str, &str)] = &[
    ("kube-apiserver", "the Kubernetes API server"),
    (
        "kube-controller-manager",
        "the Kubernetes controller manager",
    ),
    ("kube-scheduler", "the Kubernetes scheduler"),
    ("hyperkube", "a Kubernetes control-plane component"),
    ("etcd", "etcd"),
    ("kube-proxy", "kube-proxy"),
    ("calico/node", "Calico"),
    ("calico-node", "Calico"),
    ("flannel", "flannel"),
    ("flanneld", "flannel"),
    ("cilium/cilium", "Cilium"),
    ("cilium-agent", "Cilium"),
    ("cilium/operator", "the Cilium operator"),
    ("cilium/operator-generic", "the Cilium operator"),
    ("cilium/operator-aws", "the Cilium operator"),
    ("cilium/operator-azure", "the Cilium operator"),
    ("amazon-k8s-cni", "the AWS VPC CNI"),
    ("weaveworks/weave-kube", "Weave Net"),
    ("kube-router", "kube-router"),
    ("antrea/antrea-agent-ubuntu", "Antrea"),
    ("metallb/speaker", "MetalLB's speaker"),
    ("node-exporter", "the Prometheus node exporter"),
];

/// Architecture suffixes of per-architecture control-plane images
/// (`kube-apiserver-amd64`).
const ARCH_SUFFIXES: &[&str] = &["-amd64", "-arm64", "-arm", "-ppc64le", "-s390x"];

/// The node agent a workload runs, if it runs one: by any container's image
/// (registry, tag, digest and architecture suffix aside) or by the program
/// its command starts. Advice to take such a pod off the host network, or
/// an automatic fix doing it, would break the node.
pub fn node_agent_of(obj: &Object<'_>) -> Option<&'static str> {
    let (spec, _) = obj.pod_spec()?;
    spec.all_containers().find_map(|(_, _, c)| {
        let by_image = c.image.as_deref().and_then(|image| {
            let image = image_name(image);
            let unarched = ARCH_SUFFIXES.iter().find_map(|a| image.strip_suffix(a));
            NODE_AGENTS.iter().find_map(|(name, agent)| {
                let hit = named(image, name) || unarched.is_some_and(|u| named(u, name));
                hit.then_some(*agent)
            })
        });
        let by_program = || {
            let program = c.command.as_ref()?.first()?;
            let program = program.rsplit('/').next().unwrap_or(program);
            NODE_AGENTS
                .iter()
                .find(|(name, _)| !name.contains('/') && *name == program)
                .map(|(_, agent)| *agent)
        };
        by_image.or_else(by_program)
    })
}

/// How to keep a node agent on the host network, for messages.
pub fn node_agent_advice(obj: &Object<'_>, rule: &str, agent: &str) -> String {
    format!(
        "It runs {agent}, a node or control-plane component that needs the node's network: do not take it \
         off the host network. Exempt it with a reason (settings: `exemptions: [{{rules: [{rule}], namespaces: \
         [{ns}], names: [{name}], reason: node component}}]`) and keep what it listens on bound to what needs \
         it.",
        ns = obj.namespace_or_default(),
        name = obj.name,
    )
}

/// How to keep an ingress controller's own Service exposed, for messages.
pub fn controller_advice(service: &Object<'_>, rule: &str, controller: &str) -> String {
    format!(
        "It is the Service of {controller}, the entry point the other Services are reached through, so it \
         has to stay exposed: do not make it ClusterIP. Exempt it with a reason (settings: `exemptions: \
         [{{rules: [{rule}], namespaces: [{ns}], names: [{name}], reason: the cluster's one public entry \
         point}}]`) and keep who may reach it as narrow as its audience.",
        ns = service.namespace_or_default(),
        name = service.name,
    )
}

/// Annotations only GKE's Ingress controller reads: an Ingress without a
/// class that carries one is meant for it.
const GCE_INGRESS_ANNOTATIONS: &[&str] = &[
    "kubernetes.io/ingress.global-static-ip-name",
    "kubernetes.io/ingress.regional-static-ip-name",
    "networking.gke.io/managed-certificates",
    "networking.gke.io/v1beta1.FrontendConfig",
    "ingress.gcp.kubernetes.io/pre-shared-cert",
];

/// Whether an Ingress is served by GKE's controller: class `gce` or
/// `gce-internal`, or no class and an annotation only GKE reads. None when
/// it has no class and nothing says which controller serves it.
pub fn is_gce_ingress(obj: &Object<'_>) -> Option<bool> {
    let spec = obj.ingress()?;
    match crate::rules::ingress_common::ingress_class(obj, spec) {
        Some(c) => Some(c.eq_ignore_ascii_case("gce") || c.eq_ignore_ascii_case("gce-internal")),
        None if GCE_INGRESS_ANNOTATIONS
            .iter()
            .any(|k| obj.annotation(k).is_some()) =>
        {
            Some(true)
        }
        None => None,
    }
}

/// The NEG annotation value that turns container-native load balancing on
/// for Ingress backends.
pub const NEG_ANNOTATION: &str = "cloud.google.com/neg";

/// Whether the Service already has container-native load balancing for Ingress.
pub fn has_ingress_neg(service: &Object<'_>) -> bool {
    service
        .annotation(NEG_ANNOTATION)
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
        .and_then(|v| v.get("ingress").and_then(Value::as_bool))
        == Some(true)
}

/// An Ingress of the bundle that routes to this Service and is served by
/// GKE's controller (`definite`), or may be (it names no class), which needs
/// NodePort backends unless NEGs are on: (the Ingress's name, definite).
pub fn gce_ingress_backed(service: &Object<'_>, cx: &Context<'_>) -> Option<(String, bool)> {
    let ns = service.namespace_or_default();
    let mut maybe = None;
    for o in cx.all() {
        let Some(spec) = o.ingress() else { continue };
        if o.namespace_or_default() != ns {
            continue;
        }
        let default = spec.default_backend.iter();
        let paths = spec
            .rules
            .iter()
            .flatten()
            .filter_map(|r| r.http.as_ref())
            .flat_map(|h| h.paths.iter().map(|p| &p.backend));
        let routes = default
            .chain(paths)
            .any(|b| b.service.as_ref().is_some_and(|s| s.name == service.name));
        if !routes {
            continue;
        }
        match is_gce_ingress(o) {
            Some(true) => return Some((o.display_name(), true)),
            None if maybe.is_none() => maybe = Some((o.display_name(), false)),
            _ => {}
        }
    }
    maybe
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
    use super::{go_parse_bool, image_matches};

    /// An image is named by its last path segments, whatever its registry,
    /// tag or digest; a longer name that ends the same is another image.
    #[test]
    fn image_names() {
        for (image, name, want) in [
            ("kube-proxy", "kube-proxy", true),
            ("registry.k8s.io/kube-proxy:v1.35.0", "kube-proxy", true),
            ("localhost:5000/kube-proxy", "kube-proxy", true),
            ("quay.io/calico/node@sha256:00", "calico/node", true),
            ("my-kube-proxy:v1", "kube-proxy", false),
            ("quay.io/notcalico/node", "calico/node", false),
            ("kube-proxy-extra", "kube-proxy", false),
            ("localhost:5000", "kube-proxy", false),
        ] {
            assert_eq!(image_matches(image, name), want, "{image} {name}");
        }
    }

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
