use crate::crds::Labels;
use crate::error::Error;
use crate::object::{escape_pointer, Object};
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::rules::common::with_workload_kinds;
use crate::rules::istio_common::ROOT_NAMESPACE;
use crate::{doc_refs, doc_text};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

pub struct IstioMtlsPermissive;

static META: RuleMeta = RuleMeta {
    id: "istio-mtls-permissive",
    title: "Istio PeerAuthentication that lets traffic in clear",
    severity: Severity::Medium,
    category: Category::Network,
    kinds: with_workload_kinds!(
        "security.istio.io/PeerAuthentication",
        "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io/MutatingWebhookConfiguration",
        "Service";
    ),
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[ParamDoc {
        name: "rootNamespace",
        kind: "string",
        default: "istio-system",
        help: "the mesh's root namespace (meshConfig.rootNamespace): a PeerAuthentication there without a \
               selector is the mesh-wide default",
    }],
    what: doc_text!("A `PeerAuthentication` (`security.istio.io` v1 and v1beta1) whose `mtls.mode` is \
           `PERMISSIVE` or `DISABLE`, and each `portLevelMtls` entry with one of those modes. The scope is \
           named in the message: mesh-wide (the root namespace, without a selector), namespace-wide \
           (no selector) or the selected workloads. A mesh-wide policy that leaves the mode unset (or \
           `UNSET`) is reported too: with nothing to inherit from, Istio's default is `PERMISSIVE`. \
           Elsewhere an unset mode inherits from the namespace or mesh policy, which is judged where it is \
           written. A port-level mode is not reported on a port that an admission webhook of the bundle or \
           inventory calls (a `ValidatingWebhookConfiguration` or `MutatingWebhookConfiguration` whose \
           `clientConfig.service` is a Service of the namespace selecting those workloads, that port being \
           its `targetPort`, a named one resolved through the workloads' container ports): the API server is \
           outside the mesh and cannot present a mesh certificate, so Istio has webhook ports accept it."),
    why: doc_text!("`PERMISSIVE` accepts plaintext beside mutual TLS, and `DISABLE` turns mutual TLS off: \
          traffic between services may then travel in clear inside the cluster, readable by anyone on the \
          node or the network, and the peer identities that AuthorizationPolicies rely on are missing for \
          plaintext callers. PERMISSIVE is meant for a migration; `STRICT` is the end state."),
    denied: doc_text!("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: istio-system\nspec:\n  mtls:\n    mode: PERMISSIVE\n"),
    allowed: doc_text!("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: istio-system\nspec:\n  mtls:\n    mode: STRICT\n"),
    references: doc_refs!(&[
        "https://istio.io/latest/docs/reference/config/security/peer_authentication/",
        "https://istio.io/latest/docs/tasks/security/authentication/mtls-migration/",
    ]),
};

struct Configured {
    root: String,
}

impl Rule for IstioMtlsPermissive {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        let root = p.string("rootNamespace")?;
        if root.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return Err(Error::settings(
                p.key("rootNamespace"),
                "the root namespace cannot be empty; leave the key out for istio-system",
            ));
        }
        Ok(Box::new(Configured {
            root: root.map_or_else(|| ROOT_NAMESPACE.to_string(), |r| r.trim().to_string()),
        }))
    }
}

fn loose(mode: Option<&String>) -> Option<String> {
    let m = mode?.trim().to_ascii_uppercase();
    matches!(m.as_str(), "PERMISSIVE" | "DISABLE").then_some(m)
}

fn consequence(mode: &str) -> &'static str {
    if mode == "DISABLE" {
        "mutual TLS is off, so traffic travels in clear"
    } else {
        "plaintext is accepted beside mutual TLS, so any caller may skip it and talk in clear"
    }
}

/// Whether two selectors can pick the same pods: no label they both name
/// has different values.
fn compatible(a: &Labels, b: &Labels) -> bool {
    a.iter().all(|(k, v)| b.get(k).is_none_or(|w| w == v))
}

/// The container ports, as `portLevelMtls` keys, on which the admission
/// webhooks of the bundle call the workloads of namespace `ns` that
/// `selector` may select.
fn webhook_ports(cx: &Context<'_>, ns: &str, selector: Option<&Labels>) -> Vec<String> {
    let mut ports = Vec::new();
    for config in cx.all() {
        let is_webhooks = config.group() == "admissionregistration.k8s.io"
            && matches!(
                config.kind,
                "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration"
            );
        if !is_webhooks {
            continue;
        }
        let hooks = config.raw.get("webhooks").and_then(Value::as_array);
        for hook in hooks.into_iter().flatten() {
            let Some(svc_ref) = hook.pointer("/clientConfig/service") else {
                continue;
            };
            let field = |k: &str| svc_ref.get(k).and_then(Value::as_str);
            if field("namespace") != Some(ns) {
                continue;
            }
            let port = svc_ref.get("port").and_then(Value::as_i64).unwrap_or(443);
            let Some(service) = field("name").and_then(|n| cx.find("", "Service", Some(ns), n))
            else {
                continue;
            };
            let Some(spec) = service.service() else {
                continue;
            };
            let Some(svc_selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) else {
                continue;
            };
            if selector.is_some_and(|s| !compatible(s, svc_selector)) {
                continue;
            }
            let entry = spec
                .ports
                .iter()
                .flatten()
                .find(|p| i64::from(p.port) == port);
            let Some(entry) = entry else { continue };
            match &entry.target_port {
                None => ports.push(entry.port.to_string()),
                Some(IntOrString::Int(n)) => ports.push(n.to_string()),
                Some(IntOrString::String(name)) => ports.extend(
                    named_port(cx, ns, svc_selector, name)
                        .iter()
                        .map(i32::to_string),
                ),
            }
        }
    }
    ports
}

