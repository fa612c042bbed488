//! The portcullis rules as a wasm-bindgen module for browsers and Node.
//! Every function takes and returns strings of JSON so the JavaScript side
//! needs no glue beyond `JSON.parse`; none of them throws.

use portcullis::PolicyCache;
use serde_json::Value;
use wasm_bindgen::prelude::wasm_bindgen;

/// The module's memory lives as long as the page: settings sent again and
/// again are compiled once.
static CACHE: PolicyCache = PolicyCache::new();

/// The JSON contract: any accepted input shape in, the one answer shape out.
/// The input is the caller's own call, so its settings are the caller's.
#[wasm_bindgen]
pub fn evaluate(input: &str) -> String {
    CACHE.evaluate_bytes(input.as_bytes()).to_string()
}

/// Multi-document YAML in; findings with their document, line and column,
/// and per-document errors, out. `settings` is a JSON settings object.
#[wasm_bindgen(js_name = checkYaml)]
pub fn check_yaml(yaml: &str, settings: Option<String>) -> String {
    check(yaml, settings.as_deref()).to_string()
}

fn check(yaml: &str, settings: Option<&str>) -> Value {
    let settings = match settings.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match portcullis::parse_json(text.as_bytes()) {
            Ok(v) => Some(v),
            // the JSON error names a position in the settings, not the manifest
            Err(e) => return portcullis::Error::settings("(settings)", e.to_string()).to_answer(),
        },
    };
    match portcullis::yamlcheck::check_text(yaml, settings.as_ref()) {
        Ok(report) => report.to_value(),
        Err(e) => e.to_answer(),
    }
}

/// The rule catalogue with each rule's default action per profile.
#[wasm_bindgen]
pub fn rules() -> String {
    portcullis::catalogue().to_string()
}

/// The version of the rules inside this module.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_yaml_reports_lines_and_errors() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  type: NodePort\n---\nkind: [\n";
        let v: Value = serde_json::from_str(&check_yaml(text, None)).unwrap();
        let np = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "service-type-nodeport")
            .unwrap();
        assert_eq!(np["line"], 5);
        assert_eq!(v["errors"][0]["document"], 1);
    }

    #[test]
    fn bad_settings_are_an_error_answer() {
        let v: Value = serde_json::from_str(&check_yaml("kind: A", Some("{".into()))).unwrap();
        assert_eq!(v["allowed"], false);
        assert!(v["error"]["message"].is_string());
        let v: Value = serde_json::from_str(&check_yaml(
            "kind: A",
            Some(r#"{"profile": "nope"}"#.into()),
        ))
        .unwrap();
        assert!(v["error"]["message"].as_str().unwrap().contains("profile"));
    }

    #[test]
    fn evaluate_and_catalogue() {
        let v: Value = serde_json::from_str(&evaluate(
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"type":"NodePort"}}"#,
        ))
        .unwrap();
        assert_eq!(v["allowed"], false);
        let c: Value = serde_json::from_str(&rules()).unwrap();
        assert!(c["rules"].as_array().unwrap().len() >= 2);
        assert_eq!(version(), env!("CARGO_PKG_VERSION"));
    }
}
