//! The exports of the OPA guest ABI 1.3. Hosts hold values by address and
//! only hand addresses back; each value sits in a tagged slot on the heap,
//! and an address must point at such a slot between the heap's base and its
//! current top, so that a forged address, or one the host freed by moving
//! the heap pointer below it, ends in `opa_abort`, not in a wild read.

#![allow(non_upper_case_globals)]

use crate::entry;
use crate::heap::{self, abort};
use crate::value::{self, Term};
use core::arch::wasm32;
use serde_json::Value;

/// Exported as globals. The linker exports a static's address; the build
/// (`wasm-post opa`) rewrites both globals to hold these values instead.
#[no_mangle]
pub static opa_wasm_abi_version: i32 = 1;
#[no_mangle]
pub static opa_wasm_abi_minor_version: i32 = 3;

const VALUE_TAG: u32 = 0x0_7a1_0e5;
const CTX_TAG: u32 = 0x0_c7e_c7e;

#[repr(C)]
struct Slot {
    tag: u32,
    term: Term,
}

#[repr(C)]
struct Ctx {
    tag: u32,
    input: i32,
    data: i32,
    entrypoint: i32,
    result: i32,
}

fn store(term: Term) -> i32 {
    Box::into_raw(Box::new(Slot {
        tag: VALUE_TAG,
        term,
    })) as i32
}

/// The block of `T` at `addr` whose first word is `tag`, or an abort. The
/// block must end at or below the heap top: above it, the host has moved
/// the heap pointer back past the value, which is gone. (A registry of live
/// values would also catch an address whose memory the heap has since
/// reused, but it could not live in the heap region, and OPA's Go SDK clones
/// an instance by copying only that region: the clone would lose it.)
fn checked<T>(addr: i32, tag: u32, what: &[u8]) -> *mut T {
    let at = addr as u32 as usize;
    let end = at.checked_add(core::mem::size_of::<T>());
    let in_heap = at >= heap::base()
        && at.is_multiple_of(core::mem::align_of::<T>())
        && end.is_some_and(|e| e <= heap::top() && e <= wasm32::memory_size(0) * 65536);
    // SAFETY: the address is aligned and inside memory; the word is read before any reference is formed.
    if !in_heap || unsafe { (at as *const u32).read() } != tag {
        abort(what);
    }
    at as *mut T
}

const BAD_VALUE: &[u8] = b"portcullis: invalid value address\0";

/// The value at a host-held address; 0 is undefined.
fn term<'a>(addr: i32) -> Option<&'a Term> {
    if addr == 0 {
        return None;
    }
    // SAFETY: the tag shows this module wrote a `Slot` there; values are never freed.
    let slot = unsafe { &*checked::<Slot>(addr, VALUE_TAG, BAD_VALUE) };
    Some(&slot.term)
}

/// As `term`, for the data updates; no other reference to the value is live then.
fn term_mut<'a>(addr: i32) -> Option<&'a mut Term> {
    if addr == 0 {
        return None;
    }
    // SAFETY: as in `term`; callers hold no other reference into this value.
    let slot = unsafe { &mut *checked::<Slot>(addr, VALUE_TAG, BAD_VALUE) };
    Some(&mut slot.term)
}

fn ctx<'a>(addr: i32) -> &'a mut Ctx {
    let at = checked::<Ctx>(
        addr,
        CTX_TAG,
        b"portcullis: invalid evaluation context address\0",
    );
    // SAFETY: the tag shows this module wrote a `Ctx` there; each use is short-lived.
    unsafe { &mut *at }
}

/// Host-written bytes; an out-of-memory range aborts.
fn bytes<'a>(ptr: i32, len: i32) -> &'a [u8] {
    let (at, n) = (ptr as u32 as usize, len as u32 as usize);
    if len < 0
        || at
            .checked_add(n)
            .is_none_or(|e| e > wasm32::memory_size(0) * 65536)
    {
        abort(b"portcullis: buffer outside memory\0");
    }
    if n == 0 {
        return &[];
    }
    // SAFETY: the range lies inside linear memory, which the host wrote.
    unsafe { core::slice::from_raw_parts(at as *const u8, n) }
}

/// A NUL-terminated copy on the heap, the only string form hosts read.
fn c_string(text: String) -> i32 {
    let mut bytes = text.into_bytes();
    bytes.push(0);
    // the string is the last block, so it stays where it was written
    bytes.leak().as_ptr() as i32
}

