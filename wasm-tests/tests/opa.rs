//! `portcullis-opa.wasm` under wasmtime: its shape as OPA hosts check it, the
//! Rust `opa-wasm` SDK on every case, and replays of the call sequences of
//! Kubewarden's evaluator (burrego) and OPA's Go SDK, which cannot run here.

use portcullis::cases::{conformance_cases_if_present, conformance_dir, policy_cases, Case};
use portcullis::{evaluate, Host};
use serde_json::{json, Value};
use std::sync::OnceLock;
use wasmtime::{
    Caller, Engine, ExternType, Instance, Linker, Memory, MemoryType, Module, Mutability, Store,
    Trap, Val, WasmParams, WasmResults,
};

fn module_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| std::fs::read(wasm_tests::artifact("portcullis-opa.wasm")).unwrap())
}

/// One compiled module per engine kind: compiling is the slow part.
fn sync_module() -> &'static (Engine, Module) {
    static M: OnceLock<(Engine, Module)> = OnceLock::new();
    M.get_or_init(|| {
        let engine = Engine::default();
        let module = Module::new(&engine, module_bytes()).unwrap();
        (engine, module)
    })
}

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let root = wasm_tests::root();
        let mut cases = policy_cases(&root.join("policies")).unwrap();
        cases.extend(conformance_cases_if_present(&root).unwrap());
        assert!(!cases.is_empty());
        cases
    })
}

fn native(input: &Value, host: Host<'_>) -> Value {
    match evaluate(input, host) {
        Ok(r) => r.to_value(),
        Err(e) => e.to_answer(),
    }
}

/// Settings plus the inventory beside them: the data a host sets.
fn data_of(case: &Case) -> Value {
    let mut data = case.settings.clone();
    if !case.inventory.is_empty() {
        data["inventory"] = Value::Array(case.inventory.clone());
    }
    data
}

/// The case's objects without settings, for evaluation under host data
/// (a request is wrapped: some carry no `kind` to be recognised by alone).
fn bare_input(case: &Case) -> Value {
    match &case.request {
        Some(r) => json!({ "request": r }),
        None => Value::Array(case.objects.clone()),
    }
}

/// The case as an admission request: its own, or a CREATE of its single object.
fn as_request(case: &Case, n: usize) -> Option<Value> {
    if let Some(r) = &case.request {
        return Some(r.clone());
    }
    let [obj] = case.objects.as_slice() else {
        return None;
    };
    let api = obj["apiVersion"].as_str()?;
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    Some(json!({
        "uid": format!("case-{n}"),
        "operation": "CREATE",
        "kind": {"group": group, "version": version, "kind": obj["kind"]},
        "name": obj["metadata"]["name"],
        "namespace": obj["metadata"]["namespace"],
        "object": obj,
    }))
}

/// What a Gatekeeper host reads: the messages of a violation list.
fn messages(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("the answer is always a list")
        .iter()
        .map(|v| v["msg"].as_str().expect("msg is a string").to_string())
        .collect()
}

fn native_denials(report: &Value) -> Vec<String> {
    if report["allowed"] == json!(true) {
        return Vec::new();
    }
    if let Some(e) = report.get("error") {
        return vec![format!("portcullis: {}", e["message"].as_str().unwrap())];
    }
    report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect()
}

// --- a guest driven call by call -------------------------------------------

#[derive(Default)]
struct State {
    aborts: Vec<String>,
    prints: Vec<String>,
}

struct Guest {
    store: Store<State>,
    instance: Instance,
    memory: Memory,
}

fn c_string(bytes: &[u8], addr: i32) -> String {
    let tail = &bytes[addr as u32 as usize..];
    let end = tail.iter().position(|b| *b == 0).expect("NUL-terminated");
    String::from_utf8(tail[..end].to_vec()).expect("UTF-8")
}

