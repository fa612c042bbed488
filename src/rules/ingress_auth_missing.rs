use crate::error::Error;
use crate::glob::Glob;
use crate::object::Object;
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::rules::ingress_common::{
    annotation_pointer, host_glob, host_glob_matches, rule_host, INGRESS_KINDS, NGINX,
};
use crate::{doc_refs, doc_text};
use serde_json::Value;

pub struct IngressAuthMissing;

static META: RuleMeta = RuleMeta {
    id: "ingress-auth-missing",
    title: "Ingress without authentication in front",
    severity: Severity::Medium,
    category: Category::Ingress,
    kinds: INGRESS_KINDS,
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[ParamDoc {
        name: "publicHosts",
        kind: "string list",
        default: "[]",
        help: "globs of hosts meant to be public (`*` matches any characters, dots included): an Ingress \
               whose every host matches one is not reported",
    }],
    what: doc_text!("Ingresses with no authentication at the controller. Recognised: NGINX external auth \
           (`nginx.ingress.kubernetes.io/auth-url`, the oauth2-proxy pattern; `auth-signin` alone only \
           says where to send users after a 401 from `auth-url`, so it does not count by itself), NGINX basic or \
           digest auth (`auth-type` with `auth-secret`), NGINX client certificates (`auth-tls-secret` with \
           `auth-tls-verify-client` unset or `on`; `optional` and `off` let anyone in), and Traefik \
           middlewares (`traefik.ingress.kubernetes.io/router.middlewares`). A Traefik reference \
           (`<namespace>-<name>@kubernetescrd`) is resolved against the `Middleware` objects of the bundle \
           and inventory (`traefik.io` or `traefik.containo.us`): it counts when that Middleware has \
           `forwardAuth`, `basicAuth` or `digestAuth`. A reference that cannot be resolved counts when its \
           name says auth (contains `auth`, `sso` or `oidc`, as in `auth-chain`, `oauth2-proxy`, \
           `authelia`). Deliberate public endpoints are not reported: hosts matching `publicHosts`, and \
           Ingresses annotated `portcullis.dev/public: \"<reason>\"`. The annotation with an empty reason is \
           reported, since a reason is what makes it deliberate."),
    why: doc_text!("An Ingress publishes its Services to whoever can reach the controller. Applications that assume \
          they sit behind a login, or admin and metrics endpoints that never had one, are then open to the \
          internet. Authenticating at the edge (OAuth2/OIDC through oauth2-proxy, client certificates) \
          puts one enforced gate in front of every backend."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: grafana\n  namespace: monitoring\nspec:\n  ingressClassName: nginx\n  tls:\n    - hosts: [grafana.example.com]\n      secretName: grafana-tls\n  rules:\n    - host: grafana.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: grafana, port: {number: 3000}}}}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: grafana\n  namespace: monitoring\n  annotations:\n    nginx.ingress.kubernetes.io/auth-url: \"http://oauth2-proxy.auth.svc.cluster.local/oauth2/auth\"\n    nginx.ingress.kubernetes.io/auth-signin: \"https://auth.example.com/oauth2/start?rd=$escaped_request_uri\"\nspec:\n  ingressClassName: nginx\n  tls:\n    - hosts: [grafana.example.com]\n      secretName: grafana-tls\n  rules:\n    - host: grafana.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: grafana, port: {number: 3000}}}}\n"),
    references: doc_refs!(&[
        "https://kubernetes.github.io/ingress-nginx/examples/auth/oauth-external-auth/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#external-authentication",
        "https://doc.traefik.io/traefik/routing/providers/kubernetes-ingress/#annotations",
        "https://oauth2-proxy.github.io/oauth2-proxy/configuration/integration",
    ]),
};

pub const PUBLIC_ANNOTATION: &str = "portcullis.dev/public";
const TRAEFIK_MIDDLEWARES: &str = "traefik.ingress.kubernetes.io/router.middlewares";

struct Configured {
    public_hosts: Vec<Glob>,
}

impl Rule for IngressAuthMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        let public_hosts = p.strings("publicHosts")?;
        if let Some(i) = public_hosts.iter().position(|h| h.trim().is_empty()) {
            return Err(Error::settings(
                p.key(&format!("publicHosts[{i}]")),
                "an empty glob matches nothing; remove it or write `*` for every host",
            ));
        }
        Ok(Box::new(Configured {
            public_hosts: public_hosts.iter().map(|h| host_glob(h)).collect(),
        }))
    }
}

fn set<'a>(obj: &Object<'a>, suffix: &str) -> Option<&'a str> {
    obj.annotation(&format!("{NGINX}{suffix}"))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The authentication the NGINX annotations put in front, if any.
