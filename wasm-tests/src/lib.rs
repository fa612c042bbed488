//! Shared helpers for the wasm artifact tests: where the artifacts are, and
//! the cases every host must agree on.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A built artifact under `dist/`; tests fail with a hint when it is missing.
pub fn artifact(name: &str) -> PathBuf {
    let path = root().join("dist").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `make wasm` first",
        path.display()
    );
    path
}
