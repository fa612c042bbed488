//! Benchmarks of portcullis against the engines people run today: the
//! inputs, a timing loop, the wasmtime hosts, the Rego twin and the CLI run.
//! `src/bin/report.rs` drives them and writes BENCHMARKS.md.

pub mod cli;
pub mod inputs;
pub mod kubewarden;
pub mod measure;
pub mod rego;
pub mod wasm;
pub mod worst;
