use crate::error::Error;
use crate::object::{Object, Typed};
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::rules::rbac_common::BINDING_KINDS;
use crate::{doc_refs, doc_text};
use k8s_openapi::api::rbac::v1::Subject;

pub struct RbacClusterAdminBinding;

static META: RuleMeta = RuleMeta {
    id: "rbac-cluster-admin-binding",
    title: "Binding to the cluster-admin ClusterRole",
    severity: Severity::High,
    category: Category::Access,
    kinds: BINDING_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[ParamDoc {
        name: "allowedSubjects",
        kind: "string list",
        default: "[]",
        help: "subjects that may hold cluster-admin, as `User:<name>`, `Group:<name>` or \
               `ServiceAccount:<namespace>/<name>` (exact)",
    }],
    what: doc_text!("RoleBindings and ClusterRoleBindings whose `roleRef` is the ClusterRole `cluster-admin`: one finding \
           per subject, unless the subject is listed in `allowedSubjects`. The group `system:masters` is never \
           reported: its members bypass authorization altogether, so the built-in `cluster-admin` binding to it \
           grants nothing more. A RoleBinding to `cluster-admin` is reported too: it gives full control of its \
           namespace."),
    why: doc_text!("cluster-admin can do anything to any object: read every Secret, run anything on any node, and grant \
          itself or others any permission. Each binding to it is one more credential whose theft is the loss of \
          the cluster; people and controllers should hold roles that list what they need."),
    denied: doc_text!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: ci-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n  - kind: ServiceAccount\n    name: deployer\n    namespace: ci\n"),
    allowed: doc_text!("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: ci-deployer\n  namespace: shop\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: edit\nsubjects:\n  - kind: ServiceAccount\n    name: deployer\n    namespace: ci\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles",
        "https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege",
    ]),
};

/// Members of this group are let through before RBAC is consulted.
const SUPERUSER_GROUP: &str = "system:masters";

#[derive(Debug, PartialEq, Eq)]
enum Allowed {
    User(String),
    Group(String),
    ServiceAccount { namespace: String, name: String },
}

fn parse_subject(s: &str) -> Result<Allowed, String> {
    let (kind, name) = s.split_once(':').ok_or_else(|| {
        format!("`{s}` is not `User:<name>`, `Group:<name>` or `ServiceAccount:<namespace>/<name>`")
    })?;
    if name.is_empty() {
        return Err(format!("`{s}` names no subject after `{kind}:`"));
    }
    match kind {
        "User" => Ok(Allowed::User(name.to_string())),
        "Group" => Ok(Allowed::Group(name.to_string())),
        "ServiceAccount" => match name.split_once('/') {
            Some((ns, n)) if !ns.is_empty() && !n.is_empty() => Ok(Allowed::ServiceAccount {
                namespace: ns.to_string(),
                name: n.to_string(),
            }),
            _ => Err(format!(
                "`{s}`: a service account is written `ServiceAccount:<namespace>/<name>`"
            )),
        },
        other => Err(format!(
            "`{other}` is not a subject kind (User, Group or ServiceAccount)"
        )),
    }
}

struct Configured {
    allowed: Vec<Allowed>,
}

impl Rule for RbacClusterAdminBinding {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        let list = p.strings("allowedSubjects")?;
        let allowed = list
            .iter()
            .enumerate()
            .map(|(i, s)| {
                parse_subject(s)
                    .map_err(|m| Error::settings(p.key(&format!("allowedSubjects[{i}]")), m))
            })
            .collect::<Result<_, _>>()?;
        Ok(Box::new(Configured { allowed }))
    }
}

impl Configured {
    fn allows(&self, s: &Subject, binding_ns: Option<&str>) -> bool {
        match s.kind.as_str() {
            "Group" if s.name == SUPERUSER_GROUP => true,
            "User" => self.allowed.contains(&Allowed::User(s.name.clone())),
            "Group" => self.allowed.contains(&Allowed::Group(s.name.clone())),
            "ServiceAccount" => {
                // in a RoleBinding the namespace may be left to the binding's own
                let ns = s.namespace.as_deref().or(binding_ns).unwrap_or_default();
                self.allowed.iter().any(|a| {
                    matches!(a, Allowed::ServiceAccount { namespace, name }
                        if *namespace == ns && *name == s.name)
                })
            }
            _ => false,
        }
    }
}

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Typed::Binding { role_ref, subjects } = &obj.typed else {
            return;
        };
        if role_ref.kind != "ClusterRole" || role_ref.name != "cluster-admin" {
            return;
        }
        let reach = match (obj.kind, obj.namespace) {
            ("RoleBinding", Some(ns)) => format!(
                "full control of namespace {ns}: every Secret, workload, Role and RoleBinding in it"
            ),
            ("RoleBinding", None) => {
                "full control of its namespace: every Secret, workload, Role and RoleBinding in it"
                    .to_string()
            }
            _ => "full control of the whole cluster: every Secret, every node, and the power to grant \
                  any permission"
                .to_string(),
        };
        for (i, s) in subjects.iter().enumerate() {
            if self.allows(s, obj.namespace) {
                continue;
            }
            let who = match (&s.kind[..], &s.namespace) {
                ("ServiceAccount", Some(ns)) => format!("ServiceAccount {ns}/{}", s.name),
                _ => format!("{} {}", s.kind, s.name),
            };
            out.push(Hit::new(
                format!("/subjects/{i}"),
                format!(
                    "{} gives {who} the cluster-admin ClusterRole, that is {reach}. Bind a role that lists \
                     only what {who} needs (the built-in admin, edit or view roles, or your own), or add it \
                     to allowedSubjects if it must be a cluster administrator.",
                    obj.display_name()
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_with_colons_in_names() {
        assert_eq!(
            parse_subject("Group:system:nodes"),
            Ok(Allowed::Group("system:nodes".into()))
        );
        assert_eq!(
            parse_subject("ServiceAccount:argocd/argocd-server"),
            Ok(Allowed::ServiceAccount {
                namespace: "argocd".into(),
                name: "argocd-server".into()
            })
        );
        assert!(parse_subject("ServiceAccount:argocd-server").is_err());
        assert!(parse_subject("alice").is_err());
        assert!(parse_subject("Robot:alice").is_err());
    }

    #[test]
    fn a_bad_entry_names_its_key() {
        let e = crate::Policy::from_settings(Some(&serde_json::json!({
            "rules": {"rbac-cluster-admin-binding": {"allowedSubjects": ["User:alice", "bob"]}}
        })))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("rules.rbac-cluster-admin-binding.allowedSubjects[1]"),
            "{e}"
        );
    }
}
