//! Loads a module's static data when it is instantiated, not before, so the
//! memory it imports can start smaller than its static image.
//!
//! OPA hosts give the module the memory it imports, and some give exactly
//! the 2 pages `opa build` modules ask for (opa-py-wasm). The linker places
//! the stack, then the data, and asks for as many pages as they fill, so
//! every rule's text counted against those 128 KiB. Here each active data
//! segment becomes passive, the imported memory asks for at most 2 pages,
//! and a start function grows the memory to the static image's size and
//! copies the segments to the addresses the code was linked for. Hosts see
//! a module that instantiates in 2 pages and grows on its own, as the heap
//! already does.

use anyhow::{bail, Context, Result};
use wasm_encoder::{
    BlockType, DataCountSection, DataSection, EntityType, Function, ImportSection, MemoryType,
    Module, RawSection, StartSection,
};
use wasmparser::{DataKind, Operator, Parser, Payload, TypeRef};

const PAGE: u64 = 65536;

/// Section ids, in the order the binary format requires them.
const IMPORT: u8 = 2;
const TYPE: u8 = 1;
const FUNCTION: u8 = 3;
const EXPORT: u8 = 7;
const START: u8 = 8;
const ELEMENT: u8 = 9;
const CODE: u8 = 10;
const DATA: u8 = 11;
const DATA_COUNT: u8 = 12;

/// What the rewrite needs to know of the module, read in one pass.
#[derive(Default)]
struct Shape {
    imported_functions: u32,
    defined_functions: u32,
    types: u32,
    /// (address, length) of each active segment, in order
    segments: Vec<(u64, u64)>,
    globals: Vec<Option<i64>>,
    heap_base: Option<u32>,
    /// the linker's start function (it zeroes the .bss of an imported
    /// memory), called by ours once the memory is grown
    start: Option<u32>,
}

/// The module with its data loaded by a start function and its imported
/// memory asking for at most `min_pages`.
pub fn load_data_at_start(wasm: &[u8], min_pages: u64) -> Result<Vec<u8>> {
    let shape = read_shape(wasm)?;
    let end = shape
        .segments
        .iter()
        .map(|(at, len)| at + len)
        .chain(shape.heap_base.map(u64::from))
        .max()
        .unwrap_or(0);
    let pages = end.div_ceil(PAGE);
    let start_index = shape.imported_functions + shape.defined_functions;
    let new_type = shape.types;

    let mut module = Module::new();
    let mut start_written = false;
    let mut data_count_seen = false;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        let content = wasm.get(range.clone()).context("section out of bounds")?;
        if matches!(id, ELEMENT | DATA_COUNT | CODE | DATA) && !start_written {
            module.section(&StartSection {
                function_index: start_index,
            });
            start_written = true;
        }
        if id == CODE && !data_count_seen {
            module.section(&DataCountSection {
                count: u32::try_from(shape.segments.len())?,
            });
        }
        match (id, &payload) {
            (TYPE, _) => {
                // () -> (), for the start function
                module.section(&append(id, content, &[0x60, 0x00, 0x00])?);
            }
            (FUNCTION, _) => {
                let mut entry = Vec::new();
                leb(&mut entry, u64::from(new_type));
                module.section(&append(id, content, &entry)?);
            }
            (CODE, _) => {
                let mut body = Vec::new();
                let f = loader(&shape.segments, pages, shape.start)?;
                wasm_encoder::Encode::encode(&f, &mut body);
                module.section(&append(id, content, &body)?);
            }
            (IMPORT, Payload::ImportSection(reader)) => {
                module.section(&imports(reader.clone(), min_pages)?);
            }
            (DATA, Payload::DataSection(reader)) => {
                let mut section = DataSection::new();
                for data in reader.clone() {
                    section.passive(data?.data.iter().copied());
                }
                module.section(&section);
            }
            (START, _) => {
                // replaced by ours, which calls it
                module.section(&StartSection {
                    function_index: start_index,
                });
                start_written = true;
            }
            (DATA_COUNT, _) => {
                data_count_seen = true;
                module.section(&RawSection { id, data: content });
            }
            _ => {
                module.section(&RawSection { id, data: content });
            }
        }
        if id == EXPORT && !start_written && shape.start.is_none() {
            // a start section goes right after the exports
            module.section(&StartSection {
                function_index: start_index,
            });
            start_written = true;
        }
    }
    if !start_written {
        bail!("the module has no section the start function can follow");
    }
    let out = module.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&out)
        .context("the rewritten module does not validate")?;
    Ok(out)
}

