use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::apiserver_flags::{ApiServerFlags, APISERVER_KINDS};
use crate::rules::go_parse_bool;
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct ApiServerAnonymousAuth;

static META: RuleMeta = RuleMeta {
    id: "apiserver-anonymous-auth",
    title: "API server accepts anonymous requests",
    severity: Severity::High,
    category: Category::ControlPlane,
    kinds: APISERVER_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("A kube-apiserver whose `--anonymous-auth` is not false (read as Go reads booleans: `false`, \
           `0`, `f`…): unset (the default is true), `true`, or bare `--anonymous-auth`. Flags are read from every container running kube-apiserver (a \
           static Pod in kube-system, or any workload, a self-hosted DaemonSet included: `command` and `args`, \
           wherever it starts in the argv: directly, behind wrappers (go-runner, flock, `hyperkube apiserver`) or in a shell's `-c` script (`exec kube-apiserver … 2>&1`), `--flag=value` and `--flag value`, the last one wins) and from kubeadm's `ClusterConfiguration` (`apiServer.extraArgs`, a map up to \
           v1beta3 and a list of `{name, value}` from v1beta4). Boolean flags take their value only after `=`: \
           `--anonymous-auth false` leaves anonymous access on (and the stray `false` stops the server from \
           starting). When `--authentication-config` is given and `--anonymous-auth` is not, anonymous access \
           is configured in that file (`anonymous.enabled` and `conditions`, Kubernetes 1.32+), which is not \
           read, so nothing is reported."),
    why: doc_text!("With anonymous authentication on, every request without credentials runs as \
          `system:anonymous` in the group `system:unauthenticated`: one careless RoleBinding to either (or an \
          authorizer that allows too much) opens the API to anyone who can reach it. Health checks that need \
          anonymous access can keep it for `/livez`, `/readyz` and `/healthz` only, through the structured \
          authentication configuration."),
    denied: doc_text!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver-cp1\n  namespace: kube-system\nspec:\n  containers:\n    - name: kube-apiserver\n      image: registry.k8s.io/kube-apiserver:v1.34.1\n      command:\n        - kube-apiserver\n        - --authorization-mode=Node,RBAC\n"),
    allowed: doc_text!("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    - name: anonymous-auth\n      value: \"false\"\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests",
        "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/",
    ]),
};

plain_rule!(ApiServerAnonymousAuth, META);

impl Check for ApiServerAnonymousAuth {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for flags in ApiServerFlags::of(obj, cx).iter() {
            let fix = flags.spelling("anonymous-auth", "false");
            let message = match flags.get("anonymous-auth") {
                Some(s) if go_parse_bool(s.value) == Some(false) => continue,
                None if flags.has("authentication-config") => continue,
                None => format!(
                    "{} does not set --anonymous-auth, which defaults to true: requests without credentials are \
                     served as system:anonymous. Set {fix} (or restrict anonymous access to the health \
                     endpoints in the authentication configuration).",
                    flags.subject
                ),
                Some(s) if s.bare => format!(
                    "{} sets a bare --anonymous-auth, which means true: requests without credentials are served \
                     as system:anonymous. A boolean flag takes its value only after `=`: set {fix}.",
                    flags.subject
                ),
                Some(s) => format!(
                    "{} sets --anonymous-auth to `{}`: requests without credentials are served as \
                     system:anonymous. Set {fix}.",
                    flags.subject, s.value
                ),
            };
            out.push(Hit::new(flags.path("anonymous-auth"), message));
        }
    }
}
