//! The ratchet (README): on UPDATE, a finding the old object already had
//! stays a warning, so existing objects can still be edited while they are
//! cleaned up. A finding is the same when its rule, its object and the
//! evidence that caused it are: an edit elsewhere in the object (a label,
//! an annotation, a backend port, one more rule or listener) must not turn
//! it into a denial. Every rule is tried, on every object of its cases.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests fail loudly by design

use portcullis::cases::{policy_cases, Case};
use portcullis::rules::RULES;
use portcullis::{evaluate, Host};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn request(op: &str, object: &Value, old: Option<&Value>) -> Value {
    let api = object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let mut r = json!({"uid": "ratchet", "operation": op,
        "kind": {"group": group, "version": version, "kind": object["kind"]},
        "object": object});
    if let Some(old) = old {
        r["oldObject"] = old.clone();
    }
    r
}

/// (denied, warned) findings of the case's rule for one request, with the
/// rest of the case's bundle as the inventory.
fn tally(case: &Case, req: Value, others: &[Value]) -> (usize, usize) {
    let inventory = Value::Array(others.to_vec());
    let input = json!({"request": req, "settings": case.settings});
    let report = evaluate(
        &input,
        Host {
            settings: None,
            inventory: Some(&inventory),
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", case.name))
    .to_value();
    let count = |list: &str| {
        report[list]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == case.rule.as_str())
            .count()
    };
    (count("violations"), count("warnings"))
}

fn push(list: &mut Value, item: Value) {
    if let Some(items) = list.as_array_mut() {
        items.push(item);
    }
}

/// Edits that change something no finding of any rule is about, each named.
fn unrelated_edits(obj: &Value) -> Vec<(&'static str, Value)> {
    let mut edits = Vec::new();
    let mut o = obj.clone();
    o["metadata"]["labels"]["example.com/edited"] = json!("yes");
    edits.push(("a label", o));
    let mut o = obj.clone();
    o["metadata"]["annotations"]["example.com/edited"] = json!("yes");
    edits.push(("an annotation", o));
    let kind = obj["kind"].as_str().unwrap_or_default();
    match kind {
        "Service" => {
            let mut o = obj.clone();
            o["spec"]["publishNotReadyAddresses"] = json!(true);
            edits.push(("another spec field", o));
        }
        "Ingress" => {
            for at in [
                "/spec/rules/0/http/paths/0/backend/service/port/number",
                "/spec/rules/0/http/paths/0/backend/servicePort",
            ] {
                let mut o = obj.clone();
                if let Some(p) = o.pointer_mut(at).filter(|p| p.is_number()) {
                    *p = json!(p.as_i64().unwrap_or(80) + 1);
                    edits.push(("a backend port", o));
                }
            }
        }
        "Role" | "ClusterRole" => {
            let mut o = obj.clone();
            if o["rules"].is_array() {
                push(
                    &mut o["rules"],
                    json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}),
                );
                edits.push(("one more narrow rule", o));
            }
        }
        "NetworkPolicy" => {
            let mut o = obj.clone();
            if o["spec"]["ingress"].is_array() {
                push(
                    &mut o["spec"]["ingress"],
                    json!({"from": [{"podSelector": {"matchLabels": {"app": "edited"}}}], "ports": [{"port": 1234}]}),
                );
                edits.push(("one more narrow ingress rule", o));
            }
        }
        "Gateway" => {
            let mut o = obj.clone();
            if o["spec"]["listeners"].is_array() {
                push(
                    &mut o["spec"]["listeners"],
                    json!({"name": "edited", "protocol": "HTTPS", "port": 8443,
                           "tls": {"certificateRefs": [{"name": "edited-tls"}]}}),
                );
                edits.push(("one more TLS listener", o));
            }
        }
        "ClusterConfiguration" => {
            let mut o = obj.clone();
            let extra = o.pointer_mut("/apiServer/extraArgs");
            match extra {
                Some(Value::Array(list)) => {
                    list.insert(0, json!({"name": "v", "value": "2"}));
                    edits.push(("an unrelated flag first", o));
                }
                Some(Value::Object(map)) => {
                    map.insert("v".into(), json!("2"));
                    edits.push(("an unrelated flag", o));
                }
                _ => {}
            }
            let mut o = obj.clone();
            o["clusterName"] = json!("edited");
            edits.push(("another field", o));
        }
        "KubeletConfiguration" => {
            let mut o = obj.clone();
            o["maxPods"] = json!(111);
            edits.push(("another field", o));
        }
        _ => {}
    }
    if let Some(spec) = portcullis::object::pod_spec_path(kind) {
        let mut o = obj.clone();
        if let Some(c) = o
            .pointer_mut(&format!("{spec}/containers/0"))
            .filter(|c| c.is_object())
        {
            c["imagePullPolicy"] = json!("Always");
            edits.push(("another container field", o.clone()));
            // a flag before the others shifts every argument's position
            let c = o.pointer_mut(&format!("{spec}/containers/0")).unwrap();
            let first_is_apiserver = c["command"][0]
                .as_str()
                .is_some_and(|b| b.ends_with("kube-apiserver"));
            if let Some(args) = c["args"].as_array_mut().filter(|a| !a.is_empty()) {
                args.insert(0, json!("--v=2"));
                edits.push(("an unrelated argument first", o));
            } else if first_is_apiserver {
                c["command"]
                    .as_array_mut()
                    .unwrap()
                    .insert(1, json!("--v=2"));
                edits.push(("an unrelated flag first", o));
            }
        }
    }
    edits
}

