//! `portcullis-kubewarden.wasm` under a bare waPC host making the calls
//! policy-server makes, its `kubernetes` host calls answered from an
//! in-memory cluster the way policy-server answers them. Each distinct call
//! is answered once and then replayed from memory, as policy-server's watch
//! caches do: the figures are the policy's own work (reading the answers,
//! the rules), not the API server's.

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use wasmtime::{Caller, Engine, InstancePre, Linker, Memory, Module, Store, TypedFunc};

/// Objects served as a cluster: gets by name, listings per namespace or
/// cluster-wide; kinds whose group no object has are not served.
pub struct Cluster {
    objects: Vec<Value>,
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

impl Cluster {
    pub fn new(objects: Vec<Value>) -> Cluster {
        Cluster { objects }
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// One `kubernetes` host call, answered as policy-server does.
    pub fn answer(&self, op: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let req: Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let text = |k: &str| req.get(k).and_then(Value::as_str).unwrap_or_default();
        let (av, kind, ns, name) = (
            text("api_version"),
            text("kind"),
            text("namespace"),
            text("name"),
        );
        let group = group_of(av);
        let of_kind: Vec<&Value> = self
            .objects
            .iter()
            .filter(|o| {
                o.get("kind").and_then(Value::as_str) == Some(kind)
                    && group_of(o.get("apiVersion").and_then(Value::as_str).unwrap_or("")) == group
            })
            .collect();
        let served = self
            .objects
            .iter()
            .any(|o| o.get("apiVersion").and_then(Value::as_str) == Some(av))
            || matches!(av, "v1" | "networking.k8s.io/v1");
        if !served {
            return Err(format!(
                "Callback evaluation failure: Cannot find resource {av}/{kind}"
            ));
        }
        let ns_of = |o: &Value| {
            o.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string()
        };
        match op {
            "get_resource" => of_kind
                .iter()
                .find(|o| ns_of(o) == ns && o.pointer("/metadata/name") == Some(&json!(name)))
                .map(|o| serde_json::to_vec(o).unwrap_or_default())
                .ok_or_else(|| {
                    format!(
                        "Callback evaluation failure: Cannot find {av}/{kind} named '{name}' \
                         inside of namespace 'Some(\"{ns}\")'"
                    )
                }),
            "list_resources_by_namespace" | "list_resources_all" => {
                // policy-server keeps listings without their managedFields
                let items: Vec<Value> = of_kind
                    .iter()
                    .filter(|o| op == "list_resources_all" || ns_of(o) == ns)
                    .map(|o| {
                        let mut o = (*o).clone();
                        if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                            m.remove("managedFields");
                        }
                        o
                    })
                    .collect();
                serde_json::to_vec(&json!({"metadata": {}, "items": items}))
                    .map_err(|e| e.to_string())
            }
            other => Err(format!("unknown operation: {other}")),
        }
    }
}

/// A host call's answer (Ok) or error text (Err).
type HostAnswer = Result<Vec<u8>, Vec<u8>>;

struct State {
    op: Vec<u8>,
    msg: Vec<u8>,
    response: Vec<u8>,
    error: Vec<u8>,
    host: HostAnswer,
    cluster: Arc<Cluster>,
    /// Each distinct call (operation, payload), answered once.
    answered: HashMap<(String, Vec<u8>), HostAnswer>,
    calls: u64,
}

/// A compiled `portcullis-kubewarden.wasm`.
pub struct Kubewarden {
    engine: Engine,
    pre: InstancePre<State>,
}

/// One instance with its cluster.
pub struct KubewardenGuest {
    store: Store<State>,
    guest_call: TypedFunc<(i32, i32), i32>,
    memory: Memory,
}

fn memory_of(caller: &mut Caller<'_, State>) -> wasmtime::Result<Memory> {
    caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmtime::format_err!("no exported memory"))
}

fn read(caller: &mut Caller<'_, State>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let memory = memory_of(caller)?;
    let mut buf = vec![0; usize::try_from(len)?];
    memory.read(&*caller, usize::try_from(ptr)?, &mut buf)?;
    Ok(buf)
}

fn write(caller: &mut Caller<'_, State>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let memory = memory_of(caller)?;
    memory.write(caller, usize::try_from(ptr)?, bytes)?;
    Ok(())
}

