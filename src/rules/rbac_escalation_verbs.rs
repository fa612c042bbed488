use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::rbac_common::ROLE_KINDS;
use crate::rules::rbac_common::{
    effective_rules, grants_group, grants_resource, grants_verb, show,
};
use crate::{doc_refs, doc_text};
use k8s_openapi::api::rbac::v1::PolicyRule;

#[derive(Default)]
pub struct RbacEscalationVerbs;

static META: RuleMeta = RuleMeta {
    id: "rbac-escalation-verbs",
    title: "RBAC rule that lets its holder escalate",
    severity: Severity::High,
    category: Category::Access,
    kinds: ROLE_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Rules of a Role or ClusterRole that grant the verbs `escalate`, `bind` or `impersonate` (named on any \
           resource, or through `*` verbs on the resources they act on: roles and clusterroles, users, groups, \
           serviceaccounts, uids, userextras), or `create` on `pods/exec`, `pods/attach` or `pods/portforward` \
           (spelled out, or through `*` verbs, `*` or `*/exec` resources and the `*` API group). Before \
           Kubernetes 1.35 (`kubernetesVersion`) a WebSocket exec, attach or port-forward needs only `get` on \
           those subresources, so `get` counts there too. One finding per offending rule. ClusterRoles \
           aggregated by a label selector are left to the roles they aggregate."),
    why: doc_text!("These permissions are worth more than they look. `escalate` lets a subject write roles granting more \
          than it holds; `bind` lets it bind any existing role, cluster-admin included, to itself; `impersonate` \
          lets it act as any user, group or service account; exec and attach run commands inside pods with \
          their service account tokens and mounted Secrets. Each is a path to cluster-admin."),
    denied: doc_text!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: debugger\nrules:\n  - apiGroups: [\"\"]\n    resources: [pods, pods/log]\n    verbs: [get, list]\n  - apiGroups: [\"\"]\n    resources: [pods/exec]\n    verbs: [create]\n"),
    allowed: doc_text!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: debugger\nrules:\n  - apiGroups: [\"\"]\n    resources: [pods, pods/log]\n    verbs: [get, list]\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/security/rbac-good-practices/#privilege-escalation-risks",
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#restrictions-on-role-creation-or-update",
        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation",
    ]),
};

plain_rule!(RbacEscalationVerbs, META);

/// Each escalation verb with the (group, resource) pairs it acts on, which a
/// `*` verb only reaches through those resources.
const VERB_TARGETS: &[(&str, &[(&str, &str)])] = &[
    (
        "escalate",
        &[
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
        ],
    ),
    (
        "bind",
        &[
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
        ],
    ),
    (
        "impersonate",
        &[
            ("", "users"),
            ("", "groups"),
            ("", "serviceaccounts"),
            ("authentication.k8s.io", "uids"),
            ("authentication.k8s.io", "userextras/scopes"),
        ],
    ),
];

/// Pod subresources that reach into a running pod.
const POD_ENTRY: &[&str] = &["pods/exec", "pods/attach", "pods/portforward"];

/// The first release whose API server wants `create`, not `get`, for a
/// WebSocket exec, attach or port-forward.
const WEBSOCKET_NEEDS_CREATE: (u32, u32) = (1, 35);

/// What the rule grants of the escalation paths, for the message, on a
/// cluster of the target version.
fn escalations(rule: &PolicyRule, version: (u32, u32)) -> Vec<String> {
    let mut found = Vec::new();
    for (verb, targets) in VERB_TARGETS {
        let named = rule.verbs.iter().any(|v| v == verb);
        let through_star = rule.verbs.iter().any(|v| v == "*")
            && targets
                .iter()
                .any(|(g, r)| grants_group(rule, g) && reaches(rule, r));
        if named || through_star {
            found.push((*verb).to_string());
        }
    }
    if grants_group(rule, "") {
        let verbs: &[&str] = if version < WEBSOCKET_NEEDS_CREATE {
            &["create", "get"]
        } else {
            &["create"]
        };
        for sub in POD_ENTRY {
            if !grants_resource(rule, sub) {
                continue;
            }
            if let Some(verb) = verbs.iter().find(|v| grants_verb(rule, v)) {
                found.push(format!("{verb} {sub}"));
            }
        }
    }
    found
}