impl Guest {
    /// Instantiates with the host's own memory, as every OPA host does.
    /// `opa_abort` returns, as it does in burrego: the guest must trap itself.
    fn new(min_pages: u32, max_pages: Option<u32>) -> Guest {
        let (engine, module) = sync_module();
        let mut store = Store::new(engine, State::default());
        let memory = Memory::new(&mut store, MemoryType::new(min_pages, max_pages)).unwrap();
        let mut linker: Linker<State> = Linker::new(engine);
        linker.define(&store, "env", "memory", memory).unwrap();
        linker
            .func_wrap(
                "env",
                "opa_abort",
                move |mut caller: Caller<'_, State>, addr: i32| {
                    let msg = c_string(memory.data(&caller), addr);
                    caller.data_mut().aborts.push(msg);
                },
            )
            .unwrap();
        linker
            .func_wrap(
                "env",
                "opa_println",
                move |mut caller: Caller<'_, State>, addr: i32| {
                    let msg = c_string(memory.data(&caller), addr);
                    caller.data_mut().prints.push(msg);
                },
            )
            .unwrap();
        let no_builtin = || -> wasmtime::Result<i32> { Err(wasmtime::Error::msg("no builtins")) };
        linker
            .func_wrap("env", "opa_builtin0", move |_: i32, _: i32| no_builtin())
            .unwrap();
        linker
            .func_wrap("env", "opa_builtin1", move |_: i32, _: i32, _: i32| {
                no_builtin()
            })
            .unwrap();
        linker
            .func_wrap(
                "env",
                "opa_builtin2",
                move |_: i32, _: i32, _: i32, _: i32| no_builtin(),
            )
            .unwrap();
        linker
            .func_wrap(
                "env",
                "opa_builtin3",
                move |_: i32, _: i32, _: i32, _: i32, _: i32| no_builtin(),
            )
            .unwrap();
        linker
            .func_wrap(
                "env",
                "opa_builtin4",
                move |_: i32, _: i32, _: i32, _: i32, _: i32, _: i32| no_builtin(),
            )
            .unwrap();
        let instance = linker.instantiate(&mut store, module).unwrap();
        Guest {
            store,
            instance,
            memory,
        }
    }

    fn try_call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &str,
        params: P,
    ) -> wasmtime::Result<R> {
        let f = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .unwrap_or_else(|e| panic!("export {name}: {e}"));
        f.call(&mut self.store, params)
    }

    fn call<P: WasmParams, R: WasmResults>(&mut self, name: &str, params: P) -> R {
        self.try_call(name, params)
            .unwrap_or_else(|e| panic!("{name}: {e:?}; aborts: {:?}", self.store.data().aborts))
    }

    /// The call must end in `opa_abort` followed by the guest's own trap.
    fn expect_abort<P: WasmParams, R: WasmResults>(&mut self, name: &str, params: P) -> String {
        let err = match self.try_call::<P, R>(name, params) {
            Ok(_) => panic!("{name} returned instead of aborting"),
            Err(e) => e,
        };
        assert_eq!(
            err.downcast_ref::<Trap>(),
            Some(&Trap::UnreachableCodeReached),
            "{name}: the guest traps on purpose after opa_abort, got {err:?}"
        );
        self.store
            .data()
            .aborts
            .last()
            .cloned()
            .unwrap_or_else(|| panic!("{name} trapped without calling opa_abort"))
    }

    fn write(&mut self, addr: i32, bytes: &[u8]) {
        let end = addr as u32 as u64 + bytes.len() as u64;
        let have = self.memory.data_size(&self.store) as u64;
        if end > have {
            self.memory
                .grow(&mut self.store, (end - have).div_ceil(65536))
                .unwrap();
        }
        self.memory
            .write(&mut self.store, addr as usize, bytes)
            .unwrap();
    }

    fn read_c_string(&self, addr: i32) -> String {
        c_string(self.memory.data(&self.store), addr)
    }

    /// malloc, write, parse: how hosts hand a value over.
    fn load(&mut self, bytes: &[u8], parse: &str) -> i32 {
        let p: i32 = self.call("opa_malloc", bytes.len() as i32);
        self.write(p, bytes);
        self.call(parse, (p, bytes.len() as i32))
    }

    fn load_json(&mut self, v: &Value) -> i32 {
        let addr = self.load(v.to_string().as_bytes(), "opa_json_parse");
        assert_ne!(addr, 0, "parse failed");
        addr
    }

    fn dump(&mut self, addr: i32) -> Value {
        let s: i32 = self.call("opa_json_dump", addr);
        serde_json::from_str(&self.read_c_string(s)).unwrap()
    }

    fn heap_ptr(&mut self) -> i32 {
        self.call("opa_heap_ptr_get", ())
    }

    /// The `opa_eval` fast path: input written at the heap pointer.
    fn opa_eval(
        &mut self,
        entrypoint: i32,
        data: i32,
        at: i32,
        input: &[u8],
        format: i32,
    ) -> String {
        self.write(at, input);
        let len = input.len() as i32;
        let out: i32 = self.call("opa_eval", (0, entrypoint, data, at, len, at + len, format));
        self.read_c_string(out)
    }
}

// --- structure -------------------------------------------------------------

fn signature(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => {
            let list = |it: &mut dyn Iterator<Item = wasmtime::ValType>| {
                it.map(|t| t.to_string()).collect::<Vec<_>>().join(",")
            };
            format!("({})->({})", list(&mut f.params()), list(&mut f.results()))
        }
        ExternType::Global(g) => format!("global {} {:?}", g.content(), g.mutability()),
        ExternType::Memory(_) => "memory".into(),
        ExternType::Table(_) => "table".into(),
        ExternType::Tag(_) => "tag".into(),
    }
}

