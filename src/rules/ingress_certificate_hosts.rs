use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::certmanager::{producers, shim_issuer, Producer};
use crate::rules::ingress_common::{host_matches, rule_host, tls_hosts};
use crate::rules::istio_common::{bare_host, credential_names};
use crate::rules::traefik_common::rule_hosts;
use crate::{doc_refs, doc_text};
use serde_json::Value;

#[derive(Default)]
pub struct IngressCertificateHosts;

static META: RuleMeta = RuleMeta {
    id: "ingress-certificate-hosts",
    title: "Certificate does not cover the hosts it is served for",
    severity: Severity::High,
    category: Category::Ingress,
    kinds: &[
        "networking.k8s.io/Ingress",
        "extensions/Ingress",
        "gateway.networking.k8s.io/Gateway",
        "networking.istio.io/Gateway",
        "traefik.io/IngressRoute",
        "traefik.containo.us/IngressRoute",
        "cert-manager.io/Certificate",
        "certmanager.k8s.io/Certificate",
    ],
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[],
    what: doc_text!("When the bundle or the inventory shows what makes the TLS Secret an entry point serves, \
           every host served with it must be among the names the certificate is made for. Entry points: an \
           Ingress's `spec.tls` entries (their `hosts`; an entry without hosts serves the rule hosts no other \
           entry lists), a Gateway API listener's `tls.certificateRefs` (its `hostname`), an Istio Gateway \
           server's `tls.credentialName`/`credentialNames` (its `hosts`, without their `namespace/` prefix; \
           `*` is not a name) and a Traefik IngressRoute's `tls.secretName` (the names its routes match with \
           `Host(…)`). Producers of the Secret, in its namespace: a cert-manager `Certificate` \
           (`cert-manager.io`, any version, or the older `certmanager.k8s.io`) with that `secretName`, whose \
           names are its `dnsNames` and its `commonName` (ACME issuers put that among the names too), and an \
           Ingress annotated for cert-manager's ingress-shim (`cert-manager.io/cluster-issuer` or \
           `cert-manager.io/issuer`) whose TLS entry names that Secret, whose names are that entry's hosts. A \
           wildcard name covers exactly one label (`*.example.com` covers `a.example.com`, neither \
           `example.com` nor `a.b.example.com`). An Istio Gateway's Secret lives beside the gateway's \
           proxies, so producers are looked for in the Gateway's namespace, then in any. A host is reported \
           when no producer names it; an entry point annotated for the ingress-shim makes its own \
           certificate and is not judged, nor is a Secret nothing in the bundle makes."),
    why: doc_text!("A certificate that does not name the host the client asked for fails verification: \
          browsers stop with a certificate error, API clients refuse the connection, and users learn to click \
          through warnings. The Ingress and its Certificate often live in different files and drift apart \
          when a host is added to one of them."),
    denied: doc_text!("apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: shop\n  namespace: shop\nspec:\n  secretName: shop-tls\n  dnsNames: [shop.example.com]\n  issuerRef: {name: letsencrypt, kind: ClusterIssuer}\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\n  namespace: shop\nspec:\n  tls:\n    - hosts: [shop.example.com, api.example.com]\n      secretName: shop-tls\n  rules:\n    - host: api.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}\n"),
    allowed: doc_text!("apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: shop\n  namespace: shop\nspec:\n  secretName: shop-tls\n  dnsNames: [shop.example.com, \"*.api.example.com\"]\n  issuerRef: {name: letsencrypt, kind: ClusterIssuer}\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\n  namespace: shop\nspec:\n  tls:\n    - hosts: [shop.example.com, eu.api.example.com]\n      secretName: shop-tls\n  rules:\n    - host: eu.api.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}\n"),
    references: doc_refs!(&[
        "https://cert-manager.io/docs/usage/certificate/",
        "https://cert-manager.io/docs/usage/ingress/",
        "https://www.rfc-editor.org/rfc/rfc6125#section-6.4.3",
    ]),
};

plain_rule!(IngressCertificateHosts, META);

/// One host served with Secret `secret`, and the pointer to where it is written.
struct Served {
    secret: String,
    /// Namespaces to look for producers in, in order of preference.
    namespaces: Vec<String>,
    host: String,
    path: String,
}

