use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::ingress_common::{
    annotation_pointer, remove_annotation_patch, INGRESS_KINDS, NGINX,
};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct IngressSnippetAnnotation;

static META: RuleMeta = RuleMeta {
    id: "ingress-snippet-annotation",
    title: "Ingress with an NGINX snippet annotation",
    severity: Severity::Critical,
    category: Category::Ingress,
    kinds: INGRESS_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Ingress annotations of the NGINX ingress controller that inject raw configuration: \
           `nginx.ingress.kubernetes.io/configuration-snippet`, `server-snippet`, `auth-snippet`, \
           `stream-snippet`, and any other `nginx.ingress.kubernetes.io/*-snippet` (such as \
           `modsecurity-snippet`), one finding per annotation. The fix removes the annotation."),
    why: doc_text!("Snippets are pasted verbatim into the controller's nginx.conf, which runs with the controller's \
          service account: one Ingress can read the token and, with it, every Secret in the cluster \
          (CVE-2021-25742), or rewrite routing for other hosts. Whoever may create an Ingress in any \
          namespace becomes cluster-wide. Use dedicated annotations or the controller ConfigMap instead, and \
          keep `allow-snippet-annotations` off."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n  annotations:\n    nginx.ingress.kubernetes.io/configuration-snippet: |\n      more_set_headers \"X-Frame-Options: DENY\";\nspec:\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n  annotations:\n    nginx.ingress.kubernetes.io/proxy-body-size: 8m\nspec:\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n"),
    references: doc_refs!(&[
        "https://github.com/kubernetes/ingress-nginx/issues/7837",
        "https://nvd.nist.gov/vuln/detail/CVE-2021-25742",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#allow-snippet-annotations",
    ]),
};

plain_rule!(IngressSnippetAnnotation, META);

impl Check for IngressSnippetAnnotation {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        if obj.ingress().is_none() {
            return;
        }
        let name = obj.display_name();
        let keys = obj
            .raw
            .pointer("/metadata/annotations")
            .and_then(|a| a.as_object())
            .into_iter()
            .flat_map(|m| m.keys());
        for key in keys {
            let is_snippet = key
                .strip_prefix(NGINX)
                .is_some_and(|rest| rest.ends_with("-snippet"));
            if !is_snippet {
                continue;
            }
            out.push(
                Hit::new(
                    annotation_pointer(key),
                    format!(
                        "{name} sets `{key}`: NGINX pastes it verbatim into the controller's configuration, \
                         which runs with the controller's credentials, so an Ingress can read Secrets from \
                         every namespace or reroute other hosts (CVE-2021-25742). Remove the annotation and use \
                         a dedicated annotation or the controller's ConfigMap for what it did."
                    ),
                )
                .fix(remove_annotation_patch(key)),
            );
        }
    }
}
