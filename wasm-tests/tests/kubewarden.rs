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
use portcullis::cluster::{Gathered, Lookup};
use portcullis::rules::RULES;
use portcullis::Report;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};
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
/// policy-server would. Cluster reads are refused exactly as the native
/// binding refuses them (`NoCluster`), so both give the same answers.
fn host() -> WapcHost {
    let (engine, module, _) = compiled();
    let provider = WasmtimeEngineProviderBuilder::new()
        .engine(engine.clone())
        .module(module.clone())
        .build()
        .unwrap();
    WapcHost::new(
        Box::new(provider),
        Some(Box::new(|_id, binding, ns, op, payload| {
            if (binding, ns, op) == ("kubewarden", "tracing", "log") {
                Ok(Vec::new())
            } else if (binding, ns) == ("kubewarden", "kubernetes") {
                use portcullis_kubewarden::Cluster;
                Ok(portcullis_kubewarden::NoCluster.call(op, payload)?)
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

/// Runs one case through the module in every admission shape, without
/// cluster context (`clusterContext: off`, as a namespaced AdmissionPolicy
/// runs): the request alone, as the core judges it. The cross-object rules
/// with a cluster are run by `cross_object_cases_agree_with_the_cli_given_the_cluster`.
fn run_case(host: &WapcHost, case: &Case) -> Result<(), String> {
    let mut settings = case.settings.clone();
    if let Some(m) = settings.as_object_mut() {
        m.entry("clusterContext").or_insert_with(|| json!("off"));
    }
    let settings = &settings;
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
    // context: exactly the kinds the rules look up in a cluster, at every
    // version they may ask for, and the three host calls that read them
    let declared: Vec<(String, String)> = m["contextAwareResources"]
        .as_array()
        .expect("contextAwareResources")
        .iter()
        .map(|r| {
            (
                r["apiVersion"].as_str().unwrap().to_string(),
                r["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let read: BTreeSet<(String, String)> = portcullis::cluster::kinds_read()
        .iter()
        .flat_map(|k| k.api_versions().map(|v| (v, k.kind.to_string())))
        .collect();
    assert_eq!(
        declared.iter().cloned().collect::<BTreeSet<_>>(),
        read,
        "contextAwareResources must name exactly the kinds the rules read (Rule::cluster_reads)"
    );
    assert_eq!(
        declared.len(),
        read.len(),
        "contextAwareResources repeats a kind"
    );
    assert_eq!(
        m["hostCapabilities"],
        json!([
            "kubernetes/get_resource",
            "kubernetes/list_resources_by_namespace",
            "kubernetes/list_resources_all"
        ])
    );
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
            // Kubewarden gives namespaced policies no cluster access
            assert!(doc["spec"].get("contextAwareResources").is_none(), "{name}");
            assert_eq!(settings["clusterContext"], "off", "{name}");
        } else {
            assert_eq!(
                doc["spec"]["contextAwareResources"], metadata["contextAwareResources"],
                "{name}: the ClusterAdmissionPolicy grants what the metadata declares"
            );
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
    assert_eq!(
        embedded("kubewarden/contextAwareResources"),
        metadata_yaml()["contextAwareResources"],
        "artifacthub-pkg.yml: contextAwareResources drifted from metadata.yml"
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
    /// Host calls the guest made.
    host_calls: usize,
    /// Some(n): every host call succeeds and announces an answer of n bytes.
    host_len: Option<i32>,
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
        // the cluster: every call fails, or announces `host_len` bytes
        linker
            .func_wrap(
                "wapc",
                "__host_call",
                |mut caller: Caller<'_, Exchange>,
                 _bd: i32,
                 _bd_len: i32,
                 _ns: i32,
                 _ns_len: i32,
                 _op: i32,
                 _op_len: i32,
                 _ptr: i32,
                 _len: i32|
                 -> i32 {
                    caller.data_mut().host_calls += 1;
                    i32::from(caller.data().host_len.is_some())
                },
            )
            .unwrap();
        for name in ["__host_response_len", "__host_error_len"] {
            linker
                .func_wrap("wapc", name, |caller: Caller<'_, Exchange>| -> i32 {
                    caller
                        .data()
                        .host_len
                        .unwrap_or(portcullis_kubewarden::NO_HOST.len() as i32)
                })
                .unwrap();
        }
        for name in ["__host_response", "__host_error"] {
            linker
                .func_wrap(
                    "wapc",
                    name,
                    |mut caller: Caller<'_, Exchange>, ptr: i32| {
                        let memory = caller.get_export("memory").unwrap().into_memory().unwrap();
                        let text = portcullis_kubewarden::NO_HOST.as_bytes();
                        let at = ptr as u32 as usize;
                        let fits = memory.data_size(&caller) >= at + text.len();
                        if caller.data().host_len.is_none() && fits {
                            memory.write(&mut caller, at, text).unwrap();
                        }
                    },
                )
                .unwrap();
        }
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

// --- context-aware admission: the module reading a cluster ------------------

/// The rules that read other objects than the one they check.
const CROSS_OBJECT: &[&str] = &[
    "ingress-tls-secret",
    "ingress-host-conflict",
    "namespace-default-deny-missing",
    "serviceaccount-token-automount",
];

/// CRDs the fixture clusters do not have installed: their kinds are not served.
const NOT_INSTALLED: &[&str] = &[
    "bitnami.com/v1alpha1",
    "external-secrets.io/v1",
    "external-secrets.io/v1beta1",
];

/// A cluster served through the policy's host calls as policy-server serves
/// one: its answers and its error texts, every call recorded. It can refuse
/// a kind (not granted to the policy), fail one (the API server errs), or
/// answer garbage.
#[derive(Default)]
struct Fixture {
    objects: Mutex<Vec<Value>>,
    /// apiVersions the cluster does not serve.
    not_served: Vec<String>,
    /// Kinds the host refuses: the policy was not granted them.
    refused: Vec<&'static str>,
    /// Kinds whose reads fail at the API server.
    failing: Vec<&'static str>,
    /// Every answer is not JSON.
    garbled: bool,
    calls: Mutex<Vec<String>>,
}

impl Fixture {
    fn new(objects: Vec<Value>) -> Fixture {
        Fixture {
            objects: Mutex::new(objects),
            not_served: NOT_INSTALLED.iter().map(|s| s.to_string()).collect(),
            ..Fixture::default()
        }
    }

    fn set(&self, objects: Vec<Value>) {
        *self.objects.lock().unwrap() = objects;
    }

    fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    /// One host call of namespace `kubernetes`, answered as policy-server does.
    fn answer(&self, op: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let req: Value = serde_json::from_slice(payload)
            .map_err(|e| format!("Callback evaluation failure: {e}"))?;
        let text = |k: &str| req[k].as_str().unwrap_or_default().to_string();
        let (av, kind, ns, name) = (
            text("api_version"),
            text("kind"),
            text("namespace"),
            text("name"),
        );
        self.calls.lock().unwrap().push(match op {
            "get_resource" => format!("get {av} {kind} {ns}/{name}"),
            "list_resources_by_namespace" => format!("list {av} {kind} {ns}"),
            _ => format!("list-all {av} {kind}"),
        });
        if self.refused.contains(&kind.as_str()) {
            return Err(format!(
                "Policy has not been granted access to Kubernetes {av}/{kind} resources. \
                 The violation has been reported."
            ));
        }
        if self.not_served.contains(&av) {
            return Err(format!(
                "Callback evaluation failure: Cannot find resource {av}/{kind}"
            ));
        }
        if self.failing.contains(&kind.as_str()) {
            return Err(
                "Callback evaluation failure: ApiError: the server is currently unable \
                        to handle the request: ServiceUnavailable (503)"
                    .to_string(),
            );
        }
        if self.garbled {
            return Ok(b"<html>502 Bad Gateway</html>".to_vec());
        }
        let group = av.rsplit_once('/').map_or("", |(g, _)| g);
        let objects = self.objects.lock().unwrap();
        let group_of = |o: &Value| {
            let av = o["apiVersion"].as_str().unwrap_or_default();
            av.rsplit_once('/').map_or("", |(g, _)| g).to_string()
        };
        // the API server serves Ingresses written as extensions/v1beta1 under networking.k8s.io too
        let same_resource = |o: &&Value| {
            let g = group_of(o);
            o["kind"] == json!(kind)
                && (g == group
                    || (kind == "Ingress" && g == "extensions" && group == "networking.k8s.io"))
        };
        let ns_of = |o: &Value| {
            o["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        };
        match op {
            "get_resource" => objects
                .iter()
                .filter(same_resource)
                .find(|o| ns_of(o) == ns && o["metadata"]["name"] == json!(name))
                .map(|o| serde_json::to_vec(o).unwrap())
                .ok_or_else(|| {
                    format!(
                        "Callback evaluation failure: Cannot find {av}/{kind} named '{name}' \
                         inside of namespace 'Some(\"{ns}\")'"
                    )
                }),
            "list_resources_by_namespace" | "list_resources_all" => {
                let items: Vec<Value> = objects
                    .iter()
                    .filter(same_resource)
                    .filter(|o| op == "list_resources_all" || ns_of(o) == ns)
                    .map(|o| {
                        // a listing's items come without apiVersion and kind
                        let mut o = o.clone();
                        if o["apiVersion"] == json!(av) {
                            let m = o.as_object_mut().unwrap();
                            m.remove("apiVersion");
                            m.remove("kind");
                        }
                        o
                    })
                    .collect();
                Ok(serde_json::to_vec(
                    &json!({"metadata": {"resourceVersion": "7"}, "items": items}),
                )
                .unwrap())
            }
            other => Err(format!("unknown operation: {other}")),
        }
    }
}

/// The binding, run natively against the same fixture.
struct Native<'f>(&'f Fixture);

impl portcullis_kubewarden::Cluster for Native<'_> {
    fn call(&mut self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.0.answer(operation, payload)
    }
}

/// A waPC host whose `kubernetes` host calls the fixture answers.
fn host_with(fixture: Arc<Fixture>) -> WapcHost {
    let (engine, module, _) = compiled();
    let provider = WasmtimeEngineProviderBuilder::new()
        .engine(engine.clone())
        .module(module.clone())
        .build()
        .unwrap();
    WapcHost::new(
        Box::new(provider),
        Some(Box::new(move |_id, binding, ns, op, payload| {
            match (binding, ns) {
                ("kubewarden", "kubernetes") => Ok(fixture.answer(op, payload)?),
                ("kubewarden", "tracing") => Ok(Vec::new()),
                _ => Err(format!("unexpected host call {binding}/{ns}/{op}").into()),
            }
        })),
    )
    .unwrap()
}

/// One `validate` through the module and through the native binding against
/// the same cluster: the same answer from the same host calls, within the bound.
fn validate_in(
    host: &WapcHost,
    fixture: &Fixture,
    label: &str,
    payload: &Value,
) -> (Value, Vec<String>) {
    fixture.take_calls();
    let got = call(host, "validate", payload);
    let calls = fixture.take_calls();
    let bytes = portcullis_kubewarden::dispatch_with(
        b"validate",
        payload.to_string().as_bytes(),
        &mut Native(fixture),
    )
    .unwrap();
    let native: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(got, native, "{label}: wasm != native");
    assert_eq!(
        calls,
        fixture.take_calls(),
        "{label}: wasm and native asked differently"
    );
    assert!(
        calls.len() <= portcullis::cluster::MAX_CALLS,
        "{label}: {} host calls",
        calls.len()
    );
    (got, calls)
}

/// The core's report for the same request and cluster, read through the
/// binding's own handling of the host's answers.
fn core_in(fixture: &Fixture, payload: &Value) -> (Report, Gathered) {
    let mut native = Native(fixture);
    let out = portcullis::cluster::evaluate_in_cluster(
        payload,
        portcullis::Host::default(),
        &mut |l: &Lookup, v: &str| portcullis_kubewarden::context::ask(&mut native, l, v),
    )
    .unwrap();
    fixture.take_calls();
    out
}

/// The CLI's engine on `bundle` as one bundle, told which kinds the cluster
/// listed (what a bundle of manifests alone cannot say).
fn cli_given(bundle: &[Value], settings: &Value, listed: &portcullis::review::Listed) -> Report {
    let input = json!({"objects": bundle, "settings": settings});
    let mut review = portcullis::review::detect(&input).unwrap();
    review.listed = listed.clone();
    let policy = portcullis::Policy::from_settings(Some(settings)).unwrap();
    portcullis::engine::run(&review, &policy)
}

/// `(action, path)` of the findings of `rule` on the object at `index`.
fn marks(report: &Report, rule: &str, index: usize) -> BTreeSet<(String, String)> {
    report
        .findings()
        .filter(|f| f.rule == rule && f.index == index)
        .map(|f| (f.action.as_str().to_string(), f.path.clone()))
        .collect()
}

/// The namespaces `rule` reports in, with its action: the namespace rule
/// reports a bundle once per namespace, an admission on every workload.
fn namespaces(report: &Report, rule: &str) -> BTreeSet<(String, String)> {
    report
        .findings()
        .filter(|f| f.rule == rule)
        .map(|f| {
            let ns = f
                .object
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            (ns, f.action.as_str().to_string())
        })
        .collect()
}

fn namespace_of(object: &Value) -> String {
    object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string()
}

/// Every case of the cross-object rules, run both ways: each object of the
/// case admitted by the module against a cluster holding the others, and the
/// CLI's engine on all of them as one bundle. The verdicts of the rule agree
/// object by object once the CLI is told what the cluster listed; without
/// that, only the cases whose bundle cannot prove an absence differ (they
/// are printed). The audit scan of the unchanged cluster (the object itself
/// in it) gives the very same answer, and an UPDATE that changes nothing is
/// ratcheted to an acceptance.
#[test]
fn cross_object_cases_agree_with_the_cli_given_the_cluster() {
    let fixture = Arc::new(Fixture::new(Vec::new()));
    let host = host_with(fixture.clone());
    let mut cases: Vec<Case> = policy_cases(&root().join("policies")).unwrap();
    cases.extend(portcullis::cases::conformance_cases_if_present(&root()).unwrap());
    cases.retain(|c| CROSS_OBJECT.contains(&c.rule.as_str()));
    let requests = std::sync::atomic::AtomicUsize::new(0);
    let most_calls = std::sync::atomic::AtomicUsize::new(0);
    let plain_differs = Mutex::new(Vec::new());
    let result = run_all(&cases, |case| {
        let (objects, inventory) = match &case.request {
            Some(req) => (vec![req["object"].clone()], Vec::new()),
            None => (case.objects.clone(), case.inventory.clone()),
        };
        let bundle: Vec<Value> = objects.iter().chain(&inventory).cloned().collect();
        let plain = portcullis::evaluate(
            &json!({"objects": bundle, "settings": case.settings}),
            portcullis::Host::default(),
        )
        .unwrap();
        let (mut kw_ns, mut cli_ns) = (BTreeSet::new(), BTreeSet::new());
        let mut fired = false;
        let mut agrees_plain = true;
        for (i, object) in objects.iter().enumerate() {
            let label = format!("{} (object {i})", case.name);
            let others: Vec<Value> = bundle
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, o)| o.clone())
                .collect();
            fixture.set(others);
            let payload = json!({"request": request("CREATE", object, None, true), "settings": case.settings});
            let (got, calls) = validate_in(&host, &fixture, &label, &payload);
            requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            most_calls.fetch_max(calls.len(), std::sync::atomic::Ordering::Relaxed);
            let (report, gathered) = core_in(&fixture, &payload);
            let rendered = serde_json::to_value(portcullis_kubewarden::answer(&report)).unwrap();
            if got != rendered {
                return Err(format!(
                    "{label}: the module's answer is not the core's report\n{got}\n{rendered}"
                ));
            }
            let cli = cli_given(&bundle, &case.settings, &gathered.listed);
            let rule = case.rule.as_str();
            fired |= report.findings().any(|f| f.rule == rule);
            if rule == "namespace-default-deny-missing" {
                kw_ns.extend(namespaces(&report, rule));
                cli_ns.extend(namespaces(&cli, rule));
            } else {
                let (kw, by_cli) = (marks(&report, rule, 0), marks(&cli, rule, i));
                if kw != by_cli {
                    return Err(format!(
                        "{label}: {rule} in the cluster {kw:?}, by the CLI given the listing {by_cli:?}\nhost calls: {calls:?}\n{got}"
                    ));
                }
                agrees_plain &= kw == marks(&plain, rule, i);
            }
            // the audit scanner's request for the same object, now in the cluster
            fixture.set(bundle.clone());
            let (scanned, _) = validate_in(&host, &fixture, &label, &payload);
            if scanned != got {
                return Err(format!(
                    "{label}: the audit scan differs from admission\n{got}\n{scanned}"
                ));
            }
            // an UPDATE that changes nothing: what the object had is ratcheted
            let update = json!({"request": request("UPDATE", object, Some(object), true), "settings": case.settings});
            let (same, _) = validate_in(&host, &fixture, &label, &update);
            if same["accepted"] != true {
                return Err(format!("{label}: an unchanged UPDATE is denied: {same}"));
            }
        }
        if kw_ns != cli_ns {
            return Err(format!(
                "{}: the cluster reports namespaces {kw_ns:?}, the CLI given the listing {cli_ns:?}",
                case.name
            ));
        }
        if case.rule == "namespace-default-deny-missing" {
            agrees_plain = kw_ns == namespaces(&plain, &case.rule);
        }
        if case.expect == portcullis::cases::Expect::Deny && !fired {
            return Err(format!(
                "{}: denied by the CLI, silent in the cluster",
                case.name
            ));
        }
        if !agrees_plain {
            plain_differs.lock().unwrap().push(case.name.clone());
        }
        Ok(())
    });
    if let Err(failures) = result {
        panic!("{failures}");
    }
    let differs = plain_differs.into_inner().unwrap();
    println!(
        "{} cases of the cross-object rules, {} admission requests (at most {} host calls each): \
         {} agree with the plain CLI verdict; {} differ only where the cluster's listing proves an \
         absence the bundle alone cannot: {}",
        cases.len(),
        requests.into_inner(),
        most_calls.into_inner(),
        cases.len() - differs.len(),
        differs.len(),
        differs.join(", ")
    );
}

/// The objects of `wasm-tests/fixtures/cluster/<namespace>/`, each checked
/// to name the namespace of its folder.
fn fixture_cluster() -> Vec<Value> {
    let dir = root().join("wasm-tests/fixtures/cluster");
    let mut objects = Vec::new();
    let mut namespaces: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    namespaces.sort();
    for ns_dir in namespaces {
        let ns = ns_dir.file_name().unwrap().to_string_lossy().to_string();
        let mut files: Vec<_> = std::fs::read_dir(&ns_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            for doc in portcullis::cases::read_documents(&file).unwrap() {
                assert_eq!(namespace_of(&doc), ns, "{}", file.display());
                objects.push(doc);
            }
        }
    }
    objects
}

fn name_of(object: &Value) -> String {
    format!(
        "{} {}/{}",
        object["kind"].as_str().unwrap(),
        namespace_of(object),
        object["metadata"]["name"].as_str().unwrap()
    )
}

/// Rule ids reported (denied or warned) in a module's answer.
fn reported(answer: &Value) -> BTreeSet<String> {
    let mut rules = annotated_rules(answer, portcullis_kubewarden::ANNOTATION_DENIED);
    rules.extend(annotated_rules(
        answer,
        portcullis_kubewarden::ANNOTATION_WARNED,
    ));
    rules
}

/// Every object of the fixture cluster, admitted against the rest and
/// audited with itself in place: the same answers, the host calls the docs
/// list for its kind, and the cross-object rules firing where the cluster
/// says they must.
#[test]
fn the_fixture_cluster_audits_as_it_admits_at_the_documented_cost() {
    let cluster = fixture_cluster();
    let fixture = Arc::new(Fixture::new(Vec::new()));
    let host = host_with(fixture.clone());
    // (object, host calls, the cross-object rules that report on it), under the baseline profile
    let expected: &[(&str, usize, &[&str])] = &[
        // Ingresses: every Ingress (1), each TLS Secret (1 each), and when one
        // is absent its producers: Certificates (1), SealedSecrets and
        // ExternalSecrets (1 and 2 here, their CRDs not being installed)
        ("Ingress billing/invoices", 7, &["ingress-tls-secret"]),
        ("Ingress marketing/promo", 6, &["ingress-host-conflict"]),
        ("Ingress shop/web", 2, &["ingress-host-conflict"]),
        // workloads: the namespace's NetworkPolicies (1), the ServiceAccount
        // unless the pod spec sets automountServiceAccountToken (1)
        (
            "CronJob billing/nightly",
            1,
            &["namespace-default-deny-missing"],
        ),
        (
            "Deployment marketing/promo",
            2,
            &[
                "namespace-default-deny-missing",
                "serviceaccount-token-automount",
            ],
        ),
        ("Deployment shop/web", 2, &[]),
        // Services: the namespace's NetworkPolicies
        ("Service shop/web", 1, &[]),
        // nothing else reads the cluster
        ("Secret billing/invoices-tls", 0, &[]),
        ("NetworkPolicy billing/db", 0, &[]),
        ("Certificate marketing/promo", 0, &[]),
        ("Secret shop/shop-tls", 0, &[]),
        ("ServiceAccount shop/web", 0, &[]),
        ("NetworkPolicy shop/default-deny-ingress", 0, &[]),
        ("NetworkPolicy shop/web-from-ingress-nginx", 0, &[]),
    ];
    assert_eq!(cluster.len(), expected.len());
    let mut costs = Vec::new();
    for (i, object) in cluster.iter().enumerate() {
        let name = name_of(object);
        let (_, want_calls, want_rules) = expected
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} is not in the expectations"));
        let payload = json!({"request": request("CREATE", object, None, false), "settings": {}});
        let mut others = cluster.clone();
        others.remove(i);
        fixture.set(others);
        let (admitted, calls) = validate_in(&host, &fixture, &name, &payload);
        fixture.set(cluster.clone());
        let (audited, audit_calls) = validate_in(&host, &fixture, &name, &payload);
        assert_eq!(admitted, audited, "{name}: audit != admission");
        assert_eq!(calls, audit_calls, "{name}");
        assert_eq!(calls.len(), *want_calls, "{name}: {calls:#?}");
        let cross: BTreeSet<String> = reported(&admitted)
            .into_iter()
            .filter(|r| CROSS_OBJECT.contains(&r.as_str()))
            .collect();
        let want: BTreeSet<String> = want_rules.iter().map(|r| r.to_string()).collect();
        assert_eq!(cross, want, "{name}: {admitted}");
        assert!(
            !admitted.to_string().contains("not checked"),
            "{name}: {admitted}"
        );
        costs.push(format!("{name}: {}", calls.len()));
    }
    // billing's second Secret is absent, its first is of another type: two findings
    let invoices = cluster
        .iter()
        .position(|o| name_of(o) == "Ingress billing/invoices")
        .unwrap();
    let payload =
        json!({"request": request("CREATE", &cluster[invoices], None, false), "settings": {}});
    let (report, _) = core_in(&fixture, &payload);
    let paths: Vec<&str> = report
        .findings()
        .filter(|f| f.rule == "ingress-tls-secret")
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["/spec/tls/0/secretName", "/spec/tls/1/secretName"]);
    println!("host calls per request: {}", costs.join("; "));
}

fn warning_lines(answer: &Value) -> Vec<String> {
    answer["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

/// A cluster the policy may not read, or that fails, leaves the rules that
/// needed it "not checked": a warning naming the rule and the reason, a
/// denial only under `clusterContext: fail-closed`, never a crash.
#[test]
fn refused_and_failing_reads_leave_the_rules_not_checked_visibly() {
    let cluster = fixture_cluster();
    let find = |name: &str| cluster.iter().find(|o| name_of(o) == name).unwrap().clone();
    let invoices = find("Ingress billing/invoices");
    let promo = find("Deployment marketing/promo");
    let admit = |object: &Value, settings: Value| json!({"request": request("CREATE", object, None, true), "settings": settings});

    // not granted: Kubewarden's refusal
    let mut refusing = Fixture::new(cluster.clone());
    refusing.refused = vec!["Secret"];
    let refusing = Arc::new(refusing);
    let host = host_with(refusing.clone());
    let (open, _) = validate_in(&host, &refusing, "refused", &admit(&invoices, json!({})));
    let line = warning_lines(&open)
        .into_iter()
        .find(|w| w.starts_with("ingress-tls-secret: "))
        .unwrap_or_else(|| panic!("no warning for the unchecked rule: {open}"));
    assert!(
        line.contains("Ingress billing/invoices was not checked"),
        "{line}"
    );
    assert!(line.contains("Secret billing/invoices-tls"), "{line}");
    assert!(line.contains("has not been granted access"), "{line}");
    assert!(line.contains("contextAwareResources"), "{line}");
    assert!(
        !annotated_rules(&open, portcullis_kubewarden::ANNOTATION_DENIED)
            .contains("ingress-tls-secret")
    );
    assert!(
        annotated_rules(&open, portcullis_kubewarden::ANNOTATION_WARNED)
            .contains("ingress-tls-secret")
    );
    // the rules that got their objects still ran
    let (closed, _) = validate_in(
        &host,
        &refusing,
        "refused, fail-closed",
        &admit(&invoices, json!({"clusterContext": "fail-closed"})),
    );
    assert_eq!(closed["accepted"], false, "{closed}");
    assert!(closed["message"]
        .as_str()
        .unwrap()
        .contains("ingress-tls-secret: Ingress billing/invoices was not checked"));
    assert!(
        annotated_rules(&closed, portcullis_kubewarden::ANNOTATION_DENIED)
            .contains("ingress-tls-secret")
    );

    // the API server fails: the reason reaches the warning
    let mut failing = Fixture::new(cluster.clone());
    failing.failing = vec!["NetworkPolicy"];
    let failing = Arc::new(failing);
    let host = host_with(failing.clone());
    let (answer, _) = validate_in(
        &host,
        &failing,
        "failing",
        &admit(&promo, json!({"profile": "strict"})),
    );
    let line = warning_lines(&answer)
        .into_iter()
        .find(|w| w.starts_with("namespace-default-deny-missing: "))
        .unwrap_or_else(|| panic!("{answer}"));
    assert!(line.contains("ServiceUnavailable"), "{line}");
    // strict denies the ServiceAccount finding, the unchecked rule only warns
    assert_eq!(
        annotated_rules(&answer, portcullis_kubewarden::ANNOTATION_DENIED),
        BTreeSet::from(["serviceaccount-token-automount".to_string()])
    );

    // answers that are not JSON
    let mut garbled = Fixture::new(cluster.clone());
    garbled.garbled = true;
    let garbled = Arc::new(garbled);
    let host = host_with(garbled.clone());
    let (answer, _) = validate_in(&host, &garbled, "garbled", &admit(&invoices, json!({})));
    let lines = warning_lines(&answer);
    for rule in ["ingress-tls-secret", "ingress-host-conflict"] {
        assert!(
            lines
                .iter()
                .any(|w| w.starts_with(&format!("{rule}: ")) && w.contains("unreadable")),
            "{rule}: {answer}"
        );
    }

    // no host at all (the default test host refuses as the native library does)
    let bare = self::host();
    let answer = call(&bare, "validate", &admit(&promo, json!({})));
    assert_eq!(answer, native("validate", &admit(&promo, json!({}))));
    assert_eq!(answer["accepted"], true, "{answer}");
    assert!(warning_lines(&answer)
        .iter()
        .any(|w| w.contains(portcullis_kubewarden::NO_HOST)));

    // clusterContext: off asks nothing and says nothing about it
    let quiet = Arc::new(Fixture::new(cluster.clone()));
    let host = host_with(quiet.clone());
    let (answer, calls) = validate_in(
        &host,
        &quiet,
        "off",
        &admit(&invoices, json!({"clusterContext": "off"})),
    );
    assert!(calls.is_empty());
    assert!(!answer.to_string().contains("not checked"), "{answer}");
}

/// An Ingress naming more Secrets than one request may look up: the calls
/// stop at the bound and the rule says it was not checked.
#[test]
fn host_calls_per_request_are_bounded() {
    let tls: Vec<Value> = (0..40)
        .map(|i| json!({"hosts": [format!("h{i}.example.com")], "secretName": format!("tls-{i}")}))
        .collect();
    let ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "many", "namespace": "shop"},
        "spec": {"tls": tls, "rules": [{"host": "h0.example.com"}]}});
    let fixture = Arc::new(Fixture::new(fixture_cluster()));
    let host = host_with(fixture.clone());
    let payload = json!({"request": request("CREATE", &ingress, None, true), "settings": {}});
    let (answer, calls) = validate_in(&host, &fixture, "40 Secrets", &payload);
    assert_eq!(calls.len(), portcullis::cluster::MAX_CALLS);
    assert!(
        warning_lines(&answer)
            .iter()
            .any(|w| w.starts_with("ingress-tls-secret: ")
                && w.contains(&format!(
                    "at most {} host calls",
                    portcullis::cluster::MAX_CALLS
                ))),
        "{answer}"
    );
}

/// A host that announces an answer no policy should read: the guest refuses
/// it before allocating and still answers the request.
#[test]
fn hostile_answer_lengths_are_refused() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let payload =
        json!({"request": request("CREATE", &deployment, None, false), "settings": {}}).to_string();
    let mut raw = Raw::new();
    for len in [i32::MAX, -1, (64 << 20) + 1, 12] {
        raw.store.data_mut().host_len = Some(len);
        raw.store.data_mut().host_calls = 0;
        assert_eq!(raw.call("validate", payload.as_bytes()), 1, "{len}");
        assert!(raw.store.data().host_calls > 0);
        let answer: Value = serde_json::from_slice(&raw.store.data().response).unwrap();
        assert_eq!(answer["accepted"], true, "{len}: {answer}");
        assert!(
            answer.to_string().contains("not checked"),
            "{len}: {answer}"
        );
        assert!(raw.memory() < 64 << 20, "{len}: {} bytes", raw.memory());
    }
}

/// One exchange of a kwctl session recorded with
/// `--record-host-capabilities-interactions`.
struct Recorded {
    request: Value,
    operation: &'static str,
    response: Result<Vec<u8>, String>,
}

fn kwctl_session(path: &std::path::Path) -> Vec<Recorded> {
    let doc = portcullis::cases::read_documents(path).unwrap().remove(0);
    doc.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = e["request"].as_str().unwrap();
            // the first line tags the request type: !KubernetesListResourceAll
            let (tag, body) = text.split_once('\n').unwrap();
            let operation = match tag.trim() {
                "!KubernetesListResourceAll" => "list_resources_all",
                "!KubernetesListResourceNamespace" => "list_resources_by_namespace",
                "!KubernetesGetResource" => "get_resource",
                other => panic!("{}: request type {other}", path.display()),
            };
            let request = portcullis::yaml::load(body).remove(0).value.unwrap();
            let response = match e["response"]["type"].as_str() {
                Some("Success") => Ok(e["response"]["payload"]
                    .as_str()
                    .unwrap()
                    .as_bytes()
                    .to_vec()),
                _ => Err(e["response"]["message"]
                    .as_str()
                    .unwrap_or("error")
                    .to_string()),
            };
            Recorded {
                request,
                operation,
                response,
            }
        })
        .collect()
}

/// Kubewarden's own recordings of a context-aware policy's host calls
/// (unique-ingress-policy's kwctl sessions): the module asks exactly what the
/// recording holds, in the SDK's payload, reads the recorded answers (list
/// items without apiVersion and kind), and reaches the CLI's verdict on the
/// same objects.
#[test]
fn kwctl_recorded_sessions_replay() {
    let Some(dir) = conformance_corpus(&root()).unwrap() else {
        return;
    };
    let dir = dir.join("kubewarden/unique-ingress-policy");
    let request_doc: Value =
        serde_json::from_slice(&std::fs::read(dir.join("ingress.json")).unwrap()).unwrap();
    for session in ["k8s_ctx_no_duplicates.yml", "k8s_ctx_duplicate.yml"] {
        let exchanges = Arc::new(kwctl_session(&dir.join(session)));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (engine, module, _) = compiled();
        let provider = WasmtimeEngineProviderBuilder::new()
            .engine(engine.clone())
            .module(module.clone())
            .build()
            .unwrap();
        let (ex, log) = (exchanges.clone(), asked.clone());
        let host = WapcHost::new(
            Box::new(provider),
            Some(Box::new(move |_id, _binding, _ns, op, payload| {
                let request: Value = serde_json::from_slice(payload).unwrap();
                let mut log = log.lock().unwrap();
                let at = log.len();
                log.push((op.to_string(), request.clone()));
                match ex.get(at) {
                    Some(e) if e.operation == op && e.request == request => {
                        e.response.clone().map_err(Into::into)
                    }
                    _ => Err(format!("not in the recording: {op} {request}").into()),
                }
            })),
        )
        .unwrap();
        let settings = json!({"rules": {"ingress-host-conflict": "deny"}});
        let got = call(
            &host,
            "validate",
            &json!({"request": request_doc, "settings": settings}),
        );
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), exchanges.len(), "{session}: {asked:?}");
        for (e, (op, req)) in exchanges.iter().zip(&asked) {
            assert_eq!((e.operation, &e.request), (op.as_str(), req), "{session}");
        }
        // the CLI's verdict on the request's object and the recorded ones as one bundle
        let mut bundle = vec![request_doc["object"].clone()];
        for e in exchanges.iter() {
            let list: Value = serde_json::from_slice(e.response.as_ref().unwrap()).unwrap();
            for item in list["items"].as_array().unwrap() {
                let mut item = item.clone();
                item["apiVersion"] = json!("networking.k8s.io/v1");
                item["kind"] = json!("Ingress");
                bundle.push(item);
            }
        }
        let cli = portcullis::evaluate(
            &json!({"objects": bundle, "settings": settings}),
            portcullis::Host::default(),
        )
        .unwrap();
        let cli_denies = cli
            .violations
            .iter()
            .any(|f| f.rule == "ingress-host-conflict" && f.index == 0);
        let denied = annotated_rules(&got, portcullis_kubewarden::ANNOTATION_DENIED);
        assert_eq!(
            denied.contains("ingress-host-conflict"),
            cli_denies,
            "{session}: {got}"
        );
        assert!(!got.to_string().contains("not checked"), "{session}: {got}");
        println!(
            "{session}: {} recorded host call(s) replayed; ingress-host-conflict {}",
            asked.len(),
            if cli_denies {
                "denies, as the CLI does"
            } else {
                "allows, as the CLI does"
            }
        );
    }
}

