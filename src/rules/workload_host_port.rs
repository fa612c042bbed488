use crate::error::Error;
use crate::glob::Glob;
use crate::object::{join, Object};
use crate::params::{Params, PortRange};
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::rules::{node_agent_advice, node_agent_of, WORKLOAD_KINDS};
use crate::{doc_refs, doc_text};
use serde_json::json;

pub struct WorkloadHostPort;

static META: RuleMeta = RuleMeta {
    id: "workload-host-port",
    title: "Container port bound on the node",
    severity: Severity::High,
    category: Category::Exposure,
    kinds: WORKLOAD_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[
        ParamDoc {
            name: "allowedRanges",
            kind: "port ranges",
            default: "[]",
            help: "host ports allowed, as `{min, max}`, a port, or `\"8000-8100\"`; empty allows none",
        },
        ParamDoc {
            name: "exemptImages",
            kind: "string list",
            default: "[]",
            help: "images whose containers may use any host port; `*` matches any run of characters \
                   (`registry.example.com/node-agents/*`)",
        },
    ],
    what: doc_text!("Every `hostPort` of every init, regular and ephemeral container, in Pods and in the pod templates \
           of PodTemplates, Deployments, ReplicaSets, StatefulSets, DaemonSets, ReplicationControllers, Jobs \
           and CronJobs, that is outside `allowedRanges` (by default no host port is allowed). `hostPort: 0` \
           means unset. On the host network (`hostNetwork: true`) every `containerPort` is a host port, as the \
           API server defaults `hostPort` to it, and is checked as one. Containers whose image matches `exemptImages` are skipped. Each port is its own \
           finding."),
    why: doc_text!("A host port opens the container's port on the node's own address, reachable by anything that can \
          reach the node, outside Services, the Ingress and most NetworkPolicy implementations; it also ties \
          the pod to nodes where that port is free. Services and the Ingress expose pods without it."),
    denied: doc_text!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: proxy\n  namespace: shop\nspec:\n  containers:\n    - name: proxy\n      image: nginx:1.27\n      ports:\n        - containerPort: 8443\n          hostPort: 443\n"),
    allowed: doc_text!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: proxy\n  namespace: shop\nspec:\n  containers:\n    - name: proxy\n      image: nginx:1.27\n      ports:\n        - containerPort: 8443\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline",
        "https://kubernetes.io/docs/concepts/configuration/overview/#services",
    ]),
};

struct Configured {
    allowed: Vec<PortRange>,
    exempt_images: Vec<Glob>,
}

impl Rule for WorkloadHostPort {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        Ok(Box::new(Configured {
            allowed: p.port_ranges("allowedRanges")?,
            exempt_images: p
                .strings("exemptImages")?
                .iter()
                .map(|g| Glob::new(g))
                .collect(),
        }))
    }
}

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some((spec, spec_path)) = obj.pod_spec() else {
            return;
        };
        let allowed = if self.allowed.is_empty() {
            "this policy allows no host ports".to_string()
        } else {
            let list: Vec<String> = self.allowed.iter().map(ToString::to_string).collect();
            format!("this policy allows host ports {}", list.join(", "))
        };
        let host_network = spec.host_network == Some(true);
        // one answer per object, not per port: a pod may have thousands
        let mut advice: Option<String> = None;
        for (list, i, container) in spec.all_containers() {
            let image = container.image.as_deref().unwrap_or_default();
            if self.exempt_images.iter().any(|g| g.matches(image)) {
                continue;
            }
            for (j, port) in container.ports.iter().flatten().enumerate() {
                let base = join(spec_path, &format!("{list}/{i}/ports/{j}"));
                let declared = port.host_port.filter(|p| *p != 0);
                // On the host network the API server defaults every hostPort
                // to its containerPort: each container port is a host port.
                let (host_port, path) = match (declared, host_network) {
                    (Some(p), _) => (p, format!("{base}/hostPort")),
                    (None, true) => match port.container_port.filter(|p| *p != 0) {
                        Some(p) => (p, format!("{base}/containerPort")),
                        None => continue,
                    },
                    (None, false) => continue,
                };
                if self
                    .allowed
                    .iter()
                    .any(|r| r.contains(i64::from(host_port)))
                {
                    continue;
                }
                let name = obj.display_name();
                let container_name = &container.name;
                let exposed = "the port is open on the node's own address, reachable outside Services, the Ingress \
                               and NetworkPolicies";
                let hit = if host_network {
                    // removing hostPort would not help: defaulting puts it back
                    let advice = advice.get_or_insert_with(|| match node_agent_of(obj) {
                        Some(agent) => node_agent_advice(obj, META.id, agent),
                        None => "Take the pod off the host network and expose the container through a Service."
                            .to_string(),
                    });
                    Hit::new(
                        path,
                        format!(
                            "{name} runs on the host network, so container `{container_name}` ({list}) binds host port \
                             {host_port}: {exposed}, and {allowed}. {advice}"
                        ),
                    )
                } else {
                    let mut fix = vec![json!({"op": "remove", "path": path})];
                    // a hostIP means nothing without its hostPort
                    if port.host_ip.is_some() {
                        fix.push(json!({"op": "remove", "path": format!("{base}/hostIP")}));
                    }
                    Hit::new(
                        path,
                        format!(
                            "{name} binds host port {host_port} for container `{container_name}` ({list}): {exposed}, \
                             and {allowed}. Remove hostPort and expose the container through a Service."
                        ),
                    )
                    .fix(fix)
                };
                out.push(hit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{evaluate, Host};
    use serde_json::{json, Value};

    fn paths(obj: Value, settings: Value) -> Vec<String> {
        let input =
            json!({"objects": [obj], "settings": {"rules": {"workload-host-port": settings}}});
        let report = evaluate(&input, Host::default()).unwrap().to_value();
        report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["rule"] == "workload-host-port")
            .map(|v| v["path"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_container_list_and_exact_paths() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "initContainers": [{"name": "i", "image": "busybox", "ports": [{"containerPort": 1, "hostPort": 1}]}],
            "containers": [{"name": "c", "image": "nginx", "ports": [
                {"containerPort": 80}, {"containerPort": 81, "hostPort": 0}, {"containerPort": 443, "hostPort": 443}]}],
            "ephemeralContainers": [{"name": "e", "image": "debug", "ports": [{"containerPort": 9, "hostPort": 9}]}]
        }});
        assert_eq!(
            paths(pod.clone(), json!("deny")),
            [
                "/spec/initContainers/0/ports/0/hostPort",
                "/spec/containers/0/ports/2/hostPort",
                "/spec/ephemeralContainers/0/ports/0/hostPort"
            ]
        );
        assert_eq!(
            paths(
                pod,
                json!({"action": "deny", "allowedRanges": ["1-9"], "exemptImages": ["nginx"]})
            ),
            Vec::<String>::new()
        );
    }
}
