use crate::cluster::{ApiKind, Lookup, INGRESS, INGRESS_CLASS};
use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::{Context, Grouping};
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::go_parse_bool;
use crate::rules::ingress_common::{
    ingress_class, normalize_host, rule_host, rule_host_pointer, RoutePath, INGRESS_KINDS,
};
use crate::{doc_refs, doc_text};
use k8s_openapi::api::networking::v1::{IngressRule, IngressSpec};

#[derive(Default)]
pub struct IngressHostConflict;

static META: RuleMeta = RuleMeta {
    id: "ingress-host-conflict",
    title: "Two Ingresses claim the same host and path",
    severity: Severity::High,
    category: Category::Ingress,
    kinds: INGRESS_KINDS,
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[],
    what: doc_text!("An Ingress rule that claims the same route as a rule of another Ingress of the bundle, \
           the inventory or (in Kubewarden) the cluster, served by the same ingress class: the same host (without case; a wildcard only \
           as the identical wildcard; two rules without a host are the same catch-all), the same path and a \
           compatible path type (both `Exact` with the same path, or both prefixes, `Prefix` or \
           `ImplementationSpecific`, with the same path elements, so `/api/` is `/api`; a rule without paths \
           is `/`). Everything else Kubernetes resolves by itself and is not reported: the longest matching \
           path wins (`/` for the application beside `/oauth2` for oauth2-proxy on the same host), `Exact` \
           wins over a prefix of the same path, and an exact host is matched before a wildcard. The class is \
           `spec.ingressClassName`, else the `kubernetes.io/ingress.class` annotation, else the IngressClass \
           marked `ingressclass.kubernetes.io/is-default-class: \"true\"` when the bundle or the inventory \
           holds exactly one; Ingresses of different classes are served by different controllers, and an \
           Ingress without a class is compared only with others without one while the default class is not \
           known. An object never conflicts with another copy of itself (same namespace and name, in either \
           Ingress API group), so an UPDATE checked against an inventory holding its older version passes, and an \
           ingress-nginx canary (`nginx.ingress.kubernetes.io/canary: \"true\"`) does not conflict with the \
           Ingress whose route it shares to split traffic (two canaries of one route do). \
           Default backends are left out: they only answer what no rule matches. One finding per rule, naming \
           up to ten of the other Ingresses and counting the rest."),
    why: doc_text!("When two Ingresses claim the same host and path, the controller picks one by its own ordering \
          (creation time, name) and the other is silently shadowed, or the two are merged. Anyone allowed \
          to create an Ingress in any namespace can thereby take over another team's host or path, capture \
          its traffic and the credentials in it."),
    denied: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\n  namespace: shop\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: promo\n  namespace: marketing\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: ImplementationSpecific, backend: {service: {name: promo, port: {number: 80}}}}\n"),
    allowed: doc_text!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\n  namespace: shop\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: oauth2-proxy\n  namespace: shop\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: shop.example.com\n      http:\n        paths:\n          - {path: /oauth2, pathType: Prefix, backend: {service: {name: oauth2-proxy, port: {number: 4180}}}}\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/services-networking/ingress/#name-based-virtual-hosting",
        "https://kubernetes.github.io/ingress-nginx/how-it-works/#building-the-nginx-model",
    ]),
};

/// In a cluster: every Ingress, since any namespace may claim a host.
static READS: &[&ApiKind] = &[&INGRESS, &INGRESS_CLASS];

plain_rule!(IngressHostConflict, META, reads: READS);

fn paths(rule: &IngressRule) -> Vec<RoutePath> {
    let list: Vec<RoutePath> = rule
        .http
        .iter()
        .flat_map(|h| h.paths.iter())
        .map(|p| RoutePath::new(p.path.as_deref(), &p.path_type))
        .collect();
    if list.is_empty() {
        vec![RoutePath::new(None, "Prefix")]
    } else {
        list
    }
}

/// The same host: equal names (a wildcard only as the identical wildcard),
/// or both rules without a host.
fn same_host(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => normalize_host(a) == normalize_host(b),
        (None, None) => true,
        _ => false,
    }
}

/// The same Ingress, whichever API group each copy was written in.
fn same_ingress(a: &Object<'_>, b: &Object<'_>) -> bool {
    a.same_identity(b)
        || (a.kind == b.kind
            && a.name == b.name
            && a.namespace_or_default() == b.namespace_or_default())
}