/// Like `grants_resource`, with any `userextras/<key>` standing for all of
/// them (each extra key is its own subresource).
fn reaches(rule: &PolicyRule, resource: &str) -> bool {
    if resource.starts_with("userextras/") {
        return rule
            .resources
            .iter()
            .flatten()
            .any(|r| r == "*" || r.starts_with("userextras/"));
    }
    grants_resource(rule, resource)
}

impl Check for RbacEscalationVerbs {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (i, rule) in effective_rules(obj) {
            let found = escalations(rule, cx.kubernetes_version);
            if found.is_empty() {
                continue;
            }
            let mut how: Vec<&str> = Vec::new();
            for f in &found {
                let h = match f.as_str() {
                    "escalate" => "writing roles that grant more than it holds",
                    "bind" => "binding any role to anyone, cluster-admin included",
                    "impersonate" => "acting as other users, groups or service accounts",
                    f if f.ends_with("pods/portforward") => {
                        "connecting to any port of the pods, around Services and NetworkPolicies"
                    }
                    _ => "running commands inside pods, with their service account tokens and Secrets",
                };
                if !how.contains(&h) {
                    how.push(h);
                }
            }
            let found: Vec<&str> = found.iter().map(String::as_str).collect();
            out.push(Hit::new(
                format!("/rules/{i}/verbs"),
                format!(
                    "{} rule #{i} grants {}, that is {}: a path from this role to cluster-admin. Keep these \
                     permissions to the few administrators and controllers that need them, and scope them by \
                     resourceNames where the API allows.",
                    obj.display_name(),
                    show(&found),
                    show(&how)
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

    fn found(rule: serde_json::Value) -> Vec<String> {
        found_at(rule, WEBSOCKET_NEEDS_CREATE)
    }

    fn found_at(rule: serde_json::Value, version: (u32, u32)) -> Vec<String> {
        let rule: PolicyRule = serde_json::from_value(rule).unwrap();
        escalations(&rule, version)
    }

    #[test]
    fn named_verbs_count_on_any_resource() {
        assert_eq!(
            found(
                json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind", "escalate"]})
            ),
            ["escalate", "bind"]
        );
        assert_eq!(
            found(
                json!({"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["alice"]})
            ),
            ["impersonate"]
        );
    }

    #[test]
    fn star_verbs_count_only_where_they_reach() {
        assert!(
            found(json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}))
                .is_empty()
        );
        assert_eq!(
            found(json!({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["*"]})),
            ["impersonate"]
        );
        assert_eq!(
            found(json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})),
            [
                "escalate",
                "bind",
                "impersonate",
                "create pods/exec",
                "create pods/attach",
                "create pods/portforward"
            ]
        );
        assert_eq!(
            found(json!({"apiGroups": [""], "resources": ["*/attach"], "verbs": ["create"]})),
            ["create pods/attach"]
        );
        // pods/exec lives in the core group only
        assert!(found(
            json!({"apiGroups": ["apps"], "resources": ["pods/exec"], "verbs": ["create"]})
        )
        .is_empty());
    }

    #[test]
    fn get_reaches_into_pods_before_1_35() {
        let read = json!({"apiGroups": [""], "resources": ["pods/exec", "pods/attach", "pods/portforward"], "verbs": ["get"]});
        assert_eq!(
            found_at(read.clone(), (1, 34)),
            ["get pods/exec", "get pods/attach", "get pods/portforward"]
        );
        assert!(found_at(read, (1, 35)).is_empty());
        assert_eq!(
            found(
                json!({"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create"]})
            ),
            ["create pods/portforward"]
        );
    }

    #[test]
    fn the_last_rule_is_read() {
        let role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "r", "namespace": "shop"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}
            ]
        });
        let h = run_bundle(&RbacEscalationVerbs, &[role]).remove(0);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].path, "/rules/1/verbs");
    }
}
