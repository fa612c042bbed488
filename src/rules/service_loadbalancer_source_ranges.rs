use crate::error::Error;
use crate::net::{AddressSet, Cidr};
use crate::object::{escape_pointer, Object};
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::rules::service_type;
use crate::rules::service_type_loadbalancer::internal_annotation;
use crate::{doc_refs, doc_text};

pub struct ServiceLoadBalancerSourceRanges;

const ANNOTATION: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";

static META: RuleMeta = RuleMeta {
    id: "service-loadbalancer-source-ranges",
    title: "LoadBalancer open to every source address",
    severity: Severity::Medium,
    category: Category::Exposure,
    kinds: &["Service"],
    since: "0.1.0",
    scope: Scope::Object,
    params: &[ParamDoc {
        name: "allowInternal",
        kind: "bool",
        default: "true",
        help: "let load balancers marked internal by their cloud's annotation (see service-type-loadbalancer) \
               accept every source on the private network: no ranges, or an open one",
    }],
    what: doc_text!("Services of `type: LoadBalancer` that accept every source address: no source ranges at all, or a \
           range of `0.0.0.0/0` or `::/0` (any prefix length 0), or ranges that together cover more than half \
           of the IPv4 or IPv6 addresses (`0.0.0.0/1` and `128.0.0.0/1`). Ranges come from \
           `spec.loadBalancerSourceRanges`, or, when that is empty, from the annotation \
           `service.beta.kubernetes.io/load-balancer-source-ranges` (comma separated), as Kubernetes reads \
           them. Entries that are not CIDR blocks (`10.0.0.0/8`; a bare address is not one) are findings too: \
           the API server rejects them. A load balancer marked internal by its cloud's annotation is only \
           reachable from the private network, so by default it may go without ranges or with an open one \
           (only malformed entries are reported on it). Set `allowInternal: false` to hold internal load \
           balancers to the same rule."),
    why: doc_text!("Without source ranges the cloud opens the load balancer's firewall to the whole internet: every \
          scanner can reach the service, and its TLS and authentication are the only defence. Source ranges \
          limit it to the clients that need it (an office, a partner, a CDN's egress ranges)."),
    denied: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: gateway\n  namespace: edge\nspec:\n  type: LoadBalancer\n  loadBalancerSourceRanges:\n    - 0.0.0.0/0\n  selector: {app: gateway}\n  ports:\n    - port: 443\n"),
    allowed: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: gateway\n  namespace: edge\nspec:\n  type: LoadBalancer\n  loadBalancerSourceRanges:\n    - 203.0.113.0/24\n    - 2001:db8:10::/48\n  selector: {app: gateway}\n  ports:\n    - port: 443\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/tasks/access-application-cluster/create-external-load-balancer/#restrict-source-ips",
        "https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/#ServiceSpec",
    ]),
};

struct Configured {
    allow_internal: bool,
}

impl Rule for ServiceLoadBalancerSourceRanges {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        Ok(Box::new(Configured {
            allow_internal: p.bool("allowInternal", true)?,
        }))
    }
}

/// What one source range entry means.
enum Entry {
    Fine(Cidr),
    Everything(Cidr),
    Invalid(String),
}

/// Kubernetes wants CIDR notation here: a bare address is refused.
fn classify(text: &str) -> Entry {
    let t = text.trim();
    if t.is_empty() {
        return Entry::Invalid("an entry is empty (a stray comma?)".into());
    }
    if !t.contains('/') {
        return Entry::Invalid(match t.parse::<std::net::IpAddr>() {
            Ok(ip) => format!(
                "`{t}` is an address, not a CIDR block (write `{t}/{}`)",
                if ip.is_ipv4() { 32 } else { 128 }
            ),
            Err(_) => format!("`{t}` is not a CIDR block"),
        });
    }
    match Cidr::parse(t) {
        Ok(c) if c.is_everything() => Entry::Everything(c),
        Ok(c) => Entry::Fine(c),
        Err(m) => Entry::Invalid(m),
    }
}

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.service() else { return };
        if service_type(spec) != "LoadBalancer" {
            return;
        }
        let name = obj.display_name();
        let internal = internal_annotation(obj);
        // an internal load balancer is reachable from the private network only
        let open_ok = self.allow_internal && internal.is_some();
        let field = spec
            .load_balancer_source_ranges
            .as_deref()
            .unwrap_or_default();
        // the field wins; the annotation is read only when the field is empty
        if !field.is_empty() {
            let mut ranges = Vec::with_capacity(field.len());
            let mut open = false;
            for (i, text) in field.iter().enumerate() {
                let path = format!("/spec/loadBalancerSourceRanges/{i}");
                match classify(text) {
                    Entry::Fine(c) => ranges.push(c),
                    Entry::Everything(_) if open_ok => open = true,
                    Entry::Everything(c) => {
                        open = true;
                        out.push(Hit::new(
                            path,
                            format!(
                                "{name} lists source range {c}: its load balancer accepts connections from every \
                                 address{}. Replace it with the ranges of the clients that need this service.",
                                internal_note(internal)
                            ),
                        ));
                    }
                    Entry::Invalid(m) => out.push(Hit::new(
                        path,
                        format!(
                            "{name} has an invalid loadBalancerSourceRanges entry: {m}. The API server refuses it; \
                             write each range as a CIDR block."
                        ),
                    )),
                }
            }
            if let (false, false, Some(family)) = (open, open_ok, most_of_a_family(&ranges)) {
                out.push(Hit::new(
                    "/spec/loadBalancerSourceRanges",
                    format!(
                        "{name} lists source ranges that together cover more than half of every {family} \
                         address: cut into pieces, its load balancer still accepts connections from the whole \
                         internet{}. List only the clients that need this service.",
                        internal_note(internal)
                    ),
                ));
            }
            return;
        }
        let annotation = obj.annotation(ANNOTATION).filter(|v| !v.trim().is_empty());
        let Some(value) = annotation else {
            if open_ok {
                return;
            }
            let note = match internal {
                Some(key) => format!(
                    " It is marked internal ({key}), so that means the whole private network, and this policy \
                     sets allowInternal: false."
                ),
                None => String::new(),
            };
            out.push(Hit::new(
                "/spec/type",
                format!(
                    "{name} is a LoadBalancer without source ranges: its firewall is open to every address.{note} \
                     List the clients that need it in spec.loadBalancerSourceRanges (CIDR blocks)."
                ),
            ));
            return;
        };
        let path = format!("/metadata/annotations/{}", escape_pointer(ANNOTATION));
        let mut open = Vec::new();
        let mut invalid = Vec::new();
        let mut ranges = Vec::new();
        for item in value.split(',') {
            match classify(item) {
                Entry::Fine(c) => ranges.push(c),
                Entry::Everything(c) => open.push(c.to_string()),
                Entry::Invalid(m) => invalid.push(m),
            }
        }
        if open.is_empty() {
            if let Some(family) = most_of_a_family(&ranges) {
                open.push(format!(
                    "ranges covering more than half of every {family} address"
                ));
            }
        }
        if !open.is_empty() && !open_ok {
            out.push(Hit::new(
                path.clone(),
                format!(
                    "{name} sets {ANNOTATION} to include {}: its load balancer accepts connections from every \
                     address{}. List only the clients that need it, preferably in spec.loadBalancerSourceRanges.",
                    open.join(" and "),
                    internal_note(internal)
                ),
            ));
        }
        if !invalid.is_empty() {
            out.push(Hit::new(
                path,
                format!(
                    "{name} has an invalid {ANNOTATION} annotation: {}. The API server refuses it; write a \
                     comma-separated list of CIDR blocks, or use spec.loadBalancerSourceRanges.",
                    invalid.join("; ")
                ),
            ));
        }
    }
}

