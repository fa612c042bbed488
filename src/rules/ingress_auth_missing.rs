use crate::crds::{MiddlewareRef, TraefikRoute};
use crate::error::Error;
use crate::glob::Glob;
use crate::object::Object;
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::rules::ingress_common::{
    annotation_pointer, host_glob, host_glob_matches, rule_host, NGINX,
};
use crate::rules::istio_common::{
    bare_host, carriage, http_server_serves_nothing, is_east_west, is_egress, is_http_family,
    is_passthrough, protocol, tls_mode, Carriage, GatewayAuth,
};
use crate::rules::traefik_common::{
    authenticates, name_says_auth, name_says_redirect, redirects_to_https, reference_is, rule_hosts,
};
use crate::{doc_refs, doc_text};
use serde_json::Value;

pub struct IngressAuthMissing;

static META: RuleMeta = RuleMeta {
    id: "ingress-auth-missing",
    title: "Ingress without authentication in front",
    severity: Severity::Medium,
    category: Category::Ingress,
    kinds: &[
        "networking.k8s.io/Ingress",
        "extensions/Ingress",
        "traefik.io/IngressRoute",
        "traefik.containo.us/IngressRoute",
        "networking.istio.io/Gateway",
        "networking.istio.io/VirtualService",
        "traefik.io/Middleware",
        "traefik.containo.us/Middleware",
        "security.istio.io/AuthorizationPolicy",
        "security.istio.io/RequestAuthentication",
    ],
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[ParamDoc {
        name: "publicHosts",
        kind: "string list",
        default: "[]",
        help: "globs of hosts meant to be public (`*` matches any characters, dots included): an entry \
               point whose every host matches one is not reported",
    }],
    what: doc_text!("Entry points (Ingresses, Traefik IngressRoutes, Istio Gateways) with no authentication in \
           front. For Ingresses, recognised: NGINX external auth \
           (`nginx.ingress.kubernetes.io/auth-url`, the oauth2-proxy pattern; `auth-signin` alone only \
           says where to send users after a 401 from `auth-url`, so it does not count by itself), NGINX basic or \
           digest auth (`auth-type` with `auth-secret`), NGINX client certificates (`auth-tls-secret` with \
           `auth-tls-verify-client` unset or `on`; `optional` and `off` let anyone in), and Traefik \
           middlewares (`traefik.ingress.kubernetes.io/router.middlewares`). A Traefik reference \
           (`<namespace>-<name>@kubernetescrd`) is resolved against the `Middleware` objects of the bundle \
           and inventory (`traefik.io` or `traefik.containo.us`): it counts when that Middleware has \
           `forwardAuth`, `basicAuth` or `digestAuth`. A reference that cannot be resolved counts when its \
           name says auth (contains `auth`, `sso` or `oidc`, as in `auth-chain`, `oauth2-proxy`, \
           `authelia`). The same holds for the routes of a Traefik `IngressRoute`: a route counts as authenticated \
           when one of its `middlewares` (directly or inside a `chain`) has `forwardAuth`, `basicAuth` or \
           `digestAuth`, and a route that only redirects to https, or has no services (a parent layer of \
           Traefik's multi-layer routing), serves nothing to protect; a child IngressRoute (`parentRefs`) is \
           covered when every route of its parents is. An Istio ingress \
           `Gateway` (egress and east-west gateways aside: their callers are the mesh's own workloads) is \
           judged per host of its HTTP, HTTPS, HTTP2 and gRPC servers (not those that redirect, whose \
           VirtualServices only redirect or answer ACME challenges, that pass TLS through, or that demand client \
           certificates with `tls.mode: MUTUAL`): a host counts as authenticated when an `AuthorizationPolicy` reaching the gateway's \
           proxies sends its requests to an external authorizer (`action: CUSTOM` with a `provider`), or \
           when a `RequestAuthentication` with `jwtRules` reaches them and an AuthorizationPolicy denies \
           requests without `requestPrincipals` (`notRequestPrincipals: [\"*\"]`) or admits only requests \
           with a principal (every ALLOW rule that may match the host asks for `requestPrincipals`, \
           `principals` or a `request.auth.` condition; rules limited to some paths are left to the \
           application). A policy reaches the proxies when it sits in `istio-system` or the Gateway's \
           namespace, or beside a workload of the bundle the Gateway selects, and its selector asks only \
           for labels the gateway's pods carry. Deliberate public endpoints are not reported: hosts matching `publicHosts`, and \
           objects annotated `portcullis.dev/public: \"<reason>\"`. The annotation with an empty reason is \
           reported, since a reason is what makes it deliberate."),
    why: doc_text!("An Ingress publishes its Services to whoever can reach the controller. Applications that assume \
          they sit behind a login, or admin and metrics endpoints that never had one, are then open to the \
          internet. Authenticating at the edge (OAuth2/OIDC through oauth2-proxy, client certificates) \
          puts one enforced gate in front of every backend."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: grafana\n  namespace: monitoring\nspec:\n  ingressClassName: nginx\n  tls:\n    - hosts: [grafana.example.com]\n      secretName: grafana-tls\n  rules:\n    - host: grafana.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: grafana, port: {number: 3000}}}}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: grafana\n  namespace: monitoring\n  annotations:\n    nginx.ingress.kubernetes.io/auth-url: \"http://oauth2-proxy.auth.svc.cluster.local/oauth2/auth\"\n    nginx.ingress.kubernetes.io/auth-signin: \"https://auth.example.com/oauth2/start?rd=$escaped_request_uri\"\nspec:\n  ingressClassName: nginx\n  tls:\n    - hosts: [grafana.example.com]\n      secretName: grafana-tls\n  rules:\n    - host: grafana.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: grafana, port: {number: 3000}}}}\n"),
    references: doc_refs!(&[
        "https://kubernetes.github.io/ingress-nginx/examples/auth/oauth-external-auth/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#external-authentication",
        "https://doc.traefik.io/traefik/routing/providers/kubernetes-ingress/#annotations",
        "https://oauth2-proxy.github.io/oauth2-proxy/configuration/integration",
    ]),
};