#[no_mangle]
pub extern "C" fn opa_malloc(size: i32) -> i32 {
    if size < 0 {
        abort(b"portcullis: negative allocation size\0");
    }
    heap::alloc(size as usize, 8) as i32
}

/// Blocks go back in bulk when the host resets the heap pointer.
#[no_mangle]
pub extern "C" fn opa_free(_addr: i32) {}

#[no_mangle]
pub extern "C" fn opa_value_free(_addr: i32) {}

#[no_mangle]
pub extern "C" fn opa_heap_ptr_get() -> i32 {
    heap::top() as i32
}

#[no_mangle]
pub extern "C" fn opa_heap_ptr_set(addr: i32) {
    if (addr as u32 as usize) < heap::base() {
        abort(b"portcullis: heap pointer below the heap\0");
    }
    heap::set_top(addr as u32 as usize);
}

/// The stash lets Go keep data blocks across a data update; a bump heap
/// keeps everything below the pointer anyway.
#[no_mangle]
pub extern "C" fn opa_heap_blocks_stash() {}

#[no_mangle]
pub extern "C" fn opa_heap_blocks_restore() {}

#[no_mangle]
pub extern "C" fn opa_heap_stash_clear() {}

/// 0 when the text is not JSON: hosts report "failed to parse json value".
#[no_mangle]
pub extern "C" fn opa_json_parse(ptr: i32, len: i32) -> i32 {
    value::parse_json(bytes(ptr, len)).map_or(0, store)
}

#[no_mangle]
pub extern "C" fn opa_value_parse(ptr: i32, len: i32) -> i32 {
    value::parse_rego(bytes(ptr, len)).map_or(0, store)
}

#[no_mangle]
pub extern "C" fn opa_json_dump(addr: i32) -> i32 {
    c_string(term(addr).map_or_else(|| "null".into(), |t| t.to_json()))
}

#[no_mangle]
pub extern "C" fn opa_value_dump(addr: i32) -> i32 {
    c_string(term(addr).map_or_else(|| "null".into(), |t| t.to_rego()))
}

#[no_mangle]
pub extern "C" fn builtins() -> i32 {
    store(Term::Json(Value::Object(serde_json::Map::new())))
}

#[no_mangle]
pub extern "C" fn entrypoints() -> i32 {
    store(Term::Json(entry::entrypoints()))
}

#[no_mangle]
pub extern "C" fn opa_eval_ctx_new() -> i32 {
    Box::into_raw(Box::new(Ctx {
        tag: CTX_TAG,
        input: 0,
        data: 0,
        entrypoint: 0,
        result: 0,
    })) as i32
}

#[no_mangle]
pub extern "C" fn opa_eval_ctx_set_input(ctx_addr: i32, value: i32) {
    ctx(ctx_addr).input = value;
}

#[no_mangle]
pub extern "C" fn opa_eval_ctx_set_data(ctx_addr: i32, value: i32) {
    ctx(ctx_addr).data = value;
}

#[no_mangle]
pub extern "C" fn opa_eval_ctx_set_entrypoint(ctx_addr: i32, entrypoint: i32) {
    ctx(ctx_addr).entrypoint = entrypoint;
}

#[no_mangle]
pub extern "C" fn opa_eval_ctx_get_result(ctx_addr: i32) -> i32 {
    ctx(ctx_addr).result
}

/// Runs an entrypoint into a result set; an unknown id aborts, as OPA's own modules do.
fn run(entrypoint: i32, input: i32, data: i32) -> i32 {
    let input = term(input).and_then(|t| t.as_json());
    let data = term(data).and_then(|t| t.as_json());
    match entry::run(entrypoint, input, data) {
        Some(result) => store(Term::result_set(result)),
        None => unknown_entrypoint(entrypoint),
    }
}

fn unknown_entrypoint(entrypoint: i32) -> ! {
    let msg = format!("portcullis: unknown entrypoint id {entrypoint}\0");
    abort(msg.as_bytes())
}

#[no_mangle]
pub extern "C" fn eval(ctx_addr: i32) -> i32 {
    let (input, data, entrypoint) = {
        let c = ctx(ctx_addr);
        (c.input, c.data, c.entrypoint)
    };
    let result = run(entrypoint, input, data);
    ctx(ctx_addr).result = result;
    0
}

