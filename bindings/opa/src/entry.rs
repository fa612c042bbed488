//! The entrypoints: each turns the native report into the answer its host
//! expects. Detection, settings and rules stay in the core.

use portcullis::{evaluate, Error, Finding, Host, Report};
use serde_json::{json, Map, Value};

/// Names and ids as `entrypoints()` lists them. Ids are stable: Kubewarden
/// always evaluates id 0, so `portcullis/main` must stay first.
pub const ENTRYPOINTS: [&str; 4] = [
    "portcullis/main",
    "portcullis/violation",
    "portcullis/response",
    "portcullis/report",
];

pub const MAIN: i32 = 0;
pub const VIOLATION: i32 = 1;
pub const RESPONSE: i32 = 2;
pub const REPORT: i32 = 3;

/// `entrypoints()`: name -> id.
pub fn entrypoints() -> Value {
    let map: Map<String, Value> = ENTRYPOINTS
        .iter()
        .zip(0..)
        .map(|(name, id): (&&str, i32)| ((*name).to_string(), json!(id)))
        .collect();
    Value::Object(map)
}

/// Runs an entrypoint; `None` for an unknown id. An undefined input or data
/// is `None`. Every known entrypoint has a defined result, errors included:
/// Kubewarden accepts what a module leaves undefined.
pub fn run(entrypoint: i32, input: Option<&Value>, data: Option<&Value>) -> Option<Value> {
    let input = input.unwrap_or(&Value::Null);
    let report = || {
        let (settings, inventory) = host_parts(data);
        // an OPA host always has its own settings channel, the data, even
        // when it leaves it empty: settings in the input need its consent
        let settings = settings.unwrap_or_else(|| Value::Object(Map::new()));
        evaluate(
            input,
            Host {
                settings: Some(&settings),
                inventory: inventory.as_ref(),
            },
        )
    };
    Some(match entrypoint {
        MAIN if has_key(input, "review") => violations(report()),
        MAIN if has_key(input, "request") || is_admission_review(input) => {
            response(input, report())
        }
        MAIN | REPORT => match report() {
            Ok(r) => r.to_value(),
            Err(e) => e.to_answer(),
        },
        VIOLATION => violations(report()),
        RESPONSE => response(input, report()),
        _ => return None,
    })
}

/// The answer of an entrypoint to input that could not even be parsed, in
/// the entrypoint's own shape. Entrypoint 0 cannot tell which shape its host
/// wanted, so it gives the violation list: Gatekeeper reads it as a denial,
/// and Kubewarden's opa mode rejects an answer without `response`.
pub fn failed(entrypoint: i32, error: Error) -> Option<Value> {
    Some(match entrypoint {
        MAIN | VIOLATION => violations(Err(error)),
        RESPONSE => response(&Value::Null, Err(error)),
        REPORT => error.to_answer(),
        _ => return None,
    })
}

/// A whole AdmissionReview is answered with one, as a webhook would be.
fn is_admission_review(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some("AdmissionReview")
}

fn has_key(v: &Value, key: &str) -> bool {
    v.as_object().is_some_and(|m| m.contains_key(key)) && v.get("apiVersion").is_none()
}

/// The host's data: settings, with the synced objects beside them under
/// `inventory` (Gatekeeper) or `kubernetes` (Kubewarden's opa mode), either
/// at the top or under `portcullis` (an OPA bundle's root).
fn host_parts(data: Option<&Value>) -> (Option<Value>, Option<Value>) {
    let Some(mut data) = data.filter(|d| !d.is_null()) else {
        return (None, None);
    };
    // An OPA server hands over its whole data document; a bundle keeps the
    // settings under its own root, `data.portcullis`.
    if let Some(own) = data.get("portcullis").filter(|p| p.is_object()) {
        data = own;
    }
    // the core's case loader has the same split, but it is built only with YAML support
    let mut settings = data.clone();
    let inventory = settings.as_object_mut().and_then(|m| m.remove("inventory"));
    let kubernetes = settings
        .as_object_mut()
        .and_then(|m| m.remove("kubernetes"));
    let inventory = inventory.or_else(|| {
        kubernetes.map(|k| {
            let mut found = Vec::new();
            collect_objects(&k, &mut found, 0);
            Value::Array(found)
        })
    });
    (Some(settings), inventory)
}

