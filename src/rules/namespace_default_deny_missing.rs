use crate::cluster::{ApiKind, Lookup, NETWORK_POLICY};
use crate::object::{Object, Typed};
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::common::with_workload_kinds;
use crate::rules::service_type;
use crate::{doc_refs, doc_text};
use k8s_openapi::api::networking::v1::NetworkPolicySpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

#[derive(Default)]
pub struct NamespaceDefaultDenyMissing;

static META: RuleMeta = RuleMeta {
    id: "namespace-default-deny-missing",
    title: "Namespace without a default-deny ingress NetworkPolicy",
    severity: Severity::Medium,
    category: Category::Network,
    kinds: with_workload_kinds!(; "Service", "networking.k8s.io/NetworkPolicy"),
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[],
    what: doc_text!("Across a bundle of manifests (or one object with an inventory): every namespace that holds workloads \
           or Services (ExternalName ones aside) and whose NetworkPolicies are known, but none of them denies \
           ingress to all its pods by default, that is one with an empty `podSelector`, `Ingress` among its \
           policy types (as Kubernetes defaults them: always, when `policyTypes` is omitted) and no ingress \
           rules. Reported once per namespace, on its first workload or Service in the bundle. A namespace's \
           NetworkPolicies are known when the bundle or the inventory holds at least one of them (or the host \
           listed them): a single object reviewed on its own, a bundle without them, or an inventory synced \
           without them (Ingresses only, say) never triggers it, since nothing tells whether the namespace \
           has the policy."),
    why: doc_text!("Until a NetworkPolicy selects a pod, the pod accepts connections from every other pod in the cluster \
          and from anything that reaches the pod network. A default-deny policy makes every other policy an \
          allowlist: one compromised pod can then reach only what was deliberately opened, not every database \
          and internal API of the namespace."),
    denied: doc_text!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: registry.example.com/shop/web:1.4.2\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny-ingress\n  namespace: shop\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: registry.example.com/shop/web:1.4.2\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation",
    ]),
};

/// In a cluster: the NetworkPolicies of the object's namespace.
static READS: &[&ApiKind] = &[&NETWORK_POLICY];

plain_rule!(NamespaceDefaultDenyMissing, META, reads: READS);

fn selects_all(sel: Option<&LabelSelector>) -> bool {
    sel.is_none_or(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    })
}

/// Whether the policy isolates its pods for ingress. Kubernetes defaults
/// omitted `policyTypes` to `Ingress` (plus `Egress` when egress rules exist),
/// so only an explicit list can leave ingress out.
pub fn isolates_ingress(spec: &NetworkPolicySpec) -> bool {
    spec.policy_types
        .as_ref()
        .is_none_or(|t| t.iter().any(|t| t == "Ingress"))
}

/// An empty pod selector, ingress isolation and no ingress rule.
pub fn denies_all_ingress(spec: &NetworkPolicySpec) -> bool {
    selects_all(spec.pod_selector.as_ref())
        && isolates_ingress(spec)
        && spec.ingress.as_ref().is_none_or(|r| r.is_empty())
}

/// Workloads and Services: objects whose namespace has pods worth isolating.
fn holds_pods(obj: &Object<'_>) -> bool {
    match &obj.typed {
        Typed::Workload { .. } => true,
        Typed::Service(spec) => service_type(spec) != "ExternalName",
        _ => false,
    }
}