pub const PUBLIC_ANNOTATION: &str = "portcullis.dev/public";
const TRAEFIK_MIDDLEWARES: &str = "traefik.ingress.kubernetes.io/router.middlewares";

struct Configured {
    public_hosts: Vec<Glob>,
}

impl Rule for IngressAuthMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        let public_hosts = p.strings("publicHosts")?;
        if let Some(i) = public_hosts.iter().position(|h| h.trim().is_empty()) {
            return Err(Error::settings(
                p.key(&format!("publicHosts[{i}]")),
                "an empty glob matches nothing; remove it or write `*` for every host",
            ));
        }
        Ok(Box::new(Configured {
            public_hosts: public_hosts.iter().map(|h| host_glob(h)).collect(),
        }))
    }
}

fn set<'a>(obj: &Object<'a>, suffix: &str) -> Option<&'a str> {
    obj.annotation(&format!("{NGINX}{suffix}"))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The authentication the NGINX annotations put in front, if any.
fn nginx_auth(obj: &Object<'_>) -> Option<&'static str> {
    if set(obj, "auth-url").is_some() {
        return Some("NGINX external auth");
    }
    if set(obj, "auth-type").is_some() && set(obj, "auth-secret").is_some() {
        return Some("NGINX basic/digest auth");
    }
    let verify = set(obj, "auth-tls-verify-client").unwrap_or("on");
    if set(obj, "auth-tls-secret").is_some() && verify.eq_ignore_ascii_case("on") {
        return Some("NGINX client certificates");
    }
    None
}

/// Whether one of the Traefik middlewares the Ingress names authenticates.
fn traefik_auth(obj: &Object<'_>, cx: &Context<'_>) -> bool {
    let Some(list) = obj.annotation(TRAEFIK_MIDDLEWARES) else {
        return false;
    };
    list.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .any(|reference| {
            let (name, provider) = reference
                .split_once('@')
                .unwrap_or((reference, "kubernetescrd"));
            let resolved = if provider == "kubernetescrd" {
                cx.others(obj).find(|m| {
                    m.kind == "Middleware"
                        && matches!(m.group(), "traefik.io" | "traefik.containo.us")
                        && format!("{}-{}", m.namespace_or_default(), m.name) == name
                })
            } else {
                None
            };
            match resolved {
                Some(m) => ["forwardAuth", "basicAuth", "digestAuth"].iter().any(|k| {
                    m.raw
                        .get("spec")
                        .and_then(|s| s.get(k))
                        .is_some_and(|v| !v.is_null())
                }),
                None => name_says_auth(name),
            }
        })
}

/// An entry point's hosts that no authentication covers, and where to say so.
struct Open {
    /// "" stands for a host-less rule or server: any name.
    hosts: Vec<String>,
    path: String,
    message_tail: &'static str,
}

/// The hosts of an Ingress without authentication at the controller.
fn ingress_open(obj: &Object<'_>, cx: &Context<'_>) -> Option<Open> {
    let spec = obj.ingress()?;
    if nginx_auth(obj).is_some() || traefik_auth(obj, cx) {
        return None;
    }
    let mut hosts: Vec<String> = spec
        .rules
        .iter()
        .flatten()
        .map(|r| rule_host(r.host.as_ref()).unwrap_or("").to_string())
        .collect();
    if spec.default_backend.is_some() {
        hosts.push(String::new());
    }
    let path = if obj
        .raw
        .pointer("/metadata/annotations")
        .is_some_and(Value::is_object)
    {
        "/metadata/annotations"
    } else {
        "/metadata"
    };
    Some(Open {
        hosts,
        path: path.to_string(),
        message_tail:
            "Put authentication at the edge (NGINX `auth-url` to an oauth2-proxy, client \
                       certificates, or a Traefik auth middleware)",
    })
}

/// Whether a route passes through a Middleware that authenticates, or only
/// redirects to https (and so serves nothing).
fn route_guarded(cx: &Context<'_>, obj: &Object<'_>, route: &TraefikRoute) -> bool {
    route.middlewares.iter().flatten().any(|m| {
        reference_is(cx, obj, m, &redirects_to_https, &name_says_redirect)
            || reference_is(cx, obj, m, &authenticates, &name_says_auth)
    })
}

/// Whether every route of the parents a child IngressRoute names (Traefik's
/// multi-layer routing) is guarded; parents the bundle does not hold cannot
/// be judged and count as guarded.
fn parents_guarded(cx: &Context<'_>, obj: &Object<'_>, parents: &[MiddlewareRef]) -> bool {
    parents.iter().all(|p| {
        let name = p.name.as_deref().map(str::trim).unwrap_or_default();
        let ns = p
            .namespace
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(obj.namespace_or_default());
        let parent = cx.others(obj).find(|o| {
            o.ingress_route().is_some() && o.name == name && o.namespace_or_default() == ns
        });
        parent
            .and_then(|o| Some((o, o.ingress_route()?)))
            .is_none_or(|(o, route)| {
                route
                    .routes
                    .iter()
                    .flatten()
                    .all(|r| route_guarded(cx, o, r))
            })
    })
}

/// The hosts of a Traefik IngressRoute's routes that pass through no
/// authenticating Middleware (routes that only redirect serve nothing, and
/// routes without services are only a parent layer for child routes).
fn ingress_route_open(obj: &Object<'_>, cx: &Context<'_>) -> Option<Open> {
    let route = obj.ingress_route()?;
    let parents = route.parent_refs.as_deref().unwrap_or_default();
    if !parents.is_empty() && parents_guarded(cx, obj, parents) {
        return None;
    }
    let mut hosts = Vec::new();
    let mut first = None;
    for (i, r) in route.routes.iter().flatten().enumerate() {
        let serves = r.services.as_ref().is_some_and(|s| !s.is_empty());
        if !serves || route_guarded(cx, obj, r) {
            continue;
        }
        first.get_or_insert(i);
        let named = rule_hosts(r.rule.as_deref().unwrap_or_default());
        if named.is_empty() {
            hosts.push(String::new());
        }
        hosts.extend(named);
    }
    Some(Open {
        hosts,
        path: format!("/spec/routes/{}", first?),
        message_tail:
            "Route it through a Traefik Middleware that authenticates (forwardAuth to an \
                       oauth2-proxy or identity provider, basicAuth, digestAuth)",
    })
}

/// The hosts of an Istio ingress Gateway's HTTP servers that no policy of
/// the bundle makes callers authenticate for.
fn istio_gateway_open(obj: &Object<'_>, cx: &Context<'_>) -> Option<Open> {
    let gateway = obj.istio_gateway()?;
    if is_egress(gateway) || is_east_west(gateway) {
        return None;
    }
    let auth = GatewayAuth::of(obj, gateway, cx);
    let mut hosts = Vec::new();
    let mut first = None;
    for (i, server) in gateway.servers.iter().flatten().enumerate() {
        let Some(proto) = protocol(server) else {
            continue;
        };
        if !is_http_family(&proto) {
            continue;
        }
        if carriage(&proto) == Carriage::Plain && http_server_serves_nothing(obj, server, cx) {
            continue;
        }
        if let Some(tls) = &server.tls {
            let mode = tls_mode(tls);
            // a redirect serves nothing; passthrough leaves HTTP to the
            // backend; MUTUAL demands a client certificate
            if tls.https_redirect == Some(true)
                || (proto == "HTTPS" && (is_passthrough(&mode) || mode == "MUTUAL"))
            {
                continue;
            }
        }
        for h in server.hosts.iter().flatten() {
            let host = bare_host(h);
            let host = if host == "*" { "" } else { host };
            if !auth.covers(host) && !hosts.iter().any(|x| x == host) {
                first.get_or_insert(i);
                hosts.push(host.to_string());
            }
        }
    }
    Some(Open {
        hosts,
        path: format!("/spec/servers/{}", first?),
        message_tail: "Make the gateway's proxies authenticate: a RequestAuthentication with an \
                       AuthorizationPolicy that requires requestPrincipals, a CUSTOM AuthorizationPolicy \
                       to an ext_authz provider (oauth2-proxy), or `tls.mode: MUTUAL`",
    })
}

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let known = obj.ingress().is_some()
            || obj.ingress_route().is_some()
            || obj.istio_gateway().is_some();
        if !known {
            return;
        }
        let name = obj.display_name();
        if let Some(reason) = obj.annotation(PUBLIC_ANNOTATION) {
            if !reason.trim().is_empty() {
                return;
            }
            out.push(Hit::new(
                annotation_pointer(PUBLIC_ANNOTATION),
                format!(
                    "{name} is marked `{PUBLIC_ANNOTATION}` with an empty reason, so it is not recognised as a \
                     deliberate public endpoint and has no authentication in front. Write why it is public in \
                     the annotation's value (e.g. \"marketing site, no user data\"), or put authentication in \
                     front."
                ),
            ));
            return;
        }
        let open = ingress_open(obj, cx)
            .or_else(|| ingress_route_open(obj, cx))
            .or_else(|| istio_gateway_open(obj, cx));
        let Some(open) = open else { return };
        let mut private: Vec<&str> = Vec::new();
        // a set beside the list: thousands of hosts must not cost n² to dedupe
        let mut seen = std::collections::BTreeSet::new();
        for h in &open.hosts {
            let h = h.as_str();
            if !self.public_hosts.iter().any(|g| host_glob_matches(g, h)) && seen.insert(h) {
                private.push(h);
            }
        }
        if private.is_empty() {
            return;
        }
        let listed = private
            .iter()
            .map(|h| {
                if h.is_empty() {
                    "any host (no host set)".to_string()
                } else {
                    format!("`{h}`")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let signin_note = if obj.ingress().is_some() && set(obj, "auth-signin").is_some() {
            " It sets `auth-signin`, but without `auth-url` NGINX never asks anyone to sign in."
        } else {
            ""
        };
        let door = if obj.ingress().is_some() {
            "the controller"
        } else if obj.ingress_route().is_some() {
            "Traefik"
        } else {
            "the gateway"
        };
        // the cause is which hosts go without authentication, not the
        // annotations map or server the path points at
        let evidence = format!("no authentication for {listed}");
        out.push(
            Hit::new(
                open.path,
                format!(
                    "{name} publishes {listed} with no authentication in front: anyone who reaches {door} \
                     reaches the backends, whatever login they assume sits before them.{signin_note} {}, or, \
                     if the endpoint is public on purpose, annotate it `{PUBLIC_ANNOTATION}: \"<reason>\"` \
                     or list its hosts in `publicHosts`.",
                    open.message_tail
                ),
            )
            .evidence(evidence),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::ingress_common::{findings_of, test_ingress};
    use serde_json::json;

    #[test]
    fn empty_public_host_glob_is_a_settings_error_naming_the_key() {
        let input = json!({"objects": [test_ingress("a", "b", &[Some("x.example.com")])],
            "settings": {"rules": {"ingress-auth-missing": {"action": "deny", "publicHosts": ["ok.example.com", " "]}}}});
        let e = crate::evaluate(&input, crate::Host::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("rules.ingress-auth-missing.publicHosts[1]"),
            "{e}"
        );
    }

    #[test]
    fn hostless_rule_is_public_only_under_a_catch_all_glob() {
        let ing = test_ingress("a", "b", &[None]);
        let with = |globs: serde_json::Value| {
            findings_of(
                "ingress-auth-missing",
                &json!({"objects": [ing.clone()],
                "settings": {"rules": {"ingress-auth-missing": {"action": "deny", "publicHosts": globs}}}}),
            )
        };
        assert_eq!(with(json!(["*.example.com"])).len(), 1);
        assert!(with(json!(["*"])).is_empty());
    }
}
