use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::apiserver_flags::{ApiServerFlags, APISERVER_KINDS};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct ApiServerTls;

static META: RuleMeta = RuleMeta {
    id: "apiserver-tls",
    title: "API server TLS incomplete or plaintext port open",
    severity: Severity::High,
    category: Category::ControlPlane,
    kinds: APISERVER_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("A kube-apiserver that serves or calls without proper TLS, one finding per problem: no \
           `--tls-cert-file` or no `--tls-private-key-file` (it then serves a self-signed certificate it \
           generates); an insecure port (`--insecure-port` other than 0, or any `--insecure-bind-address`; \
           both flags were removed in Kubernetes 1.24 but old manifests still carry them); a \
           `--tls-min-version` below `VersionTLS12`; no `--kubelet-client-certificate` or no \
           `--kubelet-client-key` (calls to kubelets, for logs and exec, are then made without a client \
           certificate). kubeadm's `ClusterConfiguration` gets the certificate flags from kubeadm itself, so \
           only its `extraArgs` overrides are judged there."),
    why: doc_text!("The insecure port serves the whole API over plain HTTP with no authentication or \
          authorization at all. A self-signed serving certificate teaches clients to skip verification, TLS 1.0 \
          and 1.1 have known weaknesses, and without a client certificate for the kubelets any process that \
          can reach a kubelet's port can pose as the API server's peer, or the kubelets must accept anonymous \
          calls."),
    denied: doc_text!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver-cp1\n  namespace: kube-system\nspec:\n  containers:\n    - name: kube-apiserver\n      image: registry.k8s.io/kube-apiserver:v1.22.17\n      command:\n        - kube-apiserver\n        - --insecure-port=8080\n        - --tls-min-version=VersionTLS10\n"),
    allowed: doc_text!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver-cp1\n  namespace: kube-system\nspec:\n  containers:\n    - name: kube-apiserver\n      image: registry.k8s.io/kube-apiserver:v1.34.1\n      command:\n        - kube-apiserver\n        - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt\n        - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key\n        - --tls-min-version=VersionTLS12\n        - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt\n        - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/security/controlling-access/#transport-security",
        "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/",
        "https://kubernetes.io/docs/concepts/architecture/control-plane-node-communication/#api-server-to-kubelet",
    ]),
};

plain_rule!(ApiServerTls, META);

/// Flags that must be set, and what their absence means.
const REQUIRED: &[(&str, &str)] = &[
    (
        "tls-cert-file",
        "it serves a self-signed certificate it generates itself, which clients cannot verify",
    ),
    (
        "tls-private-key-file",
        "it serves a self-signed certificate it generates itself, which clients cannot verify",
    ),
    (
        "kubelet-client-certificate",
        "its calls to kubelets (logs, exec, port-forward) carry no client certificate",
    ),
    (
        "kubelet-client-key",
        "its calls to kubelets (logs, exec, port-forward) carry no client certificate",
    ),
];

/// TLS versions below 1.2, as Go's crypto/tls names them.
const WEAK_TLS: &[&str] = &["VersionTLS10", "VersionTLS11"];

impl Check for ApiServerTls {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for flags in ApiServerFlags::of(obj, cx).iter() {
            for (flag, meaning) in REQUIRED {
                if !flags.has(flag) {
                    out.push(Hit::new(
                        flags.path(flag),
                        format!("{} does not set --{flag}: {meaning}. Set it to a certificate issued by the cluster CA.", flags.subject),
                    ));
                }
            }
            if let Some(port) = flags.get("insecure-port") {
                let port_value = port.value.trim();
                if !port_value.is_empty() && port_value != "0" {
                    out.push(Hit::new(
                        port.path,
                        format!(
                            "{} opens the insecure port {port_value}: the whole API over plain HTTP with no \
                             authentication or authorization. Remove --insecure-port (or set it to 0).",
                            flags.subject
                        ),
                    ));
                }
            }
            if let Some(addr) = flags
                .get("insecure-bind-address")
                .filter(|s| !s.value.trim().is_empty())
            {
                out.push(Hit::new(
                    addr.path,
                    format!(
                        "{} sets --insecure-bind-address={}: it binds the plain-HTTP port that bypasses \
                         authentication and authorization. Remove the flag.",
                        flags.subject, addr.value
                    ),
                ));
            }
            if let Some(min) = flags.get("tls-min-version") {
                if WEAK_TLS.contains(&min.value.trim()) {
                    out.push(Hit::new(
                        min.path,
                        format!(
                            "{} accepts TLS down to {}: TLS 1.0 and 1.1 have known weaknesses. Set {}.",
                            flags.subject,
                            min.value,
                            flags.spelling("tls-min-version", "VersionTLS12")
                        ),
                    ));
                }
            }
        }
    }
}
