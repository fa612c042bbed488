//! Context from a live cluster: what the rules ask a host for, how its
//! answers (and refusals) change the verdict, and the bounds per request.
//! The host here is an in-memory cluster; the Kubewarden module is run
//! against the same kind of cluster in wasm-tests/tests/kubewarden.rs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests fail loudly by design

use portcullis::cases::policy_cases;
use portcullis::cluster::{self, Answer, Lookup, MAX_CALLS};
use portcullis::rules::RULES;
use portcullis::{evaluate, Host, Report};
use serde_json::{json, Value};
use std::path::Path;

/// An in-memory cluster answering lookups as an API server would.
#[derive(Default)]
struct Cluster {
    objects: Vec<Value>,
    /// `group/Kind` the host refuses, with its refusal.
    refuse: Vec<(&'static str, &'static str)>,
    /// apiVersions the cluster does not serve.
    not_served: Vec<&'static str>,
    /// Every call, as `op apiVersion kind [namespace[/name]]`.
    calls: Vec<String>,
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

impl Cluster {
    fn with(objects: Vec<Value>) -> Cluster {
        Cluster {
            objects,
            ..Cluster::default()
        }
    }

    fn fetch(&mut self, lookup: &Lookup, api_version: &str) -> Answer {
        let kind = lookup.kind();
        self.calls.push(match lookup {
            Lookup::Get {
                namespace, name, ..
            } => format!("get {api_version} {} {namespace}/{name}", kind.kind),
            Lookup::List { namespace, .. } => {
                format!("list {api_version} {} {namespace}", kind.kind)
            }
            Lookup::ListAll { .. } => format!("list-all {api_version} {}", kind.kind),
        });
        if let Some((_, why)) = self.refuse.iter().find(|(k, _)| *k == kind.qualified()) {
            return Answer::Failed((*why).to_string());
        }
        if self.not_served.contains(&api_version) {
            return Answer::NotServed;
        }
        let of_kind = |o: &&Value| {
            o["kind"] == kind.kind && group_of(o["apiVersion"].as_str().unwrap()) == kind.group
        };
        let ns_of = |o: &Value| {
            o["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        };
        let found: Vec<Value> = self
            .objects
            .iter()
            .filter(of_kind)
            .filter(|o| lookup.namespace().is_none_or(|ns| ns_of(o) == ns))
            .filter(|o| match lookup {
                Lookup::Get { name, .. } => o["metadata"]["name"] == json!(name),
                _ => true,
            })
            .cloned()
            .collect();
        match lookup {
            Lookup::Get { .. } if found.is_empty() => Answer::NotFound,
            _ => Answer::Objects(found),
        }
    }

    fn evaluate(&mut self, input: &Value) -> (Report, cluster::Gathered) {
        cluster::evaluate_in_cluster(input, Host::default(), &mut |l, v| self.fetch(l, v)).unwrap()
    }
}

fn ingress(ns: &str, name: &str, host: &str, secrets: &[&str]) -> Value {
    let tls: Vec<Value> = secrets
        .iter()
        .map(|s| json!({"hosts": [host], "secretName": s}))
        .collect();
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"ingressClassName": "nginx", "tls": tls, "rules": [{"host": host, "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}})
}

fn tls_secret(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": ns},
        "data": {"tls.crt": "LS0tLS1CRUdJTg==", "tls.key": "LS0tLS1CRUdJTg=="}})
}

fn deployment(ns: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1.0.0"}]}}}})
}

fn default_deny(ns: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
}

fn admit(object: &Value, settings: Value) -> Value {
    json!({"request": {"uid": "1", "operation": "CREATE",
        "kind": {"group": "", "version": "v1", "kind": object["kind"]},
        "object": object}, "settings": settings})
}

fn of_rule<'r>(report: &'r Report, rule: &str) -> Vec<&'r portcullis::Finding> {
    report.findings().filter(|f| f.rule == rule).collect()
}

const TLS: &str = "ingress-tls-secret";

#[test]
fn an_absent_secret_is_looked_up_then_its_producers() {
    let mut c = Cluster::with(vec![]);
    c.not_served = vec!["external-secrets.io/v1"];
    let (report, gathered) = c.evaluate(&admit(
        &ingress("shop", "web", "shop.example.com", &["web-tls"]),
        json!({}),
    ));
    assert_eq!(
        c.calls,
        [
            "list-all networking.k8s.io/v1 Ingress",
            "get v1 Secret shop/web-tls",
            "list cert-manager.io/v1 Certificate shop",
            "list bitnami.com/v1alpha1 SealedSecret shop",
            "list external-secrets.io/v1 ExternalSecret shop",
            "list external-secrets.io/v1beta1 ExternalSecret shop",
        ]
    );
    assert_eq!(gathered.calls, 6);
    let tls = of_rule(&report, TLS);
    assert_eq!(tls.len(), 1, "{:?}", report.to_value());
    assert_eq!(tls[0].path, "/spec/tls/0/secretName");
    assert!(!report.allowed);
}

#[test]
fn a_present_secret_or_a_producer_allows() {
    let mut c = Cluster::with(vec![tls_secret("shop", "web-tls")]);
    let (report, _) = c.evaluate(&admit(
        &ingress("shop", "web", "shop.example.com", &["web-tls"]),
        json!({}),
    ));
    assert!(of_rule(&report, TLS).is_empty());
    // found: nothing else to ask
    assert_eq!(c.calls.len(), 2, "{:?}", c.calls);

    let certificate = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"secretName": "web-tls", "dnsNames": ["shop.example.com"],
                 "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}}});
    let mut c = Cluster::with(vec![certificate]);
    let (report, _) = c.evaluate(&admit(
        &ingress("shop", "web", "shop.example.com", &["web-tls"]),
        json!({}),
    ));
    assert!(of_rule(&report, TLS).is_empty(), "{:?}", report.to_value());

    // a Secret of that name in another namespace is not this Ingress's
    let mut c = Cluster::with(vec![tls_secret("billing", "web-tls")]);
    let (report, _) = c.evaluate(&admit(
        &ingress("shop", "web", "shop.example.com", &["web-tls"]),
        json!({}),
    ));
    assert_eq!(of_rule(&report, TLS).len(), 1);
}

#[test]
fn a_refused_lookup_leaves_the_rule_not_checked() {
    let refusal = "Policy has not been granted access to Kubernetes v1/Secret resources";
    let object = ingress("shop", "web", "shop.example.com", &["web-tls"]);
    let run = |settings: Value| {
        let mut c = Cluster::with(vec![]);
        c.refuse = vec![("Secret", refusal)];
        c.evaluate(&admit(&object, settings)).0
    };
    // fail-open (the default): a warning naming the rule and the reason, no denial
    let open = run(json!({}));
    let tls = of_rule(&open, TLS);
    assert_eq!(tls.len(), 1);
    assert_eq!(tls[0].action, portcullis::Action::Warn);
    assert!(
        tls[0].message.contains("was not checked"),
        "{}",
        tls[0].message
    );
    assert!(tls[0].message.contains(refusal), "{}", tls[0].message);
    assert!(
        tls[0].message.contains("Secret shop/web-tls"),
        "{}",
        tls[0].message
    );
    assert!(open.allowed, "{:?}", open.to_value());
    // fail-closed: the rule is set to deny, so the request is denied
    let closed = run(json!({"clusterContext": "fail-closed"}));
    let tls = of_rule(&closed, TLS);
    assert_eq!(tls[0].action, portcullis::Action::Deny);
    assert!(tls[0].message.contains("fail-closed"), "{}", tls[0].message);
    assert!(!closed.allowed);
    // fail-closed never denies for a rule the user only asked to warn about
    let warned = run(json!({"clusterContext": "fail-closed", "rules": {TLS: "warn"}}));
    assert_eq!(of_rule(&warned, TLS)[0].action, portcullis::Action::Warn);
    assert!(warned.allowed);
    // the other rules ran with what the cluster gave them
    assert!(of_rule(&open, "ingress-host-conflict").is_empty());
}

#[test]
fn context_off_asks_nothing_and_answers_as_the_core_does() {
    for object in [
        ingress("shop", "web", "shop.example.com", &["web-tls"]),
        deployment("shop"),
    ] {
        let input = admit(
            &object,
            json!({"clusterContext": "off", "profile": "strict"}),
        );
        let mut c = Cluster::with(vec![]);
        let (report, gathered) = c.evaluate(&input);
        assert!(c.calls.is_empty());
        assert_eq!(gathered.calls, 0);
        assert_eq!(report, evaluate(&input, Host::default()).unwrap());
    }
}

#[test]
fn a_workload_reads_its_namespace_policies_and_service_account() {
    let settings = json!({"profile": "strict"});
    let mut bare = Cluster::with(vec![]);
    let (report, _) = bare.evaluate(&admit(&deployment("shop"), settings.clone()));
    assert_eq!(
        bare.calls,
        [
            "list networking.k8s.io/v1 NetworkPolicy shop",
            "get v1 ServiceAccount shop/default"
        ]
    );
    assert_eq!(of_rule(&report, "namespace-default-deny-missing").len(), 1);
    assert_eq!(of_rule(&report, "serviceaccount-token-automount").len(), 1);

    let quiet_sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": "shop"}, "automountServiceAccountToken": false});
    let mut guarded = Cluster::with(vec![default_deny("shop"), quiet_sa]);
    let (report, _) = guarded.evaluate(&admit(&deployment("shop"), settings));
    assert!(of_rule(&report, "namespace-default-deny-missing").is_empty());
    assert!(of_rule(&report, "serviceaccount-token-automount").is_empty());
    assert!(report.allowed, "{:?}", report.to_value());
}

#[test]
fn conflicting_ingresses_anywhere_in_the_cluster_are_found() {
    let rival = ingress("marketing", "promo", "shop.example.com", &[]);
    let mut c = Cluster::with(vec![rival, tls_secret("shop", "web-tls")]);
    let (report, _) = c.evaluate(&admit(
        &ingress("shop", "web", "shop.example.com", &["web-tls"]),
        json!({}),
    ));
    let hits = of_rule(&report, "ingress-host-conflict");
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].message.contains("marketing/promo"),
        "{}",
        hits[0].message
    );
}

