//! `dist/portcullis.wasm` (the generic JSON ABI) under wasmtime: every case
//! gives the findings it states and the native report, hostile inputs give JSON errors, memory stays bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests fail loudly by design

use portcullis::cases::{conformance_cases_if_present, policy_cases, run_all};
use serde_json::{json, Value};
use wasm_tests::{artifact, root};
use wasmtime::{Engine, Instance, Memory, Module, Store, TypedFunc};

/// The fuzz targets' structured inputs, rebuilt here as the target builds them.
#[path = "../../fuzz/src/mutate.rs"]
mod mutate;

struct Generic {
    store: Store<()>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    dealloc: TypedFunc<(i32, i32), ()>,
    evaluate: TypedFunc<(i32, i32), i64>,
    rules: TypedFunc<(), i64>,
}

impl Generic {
    fn new() -> Generic {
        let engine = Engine::default();
        let module = Module::from_file(&engine, artifact("portcullis.wasm")).unwrap();
        assert_eq!(
            module.imports().count(),
            0,
            "the generic module must import nothing"
        );
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        Generic {
            memory: instance.get_memory(&mut store, "memory").unwrap(),
            alloc: instance.get_typed_func(&mut store, "alloc").unwrap(),
            dealloc: instance.get_typed_func(&mut store, "dealloc").unwrap(),
            evaluate: instance.get_typed_func(&mut store, "evaluate").unwrap(),
            rules: instance.get_typed_func(&mut store, "rules").unwrap(),
            store,
        }
    }

    fn take(&mut self, packed: i64) -> Vec<u8> {
        let ptr = (packed >> 32) as u32 as usize;
        let len = (packed & 0xffff_ffff) as u32 as usize;
        let out = self.memory.data(&self.store)[ptr..ptr + len].to_vec();
        self.dealloc
            .call(&mut self.store, (ptr as i32, len as i32))
            .unwrap();
        out
    }

    /// The answer's bytes for raw input bytes; a trap fails the test.
    fn eval_raw(&mut self, input: &[u8]) -> Vec<u8> {
        let len = input.len() as i32;
        let ptr = self.alloc.call(&mut self.store, len).unwrap();
        assert_ne!(ptr, 0, "alloc failed for {len} bytes");
        self.memory
            .write(&mut self.store, ptr as usize, input)
            .unwrap();
        let packed = self
            .evaluate
            .call(&mut self.store, (ptr, len))
            .expect("evaluate trapped");
        self.dealloc.call(&mut self.store, (ptr, len)).unwrap();
        self.take(packed)
    }

    /// Evaluates raw bytes; a trap fails the test.
    fn eval_bytes(&mut self, input: &[u8]) -> Value {
        let out = self.eval_raw(input);
        serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "answer is not JSON ({e}): {}",
                String::from_utf8_lossy(&out)
            )
        })
    }

    fn eval(&mut self, input: &Value) -> Value {
        self.eval_bytes(&serde_json::to_vec(input).unwrap())
    }

    fn pages(&self) -> u64 {
        self.memory.size(&self.store)
    }

    /// `evaluate` on a range the host names, however wrong; a trap fails the test.
    fn eval_at(&mut self, ptr: i32, len: i32) -> Value {
        let packed = self
            .evaluate
            .call(&mut self.store, (ptr, len))
            .expect("evaluate trapped");
        serde_json::from_slice(&self.take(packed)).unwrap()
    }
}

fn native(input: &Value) -> Value {
    portcullis::evaluate_bytes(&serde_json::to_vec(input).unwrap())
}

#[test]
fn every_case_gives_its_findings_and_the_native_report() {
    let mut m = Generic::new();
    let mut cases = policy_cases(&root().join("policies")).unwrap();
    cases.extend(conformance_cases_if_present(&root()).unwrap());
    assert!(cases.len() > 10);
    let judged = run_all(&cases, |c| {
        let input = c.input();
        let got = m.eval(&input);
        c.judge(&got)?;
        if got != native(&input) {
            return Err(format!("{}: wasm and native differ", c.name));
        }
        Ok(())
    });
    if let Err(failures) = judged {
        panic!("{failures}");
    }
}

