//! `portcullis-opa.wasm`: the portcullis rules behind the OPA WebAssembly
//! guest ABI 1.3, so that OPA, its SDKs and Kubewarden's `gatekeeper` and
//! `opa` modes load the module as they would a policy built by
//! `opa build -t wasm`. The module imports only `env.memory`, `opa_abort` and
//! `opa_println`. Entrypoints and answer shapes live in `entry`; the ABI
//! (heap, value addresses, exports) in `heap` and `abi`, on wasm32 only.

pub mod entry;
pub mod value;

#[cfg(target_arch = "wasm32")]
mod abi;
#[cfg(target_arch = "wasm32")]
mod heap;
