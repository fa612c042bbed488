//! Traefik semantics several rules share: the hosts a route matches, the
//! Middleware objects its references name, and the entry points Traefik's
//! own arguments redirect to HTTPS.

use crate::crds::{Middleware, MiddlewareRef, TRAEFIK_GROUPS};
use crate::object::Object;
use crate::review::Context;

/// Chains nest; a loop in them must not hang a review.
const MAX_CHAIN_DEPTH: usize = 4;

/// The names a router rule matches with `Host(…)` (v2 allows several per
/// call; quotes may be backticks or double quotes). Empty when the rule has
/// no literal host (`PathPrefix` alone, `HostRegexp`): any host.
pub fn rule_hosts(rule: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    let lower = rule.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower.get(from..).and_then(|s| s.find("host(")) {
        let start = from + at;
        from = start + "host(".len();
        // `HostSNI(` and `HostRegexp(` never contain `host(`; a letter
        // before it would make it another matcher's name
        let prev = lower
            .get(..start)
            .and_then(|s| s.chars().next_back())
            .unwrap_or(' ');
        if prev.is_ascii_alphanumeric() {
            continue;
        }
        let Some(args) = rule.get(from..).and_then(|s| s.split(')').next()) else {
            continue;
        };
        for part in args.split(',') {
            let name = part.trim().trim_matches(|c| c == '`' || c == '"').trim();
            if !name.is_empty() && !hosts.iter().any(|h| h == name) {
                hosts.push(name.to_string());
            }
        }
    }
    hosts
}

/// The Middleware a route's reference names, from the bundle or inventory.
/// References to other providers (`name@file`) cannot be resolved here.
fn resolve<'c>(
    cx: &'c Context<'_>,
    from: &'c Object<'_>,
    name: &str,
    namespace: &str,
) -> Option<&'c Object<'c>> {
    let (name, provider) = name.split_once('@').unwrap_or((name, "kubernetescrd"));
    if provider != "kubernetescrd" {
        return None;
    }
    cx.others(from).find(|m| {
        m.kind == "Middleware"
            && TRAEFIK_GROUPS.contains(&m.group())
            && m.name == name
            && m.namespace_or_default() == namespace
    })
}

/// Whether a middleware reference (following chains) has a property: `has`
/// judges resolved Middlewares, `named` the name of one that cannot be found.
pub fn reference_is(
    cx: &Context<'_>,
    from: &Object<'_>,
    reference: &MiddlewareRef,
    has: &dyn Fn(&Middleware) -> bool,
    named: &dyn Fn(&str) -> bool,
) -> bool {
    refers(
        cx,
        from,
        reference,
        from.namespace_or_default(),
        has,
        named,
        0,
    )
}

fn refers(
    cx: &Context<'_>,
    from: &Object<'_>,
    reference: &MiddlewareRef,
    default_ns: &str,
    has: &dyn Fn(&Middleware) -> bool,
    named: &dyn Fn(&str) -> bool,
    depth: usize,
) -> bool {
    let Some(name) = reference
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    else {
        return false;
    };
    let ns = reference
        .namespace
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(default_ns);
    let Some(found) = resolve(cx, from, name, ns) else {
        return named(name);
    };
    let Some(mw) = found.middleware() else {
        return false;
    };
    if has(mw) {
        return true;
    }
    depth < MAX_CHAIN_DEPTH
        && mw
            .chain
            .iter()
            .flat_map(|c| c.middlewares.iter().flatten())
            .any(|r| {
                refers(
                    cx,
                    found,
                    r,
                    found.namespace_or_default(),
                    has,
                    named,
                    depth + 1,
                )
            })
}

/// A Middleware that answers every request with a redirect to https.
pub fn redirects_to_https(mw: &Middleware) -> bool {
    let scheme = mw
        .redirect_scheme
        .as_ref()
        .and_then(|r| r.scheme.as_deref());
    let regex = mw
        .redirect_regex
        .as_ref()
        .and_then(|r| r.replacement.as_deref());
    scheme.is_some_and(|s| s.trim().eq_ignore_ascii_case("https"))
        || regex.is_some_and(|r| r.trim().to_ascii_lowercase().starts_with("https://"))
}

/// A Middleware that makes the caller authenticate.
pub fn authenticates(mw: &Middleware) -> bool {
    let forward = mw
        .forward_auth
        .as_ref()
        .and_then(|f| f.address.as_deref())
        .is_some_and(|a| !a.trim().is_empty());
    forward || mw.basic_auth.is_some() || mw.digest_auth.is_some()
}

pub fn name_says_redirect(name: &str) -> bool {
    name.to_ascii_lowercase().contains("redirect")
}

pub fn name_says_auth(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["auth", "sso", "oidc"].iter().any(|w| n.contains(w))
}

/// Entry points that Traefik's own arguments, on a workload of the bundle,
/// redirect as a whole (`--entrypoints.web.http.redirections.entrypoint.to=…`,
/// what the Helm chart renders for `ports.web.redirectTo`): every request
/// there gets a redirect before any router sees it.
pub fn redirected_entry_points(cx: &Context<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for o in cx.all() {
        let Some((spec, _)) = o.pod_spec() else {
            continue;
        };
        for (_, _, c) in spec.all_containers() {
            let argv = c.command.iter().flatten().chain(c.args.iter().flatten());
            for arg in argv {
                let a = arg.trim().to_ascii_lowercase();
                let Some(rest) = a.strip_prefix("--entrypoints.") else {
                    continue;
                };
                if let Some((ep, tail)) = rest.split_once('.') {
                    if tail.starts_with("http.redirections.entrypoint.to")
                        && !out.contains(&ep.to_string())
                    {
                        out.push(ep.to_string());
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_router_rules() {
        assert_eq!(
            rule_hosts("Host(`a.com`) && PathPrefix(`/x`)"),
            vec!["a.com"]
        );
        assert_eq!(
            rule_hosts("Host(`a.com`, `b.com`) || host(\"c.com\")"),
            vec!["a.com", "b.com", "c.com"]
        );
        assert!(rule_hosts("HostRegexp(`{sub:[a-z]+}.a.com`)").is_empty());
        assert!(rule_hosts("HostSNI(`*`)").is_empty());
        assert!(rule_hosts("PathPrefix(`/`)").is_empty());
        assert!(rule_hosts("Host(").is_empty());
    }
}
