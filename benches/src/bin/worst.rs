//! Each rule's worst input under wasmtime at 1× and 8× of its limit, for one
//! or several builds of the generic module side by side in one run (say, the
//! module before and after a fix). `make bench` reports the current build.
//!
//! Usage: worst [--wasm MODULE]… [RULE-ID-SUBSTRING…]
//! (default module: dist/portcullis.wasm)

use anyhow::{Context as _, Result};
use portcullis_bench::wasm::Generic;
use portcullis_bench::worst::{measure, WORST};
use std::path::PathBuf;

fn main() -> Result<()> {
    let mut modules: Vec<PathBuf> = Vec::new();
    let mut filters: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--wasm" {
            modules.push(args.next().context("--wasm needs a path")?.into());
        } else {
            filters.push(a);
        }
    }
    if modules.is_empty() {
        modules.push("dist/portcullis.wasm".into());
    }
    let generics: Vec<Generic> = modules
        .iter()
        .map(|m| Generic::load_interruptible(m))
        .collect::<Result<_>>()?;
    let mut header = "| rule | 8× input |".to_string();
    let mut rule_line = "|---|---|".to_string();
    for m in &modules {
        header.push_str(&format!(
            " {0} 1× ms | {0} 8× ms | {0} no rule ms | {0} exponent | {0} findings |",
            m.file_stem().and_then(|s| s.to_str()).unwrap_or("?")
        ));
        rule_line.push_str("---|---|---|---|---|");
    }
    println!("{header}\n{rule_line}");
    for w in WORST {
        if !filters.is_empty() && !filters.iter().any(|f| w.rule.contains(f.as_str())) {
            continue;
        }
        let mut line = String::new();
        for (i, g) in generics.iter().enumerate() {
            let row = measure(g, w)?;
            if i == 0 {
                line = format!(
                    "| {} | {} {}, {} KiB |",
                    w.rule,
                    row.units,
                    if row.bundle { "objects" } else { "units" },
                    row.bytes.1 / 1024
                );
            }
            if row.cut_off {
                line.push_str(&format!(
                    " – | cut off after {} s | – | – | – |",
                    portcullis_bench::worst::DEADLINE.as_secs()
                ));
                continue;
            }
            line.push_str(&format!(
                " {:.1} | {:.1} | {:.1} | {:.2} | {} |",
                row.ms.0,
                row.ms.1,
                row.floor_ms,
                row.exponent(),
                row.findings
            ));
        }
        println!("{line}");
    }
    Ok(())
}
