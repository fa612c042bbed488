//! `dist/portcullis-kubewarden.wasm` in the waPC host Kubewarden itself uses
//! (wapc + wasmtime-provider): the protocol, settings, every rule case and
//! the conformance corpus as admission requests, the metadata section,
//! hostile payloads and memory over many calls. Every answer is compared
//! with the native library.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests fail loudly by design

use portcullis::cases::{conformance_cases, conformance_corpus, policy_cases, run_all, Case};
use portcullis::rules::RULES;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::OnceLock;
use wapc::WapcHost;
use wasm_tests::{artifact, root};
use wasmtime_provider::wasmtime::{Caller, Engine, Linker, Module, Store};
use wasmtime_provider::WasmtimeEngineProviderBuilder;

const MODULE: &str = "portcullis-kubewarden.wasm";

/// One engine and one compiled module for every test: compiling is the slow part.
fn compiled() -> &'static (Engine, Module, Vec<u8>) {
    static COMPILED: OnceLock<(Engine, Module, Vec<u8>)> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let bytes = std::fs::read(artifact(MODULE)).unwrap();
        let engine = Engine::default();
        let module = Module::new(&engine, &bytes).unwrap();
        (engine, module, bytes)
    })
}

/// A waPC host as Kubewarden builds one; the callback answers what a
/// policy-server would (this policy calls nothing, so anything else fails).
fn host() -> WapcHost {
    let (engine, module, _) = compiled();
    let provider = WasmtimeEngineProviderBuilder::new()
        .engine(engine.clone())
        .module(module.clone())
        .build()
        .unwrap();
    WapcHost::new(
        Box::new(provider),
        Some(Box::new(|_id, binding, ns, op, _payload| {
            if (binding, ns, op) == ("kubewarden", "tracing", "log") {
                Ok(Vec::new())
            } else {
                Err(format!("unexpected host call {binding}/{ns}/{op}").into())
            }
        })),
    )
    .unwrap()
}