#[test]
fn module_has_the_shape_opa_hosts_check() {
    let (_, module) = sync_module();
    let allowed_imports = [
        ("memory", "memory"),
        ("opa_abort", "(i32)->()"),
        ("opa_println", "(i32)->()"),
        ("opa_builtin0", "(i32,i32)->(i32)"),
        ("opa_builtin1", "(i32,i32,i32)->(i32)"),
        ("opa_builtin2", "(i32,i32,i32,i32)->(i32)"),
        ("opa_builtin3", "(i32,i32,i32,i32,i32)->(i32)"),
        ("opa_builtin4", "(i32,i32,i32,i32,i32,i32)->(i32)"),
    ];
    let mut has_memory = false;
    for import in module.imports() {
        assert_eq!(import.module(), "env", "import {}", import.name());
        let sig = signature(&import.ty());
        assert!(
            allowed_imports.contains(&(import.name(), sig.as_str())),
            "import env.{} {sig} is not one OPA hosts provide",
            import.name()
        );
        if let ExternType::Memory(m) = import.ty() {
            has_memory = true;
            assert!(
                m.minimum() <= 2,
                "opa build modules ask for 2 pages and opa-py-wasm gives exactly 2; \
                 this module asks for {}: the post-link step (tools/wasm-post) \
                 should have lowered it and loaded the data at start",
                m.minimum()
            );
            assert_eq!(m.maximum(), None, "no maximum: Go gives 65536 pages");
            assert!(!m.is_shared() && !m.is_64());
        }
    }
    assert!(has_memory, "env.memory is imported");

    let expected = [
        ("memory", "memory"),
        ("opa_wasm_abi_version", "global i32 Const"),
        ("opa_wasm_abi_minor_version", "global i32 Const"),
        ("opa_malloc", "(i32)->(i32)"),
        ("opa_free", "(i32)->()"),
        ("opa_json_parse", "(i32,i32)->(i32)"),
        ("opa_value_parse", "(i32,i32)->(i32)"),
        ("opa_json_dump", "(i32)->(i32)"),
        ("opa_value_dump", "(i32)->(i32)"),
        ("opa_heap_ptr_get", "()->(i32)"),
        ("opa_heap_ptr_set", "(i32)->()"),
        ("opa_eval_ctx_new", "()->(i32)"),
        ("opa_eval_ctx_set_input", "(i32,i32)->()"),
        ("opa_eval_ctx_set_data", "(i32,i32)->()"),
        ("opa_eval_ctx_set_entrypoint", "(i32,i32)->()"),
        ("opa_eval_ctx_get_result", "(i32)->(i32)"),
        ("eval", "(i32)->(i32)"),
        ("builtins", "()->(i32)"),
        ("entrypoints", "()->(i32)"),
        ("opa_eval", "(i32,i32,i32,i32,i32,i32,i32)->(i32)"),
        ("opa_value_add_path", "(i32,i32,i32)->(i32)"),
        ("opa_value_remove_path", "(i32,i32)->(i32)"),
        ("opa_value_free", "(i32)->()"),
        ("opa_heap_blocks_stash", "()->()"),
        ("opa_heap_blocks_restore", "()->()"),
        ("opa_heap_stash_clear", "()->()"),
    ];
    for (name, sig) in expected {
        let export = module
            .get_export(name)
            .unwrap_or_else(|| panic!("export {name} is missing"));
        assert_eq!(signature(&export), sig, "export {name}");
    }

    // the globals hold values, not the addresses a Rust static exports
    let mut guest = Guest::new(5, None);
    for (name, want) in [
        ("opa_wasm_abi_version", 1),
        ("opa_wasm_abi_minor_version", 3),
    ] {
        let g = guest.instance.get_global(&mut guest.store, name).unwrap();
        assert_eq!(g.ty(&guest.store).mutability(), Mutability::Const);
        match g.get(&mut guest.store) {
            Val::I32(v) => assert_eq!(v, want, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    let b: i32 = guest.call("builtins", ());
    assert_eq!(guest.dump(b), json!({}), "no builtins to provide");
    let e: i32 = guest.call("entrypoints", ());
    assert_eq!(
        guest.dump(e),
        json!({"portcullis/main": 0, "portcullis/violation": 1,
               "portcullis/response": 2, "portcullis/report": 3})
    );
}

// --- the Rust opa-wasm SDK --------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn opa_wasm_crate_gives_native_verdicts_on_every_case() {
    let (engine, module) = sync_module();
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in cases() {
        let expected = native(&case.input(), Host::default());
        let mut store = Store::new(engine, ());
        let runtime = opa_wasm::Runtime::new(&mut store, module).await.unwrap();
        assert_eq!(runtime.default_entrypoint(), Some("portcullis/main"));
        let policy = runtime.with_data(&mut store, &data_of(case)).await.unwrap();

        let report: Vec<Value> = policy
            .evaluate(&mut store, "portcullis/report", &bare_input(case))
            .await
            .unwrap();
        // the module's own answers against the case, then against the library
        let mut judged = case.judge(&report[0]["result"]);

        let violations: Vec<Value> = policy
            .evaluate(&mut store, "portcullis/violation", &bare_input(case))
            .await
            .unwrap();
        judged = judged.and_then(|()| case.judge_violation_list(&violations[0]["result"]));
        failures.extend(judged.err());
        assert_eq!(report, vec![json!({"result": expected})], "{}", case.name);
        assert_eq!(
            messages(&violations[0]["result"]),
            native_denials(&expected),
            "{}",
            case.name
        );
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(checked, cases().len());
}

// --- burrego, Kubewarden's evaluator -----------------------------------------

/// Replays burrego: load once, then for every evaluation reset the heap,
/// load data and input, and go through the evaluation context.
struct Burrego {
    guest: Guest,
    base: i32,
}

impl Burrego {
    fn new() -> Burrego {
        let mut guest = Guest::new(5, None);
        let b: i32 = guest.call("builtins", ());
        assert_eq!(guest.dump(b), json!({}));
        let empty = guest.load(b"{}", "opa_json_parse");
        assert_ne!(empty, 0);
        let base = guest.heap_ptr();
        let b: i32 = guest.call("builtins", ());
        guest.dump(b);
        let e: i32 = guest.call("entrypoints", ());
        assert_eq!(guest.dump(e)["portcullis/main"], 0);
        Burrego { guest, base }
    }

    fn evaluate(&mut self, input: &Value, data: &Value) -> Value {
        let g = &mut self.guest;
        g.call::<i32, ()>("opa_heap_ptr_set", self.base);
        let data = g.load(data.to_string().as_bytes(), "opa_json_parse");
        let data_heap = g.heap_ptr();
        g.call::<i32, ()>("opa_heap_ptr_set", data_heap);
        let input = g.load(input.to_string().as_bytes(), "opa_json_parse");
        let ctx: i32 = g.call("opa_eval_ctx_new", ());
        g.call::<(i32, i32), ()>("opa_eval_ctx_set_input", (ctx, input));
        g.call::<(i32, i32), ()>("opa_eval_ctx_set_data", (ctx, data));
        // Kubewarden always evaluates entrypoint 0
        g.call::<(i32, i32), ()>("opa_eval_ctx_set_entrypoint", (ctx, 0));
        assert_eq!(g.call::<i32, i32>("eval", ctx), 0);
        let result: i32 = g.call("opa_eval_ctx_get_result", ctx);
        let set = g.dump(result);
        assert_eq!(set.as_array().map(Vec::len), Some(1), "one result: {set}");
        set[0]["result"].clone()
    }
}

#[test]
fn burrego_gatekeeper_mode_gives_native_verdicts() {
    let mut burrego = Burrego::new();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, case) in cases().iter().enumerate() {
        let Some(request) = as_request(case, n) else {
            continue;
        };
        let input = json!({"parameters": case.settings, "review": request});
        let data = if case.inventory.is_empty() {
            json!({})
        } else {
            json!({"inventory": case.inventory})
        };
        let inventory = Value::Array(case.inventory.clone());
        let expected = native(
            &input,
            Host {
                settings: None,
                inventory: Some(&inventory),
            },
        );
        let result = burrego.evaluate(&input, &data);
        failures.extend(case.judge_violation_list(&result).err());
        // Kubewarden: an empty list accepts, otherwise the messages reject
        let got = messages(&result);
        assert_eq!(got, native_denials(&expected), "{}", case.name);
        assert_eq!(
            got.is_empty(),
            expected["allowed"] == json!(true),
            "{}",
            case.name
        );
        for v in result.as_array().unwrap() {
            assert!(v["details"].is_object(), "{}: details", case.name);
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked > 0);
    assert!(burrego.guest.store.data().aborts.is_empty());
}

#[test]
fn burrego_opa_mode_gives_admission_responses() {
    let mut burrego = Burrego::new();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, case) in cases().iter().enumerate() {
        let Some(request) = as_request(case, n) else {
            continue;
        };
        let input = json!({"request": request});
        // settings as data, context objects under `kubernetes`
        let mut data = case.settings.clone();
        data["kubernetes"] = json!({"objects": case.inventory});
        let inventory = Value::Array(case.inventory.clone());
        let expected = native(
            &input,
            Host {
                settings: Some(&case.settings),
                inventory: Some(&inventory),
            },
        );
        let result = burrego.evaluate(&input, &data);
        assert_eq!(result["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(result["kind"], "AdmissionReview");
        let response = &result["response"];
        let uid = request["uid"].as_str().unwrap_or_default();
        assert_eq!(response["uid"], uid, "{}", case.name);
        failures.extend(judge_response(case, response).err());
        assert_eq!(response["allowed"], expected["allowed"], "{}", case.name);
        if response["allowed"] == json!(false) {
            let message = response["status"]["message"].as_str().unwrap();
            for denial in native_denials(&expected) {
                assert!(message.contains(&denial), "{}: {message}", case.name);
            }
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked > 0);
}

/// The deny and warn policies of policies/opa/ in Kubewarden's gatekeeper
/// mode: the same module, the deny list under one and the warn list under
/// the other, so warn-level findings reach a host that reads one list.
#[test]
fn deny_and_warn_manifests_split_the_findings() {
    let root = wasm_tests::root();
    let settings = |name: &str| {
        let docs =
            portcullis::cases::read_documents(&root.join("policies/opa").join(name)).unwrap();
        let [policy] = docs.as_slice() else {
            panic!("{name}: one document")
        };
        assert_eq!(policy["kind"], "ClusterAdmissionPolicy", "{name}");
        let s = policy["spec"]["settings"].clone();
        portcullis::validate_settings(&s).unwrap_or_else(|e| panic!("{name}: {e}"));
        (policy["spec"]["mode"].clone(), s)
    };
    let (deny_mode, deny) = settings("gatekeeper-deny.yaml");
    let (warn_mode, warn) = settings("gatekeeper-warn.yaml");
    assert_eq!((deny_mode, warn_mode), (json!("protect"), json!("monitor")));
    // the halves differ in what they list, nothing else
    let mut same = warn.clone();
    same["violationActions"] = deny["violationActions"].clone();
    assert_eq!(same, deny);

    let mut burrego = Burrego::new();
    let mut warned = 0;
    for (n, case) in cases().iter().enumerate() {
        let Some(request) = as_request(case, n) else {
            continue;
        };
        let expected = native(
            &json!({"request": request, "settings": deny}),
            Host::default(),
        );
        let rules = |list: &Value, action: &str| -> Vec<String> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    assert_eq!(v["details"]["action"], action, "{}: {v}", case.name);
                    v["details"]["rule"].as_str().unwrap().to_string()
                })
                .collect()
        };
        let of = |key: &str| -> Vec<String> {
            expected[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["rule"].as_str().unwrap().to_string())
                .collect()
        };
        let denied = burrego.evaluate(&json!({"parameters": deny, "review": request}), &json!({}));
        assert_eq!(rules(&denied, "deny"), of("violations"), "{}", case.name);
        let listed = burrego.evaluate(&json!({"parameters": warn, "review": request}), &json!({}));
        assert_eq!(rules(&listed, "warn"), of("warnings"), "{}", case.name);
        warned += of("warnings").len();
    }
    assert!(warned > 10, "only {warned} warnings among the cases");
}

/// An AdmissionReview `response` judged against the case: the verdict, and
/// the rule's lines among the denials (`status.message`) and warnings.
fn judge_response(case: &Case, response: &Value) -> Result<(), String> {
    let allowed = response["allowed"]
        .as_bool()
        .ok_or_else(|| format!("{}: no verdict in {response}", case.name))?;
    if response["status"]["code"]
        .as_u64()
        .is_some_and(|c| c != 403)
    {
        return Err(format!("{}: an error answer: {response}", case.name));
    }
    let denials: Vec<&str> = response["status"]["message"]
        .as_str()
        .map(|m| m.split("; ").collect())
        .unwrap_or_default();
    let warnings: Vec<&str> = response["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    case.judge_admission(allowed, &denials, &warnings)
}

// --- OPA's Go SDK ------------------------------------------------------------

/// Replays the Go SDK: 16..65536 pages, `opa_malloc(0)` first, data through
/// `opa_value_parse`, evaluation in format 1 (Rego value text).
struct GoVm {
    guest: Guest,
    base: i32,
    data: i32,
    eval_heap: i32,
}

impl GoVm {
    fn new(data: Option<&Value>) -> GoVm {
        let mut guest = Guest::new(16, Some(65536));
        let _: i32 = guest.call("opa_malloc", 0);
        let base = guest.heap_ptr();
        let data = match data {
            Some(d) => {
                let addr = guest.load(d.to_string().as_bytes(), "opa_value_parse");
                assert_ne!(addr, 0);
                addr
            }
            None => 0,
        };
        let eval_heap = guest.heap_ptr();
        for list in ["builtins", "entrypoints"] {
            let v: i32 = guest.call(list, ());
            let s: i32 = guest.call("opa_json_dump", v);
            guest.read_c_string(s);
            guest.call::<i32, ()>("opa_free", s);
        }
        GoVm {
            guest,
            base,
            data,
            eval_heap,
        }
    }

    fn eval(&mut self, entrypoint: i32, input: &Value) -> Value {
        let text = self.guest.opa_eval(
            entrypoint,
            self.data,
            self.eval_heap,
            input.to_string().as_bytes(),
            1,
        );
        parse_rego_result_set(&text)
    }
}

/// Go parses the answer as a Rego set of at most one `{"result": …}` object.
fn parse_rego_result_set(text: &str) -> Value {
    assert_ne!(text, "set()", "undefined result");
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a set: {text}"));
    let binding: Value = serde_json::from_str(inner).unwrap();
    let keys: Vec<&String> = binding.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["result"], "{text}");
    binding["result"].clone()
}

#[test]
fn go_sdk_sequence_with_and_without_data() {
    let svc = json!({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": "web", "namespace": "shop"},
                     "spec": {"type": "LoadBalancer"}});
    // no data: address 0
    let mut vm = GoVm::new(None);
    let report = vm.eval(3, &svc);
    assert_eq!(report, native(&svc, Host::default()));
    assert_eq!(report["allowed"], false);

    let off = json!({"rules": {"service-type-loadbalancer": "off"}});
    let mut vm = GoVm::new(Some(&off));
    assert_eq!(vm.eval(3, &svc)["allowed"], true);
    assert_eq!(vm.eval(1, &svc), json!([]));
    assert!(vm.guest.store.data().aborts.is_empty());

    let mut failures = Vec::new();
    for case in cases() {
        let mut vm = GoVm::new(Some(&data_of(case)));
        let expected = native(&case.input(), Host::default());
        let report = vm.eval(3, &bare_input(case));
        failures.extend(case.judge(&report).err());
        assert_eq!(report, expected, "{}", case.name);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn go_sdk_pool_clone_copies_the_data_region() {
    let data = json!({"profile": "strict", "rules": {"service-type-nodeport": "warn"}});
    let mut first = GoVm::new(Some(&data));
    let svc = json!({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": "np", "namespace": "shop"},
                     "spec": {"type": "NodePort"}});
    let want = first.eval(3, &svc);
    assert_eq!(want["warnings"].as_array().map(Vec::len), Some(1), "{want}");

    // a fresh instance of the same module: same heap base, same first malloc
    let mut clone = Guest::new(16, Some(65536));
    let _: i32 = clone.call("opa_malloc", 0);
    assert_eq!(clone.heap_ptr(), first.base);
    let region = first.guest.memory.data(&first.guest.store)
        [first.base as usize..first.eval_heap as usize]
        .to_vec();
    clone.write(first.base, &region);
    let mut clone = GoVm {
        guest: clone,
        base: first.base,
        data: first.data,
        eval_heap: first.eval_heap,
    };
    assert_eq!(clone.eval(3, &svc), want);
    assert_eq!(clone.eval(3, &svc), want, "repeatable");
}

#[test]
fn go_sdk_data_path_updates() {
    let mut vm = GoVm::new(Some(&json!({})));
    let svc = json!({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": "web", "namespace": "shop"},
                     "spec": {"type": "LoadBalancer"}});
    assert_eq!(vm.eval(3, &svc)["allowed"], false);

    let g = &mut vm.guest;
    g.call::<(), ()>("opa_heap_blocks_stash", ());
    g.call::<i32, ()>("opa_heap_ptr_set", vm.eval_heap);
    let path = g.load(
        br#"["rules","service-type-loadbalancer"]"#,
        "opa_value_parse",
    );
    let value = g.load(br#""off""#, "opa_value_parse");
    assert_eq!(
        g.call::<(i32, i32, i32), i32>("opa_value_add_path", (vm.data, path, value)),
        0
    );
    g.call::<(), ()>("opa_heap_blocks_restore", ());
    vm.eval_heap = g.heap_ptr();
    assert_eq!(vm.eval(3, &svc)["allowed"], true);

    let g = &mut vm.guest;
    g.call::<i32, ()>("opa_heap_ptr_set", vm.eval_heap);
    let path = g.load(br#"["rules"]"#, "opa_value_parse");
    assert_eq!(
        g.call::<(i32, i32), i32>("opa_value_remove_path", (vm.data, path)),
        0
    );
    let not_a_path = g.load(b"7", "opa_value_parse");
    assert_eq!(
        g.call::<(i32, i32), i32>("opa_value_remove_path", (vm.data, not_a_path)),
        2
    );
    vm.eval_heap = g.heap_ptr();
    g.call::<(), ()>("opa_heap_stash_clear", ());
    assert_eq!(vm.eval(3, &svc)["allowed"], false);
}

#[test]
fn value_text_reads_and_prints_rego_forms() {
    let mut g = Guest::new(5, None);
    let v = g.load(
        br#"{"a": {"x", "y"}, "b": set(), "c": `raw`}"#,
        "opa_value_parse",
    );
    assert_ne!(v, 0);
    assert_eq!(g.dump(v), json!({"a": ["x", "y"], "b": [], "c": "raw"}));
    let d: i32 = g.call("opa_value_dump", v);
    assert_eq!(g.read_c_string(d), r#"{"a":["x","y"],"b":[],"c":"raw"}"#);
    // the empty result set of format 1 never happens: every entrypoint is defined
    let at = g.heap_ptr();
    let text = g.opa_eval(1, 0, at, b"{\"kind\": \"x\"}", 1);
    assert!(text.starts_with("{{\"result\":"), "{text}");
}

// --- heap, growth, hostile input ------------------------------------------------

#[test]
fn hundred_thousand_evaluations_keep_memory_bounded() {
    let mut g = Guest::new(5, None);
    let data = g.load_json(&json!({"profile": "baseline"}));
    let heap = g.heap_ptr();
    let svc = json!({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": "web", "namespace": "shop"},
                     "spec": {"type": "LoadBalancer"}})
    .to_string();
    let first = g.opa_eval(1, data, heap, svc.as_bytes(), 0);
    let mut pages_after_warmup = 0;
    for i in 0..100_000 {
        let out = g.opa_eval(1, data, heap, svc.as_bytes(), 0);
        if i == 100 {
            pages_after_warmup = g.memory.size(&g.store);
        }
        if i % 10_000 == 0 {
            assert_eq!(out, first);
        }
    }
    let pages = g.memory.size(&g.store);
    assert_eq!(pages, pages_after_warmup, "memory grew across evaluations");
    assert!(pages <= 8, "{pages} pages for one small evaluation");
    assert!(g.heap_ptr() - heap < 65536, "heap back near its base");
}

#[test]
fn memory_grows_for_large_inputs() {
    let mut g = Guest::new(5, None);
    let data = g.load_json(&json!({}));
    let heap = g.heap_ptr();
    let items: Vec<Value> = (0..3000)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": format!("svc-{i}"), "namespace": "shop"},
                   "spec": {"type": "LoadBalancer"}})
        })
        .collect();
    let input = json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
    assert!(input.len() > 5 * 65536);
    let first = g.opa_eval(3, data, heap, input.as_bytes(), 0);
    let out: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(out[0]["result"]["summary"]["denied"], 3000);
    assert!(g.memory.size(&g.store) > 5);
    // the heap is reset before every evaluation: nothing may survive in statics
    for _ in 0..2 {
        assert_eq!(g.opa_eval(3, data, heap, input.as_bytes(), 0), first);
    }
    // new data where the evaluation's heap was (data above the heap pointer
    // an evaluation starts from would be overwritten: the module refuses it)
    g.call::<i32, ()>("opa_heap_ptr_set", heap);
    let empty = g.load_json(&json!({}));
    let heap = g.heap_ptr();
    let small = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"type": "NodePort"}}).to_string();
    let once = g.opa_eval(3, empty, heap, small.as_bytes(), 0);
    assert_eq!(g.opa_eval(3, empty, heap, small.as_bytes(), 0), once);
}

