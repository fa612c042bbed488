//! The exports of `portcullis.wasm`.

use crate::Blocks;
use portcullis::{Error, PolicyCache};
use std::alloc::{alloc as raw_alloc, dealloc as raw_dealloc, Layout};
use std::sync::{Mutex, PoisonError};

/// Hosts send the same settings with every request: compiled once, kept.
static CACHE: PolicyCache = PolicyCache::new();

static BLOCKS: Mutex<Blocks> = Mutex::new(Blocks::new());

fn blocks() -> std::sync::MutexGuard<'static, Blocks> {
    BLOCKS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn layout(len: usize) -> Option<Layout> {
    Layout::from_size_align(len.max(1), 1).ok()
}

/// Allocates `len` bytes for the host to write into. 0 when out of memory.
#[no_mangle]
pub extern "C" fn alloc(len: i32) -> i32 {
    let Some((len, layout)) = usize::try_from(len)
        .ok()
        .and_then(|n| layout(n).map(|l| (n, l)))
    else {
        return 0;
    };
    // SAFETY: layout has a non-zero size.
    let ptr = unsafe { raw_alloc(layout) };
    if ptr.is_null() {
        return 0;
    }
    blocks().insert(ptr as usize, len);
    ptr as i32
}

/// Frees a block from `alloc` or a result of `evaluate`/`rules`. A pointer
/// or length the module did not hand out is ignored.
#[no_mangle]
pub extern "C" fn dealloc(ptr: i32, len: i32) {
    let (start, Ok(len)) = (ptr as u32 as usize, usize::try_from(len)) else {
        return;
    };
    if !blocks().remove(start, len) {
        return;
    }
    if let Some(layout) = layout(len) {
        // SAFETY: the block was allocated here with this very layout and is freed once.
        unsafe { raw_dealloc(start as *mut u8, layout) }
    }
}

fn pack(bytes: Vec<u8>) -> i64 {
    let mut bytes = bytes.into_boxed_slice();
    let len = bytes.len();
    if len == 0 {
        return 0;
    }
    let ptr = bytes.as_mut_ptr() as usize;
    std::mem::forget(bytes);
    // a boxed slice of len bytes has the layout `alloc` uses, so `dealloc(ptr, len)` frees it
    blocks().insert(ptr, len);
    (i64::from(ptr as u32) << 32) | (len as i64 & 0xffff_ffff)
}

/// Evaluates the JSON input at `ptr..ptr+len`; returns the packed JSON answer.
#[no_mangle]
pub extern "C" fn evaluate(ptr: i32, len: i32) -> i64 {
    let start = ptr as u32 as usize;
    let input: &[u8] = match usize::try_from(len) {
        Ok(0) => &[],
        Ok(n) if blocks().contains(start, n) => {
            // SAFETY: the range lies inside a live block this module allocated.
            unsafe { std::slice::from_raw_parts(start as *const u8, n) }
        }
        _ => {
            let error = Error::input(format!(
                "evaluate({ptr}, {len}): the input must lie inside a block from alloc"
            ));
            return pack(serde_json::to_vec(&error.to_answer()).unwrap_or_default());
        }
    };
    // serialised straight from the report: no intermediate JSON value
    pack(CACHE.evaluate_to_json(input))
}

/// The rule catalogue as JSON, packed like `evaluate`'s result.
#[no_mangle]
pub extern "C" fn rules() -> i64 {
    pack(serde_json::to_vec(&portcullis::catalogue()).unwrap_or_default())
}