impl Check for NamespaceDefaultDenyMissing {
    fn needs(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Lookup>) {
        if holds_pods(obj) {
            out.push(Lookup::list(&NETWORK_POLICY, obj.namespace_or_default()));
        }
    }

    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        if !holds_pods(obj) {
            return;
        }
        let ns = obj.namespace_or_default();
        let first = cx.bundle_in(ns).find(|o| holds_pods(o));
        if first.is_some_and(|f| f.index != obj.index) {
            return;
        }
        // a bundle or an inventory without this namespace's NetworkPolicies
        // (a sync of Ingresses only) cannot tell that it has none; a cluster
        // read for them can
        if !cx.knows(NETWORK_POLICY.group, NETWORK_POLICY.kind, ns) {
            return;
        }
        let protected = cx
            .of_kind(NETWORK_POLICY.group, NETWORK_POLICY.kind, ns)
            .any(|o| match &o.typed {
                Typed::NetworkPolicy(spec) => denies_all_ingress(spec),
                _ => false,
            });
        if protected {
            return;
        }
        let path = if obj.namespace.is_some() {
            "/metadata/namespace"
        } else {
            "/metadata"
        };
        let hit = Hit::new(
            path,
            format!(
                "Namespace {ns} has workloads or Services ({} is the first) but no NetworkPolicy that denies \
                 ingress by default: every pod in it accepts connections from any pod in the cluster. Add a \
                 default-deny policy, then allow what each workload needs with its own policies: \
                 {{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {{name: default-deny-ingress, \
                 namespace: {ns}}}, spec: {{podSelector: {{}}, policyTypes: [Ingress]}}}}",
                obj.display_name()
            ),
        );
        // the cause is the namespace's missing policy, not the metadata beside it
        out.push(hit.evidence(format!("namespace {ns}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::rbac_common::run_bundle;
    use serde_json::{json, Value};

    fn svc(ns: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": ns},
               "spec": {"ports": [{"port": 80}]}})
    }

    fn policy(ns: &str, spec: Value) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "p", "namespace": ns}, "spec": spec})
    }

    fn count(docs: &[Value]) -> Vec<usize> {
        run_bundle(&NamespaceDefaultDenyMissing, docs)
            .iter()
            .map(Vec::len)
            .collect()
    }

    /// A policy for some pods only: the namespace's policies are known, and
    /// none of them is a default deny.
    fn some_pods(ns: &str) -> Value {
        policy(ns, json!({"podSelector": {"matchLabels": {"app": "db"}}}))
    }

    #[test]
    fn one_finding_per_namespace_on_its_first_object() {
        assert_eq!(
            count(&[svc("a"), svc("b"), svc("a"), some_pods("a"), some_pods("b")]),
            [1, 1, 0, 0, 0]
        );
        assert_eq!(count(&[svc("a")]), [0]);
    }

    #[test]
    fn a_namespace_whose_policies_are_unknown_is_not_judged() {
        // no NetworkPolicy of namespace a anywhere: nothing says it has none
        assert_eq!(count(&[svc("a"), svc("b"), some_pods("b")]), [0, 1, 0]);
    }

    #[test]
    fn kubernetes_defaulting_of_policy_types() {
        // omitted policyTypes: Ingress is always among them
        let omitted = policy("a", json!({"podSelector": {}, "egress": [{}]}));
        assert_eq!(count(&[svc("a"), omitted]), [0, 0]);
        let egress_only = policy("a", json!({"podSelector": {}, "policyTypes": ["Egress"]}));
        assert_eq!(count(&[svc("a"), egress_only]), [1, 0]);
        assert_eq!(count(&[svc("a"), some_pods("a")]), [1, 0]);
        let allows = policy(
            "a",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}),
        );
        assert_eq!(count(&[svc("a"), allows]), [1, 0]);
        let elsewhere = policy("b", json!({"podSelector": {}}));
        assert_eq!(count(&[svc("a"), some_pods("a"), elsewhere]), [1, 0, 0]);
    }

    fn admission_findings(inventory: Option<&Value>) -> usize {
        let request = json!({
            "request": {
                "uid": "1", "operation": "CREATE", "namespace": "shop",
                "kind": {"group": "", "version": "v1", "kind": "Service"},
                "object": svc("shop")
            },
            "settings": {"rules": {"namespace-default-deny-missing": "deny"}}
        });
        let host = crate::Host {
            settings: None,
            inventory,
        };
        let report = crate::evaluate(&request, host).unwrap();
        report
            .violations
            .iter()
            .filter(|f| f.rule == "namespace-default-deny-missing")
            .count()
    }

    #[test]
    fn admission_reads_the_inventory_and_nothing_else() {
        assert_eq!(admission_findings(None), 0);
        // Gatekeeper's synced data: namespace.<ns>.<groupversion>.<Kind>.<name>
        let protected = json!({"namespace": {"shop": {"networking.k8s.io/v1": {"NetworkPolicy": {
            "default-deny": policy("shop", json!({"podSelector": {}}))}}}}});
        assert_eq!(admission_findings(Some(&protected)), 0);
        // policies of another namespace say nothing about this one's
        let elsewhere = json!({"namespace": {"billing": {"networking.k8s.io/v1": {"NetworkPolicy": {
            "default-deny": policy("billing", json!({"podSelector": {}}))}}}}});
        assert_eq!(admission_findings(Some(&elsewhere)), 0);
        // this namespace's policies are known, and none denies by default
        let unprotected = json!({"namespace": {"shop": {"networking.k8s.io/v1": {"NetworkPolicy": {
            "db": some_pods("shop")}}}}});
        assert_eq!(admission_findings(Some(&unprotected)), 1);
        // a sync of Ingresses only says nothing about NetworkPolicies
        let ingresses = json!({"namespace": {"shop": {"networking.k8s.io/v1": {"Ingress": {
            "web": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "metadata": {"name": "web", "namespace": "shop"}}}}}}});
        assert_eq!(admission_findings(Some(&ingresses)), 0);
    }
}
