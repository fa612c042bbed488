use crate::cluster::{ApiKind, Lookup, CERTIFICATE, EXTERNAL_SECRET, SEALED_SECRET, SECRET};
use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::certmanager;
use crate::rules::ingress_common::INGRESS_KINDS;
use crate::{doc_refs, doc_text};
use k8s_openapi::api::networking::v1::IngressSpec;
use serde_json::Value;

#[derive(Default)]
pub struct IngressTlsSecret;

static META: RuleMeta = RuleMeta {
    id: "ingress-tls-secret",
    title: "Ingress TLS entry without a usable Secret",
    severity: Severity::High,
    category: Category::Ingress,
    kinds: INGRESS_KINDS,
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[],
    what: doc_text!("Each `spec.tls` entry of an Ingress must name a `secretName` (`tls: [{}]` names none). \
           When the bundle or the inventory carries Secrets of the Ingress's namespace (or objects that produce \
           them there), each named Secret is also looked up in the Ingress's namespace: it is reported when it \
           is absent, when `tls.crt` or `tls.key` is missing or empty in both `data` and `stringData`, or when \
           its `type` is neither `kubernetes.io/tls` nor `Opaque` (an `Opaque` Secret holding the key pair is \
           read as a TLS Secret by ingress-nginx, Traefik, GCE and Istio). An absent Secret is not reported when \
           something will create it: a cert-manager annotation on the Ingress (`cert-manager.io/cluster-issuer` \
           or `cert-manager.io/issuer`) or on another Ingress whose TLS entry names the same Secret \
           (cert-manager's ingress-shim makes it), a cert-manager `Certificate` with that `spec.secretName`, a \
           `SealedSecret` of that name or an `ExternalSecret` whose target is that name, all in the same \
           namespace. In Kubewarden the Secrets are read from the cluster by name (their producers only when \
           one is absent), so an absent Secret is known absent. Only the Ingress's own namespace counts: \
           evaluating a single object, or a bundle and inventory without any Secret or Secret source in that \
           namespace (the controller's own Secrets elsewhere, another repository's), only the missing \
           `secretName` is checked: Secrets kept elsewhere cannot be seen and are not assumed absent."),
    why: doc_text!("A TLS entry without a Secret makes the controller serve its default certificate, usually \
          self-signed or for another name, so clients either fail or learn to click through warnings. A \
          Secret that is missing, of the wrong type or without its key pair leaves the host on that same \
          fallback certificate (or unserved) while the manifest looks protected."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  tls:\n    - hosts: [shop.example.com]\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt\nspec:\n  tls:\n    - hosts: [shop.example.com]\n      secretName: shop-tls\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/services-networking/ingress/#tls",
        "https://kubernetes.io/docs/concepts/configuration/secret/#tls-secrets",
        "https://cert-manager.io/docs/usage/ingress/",
    ]),
};

/// In a cluster: the Secrets an Ingress names, and what could produce one
/// that is absent.
static READS: &[&ApiKind] = &[&SECRET, &CERTIFICATE, &SEALED_SECRET, &EXTERNAL_SECRET];

plain_rule!(IngressTlsSecret, META, reads: READS);

const ISSUER_ANNOTATIONS: &[&str] = &["cert-manager.io/cluster-issuer", "cert-manager.io/issuer"];

/// The object in the bundle or inventory that will create Secret `name`, if any.
fn secret_source(cx: &Context<'_>, of: &Object<'_>, ns: &str, name: &str) -> Option<String> {
    [&CERTIFICATE, &SEALED_SECRET, &EXTERNAL_SECRET]
        .iter()
        .flat_map(|k| cx.others_of_kind(of, k.group, k.kind, ns))
        .find_map(|o| {
            let writes = match (o.group(), o.kind) {
                ("cert-manager.io", "Certificate") => {
                    o.raw.pointer("/spec/secretName").and_then(Value::as_str) == Some(name)
                }
                ("bitnami.com", "SealedSecret") => {
                    let target = o
                        .raw
                        .pointer("/spec/template/metadata/name")
                        .and_then(Value::as_str);
                    target.unwrap_or(o.name) == name
                }
                ("external-secrets.io", "ExternalSecret") => {
                    let target = o.raw.pointer("/spec/target/name").and_then(Value::as_str);
                    target.unwrap_or(o.name) == name
                }
                _ => false,
            };
            writes.then(|| o.display_name())
        })
}

