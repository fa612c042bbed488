use crate::crds::IngressRoute;
use crate::error::Error;
use crate::object::Object;
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::rules::traefik_common::{
    name_says_redirect, redirected_entry_points, redirects_to_https, reference_is, rule_hosts,
};
use crate::{doc_refs, doc_text};

pub struct TraefikRoutePlaintext;

static META: RuleMeta = RuleMeta {
    id: "traefik-route-plaintext",
    title: "Traefik IngressRoute served over plain HTTP",
    severity: Severity::High,
    category: Category::Ingress,
    kinds: &[
        "traefik.io/IngressRoute",
        "traefik.containo.us/IngressRoute",
        "traefik.io/Middleware",
        "traefik.containo.us/Middleware",
    ],
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[ParamDoc {
        name: "plaintextEntryPoints",
        kind: "string list",
        default: "[\"web\"]",
        help: "Traefik entry points that listen for plain HTTP (`web` is the HTTP entry point of Traefik's \
               Helm chart and documentation)",
    }],
    what: doc_text!("A Traefik `IngressRoute` (`traefik.io/v1alpha1`, or the older `traefik.containo.us/v1alpha1`) \
           without a `tls` section that binds to a plain-HTTP entry point: one listed in \
           `plaintextEntryPoints` (`web` by default), or none at all, since a route without `entryPoints` \
           binds to every entry point. A route with a `tls` section only matches TLS connections, and one \
           bound only to other entry points (such as `websecure`, where the Helm chart terminates TLS) is \
           not judged. Not reported either: routes whose every rule goes through a Middleware that \
           redirects to https (`redirectScheme` with `scheme: https`, or `redirectRegex` to an `https://` \
           URL, directly or inside a `chain`), resolved among the bundle's and inventory's `Middleware` \
           objects (a reference that cannot be resolved counts when its name says `redirect`); and entry \
           points that Traefik's own arguments, on a workload of the bundle, redirect as a whole \
           (`--entrypoints.web.http.redirections.entrypoint.to=…`). A child route of Traefik's multi-layer \
           routing (one with `parentRefs`) is reached through its parent's entry points and TLS: the parent \
           is judged instead."),
    why: doc_text!("A router on Traefik's HTTP entry point without TLS serves the application in clear: \
          sessions, credentials and data can be read and changed by anyone on the path. The same hosts are \
          usually served over HTTPS too, which makes the plain copy easy to miss; a route that only \
          redirects to https sends nothing but the redirect in the clear."),
    denied: doc_text!("apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: shop\n  namespace: shop\nspec:\n  entryPoints: [web]\n  routes:\n    - match: Host(`shop.example.com`)\n      kind: Rule\n      services:\n        - name: storefront\n          port: 80\n"),
    allowed: doc_text!("apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: shop\n  namespace: shop\nspec:\n  entryPoints: [websecure]\n  routes:\n    - match: Host(`shop.example.com`)\n      kind: Rule\n      services:\n        - name: storefront\n          port: 80\n  tls:\n    secretName: shop-tls\n"),
    references: doc_refs!(&[
        "https://doc.traefik.io/traefik/routing/providers/kubernetes-crd/",
        "https://doc.traefik.io/traefik/middlewares/http/redirectscheme/",
        "https://doc.traefik.io/traefik/routing/entrypoints/#redirection",
    ]),
};

struct Configured {
    plaintext: Vec<String>,
}

impl Rule for TraefikRoutePlaintext {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        let plaintext = p.strings_or("plaintextEntryPoints", &["web"])?;
        if let Some(i) = plaintext.iter().position(|e| e.trim().is_empty()) {
            return Err(Error::settings(
                p.key(&format!("plaintextEntryPoints[{i}]")),
                "an entry point name cannot be empty",
            ));
        }
        Ok(Box::new(Configured { plaintext }))
    }
}

/// Every rule of the route answers with a redirect to https.
pub fn redirect_only(obj: &Object<'_>, route: &IngressRoute, cx: &Context<'_>) -> bool {
    let routes: Vec<_> = route.routes.iter().flatten().collect();
    !routes.is_empty()
        && routes.iter().all(|r| {
            r.middlewares
                .iter()
                .flatten()
                .any(|m| reference_is(cx, obj, m, &redirects_to_https, &name_says_redirect))
        })
}