fn nginx_auth(obj: &Object<'_>) -> Option<&'static str> {
    if set(obj, "auth-url").is_some() {
        return Some("NGINX external auth");
    }
    if set(obj, "auth-type").is_some() && set(obj, "auth-secret").is_some() {
        return Some("NGINX basic/digest auth");
    }
    let verify = set(obj, "auth-tls-verify-client").unwrap_or("on");
    if set(obj, "auth-tls-secret").is_some() && verify.eq_ignore_ascii_case("on") {
        return Some("NGINX client certificates");
    }
    None
}

fn name_says_auth(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["auth", "sso", "oidc"].iter().any(|w| n.contains(w))
}

/// Whether one of the Traefik middlewares the Ingress names authenticates.
fn traefik_auth(obj: &Object<'_>, cx: &Context<'_>) -> bool {
    let Some(list) = obj.annotation(TRAEFIK_MIDDLEWARES) else {
        return false;
    };
    list.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .any(|reference| {
            let (name, provider) = reference
                .split_once('@')
                .unwrap_or((reference, "kubernetescrd"));
            let resolved = if provider == "kubernetescrd" {
                cx.others(obj).find(|m| {
                    m.kind == "Middleware"
                        && matches!(m.group(), "traefik.io" | "traefik.containo.us")
                        && format!("{}-{}", m.namespace_or_default(), m.name) == name
                })
            } else {
                None
            };
            match resolved {
                Some(m) => ["forwardAuth", "basicAuth", "digestAuth"].iter().any(|k| {
                    m.raw
                        .get("spec")
                        .and_then(|s| s.get(k))
                        .is_some_and(|v| !v.is_null())
                }),
                None => name_says_auth(name),
            }
        })
}

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.ingress() else { return };
        let name = obj.display_name();
        if let Some(reason) = obj.annotation(PUBLIC_ANNOTATION) {
            if !reason.trim().is_empty() {
                return;
            }
            out.push(Hit::new(
                annotation_pointer(PUBLIC_ANNOTATION),
                format!(
                    "{name} is marked `{PUBLIC_ANNOTATION}` with an empty reason, so it is not recognised as a \
                     deliberate public endpoint and has no authentication in front. Write why it is public in \
                     the annotation's value (e.g. \"marketing site, no user data\"), or put authentication in \
                     front."
                ),
            ));
            return;
        }
        if nginx_auth(obj).is_some() || traefik_auth(obj, cx) {
            return;
        }
        // "" stands for a host-less rule or the default backend: any name
        let mut hosts: Vec<&str> = spec
            .rules
            .iter()
            .flatten()
            .map(|r| rule_host(r.host.as_ref()).unwrap_or(""))
            .collect();
        if spec.default_backend.is_some() {
            hosts.push("");
        }
        let mut private: Vec<&str> = Vec::new();
        // a set beside the list: thousands of hosts must not cost n² to dedupe
        let mut seen = std::collections::BTreeSet::new();
        for h in hosts {
            if !self.public_hosts.iter().any(|g| host_glob_matches(g, h)) && seen.insert(h) {
                private.push(h);
            }
        }
        if private.is_empty() {
            return;
        }
        let listed = private
            .iter()
            .map(|h| {
                if h.is_empty() {
                    "any host (no host set)".to_string()
                } else {
                    format!("`{h}`")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let signin_note = if set(obj, "auth-signin").is_some() {
            " It sets `auth-signin`, but without `auth-url` NGINX never asks anyone to sign in."
        } else {
            ""
        };
        let path = if obj
            .raw
            .pointer("/metadata/annotations")
            .is_some_and(Value::is_object)
        {
            "/metadata/annotations"
        } else {
            "/metadata"
        };
        // the cause is which hosts go without authentication, not the
        // annotations map the path points at
        let evidence = format!("no authentication for {listed}");
        out.push(
            Hit::new(
                path,
                format!(
                    "{name} publishes {listed} with no authentication in front: anyone who reaches the \
                     controller reaches the backends, whatever login they assume sits before them.{signin_note} \
                     Put authentication at the edge (NGINX `auth-url` to an oauth2-proxy, client certificates, \
                     or a Traefik auth middleware), or, if the endpoint is public on purpose, annotate it \
                     `{PUBLIC_ANNOTATION}: \"<reason>\"` or list its hosts in `publicHosts`."
                ),
            )
            .evidence(evidence),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::ingress_common::{findings_of, test_ingress};
    use serde_json::json;

    #[test]
    fn empty_public_host_glob_is_a_settings_error_naming_the_key() {
        let input = json!({"objects": [test_ingress("a", "b", &[Some("x.example.com")])],
            "settings": {"rules": {"ingress-auth-missing": {"action": "deny", "publicHosts": ["ok.example.com", " "]}}}});
        let e = crate::evaluate(&input, crate::Host::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("rules.ingress-auth-missing.publicHosts[1]"),
            "{e}"
        );
    }

    #[test]
    fn hostless_rule_is_public_only_under_a_catch_all_glob() {
        let ing = test_ingress("a", "b", &[None]);
        let with = |globs: serde_json::Value| {
            findings_of(
                "ingress-auth-missing",
                &json!({"objects": [ing.clone()],
                "settings": {"rules": {"ingress-auth-missing": {"action": "deny", "publicHosts": globs}}}}),
            )
        };
        assert_eq!(with(json!(["*.example.com"])).len(), 1);
        assert!(with(json!(["*"])).is_empty());
    }
}