#[test]
fn catalogue_matches_native() {
    let mut m = Generic::new();
    let packed = m.rules.call(&mut m.store, ()).unwrap();
    let got: Value = serde_json::from_slice(&m.take(packed)).unwrap();
    assert_eq!(got, portcullis::catalogue());
    assert_eq!(
        got["rules"].as_array().unwrap().len(),
        portcullis::rules::RULES.len()
    );
}

fn error_code(v: &Value) -> &str {
    assert_eq!(v["allowed"], false, "{v}");
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {v}"))
}

#[test]
fn hostile_inputs_get_json_errors() {
    let mut m = Generic::new();
    assert_eq!(
        error_code(&m.eval_bytes(b"{\"kind\": \"Service\xff\xfe\"}")),
        "invalid-utf8"
    );
    let v = m.eval_bytes(b"{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Serv");
    assert_eq!(error_code(&v), "invalid-json");
    assert_eq!(v["error"]["line"], 3);
    assert_eq!(error_code(&m.eval_bytes(b"")), "invalid-json");
    assert_eq!(error_code(&m.eval_bytes(b"null")), "invalid-input");
    assert_eq!(error_code(&m.eval_bytes(b"42")), "invalid-input");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(error_code(&m.eval_bytes(deep.as_bytes())), "invalid-json");
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    assert_eq!(
        error_code(&m.eval_bytes(deep_obj.as_bytes())),
        "invalid-json"
    );
    // a million-element array
    let mut million = String::from("[");
    million.push_str(&"1,".repeat(999_999));
    million.push_str("1]");
    assert_eq!(
        error_code(&m.eval_bytes(million.as_bytes())),
        "invalid-input"
    );
    // trailing NUL, as C hosts send strings
    let svc = br#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"type":"NodePort"}}"#;
    let mut with_nul = svc.to_vec();
    with_nul.push(0);
    assert_eq!(
        m.eval_bytes(&with_nul)["violations"][0]["rule"],
        "service-type-nodeport"
    );
}

#[test]
fn twenty_megabyte_document_is_answered() {
    let mut m = Generic::new();
    let big = "x".repeat(20 * 1024 * 1024);
    let input = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "big", "annotations": {"blob": big}}, "spec": {"type": "LoadBalancer"}});
    let v = m.eval(&input);
    assert_eq!(
        v["violations"][0]["rule"],
        "service-type-loadbalancer",
        "{}",
        &v.to_string()[..200.min(v.to_string().len())]
    );
    // and the same instance keeps working afterwards
    let v = m.eval(&json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}));
    assert_eq!(v["allowed"], true);
}

