//! Link arguments for the OPA module: hosts hand the module its memory, so
//! the memory is imported and re-exported for the hosts that read it through
//! the instance. The stack comes first (an overflow traps below address 0
//! instead of overwriting data): 64 KiB, of which the deepest JSON
//! serde_json accepts (128 levels, parsed recursively) uses about 35 KiB
//! (wasm-tests checks it). Some hosts give exactly the 2 pages `opa build`
//! modules ask for (opa-py-wasm); the post-link step (`tools/wasm-post`)
//! has the static data copied in by a start function that grows the memory
//! first, so the module imports 2 pages whatever the size of its data.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        for arg in ["--import-memory", "--export-memory", "-zstack-size=65536"] {
            println!("cargo:rustc-cdylib-link-arg={arg}");
        }
    }
}
