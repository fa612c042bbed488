use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::ingress_common::{
    annotation_pointer, remove_annotation_patch, set_annotation_patch, INGRESS_KINDS,
};
use crate::rules::{go_parse_bool, is_gce_ingress};
use crate::{doc_refs, doc_text};
use k8s_openapi::api::networking::v1::IngressSpec;

#[derive(Default)]
pub struct IngressHttpEnabled;

static META: RuleMeta = RuleMeta {
    id: "ingress-http-enabled",
    title: "Ingress leaves plain HTTP on",
    severity: Severity::Medium,
    category: Category::Ingress,
    kinds: INGRESS_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Ingresses that keep serving plain HTTP beside HTTPS, by the annotation each controller honours: \
           NGINX `nginx.ingress.kubernetes.io/ssl-redirect: \"false\"` (unless `force-ssl-redirect` is \
           \"true\"), and `nginx.ingress.kubernetes.io/force-ssl-redirect: \"false\"` when it matters, that is \
           when the Ingress has no TLS entry of its own or `ssl-redirect` is off too; a GCE Ingress \
           (`kubernetes.io/ingress.class` or `spec.ingressClassName` `gce` or `gce-internal`, or no class and an annotation only GKE reads: a \
           static IP, managed or pre-shared certificates, a FrontendConfig) without \
           `kubernetes.io/ingress.allow-http: \"false\"`; and `kubernetes.io/ingress.allow-http: \"true\"` on \
           any Ingress. Boolean annotations are read as the controllers read them, with Go's \
           `strconv.ParseBool` on the raw value: `\"0\"`, `\"f\"` and `\"F\"` are false, `\"1\"` and `\"t\"` \
           true, while `\" false\"`, `\"no\"` or `\"off\"` are no boolean at all; such a value is reported, \
           since ingress-nginx then ignores the annotation and GCE keeps HTTP on. Fixes: removing `ssl-redirect: \"false\"` (NGINX then redirects to HTTPS, its default), \
           and setting `allow-http: \"false\"` when the Ingress has a TLS entry with a Secret or a GCE \
           certificate annotation (without a certificate, GCE would have no frontend left). Turning \
           `force-ssl-redirect` on is not offered as a fix: behind a proxy that does not send \
           `X-Forwarded-Proto` it loops."),
    why: doc_text!("With HTTPS configured but HTTP still answered, the first request of a client that types the name \
          or follows an old link goes out in clear, cookies included, and can be intercepted or downgraded. \
          Redirecting (NGINX) or closing port 80 (GCE) makes HTTPS the only way in."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n  annotations:\n    nginx.ingress.kubernetes.io/ssl-redirect: \"false\"\nspec:\n  ingressClassName: nginx\n  tls:\n    - hosts: [shop.example.com]\n      secretName: shop-tls\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n  annotations:\n    kubernetes.io/ingress.allow-http: \"false\"\nspec:\n  ingressClassName: gce\n  tls:\n    - hosts: [shop.example.com]\n      secretName: shop-tls\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n"),
    references: doc_refs!(&[
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#server-side-https-enforcement-through-redirect",
        "https://cloud.google.com/kubernetes-engine/docs/concepts/ingress-xlb#disabling_http",
    ]),
};

plain_rule!(IngressHttpEnabled, META);

const ALLOW_HTTP: &str = "kubernetes.io/ingress.allow-http";
const SSL_REDIRECT: &str = "nginx.ingress.kubernetes.io/ssl-redirect";
const FORCE_SSL_REDIRECT: &str = "nginx.ingress.kubernetes.io/force-ssl-redirect";

/// GCE annotations that give the load balancer a certificate without `spec.tls`.
const GCE_CERT_ANNOTATIONS: &[&str] = &[
    "ingress.gcp.kubernetes.io/pre-shared-cert",
    "networking.gke.io/managed-certificates",
];

/// Whether HTTPS will still be served once HTTP is closed.
fn has_certificate(obj: &Object<'_>, spec: &IngressSpec) -> bool {
    let tls = spec.tls.iter().flatten().any(|t| {
        t.secret_name
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
    });
    tls || GCE_CERT_ANNOTATIONS
        .iter()
        .any(|k| obj.annotation(k).is_some_and(|v| !v.trim().is_empty()))
}

/// A boolean annotation as its controller reads it: (the text, Go's
/// ParseBool of it), None when absent.
fn go_bool<'a>(obj: &Object<'a>, key: &str) -> Option<(&'a str, Option<bool>)> {
    obj.annotation(key).map(|v| (v, go_parse_bool(v)))
}