impl Kubewarden {
    pub fn load(path: &Path) -> Result<Kubewarden> {
        let engine = Engine::default();
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let module = Module::new(&engine, bytes)?;
        let mut linker: Linker<State> = Linker::new(&engine);
        linker.func_wrap(
            "wapc",
            "__guest_request",
            |mut caller: Caller<'_, State>, op_ptr: i32, ptr: i32| -> wasmtime::Result<()> {
                let (op, msg) = (caller.data().op.clone(), caller.data().msg.clone());
                write(&mut caller, op_ptr, &op)?;
                write(&mut caller, ptr, &msg)
            },
        )?;
        linker.func_wrap(
            "wapc",
            "__guest_response",
            |mut caller: Caller<'_, State>, ptr: i32, len: i32| -> wasmtime::Result<()> {
                caller.data_mut().response = read(&mut caller, ptr, len)?;
                Ok(())
            },
        )?;
        linker.func_wrap(
            "wapc",
            "__guest_error",
            |mut caller: Caller<'_, State>, ptr: i32, len: i32| -> wasmtime::Result<()> {
                caller.data_mut().error = read(&mut caller, ptr, len)?;
                Ok(())
            },
        )?;
        linker.func_wrap(
            "wapc",
            "__host_call",
            |mut caller: Caller<'_, State>,
             _bd: i32,
             _bd_len: i32,
             _ns: i32,
             _ns_len: i32,
             op: i32,
             op_len: i32,
             ptr: i32,
             len: i32|
             -> wasmtime::Result<i32> {
                let op = String::from_utf8(read(&mut caller, op, op_len)?)?;
                let payload = read(&mut caller, ptr, len)?;
                let state = caller.data_mut();
                state.calls += 1;
                let cluster = state.cluster.clone();
                let answer = state
                    .answered
                    .entry((op.clone(), payload.clone()))
                    .or_insert_with(|| cluster.answer(&op, &payload).map_err(String::into_bytes))
                    .clone();
                let ok = answer.is_ok();
                state.host = answer;
                Ok(i32::from(ok))
            },
        )?;
        for name in ["__host_response_len", "__host_error_len"] {
            linker.func_wrap("wapc", name, |caller: Caller<'_, State>| -> i32 {
                let len = match &caller.data().host {
                    Ok(b) | Err(b) => b.len(),
                };
                i32::try_from(len).unwrap_or(i32::MAX)
            })?;
        }
        for name in ["__host_response", "__host_error"] {
            linker.func_wrap(
                "wapc",
                name,
                |mut caller: Caller<'_, State>, ptr: i32| -> wasmtime::Result<()> {
                    let bytes = match &caller.data().host {
                        Ok(b) | Err(b) => b.clone(),
                    };
                    write(&mut caller, ptr, &bytes)
                },
            )?;
        }
        let pre = linker.instantiate_pre(&module)?;
        Ok(Kubewarden { engine, pre })
    }

    /// A fresh instance reading `cluster`.
    pub fn instance(&self, cluster: Arc<Cluster>) -> Result<KubewardenGuest> {
        let state = State {
            op: Vec::new(),
            msg: Vec::new(),
            response: Vec::new(),
            error: Vec::new(),
            host: Ok(Vec::new()),
            cluster,
            answered: HashMap::new(),
            calls: 0,
        };
        let mut store = Store::new(&self.engine, state);
        let instance = self.pre.instantiate(&mut store)?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "wapc_init") {
            init.call(&mut store, ())?;
        }
        Ok(KubewardenGuest {
            guest_call: instance.get_typed_func(&mut store, "__guest_call")?,
            memory: instance
                .get_memory(&mut store, "memory")
                .ok_or_else(|| anyhow!("no exported memory"))?,
            store,
        })
    }
}

impl KubewardenGuest {
    /// One `validate`: the ValidationResponse bytes.
    pub fn validate(&mut self, payload: &[u8]) -> Result<Vec<u8>> {
        let state = self.store.data_mut();
        state.op = b"validate".to_vec();
        state.msg = payload.to_vec();
        let ok = self
            .guest_call
            .call(&mut self.store, (8, i32::try_from(payload.len())?))?;
        if ok != 1 {
            bail!(
                "guest error: {}",
                String::from_utf8_lossy(&self.store.data().error)
            );
        }
        Ok(std::mem::take(&mut self.store.data_mut().response))
    }

    /// Host calls made since the instance started.
    pub fn calls(&self) -> u64 {
        self.store.data().calls
    }

    pub fn memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }
}
