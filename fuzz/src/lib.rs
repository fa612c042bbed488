//! The invariants the fuzz targets check on every input, beyond "no crash":
//! the answer has the contract's shape (README, "The JSON contract"), the
//! cached and uncached entries agree byte for byte, every finding's `path`
//! resolves in the object it names, and every `fix` applies with
//! `portcullis::patch` and takes its finding away (counted as the YAML fix
//! test counts it, with `portcullis::cases::unfixed`).
//!
//! A broken invariant panics: libFuzzer records the input as a crash.

pub mod mutate;

use portcullis::cases::unfixed;
use portcullis::rules::RULES;
use portcullis::{detect, evaluate, Host, PolicyCache, Report};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Kept between inputs, as the generic module and Kubewarden keep theirs.
static CACHE: PolicyCache = PolicyCache::new();

/// Fixes tried per input: each costs one more evaluation.
const FIXES_TRIED: usize = 4;
/// Findings listed per rule, object and action (README: the rest are counted).
const LISTED_PER_RULE: usize = 20;

/// Every check of the generic JSON entry on one input.
pub fn check_evaluate(data: &[u8]) {
    let answer = portcullis::evaluate_to_json(data);
    let cached = CACHE.evaluate_to_json(data);
    assert!(
        answer == cached,
        "the cached entry answers differently:\n{}\n{}",
        String::from_utf8_lossy(&answer),
        String::from_utf8_lossy(&cached)
    );
    let parsed: Value = match serde_json::from_slice(&answer) {
        Ok(v) => v,
        Err(e) => panic!(
            "the answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&answer)
        ),
    };
    let as_value = portcullis::evaluate_bytes(data);
    assert!(
        same_json(&parsed, &as_value),
        "evaluate_bytes and evaluate_to_json disagree:\n{parsed}\n{as_value}"
    );
    check_shape(&parsed);
    match portcullis::parse_json(data) {
        Ok(input) => check_findings(&input, Host::default(), &parsed),
        Err(e) => assert_eq!(parsed, e.to_answer(), "a parse error is answered as such"),
    }
}

/// How far apart, in units in the last place, two readings of one number
/// may be. serde_json's default float reading is best-effort, not correctly
/// rounded: it reads `9.222322423322433e+48` (the shortest text of a value it
/// read from `9222322423322434e33`) 2 units below that value. Its exact
/// reading (`float_roundtrip`) costs 18 KB in each wasm module, and no rule
/// reads a float; so a dumped float reads back within this bound.
const FLOAT_ULPS: f64 = 4.0;

/// Equal JSON, numbers compared as the same f64 to within `FLOAT_ULPS`.
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y
                || match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => {
                        (x - y).abs() <= FLOAT_ULPS * f64::EPSILON * x.abs().max(y.abs())
                    }
                    _ => false,
                }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

fn keys_within(map: &Map<String, Value>, allowed: &[&str], what: &str) {
    for k in map.keys() {
        assert!(
            allowed.contains(&k.as_str()),
            "{what} has an unexpected member `{k}`"
        );
    }
}

fn string_at<'v>(v: &'v Value, key: &str, what: &str) -> &'v str {
    match v.get(key).and_then(Value::as_str) {
        Some(s) => s,
        None => panic!("{what} has no string `{key}`: {v}"),
    }
}

fn count_at(v: &Value, key: &str) -> usize {
    match v.get(key).and_then(Value::as_u64) {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => panic!("no count `{key}` in {v}"),
    }
}

