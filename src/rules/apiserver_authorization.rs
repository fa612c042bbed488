use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::apiserver_flags::{list, ApiServerFlags, APISERVER_KINDS};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct ApiServerAuthorization;

static META: RuleMeta = RuleMeta {
    id: "apiserver-authorization",
    title: "API server authorization without RBAC or with AlwaysAllow",
    severity: Severity::Critical,
    category: Category::ControlPlane,
    kinds: APISERVER_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("A kube-apiserver whose `--authorization-mode` lists `AlwaysAllow`, or does not list `RBAC`; \
           an unset mode is kube-apiserver's default, `AlwaysAllow`, while kubeadm writes `Node,RBAC` unless \
           `extraArgs` overrides it. A structured authorization configuration file (`--authorization-config`, \
           Kubernetes 1.30+, which excludes `--authorization-mode`) counts as configured: its authorizer chain \
           is not read. Flags are read from containers running kube-apiserver in any workload \
           (`command` and `args`, wherever it starts in the argv: directly, behind wrappers (go-runner, flock, `hyperkube apiserver`) or in a shell's `-c` script (`exec kube-apiserver … 2>&1`), both `--flag=value` and `--flag value`) and from kubeadm's `ClusterConfiguration`."),
    why: doc_text!("`AlwaysAllow` grants every authenticated (and, with anonymous authentication, every \
          unauthenticated) request everything, and placed anywhere in the chain it answers for all requests the \
          authorizers before it do not deny. Without RBAC, Roles and RoleBindings are ignored, and the least \
          privilege they describe is not enforced."),
    denied: doc_text!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver-cp1\n  namespace: kube-system\nspec:\n  containers:\n    - name: kube-apiserver\n      image: registry.k8s.io/kube-apiserver:v1.34.1\n      command: [kube-apiserver]\n      args: [\"--authorization-mode\", \"AlwaysAllow\"]\n"),
    allowed: doc_text!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver-cp1\n  namespace: kube-system\nspec:\n  containers:\n    - name: kube-apiserver\n      image: registry.k8s.io/kube-apiserver:v1.34.1\n      command: [kube-apiserver, \"--authorization-mode=Node,RBAC\"]\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/reference/access-authn-authz/authorization/#authorization-modules",
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/",
    ]),
};

plain_rule!(ApiServerAuthorization, META);

impl Check for ApiServerAuthorization {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for flags in ApiServerFlags::of(obj, cx).iter() {
            if flags.has("authorization-config") {
                continue;
            }
            let fix = flags.spelling("authorization-mode", "Node,RBAC");
            let Some(mode) = flags
                .get("authorization-mode")
                .filter(|s| !s.value.trim().is_empty())
            else {
                out.push(Hit::new(
                    flags.path("authorization-mode"),
                    format!(
                        "{} does not set --authorization-mode, which defaults to AlwaysAllow: every request is \
                         allowed and RBAC is not enforced. Set {fix}.",
                        flags.subject
                    ),
                ));
                continue;
            };
            let modes: Vec<&str> = list(mode.value).collect();
            let source = if mode.defaulted {
                " (kubeadm's default)"
            } else {
                ""
            };
            if modes.iter().any(|m| m.eq_ignore_ascii_case("AlwaysAllow")) {
                out.push(Hit::new(
                    mode.path,
                    format!(
                        "{} sets --authorization-mode to `{}`: AlwaysAllow allows every request the authorizers \
                         before it do not deny. Remove AlwaysAllow: set {fix}.",
                        flags.subject, mode.value
                    ),
                ));
            }
            if !modes.contains(&"RBAC") {
                out.push(Hit::new(
                    mode.path,
                    format!(
                        "{} sets --authorization-mode to `{}`{source} without RBAC: Roles and RoleBindings are \
                         not enforced. Set {fix}.",
                        flags.subject, mode.value
                    ),
                ));
            }
        }
    }
}
