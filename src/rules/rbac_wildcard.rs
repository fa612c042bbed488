use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::rbac_common::ROLE_KINDS;
use crate::rules::rbac_common::{aggregation_selectors, effective_rules};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct RbacWildcard;

static META: RuleMeta = RuleMeta {
    id: "rbac-wildcard",
    title: "RBAC rule with a wildcard",
    severity: Severity::High,
    category: Category::Access,
    kinds: ROLE_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Every rule of a Role or ClusterRole (not only the first) whose `verbs`, `resources`, `apiGroups` or \
           `nonResourceURLs` contain `*`. One finding per offending rule, at the first wildcarded field. \
           The rules of an aggregated ClusterRole (one with at least one `aggregationRule` selector) are \
           skipped: the aggregation controller replaces them with those of the roles it selects, and those \
           roles are checked themselves. An aggregation selector that is empty selects every ClusterRole, \
           cluster-admin included, and is a wildcard itself. An `aggregationRule` without selectors \
           aggregates nothing, so the role's own rules are checked."),
    why: doc_text!("A wildcard grants every verb, resource or API group that exists today and every one added later, \
          custom resources and subresources such as `pods/exec` included, and `*` verbs include `escalate`, \
          `bind` and `impersonate`. What a role can do should be readable from the role."),
    denied: doc_text!("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: deployer\n  namespace: shop\nrules:\n  - apiGroups: [\"\"]\n    resources: [configmaps]\n    verbs: [get]\n  - apiGroups: [apps]\n    resources: [\"*\"]\n    verbs: [\"*\"]\n"),
    allowed: doc_text!("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: deployer\n  namespace: shop\nrules:\n  - apiGroups: [\"\"]\n    resources: [configmaps]\n    verbs: [get]\n  - apiGroups: [apps]\n    resources: [deployments]\n    verbs: [get, list, watch, update, patch]\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege",
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#aggregated-clusterroles",
    ]),
};

plain_rule!(RbacWildcard, META);

const FIELDS: &[&str] = &["verbs", "resources", "apiGroups", "nonResourceURLs"];

impl Check for RbacWildcard {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        // an empty selector is a wildcard over roles: it selects every ClusterRole
        for (i, sel) in aggregation_selectors(obj).iter().enumerate() {
            let narrows = sel.match_labels.as_ref().is_some_and(|m| !m.is_empty())
                || sel
                    .match_expressions
                    .as_ref()
                    .is_some_and(|e| !e.is_empty());
            if !narrows {
                out.push(Hit::new(
                    format!("/aggregationRule/clusterRoleSelectors/{i}"),
                    format!(
                        "{} aggregates with selector #{i}, which selects every ClusterRole: the role ends up \
                         holding the rules of all of them, cluster-admin's `*` included. Select the roles to \
                         aggregate by a label only they carry.",
                        obj.display_name()
                    ),
                ));
            }
        }
        for (i, rule) in effective_rules(obj) {
            let star = |l: Option<&Vec<String>>| l.is_some_and(|l| l.iter().any(|v| v == "*"));
            let flagged: Vec<&str> = FIELDS
                .iter()
                .copied()
                .zip([
                    star(Some(&rule.verbs)),
                    star(rule.resources.as_ref()),
                    star(rule.api_groups.as_ref()),
                    star(rule.non_resource_urls.as_ref()),
                ])
                .filter_map(|(f, hit)| hit.then_some(f))
                .collect();
            let Some(first) = flagged.first() else {
                continue;
            };
            let reach = if flagged == ["nonResourceURLs"] {
                "every non-resource URL of the API server, debug and metrics endpoints included, now and \
                 in later versions"
            } else {
                "everything that exists now and everything added later: custom resources, subresources \
                 such as pods/exec, verbs such as escalate and impersonate"
            };
            out.push(Hit::new(
                format!("/rules/{i}/{first}"),
                format!(
                    "{} rule #{i} has `*` in {}: it grants {reach}. List the verbs, resources and API groups \
                     (or URLs) the role needs.",
                    obj.display_name(),
                    flagged.join(" and ")
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

    fn hits(v: serde_json::Value) -> Vec<Hit> {
        run_bundle(&RbacWildcard, &[v]).remove(0)
    }

    #[test]
    fn every_rule_is_read_and_reported_at_its_field() {
        let h = hits(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "ops"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                {"apiGroups": ["*"], "resources": ["deployments"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}
            ]
        }));
        let paths: Vec<&str> = h.iter().map(|h| h.path.as_str()).collect();
        assert_eq!(paths, ["/rules/1/apiGroups", "/rules/2/verbs"]);
        assert!(h[1].message.contains("verbs and resources"));
    }

    #[test]
    fn aggregated_roles_are_left_to_their_sources() {
        let h = hits(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "monitoring"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-monitoring": "true"}}]},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
        }));
        assert!(h.is_empty());
    }
}