fn call(host: &WapcHost, op: &str, payload: &Value) -> Value {
    let bytes = host
        .call(op, payload.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{op} failed: {e}\npayload: {payload}"));
    serde_json::from_slice(&bytes).unwrap()
}

/// What the module must answer: the binding's own code, run natively.
fn native(op: &str, payload: &Value) -> Value {
    let bytes =
        portcullis_kubewarden::dispatch(op.as_bytes(), payload.to_string().as_bytes()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn rules_of(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["rule"].as_str().map(str::to_string))
        .collect()
}

fn annotated_rules(resp: &Value, key: &str) -> BTreeSet<String> {
    resp["audit_annotations"][key]
        .as_str()
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

/// The module's ValidationResponse judged against a case: accepted, and the
/// rule's `rule: message` lines among the denials (`message`) and warnings.
fn judge_response(case: &Case, got: &Value) -> Result<(), String> {
    let accepted = got["accepted"]
        .as_bool()
        .ok_or_else(|| format!("{}: no verdict in {got}", case.name))?;
    if got.get("code").is_some() {
        return Err(format!("{}: an error answer: {got}", case.name));
    }
    let denials: Vec<&str> = got["message"]
        .as_str()
        .map(|m| m.split("; ").collect())
        .unwrap_or_default();
    let warnings: Vec<&str> = got["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    case.judge_admission(accepted, &denials, &warnings)
}

/// The wasm answer equals the native binding's, and agrees with the core's
/// report: verdict, every denial as `rule: message`, warnings and annotations.
/// Returns the module's answer for the case's own judgement.
fn check(host: &WapcHost, label: &str, payload: &Value) -> Value {
    let got = call(host, "validate", payload);
    assert_eq!(got, native("validate", payload), "{label}: wasm != native");
    let report = portcullis::evaluate(payload, portcullis::Host::default())
        .unwrap_or_else(|e| panic!("{label}: the core refused the request: {e}"))
        .to_value();
    assert_eq!(got["accepted"], report["allowed"], "{label}: {got}");
    let violations = report["violations"].as_array().unwrap();
    if report["allowed"] == false {
        let lines: Vec<String> = violations
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f["rule"].as_str().unwrap(),
                    f["message"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(got["message"], lines.join("; "), "{label}");
    }
    for w in report["warnings"].as_array().unwrap() {
        let line = format!(
            "{}: {}",
            w["rule"].as_str().unwrap(),
            w["message"].as_str().unwrap()
        );
        assert!(
            got["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == &json!(line)),
            "{label}: warning `{line}` missing from {got}"
        );
    }
    assert_eq!(
        annotated_rules(&got, portcullis_kubewarden::ANNOTATION_DENIED),
        rules_of(&report["violations"]),
        "{label}"
    );
    assert_eq!(
        annotated_rules(&got, portcullis_kubewarden::ANNOTATION_WARNED),
        rules_of(&report["warnings"]),
        "{label}"
    );
    got
}

/// An AdmissionRequest for `object`, as the API server (or, without
/// `userInfo` and `oldObject`, the audit scanner) would send it.
fn request(operation: &str, object: &Value, old: Option<&Value>, user: bool) -> Value {
    let (group, version) = match object["apiVersion"]
        .as_str()
        .unwrap_or("v1")
        .split_once('/')
    {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (
            String::new(),
            object["apiVersion"].as_str().unwrap_or("v1").to_string(),
        ),
    };
    let kind = object["kind"].as_str().unwrap_or_default();
    let mut req = json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
        "name": object["metadata"]["name"],
        "operation": operation,
    });
    if let Some(ns) = object["metadata"]["namespace"].as_str() {
        req["namespace"] = json!(ns);
    }
    if operation != "DELETE" {
        req["object"] = object.clone();
    }
    if let Some(old) = old {
        req["oldObject"] = old.clone();
    }
    if user {
        req["userInfo"] = json!({"username": "alice", "groups": ["system:authenticated"]});
    }
    req
}

/// Runs one case through the module in every admission shape.
fn run_case(host: &WapcHost, case: &Case) -> Result<(), String> {
    let settings = &case.settings;
    if let Some(req) = &case.request {
        let answer = check(
            host,
            &case.name,
            &json!({"request": req, "settings": settings}),
        );
        judge_response(case, &answer)?;
        // the audit scanner's view of the same object: CREATE, no userInfo, no oldObject
        if let Some(object) = req.get("object").filter(|o| o.is_object()) {
            let scan = request("CREATE", object, None, false);
            let scanned = check(
                host,
                &case.name,
                &json!({"request": scan, "settings": settings}),
            );
            if req["operation"] == "CREATE" {
                assert_eq!(
                    scanned["accepted"], answer["accepted"],
                    "{}: audit scan",
                    case.name
                );
            }
        }
        return Ok(());
    }
    let single = case.objects.len() == 1 && case.inventory.is_empty();
    for object in &case.objects {
        let wrap = |req: Value| json!({"request": req, "settings": settings});
        let create = check(
            host,
            &case.name,
            &wrap(request("CREATE", object, None, true)),
        );
        let scan = check(
            host,
            &case.name,
            &wrap(request("CREATE", object, None, false)),
        );
        assert_eq!(create, scan, "{}: userInfo changed the verdict", case.name);
        let update = check(
            host,
            &case.name,
            &wrap(request("UPDATE", object, None, true)),
        );
        // a Pod's spec is immutable, so the core reads a Pod UPDATE without
        // oldObject as unchanged (ratcheted); anything else as a CREATE
        if object["kind"] != "Pod" {
            assert_eq!(
                create["accepted"], update["accepted"],
                "{}: UPDATE",
                case.name
            );
        }
        // nothing new in this update: whatever the object had is ratcheted to a warning
        let same = check(
            host,
            &case.name,
            &wrap(request("UPDATE", object, Some(object), true)),
        );
        assert_eq!(
            same["accepted"], true,
            "{}: UPDATE with unchanged oldObject",
            case.name
        );
        let delete = check(
            host,
            &case.name,
            &wrap(request("DELETE", object, Some(object), true)),
        );
        assert_eq!(delete, json!({"accepted": true}), "{}: DELETE", case.name);
        if single {
            judge_response(case, &create)?;
        }
    }
    Ok(())
}

#[test]
fn protocol_version_is_v1() {
    let host = host();
    assert_eq!(host.call("protocol_version", b"").unwrap(), b"\"v1\"");
}

#[test]
fn validate_settings_accepts_good_and_names_the_key_of_bad() {
    let host = host();
    for good in [
        json!({}),
        json!({"profile": "strict", "mode": "audit", "mutate": true}),
        json!({"rules": {"service-type-loadbalancer": {"action": "warn", "allowInternal": false}}}),
        json!({"exemptions": [{"rules": ["service-type-nodeport"], "namespaces": ["ingress-*"], "reason": "the entry point"}]}),
    ] {
        assert_eq!(
            call(&host, "validate_settings", &good),
            json!({"valid": true, "message": null}),
            "{good}"
        );
    }
    for (bad, key) in [
        (json!({"profle": "strict"}), "profle"),
        (json!({"profile": "paranoid"}), "profile"),
        (json!({"mode": "protect"}), "mode"),
        (
            json!({"rules": {"service-type-nodeprot": "deny"}}),
            "rules.service-type-nodeprot",
        ),
        (
            json!({"rules": {"service-type-nodeport": "block"}}),
            "rules.service-type-nodeport",
        ),
        (
            json!({"rules": {"service-type-loadbalancer": {"allowInternal": "yes"}}}),
            "rules.service-type-loadbalancer.allowInternal",
        ),
        (
            json!({"exemptions": [{"rules": ["service-type-nodeport"]}]}),
            "exemptions[0].reason",
        ),
        (json!({"kubernetesVersion": 1.3}), "kubernetesVersion"),
        (json!({"mutate": "yes"}), "mutate"),
        // the peer's "No port can be allowed and denied at the same time", in portcullis terms
        (
            json!({"rules": {"workload-host-port": {"allowedRanges": [{"min": 80, "max": 3000}, 3000]}}}),
            "rules.workload-host-port.allowedRanges",
        ),
        (json!([]), "(settings)"),
        // a peer policy's settings are not portcullis settings
        (json!({"allow_host_ipc": false}), "allow_host_ipc"),
    ] {
        let got = call(&host, "validate_settings", &bad);
        assert_eq!(got, native("validate_settings", &bad), "{bad}");
        assert_eq!(got["valid"], false, "{bad}");
        let message = got["message"].as_str().unwrap();
        assert!(
            message.contains(key),
            "{bad}: `{message}` does not name {key}"
        );
    }
}

#[test]
fn every_rule_case_as_admission_requests() {
    let host = host();
    let cases = policy_cases(&root().join("policies")).unwrap();
    assert!(!cases.is_empty());
    if let Err(failures) = run_all(&cases, |c| run_case(&host, c)) {
        panic!("{failures}");
    }
    println!(
        "{} rule cases, each as CREATE, UPDATE and DELETE",
        cases.len()
    );
}

#[test]
fn conformance_cases_as_admission_requests() {
    let host = host();
    let Some(dir) = conformance_corpus(&root()).unwrap() else {
        return;
    };
    let (cases, skipped) = conformance_cases(&dir).unwrap();
    if let Err(failures) = run_all(&cases, |c| run_case(&host, c)) {
        panic!("{failures}");
    }
    println!(
        "{} conformance cases ({skipped} skipped: rule not in this build)",
        cases.len()
    );
}

/// Kubewarden's own fixtures: the verdicts its README lists, through the
/// portcullis rules expectations.yaml maps them onto.
#[test]
fn kubewarden_fixtures_give_the_listed_verdicts() {
    let host = host();
    let Some(dir) = conformance_corpus(&root()).unwrap() else {
        return;
    };
    let (cases, _) = conformance_cases(&dir).unwrap();
    let fixtures: Vec<&Case> = cases
        .iter()
        .filter(|c| c.name.contains(" kubewarden/"))
        .collect();
    assert!(
        !fixtures.is_empty(),
        "no Kubewarden fixture maps onto a rule of this build"
    );
    for case in &fixtures {
        let req = case
            .request
            .as_ref()
            .expect("the fixtures are AdmissionRequests");
        let got = call(
            &host,
            "validate",
            &json!({"request": req, "settings": case.settings}),
        );
        let denied = annotated_rules(&got, portcullis_kubewarden::ANNOTATION_DENIED);
        match case.expect {
            portcullis::cases::Expect::Deny => {
                assert!(denied.contains(&case.rule), "{}: {got}", case.name);
                assert_eq!(got["accepted"], false, "{}", case.name);
                let message = got["message"].as_str().unwrap();
                assert!(
                    message.contains(&format!("{}: ", case.rule)),
                    "{}: {message}",
                    case.name
                );
            }
            portcullis::cases::Expect::Allow => {
                assert!(!denied.contains(&case.rule), "{}: {got}", case.name);
            }
        }
    }
    // the peers' one-line messages become a reason and a way out
    let lb = fixtures.iter().find(|c| {
        c.rule == "service-type-loadbalancer" && c.expect == portcullis::cases::Expect::Deny
    });
    if let Some(case) = lb {
        let got = call(
            &host,
            "validate",
            &json!({"request": case.request, "settings": case.settings}),
        );
        let message = got["message"].as_str().unwrap();
        assert!(
            message.contains("LoadBalancer") && message.contains("ClusterIP"),
            "{message}"
        );
    }
    println!("{} Kubewarden fixtures", fixtures.len());
}

#[test]
fn mutation_returns_the_fixed_object() {
    let host = host();
    let service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "nodePort": 30080}]}});
    let payload =
        json!({"request": request("CREATE", &service, None, false), "settings": {"mutate": true}});
    let got = call(&host, "validate", &payload);
    assert_eq!(got, native("validate", &payload));
    assert_eq!(got["accepted"], true, "{got}");
    let fixed = &got["mutated_object"];
    assert_eq!(fixed["spec"]["type"], "ClusterIP");
    assert!(fixed["spec"]["ports"][0].get("nodePort").is_none());
    assert_eq!(
        got["audit_annotations"][portcullis_kubewarden::ANNOTATION_MUTATED],
        "service-type-nodeport"
    );
    // the fixed object passes on its own
    let again = call(
        &host,
        "validate",
        &json!({"request": request("CREATE", fixed, None, false), "settings": {}}),
    );
    assert_eq!(again["accepted"], true, "{again}");
    // without mutate, the same request is denied
    let denied = call(
        &host,
        "validate",
        &json!({"request": request("CREATE", &service, None, false)}),
    );
    assert_eq!(denied["accepted"], false);
    assert!(denied.get("mutated_object").is_none());
}