fn ingress_served(obj: &Object<'_>) -> Vec<Served> {
    let Some(spec) = obj.ingress() else {
        return Vec::new();
    };
    let ns = obj.namespace_or_default().to_string();
    let entries: Vec<_> = spec.tls.iter().flatten().collect();
    let mut out = Vec::new();
    for (i, tls) in entries.iter().enumerate() {
        let Some(secret) = tls
            .secret_name
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let mut push = |host: &str, path: String| {
            out.push(Served {
                secret: secret.to_string(),
                namespaces: vec![ns.clone()],
                host: host.trim().to_string(),
                path,
            })
        };
        match tls_hosts(tls) {
            Some(hosts) => {
                for (j, h) in hosts.iter().enumerate() {
                    if !h.trim().is_empty() {
                        push(h, format!("/spec/tls/{i}/hosts/{j}"));
                    }
                }
            }
            None => {
                // a host-less entry serves the rule hosts no other entry lists
                for (k, rule) in spec.rules.iter().flatten().enumerate() {
                    let Some(h) = rule_host(rule.host.as_ref()) else {
                        continue;
                    };
                    let listed = entries.iter().any(|t| {
                        tls_hosts(t).is_some_and(|hs| hs.iter().any(|x| host_matches(x, h)))
                    });
                    if !listed {
                        push(h, format!("/spec/rules/{k}/host"));
                    }
                }
            }
        }
    }
    out
}

fn gateway_api_served(obj: &Object<'_>) -> Vec<Served> {
    let mut out = Vec::new();
    let ns = obj.namespace_or_default();
    let listeners = obj.raw.pointer("/spec/listeners").and_then(Value::as_array);
    for (i, l) in listeners.into_iter().flatten().enumerate() {
        let Some(host) = l.get("hostname").and_then(Value::as_str).map(str::trim) else {
            continue;
        };
        if host.is_empty() {
            continue;
        }
        let refs = l.pointer("/tls/certificateRefs").and_then(Value::as_array);
        for r in refs.into_iter().flatten() {
            let field = |k: &str| r.get(k).and_then(Value::as_str).map(str::trim);
            if field("kind").unwrap_or("Secret") != "Secret"
                || !field("group").unwrap_or("").is_empty()
            {
                continue;
            }
            let Some(name) = field("name").filter(|n| !n.is_empty()) else {
                continue;
            };
            out.push(Served {
                secret: name.to_string(),
                namespaces: vec![field("namespace")
                    .filter(|n| !n.is_empty())
                    .unwrap_or(ns)
                    .to_string()],
                host: host.to_string(),
                path: format!("/spec/listeners/{i}/hostname"),
            });
        }
    }
    out
}

fn istio_served(obj: &Object<'_>) -> Vec<Served> {
    let Some(gw) = obj.istio_gateway() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, server) in gw.servers.iter().flatten().enumerate() {
        let Some(tls) = server.tls.as_ref() else {
            continue;
        };
        for secret in credential_names(tls) {
            for (j, h) in server.hosts.iter().flatten().enumerate() {
                let host = bare_host(h);
                if host.is_empty() || host == "*" {
                    continue;
                }
                out.push(Served {
                    secret: secret.to_string(),
                    // "" stands for any namespace: the gateway's proxies may run elsewhere
                    namespaces: vec![obj.namespace_or_default().to_string(), String::new()],
                    host: host.to_string(),
                    path: format!("/spec/servers/{i}/hosts/{j}"),
                });
            }
        }
    }
    out
}

fn traefik_served(obj: &Object<'_>) -> Vec<Served> {
    let Some(route) = obj.ingress_route() else {
        return Vec::new();
    };
    let Some(secret) = route
        .tls
        .as_ref()
        .and_then(|t| t.secret_name.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, r) in route.routes.iter().flatten().enumerate() {
        for host in rule_hosts(r.rule.as_deref().unwrap_or_default()) {
            out.push(Served {
                secret: secret.to_string(),
                namespaces: vec![obj.namespace_or_default().to_string()],
                host,
                path: format!("/spec/routes/{k}/match"),
            });
        }
    }
    out
}

