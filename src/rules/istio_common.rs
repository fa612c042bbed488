//! Istio semantics several rules share: server protocols and TLS modes, the
//! hosts a Gateway serves, which security policies reach its workload, and
//! when those policies demand an authenticated caller.

use crate::crds::{
    AuthzRule, HttpRoute, IstioGateway, IstioServer, IstioServerTls, Labels, WorkloadSelector,
};
use crate::object::Object;
use crate::review::Context;

/// The mesh's root namespace as Istio installs it: policies there without a
/// selector apply to every workload of the mesh.
pub const ROOT_NAMESPACE: &str = "istio-system";

/// How a server's protocol carries traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carriage {
    /// HTTP, HTTP2, gRPC, TCP, Mongo…: plaintext unless the server says otherwise.
    Plain,
    /// HTTPS or TLS: encrypted, by the gateway or (passthrough) by the backend.
    Tls,
    /// A protocol name Istio does not define: not judged.
    Unknown,
}

/// Istio reads protocol names without regard to case.
pub fn protocol(server: &IstioServer) -> Option<String> {
    let p = server.port.as_ref()?.protocol.as_deref()?.trim();
    (!p.is_empty()).then(|| p.to_ascii_uppercase())
}

pub fn carriage(protocol: &str) -> Carriage {
    match protocol {
        "HTTP" | "HTTP2" | "GRPC" | "GRPC-WEB" | "TCP" | "MONGO" | "MYSQL" | "REDIS" => {
            Carriage::Plain
        }
        "HTTPS" | "TLS" => Carriage::Tls,
        _ => Carriage::Unknown,
    }
}

/// Protocols whose requests an AuthorizationPolicy can read at the gateway.
pub fn is_http_family(protocol: &str) -> bool {
    matches!(protocol, "HTTP" | "HTTPS" | "HTTP2" | "GRPC" | "GRPC-WEB")
}

/// The server's TLS mode; unset is PASSTHROUGH, the API's zero value.
pub fn tls_mode(tls: &IstioServerTls) -> String {
    tls.mode
        .as_deref()
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "PASSTHROUGH".to_string())
}

/// Modes in which the gateway itself terminates TLS with a certificate of
/// its own (ISTIO_MUTUAL uses the mesh's certificates instead).
pub fn terminates_with_own_certificate(mode: &str) -> bool {
    matches!(mode, "SIMPLE" | "MUTUAL" | "OPTIONAL_MUTUAL")
}

pub fn is_passthrough(mode: &str) -> bool {
    matches!(mode, "PASSTHROUGH" | "AUTO_PASSTHROUGH")
}

fn non_empty(s: Option<&String>) -> bool {
    s.is_some_and(|s| !s.trim().is_empty())
}

/// A certificate for the gateway to present: a Secret (credentialName or
/// credentialNames) or files mounted into the gateway.
pub fn has_credential(tls: &IstioServerTls) -> bool {
    non_empty(tls.credential_name.as_ref())
        || tls
            .credential_names
            .iter()
            .flatten()
            .any(|c| !c.trim().is_empty())
        || (non_empty(tls.server_certificate.as_ref()) && non_empty(tls.private_key.as_ref()))
        || tls.tls_certificates.as_ref().is_some_and(|c| !c.is_empty())
}

/// The Secrets holding the server's certificate.
pub fn credential_names(tls: &IstioServerTls) -> Vec<&str> {
    tls.credential_name
        .iter()
        .chain(tls.credential_names.iter().flatten())
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect()
}

/// A Gateway host without its `namespace/` prefix (which says where the
/// VirtualServices may live, not what the clients ask for).
pub fn bare_host(host: &str) -> &str {
    host.rsplit_once('/').map_or(host, |(_, h)| h).trim()
}

/// Egress gateways carry the mesh's own outbound traffic: they are no front
/// door. Istio's installs label them `istio: egressgateway`.
pub fn is_egress(gateway: &IstioGateway) -> bool {
    gateway
        .selector
        .iter()
        .flatten()
        .any(|(_, v)| v.to_ascii_lowercase().contains("egress"))
}

/// East-west gateways join meshes: their callers are the other mesh's
/// workloads, authenticated by mesh identity. Istio labels them
/// `istio: eastwestgateway`.
pub fn is_east_west(gateway: &IstioGateway) -> bool {
    gateway
        .selector
        .iter()
        .flatten()
        .any(|(_, v)| v.to_ascii_lowercase().contains("eastwest"))
}

