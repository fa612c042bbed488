use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::ingress_common::{annotation_pointer, normalize_host, INGRESS_KINDS};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct IngressAuthUrlInsecure;

static META: RuleMeta = RuleMeta {
    id: "ingress-auth-url-insecure",
    title: "Ingress external auth over plain HTTP",
    severity: Severity::High,
    category: Category::Ingress,
    kinds: INGRESS_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("The NGINX `nginx.ingress.kubernetes.io/auth-url` of an Ingress when it is a plain `http://` URL to \
           a host outside the cluster, or when it cannot be read as an `http://` or `https://` URL with a host. \
           In-cluster names (`*.svc`, `*.svc.cluster.local`, `*.cluster.local`) and loopback \
           (`localhost`, `127.0.0.1`, `[::1]`) are fine over HTTP: that traffic stays inside the cluster \
           network. NGINX variables in the URL (`https://$host/oauth2/auth`) are read as they are written."),
    why: doc_text!("NGINX sends every request's headers, cookies and bearer tokens included, to the auth URL, and \
          trusts its answer. Over plain HTTP outside the cluster both can be read and forged on the way: the \
          credentials leak and anyone in the path can answer `200` for everybody. A URL NGINX cannot use \
          breaks authentication altogether."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: grafana\n  namespace: monitoring\n  annotations:\n    nginx.ingress.kubernetes.io/auth-url: \"http://auth.example.com/oauth2/auth\"\nspec:\n  rules:\n    - host: grafana.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: grafana, port: {number: 3000}}}}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: grafana\n  namespace: monitoring\n  annotations:\n    nginx.ingress.kubernetes.io/auth-url: \"http://oauth2-proxy.auth.svc.cluster.local:4180/oauth2/auth\"\nspec:\n  rules:\n    - host: grafana.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: grafana, port: {number: 3000}}}}\n"),
    references: doc_refs!(&[
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#external-authentication",
        "https://oauth2-proxy.github.io/oauth2-proxy/configuration/integration",
    ]),
};

plain_rule!(IngressAuthUrlInsecure, META);

const AUTH_URL: &str = "nginx.ingress.kubernetes.io/auth-url";

/// Scheme and host of an absolute URL, or why it is not one.
pub fn scheme_and_host(url: &str) -> Result<(String, String), &'static str> {
    let url = url.trim();
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("it has no scheme (`https://…`)")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err("its scheme is neither http nor https");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split_once(']')
            .map(|(h, _)| h)
            .ok_or("its IPv6 host has no closing `]`")?
    } else {
        match host_port.rsplit_once(':') {
            Some((h, port)) => {
                if !port.is_empty() && !port.chars().all(|c| c.is_ascii_digit()) {
                    return Err("its port is not a number");
                }
                h
            }
            None => host_port,
        }
    };
    if host.is_empty() {
        return Err("it has no host");
    }
    if host.chars().any(|c| c.is_whitespace()) {
        return Err("its host contains spaces");
    }
    Ok((scheme, normalize_host(host)))
}

/// Names that resolve to the cluster's own Services or to the controller itself.
pub fn is_in_cluster(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1")
        || [".svc", ".svc.cluster.local", ".cluster.local"]
            .iter()
            .any(|s| host.ends_with(s))
}

impl Check for IngressAuthUrlInsecure {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        if obj.ingress().is_none() {
            return;
        }
        let Some(url) = obj.annotation(AUTH_URL) else {
            return;
        };
        if url.trim().is_empty() {
            return;
        }
        let name = obj.display_name();
        match scheme_and_host(url) {
            Err(why) => out.push(Hit::new(
                annotation_pointer(AUTH_URL),
                format!(
                    "{name} has `{AUTH_URL}: {url}`, which is not a usable URL: {why}. NGINX cannot ask it \
                     who the user is, so authentication fails or is skipped. Write a full `https://` URL (or an \
                     `http://` URL to an in-cluster `*.svc.cluster.local` Service)."
                ),
            )),
            Ok((scheme, host)) if scheme == "http" && !is_in_cluster(&host) => out.push(Hit::new(
                annotation_pointer(AUTH_URL),
                format!(
                    "{name} sends its authentication subrequests to `{url}` over plain HTTP to `{host}`, \
                     outside the cluster: every request's cookies and tokens travel in clear, and anyone on the \
                     path can answer \"allowed\". Use `https://`, or point it at the auth Service inside the \
                     cluster (`http://<service>.<namespace>.svc.cluster.local/…`)."
                ),
            )),
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            scheme_and_host("http://user:pw@Auth.Example.com:80/x?y").unwrap(),
            ("http".into(), "auth.example.com".into())
        );
        assert_eq!(scheme_and_host("https://[::1]:443/").unwrap().1, "::1");
        assert!(scheme_and_host("auth.example.com/oauth2").is_err());
        assert!(scheme_and_host("ftp://x").is_err());
        assert!(scheme_and_host("http:///path").is_err());
        assert!(scheme_and_host("http://a:b:c/").is_err());
        assert!(is_in_cluster("oauth2-proxy.auth.svc.cluster.local"));
        assert!(is_in_cluster("oauth2-proxy.auth.svc"));
        assert!(!is_in_cluster("svc.example.com"));
    }
}
