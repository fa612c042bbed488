use crate::net::{AddressSet, Cidr};
use crate::object::{Object, Typed};
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::namespace_default_deny_missing::isolates_ingress;
use crate::{doc_refs, doc_text};
use k8s_openapi::api::networking::v1::{IPBlock, NetworkPolicyIngressRule};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

#[derive(Default)]
pub struct NetworkPolicyAllowAll;

static META: RuleMeta = RuleMeta {
    id: "networkpolicy-allow-all",
    title: "NetworkPolicy ingress rule that admits everything",
    severity: Severity::Medium,
    category: Category::Network,
    kinds: &["networking.k8s.io/NetworkPolicy"],
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Ingress rules of a NetworkPolicy that admit everything: an empty rule `{}` or one whose `from` is \
           empty and that names no ports (every source, every port), and rules with an `ipBlock` peer of \
           `0.0.0.0/0` or `::/0` whose `except` entries do not take out at least half of that address space \
           (excepting the private ranges still leaves the whole internet). Blocks cut into pieces are judged \
           together: the `ipBlock` peers of a rule, or else of all rules, that admit more than half of the \
           IPv4 or IPv6 addresses (`0.0.0.0/1` and `128.0.0.0/1`) are reported too. One finding per rule. Ingress rules \
           of a policy whose `policyTypes` leave out `Ingress` are ignored, as Kubernetes ignores them."),
    why: doc_text!("NetworkPolicies are allowlists: one rule that admits every source undoes the isolation of every pod \
          the policy selects, including a namespace's default-deny. Such a rule is often left over from \
          debugging, or written to make a connection work, and makes the policy look like protection it is not."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  podSelector:\n    matchLabels: {app: api}\n  policyTypes: [Ingress]\n  ingress:\n    - from:\n        - podSelector:\n            matchLabels: {app: web}\n    - {}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  podSelector:\n    matchLabels: {app: api}\n  policyTypes: [Ingress]\n  ingress:\n    - from:\n        - podSelector:\n            matchLabels: {app: web}\n      ports:\n        - port: 8080\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#allow-all-ingress-traffic",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource",
    ]),
};

plain_rule!(NetworkPolicyAllowAll, META);

/// What an ipBlock peer admits: its block less its except entries (only
/// those of its family count; one that is no address takes nothing out).
fn admitted(block: &IPBlock) -> Option<(Cidr, AddressSet)> {
    let cidr = Cidr::parse(&block.cidr).ok()?;
    let v4 = cidr.addr.is_ipv4();
    let excepts: Vec<Cidr> = block
        .except
        .iter()
        .flatten()
        .filter_map(|e| Cidr::parse(e).ok())
        .filter(|e| e.addr.is_ipv4() == v4)
        .collect();
    let mut set = AddressSet::of([&cidr]);
    set.subtract(&AddressSet::of(&excepts));
    Some((cidr, set))
}

/// What some peers admit together, per family: (IPv4, IPv6), as ranges
/// gathered first and merged once when asked (merging at every peer would
/// cost n² over a policy of thousands of blocks).
#[derive(Default)]
struct Admitted {
    v4: Vec<(u128, u128)>,
    v6: Vec<(u128, u128)>,
}

impl Admitted {
    fn add(&mut self, cidr: &Cidr, set: &AddressSet) {
        if cidr.addr.is_ipv4() {
            self.v4.extend_from_slice(set.ranges());
        } else {
            self.v6.extend_from_slice(set.ranges());
        }
    }

    /// `IPv4`/`IPv6` when more than half of that family's addresses are in.
    fn open_family(self) -> Option<&'static str> {
        if AddressSet::from_ranges(self.v4).most_of(true) {
            Some("IPv4")
        } else if AddressSet::from_ranges(self.v6).most_of(false) {
            Some("IPv6")
        } else {
            None
        }
    }
}

/// Whether the block alone is the whole address space of its family, less
/// exceptions that leave more than half of it open.
fn open_to_all(block: &IPBlock) -> Option<Cidr> {
    let (cidr, set) = admitted(block)?;
    set.most_of(cidr.addr.is_ipv4()).then_some(cidr)
}

fn ports_text(rule: &NetworkPolicyIngressRule) -> String {
    match rule.ports.as_deref() {
        None | Some([]) => "on every port".to_string(),
        Some(ports) => {
            let list: Vec<String> = ports
                .iter()
                .map(|p| match &p.port {
                    Some(IntOrString::Int(n)) => n.to_string(),
                    Some(IntOrString::String(s)) => s.clone(),
                    None => "every port".to_string(),
                })
                .collect();
            format!("on port(s) {}", list.join(", "))
        }
    }
}