/// What the policy server's ServiceAccount must be allowed, derived from the
/// host calls the rules make on every case and on the fixture cluster: the
/// ClusterRole in policies/kubewarden/context-rbac.yaml grants it.
#[test]
fn the_context_rbac_grants_every_read() {
    let text =
        std::fs::read_to_string(root().join("policies/kubewarden/context-rbac.yaml")).unwrap();
    let docs: Vec<Value> = portcullis::yaml::load(&text)
        .into_iter()
        .map(|d| d.value.unwrap())
        .collect();
    let role = docs.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
    let binding = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRoleBinding")
        .unwrap();
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let grants = |group: &str, resource: &str, verb: &str| {
        role["rules"].as_array().unwrap().iter().any(|r| {
            let has = |k: &str, v: &str| r[k].as_array().unwrap().iter().any(|x| x == v);
            has("apiGroups", group) && has("resources", resource) && has("verbs", verb)
        })
    };
    let mut objects: Vec<Value> = fixture_cluster();
    for case in policy_cases(&root().join("policies")).unwrap() {
        match &case.request {
            Some(req) => objects.push(req["object"].clone()),
            None => objects.extend(case.objects.iter().cloned()),
        }
    }
    let mut needed: BTreeSet<(String, String, &str)> = BTreeSet::new();
    let listed = objects.clone();
    for object in objects.iter().filter(|o| o.is_object()) {
        let input = json!({"objects": [object], "settings": {"profile": "strict"}});
        portcullis::cluster::evaluate_in_cluster(
            &input,
            portcullis::Host::default(),
            &mut |l: &Lookup, _: &str| {
                let kind = l.kind();
                let verbs: &[&'static str] = match l {
                    Lookup::Get { .. } => &["get"],
                    _ => &["list", "watch"],
                };
                for v in verbs {
                    needed.insert((kind.group.to_string(), plural(kind.kind), v));
                }
                // objects asked by name are absent, so that every round of
                // lookups is asked for; listings hold the cases' objects of
                // the kind, so that reads made only when a rival is there are too
                let of_kind = |o: &&Value, ns: Option<&str>| {
                    let api = o["apiVersion"].as_str().unwrap_or("");
                    let group = api.rsplit_once('/').map_or("", |(g, _)| g);
                    group == kind.group
                        && o["kind"] == kind.kind
                        && ns.is_none_or(|ns| o["metadata"]["namespace"] == ns)
                };
                match l {
                    Lookup::Get { .. } => portcullis::cluster::Answer::NotFound,
                    Lookup::List { namespace, .. } => portcullis::cluster::Answer::Objects(
                        listed
                            .iter()
                            .filter(|o| of_kind(o, Some(namespace)))
                            .cloned()
                            .collect(),
                    ),
                    Lookup::ListAll { .. } => portcullis::cluster::Answer::Objects(
                        listed
                            .iter()
                            .filter(|o| of_kind(o, None))
                            .cloned()
                            .collect(),
                    ),
                }
            },
        )
        .unwrap();
    }
    for kind in portcullis::cluster::kinds_read() {
        assert!(
            needed
                .iter()
                .any(|(g, r, _)| g == kind.group && *r == plural(kind.kind)),
            "{} is declared but never read",
            kind.qualified()
        );
    }
    for (group, resource, verb) in &needed {
        assert!(
            grants(group, resource, verb),
            "context-rbac.yaml does not grant {verb} on {group}/{resource}"
        );
    }
    println!("the policy server reads: {needed:?}");
}

/// What docs/kubewarden.md promises: the waPC functions the guest uses to
/// answer and to read the cluster, nothing else (no WASI).
#[test]
fn the_module_imports_only_the_wapc_functions_it_uses() {
    let (_, module, _) = compiled();
    let imports: BTreeSet<String> = module
        .imports()
        .map(|i| format!("{}.{}", i.module(), i.name()))
        .collect();
    let want: BTreeSet<String> = [
        "__guest_request",
        "__guest_response",
        "__guest_error",
        "__host_call",
        "__host_response_len",
        "__host_response",
        "__host_error_len",
        "__host_error",
    ]
    .iter()
    .map(|n| format!("wapc.{n}"))
    .collect();
    assert_eq!(imports, want);
}
