use crate::cluster::{ApiKind, Lookup, SERVICE_ACCOUNT};
use crate::object::{join, Object, PodSpec};
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::WORKLOAD_KINDS;
use crate::{doc_refs, doc_text};
use serde_json::{json, Value};

#[derive(Default)]
pub struct ServiceAccountTokenAutomount;

static META: RuleMeta = RuleMeta {
    id: "serviceaccount-token-automount",
    title: "Service account token mounted automatically",
    severity: Severity::Medium,
    category: Category::Access,
    kinds: WORKLOAD_KINDS,
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[],
    what: doc_text!("Pods and pod templates that do not set `automountServiceAccountToken: false`. The pod's own setting \
           wins; when it sets nothing, the ServiceAccount it runs as (`serviceAccountName`, `default` when unset) \
           is looked up in the bundle, the inventory or (in Kubewarden) the cluster, and its `automountServiceAccountToken: false` is enough. \
           `automountServiceAccountToken: true` on the pod is reported whatever its ServiceAccount says. A token the \
           pod mounts itself (a projected `serviceAccountToken` volume) is a deliberate, visible choice and is \
           not reported."),
    why: doc_text!("An automatically mounted token lets every process in every container of the pod call the API server \
          as the pod's ServiceAccount. Most applications never call it, but anyone who takes over the \
          application (a remote code execution, a path traversal that reads files) gets that identity and \
          whatever RBAC grants it. Pods that need the API should say so explicitly."),
    denied: doc_text!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: registry.example.com/shop/web:1.4.2\n"),
    allowed: doc_text!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      automountServiceAccountToken: false\n      containers:\n        - name: web\n          image: registry.example.com/shop/web:1.4.2\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting",
        "https://kubernetes.io/docs/concepts/security/service-accounts/",
    ]),
};

/// In a cluster: the ServiceAccount a pod runs as.
static READS: &[&ApiKind] = &[&SERVICE_ACCOUNT];

plain_rule!(ServiceAccountTokenAutomount, META, reads: READS);

/// The ServiceAccount a pod runs as (`default` when unset).
fn service_account(spec: &PodSpec) -> &str {
    spec.service_account_name
        .as_deref()
        .or(spec.service_account.as_deref())
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
}

impl Check for ServiceAccountTokenAutomount {
    fn needs(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Lookup>) {
        let Some((spec, _)) = obj.pod_spec() else {
            return;
        };
        // only a pod that sets nothing defers to its ServiceAccount
        if spec.automount_service_account_token.is_some() {
            return;
        }
        let (ns, sa) = (obj.namespace_or_default(), service_account(spec));
        if cx.find("", "ServiceAccount", Some(ns), sa).is_none() {
            out.push(Lookup::get(&SERVICE_ACCOUNT, ns, sa));
        }
    }

    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some((spec, spec_path)) = obj.pod_spec() else {
            return;
        };
        let path = join(spec_path, "automountServiceAccountToken");
        let sa_name = service_account(spec);
        let ns = obj.namespace_or_default();
        let why = match spec.automount_service_account_token {
            Some(false) => return,
            Some(true) => "sets automountServiceAccountToken: true".to_string(),
            None => {
                let sa = cx.find("", "ServiceAccount", Some(ns), sa_name);
                match sa.and_then(|sa| sa.raw.get("automountServiceAccountToken")) {
                    Some(Value::Bool(false)) => return,
                    Some(Value::Bool(true)) => format!(
                        "sets nothing and its ServiceAccount {ns}/{sa_name} sets automountServiceAccountToken: true"
                    ),
                    _ if sa.is_some() => format!(
                        "sets nothing and neither does its ServiceAccount {ns}/{sa_name}"
                    ),
                    _ => format!(
                        "sets nothing, and its ServiceAccount {ns}/{sa_name} is not in the reviewed objects to say otherwise"
                    ),
                }
            }
        };
        let op = if spec.automount_service_account_token.is_some() {
            "replace"
        } else {
            "add"
        };
        let hit = Hit::new(
                path.clone(),
                format!(
                    "{} mounts its service account token automatically: its pod spec {why}. Any process in \
                     the pod can then call the API server as that ServiceAccount, and so can whoever takes \
                     over the application. Set automountServiceAccountToken: false in the pod spec (or on the \
                     ServiceAccount); pods that call the API can mount a projected token explicitly.",
                    obj.display_name()
                ),
            );
        // a template without a pod spec object has nowhere to add the field
        out.push(
            if obj.raw.pointer(spec_path).is_some_and(Value::is_object) {
                hit.fix(vec![json!({"op": op, "path": path, "value": false})])
            } else {
                hit
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::rbac_common::run_bundle;

    #[test]
    fn the_pod_setting_wins_over_its_service_account() {
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "web", "namespace": "shop"}, "automountServiceAccountToken": false});
        let pod = |auto: Value| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
                "spec": {"serviceAccountName": "web", "automountServiceAccountToken": auto,
                         "containers": [{"name": "c", "image": "i"}]}})
        };
        let h = run_bundle(
            &ServiceAccountTokenAutomount,
            &[sa.clone(), pod(Value::Null)],
        );
        assert!(h[1].is_empty());
        let h = run_bundle(&ServiceAccountTokenAutomount, &[sa, pod(json!(true))]);
        assert_eq!(h[1].len(), 1);
        assert_eq!(
            h[1][0].fix,
            Some(vec![
                json!({"op": "replace", "path": "/spec/automountServiceAccountToken", "value": false})
            ])
        );
    }

    #[test]
    fn the_service_account_must_be_in_the_same_namespace() {
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": "other"}, "automountServiceAccountToken": false});
        let job = json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "shop"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "c", "image": "i"}]}}}}}});
        let h = run_bundle(&ServiceAccountTokenAutomount, &[sa, job]);
        assert_eq!(h[1].len(), 1);
        assert_eq!(
            h[1][0].path,
            "/spec/jobTemplate/spec/template/spec/automountServiceAccountToken"
        );
    }

    #[test]
    fn the_service_account_is_found_in_the_inventory() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let input = json!({
            "objects": [pod],
            "inventory": [{"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": "shop"}, "automountServiceAccountToken": false}],
            "settings": {"rules": {"serviceaccount-token-automount": "deny"}}
        });
        let report = crate::evaluate(&input, crate::Host::default()).unwrap();
        assert!(report.violations.is_empty(), "{:?}", report.violations);
    }
}