fn custom_section<'a>(module: &'a [u8], name: &str) -> Option<&'a [u8]> {
    fn leb(bytes: &[u8], pos: &mut usize) -> usize {
        let (mut value, mut shift) = (0usize, 0);
        loop {
            let b = bytes[*pos];
            *pos += 1;
            value |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }
    assert_eq!(&module[..8], b"\0asm\x01\0\0\0", "not a wasm module");
    let mut pos = 8;
    while pos < module.len() {
        let id = module[pos];
        pos += 1;
        let size = leb(module, &mut pos);
        let end = pos + size;
        if id == 0 {
            let mut p = pos;
            let len = leb(module, &mut p);
            if &module[p..p + len] == name.as_bytes() {
                return Some(&module[p + len..end]);
            }
        }
        pos = end;
    }
    None
}

fn metadata_yaml() -> Value {
    let text = std::fs::read_to_string(root().join("policies/kubewarden/metadata.yml")).unwrap();
    portcullis::yaml::load(&text).remove(0).value.unwrap()
}

/// What policy-server checks before it runs a waPC policy, and what the
/// project promises about its own metadata.
fn assert_valid_metadata(m: &Value) {
    assert_eq!(m["executionMode"], "kubewarden-wapc");
    assert_eq!(m["policyType"], "kubernetes");
    assert_eq!(m["backgroundAudit"], true);
    assert_eq!(m["mutating"], true);
    let rules = m["rules"].as_array().expect("rules");
    assert!(!rules.is_empty());
    for r in rules {
        for key in ["apiGroups", "apiVersions", "resources", "operations"] {
            let list = r[key]
                .as_array()
                .unwrap_or_else(|| panic!("rule without {key}: {r}"));
            assert!(!list.is_empty(), "empty {key}: {r}");
            assert!(list.iter().all(Value::is_string), "{key}: {r}");
        }
        for op in r["operations"].as_array().unwrap() {
            assert!(
                ["CREATE", "UPDATE", "DELETE", "CONNECT", "*"].contains(&op.as_str().unwrap()),
                "{op}"
            );
        }
    }
    let annotations = m["annotations"].as_object().unwrap();
    for key in [
        "io.kubewarden.policy.title",
        "io.kubewarden.policy.version",
        "io.kubewarden.policy.description",
        "io.kubewarden.policy.author",
        "io.kubewarden.policy.url",
        "io.kubewarden.policy.source",
        "io.kubewarden.policy.license",
        "io.kubewarden.policy.severity",
        "io.kubewarden.policy.category",
        "io.kubewarden.policy.ociUrl",
        "io.artifacthub.displayName",
        "io.artifacthub.resources",
        "io.artifacthub.keywords",
    ] {
        let v = annotations.get(key).and_then(Value::as_str);
        assert!(
            v.is_some_and(|v| !v.trim().is_empty()),
            "annotation {key} missing"
        );
    }
    assert!(["low", "medium", "high", "critical"].contains(
        &annotations["io.kubewarden.policy.severity"]
            .as_str()
            .unwrap()
    ));
    assert_eq!(
        annotations["io.kubewarden.policy.version"],
        portcullis::catalogue()["version"],
        "the policy version follows the crate version"
    );
    // an OCI reference in the annotation carries no tag or digest
    let oci = annotations["io.kubewarden.policy.ociUrl"].as_str().unwrap();
    assert!(
        !oci.contains('@') && !oci.rsplit('/').next().unwrap().contains(':'),
        "{oci}"
    );
}

