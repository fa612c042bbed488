use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::ingress_common::INGRESS_KINDS;
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct IngressTlsMissing;

static META: RuleMeta = RuleMeta {
    id: "ingress-tls-missing",
    title: "Ingress without TLS",
    severity: Severity::High,
    category: Category::Ingress,
    kinds: INGRESS_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Ingresses (`networking.k8s.io/v1`, and the legacy `extensions/v1beta1` and \
           `networking.k8s.io/v1beta1`) with no `spec.tls` entry, or an empty list. Whether every host is \
           covered is `ingress-host-without-tls`; whether each entry names a usable Secret is \
           `ingress-tls-secret`. Unlike a `tlsOptional` switch, an Ingress that only sets \
           `kubernetes.io/ingress.allow-http: \"false\"` is still reported: without TLS it serves nothing \
           safely."),
    why: doc_text!("Without TLS the Ingress serves its hosts over plain HTTP: credentials, session cookies and data \
          cross the network readable and alterable by anyone on the path. The Ingress is the one entry point \
          that should terminate TLS for every Service behind it."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service: {name: web, port: {number: 80}}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  tls:\n    - hosts: [shop.example.com]\n      secretName: shop-tls\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service: {name: web, port: {number: 80}}\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/services-networking/ingress/#tls",
        "https://cert-manager.io/docs/usage/ingress/",
    ]),
};

plain_rule!(IngressTlsMissing, META);

impl Check for IngressTlsMissing {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.ingress() else { return };
        if spec.tls.as_ref().is_some_and(|t| !t.is_empty()) {
            return;
        }
        let path = if spec.tls.is_some() {
            "/spec/tls"
        } else {
            "/spec"
        };
        out.push(
            Hit::new(
                path,
                format!(
                    "{} has no TLS: its hosts are served over plain HTTP, so credentials and data cross the \
                     network in clear. Add a `spec.tls` entry listing the hosts with a `secretName` holding \
                     their certificate (cert-manager can issue it).",
                    obj.display_name()
                ),
            )
            .evidence_at(obj, &["/spec/tls"]),
        );
    }
}