/// The single-call evaluation (ABI 1.2+): input bytes sit just below `heap_ptr`.
#[no_mangle]
pub extern "C" fn opa_eval(
    reserved: i32,
    entrypoint: i32,
    data: i32,
    input: i32,
    input_len: i32,
    heap_ptr: i32,
    format: i32,
) -> i32 {
    if reserved != 0 {
        abort(b"portcullis: opa_eval: reserved argument must be 0\0");
    }
    if !matches!(format, 0 | 1) {
        abort(b"portcullis: opa_eval: format must be 0 (JSON) or 1 (value)\0");
    }
    opa_heap_ptr_set(heap_ptr);
    // the input must lie wholly below the heap the evaluation allocates
    // from, or parsing it would overwrite what is still to be read
    let input_end = (input as u32 as usize).checked_add(input_len as u32 as usize);
    if input_len < 0
        || (input_len > 0
            && ((input as u32 as usize) < heap::base()
                || input_end.is_none_or(|e| e > heap::top())))
    {
        let error = portcullis::Error::input(format!(
            "opa_eval: the input at {input}..+{input_len} must lie between the heap base {} \
             and the heap pointer {heap_ptr}, where the evaluation starts allocating",
            heap::base()
        ));
        let Some(answer) = entry::failed(entrypoint, error) else {
            unknown_entrypoint(entrypoint)
        };
        return dump(store(Term::result_set(answer)), format);
    }
    let input_addr = if input_len == 0 {
        0
    } else {
        let text = bytes(input, input_len);
        match value::parse_rego(text) {
            Some(t) => store(t),
            None => {
                // the same error, with its position, that every other host reports
                let error = portcullis::parse_json(text)
                    .err()
                    .unwrap_or_else(|| portcullis::Error::input("input is not JSON"));
                let Some(answer) = entry::failed(entrypoint, error) else {
                    unknown_entrypoint(entrypoint)
                };
                return dump(store(Term::result_set(answer)), format);
            }
        }
    };
    dump(run(entrypoint, input_addr, data), format)
}

fn dump(result: i32, format: i32) -> i32 {
    if format == 1 {
        opa_value_dump(result)
    } else {
        opa_json_dump(result)
    }
}

/// Path results as OPA defines them.
const OK: i32 = 0;
const INVALID_TYPE: i32 = 2;
const INVALID_PATH: i32 = 3;

fn path_keys(path: i32) -> Result<Vec<String>, i32> {
    match term(path).and_then(|t| t.as_json()) {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|k| k.as_str().map(str::to_string).ok_or(INVALID_PATH))
            .collect(),
        Some(Value::Array(_)) => Err(INVALID_PATH),
        _ => Err(INVALID_TYPE),
    }
}

type Map = serde_json::Map<String, Value>;

/// The object at `keys` under `base`, creating missing levels when asked.
fn object_at<'a>(base: i32, keys: &[String], create: bool) -> Result<&'a mut Map, i32> {
    let mut cur = match term_mut(base) {
        Some(Term::Json(Value::Object(m))) => m,
        _ => return Err(INVALID_TYPE),
    };
    for k in keys {
        let next = if create {
            Some(
                cur.entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new())),
            )
        } else {
            cur.get_mut(k)
        };
        cur = match next {
            Some(Value::Object(m)) => m,
            _ => return Err(INVALID_PATH),
        };
    }
    Ok(cur)
}

/// Go's `SetDataPath`: stores a copy of `value` at `path` inside `base`.
#[no_mangle]
pub extern "C" fn opa_value_add_path(base: i32, path: i32, value: i32) -> i32 {
    let keys = match path_keys(path) {
        Ok(k) => k,
        Err(code) => return code,
    };
    let Some(value) = term(value).and_then(|t| t.as_json()).cloned() else {
        return INVALID_TYPE;
    };
    let Some((last, parents)) = keys.split_last() else {
        return INVALID_PATH;
    };
    match object_at(base, parents, true) {
        Ok(obj) => {
            obj.insert(last.clone(), value);
            OK
        }
        Err(code) => code,
    }
}

/// Go's `RemoveDataPath`.
#[no_mangle]
pub extern "C" fn opa_value_remove_path(base: i32, path: i32) -> i32 {
    let keys = match path_keys(path) {
        Ok(k) => k,
        Err(code) => return code,
    };
    let Some((last, parents)) = keys.split_last() else {
        return INVALID_PATH;
    };
    match object_at(base, parents, false) {
        Ok(obj) => {
            obj.remove(last);
            OK
        }
        Err(INVALID_PATH) => OK,
        Err(code) => code,
    }
}