#[test]
fn the_module_carries_valid_metadata() {
    let host = host();
    let (_, _, bytes) = compiled();
    let section = custom_section(bytes, "io.kubewarden.metadata")
        .expect("the module is not annotated: run `make kubewarden`");
    let metadata: Value = serde_json::from_slice(section).unwrap();
    let protocol: Value =
        serde_json::from_slice(&host.call("protocol_version", b"").unwrap()).unwrap();
    assert_eq!(metadata["protocolVersion"], protocol);
    assert_valid_metadata(&metadata);
    let mut expected = metadata_yaml();
    expected["protocolVersion"] = protocol;
    assert_eq!(
        metadata, expected,
        "the module was annotated from an older metadata.yml"
    );
}

/// Pure Kubewarden resource name of a kind (`NetworkPolicy` -> `networkpolicies`).
fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    // Kubernetes' own rule: a consonant before the y makes -ies (policies), a vowel does not (gateways)
    let consonant_y = lower.ends_with('y')
        && !lower.ends_with("ay")
        && !lower.ends_with("ey")
        && !lower.ends_with("oy");
    if let Some(stem) = lower.strip_suffix('y').filter(|_| consonant_y) {
        format!("{stem}ies")
    } else if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

/// Kinds some rules read from configuration files, never through admission.
fn is_config_file_kind(group: &str) -> bool {
    group.ends_with("config.k8s.io") || group == "kubeadm.k8s.io" || group == "audit.k8s.io"
}