/// Objects whose every field the rules read is replaced by each wrong JSON type.
#[test]
fn wrong_types_in_every_read_field_never_trap() {
    let mut m = Generic::new();
    let samples = [
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n", "annotations": {"a": "b"}, "labels": {"l": "v"}},
               "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 30000}], "externalIPs": ["1.2.3.4"], "loadBalancerSourceRanges": ["0.0.0.0/0"], "externalName": "x", "allocateLoadBalancerNodePorts": true}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i", "annotations": {"nginx.ingress.kubernetes.io/auth-url": "http://x"}},
               "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.com"], "secretName": "s"}], "defaultBackend": {"service": {"name": "s", "port": {"number": 80}}},
                        "rules": [{"host": "a.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {"hostNetwork": true, "automountServiceAccountToken": true, "serviceAccountName": "sa",
                        "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "hostPort": 80}]}], "initContainers": [{"name": "i", "image": "i"}]}}}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
               "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "ports": [{"hostPort": 1}]}]}}}}}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"},
               "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "aggregationRule": {"clusterRoleSelectors": []}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "b"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "Group", "name": "system:anonymous"}]}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "n"},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": []}}]}]}}),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "g"},
               "spec": {"listeners": [{"name": "l", "protocol": "HTTP", "port": 80, "tls": {"mode": "Terminate", "certificateRefs": [{"name": "c"}]}}]}}),
        json!({"apiVersion": "kubeadm.k8s.io/v1beta3", "kind": "ClusterConfiguration", "apiServer": {"extraArgs": {"anonymous-auth": "true"}}}),
        json!({"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", "authentication": {"anonymous": {"enabled": true}}, "readOnlyPort": 10255}),
        json!({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration", "kubernetesVersion": "v1.27.1"}),
        json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "g", "namespace": "n"},
               "spec": {"selector": {"istio": "ingressgateway"}, "servers": [{"name": "s", "port": {"number": 443, "protocol": "HTTPS", "name": "https"}, "hosts": ["n/a.com"],
                        "tls": {"mode": "SIMPLE", "httpsRedirect": true, "credentialName": "c", "credentialNames": ["c"], "serverCertificate": "f", "privateKey": "k",
                                "tlsCertificates": [{"serverCertificate": "f"}], "minProtocolVersion": "TLSV1_0", "maxProtocolVersion": "TLSV1_1"}}]}}),
        json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "v", "namespace": "n"},
               "spec": {"hosts": ["a.com"], "gateways": ["g"], "http": [{"match": [{"uri": {"prefix": "/.well-known/acme-challenge/", "exact": "/", "regex": "x"}}],
                        "redirect": {"scheme": "https"}}]}}),
        json!({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "p", "namespace": "istio-system"},
               "spec": {"selector": {"matchLabels": {"app": "a"}}, "mtls": {"mode": "PERMISSIVE"}, "portLevelMtls": {"80": {"mode": "DISABLE"}}}}),
        json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "a", "namespace": "istio-system"},
               "spec": {"selector": {"matchLabels": {"istio": "ingressgateway"}}, "action": "CUSTOM", "provider": {"name": "x"},
                        "rules": [{"from": [{"source": {"principals": ["p"], "requestPrincipals": ["*"], "notRequestPrincipals": ["*"]}}],
                                   "to": [{"operation": {"hosts": ["a.com"], "notHosts": ["b.com"], "paths": ["/"]}}], "when": [{"key": "request.auth.claims[iss]"}]}]}}),
        json!({"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication", "metadata": {"name": "r", "namespace": "istio-system"},
               "spec": {"selector": {"matchLabels": {"istio": "ingressgateway"}}, "jwtRules": [{"issuer": "i"}]}}),
        json!({"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute", "metadata": {"name": "r", "namespace": "n"},
               "spec": {"entryPoints": ["web"], "parentRefs": [{"name": "p"}], "routes": [{"match": "Host(`a.com`)", "middlewares": [{"name": "m", "namespace": "n"}],
                        "services": [{"name": "s"}]}], "tls": {"secretName": "s"}}}),
        json!({"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware", "metadata": {"name": "m", "namespace": "n"},
               "spec": {"forwardAuth": {"address": "http://a"}, "basicAuth": {"secret": "s"}, "digestAuth": {"secret": "s"}, "redirectScheme": {"scheme": "https"},
                        "redirectRegex": {"replacement": "https://a"}, "chain": {"middlewares": [{"name": "m"}]}}}),
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c", "namespace": "n"},
               "spec": {"secretName": "s", "dnsNames": ["a.com"], "commonName": "a.com"}}),
    ];
    let wrong = [
        json!(null),
        json!(7),
        json!(-1.5),
        json!("str"),
        json!(true),
        json!([]),
        json!([1, "x"]),
        json!({}),
        json!({"k": [null]}),
    ];
    let mut answered = 0;
    for sample in &samples {
        let mut pointers = Vec::new();
        collect_pointers(sample, String::new(), &mut pointers);
        for p in &pointers {
            for w in &wrong {
                let mut obj = sample.clone();
                *obj.pointer_mut(p).unwrap() = w.clone();
                let got = m.eval(&obj);
                assert!(got.get("allowed").is_some(), "{p} = {w}: {got}");
                assert_eq!(got, native(&obj), "{p} = {w}: wasm and native differ");
                answered += 1;
            }
        }
    }
    assert!(answered > 1000, "{answered}");
}

