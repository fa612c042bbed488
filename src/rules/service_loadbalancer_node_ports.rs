use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::service_type;
use crate::{doc_refs, doc_text};
use serde_json::{json, Value};

#[derive(Default)]
pub struct ServiceLoadBalancerNodePorts;

static META: RuleMeta = RuleMeta {
    id: "service-loadbalancer-node-ports",
    title: "LoadBalancer Service also opens node ports",
    severity: Severity::Medium,
    category: Category::Exposure,
    kinds: &["Service"],
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Services of `type: LoadBalancer` that do not set `spec.allocateLoadBalancerNodePorts: false`, \
           and explicit `nodePort`s on a LoadBalancer Service, which Kubernetes opens even when that field \
           is false."),
    why: doc_text!("By default a LoadBalancer Service is also a NodePort Service: every port gets a node port \
          (30000-32767) on every node, reachable by anything that can reach a node, around the load \
          balancer's source ranges and the Ingress's TLS and authentication. Load balancers that send \
          traffic straight to pod IPs (AWS NLB/ALB in IP mode, GKE container-native, MetalLB, Cilium) \
          do not need them."),
    denied: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: gateway\n  namespace: edge\nspec:\n  type: LoadBalancer\n  selector: {app: gateway}\n  ports:\n    - port: 443\n      targetPort: 8443\n"),
    allowed: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: gateway\n  namespace: edge\nspec:\n  type: LoadBalancer\n  allocateLoadBalancerNodePorts: false\n  selector: {app: gateway}\n  ports:\n    - port: 443\n      targetPort: 8443\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/services-networking/service/#load-balancer-nodeport-allocation",
        "https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/#ServiceSpec",
    ]),
};

plain_rule!(ServiceLoadBalancerNodePorts, META);

impl Check for ServiceLoadBalancerNodePorts {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.service() else { return };
        if service_type(spec) != "LoadBalancer" {
            return;
        }
        // (index, nodePort) of every port that pins one: Kubernetes honours
        // these whatever allocateLoadBalancerNodePorts says
        let pinned: Vec<(usize, i32)> = spec
            .ports
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, p)| p.node_port.filter(|n| *n != 0).map(|n| (i, n)))
            .collect();
        let name = obj.display_name();
        if spec.allocate_load_balancer_node_ports == Some(false) {
            for (i, port) in pinned {
                out.push(
                    Hit::new(
                        format!("/spec/ports/{i}/nodePort"),
                        format!(
                            "{name} sets allocateLoadBalancerNodePorts: false but pins nodePort {port}: an explicit \
                             node port is still opened on every node, reachable without the load balancer. \
                             Remove the nodePort."
                        ),
                    )
                    .fix(vec![json!({"op": "remove", "path": format!("/spec/ports/{i}/nodePort")})]),
                );
            }
            return;
        }
        let explicit = obj
            .raw
            .get("spec")
            .and_then(|s| s.get("allocateLoadBalancerNodePorts"))
            .is_some();
        let (path, op) = if explicit {
            ("/spec/allocateLoadBalancerNodePorts", "replace")
        } else {
            ("/spec/type", "add")
        };
        let mut fix: Vec<Value> = vec![json!({
            "op": op,
            "path": "/spec/allocateLoadBalancerNodePorts",
            "value": false
        })];
        let note = if pinned.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = pinned.iter().map(|(_, n)| n.to_string()).collect();
            for (i, _) in &pinned {
                fix.push(json!({"op": "remove", "path": format!("/spec/ports/{i}/nodePort")}));
            }
            let (noun, verb, pronoun) = if pinned.len() == 1 {
                ("nodePort", "stays", "it")
            } else {
                ("nodePorts", "stay", "them")
            };
            format!(
                " It also pins {noun} {}, which {verb} open even with the field false: remove {pronoun}.",
                list.join(", ")
            )
        };
        out.push(
            Hit::new(
                path,
                format!(
                    "{name} is a LoadBalancer that also allocates a node port on every node for each of its ports, \
                     reachable by anything that can reach a node, around the load balancer.{note} If your load \
                     balancer sends traffic to pod IPs, set spec.allocateLoadBalancerNodePorts: false."
                ),
            )
            .fix(fix),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::{evaluate, Host};
    use serde_json::{json, Value};

    fn findings(spec: Value) -> Vec<Value> {
        let input = json!({
            "objects": [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}, "spec": spec}],
            "settings": {"rules": {"service-loadbalancer-node-ports": "deny"}}
        });
        let report = evaluate(&input, Host::default()).unwrap().to_value();
        report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["rule"] == "service-loadbalancer-node-ports")
            .cloned()
            .collect()
    }

    #[test]
    fn unset_field_is_added_and_pinned_ports_removed() {
        let f = findings(
            json!({"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443, "nodePort": 30443}]}),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0]["path"], "/spec/type");
        assert!(f[0]["message"].as_str().unwrap().contains("30443"));
        assert_eq!(
            f[0]["fix"],
            json!([
                {"op": "add", "path": "/spec/allocateLoadBalancerNodePorts", "value": false},
                {"op": "remove", "path": "/spec/ports/1/nodePort"}
            ])
        );
    }

    #[test]
    fn explicit_true_is_replaced() {
        let f = findings(json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": true}));
        assert_eq!(f[0]["path"], "/spec/allocateLoadBalancerNodePorts");
        assert_eq!(f[0]["fix"][0]["op"], "replace");
    }

    #[test]
    fn false_with_pinned_port_points_at_the_port() {
        let f = findings(
            json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false,
            "ports": [{"port": 80, "nodePort": 30080}]}),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0]["path"], "/spec/ports/0/nodePort");
        assert!(
            findings(json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false}))
                .is_empty()
        );
        assert!(findings(json!({"type": "NodePort"})).is_empty());
    }
}
