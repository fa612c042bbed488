//! The engine's contract: input shapes, actions, exemptions, ratcheting, audit mode.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests fail loudly by design

use portcullis::{evaluate, evaluate_bytes, Host, Policy};
use serde_json::{json, Value};

fn nodeport(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop", "labels": {"tier": "edge"}},
           "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}})
}

fn request(op: &str, object: Value, old: Option<Value>) -> Value {
    let mut r = json!({"uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Service"}, "operation": op, "object": object});
    if let Some(o) = old {
        r["oldObject"] = o;
    }
    r
}

fn run(input: Value) -> Value {
    evaluate(&input, Host::default())
        .map(|r| r.to_value())
        .unwrap_or_else(|e| e.to_answer())
}

fn rules_of(report: &Value, list: &str) -> Vec<String> {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_input_shape_gives_the_same_finding() {
    let obj = nodeport("api");
    let req = request("CREATE", obj.clone(), None);
    let shapes = [
        obj.clone(),
        json!({"apiVersion": "v1", "kind": "List", "items": [obj.clone()]}),
        json!([obj.clone()]),
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req.clone()}),
        req.clone(),
        json!({"review": req.clone(), "parameters": {}}),
        json!({"request": req.clone(), "settings": {}}),
        json!({"objects": [obj.clone()], "settings": {}}),
    ];
    for input in shapes {
        let r = run(input.clone());
        assert_eq!(
            rules_of(&r, "violations"),
            ["service-type-nodeport"],
            "{input}: {r}"
        );
        assert_eq!(r["violations"][0]["object"]["name"], "api");
        assert_eq!(r["allowed"], false);
    }
}

#[test]
fn nested_lists_flatten_and_kind_lists_count() {
    let r = run(
        json!({"apiVersion": "v1", "kind": "ServiceList", "items": [nodeport("a"), nodeport("b")]}),
    );
    assert_eq!(r["summary"]["objects"], 2);
    let r =
        run(json!([{"apiVersion": "v1", "kind": "List", "items": [nodeport("a")]}, nodeport("b")]));
    assert_eq!(r["summary"]["denied"], 2);
}

#[test]
fn delete_and_connect_are_never_denied() {
    for op in ["DELETE", "CONNECT"] {
        let r = run(
            json!({"request": {"uid": "x", "kind": {"group": "", "version": "v1", "kind": "Service"}, "operation": op,
                            "oldObject": nodeport("api"), "object": null}, "settings": {}}),
        );
        assert_eq!(r["allowed"], true, "{op}: {r}");
        assert_eq!(r["summary"]["objects"], 0);
    }
}

#[test]
fn update_ratchets_findings_the_old_object_had() {
    let r = run(json!({"request": request("UPDATE", nodeport("api"), Some(nodeport("api")))}));
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(rules_of(&r, "warnings"), ["service-type-nodeport"]);
    assert!(r["warnings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("already present"));
    // a new finding on UPDATE is denied
    let old = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}, "spec": {"type": "ClusterIP"}});
    let r = run(json!({"request": request("UPDATE", nodeport("api"), Some(old))}));
    assert_eq!(r["allowed"], false);
    // no oldObject (audit scanners send none): same verdict as CREATE
    let r = run(json!({"request": request("UPDATE", nodeport("api"), None)}));
    assert_eq!(r["allowed"], false);
}

#[test]
fn actions_warn_and_off() {
    let r = run(
        json!({"objects": [nodeport("api")], "settings": {"rules": {"service-type-nodeport": "warn"}}}),
    );
    assert_eq!(r["allowed"], true);
    assert_eq!(r["warnings"][0]["action"], "warn");
    let r = run(
        json!({"objects": [nodeport("api")], "settings": {"rules": {"service-type-nodeport": "off"}}}),
    );
    assert_eq!(r["summary"]["denied"], 0);
    assert_eq!(r["summary"]["warned"], 0);
}

#[test]
fn audit_mode_reports_but_allows() {
    let r = run(json!({"objects": [nodeport("api")], "settings": {"mode": "audit"}}));
    assert_eq!(r["allowed"], true);
    assert_eq!(rules_of(&r, "violations"), ["service-type-nodeport"]);
}

