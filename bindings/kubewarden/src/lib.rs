//! portcullis as a Kubewarden policy. Kubewarden calls three waPC
//! operations; this crate translates them to the core and the core's
//! report back into Kubewarden's answers, nothing more:
//!
//! - `protocol_version` -> `"v1"`
//! - `validate_settings` (the settings object) -> `{valid, message}`
//! - `validate` (`{request, settings}`) -> a ValidationResponse
//!
//! To validate, the policy reads the cluster objects the rules ask for
//! through Kubewarden's context-aware host calls ([`context`]).
//!
//! The guest side of waPC lives in [`guest`] (wasm32 only); everything else
//! runs natively too, so the tests can compare the module with the library
//! (natively, against any [`Cluster`] they give it).

use portcullis::cluster::{evaluate_from, evaluate_read, Answer, Fetch, Gathered, Lookup};
use portcullis::report::{Finding, Report};
use portcullis::{Error, Policy, PolicyCache};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub mod context;
#[cfg(target_arch = "wasm32")]
mod guest;

pub use context::{Cluster, NoCluster, NO_HOST};

/// Kubewarden sends the policy's settings with every request and keeps the
/// instance between requests: the compiled policy is kept for them.
static CACHE: PolicyCache = PolicyCache::new();

/// The waPC protocol version Kubewarden reads into the module's metadata.
pub const PROTOCOL_VERSION: &str = "v1";

/// Kubewarden's answer to `validate`, snake_case as its hosts read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutated_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// Kubewarden's answer to `validate_settings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsValidationResponse {
    pub valid: bool,
    pub message: Option<String>,
}

/// Audit annotation keys; the API server prefixes them with the webhook's name.
pub const ANNOTATION_DENIED: &str = "denied-rules";
pub const ANNOTATION_WARNED: &str = "warned-rules";
pub const ANNOTATION_EXEMPTED: &str = "exempted-rules";
pub const ANNOTATION_MUTATED: &str = "mutated-rules";

/// Answers one waPC operation with no host to read the cluster from.
pub fn dispatch(operation: &[u8], payload: &[u8]) -> Result<Vec<u8>, String> {
    dispatch_with(operation, payload, &mut NoCluster)
}

/// Answers one waPC operation: the response bytes, or the guest error text.
pub fn dispatch_with(
    operation: &[u8],
    payload: &[u8],
    cluster: &mut dyn Cluster,
) -> Result<Vec<u8>, String> {
    match operation {
        b"protocol_version" => to_json(&PROTOCOL_VERSION),
        b"validate_settings" => to_json(&validate_settings(payload)),
        b"validate" => to_json(&validate_with(payload, cluster)),
        other => Err(format!(
            "unknown operation `{}`: this policy answers protocol_version, validate_settings and validate",
            String::from_utf8_lossy(other.get(..64).unwrap_or(other))
        )),
    }
}

fn to_json<T: Serialize>(answer: &T) -> Result<Vec<u8>, String> {
    serde_json::to_vec(answer).map_err(|e| format!("cannot serialise the answer: {e}"))
}

/// `validate_settings`: the core's own settings check; its message names the key.
pub fn validate_settings(payload: &[u8]) -> SettingsValidationResponse {
    // an empty payload means no settings: the baseline profile
    let checked = if payload.iter().all(u8::is_ascii_whitespace) {
        portcullis::validate_settings(&Value::Null)
    } else {
        portcullis::parse_json(payload).and_then(|s| portcullis::validate_settings(&s))
    };
    match checked {
        Ok(_) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(e) => SettingsValidationResponse {
            valid: false,
            message: Some(match e {
                Error::Settings { .. } => e.to_string(),
                // the core words parse errors for its input; here the input is the settings
                other => format!("settings: {other}"),
            }),
        },
    }
}

/// `validate` with no host to read the cluster from.
pub fn validate(payload: &[u8]) -> ValidationResponse {
    validate_with(payload, &mut NoCluster)
}

