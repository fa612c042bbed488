use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::apiserver_flags::{ApiServerFlags, APISERVER_KINDS};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct ApiServerExternalAuthentication;

static META: RuleMeta = RuleMeta {
    id: "apiserver-external-authentication",
    title: "API server without an external identity provider",
    severity: Severity::Medium,
    category: Category::ControlPlane,
    kinds: APISERVER_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("A kube-apiserver with no third-party authentication for people: none of `--oidc-issuer-url`, \
           `--authentication-config` (structured authentication, Kubernetes 1.30+) or \
           `--authentication-token-webhook-config-file`. Flags are read from containers running kube-apiserver \
           in any workload (`command` and `args`, wherever it starts in the argv: directly, behind wrappers (go-runner, flock, `hyperkube apiserver`) or in a shell's `-c` script (`exec kube-apiserver … 2>&1`), both `--flag=value` and `--flag value`) and from kubeadm's \
           `ClusterConfiguration`. A warning in the baseline profile: managed identity can also sit in front \
           of the API server (an authenticating proxy), which the flags do not show."),
    why: doc_text!("Without an identity provider, people use client certificates or static tokens: they cannot \
          be revoked one by one (a certificate is valid until it expires), carry no multi-factor login, and \
          leaving the company does not end access. An OIDC provider or webhook makes access follow the \
          directory."),
    denied: doc_text!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver-cp1\n  namespace: kube-system\nspec:\n  containers:\n    - name: kube-apiserver\n      image: registry.k8s.io/kube-apiserver:v1.34.1\n      command: [kube-apiserver, \"--client-ca-file=/etc/kubernetes/pki/ca.crt\"]\n"),
    allowed: doc_text!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver-cp1\n  namespace: kube-system\nspec:\n  containers:\n    - name: kube-apiserver\n      image: registry.k8s.io/kube-apiserver:v1.34.1\n      command: [kube-apiserver]\n      args: [--oidc-issuer-url, \"https://login.example.com\", --oidc-client-id, kubernetes]\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#openid-connect-tokens",
        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#using-authentication-configuration",
        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#webhook-token-authentication",
    ]),
};

plain_rule!(ApiServerExternalAuthentication, META);

const PROVIDERS: &[&str] = &[
    "oidc-issuer-url",
    "authentication-config",
    "authentication-token-webhook-config-file",
];

impl Check for ApiServerExternalAuthentication {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for flags in ApiServerFlags::of(obj, cx).iter() {
            if PROVIDERS.iter().any(|p| flags.has(p)) {
                continue;
            }
            out.push(Hit::new(
                flags.path("authentication-config"),
                format!(
                    "{} authenticates people with no external identity provider (no --oidc-issuer-url, \
                     --authentication-config or --authentication-token-webhook-config-file): client certificates \
                     and static tokens cannot be revoked one by one nor follow the directory. Configure OIDC, \
                     e.g. {}.",
                    flags.subject,
                    flags.spelling("authentication-config", "/etc/kubernetes/authentication.yaml")
                ),
            ));
        }
    }
}