/// The answer of the generic entry has the contract's shape.
pub fn check_shape(answer: &Value) {
    let Some(top) = answer.as_object() else {
        panic!("the answer is not an object: {answer}")
    };
    let Some(allowed) = top.get("allowed").and_then(Value::as_bool) else {
        panic!("the answer has no boolean `allowed`: {answer}")
    };
    if let Some(error) = top.get("error") {
        keys_within(top, &["allowed", "error"], "an error answer");
        assert!(!allowed, "an error answer must deny: {answer}");
        check_error(error);
        return;
    }
    keys_within(
        top,
        &[
            "allowed",
            "violations",
            "warnings",
            "exempted",
            "truncated",
            "summary",
        ],
        "the answer",
    );
    let list = |key: &str| match top.get(key) {
        Some(Value::Array(items)) => items.as_slice(),
        None if matches!(key, "exempted" | "truncated") => &[],
        other => panic!("`{key}` is not a list: {other:?}"),
    };
    let (violations, warnings) = (list("violations"), list("warnings"));
    let mut listed: HashMap<(String, String, String), usize> = HashMap::new();
    for (items, action) in [(violations, "deny"), (warnings, "warn")] {
        for f in items {
            check_finding(f, action);
            let key = (
                f.get("rule").map(Value::to_string).unwrap_or_default(),
                f.get("object").map(Value::to_string).unwrap_or_default(),
                action.to_string(),
            );
            *listed.entry(key).or_insert(0) += 1;
        }
    }
    let mut unlisted = HashMap::new();
    for t in list("truncated") {
        let Some(m) = t.as_object() else {
            panic!("a truncated entry is not an object: {t}")
        };
        keys_within(
            m,
            &["rule", "object", "action", "listed", "unlisted"],
            "a truncated entry",
        );
        let action = string_at(t, "action", "a truncated entry");
        let key = (
            t.get("rule").map(Value::to_string).unwrap_or_default(),
            t.get("object").map(Value::to_string).unwrap_or_default(),
            action.to_string(),
        );
        // objects of one identity (copies in one bundle) share the key
        let left = listed.entry(key).or_insert(0);
        assert!(
            *left >= count_at(t, "listed"),
            "a truncated entry's `listed` is more than is listed: {t}"
        );
        *left -= count_at(t, "listed");
        assert!(count_at(t, "unlisted") > 0, "nothing unlisted: {t}");
        *unlisted.entry(action.to_string()).or_insert(0) += count_at(t, "unlisted");
    }
    for e in list("exempted") {
        let Some(m) = e.as_object() else {
            panic!("an exemption is not an object: {e}")
        };
        keys_within(m, &["rule", "object", "path", "reason"], "an exemption");
        string_at(e, "reason", "an exemption");
    }
    let Some(summary) = top.get("summary").and_then(Value::as_object) else {
        panic!("the answer has no summary: {answer}")
    };
    keys_within(
        summary,
        &["objects", "denied", "warned", "exempted"],
        "the summary",
    );
    let summary = Value::Object(summary.clone());
    let denied = count_at(&summary, "denied");
    assert_eq!(
        denied,
        violations.len() + unlisted.get("deny").copied().unwrap_or(0),
        "summary.denied does not count every denial: {answer}"
    );
    assert_eq!(
        count_at(&summary, "warned"),
        warnings.len() + unlisted.get("warn").copied().unwrap_or(0),
        "summary.warned does not count every warning: {answer}"
    );
    count_at(&summary, "objects");
    if !allowed {
        assert!(denied > 0, "denied without a denial: {answer}");
    }
}

fn check_error(error: &Value) {
    let code = string_at(error, "code", "an error");
    assert!(
        matches!(
            code,
            "invalid-utf8"
                | "invalid-json"
                | "invalid-input"
                | "invalid-settings"
                | "settings-in-input"
                | "invalid-object"
        ),
        "unknown error code `{code}`"
    );
    assert!(
        !string_at(error, "message", "an error").is_empty(),
        "an error without a message"
    );
    match code {
        "invalid-json" => {
            assert!(count_at(error, "line") >= 1, "a JSON error on line 0");
            count_at(error, "column");
        }
        // the key may be empty: settings can hold a member named ""
        "invalid-settings" => {
            string_at(error, "key", "a settings error");
        }
        "settings-in-input" | "invalid-object" => {
            string_at(error, "path", "an error");
        }
        _ => {}
    }
}

fn check_finding(f: &Value, action: &str) {
    let Some(m) = f.as_object() else {
        panic!("a finding is not an object: {f}")
    };
    keys_within(
        m,
        &[
            "rule", "severity", "action", "message", "object", "path", "fix",
        ],
        "a finding",
    );
    let rule = string_at(f, "rule", "a finding");
    assert!(
        RULES.iter().any(|r| r.meta().id == rule),
        "unknown rule `{rule}`"
    );
    assert!(matches!(
        string_at(f, "severity", "a finding"),
        "low" | "medium" | "high" | "critical"
    ));
    assert_eq!(
        string_at(f, "action", "a finding"),
        action,
        "a finding in the wrong list: {f}"
    );
    assert!(!string_at(f, "message", "a finding").is_empty());
    let path = string_at(f, "path", "a finding");
    assert!(
        path.is_empty() || path.starts_with('/'),
        "`{path}` is not a JSON Pointer"
    );
    let Some(object) = f.get("object").and_then(Value::as_object) else {
        panic!("a finding names no object: {f}")
    };
    keys_within(
        object,
        &["apiVersion", "kind", "namespace", "name"],
        "a finding's object",
    );
    let object = Value::Object(object.clone());
    for k in ["apiVersion", "kind", "name"] {
        string_at(&object, k, "a finding's object");
    }
    if let Some(fix) = f.get("fix") {
        let Some(ops) = fix.as_array().filter(|ops| !ops.is_empty()) else {
            panic!("a fix is not a non-empty JSON Patch: {fix}")
        };
        for op in ops {
            let kind = string_at(op, "op", "a fix operation");
            assert!(
                matches!(
                    kind,
                    "add" | "remove" | "replace" | "move" | "copy" | "test"
                ),
                "unknown op `{kind}`"
            );
            string_at(op, "path", "a fix operation");
        }
    }
}