fn covers(rules: &[Value], group: &str, resource: &str) -> bool {
    let has = |v: &Value, want: &str| {
        v.as_array()
            .into_iter()
            .flatten()
            .any(|x| x == want || x == "*")
    };
    rules.iter().any(|r| {
        has(&r["apiGroups"], group)
            && has(&r["resources"], resource)
            && has(&r["operations"], "CREATE")
    })
}

#[test]
fn metadata_rules_cover_every_kind_the_catalogue_reads() {
    let m = metadata_yaml();
    assert_valid_metadata(&m);
    let rules = m["rules"].as_array().unwrap();
    for rule in RULES {
        let meta = rule.meta();
        for kind in meta.kinds {
            let (group, kind) = kind.rsplit_once('/').unwrap_or(("", kind));
            if kind == "*" || is_config_file_kind(group) {
                continue;
            }
            assert!(
                covers(rules, group, &plural(kind)),
                "{}: policies/kubewarden/metadata.yml does not send {group}/{kind} ({}) to the policy",
                meta.id,
                plural(kind)
            );
        }
    }
}

#[test]
fn policy_manifests_are_valid_and_start_in_monitor_mode() {
    let dir = root().join("policies/kubewarden");
    let metadata = metadata_yaml();
    let allowed = metadata["rules"].as_array().unwrap();
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.contains("admission-policy") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = portcullis::yaml::load(&text).remove(0).value.unwrap();
        let kind = doc["kind"].as_str().unwrap().to_string();
        assert_eq!(doc["apiVersion"], "policies.kubewarden.io/v1", "{name}");
        assert_eq!(doc["spec"]["mode"], "monitor", "{name}");
        assert!(
            doc["spec"]["module"]
                .as_str()
                .unwrap()
                .starts_with("registry://"),
            "{name}"
        );
        let settings = &doc["spec"]["settings"];
        let profile = settings["profile"].as_str().unwrap().to_string();
        if let Err(e) = portcullis::validate_settings(settings) {
            panic!("{name}: {e}");
        }
        if kind == "AdmissionPolicy" {
            assert!(doc["metadata"]["namespace"].is_string(), "{name}");
        }
        for r in doc["spec"]["rules"].as_array().unwrap() {
            for g in r["apiGroups"].as_array().unwrap() {
                for res in r["resources"].as_array().unwrap() {
                    let (g, res) = (g.as_str().unwrap(), res.as_str().unwrap());
                    assert!(
                        covers(allowed, g, res),
                        "{name}: {g}/{res} is not in metadata.yml"
                    );
                    if kind == "AdmissionPolicy" {
                        assert!(
                            !["namespaces", "clusterroles", "clusterrolebindings"].contains(&res),
                            "{name}: an AdmissionPolicy cannot see cluster-scoped {res}"
                        );
                    }
                }
            }
        }
        seen.insert((kind, profile));
    }
    for kind in ["ClusterAdmissionPolicy", "AdmissionPolicy"] {
        for profile in ["baseline", "strict"] {
            assert!(
                seen.contains(&(kind.to_string(), profile.to_string())),
                "no {kind} for the {profile} profile"
            );
        }
    }
}

