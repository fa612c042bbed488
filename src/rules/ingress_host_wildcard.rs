use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::ingress_common::{rule_host_pointer, INGRESS_KINDS};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct IngressHostWildcard;

static META: RuleMeta = RuleMeta {
    id: "ingress-host-wildcard",
    title: "Ingress rule with a wildcard or missing host",
    severity: Severity::Medium,
    category: Category::Ingress,
    kinds: INGRESS_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Each Ingress rule whose host is empty (`host: \"\"`), omitted, or contains `*` \
           (`*.example.com`), one finding per rule."),
    why: doc_text!("A rule without a host answers for every name that reaches the controller, and a wildcard for every \
          name under a domain: traffic meant for other applications, typos and names an attacker points at \
          the cluster all land on this backend. Wildcards also let one namespace capture subdomains another \
          team owns. Name each host explicitly."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  rules:\n    - host: \"*.example.com\"\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/services-networking/ingress/#hostname-wildcards",
        "https://kubernetes.io/docs/reference/kubernetes-api/service-resources/ingress-v1/#IngressRule",
    ]),
};

plain_rule!(IngressHostWildcard, META);

impl Check for IngressHostWildcard {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.ingress() else { return };
        let name = obj.display_name();
        for (i, rule) in spec.rules.iter().flatten().enumerate() {
            let host = rule.host.as_deref().map(str::trim);
            let (what, path) = match host {
                None => ("has no host", rule_host_pointer(i, false)),
                Some("") => ("has an empty host", rule_host_pointer(i, true)),
                Some(h) if h.contains('*') => ("has a wildcard host", rule_host_pointer(i, true)),
                Some(_) => continue,
            };
            let shown = host
                .filter(|h| !h.is_empty())
                .map(|h| format!(" `{h}`"))
                .unwrap_or_default();
            out.push(
                Hit::new(
                    path,
                    format!(
                        "{name}: rule {i} {what}{shown}, so it answers for every name that reaches the \
                         controller (or under that domain), capturing traffic meant for other applications. \
                         Set the exact host this application serves."
                    ),
                )
                .evidence_at(obj, &[&rule_host_pointer(i, true)]),
            );
        }
    }
}
