//! Ingress semantics several rules share: host and wildcard matching, TLS
//! coverage, path overlap, ingress classes and annotation patches.

use crate::glob::Glob;
use crate::object::{escape_pointer, Object};
use k8s_openapi::api::networking::v1::{IngressSpec, IngressTLS};
use serde_json::{json, Value};

/// The `kinds` every Ingress rule declares.
pub const INGRESS_KINDS: &[&str] = &["networking.k8s.io/Ingress", "extensions/Ingress"];

/// Prefix of the community NGINX controller's annotations.
pub const NGINX: &str = "nginx.ingress.kubernetes.io/";

/// Hostnames compare without case and without a trailing root dot.
pub fn normalize_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `pattern` (a rule or TLS host, possibly `*.example.com`) matches the
/// concrete or wildcard `host`. A leading `*` stands for exactly one DNS label,
/// as in Kubernetes and X.509: `*.example.com` matches `a.example.com`, neither
/// `example.com` nor `a.b.example.com`. A wildcard matches only the identical
/// wildcard.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    // compared in place, without normalize_host's allocation: ingress-host-conflict
    // runs this for every pair of Ingresses in a bundle

    let pattern = pattern.trim().trim_end_matches('.');
    let host = host.trim().trim_end_matches('.');
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    match pattern.strip_prefix("*.") {
        Some(suffix) if !host.starts_with('*') => match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest.eq_ignore_ascii_case(suffix),
            None => false,
        },
        _ => false,
    }
}

/// Whether two rule hosts can receive the same request: equal, or one is a
/// wildcard that matches the other.
pub fn hosts_overlap(a: &str, b: &str) -> bool {
    host_matches(a, b) || host_matches(b, a)
}

/// A TLS entry's hosts, `None` when it lists none (it then covers every host
/// of the Ingress: the controller's wildcard, per the Ingress API).
pub fn tls_hosts(tls: &IngressTLS) -> Option<&[String]> {
    tls.hosts
        .as_deref()
        .filter(|h| h.iter().any(|h| !h.trim().is_empty()))
}

/// Whether some TLS entry covers `host`; `None` stands for a host-less rule or
/// the default backend, which only a TLS entry without hosts covers.
pub fn tls_covers(spec: &IngressSpec, host: Option<&str>) -> bool {
    spec.tls
        .iter()
        .flatten()
        .any(|tls| match (tls_hosts(tls), host) {
            (None, _) => true,
            (Some(hosts), Some(h)) => hosts.iter().any(|t| host_matches(t, h)),
            (Some(_), None) => false,
        })
}

/// The TLS coverage of one Ingress, indexed once so that checking each of
/// thousands of rule hosts against thousands of TLS hosts stays n log n (an
/// Ingress of a few MiB can carry tens of thousands of each). Answers exactly
/// as [`tls_covers`] does.
pub struct TlsCoverage {
    /// Some TLS entry lists no hosts: it covers everything.
    all: bool,
    /// Every listed TLS host, normalised (wildcards included: `*.a.com`
    /// matches the identical wildcard).
    exact: std::collections::BTreeSet<String>,
    /// The suffixes of the `*.` wildcards, normalised.
    wildcard: std::collections::BTreeSet<String>,
}

impl TlsCoverage {
    pub fn new(spec: &IngressSpec) -> TlsCoverage {
        let mut cover = TlsCoverage {
            all: false,
            exact: Default::default(),
            wildcard: Default::default(),
        };
        for tls in spec.tls.iter().flatten() {
            let Some(hosts) = tls_hosts(tls) else {
                cover.all = true;
                continue;
            };
            for h in hosts {
                cover.add(h);
            }
        }
        cover
    }

