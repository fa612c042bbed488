use crate::error::Error;
use crate::object::{Object, Typed};
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::rules::rbac_common::BINDING_KINDS;
use crate::{doc_refs, doc_text};

pub struct RbacAnonymousSubject;

static META: RuleMeta = RuleMeta {
    id: "rbac-anonymous-subject",
    title: "Binding grants a role to anonymous users",
    severity: Severity::Critical,
    category: Category::Access,
    kinds: BINDING_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[
        ParamDoc {
            name: "includeAuthenticated",
            kind: "bool",
            default: "false",
            help: "also report the group `system:authenticated` (every user and service account with any credential)",
        },
        ParamDoc {
            name: "allowedRoles",
            kind: "string list",
            default: "[]",
            help: "names of the roles (roleRef.name, exact) such bindings may grant",
        },
    ],
    what: doc_text!("RoleBindings and ClusterRoleBindings with a subject `system:anonymous` or `system:unauthenticated` \
           (of kind User or Group; names match exactly), and with `includeAuthenticated: true` the group \
           `system:authenticated`. One finding per such subject. Bindings to a role named in `allowedRoles` are \
           allowed, and so are bindings to the API server's own bootstrap ClusterRoles that only expose health, \
           version, discovery and self-review (`system:public-info-viewer`, `system:discovery`, \
           `system:basic-user`)."),
    why: doc_text!("Requests without credentials reach the API server as `system:anonymous` in the group \
          `system:unauthenticated` whenever anonymous authentication is on, as it is by default. Whatever a \
          binding grants them, anyone who can reach the API server gets, with no identity to audit or revoke. \
          `system:authenticated` is nearly as wide: every service account token of every namespace is in it."),
    denied: doc_text!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: public-read\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: view\nsubjects:\n  - apiGroup: rbac.authorization.k8s.io\n    kind: Group\n    name: system:unauthenticated\n"),
    allowed: doc_text!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: support-read\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: view\nsubjects:\n  - apiGroup: rbac.authorization.k8s.io\n    kind: Group\n    name: support-team\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests",
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#discovery-roles",
        "https://kubernetes.io/docs/concepts/security/rbac-good-practices/",
    ]),
};

/// The API server's own bootstrap ClusterRoles that it binds to these groups:
/// health, version, discovery and self-review only. Always allowed, so that a
/// cluster's exported state does not fail on its own defaults.
const BUILTIN_ROLES: &[&str] = &[
    "system:public-info-viewer",
    "system:discovery",
    "system:basic-user",
];

struct Configured {
    include_authenticated: bool,
    allowed_roles: Vec<String>,
}

impl Rule for RbacAnonymousSubject {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        Ok(Box::new(Configured {
            include_authenticated: p.bool("includeAuthenticated", false)?,
            allowed_roles: p.strings("allowedRoles")?,
        }))
    }
}

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Typed::Binding { role_ref, subjects } = &obj.typed else {
            return;
        };
        let builtin =
            role_ref.kind == "ClusterRole" && BUILTIN_ROLES.contains(&role_ref.name.as_str());
        if builtin || self.allowed_roles.contains(&role_ref.name) {
            return;
        }
        for (i, s) in subjects.iter().enumerate() {
            if !matches!(s.kind.as_str(), "User" | "Group") {
                continue;
            }
            let who = match s.name.as_str() {
                "system:anonymous" | "system:unauthenticated" => {
                    "every request without credentials"
                }
                "system:authenticated" if self.include_authenticated => {
                    "every user and every service account of every namespace"
                }
                _ => continue,
            };
            out.push(Hit::new(
                format!("/subjects/{i}"),
                format!(
                    "{} grants {} {} to {} `{}`, that is {who}: anyone who can reach the API server gets it \
                     with no identity to audit or revoke. Bind the role to the users, groups or service \
                     accounts that need it, or name the role in allowedRoles if it only exposes public \
                     information.",
                    obj.display_name(),
                    role_ref.kind,
                    role_ref.name,
                    s.kind,
                    s.name
                ),
            ));
        }
    }
}