#[test]
fn hostile_inputs_end_in_an_error_answer_or_an_abort() {
    // values the parser refuses: 0, as hosts expect
    let mut g = Guest::new(5, None);
    for bad in [
        &b"{"[..],
        b"",
        b"\xff\xfe",
        b"{\"a\": 1} trailing",
        "[".repeat(100_000).as_bytes(),
    ] {
        assert_eq!(
            g.load(bad, "opa_json_parse"),
            0,
            "{:?}",
            String::from_utf8_lossy(&bad[..bad.len().min(20)])
        );
    }

    // well-formed JSON of the wrong shape: a JSON error answer, never a trap
    let data = g.load_json(&json!({}));
    let bad_settings = g.load_json(&json!({"rules": {"no-such-rule": "deny"}}));
    let heap = g.heap_ptr();
    for input in [
        json!(null),
        json!(1),
        json!({"review": "x"}),
        json!({"request": {"operation": 3}}),
        json!({"objects": [1]}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": 5}),
    ] {
        for (entrypoint, d) in [(3, data), (3, bad_settings), (0, data)] {
            let out: Value = serde_json::from_str(&g.opa_eval(
                entrypoint,
                d,
                heap,
                input.to_string().as_bytes(),
                0,
            ))
            .unwrap();
            let result = &out[0]["result"];
            let failed_closed = result["error"]["code"].is_string()
                || result[0]["details"]["error"]["code"].is_string()
                || (result["response"]["allowed"] == json!(false)
                    && result["response"]["status"]["code"] == json!(400));
            assert!(failed_closed, "{input} -> {out}");
        }
        let out: Value =
            serde_json::from_str(&g.opa_eval(1, data, heap, input.to_string().as_bytes(), 0))
                .unwrap();
        assert!(
            out[0]["result"][0]["details"]["error"]["code"].is_string(),
            "{out}"
        );
    }
    // text that is not JSON (or nests deeper than 128): the error, with its
    // position, in the entrypoint's shape
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    for text in ["{nope", deep.as_str()] {
        let mut answer = |entrypoint: i32| -> Value {
            let out = g.opa_eval(entrypoint, data, heap, text.as_bytes(), 0);
            serde_json::from_str::<Value>(&out).unwrap()[0]["result"].clone()
        };
        assert_eq!(answer(3)["error"]["code"], "invalid-json");
        assert_eq!(answer(1)[0]["details"]["error"]["code"], "invalid-json");
        assert_eq!(answer(0)[0]["details"]["error"]["code"], "invalid-json");
        let response = answer(2);
        assert_eq!(response["response"]["allowed"], false);
        assert_eq!(response["response"]["status"]["code"], 400);
        let text = g.opa_eval(1, data, heap, text.as_bytes(), 1);
        assert!(text.starts_with("{{\"result\":["), "{text}");
    }
    assert!(g.store.data().aborts.is_empty());

    // misuse of the ABI: opa_abort with a reason, then the guest's own trap
    let abort = |call: &dyn Fn(&mut Guest) -> String| {
        let mut g = Guest::new(5, Some(64));
        call(&mut g)
    };
    let msg = abort(&|g| g.expect_abort::<i32, i32>("opa_json_dump", 12345));
    assert!(msg.contains("invalid value address"), "{msg}");
    let msg = abort(&|g| g.expect_abort::<i32, i32>("eval", 8));
    assert!(msg.contains("invalid evaluation context"), "{msg}");
    let msg = abort(&|g| g.expect_abort::<i32, i32>("opa_malloc", i32::MAX));
    assert!(msg.contains("out of memory"), "{msg}");
    let msg = abort(&|g| g.expect_abort::<i32, i32>("opa_malloc", -4));
    assert!(msg.contains("negative"), "{msg}");
    let msg = abort(&|g| g.expect_abort::<i32, ()>("opa_heap_ptr_set", 16));
    assert!(msg.contains("below the heap"), "{msg}");
    let msg = abort(&|g| g.expect_abort::<(i32, i32), i32>("opa_json_parse", (0x7fff_0000, 100)));
    assert!(msg.contains("outside memory"), "{msg}");
    // a value the host freed by moving the heap pointer back below it
    let msg = abort(&|g| {
        let base = g.heap_ptr();
        let v = g.load_json(&json!({"profile": "strict"}));
        assert_eq!(g.dump(v), json!({"profile": "strict"}));
        g.call::<i32, ()>("opa_heap_ptr_set", base);
        g.expect_abort::<i32, i32>("opa_json_dump", v)
    });
    assert!(msg.contains("invalid value address"), "{msg}");
    let msg = abort(&|g| {
        let base = g.heap_ptr();
        let ctx: i32 = g.call("opa_eval_ctx_new", ());
        g.call::<i32, ()>("opa_heap_ptr_set", base);
        g.expect_abort::<i32, i32>("eval", ctx)
    });
    assert!(msg.contains("invalid evaluation context"), "{msg}");
    let msg = abort(&|g| {
        let heap = g.heap_ptr();
        g.write(heap, b"{}");
        g.expect_abort::<(i32, i32, i32, i32, i32, i32, i32), i32>(
            "opa_eval",
            (0, 9, 0, heap, 2, heap + 2, 0),
        )
    });
    assert!(msg.contains("unknown entrypoint"), "{msg}");
    let msg = abort(&|g| {
        g.expect_abort::<(i32, i32, i32, i32, i32, i32, i32), i32>(
            "opa_eval",
            (1, 0, 0, 0, 0, 70000, 0),
        )
    });
    assert!(msg.contains("reserved"), "{msg}");
    // opa_eval's input must lie below the heap it allocates from, and above
    // the static image: otherwise an error answer, before a byte is parsed
    let mut g = Guest::new(2, Some(64));
    let heap = g.heap_ptr();
    let svc = br#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"type":"NodePort"}}"#;
    g.write(heap, svc);
    let n = svc.len() as i32;
    for (at, heap_ptr) in [
        (heap, heap),
        (heap, heap + n - 1),
        (1024, heap),
        (heap, heap - 8 + n),
    ] {
        let out: i32 = g.call("opa_eval", (0, 3, 0, at, n, heap_ptr.max(heap), 0));
        let answer: Value = serde_json::from_str(&g.read_c_string(out)).unwrap();
        let error = &answer[0]["result"]["error"];
        assert_eq!(
            error["code"], "invalid-input",
            "input at {at}, heap at {heap_ptr}: {answer}"
        );
        assert!(
            error["message"].as_str().unwrap().contains("heap"),
            "{answer}"
        );
        g.write(heap, svc);
    }
    let out: i32 = g.call("opa_eval", (0, 3, 0, heap, n, heap + n, 0));
    let answer: Value = serde_json::from_str(&g.read_c_string(out)).unwrap();
    assert_eq!(
        answer[0]["result"]["violations"][0]["rule"],
        "service-type-nodeport"
    );
    assert!(g.store.data().aborts.is_empty());
    let msg = abort(&|g| {
        let heap = g.heap_ptr();
        // the host's write fits in 64 pages; the parsed copy does not
        let mut input = b"\"".to_vec();
        input.extend(std::iter::repeat_n(b'a', 2_500_000));
        input.push(b'"');
        g.write(heap, &input);
        g.expect_abort::<(i32, i32, i32, i32, i32, i32, i32), i32>(
            "opa_eval",
            (
                0,
                3,
                0,
                heap,
                input.len() as i32,
                heap + input.len() as i32,
                0,
            ),
        )
    });
    assert!(msg.contains("memory"), "{msg}");
}

/// The top of the module's stack (laid out first, growing down from here,
/// so an overflow traps below 0): the initial value of its stack pointer,
/// the first mutable global.
fn static_data_start() -> usize {
    for payload in wasmparser::Parser::new(0).parse_all(module_bytes()) {
        if let wasmparser::Payload::GlobalSection(reader) = payload.unwrap() {
            for global in reader {
                let global = global.unwrap();
                if !global.ty.mutable {
                    continue;
                }
                let mut ops = global.init_expr.get_operators_reader();
                if let wasmparser::Operator::I32Const { value } = ops.read().unwrap() {
                    return value as u32 as usize;
                }
            }
        }
    }
    panic!("no stack pointer global")
}

/// The deepest inputs every path accepts (JSON nests up to 128 levels) in
/// the smallest memory a host gives: the stack they use, measured by the
/// bytes they leave written in it, must leave a quarter of it free. (Stack
/// first: an overflow would trap below address 0, not corrupt the data.)
#[test]
fn deepest_inputs_leave_a_quarter_of_the_stack() {
    let stack_top = static_data_start();
    let mut g = Guest::new(2, Some(4096));
    let data = g.load_json(&json!({}));
    let heap = g.heap_ptr();
    let nested =
        |open: &str, close: &str, n: usize| format!("{}{}", open.repeat(n), close.repeat(n));
    let mut lists = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "NodePort"}});
    for _ in 0..60 {
        lists = json!({"apiVersion": "v1", "kind": "List", "items": [lists]});
    }
    let inputs = [
        nested("[", "]", 127),
        nested("{\"a\":", "}", 126).replacen("}", "1}", 1),
        nested("[", "]", 129),
        format!("{{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{{\"name\":\"s\"}},\"spec\":{}}}", nested("[", "]", 120)),
        lists.to_string(),
        format!("{{\"review\": {}}}", nested("[", "]", 120)),
    ];
    for input in &inputs {
        for entrypoint in 0..4 {
            for format in [0, 1] {
                g.opa_eval(entrypoint, data, heap, input.as_bytes(), format);
            }
        }
        for parse in ["opa_json_parse", "opa_value_parse"] {
            let v = g.load(input.as_bytes(), parse);
            if v != 0 {
                let _: i32 = g.call("opa_json_dump", v);
                let _: i32 = g.call("opa_value_dump", v);
            }
            g.call::<i32, ()>("opa_heap_ptr_set", heap);
        }
    }
    let rego = nested("{", "}", 120).replacen("}", "1}", 1);
    let v = g.load(rego.as_bytes(), "opa_value_parse");
    let _: i32 = g.call("opa_value_dump", v);
    assert!(
        g.store.data().aborts.is_empty(),
        "{:?}",
        g.store.data().aborts
    );
    let memory = g.memory.data(&g.store);
    let lowest_written = memory[..stack_top]
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(stack_top);
    let used = stack_top - lowest_written;
    eprintln!("stack: {used} of {stack_top} bytes used");
    assert!(
        used * 4 <= stack_top * 3,
        "the deepest inputs use {used} of the {stack_top}-byte stack"
    );
}

