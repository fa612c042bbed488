use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::apiserver_flags::{ApiServerFlags, APISERVER_KINDS};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct ApiServerAuditLogging;

static META: RuleMeta = RuleMeta {
    id: "apiserver-audit-logging",
    title: "API server without audit logging",
    severity: Severity::Medium,
    category: Category::ControlPlane,
    kinds: APISERVER_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("A kube-apiserver with no audit backend (neither `--audit-log-path`, `-` for standard \
           output included, nor `--audit-webhook-config-file`), or with no `--audit-policy-file`: without a \
           policy nothing is recorded even when a backend is set. Each missing piece is one finding. Flags are \
           read from containers running kube-apiserver in any workload (`command` and `args`, \
           wherever it starts in the argv: directly, behind wrappers (go-runner, flock, `hyperkube apiserver`) or in a shell's `-c` script (`exec kube-apiserver … 2>&1`), both `--flag=value` and `--flag value`) and from kubeadm's `ClusterConfiguration`, which sets neither by default."),
    why: doc_text!("Audit events are the only record of who read a Secret, changed a RoleBinding or exec'd into \
          a pod. Without them an intrusion through the API leaves no trace to investigate, and most compliance \
          regimes require them."),
    denied: doc_text!("apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    audit-log-path: /var/log/kubernetes/audit.log\n"),
    allowed: doc_text!("apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    audit-log-path: /var/log/kubernetes/audit.log\n    audit-policy-file: /etc/kubernetes/audit-policy.yaml\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/",
        "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/",
    ]),
};

plain_rule!(ApiServerAuditLogging, META);

impl Check for ApiServerAuditLogging {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for flags in ApiServerFlags::of(obj, cx).iter() {
            if !flags.has("audit-log-path") && !flags.has("audit-webhook-config-file") {
                out.push(Hit::new(
                    flags.path("audit-log-path"),
                    format!(
                        "{} has no audit backend (neither --audit-log-path nor --audit-webhook-config-file): API \
                         requests leave no record to investigate. Set {} or a webhook backend.",
                        flags.subject,
                        flags.spelling("audit-log-path", "/var/log/kubernetes/audit/audit.log")
                    ),
                ));
            }
            if !flags.has("audit-policy-file") {
                out.push(Hit::new(
                    flags.path("audit-policy-file"),
                    format!(
                        "{} has no --audit-policy-file: without an audit policy no event is recorded, whatever \
                         the backend. Set {} to a policy that records at least metadata for every request.",
                        flags.subject,
                        flags.spelling("audit-policy-file", "/etc/kubernetes/audit-policy.yaml")
                    ),
                ));
            }
        }
    }
}