/// The objects of a case, each with the others of its bundle.
fn objects(case: &Case) -> Vec<(Value, Vec<Value>)> {
    if let Some(req) = &case.request {
        return match req.get("object") {
            Some(o) if o.is_object() => vec![(o.clone(), Vec::new())],
            _ => Vec::new(),
        };
    }
    (0..case.objects.len())
        .map(|i| {
            let mut others = case.objects.clone();
            let me = others.remove(i);
            others.extend(case.inventory.iter().cloned());
            (me, others)
        })
        .collect()
}

#[test]
fn unrelated_edits_keep_old_findings_warnings_for_every_rule() {
    let cases = policy_cases(&root().join("policies")).unwrap();
    let mut tried: BTreeSet<&str> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        for (obj, others) in objects(case) {
            let (denied, warned) = tally(case, request("CREATE", &obj, None), &others);
            if denied + warned == 0 {
                continue;
            }
            for (edit, edited) in unrelated_edits(&obj) {
                let got = tally(case, request("UPDATE", &edited, Some(&obj)), &others);
                checked += 1;
                if got != (0, denied + warned) {
                    failures.push(format!(
                        "{} ({} {}): after {edit}, {} denied and {} warned; the old object had {}",
                        case.name,
                        obj["kind"].as_str().unwrap_or_default(),
                        obj["metadata"]["name"].as_str().unwrap_or_default(),
                        got.0,
                        got.1,
                        denied + warned
                    ));
                }
            }
            tried.insert(case.rule.as_str());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let untried: Vec<&str> = RULES
        .iter()
        .map(|r| r.meta().id)
        .filter(|id| !tried.contains(id))
        .collect();
    assert!(untried.is_empty(), "rules never tried: {untried:?}");
    assert!(checked > 300, "{checked}");
}

/// The other side: an edit that adds what a rule reports is denied, even
/// where an old finding of the same rule sits at the same place.
#[test]
fn a_new_cause_at_an_old_place_is_denied() {
    let settings = json!({"profile": "strict"});
    let run = |obj: &Value, old: &Value| {
        let input = json!({"request": request("UPDATE", obj, Some(old)), "settings": settings});
        evaluate(&input, Host::default()).unwrap().to_value()
    };
    let denied = |report: &Value, rule: &str| {
        report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == rule)
            .count()
    };
    // a new host port inserted before the old one: same path, other port
    let pod = |ports: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
               "spec": {"containers": [{"name": "c", "image": "nginx", "ports": ports}]}})
    };
    let old = pod(json!([{"containerPort": 80, "hostPort": 80}]));
    let new =
        pod(json!([{"containerPort": 22, "hostPort": 22}, {"containerPort": 80, "hostPort": 80}]));
    assert_eq!(denied(&run(&new, &old), "workload-host-port"), 1);
    // a flag turned from safe to unsafe where an unrelated flag sat
    let apiserver = |args: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-apiserver", "namespace": "kube-system"},
               "spec": {"containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.34.0",
                        "command": ["kube-apiserver"], "args": args}]}})
    };
    let old = apiserver(json!([
        "--authorization-mode=AlwaysAllow",
        "--anonymous-auth=false"
    ]));
    let new = apiserver(json!([
        "--authorization-mode=AlwaysAllow",
        "--anonymous-auth=true"
    ]));
    let report = run(&new, &old);
    assert_eq!(denied(&report, "apiserver-anonymous-auth"), 1, "{report}");
    assert_eq!(denied(&report, "apiserver-authorization"), 0, "{report}");
    // a wildcard added to a rule that already had one elsewhere
    let role = |verbs: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"},
               "rules": [{"apiGroups": ["*"], "resources": ["pods"], "verbs": verbs}]})
    };
    let report = run(&role(json!(["*"])), &role(json!(["get"])));
    assert_eq!(denied(&report, "rbac-wildcard"), 1, "{report}");
}
