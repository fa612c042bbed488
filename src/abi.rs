//! The generic JSON ABI of `portcullis.wasm`: no imports; `alloc`,
//! `dealloc`, `evaluate` and `rules` over linear memory. Results are packed
//! as `ptr << 32 | len` and owned by the caller, who deallocates them.

use std::alloc::{alloc as raw_alloc, dealloc as raw_dealloc, Layout};

fn layout(len: usize) -> Option<Layout> {
    Layout::from_size_align(len.max(1), 1).ok()
}

/// Allocates `len` bytes for the host to write into. 0 when out of memory.
#[no_mangle]
pub extern "C" fn alloc(len: i32) -> i32 {
    let Some(layout) = usize::try_from(len).ok().and_then(layout) else {
        return 0;
    };
    // SAFETY: layout has a non-zero size.
    unsafe { raw_alloc(layout) as i32 }
}

/// Frees memory from `alloc` or a result of `evaluate`/`rules`.
#[no_mangle]
pub extern "C" fn dealloc(ptr: i32, len: i32) {
    if ptr == 0 {
        return;
    }
    if let Some(layout) = usize::try_from(len).ok().and_then(layout) {
        // SAFETY: the host hands back a pointer this module allocated with this length.
        unsafe { raw_dealloc(ptr as *mut u8, layout) }
    }
}

fn pack(bytes: Vec<u8>) -> i64 {
    let mut bytes = bytes.into_boxed_slice();
    let len = bytes.len();
    let ptr = bytes.as_mut_ptr() as u32;
    std::mem::forget(bytes);
    // a boxed slice of len bytes has the layout `alloc` uses, so `dealloc(ptr, len)` frees it
    if len == 0 {
        return 0;
    }
    (i64::from(ptr) << 32) | (len as i64 & 0xffff_ffff)
}

/// Evaluates the JSON input at `ptr..ptr+len`; returns the packed JSON answer.
#[no_mangle]
pub extern "C" fn evaluate(ptr: i32, len: i32) -> i64 {
    let input: &[u8] = match (usize::try_from(len), ptr) {
        (Ok(0), _) => &[],
        (Ok(n), p) if p != 0 => {
            // SAFETY: the host wrote `len` bytes at `ptr`, a block from `alloc`.
            unsafe { std::slice::from_raw_parts(p as usize as *const u8, n) }
        }
        _ => &[],
    };
    // serialised straight from the report: no intermediate JSON value
    pack(crate::evaluate_to_json(input))
}

/// The rule catalogue as JSON, packed like `evaluate`'s result.
#[no_mangle]
pub extern "C" fn rules() -> i64 {
    pack(serde_json::to_vec(&crate::catalogue()).unwrap_or_default())
}