/// Hosts named in one finding; the rest are counted.
const LISTED: usize = 10;

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(route) = obj.ingress_route() else {
            return;
        };
        // a child of Traefik's multi-layer routing is reached through its
        // parent's router, entry points and TLS: the parent is judged
        if route.tls.is_some() || route.parent_refs.as_ref().is_some_and(|p| !p.is_empty()) {
            return;
        }
        let listed: Vec<&String> = route.entry_points.iter().flatten().collect();
        let is_plain = |ep: &str| {
            self.plaintext
                .iter()
                .any(|p| p.trim().eq_ignore_ascii_case(ep.trim()))
        };
        // (index in entryPoints, name); no index when the route binds to every entry point
        let bound: Vec<(Option<usize>, &str)> = if listed.is_empty() {
            self.plaintext.iter().map(|p| (None, p.trim())).collect()
        } else {
            listed
                .iter()
                .enumerate()
                .filter(|(_, ep)| is_plain(ep))
                .map(|(i, ep)| (Some(i), ep.trim()))
                .collect()
        };
        if bound.is_empty() {
            return;
        }
        let redirected = redirected_entry_points(cx);
        let served: Vec<&(Option<usize>, &str)> = bound
            .iter()
            .filter(|(_, ep)| !redirected.iter().any(|r| r.eq_ignore_ascii_case(ep)))
            .collect();
        let Some((index, entry)) = served.first() else {
            return;
        };
        if redirect_only(obj, route, cx) {
            return;
        }
        // each host once, in order; a route of thousands is named by its first few
        let mut hosts: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in route.routes.iter().flatten() {
            for h in rule_hosts(r.rule.as_deref().unwrap_or_default()) {
                if seen.insert(h.clone()) {
                    hosts.push(h);
                }
            }
        }
        let hosts = if hosts.is_empty() {
            "any host".to_string()
        } else {
            let mut named: Vec<String> = hosts
                .iter()
                .take(LISTED)
                .map(|h| format!("`{h}`"))
                .collect();
            if hosts.len() > LISTED {
                named.push(format!("{} more hosts", hosts.len() - LISTED));
            }
            named.join(", ")
        };
        let (path, binding) = match index {
            Some(i) => (
                format!("/spec/entryPoints/{i}"),
                format!("binds to entry point `{entry}`"),
            ),
            None => (
                "/spec".to_string(),
                format!("lists no entryPoints, so it binds to every one, `{entry}` included,"),
            ),
        };
        out.push(Hit::new(
            path,
            format!(
                "{} {binding} without a `tls` section: Traefik serves {hosts} there over plain HTTP, readable \
                 and alterable by anyone on the path. Bind it to a TLS entry point (`websecure`) with a `tls` \
                 section, and leave on `{entry}` only a route whose Middleware redirects to https \
                 (redirectScheme) or an entry-point redirection.",
                obj.display_name()
            ),
        )
        // the cause is where the route binds and that it has no TLS, not its rules
        .evidence_at(obj, &["/spec/entryPoints", "/spec/tls"]));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::ingress_common::findings_of;
    use serde_json::json;

    const RULE: &str = "traefik-route-plaintext";

    fn route(entry_points: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
            "metadata": {"name": "r", "namespace": "n"},
            "spec": {"entryPoints": entry_points, "routes": [{"match": "Host(`a.example.com`)", "kind": "Rule",
                "services": [{"name": "s", "port": 80}]}]}})
    }

    #[test]
    fn plaintext_entry_points_are_a_parameter() {
        let with = |eps: serde_json::Value, params: serde_json::Value| {
            findings_of(
                RULE,
                &json!({"objects": [route(eps)], "settings": {"rules": {RULE: params}}}),
            )
        };
        assert_eq!(with(json!(["web"]), json!("deny")).len(), 1);
        assert!(with(json!(["http"]), json!("deny")).is_empty());
        assert_eq!(
            with(
                json!(["http"]),
                json!({"action": "deny", "plaintextEntryPoints": ["http"]})
            )
            .len(),
            1
        );
        assert!(with(
            json!(["web"]),
            json!({"action": "deny", "plaintextEntryPoints": []})
        )
        .is_empty());
    }

    #[test]
    fn entry_point_redirection_in_traefik_arguments() {
        let traefik = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "traefik", "namespace": "traefik"},
            "spec": {"template": {"spec": {"containers": [{"name": "traefik", "image": "traefik:v3.1",
                "args": ["--entryPoints.web.address=:8000", "--entryPoints.web.http.redirections.entryPoint.to=:443"]}]}}}});
        let input = json!({"objects": [route(json!(["web"])), traefik], "settings": {"rules": {RULE: "deny"}}});
        assert!(findings_of(RULE, &input).is_empty());
    }

    #[test]
    fn wrong_types_are_errors_at_their_path() {
        for (spec, path) in [
            (json!({"entryPoints": "web"}), "/spec/entryPoints"),
            (json!({"routes": [{"match": 7}]}), "/spec/routes/0/match"),
            (
                json!({"routes": [{"middlewares": [{"name": 7}]}]}),
                "/spec/routes/0/middlewares/0/name",
            ),
            (json!({"tls": "yes"}), "/spec/tls"),
        ] {
            let r = json!({"apiVersion": "traefik.containo.us/v1alpha1", "kind": "IngressRoute",
                "metadata": {"name": "r", "namespace": "n"}, "spec": spec});
            let e = crate::evaluate(&r, crate::Host::default()).unwrap_err();
            assert_eq!(e.code(), "invalid-object", "{e}");
            assert_eq!(e.to_value()["path"], path, "{e}");
        }
    }
}