// --- agreement with the generic module -----------------------------------------

/// `dist/portcullis.wasm`, the generic JSON ABI, as a reference host.
struct Generic {
    store: Store<()>,
    instance: Instance,
}

impl Generic {
    fn new(engine: &Engine) -> Generic {
        let bytes = std::fs::read(wasm_tests::artifact("portcullis.wasm")).unwrap();
        let module = Module::new(engine, bytes).unwrap();
        let mut store = Store::new(engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        Generic { store, instance }
    }

    fn evaluate(&mut self, input: &[u8]) -> Value {
        let alloc = self
            .instance
            .get_typed_func::<i32, i32>(&mut self.store, "alloc")
            .unwrap();
        let evaluate = self
            .instance
            .get_typed_func::<(i32, i32), i64>(&mut self.store, "evaluate")
            .unwrap();
        let memory = self.instance.get_memory(&mut self.store, "memory").unwrap();
        let p = alloc.call(&mut self.store, input.len() as i32).unwrap();
        memory.write(&mut self.store, p as usize, input).unwrap();
        let packed = evaluate
            .call(&mut self.store, (p, input.len() as i32))
            .unwrap() as u64;
        let (ptr, len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        serde_json::from_slice(&memory.data(&self.store)[ptr..ptr + len]).unwrap()
    }
}

/// Manifests written by others (the demo shop, the peers' own samples),
/// each file as one bundle and each object alone: the two modules must give
/// the same report, so every verdict agrees.
#[test]
fn agrees_with_the_generic_module_on_independent_manifests() {
    let root = wasm_tests::root();
    let mut files = Vec::new();
    // the peers' samples only when the corpus is there (read_dir skips it otherwise)
    let mut dirs = vec![root.join("examples"), conformance_dir(&root)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) && path.file_name() != Some(std::ffi::OsStr::new("expectations.yaml"))
            {
                files.push(path);
            }
        }
    }
    files.sort();

