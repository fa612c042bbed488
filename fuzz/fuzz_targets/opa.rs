//! The OPA binding's natively compilable parts: its value parser
//! (`opa_json_parse`, `opa_value_parse` and the dumps) and its entrypoints
//! (`opa_eval` without the wasm heap, which exists on wasm32 only). Input:
//! an entrypoint byte, the input text, a NUL, the data text.
#![no_main]

use portcullis_fuzz::same_json;
use portcullis_opa::entry::{run, MAIN, REPORT, RESPONSE, VIOLATION};
use portcullis_opa::value::{parse_json, parse_rego, Term};
use serde_json::Value;

/// The same term, numbers read back to within one unit in the last place
/// (serde_json's float reading).
fn same(a: Option<&Term>, b: Option<&Term>) -> bool {
    match (a, b) {
        (Some(Term::Json(a)), Some(Term::Json(b))) => same_json(a, b),
        (Some(Term::Set(a)), Some(Term::Set(b))) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_json(a, b))
        }
        (None, None) => true,
        _ => false,
    }
}

fn read(text: &[u8]) -> Option<Term> {
    let json = parse_json(text);
    let rego = parse_rego(text);
    if json.is_some() {
        assert_eq!(
            json, rego,
            "opa_value_parse reads JSON unlike opa_json_parse"
        );
    }
    if let Some(term) = &rego {
        // what the module dumps, it reads back
        let (as_rego, as_json) = (term.to_rego(), term.to_json());
        assert!(
            same(parse_rego(as_rego.as_bytes()).as_ref(), Some(term)),
            "{as_rego} reads back as another term than {term:?}"
        );
        assert!(
            same(parse_json(as_json.as_bytes()).as_ref(), Some(term)),
            "{as_json} reads back as another term than {term:?}"
        );
    }
    rego
}

fn violation_list(v: &Value) {
    let Some(items) = v.as_array() else {
        panic!("a violation list that is not a list: {v}")
    };
    for item in items {
        assert!(item.get("msg").and_then(Value::as_str).is_some(), "{item}");
        assert!(item.get("details").is_some_and(Value::is_object), "{item}");
    }
}

fn admission_review(v: &Value) {
    let response = &v["response"];
    assert_eq!(v["kind"], "AdmissionReview", "{v}");
    assert!(response["uid"].is_string(), "{v}");
    let Some(allowed) = response["allowed"].as_bool() else {
        panic!("a response without `allowed`: {v}")
    };
    if !allowed {
        assert!(
            matches!(response["status"]["code"].as_u64(), Some(400 | 403)),
            "{v}"
        );
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let entrypoint = i32::from(first % 6) - 1;
    let cut = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    let (input, data) = rest.split_at(cut);
    let input = read(input);
    let data = data.get(1..).and_then(read);
    let answer = run(
        entrypoint,
        input.as_ref().and_then(Term::as_json),
        data.as_ref().and_then(Term::as_json),
    );
    let Some(answer) = answer else {
        assert!(
            !(0..=3).contains(&entrypoint),
            "entrypoint {entrypoint} has no result"
        );
        return;
    };
    match entrypoint {
        VIOLATION => violation_list(&answer),
        RESPONSE => admission_review(&answer),
        REPORT => portcullis_fuzz::check_shape(&answer),
        MAIN if answer.is_array() => violation_list(&answer),
        MAIN if answer.get("response").is_some() => admission_review(&answer),
        MAIN => portcullis_fuzz::check_shape(&answer),
        other => panic!("entrypoint {other} answered {answer}"),
    }
});