/// Kubewarden nests its context objects by resource and namespace; the
/// nesting varies, so take every Kubernetes object found in it.
fn collect_objects(v: &Value, out: &mut Vec<Value>, depth: usize) {
    if depth > 8 {
        return;
    }
    match v {
        Value::Object(m) if m.get("apiVersion").is_some() && m.get("kind").is_some() => {
            if m.get("items").is_some_and(Value::is_array) {
                collect_objects(m.get("items").unwrap_or(&Value::Null), out, depth + 1);
            } else {
                out.push(v.clone());
            }
        }
        Value::Object(m) => m.values().for_each(|s| collect_objects(s, out, depth + 1)),
        Value::Array(items) => items
            .iter()
            .for_each(|s| collect_objects(s, out, depth + 1)),
        _ => {}
    }
}

fn details(f: &Finding) -> Value {
    let mut d = json!({
        "rule": f.rule,
        "severity": f.severity.as_str(),
        "action": f.action.as_str(),
        "object": f.object,
        "path": f.path,
    });
    if let (Some(fix), Some(m)) = (&f.fix, d.as_object_mut()) {
        m.insert("fix".into(), json!(fix));
    }
    d
}

/// Gatekeeper's `violation[{"msg", "details"}]`, always a list: one entry
/// per finding whose action the settings' `violationActions` selects
/// (denials by default; none when audit mode allows), and one entry for an
/// input or settings error (fail closed).
pub fn violations(result: Result<Report, Error>) -> Value {
    match result {
        Ok(r) => Value::Array(
            r.violation_list()
                .map(|f| json!({"msg": f.message, "details": details(f)}))
                .collect(),
        ),
        Err(e) => json!([{
            "msg": format!("portcullis: {e}"),
            "details": {"error": e.to_value()},
        }]),
    }
}