fn read_shape(wasm: &[u8]) -> Result<Shape> {
    let mut shape = Shape::default();
    let mut heap_base_global = None;
    let mut memories = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(reader) => shape.types = reader.count(),
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    match import?.ty {
                        TypeRef::Func(_) => shape.imported_functions += 1,
                        TypeRef::Memory(_) => memories += 1,
                        other => bail!("an import this step does not expect: {other:?}"),
                    }
                }
            }
            Payload::MemorySection(reader) => memories += reader.count(),
            Payload::FunctionSection(reader) => shape.defined_functions = reader.count(),
            Payload::GlobalSection(reader) => {
                for global in reader {
                    let mut ops = global?.init_expr.get_operators_reader();
                    shape.globals.push(match ops.read()? {
                        Operator::I32Const { value } => Some(i64::from(value)),
                        _ => None,
                    });
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.name == "__heap_base" {
                        heap_base_global = Some(export.index);
                    }
                }
            }
            Payload::StartSection { func, .. } => shape.start = Some(func),
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data?;
                    let DataKind::Active {
                        memory_index: 0,
                        offset_expr,
                    } = data.kind
                    else {
                        bail!("a data segment that is not active in memory 0 (was the data loaded at start already?)");
                    };
                    let Operator::I32Const { value } = offset_expr.get_operators_reader().read()?
                    else {
                        bail!("a data segment whose address is not a constant");
                    };
                    let len = u64::try_from(data.data.len())?;
                    shape.segments.push((u64::from(value as u32), len));
                }
            }
            _ => {}
        }
    }
    if memories != 1 {
        bail!("the module must have exactly one memory, it has {memories}");
    }
    shape.heap_base = heap_base_global
        .and_then(|g| {
            shape
                .globals
                .get(usize::try_from(g).ok()?)
                .copied()
                .flatten()
        })
        .map(|v| v as u32);
    Ok(shape)
}

/// The import section with the memory asking for at most `min_pages`.
fn imports(reader: wasmparser::ImportSectionReader<'_>, min_pages: u64) -> Result<ImportSection> {
    let mut section = ImportSection::new();
    for import in reader.into_imports() {
        let import = import?;
        let ty = match import.ty {
            TypeRef::Func(index) => EntityType::Function(index),
            TypeRef::Memory(m) => EntityType::Memory(MemoryType {
                minimum: m.initial.min(min_pages),
                maximum: m.maximum,
                memory64: m.memory64,
                shared: m.shared,
                page_size_log2: m.page_size_log2,
            }),
            other => bail!("an import this step does not expect: {other:?}"),
        };
        section.import(import.module, import.name, ty);
    }
    Ok(section)
}

/// The start function: grow the memory to `pages` when the host gave less
/// (a host whose memory cannot grow that far gets a trap at instantiation,
/// as it would have got a link error before), then copy each segment to its
/// address and drop it; then run the linker's start function, if any.
fn loader(segments: &[(u64, u64)], pages: u64, then: Option<u32>) -> Result<Function> {
    let pages = i32::try_from(pages)?;
    let mut f = Function::new([]);
    let mut code = f.instructions();
    code.memory_size(0)
        .i32_const(pages)
        .i32_lt_u()
        .if_(BlockType::Empty)
        .i32_const(pages)
        .memory_size(0)
        .i32_sub()
        .memory_grow(0)
        .i32_const(-1)
        .i32_eq()
        .if_(BlockType::Empty)
        .unreachable()
        .end()
        .end();
    for (index, (at, len)) in segments.iter().enumerate() {
        let index = u32::try_from(index)?;
        code.i32_const(i32::try_from(*at)?)
            .i32_const(0)
            .i32_const(i32::try_from(*len)?)
            .memory_init(0, index)
            .data_drop(index);
    }
    if let Some(start) = then {
        code.call(start);
    }
    code.end();
    Ok(f)
}

/// A vector section with one more entry, `entry`, at its end: the count is
/// rewritten, the existing entries are copied as they are.
fn append(id: u8, content: &[u8], entry: &[u8]) -> Result<RawSectionOwned> {
    let (count, used) = read_leb(content).context("section count")?;
    let mut data = Vec::with_capacity(content.len() + entry.len() + 5);
    leb(&mut data, count + 1);
    data.extend_from_slice(content.get(used..).context("section body")?);
    data.extend_from_slice(entry);
    Ok(RawSectionOwned { id, data })
}

struct RawSectionOwned {
    id: u8,
    data: Vec<u8>,
}

impl wasm_encoder::Encode for RawSectionOwned {
    fn encode(&self, sink: &mut Vec<u8>) {
        self.data.encode(sink);
    }
}

impl wasm_encoder::Section for RawSectionOwned {
    fn id(&self) -> u8 {
        self.id
    }
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_leb(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, ConstExpr, ExportKind, ExportSection, FunctionSection, GlobalSection,
        GlobalType, TypeSection, ValType,
    };

