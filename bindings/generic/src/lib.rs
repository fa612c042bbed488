//! `portcullis.wasm`: the portcullis rules behind the generic JSON ABI, for
//! any wasm runtime. No imports; exports `memory`, `alloc(len) -> ptr`,
//! `dealloc(ptr, len)`, `evaluate(ptr, len) -> ptr << 32 | len` and
//! `rules() -> ptr << 32 | len`. Results belong to the caller, who frees
//! them with `dealloc`.
//!
//! The host hands back pointers and lengths it may have got wrong, so every
//! block this module gives out is recorded ([`Blocks`]): `dealloc` frees only
//! a block it knows with the length it knows, and `evaluate` reads only
//! inside such a block. A wrong pointer is answered, never a trap and never
//! a corrupted allocator.

mod blocks;

pub use blocks::Blocks;

#[cfg(target_arch = "wasm32")]
mod abi;
