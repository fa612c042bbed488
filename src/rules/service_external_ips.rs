use crate::error::Error;
use crate::net::Cidr;
use crate::object::Object;
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::{doc_refs, doc_text};
use serde_json::json;
use std::net::IpAddr;

pub struct ServiceExternalIps;

static META: RuleMeta = RuleMeta {
    id: "service-external-ips",
    title: "Service with external IPs",
    severity: Severity::High,
    category: Category::Exposure,
    kinds: &["Service"],
    since: "0.1.0",
    scope: Scope::Object,
    params: &[ParamDoc {
        name: "allowedCidrs",
        kind: "CIDR list",
        default: "[]",
        help: "external IPs allowed, as IPv4 or IPv6 CIDR blocks or single addresses; empty allows none",
    }],
    what: doc_text!("Every entry of `spec.externalIPs`, on a Service of any type, that is not inside one of \
           `allowedCidrs` (IPv4 and IPv6; an IPv4-mapped IPv6 address counts as its IPv4 address). With no \
           allowlist every external IP is a finding. Entries that are not IP addresses are findings too. \
           Each entry is reported on its own path."),
    why: doc_text!("Any address in `externalIPs` makes kube-proxy on every node capture traffic to it and send it to \
          the Service: whoever can create a Service can take over traffic meant for another address, inside \
          the cluster or out (CVE-2020-8554, a man-in-the-middle by design, with no fix in Kubernetes itself). \
          Only addresses the cluster's operators hand out should ever appear there."),
    denied: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  selector: {app: api}\n  ports:\n    - port: 443\n  externalIPs:\n    - 1.1.1.1\n"),
    allowed: doc_text!("# with allowedCidrs: [\"203.0.113.0/24\"]\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  selector: {app: api}\n  ports:\n    - port: 443\n  externalIPs:\n    - 203.0.113.10\n"),
    references: doc_refs!(&[
        "https://github.com/kubernetes/kubernetes/issues/97076",
        "https://kubernetes.io/docs/concepts/services-networking/service/#external-ips",
        "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#denyserviceexternalips",
    ]),
};

struct Configured {
    allowed: Vec<Cidr>,
}

impl Rule for ServiceExternalIps {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        Ok(Box::new(Configured {
            allowed: p.cidrs("allowedCidrs")?,
        }))
    }
}

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.service() else { return };
        let name = obj.display_name();
        let allowlist = if self.allowed.is_empty() {
            "this policy allows no external IPs".to_string()
        } else {
            let list: Vec<String> = self.allowed.iter().map(ToString::to_string).collect();
            format!("this policy allows only {}", list.join(", "))
        };
        for (i, text) in spec.external_ips.iter().flatten().enumerate() {
            let path = format!("/spec/externalIPs/{i}");
            // The test op keeps each fix safe to apply on its own: once an
            // earlier removal shifts the list, a stale patch fails instead of
            // removing a different address.
            let fix = vec![
                json!({"op": "test", "path": path, "value": text}),
                json!({"op": "remove", "path": path}),
            ];
            let message = match text.parse::<IpAddr>() {
                Ok(ip) if self.allowed.iter().any(|c| c.contains(ip)) => continue,
                Ok(ip) => format!(
                    "{name} claims external IP {ip}: kube-proxy on every node captures traffic to that address \
                     and sends it to this Service, whoever the address belongs to (CVE-2020-8554), and {allowlist}. \
                     Remove it and expose the Service through the Ingress or Gateway, or ask the cluster's \
                     operators to allow the address."
                ),
                Err(_) => format!(
                    "{name} lists `{text}` in externalIPs, which is not an IP address: the API server refuses it, \
                     and {allowlist}. Remove it."
                ),
            };
            out.push(Hit::new(path, message).fix(fix));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{evaluate, Host};
    use serde_json::{json, Value};

    fn paths(ips: Value, settings: Value) -> Vec<String> {
        let input = json!({
            "objects": [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                "spec": {"externalIPs": ips}}],
            "settings": {"rules": {"service-external-ips": settings}}
        });
        let report = evaluate(&input, Host::default()).unwrap().to_value();
        report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["rule"] == "service-external-ips")
            .map(|v| v["path"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn no_allowlist_denies_every_address() {
        assert_eq!(
            paths(json!(["203.0.113.1", "2001:db8::1"]), json!("deny")),
            ["/spec/externalIPs/0", "/spec/externalIPs/1"]
        );
    }

    #[test]
    fn allowlist_v4_v6_and_garbage() {
        let s = json!({"action": "deny", "allowedCidrs": ["203.0.113.0/24", "2001:db8::/32"]});
        assert_eq!(
            paths(
                json!([
                    "203.0.113.9",
                    "2001:db8:5::1",
                    "::ffff:203.0.113.7",
                    "198.51.100.1",
                    "2001:db9::1",
                    "203.0.113.0/24",
                    "x"
                ]),
                s
            ),
            [
                "/spec/externalIPs/3",
                "/spec/externalIPs/4",
                "/spec/externalIPs/5",
                "/spec/externalIPs/6"
            ]
        );
    }

    #[test]
    fn update_ratchet_is_not_fooled_by_shifted_entries() {
        let svc = |ips: Value| {
            json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s", "namespace": "a"}, "spec": {"externalIPs": ips}})
        };
        let input = json!({"request": {"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Service"},
            "operation": "UPDATE", "namespace": "a",
            "object": svc(json!(["6.6.6.6", "1.1.1.1"])),
            "oldObject": svc(json!(["1.1.1.1", "2.2.2.2"]))},
            "settings": {"rules": {"service-external-ips": "deny"}}});
        let report = evaluate(&input, Host::default()).unwrap().to_value();
        let of = |list: &str| -> Vec<String> {
            report[list]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["rule"] == "service-external-ips")
                .map(|v| v["path"].as_str().unwrap().to_string())
                .collect()
        };
        // 6.6.6.6 is new although an old finding sat at its index; 1.1.1.1
        // only moved: the same address is the same finding
        assert_eq!(of("violations"), ["/spec/externalIPs/0"]);
        assert_eq!(of("warnings"), ["/spec/externalIPs/1"]);
    }
}
