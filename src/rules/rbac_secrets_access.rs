use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::rbac_common::ROLE_KINDS;
use crate::rules::rbac_common::{effective_rules, granted_verbs, has_resource_names, show};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct RbacSecretsAccess;

static META: RuleMeta = RuleMeta {
    id: "rbac-secrets-access",
    title: "RBAC rule that reads Secrets",
    severity: Severity::High,
    category: Category::Access,
    kinds: ROLE_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Rules of a Role or ClusterRole that grant `get`, `list` or `watch` on `secrets` in the core API group, \
           spelled out or through `*` in verbs, resources or apiGroups. One finding per offending rule. A rule \
           limited by `resourceNames` to named Secrets is allowed: that is the narrow grant this rule asks for. \
           ClusterRoles aggregated by a label selector are left to the roles they aggregate."),
    why: doc_text!("Secrets hold credentials: service account tokens, TLS keys, database passwords, cloud keys. `list` and \
          `watch` return every Secret's content, not only their names, so a role that can list Secrets in a \
          namespace holds every credential of that namespace (and of the cluster, for a ClusterRole bound \
          cluster-wide), including tokens of service accounts more privileged than itself."),
    denied: doc_text!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: config-reader\nrules:\n  - apiGroups: [\"\"]\n    resources: [configmaps, secrets]\n    verbs: [get, list, watch]\n"),
    allowed: doc_text!("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: config-reader\n  namespace: shop\nrules:\n  - apiGroups: [\"\"]\n    resources: [configmaps]\n    verbs: [get, list, watch]\n  - apiGroups: [\"\"]\n    resources: [secrets]\n    resourceNames: [shop-db-credentials]\n    verbs: [get]\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/security/rbac-good-practices/#listing-secrets",
        "https://kubernetes.io/docs/concepts/configuration/secret/#least-privilege-secrets",
    ]),
};

plain_rule!(RbacSecretsAccess, META);

const READ_VERBS: &[&str] = &["get", "list", "watch"];

impl Check for RbacSecretsAccess {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (i, rule) in effective_rules(obj) {
            if has_resource_names(rule) {
                continue;
            }
            let verbs = granted_verbs(rule, "", "secrets", READ_VERBS);
            if verbs.is_empty() {
                continue;
            }
            let reach = if obj.kind == "ClusterRole" {
                "every namespace it is bound for (all of them through a ClusterRoleBinding)"
            } else {
                "its namespace"
            };
            let wide = if verbs.iter().any(|v| *v != "get") {
                " list and watch return every Secret's content, not only names;"
            } else {
                ""
            };
            out.push(Hit::new(
                format!("/rules/{i}/resources"),
                format!(
                    "{} rule #{i} grants {} on Secrets in {reach}:{wide} whoever holds it holds every \
                     credential stored there, service account tokens included. Grant `get` on the Secrets \
                     it needs by `resourceNames`, or mount them into the pods that use them.",
                    obj.display_name(),
                    show(&verbs)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::rbac_common::run_bundle;
    use serde_json::json;

    fn paths(rules: serde_json::Value) -> Vec<String> {
        let role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "r", "namespace": "shop"}, "rules": rules
        });
        run_bundle(&RbacSecretsAccess, &[role])
            .remove(0)
            .into_iter()
            .map(|h| h.path)
            .collect()
    }

    #[test]
    fn wildcards_and_groups() {
        // only the core group holds Secrets
        assert!(
            paths(json!([{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]}]))
                .is_empty()
        );
        assert!(paths(
            json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete"]}])
        )
        .is_empty());
        assert_eq!(
            paths(json!([
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                {"apiGroups": ["*"], "resources": ["secrets"], "verbs": ["watch"]},
                {"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}
            ])),
            ["/rules/1/resources", "/rules/2/resources"]
        );
        assert!(paths(json!([{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["db"], "verbs": ["get"]}])).is_empty());
    }
}
