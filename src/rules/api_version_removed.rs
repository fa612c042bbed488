use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::versions::{lookup, show, ApiVersion};
use crate::{doc_refs, doc_text};
use serde_json::json;

#[derive(Default)]
pub struct ApiVersionRemoved;

static META: RuleMeta = RuleMeta {
    id: "api-version-removed",
    title: "API version no longer served",
    severity: Severity::High,
    category: Category::Versions,
    kinds: &["*"],
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Objects written in an `apiVersion` that the target Kubernetes release (settings key \
           `kubernetesVersion`, by default the newest release the table covers) no longer serves, per the \
           table kept in `policies/api-versions.yaml` (the Kubernetes core's own APIs, from the deprecated API \
           migration guide and release notes). The message names the replacement API. A fix that replaces \
           `/apiVersion` is offered only when the replacement is a drop-in: the same kind, served by the \
           target release, and no field renamed or newly required on the way."),
    why: doc_text!("The API server rejects objects in an API version it no longer serves: the apply fails, or \
          the upgrade breaks the pipeline that carries the manifest. Objects still stored in an old version are \
          readable through the new one, but every manifest, chart and client must move before the upgrade."),
    denied: doc_text!("# with kubernetesVersion: \"1.25\"\napiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: report\n  namespace: shop\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n            - {name: report, image: registry.example.com/report:1.4}\n"),
    allowed: doc_text!("apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: report\n  namespace: shop\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n            - {name: report, image: registry.example.com/report:1.4}\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/reference/using-api/deprecation-guide/",
        "https://kubernetes.io/docs/reference/using-api/deprecation-policy/",
    ]),
};

plain_rule!(ApiVersionRemoved, META);

impl Check for ApiVersionRemoved {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(entry) = lookup(obj.api_version, obj.kind) else {
            return;
        };
        let target = cx.kubernetes_version;
        let Some(removed) = entry.removed.filter(|_| entry.removed_at(target)) else {
            return;
        };
        let message = format!(
            "{} uses {} {}, which Kubernetes {} no longer serves (target {}): the API server rejects it, so \
             applying it or upgrading fails. {}",
            obj.display_name(),
            obj.api_version,
            obj.kind,
            show(removed),
            show(target),
            advice(entry, target),
        );
        out.push(with_fix(Hit::new("/apiVersion", message), entry, target));
    }
}

/// What to move to, for the messages of both version rules.
pub fn advice(entry: &ApiVersion, target: (u32, u32)) -> String {
    let Some(to) = entry.replacement_at(target) else {
        return format!(
            "{} {} has no replacement served by Kubernetes {}: remove it, and use what replaced the feature.",
            entry.api_version,
            entry.kind,
            show(target)
        );
    };
    let since = match to.since {
        Some(s) if s > target => format!(" (served from Kubernetes {})", show(s)),
        Some(s) => format!(" (served since Kubernetes {})", show(s)),
        None => String::new(),
    };
    let extra = if to.kind != entry.kind {
        ", a different kind: rewrite the object"
    } else if to.field_changes {
        ", which changes fields or their meaning: convert the object, not only its apiVersion"
    } else {
        ""
    };
    format!("Move to {} {}{since}{extra}.", to.api_version, to.kind)
}

/// Adds the apiVersion replacement when it is a drop-in on the target.
pub fn with_fix(hit: Hit, entry: &ApiVersion, target: (u32, u32)) -> Hit {
    match entry.drop_in(target) {
        Some(to) => hit.fix(vec![
            json!({"op": "replace", "path": "/apiVersion", "value": to}),
        ]),
        None => hit,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use crate::{evaluate, Host};
    use serde_json::{json, Value};

    fn findings(obj: Value, version: &str) -> Vec<Value> {
        let input = json!({"objects": [obj], "settings": {"kubernetesVersion": version,
            "rules": {"api-version-removed": "deny", "api-version-deprecated": "warn"}}});
        let report = evaluate(&input, Host::default()).unwrap().to_value();
        let mut all = Vec::new();
        for list in ["violations", "warnings"] {
            for f in report[list].as_array().into_iter().flatten() {
                if f["rule"].as_str().unwrap().starts_with("api-version-") {
                    all.push(f.clone());
                }
            }
        }
        all
    }

    fn cronjob(api: &str) -> Value {
        json!({"apiVersion": api, "kind": "CronJob", "metadata": {"name": "r", "namespace": "s"},
               "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}})
    }

    #[test]
    fn drop_in_replacement_is_fixed_on_both_sides_of_the_removal() {
        for (version, rule) in [
            ("1.22", "api-version-deprecated"),
            ("1.25", "api-version-removed"),
        ] {
            let f = findings(cronjob("batch/v1beta1"), version);
            assert_eq!(f.len(), 1, "{version}");
            assert_eq!(f[0]["rule"], rule);
            assert_eq!(f[0]["path"], "/apiVersion");
            assert_eq!(
                f[0]["fix"],
                json!([{"op": "replace", "path": "/apiVersion", "value": "batch/v1"}])
            );
            assert!(f[0]["message"]
                .as_str()
                .unwrap()
                .contains("batch/v1 CronJob"));
        }
        assert!(findings(cronjob("batch/v1beta1"), "1.20").is_empty());
        assert!(findings(cronjob("batch/v1"), "1.35").is_empty());
    }

    #[test]
    fn no_fix_before_the_replacement_is_served_or_when_fields_change() {
        let fs = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3", "kind": "FlowSchema",
                        "metadata": {"name": "a"}});
        // v1 is served from 1.29: at 1.28 v1beta3 is not even deprecated yet
        assert!(findings(fs.clone(), "1.28").is_empty());
        let pl = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1beta2", "kind": "PriorityLevelConfiguration",
                        "metadata": {"name": "a"}});
        let f = findings(pl, "1.27");
        assert_eq!(f[0]["rule"], "api-version-deprecated");
        assert!(f[0].get("fix").is_none_or(Value::is_null));
        let msg = f[0]["message"].as_str().unwrap();
        assert!(
            msg.contains("flowcontrol.apiserver.k8s.io/v1beta3")
                && msg.contains("convert the object"),
            "{msg}"
        );
        let vac = json!({"apiVersion": "storage.k8s.io/v1alpha1", "kind": "VolumeAttributesClass",
                         "metadata": {"name": "a"}, "driverName": "d"});
        let f = findings(vac, "1.32");
        assert_eq!(f[0]["rule"], "api-version-deprecated");
        assert!(f[0]["message"]
            .as_str()
            .unwrap()
            .contains("served from Kubernetes 1.34"));
        assert!(f[0].get("fix").is_none_or(Value::is_null));
        let psp = json!({"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "a"}});
        let f = findings(psp, "1.25");
        assert!(f[0]["message"]
            .as_str()
            .unwrap()
            .contains("no replacement served"));
        assert!(f[0].get("fix").is_none_or(Value::is_null));
    }
}
