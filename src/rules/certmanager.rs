//! cert-manager semantics the TLS rules share: which objects make a TLS
//! Secret, and for which names.

use crate::object::Object;
use crate::review::Context;
use crate::rules::ingress_common::tls_hosts;

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

/// One object that makes TLS Secret `secret`, and the names it makes the
/// certificate for.
pub struct Producer {
    /// `Certificate shop/web`, for messages.
    pub what: String,
    pub names: Vec<String>,
}

/// Everything in the bundle or inventory, besides `of`, that makes Secret
/// `secret` in namespace `ns`: cert-manager Certificates with that
/// `secretName` (their `dnsNames`, and the `commonName`, which ACME issuers
/// also put among the names), and Ingresses annotated for the ingress-shim
/// whose TLS entries name it (their hosts).
pub fn producers(cx: &Context<'_>, of: &Object<'_>, ns: &str, secret: &str) -> Vec<Producer> {
    let mut out = Vec::new();
    for o in cx.naming_secret(of, ns, secret) {
        if let Some(cert) = o.certificate() {
            if cert.secret_name.as_deref().map(str::trim) != Some(secret) {
                continue;
            }
            let names = cert
                .dns_names
                .iter()
                .flatten()
                .chain(cert.common_name.iter())
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect();
            out.push(Producer {
                what: o.display_name(),
                names,
            });
        } else if is_ingress(o) && shim_issuer(o).is_some() {
            let Some(spec) = o.ingress() else { continue };
            let entries = spec
                .tls
                .iter()
                .flatten()
                .filter(|t| t.secret_name.as_deref().map(str::trim) == Some(secret));
            let mut names = Vec::new();
            let mut named = false;
            for t in entries {
                named = true;
                names.extend(
                    tls_hosts(t)
                        .into_iter()
                        .flatten()
                        .map(|h| h.trim().to_string()),
                );
            }
            if named {
                out.push(Producer {
                    what: format!("{} (cert-manager ingress-shim)", o.display_name()),
                    names,
                });
            }
        }
    }
    out
}

/// An Ingress annotated for the ingress-shim, other than `of`, whose TLS
/// entries name Secret `secret` in namespace `ns`: cert-manager makes it.
pub fn shim_ingress_for(cx: &Context<'_>, of: &Object<'_>, ns: &str, secret: &str) -> bool {
    cx.naming_secret(of, ns, secret).any(|o| {
        is_ingress(o)
            && shim_issuer(o).is_some()
            && o.ingress().is_some_and(|spec| {
                spec.tls
                    .iter()
                    .flatten()
                    .any(|t| t.secret_name.as_deref().map(str::trim) == Some(secret))
            })
    })
}
