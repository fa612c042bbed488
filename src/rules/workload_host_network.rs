use crate::object::{join, Object};
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::{node_agent_advice, node_agent_of, WORKLOAD_KINDS};
use crate::{doc_refs, doc_text};
use serde_json::json;

#[derive(Default)]
pub struct WorkloadHostNetwork;

static META: RuleMeta = RuleMeta {
    id: "workload-host-network",
    title: "Pod in the node's network namespace",
    severity: Severity::High,
    category: Category::Exposure,
    kinds: WORKLOAD_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("`hostNetwork: true` in a Pod or in the pod template of a PodTemplate, Deployment, ReplicaSet, \
           StatefulSet, DaemonSet, ReplicationController, Job or CronJob. A node agent (control-plane static pods, \
           etcd, kube-proxy, CNI plugins such as Calico, flannel, Cilium or the AWS VPC CNI, MetalLB's speaker, \
           the node exporter), recognised by a container's image or command, is still reported, but told to be \
           exempted with a reason and given no fix: off the host network it would break the node."),
    why: doc_text!("A pod on the host network shares the node's network interfaces: every port it listens on is open \
          on the node's addresses, outside any Service, Ingress or NetworkPolicy, and it can reach and sniff \
          node-local services (the kubelet, the cloud metadata endpoint, other pods' host ports). Only node \
          agents such as CNI plugins need it."),
    denied: doc_text!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      hostNetwork: true\n      containers:\n        - name: api\n          image: registry.example.com/api:1.4\n"),
    allowed: doc_text!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      containers:\n        - name: api\n          image: registry.example.com/api:1.4\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline",
        "https://kubernetes.io/docs/concepts/configuration/overview/#services",
    ]),
};

plain_rule!(WorkloadHostNetwork, META);

impl Check for WorkloadHostNetwork {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some((spec, spec_path)) = obj.pod_spec() else {
            return;
        };
        if spec.host_network != Some(true) {
            return;
        }
        let path = join(spec_path, "hostNetwork");
        let (who, verb) = if obj.kind == "Pod" {
            ("it", "shares")
        } else {
            ("its pods", "share")
        };
        let risk = format!(
            "{} sets hostNetwork: true: {who} {verb} the node's network, so every port listened on is open on the \
             node's addresses, outside Services, the Ingress and NetworkPolicies, and node-local services are in \
             reach.",
            obj.display_name()
        );
        if let Some(agent) = node_agent_of(obj) {
            // no fix: off the host network, a node agent breaks the node
            let advice = node_agent_advice(obj, META.id, agent);
            out.push(Hit::new(path, format!("{risk} {advice}")));
            return;
        }
        out.push(
            Hit::new(
                path.clone(),
                format!("{risk} Remove hostNetwork and expose ports through a Service."),
            )
            .fix(vec![json!({"op": "remove", "path": path})]),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::{evaluate, Host};
    use serde_json::json;

    fn violations(obj: serde_json::Value) -> Vec<serde_json::Value> {
        let input = json!({"objects": [obj],
            "settings": {"rules": {"workload-host-network": "deny", "workload-host-port": "deny"}}});
        let report = evaluate(&input, Host::default()).unwrap().to_value();
        report["violations"].as_array().unwrap().clone()
    }

    #[test]
    fn a_node_agent_is_told_to_be_exempted_not_moved() {
        let agent = |image: &str| {
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": "calico-node", "namespace": "kube-system"},
                "spec": {"template": {"spec": {"hostNetwork": true, "containers": [
                    {"name": "calico-node", "image": image, "ports": [{"containerPort": 9099}]}]}}}})
        };
        let found = violations(agent("quay.io/calico/node:v3.27.0"));
        assert_eq!(found.len(), 2, "{found:?}");
        for v in &found {
            let message = v["message"].as_str().unwrap();
            assert!(
                message.contains("It runs Calico, a node or control-plane component"),
                "{message}"
            );
            assert!(message.contains("reason: node component"), "{message}");
            assert!(!message.contains("Remove hostNetwork"), "{message}");
            assert!(!message.contains("Take the pod off"), "{message}");
        }
        let net = found
            .iter()
            .find(|v| v["rule"] == "workload-host-network")
            .unwrap();
        assert!(net.get("fix").is_none_or(|f| f.is_null()), "{net}");
        // an application of the same shape keeps the advice and the fix
        let app = violations(agent(
            "registry.example.com/shop/calico-node-exporter-ui:1.0",
        ));
        let net = app
            .iter()
            .find(|v| v["rule"] == "workload-host-network")
            .unwrap();
        assert!(
            net["message"]
                .as_str()
                .unwrap()
                .contains("Remove hostNetwork"),
            "{net}"
        );
        assert_eq!(net["fix"][0]["op"], "remove");
        let port = app
            .iter()
            .find(|v| v["rule"] == "workload-host-port")
            .unwrap();
        assert!(
            port["message"]
                .as_str()
                .unwrap()
                .contains("Take the pod off"),
            "{port}"
        );
    }

    #[test]
    fn cronjob_path_is_nested() {
        let input = json!({
            "objects": [{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
                "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                    "hostNetwork": true, "containers": [{"name": "c", "image": "busybox"}]}}}}}}],
            "settings": {"rules": {"workload-host-network": "deny"}}
        });
        let report = evaluate(&input, Host::default()).unwrap().to_value();
        let v = report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["rule"] == "workload-host-network")
            .unwrap();
        assert_eq!(
            v["path"],
            "/spec/jobTemplate/spec/template/spec/hostNetwork"
        );
        assert_eq!(v["fix"][0]["path"], v["path"]);
    }
}