const DEFAULT_CLASS: &str = "ingressclass.kubernetes.io/is-default-class";

/// An ingress-nginx canary: it claims the route of the Ingress it splits
/// traffic with, on purpose.
fn is_canary(obj: &Object<'_>) -> bool {
    obj.annotation(CANARY).and_then(go_parse_bool) == Some(true)
}

const CANARY: &str = "nginx.ingress.kubernetes.io/canary";

/// The cluster's default IngressClass, when exactly one is known.
fn default_class(cx: &Context<'_>) -> Option<String> {
    let mut defaults = cx
        .namespaces_of("networking.k8s.io", "IngressClass")
        .iter()
        .flat_map(|ns| cx.of_kind("networking.k8s.io", "IngressClass", ns))
        .filter(|o| o.annotation(DEFAULT_CLASS) == Some("true"));
    let first = defaults.next()?;
    defaults
        .next()
        .is_none()
        .then(|| first.name.to_ascii_lowercase())
}

/// The class serving an Ingress: its own, else the known default class.
/// `Err(())` for an Ingress without a class while the default is unknown.
fn served_by(obj: &Object<'_>, spec: &IngressSpec, default: Option<&str>) -> Result<String, ()> {
    match ingress_class(obj, spec) {
        Some(c) => Ok(c.to_ascii_lowercase()),
        None => default.map(str::to_string).ok_or(()),
    }
}

/// Some rule of ours claims a route of `other`.
fn routes_meet(ours: &IngressSpec, other: &IngressSpec) -> bool {
    ours.rules
        .iter()
        .flatten()
        .any(|rule| collision(rule, &paths(rule), other).is_some())
}

/// Where `rule` of ours claims the route of a rule of `other`: (their host, the path).
fn collision(
    rule: &IngressRule,
    ours: &[RoutePath],
    other: &IngressSpec,
) -> Option<(Option<String>, String)> {
    let host = rule_host(rule.host.as_ref());
    other.rules.iter().flatten().find_map(|theirs| {
        let their_host = rule_host(theirs.host.as_ref());
        if !same_host(host, their_host) {
            return None;
        }
        let their_paths = paths(theirs);
        ours.iter().find_map(|p| {
            their_paths
                .iter()
                .find(|q| p.same_route(q))
                .map(|q| (their_host.map(normalize_host), q.path.clone()))
        })
    })
}

/// Rivals named in one finding; the rest are counted.
const LISTED: usize = 10;

/// An Ingress's identity whichever API group it was written in (see
/// [`same_ingress`]).
fn identity(o: &Object<'_>) -> String {
    format!("{}\n{}\n{}", o.kind, o.namespace_or_default(), o.name)
}

/// What makes two claims one route: the class serving them, canary or not,
/// the host (without case) and the route as `RoutePath::same_route` compares it.
fn claim_key(
    class: &Result<String, ()>,
    canary: bool,
    rule: &IngressRule,
    path: &RoutePath,
) -> String {
    let class = match class {
        Ok(c) => format!("class {c}"),
        Err(()) => "no class".to_string(),
    };
    let host = match rule_host(rule.host.as_ref()) {
        Some(h) => format!("host {}", normalize_host(h)),
        None => "no host".to_string(),
    };
    format!("{class}\n{canary}\n{host}\n{}", path.route_key())
}

/// Marks that the Ingress of identity `who` is among the claims of `key`.
fn member_key(key: &str, who: &str) -> String {
    format!("member\n{key}\n{who}")
}