#[test]
fn questions_name_only_real_settings() {
    let text =
        std::fs::read_to_string(root().join("policies/kubewarden/questions-ui.yml")).unwrap();
    let doc = portcullis::yaml::load(&text).remove(0).value.unwrap();
    for q in doc["questions"].as_array().unwrap() {
        let var = q["variable"].as_str().unwrap();
        assert!(portcullis::settings::SETTINGS_KEYS.contains(&var), "{var}");
        if let Some(default) = q.get("default").filter(|d| !d.is_null() && *d != "") {
            let settings = json!({ var: default });
            assert!(
                portcullis::validate_settings(&settings).is_ok(),
                "{var} default {default}"
            );
        }
    }
    let text =
        std::fs::read_to_string(root().join("policies/kubewarden/artifacthub-pkg.yml")).unwrap();
    let pkg = portcullis::yaml::load(&text).remove(0).value.unwrap();
    assert_eq!(pkg["version"], portcullis::catalogue()["version"]);
    assert_eq!(pkg["annotations"]["kubewarden/mutation"], "true");
    // Artifact Hub shows copies of the questions and the rules: they must not drift
    let embedded = |key: &str| {
        let text = pkg["annotations"][key].as_str().unwrap();
        portcullis::yaml::load(text).remove(0).value.unwrap()
    };
    assert_eq!(
        embedded("kubewarden/questions-ui"),
        doc,
        "artifacthub-pkg.yml: questions-ui drifted"
    );
    assert_eq!(
        embedded("kubewarden/rules")["rules"],
        metadata_yaml()["rules"],
        "artifacthub-pkg.yml: rules drifted from metadata.yml"
    );
}