#[test]
fn exemptions_by_namespace_name_labels_with_reason() {
    // only the rule under test: the bundle has more to say (no default-deny policy)
    let ex = |e: Value| {
        let settings =
            json!({"exemptions": [e], "rules": {"namespace-default-deny-missing": "off"}});
        run(json!({"objects": [nodeport("api"), nodeport("web")], "settings": settings}))
    };
    let r = ex(json!({"namespaces": ["sh*"], "reason": "legacy"}));
    assert_eq!(r["summary"]["denied"], 0);
    assert_eq!(r["exempted"][0]["reason"], "legacy");
    assert_eq!(r["summary"]["exempted"], 2);
    let r =
        ex(json!({"names": ["api"], "rules": ["service-type-nodeport"], "reason": "debug port"}));
    assert_eq!(r["summary"]["denied"], 1);
    assert_eq!(r["violations"][0]["object"]["name"], "web");
    let r = ex(json!({"labels": {"tier": "edge"}, "reason": "edge tier"}));
    assert_eq!(r["summary"]["denied"], 0);
    let r = ex(json!({"labels": {"tier": "core"}, "reason": "core tier"}));
    assert_eq!(r["summary"]["denied"], 2);
    let r = ex(json!({"rules": ["service-type-loadbalancer"], "reason": "other rule"}));
    assert_eq!(r["summary"]["denied"], 2);
}