/// Whether two Istio hosts (`*`, `*.suffix` matching any depth, or a name)
/// can name the same request.
fn hosts_overlap(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().to_ascii_lowercase(), b.trim().to_ascii_lowercase());
    let under = |wild: &str, name: &str| {
        wild.strip_prefix('*').is_some_and(|suffix| {
            name.ends_with(suffix)
                || name
                    .strip_prefix('*')
                    .is_some_and(|n| n.ends_with(suffix) || suffix.ends_with(n))
        })
    };
    a == "*" || b == "*" || a == b || under(&a, &b) || under(&b, &a)
}

/// Whether a VirtualService's `gateways` entry names this Gateway: `name`
/// (in the VirtualService's namespace), `namespace/name`, or the old
/// `name.namespace.svc.cluster.local` form.
fn names_gateway(entry: &str, vs_ns: &str, gateway: &Object<'_>) -> bool {
    let entry = entry.trim();
    let gw_ns = gateway.namespace_or_default();
    if let Some((ns, name)) = entry.split_once('/') {
        return ns == gw_ns && name == gateway.name;
    }
    if let Some(rest) = entry.strip_prefix(gateway.name) {
        if let Some(fq) = rest.strip_prefix('.') {
            return fq.split('.').next() == Some(gw_ns);
        }
        return rest.is_empty() && vs_ns == gw_ns;
    }
    false
}

/// An HTTP route that serves nothing worth protecting: a redirect to
/// https, or only ACME HTTP-01 challenges, which must travel over plain
/// HTTP for a CA to reach them.
fn serves_nothing(route: &HttpRoute) -> bool {
    let redirect = route
        .redirect
        .as_ref()
        .and_then(|r| r.scheme.as_deref())
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("https"));
    let matches: Vec<_> = route.matches.iter().flatten().collect();
    let acme = !matches.is_empty()
        && matches.iter().all(|m| {
            m.uri.as_ref().is_some_and(|u| {
                u.prefix
                    .as_deref()
                    .or(u.exact.as_deref())
                    .is_some_and(|p| p.starts_with("/.well-known/acme-challenge/"))
            })
        });
    redirect || acme
}

/// A plaintext HTTP server whose VirtualServices in the bundle (at least
/// one attaches to it) only redirect to https or answer ACME challenges.
pub fn http_server_serves_nothing(
    gateway: &Object<'_>,
    server: &IstioServer,
    cx: &Context<'_>,
) -> bool {
    let hosts: Vec<&str> = server
        .hosts
        .iter()
        .flatten()
        .map(|h| bare_host(h))
        .collect();
    let mut attached = 0;
    for o in cx.others(gateway) {
        let Some(vs) = o.virtual_service() else {
            continue;
        };
        let vs_ns = o.namespace_or_default();
        let to_gateway = vs
            .gateways
            .iter()
            .flatten()
            .any(|g| names_gateway(g, vs_ns, gateway));
        let same_hosts = vs
            .hosts
            .iter()
            .flatten()
            .any(|h| hosts.iter().any(|s| hosts_overlap(h, s)));
        if !(to_gateway && same_hosts) {
            continue;
        }
        attached += 1;
        let routes: Vec<&HttpRoute> = vs.http.iter().flatten().collect();
        if routes.is_empty() || !routes.iter().all(|r| serves_nothing(r)) {
            return false;
        }
    }
    attached > 0
}

/// Whether `want` ⊆ `have`.
fn subset(want: &Labels, have: &Labels) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

/// Pod labels of the workloads in the bundle that the Gateway selects, with
/// their namespaces: where the gateway's proxies run.
fn gateway_workloads<'a>(selector: &Labels, cx: &'a Context<'_>) -> Vec<(&'a str, Labels)> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for o in cx.all() {
        let Some((_, spec_path)) = o.pod_spec() else {
            continue;
        };
        let labels_path = format!(
            "{}metadata/labels",
            spec_path.strip_suffix("spec").unwrap_or(spec_path)
        );
        let Some(map) = o.raw.pointer(&labels_path).and_then(|l| l.as_object()) else {
            continue;
        };
        let labels: Labels = map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
        if subset(selector, &labels) {
            out.push((o.namespace_or_default(), labels));
        }
    }
    out
}

/// Whether a security policy in `policy`'s namespace with `selector` reaches
/// the proxies of `gateway`. The proxies' namespace is not in the Gateway
/// object, so it counts as reached when the policy sits in the mesh root,
/// in the Gateway's namespace, or beside a selected workload of the bundle,
/// and its selector is empty or asks only for labels the gateway's pods carry.
fn reaches(
    policy: &Object<'_>,
    selector: Option<&WorkloadSelector>,
    gateway: &Object<'_>,
    gw_selector: &Labels,
    workloads: &[(&str, Labels)],
) -> bool {
    let ns = policy.namespace_or_default();
    let wanted = selector.and_then(|s| s.match_labels.as_ref());
    let wanted = wanted.filter(|w| !w.is_empty());
    if (ns == ROOT_NAMESPACE || ns == gateway.namespace_or_default())
        && wanted.is_none_or(|w| subset(w, gw_selector))
    {
        return true;
    }
    workloads
        .iter()
        .any(|(wns, labels)| *wns == ns && wanted.is_none_or(|w| subset(w, labels)))
}

