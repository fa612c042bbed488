//! Istio semantics several rules share: server protocols and TLS modes, and
//! the hosts a Gateway serves.

use crate::crds::{HttpRoute, IstioGateway, IstioServer, IstioServerTls};
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

#[cfg(test)]
mod tests {
    use super::*;

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