impl Check for IngressHttpEnabled {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.ingress() else { return };
        let name = obj.display_name();
        let ssl_redirect = go_bool(obj, SSL_REDIRECT);
        let force = go_bool(obj, FORCE_SSL_REDIRECT);
        for (key, value) in [(SSL_REDIRECT, ssl_redirect), (FORCE_SSL_REDIRECT, force)] {
            if let Some((raw, None)) = value {
                out.push(Hit::new(
                    annotation_pointer(key),
                    format!(
                        "{name} sets `{key}: \"{raw}\"`, which ingress-nginx does not read as a boolean (it \
                         takes what Go's ParseBool takes: true, false, 1, 0, t, f…, nothing trimmed): it \
                         ignores the annotation and falls back to its ConfigMap's setting, which is surely not \
                         what was meant. Write \"true\" or \"false\"."
                    ),
                ));
            }
        }
        let ssl_redirect_off = matches!(ssl_redirect, Some((_, Some(false))));
        let force_on = matches!(force, Some((_, Some(true))));
        if let (true, false, Some((raw, _))) = (ssl_redirect_off, force_on, ssl_redirect) {
            out.push(
                Hit::new(
                    annotation_pointer(SSL_REDIRECT),
                    format!(
                        "{name} sets `{SSL_REDIRECT}: \"{raw}\"` (false): NGINX keeps answering plain HTTP \
                         instead of redirecting to HTTPS, so first requests and their cookies go out in clear. \
                         Remove the annotation (redirecting is NGINX's default when the Ingress has TLS)."
                    ),
                )
                .fix(remove_annotation_patch(SSL_REDIRECT)),
            );
        }
        let has_tls = spec.tls.as_ref().is_some_and(|t| !t.is_empty());
        if let Some((raw, Some(false))) = force {
            if ssl_redirect_off || !has_tls {
                out.push(Hit::new(
                    annotation_pointer(FORCE_SSL_REDIRECT),
                    format!(
                        "{name} sets `{FORCE_SSL_REDIRECT}: \"{raw}\"` (false) and nothing else redirects (no \
                         TLS entry of its own, or `ssl-redirect` off): NGINX serves it over plain HTTP. Set it \
                         to \"true\" when TLS ends in front of NGINX and the proxy sends `X-Forwarded-Proto`, \
                         or give the Ingress a TLS entry."
                    ),
                ));
            }
        }
        let is_gce = is_gce_ingress(obj) == Some(true);
        // GCE reads the raw value with ParseBool and keeps HTTP on when it
        // is absent or does not parse
        let allow_http = go_bool(obj, ALLOW_HTTP);
        let fix =
            has_certificate(obj, spec).then(|| set_annotation_patch(obj, ALLOW_HTTP, "false"));
        let hit = match allow_http {
            Some((raw, Some(true))) => Some(Hit::new(
                annotation_pointer(ALLOW_HTTP),
                format!(
                    "{name} sets `{ALLOW_HTTP}: \"{raw}\"` (true): the load balancer keeps a plain HTTP \
                     frontend beside HTTPS, so requests and cookies can travel in clear. Set it to \"false\" \
                     once the Ingress has a certificate."
                ),
            )),
            Some((raw, None)) if is_gce => Some(Hit::new(
                annotation_pointer(ALLOW_HTTP),
                format!(
                    "{name} sets `{ALLOW_HTTP}: \"{raw}\"`, which GCE does not read as a boolean (Go's \
                     ParseBool, nothing trimmed), so it keeps the plain HTTP frontend on port 80 beside HTTPS. \
                     Write \"false\" (with a TLS Secret or a managed certificate in place)."
                ),
            )),
            None if is_gce => Some(Hit::new(
                "/metadata/annotations",
                format!(
                    "{name} is a GCE Ingress without `{ALLOW_HTTP}: \"false\"`: GCE gives it a plain HTTP \
                     frontend on port 80 beside HTTPS, so clients can talk to it in clear. Add \
                     `{ALLOW_HTTP}: \"false\"` (with a TLS Secret or a managed certificate in place)."
                ),
            )),
            _ => None,
        };
        if let Some(hit) = hit {
            // the cause is the allow-http annotation, not the whole map
            let hit = hit.evidence_at(obj, &[&annotation_pointer(ALLOW_HTTP)]);
            out.push(match fix {
                Some(patch) => hit.fix(patch),
                None => hit,
            });
        }
    }
}
