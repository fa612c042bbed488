//! Writes every per-rule case and every conformance case, with the native
//! verdict, to `target/cases.json`, so hosts that cannot read the YAML case
//! files (Node, browsers) run exactly the same cases.
//!
//! The file is a JSON array; each element is one case:
//!
//! ```text
//! {
//!   "name":      "policies/<rule>/<file>" or "conformance #i <file> [<rule>]",
//!   "rule":      the rule the case is about,
//!   "expect":    "allow" | "deny" (deny: at least one finding of `rule`;
//!                allow: no denial of `rule`),
//!   "count":     exact number of findings of `rule`, or null,
//!   "expectation": {rule, audit, expect, count, findings}: `findings` lists
//!                every finding of `rule` the case states (action, object,
//!                path, fix), or is null when it states none,
//!   "settings":  the settings object (the case's rule set to deny unless stated),
//!   "objects":   the plain objects of the bundle ([] for an admission request),
//!   "inventory": extra objects known to the rules ([] when none),
//!   "request":   the AdmissionRequest, or null,
//!   "input":     the whole case as one native input (envelope or {request, settings}),
//!   "native":    the native library's answer for `input` (report or error answer)
//! }
//! ```
//!
//! Usage: `cargo run -p wasm-tests --bin export-cases [out.json]`.

use portcullis::cases::{conformance_cases, conformance_corpus, policy_cases, Case, Expect};
use portcullis::{evaluate, Host};
use serde_json::{json, Value};

fn export(case: &Case) -> Value {
    let input = case.input();
    let native = match evaluate(&input, Host::default()) {
        Ok(r) => r.to_value(),
        Err(e) => e.to_answer(),
    };
    json!({
        "name": case.name,
        "rule": case.rule,
        "expect": match case.expect { Expect::Allow => "allow", Expect::Deny => "deny" },
        "count": case.count,
        "expectation": case.expectation(),
        "settings": case.settings,
        "objects": case.objects,
        "inventory": case.inventory,
        "request": case.request,
        "input": input,
        "native": native,
    })
}

fn main() -> Result<(), String> {
    let root = wasm_tests::root();
    let mut cases = policy_cases(&root.join("policies"))?;
    let (conformance, skipped) = match conformance_corpus(&root)? {
        Some(dir) => conformance_cases(&dir)?,
        None => (Vec::new(), 0),
    };
    cases.extend(conformance);
    let out = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("cases.json"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let all: Vec<Value> = cases.iter().map(export).collect();
    let text = serde_json::to_string(&all).map_err(|e| e.to_string())?;
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "{}: {} cases ({skipped} conformance cases skipped: rule not in this build)",
        out.display(),
        all.len()
    );
    Ok(())
}
