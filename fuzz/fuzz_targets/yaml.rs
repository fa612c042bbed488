//! The YAML loader with positions (`portcullis::yaml`) and the YAML check
//! (`portcullis::yamlcheck`): no panic; every document, error and finding
//! points inside the input; a JSON text loads as the value serde_json reads.
#![no_main]

use portcullis::yaml::load;
use portcullis::yamlcheck::check_text;
use portcullis_fuzz::same_json;
use serde_json::Value;

/// Lines of the text as YAML counts them (a line ends at `\n`, `\r\n` or a
/// lone `\r`), the last one counted even without its line break.
fn lines(text: &str) -> usize {
    text.replace("\r\n", "\n").split(['\n', '\r']).count()
}

fn inside(text: &str, line: usize, column: usize, what: &str) {
    let n = lines(text);
    assert!(
        (1..=n).contains(&line) && column >= 1,
        "{what} at line {line}, column {column} is outside a text of {n} lines"
    );
}

/// JSON Pointers of the first nodes of a value, in document order.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    if out.len() >= 64 {
        return;
    }
    out.push(at.clone());
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(item, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let docs = load(text);
    for (i, doc) in docs.iter().enumerate() {
        assert_eq!(doc.index, i, "documents are numbered in order");
        assert!(
            text.get(doc.range.clone()).is_some(),
            "document {i}'s range {:?} is not a slice of the text",
            doc.range
        );
        inside(text, doc.line, 1, "a document");
        match &doc.value {
            Ok(v) => {
                let mut ps = Vec::new();
                pointers(v, String::new(), &mut ps);
                for p in ps {
                    let pos = doc.position(&p);
                    inside(text, pos.line, pos.column, &format!("node {p}"));
                }
            }
            Err(e) => {
                inside(text, e.line, e.column, "an error");
                assert!(!e.message.is_empty(), "an error without a message");
            }
        }
    }
    // a JSON text is one document holding what serde_json reads
    if let Ok(json) = serde_json::from_str::<Value>(text) {
        if !json.is_null() {
            match docs.as_slice() {
                [one] => match &one.value {
                    Ok(v) => assert!(
                        same_json(v, &json),
                        "the YAML loader reads {v} where JSON is {json}"
                    ),
                    Err(e) => panic!("valid JSON does not load as YAML: {e}"),
                },
                _ => panic!("valid JSON loads as {} documents", docs.len()),
            }
        }
    }
    if let Ok(report) = check_text(text, None) {
        for f in &report.findings {
            inside(text, f.line, f.column, "a finding");
        }
        for e in report.errors.iter().chain(&report.skipped) {
            inside(text, e.line, e.column, "a document error");
        }
        let v = report.to_value();
        assert_eq!(
            v["summary"]["errors"].as_u64(),
            Some(report.errors.len() as u64),
            "the summary counts every broken document"
        );
    }
});