/// Every known Ingress's positions by the routes it claims, each Ingress
/// once per route (its copies in other API groups or in the inventory
/// counted once), plus a [`member_key`] entry for each.
fn group_routes(
    all: &mut dyn Iterator<Item = (usize, &Object<'_>)>,
    default: Option<&str>,
) -> Grouping {
    let mut groups = Grouping::new();
    for (at, o) in all {
        let Some(spec) = o.ingress() else { continue };
        let class = served_by(o, spec, default);
        let canary = is_canary(o);
        let who = identity(o);
        for rule in spec.rules.iter().flatten() {
            for path in paths(rule) {
                let key = claim_key(&class, canary, rule, &path);
                let member = member_key(&key, &who);
                if groups.contains_key(&member) {
                    continue;
                }
                groups.insert(member, Vec::new());
                groups.entry(key).or_default().push(at);
            }
        }
    }
    groups
}

impl Check for IngressHostConflict {
    fn needs(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Lookup>) {
        // no field selector reaches the hosts: one listing of every Ingress
        let Some(spec) = obj.ingress() else { return };
        if spec.rules.as_ref().is_some_and(|r| !r.is_empty()) {
            out.push(Lookup::list_all(&INGRESS));
            // Once the Ingresses are read: where ours and a rival on the same
            // route differ in naming a class, the one without is served by
            // the default class, which only the IngressClasses tell. (Two
            // without a class are served by the same one, whichever it is.)
            let named = ingress_class(obj, spec).is_some();
            let mixed = cx
                .others(obj)
                .filter(|o| !same_ingress(obj, o))
                .filter_map(|o| o.ingress().map(|s| (o, s)))
                .any(|(o, s)| ingress_class(o, s).is_some() != named && routes_meet(spec, s));
            if mixed {
                out.push(Lookup::list_all(&INGRESS_CLASS));
            }
        }
    }

    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.ingress() else { return };
        let default = default_class(cx);
        let class = served_by(obj, spec, default.as_deref());
        // every Ingress's routes grouped once per evaluation: comparing each
        // Ingress with every other costs n² over a bundle of thousands
        let groups = cx.grouped(META.id, |all| group_routes(all, default.as_deref()));
        let me = identity(obj);
        let name = obj.display_name();
        for (i, rule) in spec.rules.iter().flatten().enumerate() {
            let ours = paths(rule);
            let mut keys: Vec<String> = ours
                .iter()
                .map(|p| claim_key(&class, is_canary(obj), rule, p))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            // the rivals on these routes, each once, in the order of the bundle
            let mut rivals: Vec<usize> = Vec::new();
            let mut count = 0;
            if let [key] = keys.as_slice() {
                let members = groups.get(key).map_or(&[][..], Vec::as_slice);
                let mine = groups.contains_key(&member_key(key, &me));
                count = members.len().saturating_sub(usize::from(mine));
                rivals.extend(
                    members
                        .iter()
                        .copied()
                        .filter(|at| cx.at(*at).is_some_and(|o| !same_ingress(obj, o)))
                        .take(LISTED),
                );
            } else {
                let mut seen = std::collections::HashSet::new();
                for key in &keys {
                    for at in groups.get(key).into_iter().flatten() {
                        let Some(o) = cx.at(*at) else { continue };
                        if !same_ingress(obj, o) && seen.insert(identity(o)) {
                            count += 1;
                            if rivals.len() < LISTED {
                                rivals.push(*at);
                            }
                        }
                    }
                }
            }
            if count == 0 {
                continue;
            }
            let mut claims: Vec<String> = rivals
                .iter()
                .filter_map(|at| {
                    let other = cx.at(*at)?;
                    let (their_host, path) = collision(rule, &ours, other.ingress()?)?;
                    let host = their_host.map_or("no host".to_string(), |h| format!("host `{h}`"));
                    Some(format!("{} ({host}, path `{path}`)", other.display_name()))
                })
                .collect();
            if count > claims.len() {
                claims.push(format!("{} more", count - claims.len()));
            }
            let host = rule_host(rule.host.as_ref())
                .map_or("a rule without a host".to_string(), |h| {
                    format!("host `{h}`")
                });
            out.push(Hit::new(
                rule_host_pointer(i, rule.host.is_some()),
                format!(
                    "{name}: rule {i} claims {host} on a route also claimed by {}, through the same ingress \
                     class: the controller serves that route from only one of them (or merges them), so one \
                     application silently shadows or captures the other's traffic. Give each Ingress its own \
                     host or its own paths (a longer path beside a shorter one is fine: the longest match \
                     wins), or merge them into one Ingress.",
                    claims.join("; ")
                ),
            )
            // the cause is the rule's host and routes, not its backends:
            // a backend edited beside them is no new claim
            .evidence(format!(
                "{:?} {:?}",
                rule_host(rule.host.as_ref()).map(normalize_host),
                ours
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::ingress_common::{findings_of, test_ingress};
    use serde_json::json;

    const RULE: &str = "ingress-host-conflict";

    fn settings() -> serde_json::Value {
        json!({"rules": {RULE: "deny"}})
    }

    /// Many Ingresses on one route: each is told the first rivals by name
    /// and how many more there are, and no copy of itself counts, nor an
    /// Ingress of another class.
    #[test]
    fn many_rivals_are_named_up_to_a_count() {
        let mut objects: Vec<serde_json::Value> = (0..15)
            .map(|i| test_ingress("shop", &format!("web-{i:02}"), &[Some("shop.example.com")]))
            .collect();
        let mut other_class = test_ingress("shop", "elsewhere", &[Some("shop.example.com")]);
        other_class["spec"]["ingressClassName"] = json!("traefik");
        objects.push(other_class);
        let mut legacy_copy = test_ingress("shop", "web-00", &[Some("SHOP.example.com.")]);
        legacy_copy["apiVersion"] = json!("extensions/v1beta1");
        let input = json!({"objects": objects, "inventory": [legacy_copy], "settings": settings()});
        let f = findings_of(RULE, &input);
        assert_eq!(f.len(), 15, "{f:?}");
        let first = &f[0];
        assert_eq!(first.0, "web-00");
        for i in 1..=10 {
            assert!(
                first.2.contains(&format!("Ingress shop/web-{i:02} (")),
                "{}",
                first.2
            );
        }
        assert!(!first.2.contains("web-11 ("), "{}", first.2);
        assert!(first.2.contains("; 4 more,"), "{}", first.2);
        assert!(!first.2.contains("elsewhere"), "{}", first.2);
        // the last one's rivals start with web-00, listed once
        assert_eq!(
            f[14].2.matches("Ingress shop/web-00 (").count(),
            1,
            "{}",
            f[14].2
        );
    }

    #[test]
    fn inventory_conflict_names_the_other_ingress() {
        let input = json!({
            "objects": [test_ingress("shop", "web", &[Some("shop.example.com")])],
            "inventory": [test_ingress("marketing", "promo", &[Some("Shop.Example.com")])],
            "settings": settings(),
        });
        let f = findings_of(RULE, &input);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].1, "/spec/rules/0/host");
        assert!(f[0].2.contains("Ingress marketing/promo"), "{}", f[0].2);
    }

    #[test]
    fn an_update_never_conflicts_with_its_own_older_copy() {
        let new = test_ingress("shop", "web", &[Some("shop.example.com")]);
        let mut old_legacy = test_ingress("shop", "web", &[Some("shop.example.com")]);
        old_legacy["apiVersion"] = json!("extensions/v1beta1");
        let request = json!({
            "uid": "1", "operation": "UPDATE",
            "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
            "object": new, "oldObject": new,
        });
        // Gatekeeper's data.inventory, holding the object as synced before the update
        let inventory = json!({"namespace": {"shop": {
            "networking.k8s.io/v1": {"Ingress": {"web": new}},
            "extensions/v1beta1": {"Ingress": {"web": old_legacy}},
        }}});
        let report = crate::evaluate(
            &json!({"review": request, "parameters": settings()}),
            crate::Host {
                settings: None,
                inventory: Some(&inventory),
            },
        )
        .unwrap();
        assert!(
            report.findings().all(|f| f.rule != RULE),
            "{:?}",
            report.to_value()
        );
    }

    #[test]
    fn gatekeeper_inventory_with_a_rival_denies() {
        let request = json!({
            "uid": "1", "operation": "CREATE",
            "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
            "object": test_ingress("shop", "web", &[Some("x.a.com")]),
        });
        let inventory = json!({"namespace": {"other": {"networking.k8s.io/v1": {"Ingress": {
            "rival": test_ingress("other", "rival", &[Some("x.a.com")])}}}}});
        let report = crate::evaluate(
            &json!({"review": request, "parameters": settings()}),
            crate::Host {
                settings: None,
                inventory: Some(&inventory),
            },
        )
        .unwrap();
        let hits: Vec<_> = report.findings().filter(|f| f.rule == RULE).collect();
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("other/rival"));
    }

    #[test]
    fn hostless_rules_meet_only_each_other() {
        let input = json!({
            "objects": [
                test_ingress("a", "one", &[None, Some("x.example.com")]),
                test_ingress("b", "two", &[None]),
            ],
            "settings": settings(),
        });
        let f = findings_of(RULE, &input);
        let paths: Vec<_> = f.iter().map(|(n, p, _)| format!("{n}{p}")).collect();
        assert_eq!(paths, ["one/spec/rules/0", "two/spec/rules/0"]);
    }
}
