use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::{doc_refs, doc_text};
use serde_json::Value;

#[derive(Default)]
pub struct GatewayListenerPlaintext;

static META: RuleMeta = RuleMeta {
    id: "gateway-listener-plaintext",
    title: "Gateway listener without TLS",
    severity: Severity::High,
    category: Category::Ingress,
    kinds: &["gateway.networking.k8s.io/Gateway"],
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[],
    what: doc_text!("Each listener of a Gateway API `Gateway` (`gateway.networking.k8s.io`, v1 and v1beta1): \
           one with protocol `HTTP`, `TCP` or `UDP` carries plaintext; one with protocol `HTTPS` or `TLS` that \
           terminates TLS (`tls.mode` unset or `Terminate`) needs at least one `tls.certificateRefs` entry. \
           `tls.mode: Passthrough` hands the TLS stream to the backend, which holds the certificate, and is \
           allowed; so is Istio's `tls.options` `gateway.istio.io/tls-terminate-mode: ISTIO_MUTUAL` or \
           `ISTIO_SIMPLE`, which terminates with the certificate of Istio's mesh CA. An `HTTP` listener that only redirects to HTTPS is allowed too, when the bundle or the \
           inventory shows it: at least one route attaches to it (a `parentRefs` entry naming the Gateway, \
           with no `sectionName`/`port` or this listener's, in the Gateway's namespace; a Gateway or route \
           manifest without a namespace, which gets one where it is applied, matches any) and the listener's \
           `allowedRoutes.namespaces.from` admits it (`Same`, the default, bars routes of another namespace), \
           every route attached is an `HTTPRoute` (a \
           `GRPCRoute` or any other kind serves plaintext), and every rule of every such route has a \
           `RequestRedirect` filter with `scheme: https`. Implementation-specific protocols (domain-prefixed \
           names) are not judged. One finding per listener, at `/spec/listeners/<index>`."),
    why: doc_text!("The Gateway is the cluster's controlled entry point: a plaintext listener sends credentials, \
          cookies and data in the clear to anyone on the path, and an HTTPS listener without a certificate is \
          not programmed by the controller (or falls back to a default certificate clients cannot trust). An \
          HTTP listener that only redirects sends nothing but the redirect in the clear."),
    denied: doc_text!("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: public\n  namespace: edge\nspec:\n  gatewayClassName: example\n  listeners:\n    - name: http\n      protocol: HTTP\n      port: 80\n    - name: https\n      protocol: HTTPS\n      port: 443\n"),
    allowed: doc_text!("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: public\n  namespace: edge\nspec:\n  gatewayClassName: example\n  listeners:\n    - name: https\n      protocol: HTTPS\n      port: 443\n      hostname: shop.example.com\n      tls:\n        mode: Terminate\n        certificateRefs:\n          - name: shop-tls\n    - name: db-passthrough\n      protocol: TLS\n      port: 5432\n      tls:\n        mode: Passthrough\n"),
    references: doc_refs!(&[
        "https://gateway-api.sigs.k8s.io/reference/spec/#listener",
        "https://gateway-api.sigs.k8s.io/guides/tls/",
    ]),
};

plain_rule!(GatewayListenerPlaintext, META);