    let (engine, _) = sync_module();
    let mut generic = Generic::new(engine);
    let mut g = Guest::new(5, None);
    let consent = g.load_json(&json!({"allowInputSettings": true}));
    let strict = g.load_json(&json!({"profile": "strict"}));
    let heap = g.heap_ptr();
    let mut compared = 0;
    for file in &files {
        let Ok(docs) = portcullis::cases::read_documents(file) else {
            continue;
        };
        let inputs: Vec<Value> = docs.iter().filter(|d| d.is_object()).cloned().collect();
        let objects: Vec<Value> = docs
            .into_iter()
            .filter(|d| d.get("apiVersion").is_some())
            .collect();
        // the file as one bundle under the strict profile: in the envelope
        // for the generic module, as data for the OPA module
        let bundle = (
            json!({"objects": objects, "settings": {"profile": "strict"}}),
            Some((Value::Array(objects), strict)),
        );
        // each document as it is: the OPA host consents to settings in it,
        // since the generic module takes them from the input
        let documents = inputs.into_iter().map(|d| (d, None));
        for (input, as_data) in documents.chain([bundle]) {
            let bytes = input.to_string();
            let reference = generic.evaluate(bytes.as_bytes());
            let (opa_input, data) = match as_data {
                Some((objects, data)) => (objects.to_string(), data),
                None => (bytes.clone(), consent),
            };
            let ours: Value =
                serde_json::from_str(&g.opa_eval(3, data, heap, opa_input.as_bytes(), 0)).unwrap();
            assert_eq!(
                ours[0]["result"],
                reference,
                "{}: the OPA module and the generic module disagree on {input}",
                file.display()
            );
            compared += 1;
        }
    }
    // the demo shop alone gives 46 inputs; the peers' samples add more
    let corpus = portcullis::cases::conformance_corpus(&root)
        .unwrap()
        .is_some();
    let least = if corpus { 100 } else { 40 };
    assert!(compared > least, "only {compared} manifests compared");
    println!("{compared} inputs compared");
    assert!(g.store.data().aborts.is_empty());
}

