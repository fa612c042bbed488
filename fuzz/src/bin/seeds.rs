//! Writes the seed corpora of every target from the case files under
//! `policies/<rule>/` and the example shop: `seeds <dir>` fills
//! `<dir>/<target>/`, one file per distinct seed, named by its hash.

use portcullis::cases::{policy_cases, read_documents, Case};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// FNV-1a: a stable name for a seed, so rewriting the seeds changes nothing.
fn name(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("seed-{hash:016x}")
}

fn json(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn joined(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&0u8)
}

/// The files this reads: YAML (and JSON) under a folder.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    portcullis::cases::files_under(dir, &["yaml", "yml", "json"], out);
}

/// The case as Gatekeeper hands it to the OPA module: input and data.
fn opa_parts(case: &Case) -> (Value, Value) {
    let input = match &case.request {
        Some(req) => json!({"review": req}),
        None => json!({"review": {"object": case.objects.first().cloned().unwrap_or(Value::Null)}}),
    };
    let mut data = case.settings.clone();
    if !case.inventory.is_empty() {
        if let Some(m) = data.as_object_mut() {
            m.insert("inventory".into(), Value::Array(case.inventory.clone()));
        }
    }
    (input, data)
}

fn main() -> Result<(), String> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: seeds <output directory>")?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cases = policy_cases(&root.join("policies"))?;
    let mut seeds: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
    let mut add =
        |target: &'static str, bytes: Vec<u8>| seeds.entry(target).or_default().push(bytes);
    for (i, case) in cases.iter().enumerate() {
        let input = json(&case.input());
        add("evaluate", input.clone());
        add("structured", joined(&[&input, b""]));
        add("settings", json(&case.settings));
        let (opa_input, opa_data) = opa_parts(case);
        let entrypoint = u8::try_from(i % 4 + 1).unwrap_or(1);
        add(
            "opa",
            [
                &[entrypoint][..],
                &joined(&[&json(&opa_input), &json(&opa_data)]),
            ]
            .concat(),
        );
        if let Some(req) = &case.request {
            let payload = json(&json!({"request": req, "settings": case.settings}));
            let answer = json(&json!({"items": case.inventory}));
            add(
                "kubewarden",
                [&[0, 0][..], &joined(&[&payload, &answer])].concat(),
            );
        }
        if let Some(file) = &case.file {
            if let Ok(text) = std::fs::read(file) {
                add("yaml", text);
            }
        }
    }
    let mut files = Vec::new();
    yaml_files(&root.join("examples"), &mut files);
    yaml_files(&root.join("policies/profiles"), &mut files);
    yaml_files(&root.join("policies/kubewarden"), &mut files);
    yaml_files(&root.join("policies/opa"), &mut files);
    for file in &files {
        if let Ok(text) = std::fs::read(file) {
            add("yaml", text);
        }
        let Ok(docs) = read_documents(file) else {
            continue;
        };
        let bundle = json(&Value::Array(docs.clone()));
        if file.starts_with(root.join("examples")) {
            add("evaluate", bundle.clone());
            add("structured", joined(&[&bundle, b""]));
            add("yaml", bundle);
        } else if file.starts_with(root.join("policies/profiles")) {
            for d in &docs {
                add("settings", json(d));
                add("kubewarden", [&[1, 0][..], &json(d)].concat());
            }
        } else {
            // the policies' own settings, as Kubewarden and Gatekeeper carry them
            for d in &docs {
                for at in ["/spec/settings", "/spec/parameters"] {
                    if let Some(s) = d.pointer(at) {
                        add("settings", json(s));
                        add("kubewarden", [&[1, 0][..], &json(s)].concat());
                    }
                }
            }
        }
    }
    let mut total = 0;
    for (target, list) in &seeds {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut written = std::collections::BTreeSet::new();
        for bytes in list {
            let file = dir.join(name(bytes));
            if written.insert(file.clone()) {
                std::fs::write(&file, bytes).map_err(|e| format!("{}: {e}", file.display()))?;
            }
        }
        println!("{target}: {} seeds", written.len());
        total += written.len();
    }
    println!("{total} seeds in {}", out.display());
    Ok(())
}