/// Kubewarden's opa mode: an AdmissionReview whose `response` it reads.
/// It carries the request's uid whatever shape the request came in: the API
/// server rejects an answer whose uid differs from its request's.
pub fn response(input: &Value, result: Result<Report, Error>) -> Value {
    let uid = portcullis::review::request_uid(input).unwrap_or_default();
    let mut response = json!({"uid": uid});
    let fields = match result {
        Ok(r) => {
            // `rule: message`, as Kubewarden's own answer lists them: the
            // reader sees which rule denied, and can switch or exempt it
            let denied: Vec<String> = r
                .violations
                .iter()
                .map(|f| format!("{}: {}", f.rule, f.message))
                .collect();
            // audit mode allows but must not hide what it found
            let warnings: Vec<String> = r
                .warnings
                .iter()
                .chain(if r.allowed {
                    r.violations.as_slice()
                } else {
                    &[]
                })
                .map(|f| format!("{}: {}", f.rule, f.message))
                .collect();
            let mut fields = vec![("allowed", json!(r.allowed))];
            if !r.allowed {
                fields.push(("status", json!({"code": 403, "message": denied.join("; ")})));
            }
            if !warnings.is_empty() {
                fields.push(("warnings", json!(warnings)));
            }
            fields
        }
        Err(e) => vec![
            ("allowed", json!(false)),
            (
                "status",
                json!({"code": 400, "message": format!("portcullis: {e}")}),
            ),
        ],
    };
    if let Some(m) = response.as_object_mut() {
        for (k, v) in fields {
            m.insert(k.into(), v);
        }
    }
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": "shop"},
               "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    }

    fn request(obj: Value) -> Value {
        json!({"uid": "u-1", "operation": "CREATE",
               "kind": {"group": "", "version": "v1", "kind": "Service"}, "object": obj})
    }

    #[test]
    fn lists_entrypoints_by_stable_id() {
        assert_eq!(
            entrypoints(),
            json!({"portcullis/main": 0, "portcullis/violation": 1,
                   "portcullis/response": 2, "portcullis/report": 3})
        );
        assert_eq!(run(4, None, None), None);
        assert_eq!(run(-1, None, None), None);
    }

    #[test]
    fn gatekeeper_input_gives_a_violation_list() {
        let input = json!({"review": request(lb("web")), "parameters": {}});
        let out = run(MAIN, Some(&input), Some(&json!({}))).unwrap();
        let list = out.as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["details"]["rule"], "service-type-loadbalancer");
        assert_eq!(list[0]["details"]["path"], "/spec/type");
        assert!(list[0]["msg"].as_str().unwrap().contains("shop/web"));

        let clean = json!({"review": request(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "c"}, "spec": {"type": "ClusterIP"}})), "parameters": {}});
        assert_eq!(run(MAIN, Some(&clean), None), Some(json!([])));
    }

    #[test]
    fn errors_stay_lists_and_fail_closed() {
        let bad = json!({"review": request(lb("web")), "parameters": {"profle": "strict"}});
        let out = run(VIOLATION, Some(&bad), None).unwrap();
        assert_eq!(out[0]["details"]["error"]["code"], "invalid-settings");
        let out = run(VIOLATION, None, None).unwrap();
        assert_eq!(out.as_array().map(Vec::len), Some(1));
        let out = run(RESPONSE, Some(&json!({"request": 7})), None).unwrap();
        assert_eq!(out["response"]["allowed"], false);
        assert_eq!(out["response"]["status"]["code"], 400);
    }

    #[test]
    fn opa_mode_takes_settings_and_kubernetes_from_data() {
        let input = json!({"request": request(lb("web"))});
        let out = run(MAIN, Some(&input), Some(&json!({"kubernetes": {}}))).unwrap();
        assert_eq!(out["kind"], "AdmissionReview");
        assert_eq!(out["response"]["uid"], "u-1");
        assert_eq!(out["response"]["allowed"], false);
        assert!(out["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .starts_with("service-type-loadbalancer: Service shop/web"));

        let off = json!({"rules": {"service-type-loadbalancer": "off"},
                         "kubernetes": {"services": {"shop": {"x": lb("x")}}}});
        let out = run(MAIN, Some(&input), Some(&off)).unwrap();
        assert_eq!(out["response"]["allowed"], true);

        let audit = json!({"mode": "audit"});
        let out = run(RESPONSE, Some(&input), Some(&audit)).unwrap();
        assert_eq!(out["response"]["allowed"], true);
        let warnings = out["response"]["warnings"].as_array().unwrap();
        assert!(warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("service-type-loadbalancer: ")));
    }

    #[test]
    fn unparsable_input_fails_closed_in_each_shape() {
        let err = || portcullis::parse_json(b"{oops").unwrap_err();
        assert_eq!(
            failed(MAIN, err()).unwrap()[0]["details"]["error"]["code"],
            "invalid-json"
        );
        assert_eq!(
            failed(RESPONSE, err()).unwrap()["response"]["allowed"],
            false
        );
        assert_eq!(failed(REPORT, err()).unwrap()["error"]["line"], 1);
        assert_eq!(failed(7, err()), None);
    }

    #[test]
    fn an_admission_review_is_answered_with_one() {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                            "request": request(lb("web"))});
        let out = run(MAIN, Some(&review), None).unwrap();
        assert_eq!(out["response"]["uid"], "u-1");
        assert_eq!(out["response"]["allowed"], false);
    }

    #[test]
    fn report_is_the_native_answer() {
        let out = run(REPORT, Some(&lb("web")), None).unwrap();
        let native = evaluate(&lb("web"), Host::default()).unwrap().to_value();
        assert_eq!(out, native);
        let out = run(MAIN, Some(&json!("nope")), None).unwrap();
        assert_eq!(out["error"]["code"], "invalid-input");
    }

    #[test]
    fn inventory_in_data_reaches_the_rules() {
        let inv = json!({"inventory": [lb("other")]});
        let (settings, inventory) = host_parts(Some(&inv));
        assert_eq!(settings, Some(json!({})));
        assert_eq!(inventory, Some(json!([lb("other")])));
        let k = json!({"profile": "strict", "kubernetes": {"services": {"items": [lb("a")], "apiVersion": "v1", "kind": "ServiceList"}}});
        let (settings, inventory) = host_parts(Some(&k));
        assert_eq!(settings, Some(json!({"profile": "strict"})));
        assert_eq!(inventory, Some(json!([lb("a")])));
        let opa = json!({"portcullis": {"profile": "strict", "inventory": []}, "system": {}});
        let (settings, inventory) = host_parts(Some(&opa));
        assert_eq!(settings, Some(json!({"profile": "strict"})));
        assert_eq!(inventory, Some(json!([])));
    }

    #[test]
    fn every_request_shape_keeps_its_uid() {
        let req = request(lb("web"));
        let review =
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req});
        for input in [
            json!({"request": req}),
            review.clone(),
            json!({"review": req, "parameters": {}}),
            req.clone(),
        ] {
            let out = run(RESPONSE, Some(&input), None).unwrap();
            assert_eq!(out["response"]["uid"], "u-1", "{input}: {out}");
            assert_eq!(out["response"]["allowed"], false, "{input}");
        }
        // an input that fails detection still answers its request
        let bad = json!({"review": {"uid": "u-2", "operation": "EXPLODE", "kind": {}}});
        let out = run(RESPONSE, Some(&bad), None).unwrap();
        assert_eq!(out["response"]["uid"], "u-2");
        assert_eq!(out["response"]["status"]["code"], 400);
    }

    fn denied(out: &Value) -> Vec<&str> {
        out.as_array()
            .unwrap()
            .iter()
            .map(|v| v["details"]["rule"].as_str().unwrap_or("error"))
            .collect()
    }

    #[test]
    fn data_is_the_base_and_parameters_override_it_key_by_key() {
        let review = request(lb("web"));
        let data = json!({"portcullis": {"rules": {"service-type-loadbalancer": "off"}}});
        // a Gatekeeper host always sends parameters: empty ones change nothing
        for empty in [json!({}), Value::Null] {
            let input = json!({"review": review, "parameters": empty});
            let out = run(VIOLATION, Some(&input), Some(&data)).unwrap();
            assert_eq!(out, json!([]), "{input}");
        }
        let input = json!({"review": review, "parameters": {"rules": {"service-type-loadbalancer": "deny"}}});
        let out = run(VIOLATION, Some(&input), Some(&data)).unwrap();
        assert_eq!(denied(&out), ["service-type-loadbalancer"]);
        // parameters about another rule leave the data's entry standing
        let input =
            json!({"review": review, "parameters": {"rules": {"service-type-nodeport": "warn"}}});
        let out = run(VIOLATION, Some(&input), Some(&data)).unwrap();
        assert_eq!(out, json!([]));
    }

    #[test]
    fn checked_input_cannot_choose_its_own_policy() {
        let strict = json!({"profile": "strict"});
        let lax = json!({"mode": "audit"});
        for input in [
            json!({"objects": [lb("web")], "settings": lax}),
            json!({"request": request(lb("web")), "settings": lax}),
        ] {
            let out = run(REPORT, Some(&input), Some(&strict)).unwrap();
            assert_eq!(out["error"]["code"], "settings-in-input", "{input}: {out}");
            assert_eq!(out["error"]["path"], "/settings");
            let out = run(VIOLATION, Some(&input), Some(&strict)).unwrap();
            assert_eq!(denied(&out), ["error"], "fails closed: {out}");
            // the same with no data at all: the host's channel is still the data
            let out = run(REPORT, Some(&input), None).unwrap();
            assert_eq!(out["error"]["code"], "settings-in-input");
        }
        // a host that opts in takes them, over its own
        let consent = json!({"profile": "strict", "allowInputSettings": true});
        let input = json!({"objects": [lb("web")], "settings": lax});
        let out = run(REPORT, Some(&input), Some(&consent)).unwrap();
        assert_eq!(out["allowed"], true, "{out}");
        // and never lets the input grant itself that consent
        let sneaky = json!({"objects": [lb("web")], "settings": {"allowInputSettings": true}});
        let out = run(REPORT, Some(&sneaky), Some(&consent)).unwrap();
        assert_eq!(out["error"]["key"], "settings.allowInputSettings", "{out}");
    }

    #[test]
    fn invalid_data_is_reported_whatever_the_parameters_say() {
        let input = json!({"review": request(lb("web")), "parameters": {"profile": "strict"}});
        for data in [json!({"profile": "nope"}), json!({"profle": "strict"})] {
            let out = run(VIOLATION, Some(&input), Some(&data)).unwrap();
            assert_eq!(
                out[0]["details"]["error"]["code"], "invalid-settings",
                "{data}: {out}"
            );
        }
    }

    #[test]
    fn violation_actions_select_what_the_list_carries() {
        // LoadBalancer: a denial; its node ports: a warning in the baseline
        let input = |list: Value| json!({"review": request(lb("web")), "parameters": {"violationActions": list}});
        let out = run(VIOLATION, Some(&input(json!(["deny"]))), None).unwrap();
        assert_eq!(denied(&out), ["service-type-loadbalancer"]);
        let out = run(VIOLATION, Some(&input(json!(["warn"]))), None).unwrap();
        let warned = denied(&out);
        assert!(
            !warned.is_empty() && !warned.contains(&"service-type-loadbalancer"),
            "{out}"
        );
        assert!(out
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["details"]["action"] == "warn"));
        let out = run(VIOLATION, Some(&input(json!(["deny", "warn"]))), None).unwrap();
        assert_eq!(denied(&out).len(), warned.len() + 1);
        let out = run(VIOLATION, Some(&input(json!([]))), None).unwrap();
        assert_eq!(out[0]["details"]["error"]["key"], "violationActions");
        // audit mode enforces nothing: its denials are warnings
        let audit = json!({"review": request(lb("web")), "parameters": {"mode": "audit", "violationActions": ["warn"]}});
        let out = run(VIOLATION, Some(&audit), None).unwrap();
        assert!(denied(&out).contains(&"service-type-loadbalancer"), "{out}");
    }
}