#[test]
fn exemption_annotation_is_opt_in_and_needs_a_reason() {
    let mut obj = nodeport("api");
    obj["metadata"]["annotations"] =
        json!({"portcullis.dev/exempt": "service-type-nodeport: vendor appliance"});
    let r = run(json!({"objects": [obj.clone()]}));
    assert_eq!(
        r["summary"]["denied"], 1,
        "annotations are ignored unless enabled"
    );
    let r = run(json!({"objects": [obj.clone()], "settings": {"exemptionAnnotations": true}}));
    assert_eq!(r["summary"]["denied"], 0);
    assert!(r["exempted"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("vendor appliance"));
    obj["metadata"]["annotations"] = json!({"portcullis.dev/exempt": "service-type-nodeport"});
    let r = run(json!({"objects": [obj], "settings": {"exemptionAnnotations": true}}));
    assert_eq!(r["summary"]["denied"], 1);
    assert!(
        r["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("portcullis.dev/exempt"),
        "{r}"
    );
}

/// Who may set the settings, as a table: host settings (None: the host has
/// no channel but the input), the input, and what must come of it.
#[test]
fn settings_precedence_table() {
    let np = |a: &str| json!({"rules": {"service-type-nodeport": a}});
    let req = request("CREATE", nodeport("a"), None);
    let gk = |p: Value| json!({"review": req, "parameters": p});
    let kw = |s: Value| json!({"request": req, "settings": s});
    let env = |s: Value| json!({"objects": [nodeport("a")], "settings": s});
    let consent = json!({"allowInputSettings": true, "rules": {"service-type-nodeport": "off"}});
    let both_off =
        json!({"rules": {"service-type-nodeport": "off", "service-type-loadbalancer": "off"}});
    // (host, input, as checked content, expected: "allowed" | "denied" | an error code, error key or path)
    let table: Vec<(Option<Value>, Value, bool, &str, &str)> = vec![
        // no channel but the input: its settings are the host's
        (None, env(np("off")), false, "allowed", ""),
        (None, kw(np("off")), false, "allowed", ""),
        (None, gk(np("off")), false, "allowed", ""),
        // the host's own settings apply when the input carries none
        (
            Some(np("off")),
            json!([nodeport("a")]),
            false,
            "allowed",
            "",
        ),
        (Some(np("off")), req.clone(), false, "allowed", ""),
        // Gatekeeper parameters override the host's key by key; empty ones change nothing
        (Some(np("off")), gk(json!({})), false, "allowed", ""),
        (Some(np("off")), gk(Value::Null), false, "allowed", ""),
        (Some(np("off")), gk(np("deny")), false, "denied", ""),
        (
            Some(np("off")),
            gk(json!({"profile": "strict"})),
            false,
            "allowed",
            "",
        ),
        (
            Some(np("off")),
            gk(json!({"rules": {"service-type-nodeport": null}})),
            false,
            "allowed",
            "",
        ),
        (
            Some(both_off.clone()),
            gk(json!({"rules": {"service-type-loadbalancer": "deny"}})),
            false,
            "allowed",
            "",
        ),
        // settings elsewhere in the input: an error naming where, unless the host consents
        (
            Some(np("deny")),
            env(json!({"mode": "audit"})),
            false,
            "settings-in-input",
            "/settings",
        ),
        (
            Some(json!({})),
            kw(np("off")),
            false,
            "settings-in-input",
            "/settings",
        ),
        (Some(consent.clone()), env(np("deny")), false, "denied", ""),
        (Some(consent.clone()), kw(json!({})), false, "allowed", ""),
        (Some(np("deny")), env(json!({})), false, "denied", ""),
        // in checked content even parameters are content
        (
            Some(np("off")),
            gk(np("deny")),
            true,
            "settings-in-input",
            "/parameters",
        ),
        (None, env(np("off")), true, "settings-in-input", "/settings"),
        (Some(consent.clone()), gk(np("deny")), true, "denied", ""),
        // only the host can consent, and what the input carries must be settings
        (
            Some(json!({})),
            gk(json!({"allowInputSettings": true})),
            false,
            "invalid-settings",
            "parameters.allowInputSettings",
        ),
        (
            Some(consent),
            env(json!({"allowInputSettings": false})),
            false,
            "invalid-settings",
            "settings.allowInputSettings",
        ),
        (
            Some(json!({})),
            gk(json!("strict")),
            false,
            "invalid-settings",
            "parameters",
        ),
        // the host's invalid settings are reported whatever the input overrides
        (
            Some(json!({"profile": "nope"})),
            gk(json!({"profile": "strict"})),
            false,
            "invalid-settings",
            "profile",
        ),
        (
            Some(json!({"profle": "strict"})),
            gk(json!({})),
            false,
            "invalid-settings",
            "profle",
        ),
        (
            Some(json!({"profile": "nope"})),
            json!([nodeport("a")]),
            false,
            "invalid-settings",
            "profile",
        ),
    ];
    for (host, input, content, want, at) in table {
        let h = Host {
            settings: host.as_ref(),
            inventory: None,
        };
        let result = if content {
            portcullis::evaluate_document(&input, h)
        } else {
            evaluate(&input, h)
        };
        let cached = if content {
            portcullis::PolicyCache::new().evaluate_document(&input, h)
        } else {
            portcullis::PolicyCache::new().evaluate(&input, h)
        };
        let answer = result
            .map(|r| r.to_value())
            .unwrap_or_else(|e| e.to_answer());
        let what = format!("host {host:?}, input {input}, content {content}: {answer}");
        if host.is_none() && !content {
            // the generic ABI's path: JSON text, the settings compared as text
            let text = serde_json::to_vec(&input).unwrap();
            let cache = portcullis::PolicyCache::new();
            assert_eq!(cache.evaluate_bytes(&text), answer, "{what}");
            assert_eq!(cache.evaluate_bytes(&text), answer, "again: {what}");
        }
        assert_eq!(
            cached
                .map(|r| r.to_value())
                .unwrap_or_else(|e| e.to_answer()),
            answer,
            "{what}"
        );
        match want {
            "allowed" | "denied" => {
                assert!(answer.get("error").is_none(), "{what}");
                assert_eq!(answer["allowed"], want == "allowed", "{what}");
            }
            code => {
                assert_eq!(answer["error"]["code"], code, "{what}");
                let named = answer["error"]["key"]
                    .as_str()
                    .or(answer["error"]["path"].as_str());
                assert_eq!(named, Some(at), "{what}");
                assert_eq!(answer["allowed"], false, "{what}");
            }
        }
    }
}

/// Settings sent as text with every request (the generic ABI, Kubewarden)
/// are found by their bytes: one cache serving requests that alternate
/// settings texts, equal settings spelled differently, invalid settings and
/// shapes where `parameters` belongs to the object answers each as a fresh
/// compile does.
#[test]
fn settings_sent_as_text_are_cached_by_their_bytes() {
    let cache = portcullis::PolicyCache::new();
    let service = nodeport("s");
    let storage = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "fast"}, "parameters": {"type": "gp3"}});
    let texts: Vec<String> = vec![
        json!({"request": request("CREATE", service.clone(), None), "settings": {"rules": {"service-type-nodeport": "warn"}}}).to_string(),
        json!({"review": request("CREATE", service.clone(), None), "parameters": {"violationActions": ["warn"]}}).to_string(),
        // the same settings in other bytes
        format!("{{\"objects\": [{service}], \"settings\": {{ \"rules\" : {{\"service-type-nodeport\":\"warn\"}} }} }}"),
        json!({"objects": [service.clone()], "settings": {"profile": "no-such-profile"}}).to_string(),
        json!({"objects": [service.clone()], "settings": {}}).to_string(),
        json!({"objects": [service.clone()], "settings": null}).to_string(),
        json!({"objects": [service.clone()]}).to_string(),
        json!({"request": request("CREATE", service.clone(), None), "settings": "strict"}).to_string(),
        storage.to_string(),
        json!({"objects": [storage], "settings": {"profile": "strict"}}).to_string(),
    ];
    for round in 0..3 {
        for text in &texts {
            let fresh = portcullis::evaluate_bytes(text.as_bytes());
            assert_eq!(
                cache.evaluate_bytes(text.as_bytes()),
                fresh,
                "round {round}: {text}"
            );
            assert_eq!(
                cache.evaluate_to_json(text.as_bytes()),
                portcullis::evaluate_to_json(text.as_bytes()),
                "round {round}: {text}"
            );
        }
    }
    // a text seen before is the policy compiled for it the first time
    let settings =
        serde_json::value::RawValue::from_string(r#"{"profile": "strict"}"#.into()).unwrap();
    let first = cache.compile_text(Some(&settings)).unwrap();
    let again = cache.compile_text(Some(&settings)).unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &again));
    let by_value = cache.compile(Some(&json!({"profile": "strict"}))).unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &by_value));
}

