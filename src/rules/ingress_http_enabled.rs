use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::ingress_common::{
    annotation_pointer, ingress_class, is_false, is_true, remove_annotation_patch,
    set_annotation_patch, INGRESS_KINDS,
};
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
           (`kubernetes.io/ingress.class` or `spec.ingressClassName` `gce` or `gce-internal`) without \
           `kubernetes.io/ingress.allow-http: \"false\"`; and `kubernetes.io/ingress.allow-http: \"true\"` on \
           any Ingress. Fixes: removing `ssl-redirect: \"false\"` (NGINX then redirects to HTTPS, its default), \
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

impl Check for IngressHttpEnabled {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.ingress() else { return };
        let name = obj.display_name();
        let ssl_redirect_off = is_false(obj.annotation(SSL_REDIRECT));
        let force = obj.annotation(FORCE_SSL_REDIRECT);
        if ssl_redirect_off && !is_true(force) {
            out.push(
                Hit::new(
                    annotation_pointer(SSL_REDIRECT),
                    format!(
                        "{name} sets `{SSL_REDIRECT}: \"false\"`: NGINX keeps answering plain HTTP instead of \
                         redirecting to HTTPS, so first requests and their cookies go out in clear. Remove the \
                         annotation (redirecting is NGINX's default when the Ingress has TLS)."
                    ),
                )
                .fix(remove_annotation_patch(SSL_REDIRECT)),
            );
        }
        let has_tls = spec.tls.as_ref().is_some_and(|t| !t.is_empty());
        if is_false(force) && (ssl_redirect_off || !has_tls) {
            out.push(Hit::new(
                annotation_pointer(FORCE_SSL_REDIRECT),
                format!(
                    "{name} sets `{FORCE_SSL_REDIRECT}: \"false\"` and nothing else redirects (no TLS entry of \
                     its own, or `ssl-redirect` off): NGINX serves it over plain HTTP. Set it to \"true\" when \
                     TLS ends in front of NGINX and the proxy sends `X-Forwarded-Proto`, or give the Ingress a \
                     TLS entry."
                ),
            ));
        }
        let is_gce = ingress_class(obj, spec).is_some_and(|c| {
            c.eq_ignore_ascii_case("gce") || c.eq_ignore_ascii_case("gce-internal")
        });
        let allow_http = obj.annotation(ALLOW_HTTP);
        let fix =
            has_certificate(obj, spec).then(|| set_annotation_patch(obj, ALLOW_HTTP, "false"));
        let hit = if is_true(allow_http) {
            Some(Hit::new(
                annotation_pointer(ALLOW_HTTP),
                format!(
                    "{name} sets `{ALLOW_HTTP}: \"true\"`: the load balancer keeps a plain HTTP frontend beside \
                     HTTPS, so requests and cookies can travel in clear. Set it to \"false\" once the Ingress \
                     has a certificate."
                ),
            ))
        } else if is_gce && !is_false(allow_http) {
            let path = if allow_http.is_some() {
                annotation_pointer(ALLOW_HTTP)
            } else {
                "/metadata/annotations".to_string()
            };
            Some(Hit::new(
                path,
                format!(
                    "{name} is a GCE Ingress without `{ALLOW_HTTP}: \"false\"`: GCE gives it a plain HTTP \
                     frontend on port 80 beside HTTPS, so clients can talk to it in clear. Add `{ALLOW_HTTP}: \"false\"` (with a TLS Secret or a managed \
                     certificate in place)."
                ),
            ))
        } else {
            None
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