/// A named container port of the workloads a Service selects.
fn named_port(cx: &Context<'_>, ns: &str, selector: &Labels, name: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for o in cx.all() {
        if o.namespace_or_default() != ns {
            continue;
        }
        let Some((_, spec_path)) = o.pod_spec() else {
            continue;
        };
        let labels_path = format!(
            "{}metadata/labels",
            spec_path.strip_suffix("spec").unwrap_or(spec_path)
        );
        let labels = o.raw.pointer(&labels_path).and_then(Value::as_object);
        let selected = labels.is_some_and(|l| {
            selector
                .iter()
                .all(|(k, v)| l.get(k).and_then(Value::as_str) == Some(v.as_str()))
        });
        if !selected {
            continue;
        }
        // port names are read here only, from the raw object: the typed pod
        // view leaves fields no rule judges unparsed
        let spec = o.raw.pointer(spec_path);
        for list in ["initContainers", "containers"] {
            let containers = spec.and_then(|s| s.get(list)).and_then(Value::as_array);
            for c in containers.into_iter().flatten() {
                let ports = c.get("ports").and_then(Value::as_array);
                for p in ports.into_iter().flatten() {
                    if p.get("name").and_then(Value::as_str) == Some(name) {
                        let number = p.get("containerPort").and_then(Value::as_i64);
                        out.extend(number.and_then(|n| i32::try_from(n).ok()));
                    }
                }
            }
        }
    }
    out
}

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(pa) = obj.peer_authentication() else {
            return;
        };
        let name = obj.display_name();
        let ns = obj.namespace_or_default();
        let labels = pa.selector.as_ref().and_then(|s| s.match_labels.as_ref());
        let labels = labels.filter(|l| !l.is_empty());
        let scope = match labels {
            None if ns == self.root => "mesh-wide, for every workload of the mesh".to_string(),
            None => format!("for every workload of namespace {ns}"),
            Some(l) => {
                let list: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(
                    "for the workloads labelled {} in namespace {ns}",
                    list.join(",")
                )
            }
        };
        let advice =
            "Move to `mode: STRICT` once every client is in the mesh (Istio's mTLS migration \
                      guide shows how to find the ones still talking in clear).";
        let mode = pa.mtls.as_ref().and_then(|m| m.mode.as_ref());
        if let Some(m) = loose(mode) {
            out.push(Hit::new(
                "/spec/mtls/mode",
                format!(
                    "{name} sets mTLS mode {m} {scope}: {}. {advice}",
                    consequence(&m)
                ),
            ));
        } else if labels.is_none() && ns == self.root {
            let unset =
                mode.is_none_or(|m| m.trim().is_empty() || m.trim().eq_ignore_ascii_case("UNSET"));
            if unset {
                let path = if obj.raw.pointer("/spec/mtls").is_some() {
                    "/spec/mtls"
                } else {
                    "/spec"
                };
                out.push(Hit::new(
                    path,
                    format!(
                        "{name} is the mesh-wide policy and leaves the mTLS mode unset: with nothing to \
                         inherit from, Istio runs PERMISSIVE {scope}, so plaintext is accepted beside \
                         mutual TLS. {advice}"
                    ),
                )
                .evidence_at(obj, &["/spec/mtls/mode", "/spec/selector"]));
            }
        }
        let mut webhooks: Option<Vec<String>> = None;
        for (port, m) in pa.port_level_mtls.iter().flatten() {
            if let Some(mode) = loose(m.mode.as_ref()) {
                let webhook = webhooks.get_or_insert_with(|| webhook_ports(cx, ns, labels));
                if webhook.iter().any(|w| w == port.trim()) {
                    continue;
                }
                out.push(Hit::new(
                    format!("/spec/portLevelMtls/{}/mode", escape_pointer(port)),
                    format!(
                        "{name} sets mTLS mode {mode} on port {port} {scope}: on that port {}. {advice}",
                        consequence(&mode)
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::ingress_common::findings_of;
    use serde_json::json;

    const RULE: &str = "istio-mtls-permissive";

    #[test]
    fn root_namespace_is_a_parameter() {
        let pa = json!({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": "mesh-root"}, "spec": {}});
        let with = |params: serde_json::Value| {
            findings_of(
                RULE,
                &json!({"objects": [pa.clone()], "settings": {"rules": {RULE: params}}}),
            )
        };
        assert!(with(json!("deny")).is_empty());
        let f = with(json!({"action": "deny", "rootNamespace": "mesh-root"}));
        assert_eq!(f.len(), 1);
        assert!(f[0].2.contains("mesh-wide"), "{}", f[0].2);
        let e = crate::evaluate(
            &json!({"objects": [], "settings": {"rules": {RULE: {"action": "deny", "rootNamespace": " "}}}}),
            crate::Host::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("rules.istio-mtls-permissive.rootNamespace"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_are_errors_at_their_path() {
        for (spec, path) in [
            (json!({"mtls": {"mode": 1}}), "/spec/mtls/mode"),
            (
                json!({"portLevelMtls": {"8080": "DISABLE"}}),
                "/spec/portLevelMtls/8080",
            ),
            (
                json!({"selector": {"matchLabels": ["app"]}}),
                "/spec/selector/matchLabels",
            ),
        ] {
            let pa = json!({"apiVersion": "security.istio.io/v1beta1", "kind": "PeerAuthentication",
                "metadata": {"name": "p", "namespace": "n"}, "spec": spec});
            let e = crate::evaluate(&pa, crate::Host::default()).unwrap_err();
            assert_eq!(e.code(), "invalid-object", "{e}");
            assert_eq!(e.to_value()["path"], path, "{e}");
        }
    }
}