/// The producers of a Secret: those of the first namespace that has any
/// (`""`: every namespace of the bundle).
fn find_producers(cx: &Context<'_>, obj: &Object<'_>, served: &Served) -> Vec<Producer> {
    for ns in &served.namespaces {
        let found = if ns.is_empty() {
            let mut seen: Vec<&str> = Vec::new();
            let mut all = Vec::new();
            for group in crate::crds::CERT_MANAGER_GROUPS {
                for ons in cx.namespaces_of(group, "Certificate") {
                    if !seen.contains(ons) {
                        seen.push(ons);
                        all.extend(producers(cx, obj, ons, &served.secret));
                    }
                }
            }
            all
        } else {
            producers(cx, obj, ns, &served.secret)
        };
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

impl Check for IngressCertificateHosts {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let served = if obj.ingress().is_some() {
            ingress_served(obj)
        } else if obj.istio_gateway().is_some() {
            istio_served(obj)
        } else if obj.ingress_route().is_some() {
            traefik_served(obj)
        } else if obj.group() == "gateway.networking.k8s.io" && obj.kind == "Gateway" {
            gateway_api_served(obj)
        } else {
            return;
        };
        // cert-manager makes this object's own certificates from its hosts
        if served.is_empty() || shim_issuer(obj).is_some() {
            return;
        }
        for s in &served {
            let makers = find_producers(cx, obj, s);
            // a producer without names is malformed; it says nothing about coverage
            let makers: Vec<&Producer> = makers.iter().filter(|p| !p.names.is_empty()).collect();
            if makers.is_empty()
                || makers
                    .iter()
                    .any(|p| p.names.iter().any(|n| host_matches(n, &s.host)))
            {
                continue;
            }
            let described: Vec<String> = makers
                .iter()
                .map(|p| {
                    let names: Vec<String> = p.names.iter().map(|n| format!("`{n}`")).collect();
                    format!("{} for {}", p.what, names.join(", "))
                })
                .collect();
            out.push(Hit::new(
                s.path.clone(),
                format!(
                    "{} serves `{}` with TLS Secret `{}`, but the certificate is made by {} only: clients asking \
                     for `{}` get a certificate without that name and fail verification (a wildcard covers one \
                     label). Add the host to what makes the certificate (a Certificate's dnsNames, or the TLS hosts of \
                     the Ingress cert-manager issues it for), or serve it with another Secret.",
                    obj.display_name(),
                    s.host,
                    s.secret,
                    described.join("; "),
                    s.host
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::ingress_common::findings_of;
    use serde_json::json;

    const RULE: &str = "ingress-certificate-hosts";

    #[test]
    fn wrong_types_in_a_certificate_are_errors_at_their_path() {
        for (spec, path) in [
            (json!({"dnsNames": "a.example.com"}), "/spec/dnsNames"),
            (json!({"secretName": ["x"]}), "/spec/secretName"),
            (json!({"commonName": 1}), "/spec/commonName"),
        ] {
            let c = json!({"apiVersion": "cert-manager.io/v1alpha2", "kind": "Certificate",
                "metadata": {"name": "c", "namespace": "n"}, "spec": spec});
            let e = crate::evaluate(&c, crate::Host::default()).unwrap_err();
            assert_eq!(e.code(), "invalid-object", "{e}");
            assert_eq!(e.to_value()["path"], path, "{e}");
        }
    }

    #[test]
    fn istio_secrets_are_looked_for_beside_the_proxies() {
        let gw = json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"name": "g", "namespace": "shop"},
            "spec": {"servers": [{"port": {"number": 443, "protocol": "HTTPS"}, "hosts": ["shop/a.example.com"],
                "tls": {"mode": "SIMPLE", "credentialName": "a-tls"}}]}});
        let cert = |ns: &str, name: &str| {
            json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "c", "namespace": ns}, "spec": {"secretName": "a-tls", "dnsNames": [name]}})
        };
        let run = |objects: serde_json::Value| {
            findings_of(
                RULE,
                &json!({"objects": objects, "settings": {"rules": {RULE: "deny"}}}),
            )
        };
        assert_eq!(
            run(json!([gw.clone(), cert("istio-system", "b.example.com")])).len(),
            1
        );
        assert!(run(json!([gw.clone(), cert("istio-system", "a.example.com")])).is_empty());
        // the Gateway's own namespace wins over the others
        assert!(run(json!([
            gw.clone(),
            cert("shop", "a.example.com"),
            cert("istio-system", "b.example.com")
        ]))
        .is_empty());
    }
}
