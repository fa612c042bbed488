//! Link arguments for the OPA module: hosts hand the module its memory, so
//! the memory is imported and re-exported for the hosts that read it through
//! the instance. Some hosts give exactly the 2 pages `opa build` modules ask
//! for (opa-py-wasm), so the static image (the stack, then the data) must fit
//! in 128 KiB: a 48 KiB stack, of which the deepest JSON serde_json accepts
//! (128 levels, parsed recursively) uses about 35 KiB, leaves the data about
//! 80 KiB (wasm-tests checks both).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        for arg in ["--import-memory", "--export-memory", "-zstack-size=49152"] {
            println!("cargo:rustc-cdylib-link-arg={arg}");
        }
    }
}
