//! Link arguments for the OPA module: hosts hand the module its memory
//! (5 pages in npm and Kubewarden), so the memory is imported, re-exported for
//! the hosts that read it through the instance, and the stack must be small
//! enough for the whole static image to fit below 5 pages.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        for arg in ["--import-memory", "--export-memory", "-zstack-size=65536"] {
            println!("cargo:rustc-cdylib-link-arg={arg}");
        }
    }
}