/// Where each node of `input` is, by address: the pointer of a reviewed
/// object's `raw` in the input, so a fixed copy can be put back in its place.
fn pointer_of(input: &Value, target: *const Value, at: &mut String) -> bool {
    if std::ptr::eq(input, target) {
        return true;
    }
    let len = at.len();
    let found = match input {
        Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
            at.truncate(len);
            at.push_str(&format!("/{i}"));
            pointer_of(v, target, at)
        }),
        Value::Object(map) => map.iter().any(|(k, v)| {
            at.truncate(len);
            at.push('/');
            at.push_str(&k.replace('~', "~0").replace('/', "~1"));
            pointer_of(v, target, at)
        }),
        _ => false,
    };
    if !found {
        at.truncate(len);
    }
    found
}

/// A finding's path names a node of its object, or, for something missing
/// (a flag, a field to add), the place it belongs: the walk may leave the
/// object at a member that is absent (or null), or at the end of an array
/// (`-`), never through a scalar or past an array's items.
fn resolves(object: &Value, path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return path.is_empty();
    };
    let mut at = object;
    for token in rest.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        at = match at {
            Value::Object(map) => match map.get(&token) {
                Some(next) => next,
                None => return true,
            },
            Value::Array(_) if token == "-" => return true,
            Value::Array(items) => match token.parse::<usize>().ok().and_then(|i| items.get(i)) {
                Some(next) => next,
                None => return false,
            },
            Value::Null => return true,
            _ => return false,
        };
    }
    true
}

/// Each finding's path resolves in its object; each fix applies to its
/// object and, put back into the input, takes its finding away.
pub fn check_findings(input: &Value, host: Host<'_>, answer: &Value) {
    if answer.get("error").is_some() {
        return;
    }
    let report: Report = match evaluate(input, host) {
        Ok(r) => r,
        Err(e) => panic!("the JSON answer has no error but evaluate fails: {e}"),
    };
    let before = report.to_value();
    let Ok(review) = detect(input) else {
        panic!("evaluate succeeded on an input detect refuses")
    };
    let mut fixes = 0;
    let mut per_object: HashMap<(&str, usize, &str), usize> = HashMap::new();
    for f in report.findings() {
        let n = per_object
            .entry((f.rule, f.index, f.action.as_str()))
            .or_insert(0);
        *n += 1;
        assert!(
            *n <= LISTED_PER_RULE,
            "more than {LISTED_PER_RULE} {} findings of {} listed on object #{}",
            f.action.as_str(),
            f.rule,
            f.index
        );
        let Some(obj) = review.objects.iter().find(|o| o.index == f.index) else {
            panic!(
                "finding {} names object #{} which is not reviewed",
                f.rule, f.index
            )
        };
        assert!(
            resolves(obj.raw, &f.path),
            "{}: path `{}` does not resolve in {}",
            f.rule,
            f.path,
            obj.raw
        );
        let Some(fix) = &f.fix else { continue };
        let mut fixed = obj.raw.clone();
        if let Err(e) = portcullis::patch::apply(&mut fixed, fix) {
            panic!(
                "{}: the fix {} does not apply to {}: {e}",
                f.rule,
                Value::Array(fix.clone()),
                obj.raw
            );
        }
        if fixes == FIXES_TRIED {
            continue;
        }
        fixes += 1;
        let mut at = String::new();
        if !pointer_of(input, obj.raw, &mut at) {
            continue;
        }
        let mut next = input.clone();
        if let Some(slot) = next.pointer_mut(&at) {
            *slot = fixed;
        }
        let after = match evaluate(&next, host) {
            Ok(r) => r.to_value(),
            Err(e) => panic!("{}: the fixed input fails: {e}", f.rule),
        };
        let written = serde_json::to_value(f).unwrap_or(Value::Null);
        let left = unfixed(&before, &after, std::slice::from_ref(&written));
        assert!(
            left.is_empty(),
            "{}\nfix {} at {at}",
            left.join("\n"),
            Value::Array(fix.clone())
        );
    }
}