fn collect_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    if !at.is_empty() {
        out.push(at.clone());
    }
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| {
            collect_pointers(
                c,
                format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| collect_pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

#[test]
fn memory_stays_bounded_over_100k_evaluations() {
    let mut m = Generic::new();
    let inputs = [
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "shop"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})).unwrap(),
        b"{not json".to_vec(),
        serde_json::to_vec(&json!({"request": {"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Service"}, "operation": "UPDATE",
            "object": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"type": "NodePort"}},
            "oldObject": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"type": "NodePort"}}}, "settings": {}})).unwrap(),
    ];
    for i in 0..1_000 {
        m.eval_bytes(&inputs[i % inputs.len()]);
    }
    let warm = m.pages();
    for i in 0..100_000 {
        let v = m.eval_bytes(&inputs[i % inputs.len()]);
        if i % 3 == 0 {
            assert_eq!(v["allowed"], false);
        }
    }
    assert!(
        m.pages() <= warm + 1,
        "memory grew from {warm} to {} pages",
        m.pages()
    );
}

#[test]
fn exports_the_generic_abi_and_imports_nothing() {
    let engine = Engine::default();
    let module = Module::from_file(&engine, artifact("portcullis.wasm")).unwrap();
    assert_eq!(module.imports().count(), 0);
    let mut exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
    exports.sort_unstable();
    assert_eq!(
        exports,
        [
            "__data_end",
            "__heap_base",
            "alloc",
            "dealloc",
            "evaluate",
            "memory",
            "rules"
        ]
    );
}

/// A host that gets pointers and lengths wrong: every call is answered or
/// ignored, and the allocator keeps working.
#[test]
fn wrong_pointers_and_lengths_neither_trap_nor_corrupt() {
    let mut m = Generic::new();
    let svc = br#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"type":"NodePort"}}"#;
    let ptr = m.alloc.call(&mut m.store, svc.len() as i32).unwrap();
    m.memory.write(&mut m.store, ptr as usize, svc).unwrap();
    let len = svc.len() as i32;
    // reads outside any block the module handed out
    for (p, l) in [
        (0, 4),
        (0x7fff_0000, 100),
        (-8, 16),
        (ptr, len + 1),
        (ptr + 1, len),
        (ptr, -1),
        (ptr, i32::MAX),
    ] {
        let v = m.eval_at(p, l);
        assert_eq!(error_code(&v), "invalid-input", "evaluate({p}, {l}): {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("alloc"),
            "{v}"
        );
    }
    // frees of what is not a block, or not with its length
    for (p, l) in [
        (ptr, len - 1),
        (ptr, len + 7),
        (ptr + 2, len - 2),
        (0x7fff_0000, 16),
        (12, 4),
        (-4, 4),
    ] {
        m.dealloc
            .call(&mut m.store, (p, l))
            .expect("dealloc trapped");
    }
    // the block is still the host's, and still readable
    assert_eq!(
        m.eval_at(ptr, len)["violations"][0]["rule"],
        "service-type-nodeport"
    );
    m.dealloc.call(&mut m.store, (ptr, len)).unwrap();
    // freed twice, then used after the free: ignored, then refused
    m.dealloc
        .call(&mut m.store, (ptr, len))
        .expect("double free trapped");
    assert_eq!(error_code(&m.eval_at(ptr, len)), "invalid-input");
    // the allocator is intact: many more requests, each answered right
    let input = json!({"objects": [serde_json::from_slice::<Value>(svc).unwrap()], "settings": {"profile": "strict"}});
    let want = native(&input);
    let warm = m.pages();
    for _ in 0..2_000 {
        assert_eq!(m.eval(&input), want);
    }
    assert!(
        m.pages() <= warm + 1,
        "memory grew from {warm} to {} pages",
        m.pages()
    );
}

