//! What an RBAC rule grants, matched the way the Kubernetes authorizer
//! matches it (`*` everywhere, `*/subresource` in resources), so that a grant
//! written with wildcards is caught as surely as one spelled out.

use crate::object::{Object, Typed};
use k8s_openapi::api::rbac::v1::PolicyRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// The kinds the role rules read.
pub const ROLE_KINDS: &[&str] = &[
    "rbac.authorization.k8s.io/Role",
    "rbac.authorization.k8s.io/ClusterRole",
];

/// The kinds the binding rules read.
pub const BINDING_KINDS: &[&str] = &[
    "rbac.authorization.k8s.io/RoleBinding",
    "rbac.authorization.k8s.io/ClusterRoleBinding",
];

/// The Role or ClusterRole rules the authorizer will actually use, with
/// their index. An aggregated ClusterRole has its rules rewritten by the
/// aggregation controller from the roles it selects (which are checked on
/// their own), so whatever its manifest lists never takes effect.
pub fn effective_rules<'o>(obj: &'o Object<'_>) -> impl Iterator<Item = (usize, &'o PolicyRule)> {
    let rules = match &obj.typed {
        Typed::Role { .. } if !aggregation_selectors(obj).is_empty() => &[],
        Typed::Role { rules, .. } => rules.as_slice(),
        _ => &[],
    };
    rules.iter().enumerate()
}

/// The label selectors of an aggregated ClusterRole. The controller
/// aggregates only with at least one selector, and only ClusterRoles: an
/// `aggregationRule` of `{}`, with no selector, leaves the role's own rules
/// in force (a Role cannot carry one at all: see `Object::parse`).
pub fn aggregation_selectors<'o>(obj: &'o Object<'_>) -> &'o [LabelSelector] {
    match &obj.typed {
        Typed::Role {
            aggregation: Some(a),
            ..
        } if obj.kind == "ClusterRole" => a.cluster_role_selectors.as_deref().unwrap_or_default(),
        _ => &[],
    }
}

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or(&[])
}

/// Whether the rule covers this API group (`""` is the core group).
pub fn grants_group(rule: &PolicyRule, group: &str) -> bool {
    list(&rule.api_groups)
        .iter()
        .any(|g| g == "*" || g == group)
}

/// Whether the rule covers this resource (`pods`, `pods/exec`), with the
/// authorizer's `*` and `*/subresource` forms.
pub fn grants_resource(rule: &PolicyRule, resource: &str) -> bool {
    let sub = resource.split_once('/').map(|(_, s)| s);
    list(&rule.resources).iter().any(|r| {
        r == "*"
            || r == resource
            || sub.is_some_and(|s| r.strip_prefix("*/").is_some_and(|rs| rs == s))
    })
}

/// Whether the rule covers this verb.
pub fn grants_verb(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

/// Whether the rule is limited to named objects.
pub fn has_resource_names(rule: &PolicyRule) -> bool {
    !list(&rule.resource_names).is_empty()
}

/// The verbs of `wanted` this rule grants on `group`/`resource`, in order.
pub fn granted_verbs<'w>(
    rule: &PolicyRule,
    group: &str,
    resource: &str,
    wanted: &[&'w str],
) -> Vec<&'w str> {
    if !grants_group(rule, group) || !grants_resource(rule, resource) {
        return Vec::new();
    }
    wanted
        .iter()
        .copied()
        .filter(|v| grants_verb(rule, v))
        .collect()
}

/// `get, list and watch`, for messages.
pub fn show(items: &[&str]) -> String {
    match items.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Runs a check over a bundle, for the rules' unit tests: hits per object.
#[cfg(test)]
pub fn run_bundle(
    check: &dyn crate::rule::Check,
    docs: &[serde_json::Value],
) -> Vec<Vec<crate::rule::Hit>> {
    let objects: Vec<Object<'_>> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| Object::parse(d, i).unwrap())
        .collect();
    let listed = crate::review::Listed::default();
    let cx =
        crate::review::Context::new(&objects, &[], crate::versions::NEWEST_KNOWN, false, &listed);
    objects
        .iter()
        .map(|o| {
            let mut out = Vec::new();
            check.check(o, &cx, &mut out);
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        let v = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect());
        PolicyRule {
            api_groups: v(groups),
            resources: v(resources),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn wildcards_match_as_the_authorizer_does() {
        let r = rule(&[""], &["*/exec"], &["create"]);
        assert!(grants_resource(&r, "pods/exec"));
        assert!(!grants_resource(&r, "pods"));
        assert!(!grants_resource(&r, "pods/attach"));
        let r = rule(&["*"], &["*"], &["*"]);
        assert_eq!(
            granted_verbs(&r, "", "secrets", &["get", "list"]),
            ["get", "list"]
        );
        // `pods/*` is not a form the authorizer knows
        let r = rule(&[""], &["pods/*"], &["create"]);
        assert!(!grants_resource(&r, "pods/exec"));
        let r = rule(&["apps"], &["secrets"], &["get"]);
        assert!(granted_verbs(&r, "", "secrets", &["get"]).is_empty());
    }
}