// --- packaging ------------------------------------------------------------------

#[test]
fn kubewarden_metadata_declares_both_opa_modes() {
    let root = wasm_tests::root();
    for mode in ["gatekeeper", "opa"] {
        let file = root.join(format!("policies/opa/metadata-{mode}.yml"));
        let docs = portcullis::cases::read_documents(&file).unwrap();
        let [meta] = docs.as_slice() else {
            panic!("{}: one document", file.display())
        };
        assert_eq!(meta["executionMode"], mode);
        assert_eq!(meta["mutating"], false);
        let rules = meta["rules"].as_array().unwrap();
        assert!(!rules.is_empty());
        for rule in rules {
            for key in ["apiGroups", "apiVersions", "resources"] {
                assert!(!rule[key].as_array().unwrap().is_empty(), "{mode}: {key}");
            }
            assert_eq!(rule["operations"], json!(["CREATE", "UPDATE"]));
        }
        for key in ["title", "description", "license", "source"] {
            let v = &meta["annotations"][format!("io.kubewarden.policy.{key}")];
            assert!(v.is_string(), "{mode}: annotation {key}");
        }
    }
}

#[test]
fn bundle_manifest_names_every_entrypoint() {
    let root = wasm_tests::root();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(root.join("policies/opa/.manifest")).unwrap())
            .unwrap();
    let mut g = Guest::new(5, None);
    let e: i32 = g.call("entrypoints", ());
    let entrypoints = g.dump(e);
    let wasm = manifest["wasm"].as_array().unwrap();
    assert_eq!(wasm.len(), entrypoints.as_object().unwrap().len());
    for w in wasm {
        assert_eq!(w["module"], "/policy.wasm");
        let name = w["entrypoint"].as_str().unwrap();
        assert!(entrypoints.get(name).is_some(), "{name}");
        let root_name = name.split('/').next().unwrap();
        assert!(manifest["roots"]
            .as_array()
            .unwrap()
            .contains(&json!(root_name)));
    }
}