/// Payloads no API server sends: each must give a guest error or a
/// rejection, and the host (and the instance) must stay usable.
#[test]
fn hostile_payloads_never_crash_the_host() {
    let host = host();
    let deep = "[".repeat(100_000);
    let big = format!("{{\"request\": \"{}\"}}", "x".repeat(8 << 20));
    let payloads: Vec<(&str, Vec<u8>)> = vec![
        ("validate", Vec::new()),
        ("validate", b"\xff\xfe".to_vec()),
        ("validate", b"{\"request\":".to_vec()),
        ("validate", deep.clone().into_bytes()),
        ("validate", big.into_bytes()),
        ("validate", b"null".to_vec()),
        ("validate", b"{\"request\": null}".to_vec()),
        (
            "validate",
            b"{\"request\": {\"kind\": {}, \"operation\": \"CREATE\", \"object\": \"svc\"}}"
                .to_vec(),
        ),
        (
            "validate",
            b"{\"request\": {\"kind\": {}, \"operation\": \"CREATE\", \"object\": {\"kind\": 7}}}"
                .to_vec(),
        ),
        (
            "validate",
            b"{\"request\": {\"operation\": \"CREATE\", \"object\": {}}, \"settings\": []}"
                .to_vec(),
        ),
        (
            "validate",
            b"{\"request\": {}, \"settings\": {}, \"extra\": 1}".to_vec(),
        ),
        ("validate_settings", deep.into_bytes()),
        ("validate_settings", b"\"profile\"".to_vec()),
        ("validate_settings", vec![0u8; 1 << 20]),
        ("mutate", b"{}".to_vec()),
        ("", Vec::new()),
    ];
    let long_op = "v".repeat(1 << 20);
    for (op, payload) in payloads
        .iter()
        .map(|(o, p)| (*o, p.as_slice()))
        .chain([(long_op.as_str(), &b"{}"[..])])
    {
        let label = format!("{}… ({} bytes)", op.get(..20).unwrap_or(op), payload.len());
        match host.call(op, payload) {
            Ok(bytes) => {
                let v: Value =
                    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
                let rejected = v["accepted"] == false || v["valid"] == false;
                assert!(rejected, "{label}: {v}");
                if op == "validate" {
                    assert_eq!(v["code"], 400, "{label}: {v}");
                    assert!(
                        v["message"].as_str().is_some_and(|m| !m.is_empty()),
                        "{label}"
                    );
                }
            }
            Err(wapc::errors::Error::GuestCallFailure(message)) => {
                assert!(!message.is_empty(), "{label}");
            }
            Err(other) => panic!("{label}: the host failed: {other}"),
        }
        assert_eq!(
            host.call("protocol_version", b"").unwrap(),
            b"\"v1\"",
            "after {label}"
        );
    }
}

/// A bare waPC host over raw wasmtime, to watch the module's memory and to
/// call `__guest_call` with lengths no well-behaved host would send.
struct Raw {
    store: Store<Exchange>,
    guest_call: wasmtime_provider::wasmtime::TypedFunc<(i32, i32), i32>,
    memory: wasmtime_provider::wasmtime::Memory,
}

#[derive(Default)]
struct Exchange {
    op: Vec<u8>,
    msg: Vec<u8>,
    response: Vec<u8>,
    error: Vec<u8>,
}

fn read(caller: &mut Caller<'_, Exchange>, ptr: i32, len: i32) -> Vec<u8> {
    let memory = caller.get_export("memory").unwrap().into_memory().unwrap();
    let mut buf = vec![0; len as u32 as usize];
    memory
        .read(&*caller, ptr as u32 as usize, &mut buf)
        .unwrap();
    buf
}

