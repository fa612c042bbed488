use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::apiserver_flags::config_name;
use crate::{doc_refs, doc_text};
use serde_json::Value;

#[derive(Default)]
pub struct KubeletInsecureConfig;

static META: RuleMeta = RuleMeta {
    id: "kubelet-insecure-config",
    title: "Kubelet open to anonymous or unauthorized requests",
    severity: Severity::High,
    category: Category::ControlPlane,
    kinds: &["kubelet.config.k8s.io/KubeletConfiguration"],
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("A `KubeletConfiguration` (`kubelet.config.k8s.io/v1beta1`, the kubelet's `--config` file) \
           that lets requests in unchecked, one finding per problem at its field: \
           `authentication.anonymous.enabled: true`, `authorization.mode: AlwaysAllow`, or a `readOnlyPort` \
           other than 0. Unset fields take the configuration file's defaults, which are the safe ones: \
           anonymous authentication off, authorization mode `Webhook`, read-only port 0 (the kubelet's \
           command-line flags default the other way, `--anonymous-auth=true`, `--authorization-mode=AlwaysAllow`, \
           `--read-only-port=10255`, but a configuration file's defaults apply to what the file leaves out)."),
    why: doc_text!("The kubelet's API (port 10250) runs commands in containers, reads their logs and lists every \
          pod with its environment. Anonymous access or AlwaysAllow hands that to anyone who can reach a node; \
          the read-only port (10255) serves pod specs and metrics over plain HTTP with no authentication at all."),
    denied: doc_text!("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: true\nauthorization:\n  mode: AlwaysAllow\nreadOnlyPort: 10255\n"),
    allowed: doc_text!("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: false\n  webhook:\n    enabled: true\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt\nauthorization:\n  mode: Webhook\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/",
        "https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/",
    ]),
};

plain_rule!(KubeletInsecureConfig, META);

impl Check for KubeletInsecureConfig {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        if obj.group() != "kubelet.config.k8s.io" || obj.kind != "KubeletConfiguration" {
            return;
        }
        let raw = obj.raw;
        let name = config_name(obj);
        let anonymous = raw.pointer("/authentication/anonymous/enabled");
        if anonymous.is_some_and(|v| {
            v == &Value::Bool(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
        }) {
            out.push(Hit::new(
                "/authentication/anonymous/enabled",
                format!(
                    "{name} enables anonymous authentication: requests without credentials reach the kubelet \
                     API (exec, logs, pod lists) as system:anonymous. Set it to false and authenticate with \
                     client certificates or webhook tokens."
                ),
            ));
        }
        let mode = raw.pointer("/authorization/mode").and_then(Value::as_str);
        if mode.is_some_and(|m| m.trim() == "AlwaysAllow") {
            out.push(Hit::new(
                "/authorization/mode",
                format!(
                    "{name} sets authorization.mode: AlwaysAllow: every authenticated request may exec into \
                     containers and read their logs. Use mode: Webhook, which asks the API server (RBAC) for \
                     each request."
                ),
            ));
        }
        let port = match raw.get("readOnlyPort") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        if let Some(port) = port.filter(|p| *p != 0) {
            out.push(Hit::new(
                "/readOnlyPort",
                format!(
                    "{name} opens the kubelet's read-only port {port}: pod specs and metrics over plain HTTP with \
                     no authentication. Set readOnlyPort: 0 and scrape metrics through the authenticated port."
                ),
            ));
        }
    }
}
