use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::api_version_removed::{advice, with_fix};
use crate::versions::{lookup, show};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct ApiVersionDeprecated;

static META: RuleMeta = RuleMeta {
    id: "api-version-deprecated",
    title: "Deprecated API version",
    severity: Severity::Medium,
    category: Category::Versions,
    kinds: &["*"],
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Objects written in an `apiVersion` that the target Kubernetes release (settings key \
           `kubernetesVersion`, by default the newest release the table covers) has deprecated but still \
           serves, per the table kept in `policies/api-versions.yaml`. Versions already removed at the target \
           are `api-version-removed` findings instead, never both. The message says when the version stops \
           being served and names the replacement; a fix that replaces `/apiVersion` is offered only when the \
           replacement is a drop-in (the same kind, served by the target release, no field changes)."),
    why: doc_text!("A deprecated version still works, with a warning on every request, until the release that \
          removes it: then applies and upgrades fail. Moving while both versions are served is a one-line \
          change that can be rolled back; moving after the removal is an outage."),
    denied: doc_text!("# with kubernetesVersion: \"1.29\"\napiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\nmetadata:\n  name: health\nspec:\n  matchingPrecedence: 1000\n  priorityLevelConfiguration: {name: exempt}\n"),
    allowed: doc_text!("apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata:\n  name: health\nspec:\n  matchingPrecedence: 1000\n  priorityLevelConfiguration: {name: exempt}\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/reference/using-api/deprecation-guide/",
        "https://kubernetes.io/docs/reference/using-api/deprecation-policy/",
    ]),
};

plain_rule!(ApiVersionDeprecated, META);

impl Check for ApiVersionDeprecated {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(entry) = lookup(obj.api_version, obj.kind) else {
            return;
        };
        let target = cx.kubernetes_version;
        if !entry.deprecated_at(target) {
            return;
        }
        let since = entry.deprecated.map(show).unwrap_or_default();
        let until = match entry.removed {
            Some(r) => format!("Kubernetes {} stops serving it", show(r)),
            None => {
                "no removal is scheduled yet, but it only gets warnings from now on".to_string()
            }
        };
        let message = format!(
            "{} uses {} {}, deprecated since Kubernetes {since} (target {}): {until}, and every apply draws a \
             deprecation warning. {}",
            obj.display_name(),
            obj.api_version,
            obj.kind,
            show(target),
            advice(entry, target),
        );
        out.push(with_fix(Hit::new("/apiVersion", message), entry, target));
    }
}
