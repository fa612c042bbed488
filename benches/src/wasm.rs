//! wasmtime hosts for the two module ABIs: the generic JSON ABI of
//! `portcullis.wasm` and the OPA guest ABI of `portcullis-opa.wasm`.

use anyhow::{anyhow, bail, Context as _, Result};
use std::path::Path;
use wasmtime::{
    Engine, Extern, ExternType, Func, Instance, InstancePre, Linker, Memory, MemoryType, Module,
    Store, TypedFunc,
};

const PAGE: usize = 65536;

/// A compiled `portcullis.wasm`, ready to instantiate.
pub struct Generic {
    pub engine: Engine,
    pub module: Module,
    pre: InstancePre<()>,
    interruptible: bool,
}

/// How often an interruptible engine's epoch advances.
pub const EPOCH: std::time::Duration = std::time::Duration::from_millis(10);

/// One live instance of the generic module.
pub struct GenericGuest {
    store: Store<()>,
    memory: Memory,
    interruptible: bool,
    alloc: TypedFunc<i32, i32>,
    dealloc: TypedFunc<(i32, i32), ()>,
    evaluate: TypedFunc<(i32, i32), i64>,
}

impl Generic {
    /// Compiles the module once (what a host does at start-up or from its cache).
    pub fn load(path: &Path) -> Result<Generic> {
        let engine = Engine::default();
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let module = Module::new(&engine, bytes)?;
        Self::from_module(engine, module)
    }

    /// Compiled for calls that may be cut off (see [`GenericGuest::deadline`]):
    /// the engine checks an epoch that a thread advances every
    /// [`EPOCH`], which costs a little on every loop, so only the worst-case
    /// measurements use it.
    pub fn load_interruptible(path: &Path) -> Result<Generic> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let ticker = engine.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(EPOCH);
            ticker.increment_epoch();
        });
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let module = Module::new(&engine, bytes)?;
        let mut generic = Self::from_module(engine, module)?;
        generic.interruptible = true;
        Ok(generic)
    }

    pub fn from_module(engine: Engine, module: Module) -> Result<Generic> {
        let linker: Linker<()> = Linker::new(&engine);
        let pre = linker.instantiate_pre(&module)?;
        Ok(Generic {
            engine,
            module,
            pre,
            interruptible: false,
        })
    }

    /// A fresh store and instance.
    pub fn instance(&self) -> Result<GenericGuest> {
        let mut store = Store::new(&self.engine, ());
        if self.interruptible {
            // a new store's deadline is now: no cut-off until one is set
            store.set_epoch_deadline(u64::MAX / 2);
        }
        let instance = self.pre.instantiate(&mut store)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| anyhow!("no exported memory"))?;
        Ok(GenericGuest {
            alloc: instance.get_typed_func(&mut store, "alloc")?,
            dealloc: instance.get_typed_func(&mut store, "dealloc")?,
            evaluate: instance.get_typed_func(&mut store, "evaluate")?,
            memory,
            interruptible: self.interruptible,
            store,
        })
    }
}

impl GenericGuest {
    /// alloc, copy in, evaluate, copy the answer out, free both.
    pub fn evaluate(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        let len = i32::try_from(input.len())?;
        let ptr = self.alloc.call(&mut self.store, len)?;
        if ptr == 0 {
            bail!("alloc({len}) failed");
        }
        self.memory
            .write(&mut self.store, ptr as u32 as usize, input)?;
        let packed = self.evaluate.call(&mut self.store, (ptr, len))?;
        self.dealloc.call(&mut self.store, (ptr, len))?;
        let (rptr, rlen) = ((packed >> 32) as u32, (packed & 0xffff_ffff) as u32);
        let mut out = vec![0u8; rlen as usize];
        self.memory
            .read(&self.store, rptr as usize, &mut out)
            .context("reading the answer")?;
        self.dealloc
            .call(&mut self.store, (rptr as i32, rlen as i32))?;
        Ok(out)
    }

    /// Cuts off the calls that follow after `limit` (an interruptible
    /// module's only): such a call fails with a trap, and the instance is
    /// not to be used after it.
    pub fn deadline(&mut self, limit: std::time::Duration) -> Result<()> {
        if !self.interruptible {
            bail!("this module was not loaded interruptible");
        }
        let ticks = limit.as_millis() / EPOCH.as_millis().max(1);
        self.store
            .set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).max(1));
        Ok(())
    }

    /// Linear memory size in bytes: the high-water mark, since wasm memory never shrinks.
    pub fn memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }
}

/// A compiled `portcullis-opa.wasm`.
pub struct Opa {
    pub engine: Engine,
    pub module: Module,
}

/// `opa_eval(reserved, entrypoint, data, input, input_len, heap_ptr, format)`.
type OpaEvalArgs = (i32, i32, i32, i32, i32, i32, i32);

/// One OPA instance after the npm SDK's load sequence (`{}` as data).
pub struct OpaGuest {
    store: Store<()>,
    memory: Memory,
    heap_ptr_set: TypedFunc<i32, ()>,
    eval: TypedFunc<OpaEvalArgs, i32>,
    data: i32,
    data_heap: i32,
    entrypoint: i32,
}