/// An AuthorizationPolicy host pattern (exact, `*suffix`, `prefix*` or `*`)
/// against every request a Gateway host (concrete or `*.domain`) can receive.
fn pattern_covers(pattern: &str, host: &str) -> bool {
    let p = pattern.trim().to_ascii_lowercase();
    let h = host.trim().to_ascii_lowercase();
    if p == "*" {
        return true;
    }
    if h == "*" || h.is_empty() {
        return false;
    }
    if let Some(suffix) = p.strip_prefix('*') {
        // a wildcard host stands for everything ending in its suffix
        let tail = h.strip_prefix('*').unwrap_or(&h);
        return tail.ends_with(suffix);
    }
    if h.starts_with('*') {
        return false;
    }
    match p.strip_suffix('*') {
        Some(prefix) => h.starts_with(prefix),
        None => p == h,
    }
}

/// Whether some request to `host` may match `pattern`.
fn pattern_may_match(pattern: &str, host: &str) -> bool {
    let p = pattern.trim().to_ascii_lowercase();
    let h = host.trim().to_ascii_lowercase();
    if pattern_covers(&p, &h) || h == "*" || h.is_empty() {
        return true;
    }
    match h.strip_prefix('*') {
        // `*.shop.com` may receive any name a pattern names under it
        Some(suffix) => p.contains('*') || p.ends_with(suffix),
        None => false,
    }
}

/// Every request to `host` matches one of the rule's operations (paths and
/// methods aside).
fn rule_covers_host(rule: &AuthzRule, host: &str) -> bool {
    let ops: Vec<_> = rule.to.iter().flatten().collect();
    if ops.is_empty() {
        return true;
    }
    ops.iter().any(|to| match &to.operation {
        None => true,
        Some(op) => {
            let excluded = op
                .not_hosts
                .iter()
                .flatten()
                .any(|p| pattern_may_match(p, host));
            let hosts: Vec<&String> = op.hosts.iter().flatten().collect();
            !excluded && (hosts.is_empty() || hosts.iter().any(|p| pattern_covers(p, host)))
        }
    })
}

/// Some request to `host` may match the rule's operations.
fn rule_may_match_host(rule: &AuthzRule, host: &str) -> bool {
    let ops: Vec<_> = rule.to.iter().flatten().collect();
    if ops.is_empty() {
        return true;
    }
    ops.iter().any(|to| match &to.operation {
        None => true,
        Some(op) => {
            let hosts: Vec<&String> = op.hosts.iter().flatten().collect();
            let excluded = op
                .not_hosts
                .iter()
                .flatten()
                .any(|p| pattern_covers(p, host));
            !excluded && (hosts.is_empty() || hosts.iter().any(|p| pattern_may_match(p, host)))
        }
    })
}

/// The rule opens only some paths (a health check, a login page): left to
/// the application, as a path-level public endpoint is.
fn path_limited(rule: &AuthzRule) -> bool {
    let ops: Vec<_> = rule.to.iter().flatten().collect();
    !ops.is_empty()
        && ops.iter().all(|to| {
            to.operation.as_ref().is_some_and(|op| {
                let paths: Vec<&String> = op.paths.iter().flatten().collect();
                !paths.is_empty() && paths.iter().all(|p| !matches!(p.trim(), "*" | "/*" | ""))
            })
        })
}

/// The rule admits only callers with an identity: a JWT principal (when a
/// RequestAuthentication validates tokens) or a peer certificate principal.
fn requires_principal(rule: &AuthzRule, jwt: bool) -> bool {
    let from: Vec<_> = rule.from.iter().flatten().collect();
    let by_source = !from.is_empty()
        && from.iter().all(|f| {
            f.source.as_ref().is_some_and(|s| {
                let any =
                    |l: &Option<Vec<String>>| l.iter().flatten().any(|p| !p.trim().is_empty());
                any(&s.principals) || (jwt && any(&s.request_principals))
            })
        });
    let by_claim = jwt
        && rule.when.iter().flatten().any(|c| {
            c.key
                .as_deref()
                .is_some_and(|k| k.starts_with("request.auth."))
        });
    by_source || by_claim
}