impl Check for GatewayListenerPlaintext {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        if obj.group() != "gateway.networking.k8s.io" || obj.kind != "Gateway" {
            return;
        }
        let Some(listeners) = obj.raw.pointer("/spec/listeners").and_then(Value::as_array) else {
            return;
        };
        for (i, listener) in listeners.iter().enumerate() {
            let Some(protocol) = listener.get("protocol").and_then(Value::as_str) else {
                continue;
            };
            let name = match listener.get("name").and_then(Value::as_str) {
                Some(n) => format!("listener `{n}`"),
                None => format!("listener #{i}"),
            };
            let port = listener
                .get("port")
                .and_then(Value::as_i64)
                .map(|p| format!(" on port {p}"))
                .unwrap_or_default();
            let message = match protocol {
                "HTTP" if redirects_only(obj, listener, cx) => continue,
                "HTTP" | "TCP" | "UDP" => format!(
                    "{} has {name}{port} with protocol {protocol}: traffic through the entry point is \
                     plaintext, readable and alterable on the way. Use {} with tls.certificateRefs (an HTTP \
                     listener may stay when every HTTPRoute attached to it only redirects to https).",
                    obj.display_name(),
                    if protocol == "HTTP" { "HTTPS" } else { "TLS" }
                ),
                "HTTPS" | "TLS" => {
                    let tls = listener.get("tls");
                    let mode = tls
                        .and_then(|t| t.get("mode"))
                        .and_then(Value::as_str)
                        .unwrap_or("Terminate");
                    let has_certs = tls
                        .and_then(|t| t.get("certificateRefs"))
                        .and_then(Value::as_array)
                        .is_some_and(|refs| !refs.is_empty());
                    // Istio terminates these with the certificate its mesh CA issues
                    let mesh_cert = tls
                        .and_then(|t| t.pointer("/options/gateway.istio.io~1tls-terminate-mode"))
                        .and_then(Value::as_str)
                        .is_some_and(|m| m == "ISTIO_MUTUAL" || m == "ISTIO_SIMPLE");
                    if mode == "Passthrough" || has_certs || mesh_cert {
                        continue;
                    }
                    format!(
                        "{} has {name}{port} with protocol {protocol} but no tls.certificateRefs: the controller \
                         has no certificate to terminate TLS with, so the listener is not served or falls back \
                         to a certificate clients cannot trust. Reference a kubernetes.io/tls Secret in \
                         tls.certificateRefs (or use tls.mode: Passthrough when the backend terminates TLS).",
                        obj.display_name()
                    )
                }
                _ => continue,
            };
            // the listener's name, protocol and TLS are the cause; its
            // hostname or allowed routes are not
            let at = |field: &str| format!("/spec/listeners/{i}/{field}");
            out.push(
                Hit::new(format!("/spec/listeners/{i}"), message).evidence_at(
                    obj,
                    &[&at("name"), &at("protocol"), &at("port"), &at("tls")],
                ),
            );
        }
    }
}

/// An HTTP listener whose attached routes (at least one) are all HTTPRoutes
/// that redirect every request to https: only the redirect travels in the
/// clear. A route of any other kind (GRPCRoute, TCPRoute…) serves.
fn redirects_only(gateway: &Object<'_>, listener: &Value, cx: &Context<'_>) -> bool {
    let name = listener.get("name").and_then(Value::as_str);
    let port = listener.get("port").and_then(Value::as_i64);
    // `Same` is the default; a namespace selector is not judged here
    let from = listener
        .pointer("/allowedRoutes/namespaces/from")
        .and_then(Value::as_str)
        .unwrap_or("Same");
    let mut attached = 0;
    for route in cx.routes_naming(gateway, gateway.name) {
        let barred = from == "Same"
            && route
                .namespace
                .zip(gateway.namespace)
                .is_some_and(|(r, g)| r != g);
        if barred {
            continue;
        }
        let refs = route
            .raw
            .pointer("/spec/parentRefs")
            .and_then(Value::as_array);
        let attaches = refs.into_iter().flatten().any(|r| {
            let field = |k: &str| r.get(k).and_then(Value::as_str);
            // A manifest without a namespace gets one where it is applied
            // (kustomize's `namespace:`, the kubectl context): it matches any.
            let same_namespace = match field("namespace") {
                Some(ns) => gateway.namespace.is_none_or(|g| g == ns),
                None => route
                    .namespace
                    .zip(gateway.namespace)
                    .is_none_or(|(r, g)| r == g),
            };
            field("group").unwrap_or("gateway.networking.k8s.io") == "gateway.networking.k8s.io"
                && field("kind").unwrap_or("Gateway") == "Gateway"
                && field("name") == Some(gateway.name)
                && same_namespace
                && field("sectionName").is_none_or(|s| Some(s) == name)
                && r.get("port")
                    .and_then(Value::as_i64)
                    .is_none_or(|p| Some(p) == port)
        });
        if !attaches {
            continue;
        }
        attached += 1;
        if route.kind != "HTTPRoute" {
            return false;
        }
        let rules = route.raw.pointer("/spec/rules").and_then(Value::as_array);
        let all_redirect = rules.is_some_and(|rules| {
            !rules.is_empty()
                && rules.iter().all(|rule| {
                    let filters = rule.get("filters").and_then(Value::as_array);
                    filters.into_iter().flatten().any(|f| {
                        f.get("type").and_then(Value::as_str) == Some("RequestRedirect")
                            && f.pointer("/requestRedirect/scheme").and_then(Value::as_str)
                                == Some("https")
                    })
                })
        });
        if !all_redirect {
            return false;
        }
    }
    attached > 0
}