impl Check for NetworkPolicyAllowAll {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Typed::NetworkPolicy(spec) = &obj.typed else {
            return;
        };
        if !isolates_ingress(spec) {
            return;
        }
        // what the rules admit together, for blocks cut into pieces
        let mut policy = Admitted::default();
        let found = out.len();
        for (i, rule) in spec.ingress.iter().flatten().enumerate() {
            let mut this_rule = Admitted::default();
            for peer in rule.from.iter().flatten() {
                if let Some((cidr, set)) = peer.ip_block.as_ref().and_then(admitted) {
                    this_rule.add(&cidr, &set);
                    policy.add(&cidr, &set);
                }
            }
            let no_from = rule.from.as_ref().is_none_or(|f| f.is_empty());
            let no_ports = rule.ports.as_ref().is_none_or(|p| p.is_empty());
            if no_from && no_ports {
                out.push(Hit::new(
                    format!("/spec/ingress/{i}"),
                    format!(
                        "{} ingress rule #{i} names no source and no port, so it admits every connection \
                         from anywhere to the pods the policy selects, undoing their isolation. Name the \
                         pods, namespaces or address blocks that may connect, and the ports.",
                        obj.display_name()
                    ),
                ));
                continue;
            }
            let open = rule
                .from
                .iter()
                .flatten()
                .enumerate()
                .find_map(|(j, peer)| {
                    let block = peer.ip_block.as_ref()?;
                    let excepts = block.except.as_ref().is_some_and(|e| !e.is_empty());
                    open_to_all(block).map(|c| (j, c, excepts))
                });
            if let Some((j, cidr, excepts)) = open {
                let except_note = if excepts {
                    " (its except entries leave most of it open)"
                } else {
                    ""
                };
                out.push(Hit::new(
                    format!("/spec/ingress/{i}/from/{j}/ipBlock/cidr"),
                    format!(
                        "{} ingress rule #{i} admits {cidr}, every address of the internet{except_note}, {}: the pods it \
                         selects are open to the world as far as the policy goes. Name the address blocks \
                         that must connect (a load balancer's or a partner's), or let the traffic in \
                         through the Ingress and admit only its controller's pods.",
                        obj.display_name(),
                        ports_text(rule)
                    ),
                ));
            } else if let Some(family) = this_rule.open_family() {
                out.push(Hit::new(
                    format!("/spec/ingress/{i}/from"),
                    format!(
                        "{} ingress rule #{i} admits, through its ipBlock peers together, more than half of every \
                         {family} address, {}: cut into pieces, that is still the internet. Name the address \
                         blocks that must connect.",
                        obj.display_name(),
                        ports_text(rule)
                    ),
                ));
            }
        }
        if out.len() == found {
            if let Some(family) = policy.open_family() {
                out.push(
                    Hit::new(
                        "/spec/ingress",
                        format!(
                            "{}: its ingress rules admit, through their ipBlock peers together, more than half \
                             of every {family} address: cut into pieces, that is still the internet. Name the \
                             address blocks that must connect.",
                            obj.display_name()
                        ),
                    )
                    .evidence(format!("{family} admitted by the rules together")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(cidr: &str, except: &[&str]) -> bool {
        open_to_all(&IPBlock {
            cidr: cidr.into(),
            except: Some(except.iter().map(|s| s.to_string()).collect()),
        })
        .is_some()
    }

    #[test]
    fn exceptions_must_take_out_half_of_the_space() {
        assert!(open("0.0.0.0/0", &[]));
        assert!(open("::/0", &[]));
        assert!(open(
            "0.0.0.0/0",
            &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
        ));
        // an exception of the other family, or not an address at all, takes nothing out
        assert!(open("0.0.0.0/0", &["::/1", "nope"]));
        assert!(!open("0.0.0.0/0", &["0.0.0.0/1"]));
        assert!(!open(
            "0.0.0.0/0",
            &["0.0.0.0/2", "64.0.0.0/2", "64.0.0.0/3"]
        ));
        assert!(!open("::/0", &["::/0"]));
        assert!(open("::/0", &["::/2", "::/3"]));
        assert!(!open("10.0.0.0/8", &[]));
    }
}