    /// A module shaped like the linker's output for the OPA module: memory
    /// imported with the static image's page count, a stack pointer and
    /// `__heap_base`, one function, data past the first two pages.
    fn linked(with_start: bool) -> Vec<u8> {
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], [ValType::I32]);
        types.ty().function([], []);
        m.section(&types);
        let mut imports = ImportSection::new();
        imports.import(
            "env",
            "memory",
            EntityType::Memory(MemoryType {
                minimum: 3,
                maximum: None,
                memory64: false,
                shared: false,
                page_size_log2: None,
            }),
        );
        m.section(&imports);
        let mut functions = FunctionSection::new();
        functions.function(0);
        if with_start {
            functions.function(1);
        }
        m.section(&functions);
        let mut globals = GlobalSection::new();
        let ty = |mutable| GlobalType {
            val_type: ValType::I32,
            mutable,
            shared: false,
        };
        globals.global(ty(true), &ConstExpr::i32_const(49152));
        globals.global(ty(false), &ConstExpr::i32_const(140_004));
        m.section(&globals);
        let mut exports = ExportSection::new();
        exports.export("f", ExportKind::Func, 0);
        exports.export("__heap_base", ExportKind::Global, 1);
        m.section(&exports);
        if with_start {
            m.section(&StartSection { function_index: 1 });
        }
        let mut code = CodeSection::new();
        let mut f = Function::new([]);
        f.instructions()
            .i32_const(49152)
            .i32_load(wasm_encoder::MemArg {
                offset: 0,
                align: 2,
                memory_index: 0,
            });
        f.instructions().end();
        code.function(&f);
        if with_start {
            let mut bss = Function::new([]);
            bss.instructions().end();
            code.function(&bss);
        }
        m.section(&code);
        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(49152), [1, 2, 3, 4]);
        data.active(0, &ConstExpr::i32_const(131_072), vec![7; 9000]);
        m.section(&data);
        m.finish()
    }

    #[test]
    fn data_becomes_passive_and_memory_asks_for_two_pages() {
        let out = load_data_at_start(&linked(false), 2).unwrap();
        let mut passive = 0;
        let mut start = None;
        let mut minimum = None;
        let mut data_count = None;
        for payload in Parser::new(0).parse_all(&out) {
            match payload.unwrap() {
                Payload::DataSection(r) => {
                    for d in r {
                        assert!(matches!(d.unwrap().kind, DataKind::Passive));
                        passive += 1;
                    }
                }
                Payload::StartSection { func, .. } => start = Some(func),
                Payload::DataCountSection { count, .. } => data_count = Some(count),
                Payload::ImportSection(r) => {
                    for i in r.into_imports() {
                        if let TypeRef::Memory(m) = i.unwrap().ty {
                            minimum = Some(m.initial);
                        }
                    }
                }
                _ => {}
            }
        }
        assert_eq!(passive, 2);
        assert_eq!(data_count, Some(2));
        assert_eq!(minimum, Some(2));
        // the start function is the one added after the module's own
        assert_eq!(start, Some(1));
    }

    #[test]
    fn the_loader_grows_to_the_heap_base() {
        // 140,004 bytes need 3 pages: the loader compares and grows to 3
        let out = load_data_at_start(&linked(false), 2).unwrap();
        let mut consts = Vec::new();
        for payload in Parser::new(0).parse_all(&out) {
            if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut ops = body.get_operators_reader().unwrap();
                let mut these = Vec::new();
                while !ops.eof() {
                    if let Operator::I32Const { value } = ops.read().unwrap() {
                        these.push(value);
                    }
                }
                consts = these;
            }
        }
        assert_eq!(&consts[..2], &[3, 3], "{consts:?}");
        assert!(
            consts.contains(&131_072) && consts.contains(&9000),
            "{consts:?}"
        );
    }

    #[test]
    fn refuses_to_run_twice() {
        let once = load_data_at_start(&linked(false), 2).unwrap();
        let err = load_data_at_start(&once, 2).unwrap_err();
        assert!(format!("{err:#}").contains("already"), "{err:#}");
    }

    #[test]
    fn the_linker_start_runs_after_the_data_is_loaded() {
        let out = load_data_at_start(&linked(true), 2).unwrap();
        let mut start = None;
        let mut last_call = None;
        for payload in Parser::new(0).parse_all(&out) {
            match payload.unwrap() {
                Payload::StartSection { func, .. } => start = Some(func),
                Payload::CodeSectionEntry(body) => {
                    let mut ops = body.get_operators_reader().unwrap();
                    last_call = None;
                    while !ops.eof() {
                        if let Operator::Call { function_index } = ops.read().unwrap() {
                            last_call = Some(function_index);
                        }
                    }
                }
                _ => {}
            }
        }
        // one start section, ours (the third function), which calls the linker's
        assert_eq!(start, Some(2));
        assert_eq!(last_call, Some(1));
    }
}
