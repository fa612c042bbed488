use crate::error::Error;
use crate::object::Object;
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::rules::service_type;
use crate::{doc_refs, doc_text};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub struct ServiceExternalName;

static META: RuleMeta = RuleMeta {
    id: "service-external-name",
    title: "ExternalName Service pointing inside the cluster or the node",
    severity: Severity::High,
    category: Category::Exposure,
    kinds: &["Service"],
    since: "0.1.0",
    scope: Scope::Object,
    params: &[ParamDoc {
        name: "clusterDomain",
        kind: "string",
        default: "cluster.local",
        help: "the cluster's DNS domain: names under it are in-cluster names",
    }],
    what: doc_text!("Services of `type: ExternalName` whose `spec.externalName` is an IP address (IPv4, IPv6, or a \
           numeric form a resolver reads as IPv4, like `127.1` or `2130706433`), `localhost` or a \
           `*.localhost` name, a cloud metadata endpoint or link-local address (`169.254.169.254`, \
           `metadata.google.internal`, `fd00:ec2::254`…), or an in-cluster name: `*.svc`, `*.pod`, \
           `*.svc.<clusterDomain>`, `*.<clusterDomain>`, `*.cluster.local`, or a bare single-label name. \
           Letter case does not matter. A name without a trailing dot is relative: the pods' resolver \
           (`ndots:5`) tries the cluster's search path before the name itself, so a name of two or three \
           labels (`payments.team-b`, `web-0.payments.team-b`) reaches the Service or pod of the namespace \
           its last label names. It is reported unless that last label is a public top-level domain (any \
           two-letter one, or a common generic one such as `com`, `net`, `org`, `io`, `dev`) that is not also \
           the name of a namespace the bundle or inventory holds; `payments.team-b.` with its trailing dot is \
           absolute and external."),
    why: doc_text!("An ExternalName Service is a DNS alias that ingress controllers and service meshes follow and proxy \
          to. Pointed at another namespace's Service it lets anyone who may create Services in one namespace \
          reach, through the shared ingress controller, what NetworkPolicies and namespaces were meant to \
          keep apart (CVE-2021-25740); pointed at localhost, a link-local or metadata address, it turns the \
          proxy into a way into the node itself or the cloud's credentials. External names should name \
          external hosts."),
    denied: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: billing\n  namespace: team-a\nspec:\n  type: ExternalName\n  externalName: payments.team-b.svc.cluster.local\n"),
    allowed: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: billing\n  namespace: team-a\nspec:\n  type: ExternalName\n  externalName: api.payments.example.com\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/services-networking/service/#externalname",
        "https://github.com/kubernetes/kubernetes/issues/103675",
        "https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/",
    ]),
};

struct Configured {
    cluster_domain: String,
}

impl Rule for ServiceExternalName {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        let key = p.key("clusterDomain");
        let cluster_domain = match p.string("clusterDomain")? {
            None => "cluster.local".to_string(),
            Some(d) => {
                let d = d.trim().trim_matches('.').to_ascii_lowercase();
                if d.is_empty() || d.contains(char::is_whitespace) {
                    return Err(Error::settings(
                        key,
                        "expected a DNS domain such as cluster.local",
                    ));
                }
                d
            }
        };
        Ok(Box::new(Configured { cluster_domain }))
    }
}

/// Top-level domains a relative name of two or three labels may end in and
/// still be taken for an external host: the generic ones seen on services
/// (every two-letter label counts as a country code). Any other last label
/// may be a namespace, which the search path reaches first.
const PUBLIC_TLDS: &[&str] = &[
    "academy", "aero", "agency", "app", "arpa", "asia", "biz", "blog", "cat", "cloud", "club",
    "com", "coop", "design", "dev", "digital", "edu", "email", "gov", "host", "info", "int",
    "jobs", "link", "live", "media", "mil", "mobi", "museum", "name", "net", "network", "news",
    "online", "org", "page", "post", "pro", "run", "shop", "site", "software", "space", "store",
    "systems", "tech", "tel", "travel", "website", "works", "world", "xyz",
];

/// Addresses the clouds serve instance metadata and credentials on, beyond link-local ones.
const METADATA_IPS: &[IpAddr] = &[
    // AWS over IPv6 (a unique local address, not link-local)
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    // Alibaba Cloud
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
];

const METADATA_NAMES: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

