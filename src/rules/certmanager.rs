//! cert-manager semantics the TLS rules share: which objects make a TLS
//! Secret.

use crate::object::Object;
use crate::review::Context;

/// Annotations by which cert-manager's ingress-shim issues a certificate
/// for an Ingress's TLS entries (the `certmanager.k8s.io` ones are the
/// spelling before cert-manager 0.11).
pub const ISSUER_ANNOTATIONS: &[&str] = &[
    "cert-manager.io/cluster-issuer",
    "cert-manager.io/issuer",
    "certmanager.k8s.io/cluster-issuer",
    "certmanager.k8s.io/issuer",
];

/// The issuer annotation that puts the ingress-shim to work on `obj`, if any.
pub fn shim_issuer<'a>(obj: &Object<'a>) -> Option<&'static str> {
    ISSUER_ANNOTATIONS
        .iter()
        .copied()
        .find(|k| obj.annotation(k).is_some_and(|v| !v.trim().is_empty()))
}

fn is_ingress(o: &Object<'_>) -> bool {
    o.kind == "Ingress" && matches!(o.group(), "networking.k8s.io" | "extensions")
}

/// An Ingress annotated for the ingress-shim, other than `of`, whose TLS
/// entries name Secret `secret` in namespace `ns`: cert-manager makes it.
pub fn shim_ingress_for(cx: &Context<'_>, of: &Object<'_>, ns: &str, secret: &str) -> bool {
    cx.others(of).any(|o| {
        o.namespace_or_default() == ns
            && is_ingress(o)
            && shim_issuer(o).is_some()
            && o.ingress().is_some_and(|spec| {
                spec.tls
                    .iter()
                    .flatten()
                    .any(|t| t.secret_name.as_deref().map(str::trim) == Some(secret))
            })
    })
}