#[test]
fn the_audit_scan_of_an_unchanged_cluster_agrees_with_admission() {
    // the audit scanner sends objects the cluster already holds
    let object = ingress("shop", "web", "shop.example.com", &["web-tls", "api-tls"]);
    let others = vec![
        tls_secret("shop", "web-tls"),
        ingress("shop", "api", "api.example.com", &[]),
    ];
    let mut before = Cluster::with(others.clone());
    let (admitted, _) = before.evaluate(&admit(&object, json!({})));
    let mut with_itself = others;
    with_itself.push(object.clone());
    let mut after = Cluster::with(with_itself);
    let (scanned, _) = after.evaluate(&admit(&object, json!({})));
    assert_eq!(admitted, scanned);
    assert_eq!(of_rule(&scanned, TLS).len(), 1, "api-tls is absent");
}

#[test]
fn calls_per_request_are_bounded() {
    let names: Vec<String> = (0..40).map(|i| format!("tls-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut c = Cluster::with(vec![]);
    let (report, gathered) = c.evaluate(&admit(
        &ingress("shop", "web", "a.example.com", &refs),
        json!({}),
    ));
    assert_eq!(c.calls.len(), MAX_CALLS);
    assert_eq!(gathered.calls, MAX_CALLS);
    // past the bound the rule cannot conclude: it is not checked, visibly
    let tls = of_rule(&report, TLS);
    assert_eq!(tls.len(), 1);
    assert!(
        tls[0]
            .message
            .contains(&format!("at most {MAX_CALLS} host calls")),
        "{}",
        tls[0].message
    );
}

#[test]
fn exempted_and_disabled_rules_ask_for_nothing() {
    let settings = json!({
        "rules": {"ingress-host-conflict": "off"},
        "exemptions": [{"rules": [TLS], "namespaces": ["shop"], "reason": "certificates come from the mesh"}]
    });
    let mut c = Cluster::with(vec![]);
    let (report, _) = c.evaluate(&admit(
        &ingress("shop", "web", "a.example.com", &["web-tls"]),
        settings,
    ));
    assert!(c.calls.is_empty(), "{:?}", c.calls);
    assert!(of_rule(&report, TLS).is_empty());
}

#[test]
fn an_unreadable_answer_is_a_failure_not_a_crash() {
    let object = ingress("shop", "web", "a.example.com", &["web-tls"]);
    for bad in [
        json!("a string"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": "x"}),
    ] {
        let mut calls = 0;
        let (report, gathered) = cluster::evaluate_in_cluster(
            &admit(&object, json!({})),
            Host::default(),
            &mut |lookup: &Lookup, _: &str| {
                calls += 1;
                match lookup {
                    Lookup::Get { .. } => Answer::Objects(vec![bad.clone()]),
                    _ => Answer::Objects(vec![]),
                }
            },
        )
        .unwrap();
        assert!(calls > 0);
        assert!(gathered.lookups.iter().any(|(_, failed)| failed.is_some()));
        let tls = of_rule(&report, TLS);
        assert_eq!(tls.len(), 1, "{bad}");
        assert!(tls[0].message.contains("not checked"), "{}", tls[0].message);
    }
}

#[test]
fn settings_name_the_bad_cluster_context() {
    let err = portcullis::validate_settings(&json!({"clusterContext": "fail-closd"})).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("clusterContext"), "{text}");
    assert!(text.contains("fail-closed"), "{text}");
    assert!(portcullis::validate_settings(&json!({"clusterContext": true})).is_err());
}

/// Every lookup a rule makes on its own cases is of a kind it declares, so
/// the metadata built from the declarations grants everything it reads.
#[test]
fn rules_look_up_only_the_kinds_they_declare() {
    let cases = policy_cases(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap();
    let mut seen = 0;
    for case in &cases {
        let objects = match &case.request {
            Some(req) => vec![req["object"].clone()],
            None => case.objects.clone(),
        };
        for object in objects.iter().filter(|o| o.is_object()) {
            let mut asked: Vec<Lookup> = Vec::new();
            let input = json!({"objects": [object], "settings": {"profile": "strict"}});
            cluster::evaluate_in_cluster(&input, Host::default(), &mut |l: &Lookup, _: &str| {
                asked.push(l.clone());
                Answer::Objects(vec![])
            })
            .unwrap();
            for lookup in asked {
                seen += 1;
                assert!(
                    RULES
                        .iter()
                        .any(|r| r.cluster_reads().contains(&lookup.kind())),
                    "{}: {lookup} is of a kind no rule declares",
                    case.name
                );
            }
        }
    }
    assert!(seen > 0);
    let kinds: Vec<String> = cluster::kinds_read()
        .iter()
        .map(|k| k.qualified())
        .collect();
    assert!(kinds.contains(&"Secret".to_string()), "{kinds:?}");
}

#[test]
fn one_unreadable_object_fails_its_whole_listing() {
    let broken = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "broken", "namespace": "shop"}, "spec": "not a spec"});
    let mut c = Cluster::with(vec![default_deny("shop"), broken]);
    let (report, gathered) = c.evaluate(&admit(&deployment("shop"), json!({"profile": "strict"})));
    // the listing is incomplete, so nothing is concluded from it
    let ndd = of_rule(&report, "namespace-default-deny-missing");
    assert_eq!(ndd.len(), 1, "{:?}", report.to_value());
    assert!(ndd[0].message.contains("not checked"), "{}", ndd[0].message);
    assert!(ndd[0].message.contains("cannot read"), "{}", ndd[0].message);
    assert!(!gathered
        .listed
        .covers("networking.k8s.io", "NetworkPolicy", "shop"));
    assert!(gathered
        .objects
        .iter()
        .all(|o| o["kind"] != "NetworkPolicy"));
    // the ServiceAccount lookup was unaffected
    assert_eq!(of_rule(&report, "serviceaccount-token-automount").len(), 1);
    assert!(!of_rule(&report, "serviceaccount-token-automount")[0]
        .message
        .contains("not checked"));
}

#[test]
fn a_compiled_policy_reads_the_same_cluster_and_refuses_settings_in_the_input() {
    let strict = portcullis::Policy::from_settings(Some(&json!({"profile": "strict"}))).unwrap();
    let mut c = Cluster::with(vec![default_deny("shop")]);
    let (by_host, _) = c.evaluate(&admit(&deployment("shop"), json!({"profile": "strict"})));
    let request = json!({"request": admit(&deployment("shop"), json!({}))["request"].clone()});
    let (compiled, gathered) = cluster::evaluate_from(
        &request,
        &strict,
        cluster::Gathered::default(),
        &mut |l, v| c.fetch(l, v),
    )
    .unwrap();
    assert_eq!(compiled.to_value(), by_host.to_value());
    assert!(gathered.calls > 0);
    // the host compiled the settings: settings inside the input are not its own
    let err = cluster::evaluate_from(
        &admit(&deployment("shop"), json!({"profile": "baseline"})),
        &strict,
        cluster::Gathered::default(),
        &mut |l, v| c.fetch(l, v),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/settings"), "{err}");
}