impl Configured {
    /// Why `external` must not be an ExternalName target, if it must not.
    /// `known_namespace` says whether the review holds a namespace of a name.
    fn problem(&self, external: &str, known_namespace: &dyn Fn(&str) -> bool) -> Option<String> {
        let name = external.trim().to_ascii_lowercase();
        let absolute = name.ends_with('.');
        let name = name.strip_suffix('.').unwrap_or(&name);
        if let Some(ip) = ip_literal(name) {
            return Some(ip_problem(ip));
        }
        if name == "localhost" || name.ends_with(".localhost") {
            return Some(
                "a localhost name: it resolves to the loopback address of whatever follows the alias, \
                 typically the ingress controller's own admin and status ports"
                    .into(),
            );
        }
        if METADATA_NAMES.contains(&name) {
            return Some(
                "a cloud metadata endpoint: proxied through the alias, it hands out the node's cloud \
                 credentials"
                    .into(),
            );
        }
        let domain = self.cluster_domain.as_str();
        let in_domain =
            |d: &str| name == d || name.strip_suffix(d).is_some_and(|r| r.ends_with('.'));
        if name.ends_with(".svc")
            || name.ends_with(".pod")
            || in_domain(domain)
            || in_domain("cluster.local")
        {
            return Some(
                "an in-cluster name: it sends traffic that arrives for this namespace on to another Service, \
                 around the NetworkPolicies and namespace boundaries that keep them apart"
                    .into(),
            );
        }
        if !name.is_empty() && !name.contains('.') {
            return Some(
                "a bare single-label name: it resolves through the resolver's search domains, that is to a \
                 Service inside the cluster, around the NetworkPolicies and namespace boundaries that keep \
                 them apart"
                    .into(),
            );
        }
        // A pod's resolver (ndots:5) tries the cluster's search path before a
        // relative name itself: `svc.ns` and `pod.svc.ns` become
        // `….svc.<domain>`, a Service or a headless Service's pod.
        let labels = name.split('.').count();
        let last = name.rsplit('.').next().unwrap_or_default();
        let public_tld = last.len() == 2 && last.bytes().all(|b| b.is_ascii_alphabetic())
            || last.starts_with("xn--")
            || PUBLIC_TLDS.contains(&last);
        if !absolute && (2..=3).contains(&labels) && (!public_tld || known_namespace(last)) {
            return Some(format!(
                "a relative name: the resolver of the pods that follow the alias tries the cluster's search \
                 path first, so `{name}` reaches `{name}.svc.{domain}` (namespace {last}) when it exists, around \
                 the NetworkPolicies and namespace boundaries that keep them apart. Write an external host \
                 with a trailing dot (`{name}.`) to make it absolute"
            ));
        }
        None
    }
}

fn ip_problem(ip: IpAddr) -> String {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return format!(
            "the local address {ip}: it reaches whatever follows the alias on its own host, typically the \
             ingress controller's admin and status ports"
        );
    }
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments().first().copied().unwrap_or(0) & 0xffc0) == 0xfe80,
    };
    if link_local || METADATA_IPS.contains(&ip) {
        return format!(
            "the link-local or metadata address {ip}: proxied through the alias, it reaches the node's \
             cloud metadata service and its credentials"
        );
    }
    format!(
        "the IP address {ip}: an alias to a bare address skips DNS and can reach pod, node or private \
         network addresses the proxy should never send traffic to"
    )
}

/// An IP address as a resolver would read `name`: plain IPv4 or IPv6 (with
/// or without brackets or zone), or the shorthand forms inet_aton accepts
/// (`127.1`, `0x7f.0.0.1`, `2130706433`, `0177.0.0.1`).
fn ip_literal(name: &str) -> Option<IpAddr> {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    let bare = bare.split_once('%').map_or(bare, |(a, _)| a);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ip);
    }
    loose_ipv4(name).map(IpAddr::V4)
}