/// One cache serves hosts that alternate settings (a deny and a warn
/// constraint), and gives each the answer of a fresh compile.
#[test]
fn a_policy_cache_answers_as_a_fresh_compile() {
    let cache = portcullis::PolicyCache::new();
    let data = json!({"rules": {"service-type-nodeport": "warn"}});
    let inputs: Vec<Value> = (0..12)
        .map(|i| {
            let parameters = match i % 4 {
                0 => json!({}),
                1 => json!({"violationActions": ["warn"]}),
                2 => json!({"rules": {"service-type-nodeport": "deny"}}),
                _ => json!({"profile": "strict", "rules": {"no-such-rule": "off"}}),
            };
            json!({"review": request("CREATE", nodeport(&format!("s{i}")), None), "parameters": parameters})
        })
        .collect();
    for round in 0..3 {
        for input in &inputs {
            let host = Host {
                settings: Some(&data),
                inventory: None,
            };
            let fresh = evaluate(input, host).map(|r| (r.to_value(), r.violation_list().count()));
            let kept = cache
                .evaluate(input, host)
                .map(|r| (r.to_value(), r.violation_list().count()));
            assert_eq!(kept, fresh, "round {round}: {input}");
        }
    }
}

#[test]
fn strict_profile_denies_internal_load_balancers() {
    let lb = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "annotations": {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}}, "spec": {"type": "LoadBalancer"}});
    let r = run(json!({"objects": [lb.clone()], "settings": {"profile": "baseline"}}));
    assert!(
        !rules_of(&r, "violations").contains(&"service-type-loadbalancer".to_string()),
        "{r}"
    );
    let r = run(json!({"objects": [lb], "settings": {"profile": "strict"}}));
    assert!(rules_of(&r, "violations").contains(&"service-type-loadbalancer".to_string()));
}

#[test]
fn user_parameters_keep_the_profile_action() {
    let p = Policy::from_settings(Some(&json!({"profile": "strict", "rules": {"service-type-loadbalancer": {"allowInternal": true}}}))).unwrap();
    assert_eq!(
        p.action_of("service-type-loadbalancer"),
        Some(portcullis::Action::Deny)
    );
    let p = Policy::from_settings(Some(
        &json!({"rules": {"ingress-host-wildcard": {"action": "off"}}}),
    ))
    .unwrap();
    assert_eq!(
        p.action_of("ingress-host-wildcard"),
        Some(portcullis::Action::Off)
    );
}

#[test]
fn bad_shapes_are_errors_that_say_what() {
    let cases = [
        (json!("text"), "invalid-input"),
        (
            json!({"review": {"object": nodeport("a"), "operation": "CREATE", "kind": {}}, "params": {}}),
            "invalid-input",
        ),
        (
            json!({"request": {"operation": "PATCH", "kind": {}, "object": nodeport("a")}}),
            "invalid-input",
        ),
        (
            json!({"request": {"operation": "CREATE", "kind": {}}}),
            "invalid-input",
        ),
        (json!({"objects": "nope"}), "invalid-input"),
        (json!([1, 2]), "invalid-input"),
        (json!({"kind": "Service", "metadata": {}}), "invalid-object"),
        (
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": 7}}),
            "invalid-object",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [{"port": "80"}]}}),
            "invalid-object",
        ),
        (
            json!({"objects": [], "settings": {"rules": {"no-such-rule": "deny"}}}),
            "invalid-settings",
        ),
        (
            json!({"objects": [], "inventory": {"clusters": {}}}),
            "invalid-input",
        ),
    ];
    for (input, code) in cases {
        let r = run(input.clone());
        assert_eq!(r["error"]["code"], code, "{input}: {r}");
        assert_eq!(r["allowed"], false);
        assert!(r["error"]["message"].as_str().unwrap().len() > 10);
    }
    let r = run(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [{"port": "80"}]}}),
    );
    assert_eq!(r["error"]["path"], "/spec/ports/0/port", "{r}");
}

