//! Post-link steps for the wasm artifacts, run by the Makefile:
//! `wasm-post <step> <args…>`. Each step lives in its own module.

mod kubewarden;
mod memory;
mod opa;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((step, rest)) = args.split_first() else {
        anyhow::bail!("usage: wasm-post <step> <args…>");
    };
    match step.as_str() {
        "help" | "--help" => {
            println!("wasm-post <step> <args…>");
            Ok(())
        }
        "opa" => opa::run(rest),
        "kubewarden" => kubewarden::run(rest),
        other => {
            anyhow::bail!("unknown step `{other}`; usage: wasm-post <step> <args…> ({rest:?})")
        }
    }
}
