use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::ingress_common::{
    normalize_host, rule_host, rule_host_pointer, tls_by_annotation, TlsCoverage, INGRESS_KINDS,
};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct IngressHostWithoutTls;

static META: RuleMeta = RuleMeta {
    id: "ingress-host-without-tls",
    title: "Ingress host not covered by TLS",
    severity: Severity::High,
    category: Category::Ingress,
    kinds: INGRESS_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Everything an Ingress routes must be covered by one of its TLS entries: each rule host no TLS \
           entry lists, each rule without a host, and the default backend (`spec.defaultBackend`, \
           `spec.backend` in v1beta1) are reported one by one, with their path. Matching is wildcard-aware: \
           a TLS host `*.example.com` covers `a.example.com` but neither `example.com` nor \
           `a.b.example.com` (a wildcard stands for exactly one label). A TLS entry that lists no hosts \
           covers every host, the host-less rules and the default backend included (the Ingress API's \
           meaning: the controller's default). A rule host is reported once even if several rules repeat \
           it. An Ingress with no TLS at all is reported here host by host as well (as a `requireTLS` \
           check would), besides the single `ingress-tls-missing` finding. An Ingress whose controller serves \
           TLS from an annotation (the ones `ingress-tls-missing` lists) is not checked: the certificate it \
           names is not in the manifest."),
    why: doc_text!("A host missing from every TLS entry is served over plain HTTP, or with a certificate that does \
          not name it, while its neighbours look protected: the partial TLS hides the gap. Host-less rules \
          and the default backend answer for any name, so they need a TLS entry without hosts."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  tls:\n    - hosts: [shop.example.com]\n      secretName: shop-tls\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n    - host: admin.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: admin, port: {number: 80}}}}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  tls:\n    - hosts: [\"*.example.com\"]\n      secretName: wildcard-tls\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n    - host: admin.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: admin, port: {number: 80}}}}\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/services-networking/ingress/#tls",
        "https://kubernetes.io/docs/reference/kubernetes-api/service-resources/ingress-v1/#IngressSpec",
    ]),
};

plain_rule!(IngressHostWithoutTls, META);

impl Check for IngressHostWithoutTls {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.ingress() else { return };
        // a certificate named in an annotation: which hosts it names is not here
        if tls_by_annotation(obj).is_some() {
            return;
        }
        let name = obj.display_name();
        let no_tls = spec.tls.as_ref().is_none_or(|t| t.is_empty());
        let none_note = if no_tls {
            " (the Ingress has no TLS entry at all)"
        } else {
            ""
        };
        // indexed: an Ingress of a few MiB can hold tens of thousands of hosts
        let cover = TlsCoverage::new(spec);
        let mut seen = std::collections::BTreeSet::new();
        for (i, rule) in spec.rules.iter().flatten().enumerate() {
            match rule_host(rule.host.as_ref()) {
                Some(host) => {
                    let key = normalize_host(host);
                    if seen.contains(&key) || cover.covers(Some(host)) {
                        continue;
                    }
                    seen.insert(key);
                    out.push(Hit::new(
                        rule_host_pointer(i, true),
                        format!(
                            "{name} routes host `{host}` but no TLS entry covers it{none_note}: that host is served over \
                             plain HTTP or with a certificate that does not name it. Add `{host}` to a \
                             `spec.tls` entry whose Secret's certificate names it (a `*.` wildcard covers one \
                             label only)."
                        ),
                    ));
                }
                None => {
                    if cover.covers(None) {
                        continue;
                    }
                    out.push(
                        Hit::new(
                            rule_host_pointer(i, rule.host.is_some()),
                            format!(
                                "{name} has a rule without a host (rule {i}){none_note}: it answers for any name, and \
                                 only a TLS entry without hosts covers it, so it is served without TLS. Give the \
                                 rule a host listed in `spec.tls`, or add a TLS entry without hosts."
                            ),
                        )
                        .evidence_at(obj, &[&rule_host_pointer(i, true)]),
                    );
                }
            }
        }
        if spec.default_backend.is_some() && !cover.covers(None) {
            // the backend it names is no part of the cause
            out.push(
                Hit::new(
                    obj.ingress_path("/spec/defaultBackend"),
                    format!(
                        "{name} has a default backend, which answers for every name no rule matches, and no TLS \
                         entry without hosts covers it{none_note}: that traffic is served without TLS. Remove the \
                         default backend, or add a TLS entry without hosts whose certificate the controller \
                         serves."
                    ),
                )
                .evidence("a default backend"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::ingress_common::findings_of;
    use serde_json::json;

    #[test]
    fn legacy_default_backend_path_is_in_the_objects_own_shape() {
        let ing = json!({"apiVersion": "networking.k8s.io/v1beta1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"tls": [{"hosts": ["a.example.com"], "secretName": "t"}],
                "backend": {"serviceName": "web", "servicePort": 80},
                "rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/",
                    "backend": {"serviceName": "web", "servicePort": "http"}}]}},
                    {"http": {"paths": [{"backend": {"serviceName": "web", "servicePort": 80}}]}}]}});
        let f = findings_of(
            "ingress-host-without-tls",
            &json!({"objects": [ing], "settings": {"rules": {"ingress-host-without-tls": "deny"}}}),
        );
        let paths: Vec<&str> = f.iter().map(|(_, p, _)| p.as_str()).collect();
        assert_eq!(paths, ["/spec/rules/1", "/spec/backend"]);
    }
}