/// An inventory read in part would let a rule conclude that something is
/// absent: every malformed part is an error that says where it is.
#[test]
fn malformed_inventory_is_an_error_naming_where() {
    let svc = nodeport("a");
    for (inventory, at) in [
        (json!({"items": {"a": 1}}), "inventory.items:"),
        (
            json!({"apiVersion": "v1", "kind": "List", "items": "x"}),
            "inventory.items:",
        ),
        (json!([svc.clone(), 7]), "inventory[1]:"),
        (json!({"items": [svc.clone(), "x"]}), "inventory.items[1]:"),
        (
            json!({"namespace": {"shop": []}}),
            "inventory.namespace.shop:",
        ),
        (
            json!({"namespace": {"shop": {"v1": {"Service": {"a": "not an object"}}}}}),
            "inventory.namespace.shop.v1.Service.a:",
        ),
        (
            json!({"cluster": {"rbac.authorization.k8s.io/v1": 3}}),
            "inventory.cluster.rbac.authorization.k8s.io/v1:",
        ),
    ] {
        let r = run(json!({"objects": [svc.clone()], "inventory": inventory.clone()}));
        assert_eq!(r["error"]["code"], "invalid-input", "{inventory}: {r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.contains(at), "{inventory}: {message}");
    }
    // what Gatekeeper syncs for an empty level is no error
    let r =
        run(json!({"objects": [svc], "inventory": {"namespace": {"shop": null}, "cluster": {}}}));
    assert!(r.get("error").is_none(), "{r}");
}

/// An array or a scalar where an object belongs on the way to a typed
/// field (a Deployment's `template`) is a malformed object, not a missing
/// field: read as absent, the rules judged an empty pod spec and pointed
/// their findings through the array.
#[test]
fn a_container_of_the_wrong_type_on_a_typed_path_is_an_invalid_object() {
    let deployment = |template: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "shop"},
               "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": template}})
    };
    for (template, found) in [
        (json!(["203.0.113.7"]), "an array"),
        (json!("pod"), "a string"),
    ] {
        let r = run(deployment(template));
        assert_eq!(r["error"]["code"], "invalid-object", "{r}");
        assert_eq!(r["error"]["path"], "/spec/template", "{r}");
        assert!(
            r["error"]["message"].as_str().unwrap().contains(found),
            "{r}"
        );
    }
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "shop"},
                      "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": 7}}});
    assert_eq!(run(cron)["error"]["path"], "/spec/jobTemplate/spec");
    // absent and null stay absent
    for template in [Value::Null, json!({})] {
        let r = run(deployment(template));
        assert!(r.get("error").is_none(), "{r}");
    }
}

/// A Role has no aggregationRule: the API server drops or refuses it, and
/// read as aggregation it would hide the Role's rules from every check.
#[test]
fn a_role_with_an_aggregation_rule_is_reported() {
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "r", "namespace": "shop"}, "aggregationRule": {},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]});
    let r = run(role.clone());
    assert_eq!(r["error"]["code"], "invalid-object", "{r}");
    assert_eq!(r["error"]["path"], "/aggregationRule", "{r}");
    let mut cluster_role = role;
    cluster_role["kind"] = json!("ClusterRole");
    let r = run(json!({"objects": [cluster_role], "settings": {"profile": "strict"}}));
    assert_eq!(
        rules_of(&r, "violations"),
        [
            "rbac-wildcard",
            "rbac-secrets-access",
            "rbac-escalation-verbs"
        ],
        "an aggregationRule without selectors aggregates nothing: {r}"
    );
}

#[test]
fn gatekeeper_inventory_is_read() {
    let ing = |name: &str| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": "a"},
        "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}})
    };
    let inventory =
        json!({"namespace": {"b": {"networking.k8s.io/v1": {"Ingress": {"other": ing("other")}}}}});
    let host_settings = json!({});
    let r = evaluate(
        &ing("mine"),
        Host {
            settings: Some(&host_settings),
            inventory: Some(&inventory),
        },
    )
    .unwrap();
    assert!(
        r.findings().any(|f| f.rule == "ingress-host-conflict"),
        "{:?}",
        r.to_value()
    );
}

#[test]
fn bytes_api_never_fails() {
    assert_eq!(evaluate_bytes(b"\xff")["error"]["code"], "invalid-utf8");
    assert_eq!(evaluate_bytes(b"{}")["error"]["code"], "invalid-object");
}