/// The `secretName` of each TLS entry that names one.
fn secret_names(spec: &IngressSpec) -> impl Iterator<Item = &str> {
    spec.tls
        .iter()
        .flatten()
        .filter_map(|tls| tls.secret_name.as_deref().map(str::trim))
        .filter(|s| !s.is_empty())
}

/// Whether the Secrets of namespace `ns` are known here: some Secret or
/// Secret producer of that namespace is in view, or the cluster was read
/// for them. Secrets of other namespaces say nothing about this one.
fn secrets_known(cx: &Context<'_>, ns: &str) -> bool {
    READS.iter().any(|k| cx.knows(k.group, k.kind, ns))
}

/// `key` present with a non-empty value in `data` or `stringData`.
fn has_key(secret: &Object<'_>, key: &str) -> bool {
    ["data", "stringData"].iter().any(|field| {
        secret
            .raw
            .get(field)
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .is_some_and(|v| !v.trim().is_empty())
    })
}

impl Check for IngressTlsSecret {
    fn needs(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Lookup>) {
        let Some(spec) = obj.ingress() else { return };
        let ns = obj.namespace_or_default();
        let mut absent = false;
        for secret in secret_names(spec) {
            if cx.find("", "Secret", Some(ns), secret).is_some() {
                continue;
            }
            absent |= cx.knows("", "Secret", ns);
            out.push(Lookup::get(&SECRET, ns, secret));
        }
        let issuer = ISSUER_ANNOTATIONS
            .iter()
            .any(|k| obj.annotation(k).is_some_and(|v| !v.trim().is_empty()));
        // only an absent Secret needs a producer to excuse it
        if absent && !issuer {
            for kind in [&CERTIFICATE, &SEALED_SECRET, &EXTERNAL_SECRET] {
                out.push(Lookup::list(kind, ns));
            }
        }
    }

    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.ingress() else { return };
        let name = obj.display_name();
        let ns = obj.namespace_or_default();
        let secrets_known = secrets_known(cx, ns);
        let issuer = ISSUER_ANNOTATIONS
            .iter()
            .copied()
            .find(|k| obj.annotation(k).is_some_and(|v| !v.trim().is_empty()));
        for (i, tls) in spec.tls.iter().flatten().enumerate() {
            let secret_name = tls
                .secret_name
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let Some(secret_name) = secret_name else {
                let hint = if issuer.is_some() {
                    " cert-manager also needs it to know where to store the certificate."
                } else {
                    ""
                };
                out.push(
                    Hit::new(
                        format!("/spec/tls/{i}"),
                        format!(
                            "{name}: TLS entry {i} names no `secretName`, so the controller serves its default \
                             certificate (usually self-signed or for another name) and clients see errors or \
                             learn to ignore them.{hint} Set `secretName` to a `kubernetes.io/tls` Secret in \
                             namespace {ns} holding the hosts' certificate and key."
                        ),
                    )
                    .evidence_at(obj, &[&format!("/spec/tls/{i}/secretName")]),
                );
                continue;
            };
            if !secrets_known {
                continue;
            }
            let path = format!("/spec/tls/{i}/secretName");
            let Some(secret) = cx.find("", "Secret", Some(ns), secret_name) else {
                if issuer.is_some() || secret_source(cx, obj, ns, secret_name).is_some() {
                    continue;
                }
                // another Ingress of the namespace has cert-manager make it
                if certmanager::shim_ingress_for(cx, obj, ns, secret_name) {
                    continue;
                }
                let elsewhere = cx
                    .find("", "Secret", None, secret_name)
                    .map(|o| {
                        format!(
                            " A Secret of that name exists in namespace {}, but an Ingress can only use Secrets \
                             of its own namespace.",
                            o.namespace_or_default()
                        )
                    })
                    .unwrap_or_default();
                out.push(Hit::new(
                    path,
                    format!(
                        "{name}: TLS entry {i} names Secret `{secret_name}`, which is not in namespace {ns} and \
                         nothing here creates it, so the controller falls back to its default certificate.\
                         {elsewhere} Add the `kubernetes.io/tls` Secret, or let cert-manager issue it (a \
                         `cert-manager.io/cluster-issuer` annotation or a Certificate with that secretName)."
                    ),
                ));
                continue;
            };
            let secret_type = secret
                .raw
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("Opaque");
            let missing: Vec<&str> = ["tls.crt", "tls.key"]
                .into_iter()
                .filter(|k| !has_key(secret, k))
                .collect();
            // ingress-nginx, Traefik, GCE and Istio read the key pair of an
            // Opaque Secret as they read a typed one, and real installs ship
            // their certificates that way: only a Secret typed for something
            // else, or an Opaque one without the pair, is not a TLS Secret.
            let usable_opaque = secret_type == "Opaque" && missing.is_empty();
            if secret_type != "kubernetes.io/tls" && !usable_opaque {
                out.push(Hit::new(
                    path.clone(),
                    format!(
                        "{name}: TLS entry {i} uses Secret {ns}/{secret_name} of type `{secret_type}`, not \
                         `kubernetes.io/tls`: controllers may refuse it and serve their default certificate, \
                         and nothing checks that it holds a certificate and key. Recreate it with \
                         `kubectl create secret tls` (type `kubernetes.io/tls`)."
                    ),
                ));
            }
            if !missing.is_empty() {
                out.push(Hit::new(
                    path,
                    format!(
                        "{name}: TLS entry {i} uses Secret {ns}/{secret_name}, which lacks {}: without the \
                         certificate and its key the controller cannot serve TLS for these hosts and falls back \
                         to its default certificate. Put the PEM certificate chain in `tls.crt` and the private \
                         key in `tls.key`.",
                        missing
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
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

    const RULE: &str = "ingress-tls-secret";

    fn ingress() -> serde_json::Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"tls": [{"hosts": ["a.example.com"], "secretName": "a-tls"}]}})
    }

    #[test]
    fn secret_found_in_the_inventory() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "a-tls", "namespace": "shop"},
            "data": {"tls.crt": "eA==", "tls.key": "eA=="}});
        let input = json!({"objects": [ingress()], "inventory": [secret],
            "settings": {"rules": {RULE: "deny"}}});
        assert!(findings_of(RULE, &input).is_empty());
    }

    #[test]
    fn inventory_secrets_without_ours_report_it_absent() {
        let other = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "b-tls", "namespace": "shop"},
            "data": {"tls.crt": "eA==", "tls.key": "eA=="}});
        let input = json!({"objects": [ingress()], "inventory": [other],
            "settings": {"rules": {RULE: "deny"}}});
        let f = findings_of(RULE, &input);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].1, "/spec/tls/0/secretName");
    }

    #[test]
    fn sealed_and_external_secrets_are_sources() {
        for source in [
            json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                "metadata": {"name": "a-tls", "namespace": "shop"}, "spec": {}}),
            json!({"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
                "metadata": {"name": "from-vault", "namespace": "shop"},
                "spec": {"target": {"name": "a-tls"}}}),
        ] {
            let input = json!({"objects": [ingress(), source],
                "settings": {"rules": {RULE: "deny"}}});
            assert!(findings_of(RULE, &input).is_empty());
        }
    }
}