impl Raw {
    fn new() -> Raw {
        let (engine, module, _) = compiled();
        let mut linker: Linker<Exchange> = Linker::new(engine);
        linker
            .func_wrap(
                "wapc",
                "__guest_request",
                |mut caller: Caller<'_, Exchange>, op_ptr: i32, ptr: i32| {
                    let memory = caller.get_export("memory").unwrap().into_memory().unwrap();
                    let (op, msg) = (caller.data().op.clone(), caller.data().msg.clone());
                    memory
                        .write(&mut caller, op_ptr as u32 as usize, &op)
                        .unwrap();
                    memory
                        .write(&mut caller, ptr as u32 as usize, &msg)
                        .unwrap();
                },
            )
            .unwrap();
        linker
            .func_wrap(
                "wapc",
                "__guest_response",
                |mut caller: Caller<'_, Exchange>, ptr: i32, len: i32| {
                    caller.data_mut().response = read(&mut caller, ptr, len);
                },
            )
            .unwrap();
        linker
            .func_wrap(
                "wapc",
                "__guest_error",
                |mut caller: Caller<'_, Exchange>, ptr: i32, len: i32| {
                    caller.data_mut().error = read(&mut caller, ptr, len);
                },
            )
            .unwrap();
        let mut store = Store::new(engine, Exchange::default());
        let instance = linker.instantiate(&mut store, module).unwrap();
        instance
            .get_typed_func::<(), ()>(&mut store, "wapc_init")
            .unwrap()
            .call(&mut store, ())
            .unwrap();
        let guest_call = instance.get_typed_func(&mut store, "__guest_call").unwrap();
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        Raw {
            store,
            guest_call,
            memory,
        }
    }

    fn call(&mut self, op: &str, msg: &[u8]) -> i32 {
        let data = self.store.data_mut();
        data.op = op.as_bytes().to_vec();
        data.msg = msg.to_vec();
        self.guest_call
            .call(&mut self.store, (op.len() as i32, msg.len() as i32))
            .unwrap()
    }

    fn memory(&self) -> usize {
        self.memory.data_size(&self.store)
    }
}

#[test]
fn lengths_no_host_sends_are_guest_errors() {
    let mut raw = Raw::new();
    for (op_len, len) in [
        (i32::MAX, 0),
        (0, i32::MAX),
        (-1, 0),
        (16, -5),
        (300, 0),
        (8, (64 << 20) + 1),
    ] {
        raw.store.data_mut().error.clear();
        let ok = raw.guest_call.call(&mut raw.store, (op_len, len)).unwrap();
        assert_eq!(ok, 0, "({op_len}, {len})");
        assert!(!raw.store.data().error.is_empty(), "({op_len}, {len})");
    }
    assert_eq!(raw.call("protocol_version", b""), 1);
    assert_eq!(raw.store.data().response, b"\"v1\"");
}

#[test]
fn memory_stays_bounded_over_100_000_calls() {
    let mut raw = Raw::new();
    let service = |kind: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"type": kind, "ports": [{"port": 80}]}})
    };
    let calls: Vec<(&str, Vec<u8>)> = vec![
        ("validate", json!({"request": request("CREATE", &service("LoadBalancer"), None, false), "settings": {}}).to_string().into_bytes()),
        ("validate", json!({"request": request("UPDATE", &service("ClusterIP"), Some(&service("NodePort")), true), "settings": {"profile": "strict"}}).to_string().into_bytes()),
        ("validate", json!({"request": request("CREATE", &service("NodePort"), None, false), "settings": {"mutate": true}}).to_string().into_bytes()),
        ("validate", b"{\"request\": [".to_vec()),
        ("validate_settings", json!({"rules": {"nope": "deny"}}).to_string().into_bytes()),
        ("protocol_version", Vec::new()),
        ("unknown", Vec::new()),
    ];
    let round = |raw: &mut Raw, n: usize| {
        for i in 0..n {
            let (op, msg) = &calls[i % calls.len()];
            raw.call(op, msg);
        }
    };
    round(&mut raw, 1_000);
    let warm = raw.memory();
    let started = std::time::Instant::now();
    round(&mut raw, 99_000);
    let per_call = started.elapsed() / 99_000;
    let after = raw.memory();
    println!(
        "guest memory: {warm} bytes after 1,000 calls, {after} after 100,000 ({per_call:?} per call)"
    );
    assert!(
        after <= warm + (1 << 20),
        "memory grew from {warm} to {after} bytes"
    );
}
