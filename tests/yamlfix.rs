//! Every fix the rules suggest, written into the YAML text of every case file,
//! the example shop and the peers' samples: each must land (or be skipped as
//! already done by another finding's fix), keep every other document as it
//! was, and leave a text on which the fixed finding is gone.

use portcullis::cases::unfixed;
use portcullis::yamlcheck::check_text;
use portcullis::yamlfix::apply_fixes;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The files this reads: YAML (and JSON) under a folder.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    portcullis::cases::files_under(dir, &["yaml", "yml"], out);
}

#[test]
fn every_suggested_fix_is_written_into_the_text() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    yaml_files(&root.join("policies"), &mut files);
    yaml_files(&root.join("examples"), &mut files);
    if let Ok(dir) = std::env::var("PORTCULLIS_CONFORMANCE") {
        yaml_files(Path::new(&dir), &mut files);
    }
    let (mut fixes, mut applied, mut files_with_fixes) = (0, 0, 0);
    let mut problems = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let Ok(report) = check_text(&text, None) else {
            continue;
        };
        let report = report.to_value();
        let with_fix: Vec<Value> = report["findings"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter(|f| f.get("fix").is_some())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if with_fix.is_empty() {
            continue;
        }
        files_with_fixes += 1;
        fixes += with_fix.len();
        let out = apply_fixes(&text, &with_fix);
        applied += out.applied.len();
        for s in &out.skipped {
            // a fix another finding's fix already made is fine; anything else is not
            if !s.reason.contains("no longer applies") {
                problems.push(format!(
                    "{}: finding {}: {}",
                    file.display(),
                    s.finding,
                    s.reason
                ));
            }
        }
        let Ok(after) = check_text(&out.text, None) else {
            problems.push(format!(
                "{}: the fixed text no longer loads",
                file.display()
            ));
            continue;
        };
        let after = after.to_value();
        // every written fix takes its finding away
        let written: Vec<Value> = out
            .applied
            .iter()
            .filter_map(|i| with_fix.get(*i).cloned())
            .collect();
        for problem in unfixed(&report, &after, &written) {
            problems.push(format!("{}: {problem}", file.display()));
        }
        if after["summary"]["errors"] != report["summary"]["errors"] {
            problems.push(format!(
                "{}: the fix changed which documents load",
                file.display()
            ));
        }
    }
    println!("{fixes} fixes in {files_with_fixes} files, {applied} written");
    assert!(fixes > 0 && applied > 0);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