    /// The coverage of a list of host patterns, as [`host_matches`] reads
    /// each; `*` covers every host.
    pub fn of_patterns<'h>(patterns: impl IntoIterator<Item = &'h str>) -> TlsCoverage {
        let mut cover = TlsCoverage {
            all: false,
            exact: Default::default(),
            wildcard: Default::default(),
        };
        for p in patterns {
            if p.trim() == "*" {
                cover.all = true;
            } else {
                cover.add(p);
            }
        }
        cover
    }

    fn add(&mut self, host: &str) {
        let h = normalize_host(host);
        if h.is_empty() {
            return;
        }
        if let Some(suffix) = h.strip_prefix("*.") {
            self.wildcard.insert(suffix.to_string());
        }
        self.exact.insert(h);
    }

    /// Whether some TLS entry covers `host`; `None` stands for a host-less
    /// rule or the default backend.
    pub fn covers(&self, host: Option<&str>) -> bool {
        if self.all {
            return true;
        }
        let Some(host) = host else { return false };
        let host = normalize_host(host);
        if host.is_empty() {
            return false;
        }
        if self.exact.contains(&host) {
            return true;
        }
        if host.starts_with('*') {
            return false;
        }
        match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && self.wildcard.contains(rest),
            None => false,
        }
    }
}

/// The rule's host when it names one (empty counts as none).
pub fn rule_host(host: Option<&String>) -> Option<&str> {
    host.map(|h| h.trim()).filter(|h| !h.is_empty())
}

/// JSON Pointer of rule `i`'s host, or of the rule when it has none.
pub fn rule_host_pointer(i: usize, has_host_field: bool) -> String {
    if has_host_field {
        format!("/spec/rules/{i}/host")
    } else {
        format!("/spec/rules/{i}")
    }
}

/// The ingress class: `spec.ingressClassName`, else the older annotation.
pub fn ingress_class<'a>(obj: &'a Object<'_>, spec: &'a IngressSpec) -> Option<&'a str> {
    spec.ingress_class_name
        .as_deref()
        .or_else(|| obj.annotation("kubernetes.io/ingress.class"))
        .map(str::trim)
        .filter(|c| !c.is_empty())
}

/// JSON Pointer of an annotation.
pub fn annotation_pointer(key: &str) -> String {
    format!("/metadata/annotations/{}", escape_pointer(key))
}

/// The patch that sets one annotation, creating the map (or metadata) if needed.
pub fn set_annotation_patch(obj: &Object<'_>, key: &str, value: &str) -> Vec<Value> {
    let meta = obj.raw.get("metadata").filter(|m| m.is_object());
    let has_map = meta
        .and_then(|m| m.get("annotations"))
        .is_some_and(Value::is_object);
    let op = if has_map {
        json!({"op": "add", "path": annotation_pointer(key), "value": value})
    } else if meta.is_some() {
        json!({"op": "add", "path": "/metadata/annotations", "value": {key: value}})
    } else {
        json!({"op": "add", "path": "/metadata", "value": {"annotations": {key: value}}})
    };
    vec![op]
}

/// The patch that removes one annotation.
pub fn remove_annotation_patch(key: &str) -> Vec<Value> {
    vec![json!({"op": "remove", "path": annotation_pointer(key)})]
}

/// Controllers that terminate TLS from their own annotations, without a
/// `spec.tls` entry: the certificate is named there (a cloud certificate, a
/// Traefik resolver) or the connection passes through to the backend. The
/// key, and whether it is a Go boolean (true to turn TLS on) or a name.
const TLS_ANNOTATIONS: &[(&str, bool)] = &[
    ("networking.gke.io/managed-certificates", false),
    ("ingress.gcp.kubernetes.io/pre-shared-cert", false),
    ("alb.ingress.kubernetes.io/certificate-arn", false),
    ("traefik.ingress.kubernetes.io/router.tls", true),
    (
        "traefik.ingress.kubernetes.io/router.tls.certresolver",
        false,
    ),
    ("nginx.ingress.kubernetes.io/ssl-passthrough", true),
];