/// `validate`: `{request, settings}` in, the verdict out, reading from
/// `cluster` what the rules need. Never fails: a malformed request is a
/// rejection with code 400, a cluster that cannot answer leaves the rules
/// that needed it "not checked".
pub fn validate_with(payload: &[u8], cluster: &mut dyn Cluster) -> ValidationResponse {
    // the settings, sent with every request, stay text: the cache compares
    // them byte for byte and parses them only when they are new
    let envelope = match portcullis::envelope::parse(payload) {
        Ok(e) => e,
        Err(e) => return failed(&e),
    };
    let input = &envelope.value;
    let expected = "validate expects {\"request\": <AdmissionRequest>, \"settings\": {…}}";
    let Some(request) = input.get("request") else {
        return failed(&Error::input(expected));
    };
    if let Some(k) = input.as_object().and_then(|m| {
        m.keys()
            .find(|k| !matches!(k.as_str(), "request" | "settings"))
    }) {
        return failed(&Error::input(format!("unknown key `{k}`: {expected}")));
    }
    // with no other key, the settings were taken out as text and `input` is
    // `{request}`. A malformed request is the request's fault (400) before
    // the settings' (500).
    let review = match portcullis::detect(input) {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    // the settings compiled once per distinct settings and kept, for the
    // verdict and for what it may do (mutate); the request evaluated under
    // them, with what it needs read from the cluster
    let policy = match CACHE.compile_text(envelope.settings.map(|(_, text)| text)) {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    let mut fetch = |lookup: &Lookup, api_version: &str| -> Answer {
        context::ask(cluster, lookup, api_version)
    };
    let (report, gathered) =
        match evaluate_read(review, input, &policy, Gathered::default(), &mut fetch) {
            Ok(r) => r,
            Err(e) => return failed(&e),
        };
    if policy.mutate && !report.allowed {
        if let Some(answer) = mutated(request, &policy, &report, gathered, &mut fetch) {
            return answer;
        }
    }
    answer(&report)
}

/// Rejection for an input the core could not read: 400 for the request, 500
/// for settings (the policy is misconfigured, not the request).
fn failed(e: &Error) -> ValidationResponse {
    let code = match e {
        Error::Settings { .. } => 500,
        _ => 400,
    };
    ValidationResponse {
        accepted: false,
        message: Some(e.to_string()),
        code: Some(code),
        ..ValidationResponse::default()
    }
}

fn line(f: &Finding) -> String {
    format!("{}: {}", f.rule, f.message)
}

/// Rule ids in the order they were first reported, once each.
fn rule_ids<'a>(rules: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut ids: Vec<&str> = Vec::new();
    for r in rules {
        if !ids.contains(&r) {
            ids.push(r);
        }
    }
    (!ids.is_empty()).then(|| ids.join(","))
}

fn annotations(report: &Report, mutated: &[&Finding]) -> Option<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    let lists = [
        (
            ANNOTATION_DENIED,
            rule_ids(report.violations.iter().map(|f| f.rule)),
        ),
        (
            ANNOTATION_WARNED,
            rule_ids(report.warnings.iter().map(|f| f.rule)),
        ),
        (
            ANNOTATION_EXEMPTED,
            rule_ids(report.exempted.iter().map(|f| f.rule)),
        ),
        (ANNOTATION_MUTATED, rule_ids(mutated.iter().map(|f| f.rule))),
    ];
    for (key, ids) in lists {
        if let Some(ids) = ids {
            map.insert(key.to_string(), ids);
        }
    }
    (!map.is_empty()).then_some(map)
}

