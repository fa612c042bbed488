//! One bump heap that is the OPA heap: its top is what `opa_heap_ptr_get`
//! returns, and hosts move it back with `opa_heap_ptr_set` to drop
//! everything an evaluation allocated. The global allocator draws from it
//! too, so nothing lives outside the region hosts manage and copy.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 65536;

extern "C" {
    /// First byte after the static image and the stack, set by the linker.
    static __heap_base: u8;
    fn opa_abort(message: *const u8);
}

/// The heap top; 0 until the first allocation or `opa_heap_ptr_set`.
/// Hosts may call any export first, so the heap starts lazily at
/// `__heap_base` and needs no initialiser.
static TOP: AtomicUsize = AtomicUsize::new(0);

pub fn base() -> usize {
    // only the symbol's address is taken, never its contents
    core::ptr::addr_of!(__heap_base) as usize
}

pub fn top() -> usize {
    match TOP.load(Ordering::Relaxed) {
        0 => base(),
        t => t,
    }
}

pub fn set_top(addr: usize) {
    TOP.store(addr, Ordering::Relaxed);
}

/// Reports through `opa_abort`, then traps: some hosts' `opa_abort` returns.
pub fn abort(message: &[u8]) -> ! {
    // SAFETY: `message` is NUL-terminated by every caller.
    unsafe { opa_abort(message.as_ptr()) };
    wasm32::unreachable()
}

/// Makes `end` addressable, growing memory when the host has not.
/// `memory.size` is read every time because hosts grow memory themselves.
fn reserve(end: usize) {
    let have = wasm32::memory_size(0) * PAGE;
    if end <= have {
        return;
    }
    let pages = (end - have).div_ceil(PAGE);
    if wasm32::memory_grow(0, pages) == usize::MAX {
        abort(b"portcullis: out of memory\0");
    }
}

pub fn alloc(size: usize, align: usize) -> *mut u8 {
    let align = align.max(1);
    let start = match top().checked_add(align - 1) {
        Some(t) => t & !(align - 1),
        None => abort(b"portcullis: out of memory\0"),
    };
    let Some(end) = start.checked_add(size).filter(|e| *e <= u32::MAX as usize) else {
        abort(b"portcullis: out of memory\0");
    };
    reserve(end);
    set_top(end);
    start as *mut u8
}

struct Bump;

// SAFETY: blocks never overlap: each comes from above the top, and only the
// block ending at the top is ever given back or grown in place.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        alloc(layout.size(), layout.align())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // the last block goes back; anything else waits for a heap reset
        if ptr as usize + layout.size() == top() {
            set_top(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let at = ptr as usize;
        if at + layout.size() == top() {
            let Some(end) = at.checked_add(new_size).filter(|e| *e <= u32::MAX as usize) else {
                abort(b"portcullis: out of memory\0");
            };
            reserve(end);
            set_top(end);
            return ptr;
        }
        let new = alloc(new_size, layout.align());
        // SAFETY: the new block lies above the old one and holds new_size bytes.
        unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        new
    }
}

#[global_allocator]
static GLOBAL: Bump = Bump;