/// The annotation through which the Ingress's controller serves TLS
/// without a `spec.tls` entry, if it carries one.
pub fn tls_by_annotation(obj: &Object<'_>) -> Option<&'static str> {
    TLS_ANNOTATIONS.iter().find_map(|(key, boolean)| {
        let value = obj.annotation(key)?;
        let on = if *boolean {
            crate::rules::go_parse_bool(value) == Some(true)
        } else {
            !value.trim().is_empty()
        };
        on.then_some(*key)
    })
}

/// Whether an annotation value reads as false (`"false"`, any case).
pub fn is_false(v: Option<&str>) -> bool {
    v.is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
}

/// Whether an annotation value reads as true.
pub fn is_true(v: Option<&str>) -> bool {
    v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// A settings glob over hostnames (`publicHosts`), compiled once: the one
/// glob of settings, over names compared without case or trailing dot.
pub fn host_glob(pattern: &str) -> Glob {
    Glob::new(&normalize_host(pattern))
}

/// Whether a host glob matches a host: `*` matches any run of characters,
/// dots included.
pub fn host_glob_matches(glob: &Glob, host: &str) -> bool {
    glob.matches(&normalize_host(host))
}

/// One routed path of a rule, as Kubernetes matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePath {
    pub path: String,
    /// `Exact`; `Prefix` and `ImplementationSpecific` both match as prefixes
    /// (which is what the common controllers do with the latter).
    pub exact: bool,
}

impl RoutePath {
    pub fn new(path: Option<&str>, path_type: &str) -> RoutePath {
        let path = path.map(str::trim).filter(|p| !p.is_empty()).unwrap_or("/");
        RoutePath {
            path: path.to_string(),
            exact: path_type == "Exact",
        }
    }

    /// Path elements: a prefix matches whole elements, and `/foo/` is `/foo`.
    fn elements(&self) -> impl Iterator<Item = &str> {
        self.path.split('/').filter(|s| !s.is_empty())
    }

    /// Whether both claim the very same route, so that the controller has
    /// to pick one of them: Kubernetes resolves every other overlap by itself
    /// (the longest matching path wins, and Exact wins over a prefix of the
    /// same path), so a split such as `/` and `/oauth2` is routing, not a
    /// conflict.
    pub fn same_route(&self, other: &RoutePath) -> bool {
        match (self.exact, other.exact) {
            (true, true) => self.path == other.path,
            (false, false) => self.elements().eq(other.elements()),
            _ => false,
        }
    }

    /// A key equal for two paths exactly when [`RoutePath::same_route`]
    /// holds, to group routes instead of comparing every pair.
    pub fn route_key(&self) -> String {
        if self.exact {
            format!("={}", self.path)
        } else {
            let elements: Vec<&str> = self.elements().collect();
            format!("^{}", elements.join("/"))
        }
    }
}

/// For the rules' tests: (object name, path, message) of one rule's findings.
#[cfg(test)]
pub fn findings_of(rule: &str, input: &Value) -> Vec<(String, String, String)> {
    let report = match crate::evaluate(input, crate::Host::default()) {
        Ok(r) => r,
        Err(e) => panic!("evaluation failed: {e}"),
    };
    report
        .findings()
        .filter(|f| f.rule == rule)
        .map(|f| (f.object.name.clone(), f.path.clone(), f.message.clone()))
        .collect()
}

/// For the rules' tests: a v1 Ingress with one rule per host (`None`: host-less).
#[cfg(test)]
pub fn test_ingress(ns: &str, name: &str, hosts: &[Option<&str>]) -> Value {
    let rules: Vec<Value> = hosts
        .iter()
        .map(|h| {
            let mut r = json!({"http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}});
            if let (Some(h), Some(m)) = (h, r.as_object_mut()) {
                m.insert("host".into(), json!(h));
            }
            r
        })
        .collect();
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns}, "spec": {"rules": rules}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_covers_exactly_one_label() {
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(host_matches("*.Example.com", "A.example.com."));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(host_matches("*.example.com", "*.example.com"));
        assert!(!host_matches("a.example.com", "*.example.com"));
        assert!(!host_matches("", ""));
    }

    /// Coverage of a pattern list answers as matching each pattern does,
    /// `*` covering everything.
    #[test]
    fn pattern_coverage_agrees_with_host_matches() {
        let patterns = [
            "a.example.com",
            "*.Example.org.",
            " b.example.com ",
            "*.x.io",
        ];
        let hosts = [
            "a.example.com",
            "A.EXAMPLE.COM.",
            "q.example.org",
            "example.org",
            "p.q.example.org",
            "*.example.org",
            "*.other.org",
            "b.example.com",
            "y.x.io",
            "",
        ];
        let cover = TlsCoverage::of_patterns(patterns);
        for h in hosts {
            let scan = patterns.iter().any(|p| host_matches(p, h));
            assert_eq!(cover.covers(Some(h)), scan, "{h}");
        }
        let star = TlsCoverage::of_patterns(["*", "a.example.com"]);
        assert!(hosts.iter().all(|h| star.covers(Some(h))));
    }

    /// Two paths have the same key exactly when they are the same route.
    #[test]
    fn route_keys_agree_with_same_route() {
        let paths: Vec<RoutePath> = [
            (None, "Prefix"),
            (Some("/"), "ImplementationSpecific"),
            (Some(""), "Exact"),
            (Some("/"), "Exact"),
            (Some("/api"), "Prefix"),
            (Some("/api/"), "Prefix"),
            (Some("//api"), "ImplementationSpecific"),
            (Some("/api"), "Exact"),
            (Some("/api/"), "Exact"),
            (Some("/api/v1"), "Prefix"),
            (Some(" /api "), "Exact"),
        ]
        .iter()
        .map(|(p, t)| RoutePath::new(*p, t))
        .collect();
        for a in &paths {
            for b in &paths {
                assert_eq!(
                    a.same_route(b),
                    a.route_key() == b.route_key(),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    /// The index answers exactly as the pairwise scan does.
    #[test]
    fn tls_coverage_index_agrees_with_the_scan() {
        let names = [
            "a.example.com",
            "A.Example.com.",
            " a.example.com ",
            "example.com",
            "a.b.example.com",
            "*.example.com",
            "*.EXAMPLE.com",
            "*.b.example.com",
            "b.example.com",
            "*",
            "*.",
            ".",
            "",
            "  ",
            "x",
            ".example.com",
            "*.*.example.com",
            "c.*.example.com",
        ];
        let entries: Vec<Vec<&str>> = vec![
            vec![],
            vec!["a.example.com"],
            vec!["*.example.com"],
            vec!["*.Example.COM.", "example.com"],
            vec!["", " "],
            vec!["*.*.example.com", "*", "*."],
            vec!["x", "*.b.example.com"],
        ];
        for hosts in &entries {
            for with_hostless in [false, true] {
                let mut tls = vec![json!({"hosts": hosts, "secretName": "s"})];
                if with_hostless {
                    tls.push(json!({"secretName": "s"}));
                }
                let spec: IngressSpec = match serde_json::from_value(json!({"tls": tls})) {
                    Ok(s) => s,
                    Err(e) => panic!("{e}"),
                };
                let index = TlsCoverage::new(&spec);
                for h in names.iter().map(|h| Some(*h)).chain([None]) {
                    assert_eq!(
                        index.covers(h),
                        tls_covers(&spec, h),
                        "{hosts:?} {with_hostless} {h:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn overlaps_are_symmetric() {
        assert!(hosts_overlap("*.a.com", "x.a.com"));
        assert!(hosts_overlap("x.a.com", "*.a.com"));
        assert!(!hosts_overlap("*.a.com", "*.b.a.com"));
        assert!(!hosts_overlap("x.a.com", "y.a.com"));
    }

    fn glob_match(pattern: &str, text: &str) -> bool {
        host_glob_matches(&host_glob(pattern), text)
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.public.example.com", "a.b.public.example.com"));
        assert!(glob_match("www.example.com", "WWW.example.com"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("*.example.com", "example.com"));
        assert!(glob_match("api-*.example.com", "api-eu.example.com"));
        assert!(!glob_match("api-*.example.com", "web.example.com"));
    }

    #[test]
    fn same_route() {
        let p = |s: &str, t: &str| RoutePath::new(Some(s), t);
        assert!(p("/", "Prefix").same_route(&p("/", "ImplementationSpecific")));
        assert!(p("/foo/", "Prefix").same_route(&p("/foo", "Prefix")));
        assert!(p("/a", "Exact").same_route(&p("/a", "Exact")));
        assert!(RoutePath::new(None, "Prefix").same_route(&p("/", "Prefix")));
        // the longest path and Exact before Prefix decide these
        assert!(!p("/", "Prefix").same_route(&p("/bar", "Prefix")));
        assert!(!p("/a", "Exact").same_route(&p("/a", "Prefix")));
        assert!(!p("/a", "Exact").same_route(&p("/a/", "Exact")));
        assert!(!p("/foo", "Prefix").same_route(&p("/foobar", "Prefix")));
    }
}