/// `IPv4`/`IPv6` when the blocks of that family together hold more than
/// half of its addresses: the whole internet, cut into pieces.
fn most_of_a_family(ranges: &[Cidr]) -> Option<&'static str> {
    let family = |v4: bool| AddressSet::of(ranges.iter().filter(|c| c.addr.is_ipv4() == v4));
    if family(true).most_of(true) {
        Some("IPv4")
    } else if family(false).most_of(false) {
        Some("IPv6")
    } else {
        None
    }
}

fn internal_note(internal: Option<&str>) -> String {
    match internal {
        Some(key) => format!(" on the private network (it is marked internal by {key}, and this policy sets allowInternal: false)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::{evaluate, Host};
    use serde_json::{json, Value};

    fn paths(annotations: Value, spec: Value, settings: Value) -> Vec<String> {
        let input = json!({
            "objects": [{"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "s", "namespace": "n", "annotations": annotations}, "spec": spec}],
            "settings": {"rules": {"service-loadbalancer-source-ranges": settings}}
        });
        let report = evaluate(&input, Host::default()).unwrap().to_value();
        report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["rule"] == "service-loadbalancer-source-ranges")
            .map(|v| v["path"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn field_entries_each_their_own_finding() {
        let p = paths(
            json!({}),
            json!({"type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0/8", "::/0", "1.2.3.4", " 0.0.0.0/0 "]}),
            json!("deny"),
        );
        assert_eq!(
            p,
            [
                "/spec/loadBalancerSourceRanges/1",
                "/spec/loadBalancerSourceRanges/2",
                "/spec/loadBalancerSourceRanges/3"
            ]
        );
    }

    #[test]
    fn field_wins_over_annotation() {
        let p = paths(
            json!({"service.beta.kubernetes.io/load-balancer-source-ranges": "0.0.0.0/0"}),
            json!({"type": "LoadBalancer", "loadBalancerSourceRanges": ["192.0.2.0/24"]}),
            json!("deny"),
        );
        assert!(p.is_empty());
    }

    #[test]
    fn annotation_open_and_invalid() {
        let p = paths(
            json!({"service.beta.kubernetes.io/load-balancer-source-ranges": "192.0.2.0/24, ::/0,banana"}),
            json!({"type": "LoadBalancer"}),
            json!("deny"),
        );
        let a = "/metadata/annotations/service.beta.kubernetes.io~1load-balancer-source-ranges";
        assert_eq!(p, [a, a]);
    }

    #[test]
    fn internal_without_ranges() {
        let ann = json!({"service.beta.kubernetes.io/azure-load-balancer-internal": "true"});
        let spec = json!({"type": "LoadBalancer"});
        assert!(paths(ann.clone(), spec.clone(), json!("deny")).is_empty());
        assert_eq!(
            paths(
                ann.clone(),
                spec,
                json!({"action": "deny", "allowInternal": false})
            ),
            ["/spec/type"]
        );
        let open = json!({"type": "LoadBalancer", "loadBalancerSourceRanges": ["0.0.0.0/0", "10.0.0.0/33"]});
        assert_eq!(
            paths(ann.clone(), open.clone(), json!("deny")),
            ["/spec/loadBalancerSourceRanges/1"]
        );
        assert_eq!(
            paths(ann, open, json!({"action": "deny", "allowInternal": false})).len(),
            2
        );
    }
}