fn loose_ipv4(name: &str) -> Option<Ipv4Addr> {
    let parts: Vec<u64> = name.split('.').map(number).collect::<Option<_>>()?;
    let (last, head) = parts.split_last()?;
    if head.len() > 3 || head.iter().any(|p| *p > 255) {
        return None;
    }
    let room = 8 * (4 - u32::try_from(head.len()).ok()?);
    if *last >= 1u64 << room {
        return None;
    }
    let mut value: u64 = 0;
    for p in head {
        value = (value << 8) | p;
    }
    value = (value << room) | last;
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

/// One inet_aton component: decimal, octal with a leading 0, or hex with 0x.
fn number(part: &str) -> Option<u64> {
    if part.is_empty() || part.len() > 12 {
        return None;
    }
    if let Some(hex) = part.strip_prefix("0x") {
        return if hex.is_empty() {
            Some(0)
        } else {
            u64::from_str_radix(hex, 16).ok()
        };
    }
    if part.len() > 1 {
        if let Some(oct) = part.strip_prefix('0') {
            return u64::from_str_radix(oct, 8).ok();
        }
    }
    part.parse().ok()
}

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.service() else { return };
        if service_type(spec) != "ExternalName" {
            return;
        }
        let Some(external) = spec.external_name.as_deref() else {
            return;
        };
        let known_namespace = |ns: &str| {
            cx.all().any(|o| {
                o.namespace == Some(ns)
                    || (o.kind == "Namespace" && o.group().is_empty() && o.name == ns)
            })
        };
        if let Some(problem) = self.problem(external, &known_namespace) {
            let hit = Hit::new(
                "/spec/externalName",
                format!(
                    "{} is an ExternalName alias to `{external}`, {problem}. Point it at an external host name, \
                     or, for a Service of this cluster, use that Service directly or a selector-based Service \
                     in this namespace.",
                    obj.display_name()
                ),
            );
            out.push(hit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Configured {
        Configured {
            cluster_domain: "cluster.local".into(),
        }
    }

    /// A review that knows no namespace.
    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn flags_what_it_should() {
        let r = rule();
        for name in [
            "10.0.0.1",
            "::1",
            "[::1]",
            "fe80::1%eth0",
            "::ffff:169.254.169.254",
            "169.254.169.254",
            "fd00:ec2::254",
            "127.1",
            "2130706433",
            "0x7f.0.0.1",
            "0177.0.0.1",
            "localhost",
            "LOCALHOST.",
            "foo.localhost",
            "metadata.google.internal.",
            "db.team-b.svc",
            "db.team-b.svc.cluster.local",
            "db.team-b.svc.cluster.local.",
            "cluster.local",
            "kubernetes",
            "payments.team-b",
            "web-0.payments.team-b",
            "10-0-0-1.team-b.pod",
            "postgres.internal",
        ] {
            assert!(r.problem(name, &none).is_some(), "{name} should be flagged");
        }
    }

    #[test]
    fn lets_external_names_through() {
        let r = rule();
        for name in [
            "api.example.com",
            "api.example.com.",
            "db.eu-west-1.rds.amazonaws.com",
            "svc.example.com",
            "mycluster.local.example.org",
            "1.2.3.4.nip.io",
            "notcluster.local.",
            "payments.team-b.",
            "example.com",
            "api.example.co.uk",
            "www.xn--p1ai",
            "a.b.c.team-b",
        ] {
            assert!(r.problem(name, &none).is_none(), "{name} should pass");
        }
    }

    #[test]
    fn a_known_namespace_outweighs_a_public_tld() {
        let r = rule();
        assert!(r.problem("products.shop", &none).is_none());
        assert!(r.problem("products.shop", &|ns| ns == "shop").is_some());
        assert!(r.problem("products.shop.", &|ns| ns == "shop").is_none());
    }

    #[test]
    fn custom_cluster_domain() {
        let r = Configured {
            cluster_domain: "k8s.corp".into(),
        };
        assert!(r.problem("db.ns.svc.k8s.corp", &none).is_some());
        assert!(r.problem("db.ns.k8s.corp", &none).is_some());
        assert!(r.problem("db.ns.svc.cluster.local", &none).is_some());
        assert!(r.problem("k8s.corp.example.com", &none).is_none());
    }

    #[test]
    fn loose_ipv4_forms() {
        assert_eq!(loose_ipv4("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(loose_ipv4("10.1.2"), Some(Ipv4Addr::new(10, 1, 0, 2)));
        assert_eq!(loose_ipv4("256.1"), None);
        assert_eq!(loose_ipv4("1.2.3.4.5"), None);
        assert_eq!(loose_ipv4("4294967296"), None);
        assert_eq!(loose_ipv4("example"), None);
    }
}
