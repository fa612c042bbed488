//! `wasm-post opa <in.wasm> <out.wasm>`: gives the OPA module its ABI
//! version globals. Rust can only export a static's address, so the linker
//! leaves `opa_wasm_abi_version` and `opa_wasm_abi_minor_version` holding
//! addresses; OPA hosts read them as values and want 1 and 3. This step
//! rewrites the two initialisers and copies every other section untouched,
//! then has the static data loaded at start (`memory.rs`), so the module
//! imports 2 pages whatever the size of its data.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use wasm_encoder::{ConstExpr, GlobalSection, GlobalType, Module, RawSection, ValType};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// The globals and the values hosts expect in them (ABI 1.3).
pub const ABI_GLOBALS: [(&str, i32); 2] = [
    ("opa_wasm_abi_version", 1),
    ("opa_wasm_abi_minor_version", 3),
];

/// The pages `opa build` modules import, and all some hosts give.
const MIN_PAGES: u64 = 2;

pub fn run(args: &[String]) -> Result<()> {
    let [input, output] = args else {
        bail!("usage: wasm-post opa <in.wasm> <out.wasm>");
    };
    let wasm = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let out = set_abi_globals(&wasm)
        .and_then(|m| crate::memory::load_data_at_start(&m, MIN_PAGES))
        .with_context(|| format!("rewriting {input}"))?;
    std::fs::write(output, out).with_context(|| format!("writing {output}"))?;
    println!(
        "{output}: opa_wasm_abi_version = 1, opa_wasm_abi_minor_version = 3, \
         static data loaded at start, memory from {MIN_PAGES} pages"
    );
    Ok(())
}

/// The module with each ABI global defined as an immutable `i32.const`.
pub fn set_abi_globals(wasm: &[u8]) -> Result<Vec<u8>> {
    // global index -> value, from the export section (which follows the globals)
    let mut imported_globals = 0u32;
    let mut wanted: HashMap<u32, i32> = HashMap::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    if matches!(import?.ty, TypeRef::Global(_)) {
                        imported_globals += 1;
                    }
                }
            }
            Payload::ExportSection(exports) => {
                for export in exports {
                    let export = export?;
                    let Some((_, value)) = ABI_GLOBALS.iter().find(|(n, _)| *n == export.name)
                    else {
                        continue;
                    };
                    if export.kind != ExternalKind::Global {
                        bail!("export `{}` is not a global", export.name);
                    }
                    if export.index < imported_globals {
                        bail!("export `{}` re-exports an imported global", export.name);
                    }
                    wanted.insert(export.index - imported_globals, *value);
                }
            }
            _ => {}
        }
    }
    if wanted.len() != ABI_GLOBALS.len() {
        bail!(
            "the module must export opa_wasm_abi_version and opa_wasm_abi_minor_version as globals"
        );
    }

    let mut module = Module::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        if let Payload::GlobalSection(globals) = &payload {
            let mut section = GlobalSection::new();
            for (i, global) in globals.clone().into_iter().enumerate() {
                let global = global?;
                let index = u32::try_from(i)?;
                if let Some(value) = wanted.get(&index) {
                    let ty = GlobalType {
                        val_type: ValType::I32,
                        mutable: false,
                        shared: false,
                    };
                    section.global(ty, &ConstExpr::i32_const(*value));
                    continue;
                }
                let range = global.init_expr.get_binary_reader().range();
                // the reader's bytes end with `end`, which the encoder adds itself
                let expr = wasm
                    .get(range.start..range.end.saturating_sub(1))
                    .context("global initialiser out of bounds")?;
                let ty = global.ty;
                section.global(
                    GlobalType {
                        val_type: val_type_of(ty.content_type)?,
                        mutable: ty.mutable,
                        shared: ty.shared,
                    },
                    &ConstExpr::raw(expr.iter().copied()),
                );
            }
            module.section(&section);
        } else if let Some((id, range)) = payload.as_section() {
            let data = wasm.get(range).context("section out of bounds")?;
            module.section(&RawSection { id, data });
        }
    }
    let out = module.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&out)
        .context("the rewritten module does not validate")?;
    Ok(out)
}

fn val_type_of(t: wasmparser::ValType) -> Result<ValType> {
    Ok(match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(_) => bail!("reference-typed globals are not expected here"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{ExportKind, ExportSection};
    use wasmparser::Operator;

    /// A module shaped like the linker's output: a mutable stack pointer,
    /// then the two ABI statics exported as globals holding addresses.
    fn linked(names: &[&str]) -> Vec<u8> {
        let mut module = Module::new();
        let mut globals = GlobalSection::new();
        let ty = |mutable| GlobalType {
            val_type: ValType::I32,
            mutable,
            shared: false,
        };
        globals.global(ty(true), &ConstExpr::i32_const(65536));
        globals.global(ty(false), &ConstExpr::i32_const(65696));
        globals.global(ty(false), &ConstExpr::i32_const(65700));
        module.section(&globals);
        let mut exports = ExportSection::new();
        for (i, name) in names.iter().enumerate() {
            exports.export(name, ExportKind::Global, u32::try_from(i).unwrap() + 1);
        }
        module.section(&exports);
        module.finish()
    }

    fn global_values(wasm: &[u8]) -> Vec<(bool, i32)> {
        let mut out = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::GlobalSection(globals) = payload.unwrap() {
                for g in globals {
                    let g = g.unwrap();
                    let mut ops = g.init_expr.get_operators_reader();
                    match ops.read().unwrap() {
                        Operator::I32Const { value } => out.push((g.ty.mutable, value)),
                        other => panic!("{other:?}"),
                    }
                }
            }
        }
        out
    }

    #[test]
    fn rewrites_the_abi_globals_and_keeps_the_rest() {
        let out = set_abi_globals(&linked(&[ABI_GLOBALS[0].0, ABI_GLOBALS[1].0])).unwrap();
        assert_eq!(global_values(&out), [(true, 65536), (false, 1), (false, 3)]);
        // running it again changes nothing
        assert_eq!(set_abi_globals(&out).unwrap(), out);
    }

    #[test]
    fn refuses_a_module_without_both_globals() {
        let err = set_abi_globals(&linked(&["opa_wasm_abi_version"])).unwrap_err();
        assert!(
            err.to_string().contains("opa_wasm_abi_minor_version"),
            "{err}"
        );
    }
}
