//! Exports every rule case and conformance case with the native answers, so
//! the Node tests can hold the wasm module to exactly the same verdicts.

use portcullis::cases::{self, Case, Expect};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn export(case: &Case, yaml: Option<String>) -> Value {
    let input = case.input();
    let native = portcullis::evaluate_bytes(input.to_string().as_bytes());
    let mut out = json!({
        "rule": case.rule,
        "name": case.name,
        "expect": match case.expect { Expect::Allow => "allow", Expect::Deny => "deny" },
        "count": case.count,
        "expectation": case.expectation(),
        "settings": case.settings,
        "input": input.to_string(),
        "native": native,
    });
    if let (Some(text), Some(m)) = (yaml, out.as_object_mut()) {
        let native_yaml = match portcullis::yamlcheck::check_text(&text, Some(&case.settings)) {
            Ok(r) => r.to_value(),
            Err(e) => e.to_answer(),
        };
        m.insert("yaml".into(), Value::String(text));
        m.insert("nativeYaml".into(), native_yaml);
    }
    out
}

fn main() {
    let root = root();
    let mut list = Vec::new();
    let policy = match cases::policy_cases(&root.join("policies")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    for case in &policy {
        // a case with an inventory needs the JSON contract: as YAML it is one bundle
        let text = case
            .inventory
            .is_empty()
            .then(|| std::fs::read_to_string(root.join(&case.name)).ok())
            .flatten();
        list.push(export(case, text));
    }
    let conformance = match cases::conformance_corpus(&root) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut conf = 0;
    if let Some(conformance) = conformance {
        match cases::conformance_cases(&conformance) {
            Ok((c, _)) => {
                conf = c.len();
                // conformance cases may carry an inventory: the JSON contract only
                list.extend(c.iter().map(|case| export(case, None)));
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
    let out = root.join("target/web-cases.json");
    let doc = json!({"version": env!("CARGO_PKG_VERSION"), "cases": list});
    if let Err(e) = std::fs::write(&out, doc.to_string()) {
        eprintln!("{}: {e}", out.display());
        std::process::exit(1);
    }
    println!(
        "wrote {} ({} rule cases, {} conformance cases)",
        out.display(),
        policy.len(),
        conf
    );
}