/// The rule denies every request without a JWT principal.
fn denies_anonymous(rule: &AuthzRule) -> bool {
    rule.from.iter().flatten().any(|f| {
        f.source.as_ref().is_some_and(|s| {
            s.not_request_principals
                .iter()
                .flatten()
                .any(|p| p.trim() == "*")
        })
    })
}

/// What the security policies of the bundle demand of callers of one
/// Gateway's proxies.
pub struct GatewayAuth<'c> {
    jwt: bool,
    allow: Vec<&'c AuthzRule>,
    has_allow: bool,
    deny: Vec<&'c AuthzRule>,
    custom: Vec<&'c AuthzRule>,
}

impl<'c> GatewayAuth<'c> {
    pub fn of(
        gateway: &'c Object<'_>,
        spec: &IstioGateway,
        cx: &'c Context<'_>,
    ) -> GatewayAuth<'c> {
        let empty = Labels::new();
        let gw_selector = spec.selector.as_ref().unwrap_or(&empty);
        let workloads = gateway_workloads(gw_selector, cx);
        let mut auth = GatewayAuth {
            jwt: false,
            allow: Vec::new(),
            has_allow: false,
            deny: Vec::new(),
            custom: Vec::new(),
        };
        for o in cx.others(gateway) {
            if let Some(ra) = o.request_authentication() {
                if reaches(o, ra.selector.as_ref(), gateway, gw_selector, &workloads)
                    && ra.jwt_rules.as_ref().is_some_and(|r| !r.is_empty())
                {
                    auth.jwt = true;
                }
            }
            let Some(ap) = o.authorization_policy() else {
                continue;
            };
            if !reaches(o, ap.selector.as_ref(), gateway, gw_selector, &workloads) {
                continue;
            }
            let rules = ap.rules.iter().flatten();
            let action = ap.action.as_deref().map(|a| a.trim().to_ascii_uppercase());
            match action.as_deref().unwrap_or("ALLOW") {
                "ALLOW" => {
                    auth.has_allow = true;
                    auth.allow.extend(rules);
                }
                "DENY" => auth.deny.extend(rules),
                "CUSTOM" => {
                    let provider = ap.provider.as_ref().and_then(|p| p.name.as_deref());
                    if provider.is_some_and(|p| !p.trim().is_empty()) {
                        auth.custom.extend(rules);
                    }
                }
                _ => {}
            }
        }
        auth
    }

    /// Whether every request for `host` ("" or `*`: any host) meets an
    /// authentication check before it reaches a backend.
    pub fn covers(&self, host: &str) -> bool {
        let host = if host.is_empty() { "*" } else { host };
        if self.custom.iter().any(|r| rule_covers_host(r, host)) {
            return true;
        }
        if self.jwt
            && self
                .deny
                .iter()
                .any(|r| denies_anonymous(r) && rule_covers_host(r, host))
        {
            return true;
        }
        // ALLOW policies deny whatever none of their rules admits: the host is
        // covered when every rule that may admit its requests asks for an identity
        self.has_allow
            && self.allow.iter().all(|r| {
                !rule_may_match_host(r, host) || path_limited(r) || requires_principal(r, self.jwt)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_host_patterns() {
        assert!(pattern_covers("*", "*"));
        assert!(pattern_covers("*.shop.com", "a.shop.com"));
        assert!(pattern_covers("*.shop.com", "*.shop.com"));
        assert!(pattern_covers("*shop.com", "*.shop.com"));
        assert!(!pattern_covers("a.shop.com", "*.shop.com"));
        assert!(pattern_covers("API.shop.com", "api.shop.com"));
        assert!(pattern_covers("api.*", "api.shop.com"));
        assert!(!pattern_covers("b.shop.com", "a.shop.com"));
        assert!(pattern_may_match("a.shop.com", "*.shop.com"));
        assert!(!pattern_may_match("a.other.com", "*.shop.com"));
        assert!(pattern_may_match("x", "*"));
    }

    #[test]
    fn istio_hosts_overlap_at_any_depth() {
        assert!(hosts_overlap("*", "a.com"));
        assert!(hosts_overlap("*.shop.com", "a.b.shop.com"));
        assert!(hosts_overlap("a.shop.com", "*.shop.com"));
        assert!(hosts_overlap("*.shop.com", "*.eu.shop.com"));
        assert!(!hosts_overlap("a.shop.com", "b.shop.com"));
        assert!(!hosts_overlap("*.shop.com", "shop.org"));
    }

    #[test]
    fn hosts_lose_their_namespace() {
        assert_eq!(bare_host("shop/web.example.com"), "web.example.com");
        assert_eq!(bare_host("./web.example.com"), "web.example.com");
        assert_eq!(bare_host("*"), "*");
    }
}