/// One input carries the request, its settings and the cluster state: an
/// UPDATE judged against an inventory, in both request shapes.
#[test]
fn update_with_inventory_in_one_input() {
    let ingress = |ns: &str, name: &str, host: &str| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": name, "namespace": ns},
               "spec": {"ingressClassName": "nginx",
                        "tls": [{"hosts": [host], "secretName": "tls"}],
                        "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    };
    let old = ingress("shop", "web", "shop.example.com");
    let new = ingress("shop", "web", "pay.example.com");
    let request = json!({"uid": "u-9", "operation": "UPDATE",
        "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
        "object": new, "oldObject": old});
    let rival = ingress("billing", "pay", "pay.example.com");
    let settings = json!({"rules": {"ingress-host-conflict": "deny"}});
    let mut m = Generic::new();
    for input in [
        json!({"request": request, "settings": settings, "inventory": [rival]}),
        json!({"review": request, "parameters": settings, "inventory": [rival]}),
        json!({"review": request, "parameters": settings,
               "inventory": {"namespace": {"billing": {"networking.k8s.io/v1": {"Ingress": {"pay": rival}}}}}}),
    ] {
        let v = m.eval(&input);
        assert_eq!(v, native(&input), "{input}");
        let conflicts: Vec<&Value> = v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "ingress-host-conflict")
            .collect();
        assert_eq!(conflicts.len(), 1, "{input}: {v}");
        assert!(
            conflicts[0]["message"]
                .as_str()
                .unwrap()
                .contains("billing/pay"),
            "{v}"
        );
        // without the inventory, nothing conflicts
        let mut alone = input.clone();
        alone.as_object_mut().unwrap().remove("inventory");
        let v = m.eval(&alone);
        assert!(
            v["violations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["rule"] != "ingress-host-conflict"),
            "{v}"
        );
    }
}

/// Settings sent with every request are compiled once and kept: answers stay
/// those of a fresh compile however the requests interleave.
#[test]
fn interleaved_settings_give_the_answers_of_each() {
    let mut m = Generic::new();
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "shop"},
                     "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}});
    let settings = [
        json!({}),
        json!({"rules": {"service-type-nodeport": "warn"}}),
        json!({"rules": {"service-type-nodeport": "off"}}),
        json!({"profile": "strict", "mode": "audit"}),
        json!({"rules": {"no-such-rule": "deny"}}),
    ];
    let inputs: Vec<Value> = (0..10)
        .flat_map(|i| settings.iter().map(move |s| (i, s)))
        .map(|(i, s)| json!({"objects": [svc], "settings": s, "inventory": (0..i % 3).map(|_| svc.clone()).collect::<Vec<_>>()}))
        .collect();
    for input in &inputs {
        assert_eq!(m.eval(input), native(input), "{input}");
    }
}

/// Every file of the committed fuzz corpora of the evaluate targets (the
/// structured ones rebuilt as their target builds them) gets byte-identical
/// answers natively and from the module: one entry, one answer, in any host.
#[test]
fn fuzz_corpora_answer_byte_for_byte_as_natively() {
    // structured inputs nest thousands deep before the core refuses them
    // (at 128); building and dropping them takes more than a test's stack
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(replay_fuzz_corpora)
        .unwrap()
        .join()
        .unwrap();
}

fn replay_fuzz_corpora() {
    let mut m = Generic::new();
    let mut checked = 0;
    for target in ["evaluate", "structured"] {
        let dir = root().join("fuzz/corpus").join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} holds no corpus", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let input = if target == "structured" {
                match mutate::mutated(&data) {
                    Some(input) => input,
                    None => continue,
                }
            } else {
                data
            };
            let native = portcullis::evaluate_to_json(&input);
            let module = m.eval_raw(&input);
            assert!(
                native == module,
                "{}: the module answers\n{}\nnatively:\n{}",
                file.display(),
                String::from_utf8_lossy(&module),
                String::from_utf8_lossy(&native)
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no corpus input was replayed");
    println!("{checked} corpus inputs answered byte for byte as natively");
}