impl Opa {
    pub fn load(path: &Path) -> Result<Opa> {
        let engine = Engine::default();
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let module = Module::new(&engine, bytes)?;
        Ok(Opa { engine, module })
    }

    /// Instantiates with the imports every OPA host gives (memory of 5 pages,
    /// abort, println, builtins) and replays the SDK's load calls.
    pub fn instance(&self) -> Result<OpaGuest> {
        let mut store = Store::new(&self.engine, ());
        let memory = Memory::new(&mut store, MemoryType::new(5, None))?;
        let mut imports: Vec<Extern> = Vec::new();
        for import in self.module.imports() {
            match (import.name(), import.ty()) {
                ("memory", ExternType::Memory(_)) => imports.push(memory.into()),
                (name, ExternType::Func(ty)) => {
                    let name = name.to_string();
                    let f = Func::new(&mut store, ty, move |_, _, _| {
                        Err(wasmtime::Error::msg(format!("guest called {name}")))
                    });
                    imports.push(f.into());
                }
                (name, _) => bail!("unexpected import {name}"),
            }
        }
        let instance = Instance::new(&mut store, &self.module, &imports)?;
        let f = |store: &mut Store<()>, name: &str| -> Result<Func> {
            instance
                .get_func(&mut *store, name)
                .ok_or_else(|| anyhow!("missing export {name}"))
        };
        let malloc = f(&mut store, "opa_malloc")?.typed::<i32, i32>(&store)?;
        let parse = f(&mut store, "opa_json_parse")?.typed::<(i32, i32), i32>(&store)?;
        let dump = f(&mut store, "opa_json_dump")?.typed::<i32, i32>(&store)?;
        let heap_get = f(&mut store, "opa_heap_ptr_get")?.typed::<(), i32>(&store)?;
        let heap_set = f(&mut store, "opa_heap_ptr_set")?.typed::<i32, ()>(&store)?;
        let builtins = f(&mut store, "builtins")?.typed::<(), i32>(&store)?;
        let entrypoints = f(&mut store, "entrypoints")?.typed::<(), i32>(&store)?;
        let eval = f(&mut store, "opa_eval")?.typed(&store)?;

        let b = builtins.call(&mut store, ())?;
        dump.call(&mut store, b)?;
        let p = malloc.call(&mut store, 2)?;
        memory.write(&mut store, p as u32 as usize, b"{}")?;
        let data = parse.call(&mut store, (p, 2))?;
        let base = heap_get.call(&mut store, ())?;
        let e = entrypoints.call(&mut store, ())?;
        let listed = dump.call(&mut store, e)?;
        let listed: serde_json::Value =
            serde_json::from_slice(&read_cstr(&memory, &store, listed)?)?;
        let entrypoint = listed
            .get("portcullis/main")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0) as i32;
        // setData({}) as the SDK does
        heap_set.call(&mut store, base)?;
        let data_heap = heap_get.call(&mut store, ())?;
        Ok(OpaGuest {
            store,
            memory,
            heap_ptr_set: heap_set,
            eval,
            data,
            data_heap,
            entrypoint,
        })
    }
}

impl OpaGuest {
    /// The npm/matrix fast path: input at the data heap pointer, then `opa_eval`.
    pub fn evaluate(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        let at = self.data_heap as u32 as usize;
        let need = at + input.len();
        let have = self.memory.data_size(&self.store);
        if need > have {
            self.memory.grow(
                &mut self.store,
                need.div_ceil(PAGE).saturating_sub(have / PAGE) as u64,
            )?;
        }
        self.memory.write(&mut self.store, at, input)?;
        let len = i32::try_from(input.len())?;
        self.heap_ptr_set.call(&mut self.store, self.data_heap)?;
        let result = self.eval.call(
            &mut self.store,
            (
                0,
                self.entrypoint,
                self.data,
                self.data_heap,
                len,
                self.data_heap + len,
                0,
            ),
        )?;
        read_cstr(&self.memory, &self.store, result)
    }

    pub fn memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }
}

fn read_cstr(memory: &Memory, store: &Store<()>, at: i32) -> Result<Vec<u8>> {
    let data = memory.data(store);
    let tail = data
        .get(at as u32 as usize..)
        .ok_or_else(|| anyhow!("string address {at} outside memory"))?;
    let end = tail
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| anyhow!("unterminated string at {at}"))?;
    Ok(tail.get(..end).unwrap_or_default().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every evaluation on one reused OPA instance must answer, bundle included.
    #[test]
    fn opa_instance_answers_repeatedly() -> Result<()> {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../dist/portcullis-opa.wasm"
        ));
        if !path.exists() {
            return Ok(());
        }
        let opa = Opa::load(path)?;
        let mut guest = opa.instance()?;
        let bundle = crate::inputs::bundle(1000);
        for round in 0..4 {
            let answer = guest
                .evaluate(&bundle.json)
                .with_context(|| format!("round {round}"))?;
            assert!(answer.starts_with(b"[{\"result\""), "round {round}");
        }
        Ok(())
    }
}