/// The report as Kubewarden's answer. Denials are listed in the order the
/// engine found them (object, then catalogue order, then position), which is
/// stable for a given request and settings.
pub fn answer(report: &Report) -> ValidationResponse {
    let mut warnings: Vec<String> = Vec::new();
    let message = if report.allowed {
        // audit mode allows everything: what would have been denied is a warning
        warnings.extend(
            report
                .violations
                .iter()
                .map(|f| format!("{} (audit mode: not enforced)", line(f))),
        );
        None
    } else {
        Some(
            report
                .violations
                .iter()
                .map(line)
                .collect::<Vec<_>>()
                .join("; "),
        )
    };
    warnings.extend(report.warnings.iter().map(line));
    ValidationResponse {
        accepted: report.allowed,
        message,
        code: None,
        mutated_object: None,
        audit_annotations: annotations(report, &[]),
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

/// With `mutate: true`: when every denial has a safe fix, the fixed object is
/// accepted in place of a rejection. The fixed object is checked again,
/// against the same cluster, so a mutation is only ever returned when it
/// clears every denial.
fn mutated(
    request: &Value,
    policy: &Policy,
    report: &Report,
    gathered: Gathered,
    fetch: &mut Fetch<'_>,
) -> Option<ValidationResponse> {
    if report.violations.iter().any(|f| f.fix.is_none()) {
        return None;
    }
    let mut object = request.get("object")?.clone();
    for f in &report.violations {
        let fix = f.fix.as_deref()?;
        portcullis::patch::apply(&mut object, fix).ok()?;
    }
    let mut fixed_request: Map<String, Value> = request.as_object()?.clone();
    fixed_request.insert("object".into(), object.clone());
    let recheck = json!({"request": Value::Object(fixed_request)});
    let (after, _) = evaluate_from(&recheck, policy, gathered, fetch).ok()?;
    if !after.violations.is_empty() {
        return None;
    }
    let fixed: Vec<&Finding> = report.violations.iter().collect();
    let mut warnings: Vec<String> = fixed
        .iter()
        .map(|f| format!("{} (fixed by mutation)", line(f)))
        .collect();
    warnings.extend(after.warnings.iter().map(line));
    Some(ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object: Some(object),
        audit_annotations: annotations(&after, &fixed),
        warnings: Some(warnings),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(op: &str, payload: Value) -> Value {
        let bytes = dispatch(op.as_bytes(), payload.to_string().as_bytes()).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn service(kind: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"type": kind, "ports": [{"port": 80, "nodePort": 30080}]}})
    }

    fn request(op: &str, object: Value) -> Value {
        json!({"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Service"},
               "resource": {"group": "", "version": "v1", "resource": "services"},
               "operation": op, "object": object})
    }

    #[test]
    fn protocol_version_is_v1() {
        assert_eq!(dispatch(b"protocol_version", b"").unwrap(), b"\"v1\"");
    }

    #[test]
    fn unknown_operations_are_guest_errors() {
        let err = dispatch(b"mutate", b"{}").unwrap_err();
        assert!(err.contains("unknown operation `mutate`"), "{err}");
    }

    #[test]
    fn settings_errors_name_the_key() {
        assert_eq!(
            call("validate_settings", json!({})),
            json!({"valid": true, "message": null})
        );
        assert_eq!(
            dispatch(b"validate_settings", b"").unwrap(),
            br#"{"valid":true,"message":null}"#
        );
        let bad = call(
            "validate_settings",
            json!({"rules": {"service-type-nodeprot": "deny"}}),
        );
        assert_eq!(bad["valid"], false);
        let msg = bad["message"].as_str().unwrap();
        assert!(msg.contains("rules.service-type-nodeprot"), "{msg}");
        assert!(msg.contains("service-type-nodeport"), "{msg}");
        let bad = call("validate_settings", json!({"profle": "strict"}));
        assert!(bad["message"].as_str().unwrap().contains("profle"));
        let bad = dispatch(b"validate_settings", b"{").unwrap();
        assert!(String::from_utf8_lossy(&bad).contains("settings: input is not valid JSON"));
    }

    #[test]
    fn denials_and_annotations() {
        let v = call(
            "validate",
            json!({"request": request("CREATE", service("NodePort")), "settings": {}}),
        );
        assert_eq!(v["accepted"], false);
        let msg = v["message"].as_str().unwrap();
        assert!(
            msg.starts_with("service-type-nodeport: Service shop/web"),
            "{msg}"
        );
        assert_eq!(
            v["audit_annotations"][ANNOTATION_DENIED],
            "service-type-nodeport"
        );
        assert!(v.get("code").is_none());
        assert!(v.get("mutated_object").is_none());
    }

    #[test]
    fn malformed_requests_are_400() {
        for payload in [
            json!({"request": request("CREATE", Value::Null)}),
            json!({"request": 7}),
            json!({"settings": {}}),
            json!({"request": request("EXPLODE", service("NodePort"))}),
        ] {
            let v = call("validate", payload.clone());
            assert_eq!(v["accepted"], false, "{payload}");
            assert_eq!(v["code"], 400, "{payload}: {v}");
        }
        let v: Value = serde_json::from_slice(&dispatch(b"validate", b"\xff").unwrap()).unwrap();
        assert_eq!(v["code"], 400);
        let v = call(
            "validate",
            json!({"request": request("CREATE", service("NodePort")), "settings": {"bogus": 1}}),
        );
        assert_eq!(v["code"], 500);
    }

    #[test]
    fn deletes_are_accepted() {
        let mut req = request("DELETE", Value::Null);
        req["oldObject"] = service("LoadBalancer");
        let v = call("validate", json!({"request": req}));
        assert_eq!(v, json!({"accepted": true}));
    }

    #[test]
    fn mutation_applies_safe_fixes() {
        let v = call(
            "validate",
            json!({"request": request("CREATE", service("NodePort")), "settings": {"mutate": true}}),
        );
        assert_eq!(v["accepted"], true, "{v}");
        assert_eq!(v["mutated_object"]["spec"]["type"], "ClusterIP");
        assert!(v["mutated_object"]["spec"]["ports"][0]
            .get("nodePort")
            .is_none());
        assert_eq!(
            v["audit_annotations"][ANNOTATION_MUTATED],
            "service-type-nodeport"
        );
        assert!(v["warnings"][0]
            .as_str()
            .unwrap()
            .ends_with("(fixed by mutation)"));
    }

    /// A cluster of nothing that counts its calls.
    struct Counting(Vec<String>);

    impl Cluster for Counting {
        fn call(&mut self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
            let req: Value = serde_json::from_slice(payload).unwrap();
            self.0
                .push(format!("{operation} {}", req["kind"].as_str().unwrap()));
            match operation {
                "get_resource" => Err(format!(
                    "Cannot find {}/{} named '{}'",
                    req["api_version"].as_str().unwrap(),
                    req["kind"].as_str().unwrap(),
                    req["name"].as_str().unwrap()
                )),
                _ => Ok(br#"{"items": []}"#.to_vec()),
            }
        }
    }

    #[test]
    fn the_mutated_object_is_checked_against_the_same_cluster() {
        let payload = json!({"request": request("CREATE", service("NodePort")), "settings": {"mutate": true}});
        let mut cluster = Counting(Vec::new());
        let bytes =
            dispatch_with(b"validate", payload.to_string().as_bytes(), &mut cluster).unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["accepted"], true, "{v}");
        assert_eq!(v["mutated_object"]["spec"]["type"], "ClusterIP");
        // the namespace's NetworkPolicies were read once, for both checks
        assert_eq!(cluster.0, ["list_resources_by_namespace NetworkPolicy"]);
        // read and empty: the namespace has no default deny (a baseline warning)
        assert_eq!(
            v["audit_annotations"][ANNOTATION_WARNED],
            "namespace-default-deny-missing"
        );
    }

    #[test]
    fn without_a_host_the_cross_object_rules_say_they_were_not_checked() {
        let v = call(
            "validate",
            json!({"request": request("CREATE", service("ClusterIP")), "settings": {}}),
        );
        assert_eq!(v["accepted"], true, "{v}");
        let unchecked: Vec<&str> = v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .filter(|w| w.contains("was not checked"))
            .collect();
        assert_eq!(unchecked.len(), 1, "{v}");
        assert!(
            unchecked[0]
                .starts_with("namespace-default-deny-missing: Service shop/web was not checked"),
            "{}",
            unchecked[0]
        );
        assert!(unchecked[0].contains(NO_HOST), "{}", unchecked[0]);
        let v = call(
            "validate",
            json!({"request": request("CREATE", service("ClusterIP")), "settings": {"clusterContext": "off"}}),
        );
        assert!(!v.to_string().contains("not checked"), "{v}");
    }

    /// `mutate` is read from the compiled settings, as every other key is:
    /// a malformed value is a settings error, not a silent no.
    #[test]
    fn mutate_comes_from_the_compiled_settings() {
        let v = call(
            "validate",
            json!({"request": request("CREATE", service("NodePort")), "settings": {"mutate": "yes"}}),
        );
        assert_eq!(v["code"], 500, "{v}");
        assert!(v["message"].as_str().unwrap().contains("mutate"), "{v}");
        let v = call(
            "validate",
            json!({"request": request("CREATE", service("NodePort")), "settings": {"mutate": false}}),
        );
        assert_eq!(v["accepted"], false, "{v}");
        assert!(v.get("mutated_object").is_none());
        let v = call(
            "validate",
            json!({"request": request("CREATE", service("NodePort")), "extra": 1}),
        );
        assert_eq!(v["code"], 400, "{v}");
    }

    #[test]
    fn audit_mode_accepts_and_warns() {
        let v = call(
            "validate",
            json!({"request": request("CREATE", service("LoadBalancer")), "settings": {"mode": "audit", "mutate": true}}),
        );
        assert_eq!(v["accepted"], true, "{v}");
        assert!(v.get("mutated_object").is_none());
        assert!(v["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("service-type-loadbalancer: "));
        assert_eq!(
            v["audit_annotations"][ANNOTATION_DENIED],
            "service-type-loadbalancer"
        );
    }
}
