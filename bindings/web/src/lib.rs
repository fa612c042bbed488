//! The portcullis rules as a wasm-bindgen module for browsers and Node.
//! Every function takes and returns strings of JSON, so the only values that
//! cross the boundary are strings; the package's JavaScript (`js/`) checks
//! the caller's arguments, turns objects into JSON and answers back parsed
//! objects. None of these functions fails: bad input is an error answer.

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

/// `evaluate` with settings given by the caller beside the input: those are
/// the settings, and settings inside the input need their consent.
#[wasm_bindgen(js_name = evaluateWith)]
pub fn evaluate_with(input: &str, settings: &str) -> String {
    let answer = portcullis::parse_json(input.as_bytes()).and_then(|input| {
        let settings = parse_settings(settings)?;
        let host = portcullis::Host {
            settings: settings.as_ref(),
            inventory: None,
        };
        CACHE.evaluate(&input, host)
    });
    match answer {
        Ok(report) => report.to_value().to_string(),
        Err(e) => e.to_answer().to_string(),
    }
}

/// Writes the fixes of `findings` (a JSON array of located findings, as
/// `checkYaml` reports them) into `yaml`: the new text, the edits in UTF-16
/// offsets and which findings were fixed or skipped, with why.
#[wasm_bindgen(js_name = applyFixes)]
pub fn apply_fixes(yaml: &str, findings: &str) -> String {
    let list = match portcullis::parse_json(findings.as_bytes()) {
        Ok(Value::Array(list)) => list,
        Ok(_) => {
            return portcullis::Error::input("findings: expected an array of findings")
                .to_answer()
                .to_string()
        }
        Err(e) => return e.to_answer().to_string(),
    };
    serde_json::to_string(&portcullis::yamlfix::apply_fixes(yaml, &list))
        .unwrap_or_else(|_| "{\"allowed\":false}".into())
}

/// Multi-document YAML in; findings with their document, line and column,
/// and per-document errors, out. `settings` is a JSON settings object.
#[wasm_bindgen(js_name = checkYaml)]
pub fn check_yaml(yaml: &str, settings: Option<String>) -> String {
    check(yaml, settings.as_deref()).to_string()
}

fn check(yaml: &str, settings: Option<&str>) -> Value {
    let settings = match parse_settings(settings.unwrap_or("")) {
        Ok(s) => s,
        Err(e) => return e.to_answer(),
    };
    match portcullis::yamlcheck::check_text(yaml, settings.as_ref()) {
        Ok(report) => report.to_value(),
        Err(e) => e.to_answer(),
    }
}

/// Settings as JSON text; empty text is no settings.
fn parse_settings(text: &str) -> Result<Option<Value>, portcullis::Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    portcullis::parse_json(text.as_bytes())
        .map(Some)
        // the JSON error names a position in the settings, not the manifest
        .map_err(|e| portcullis::Error::settings("(settings)", e.to_string()))
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
    fn caller_settings_and_fixes() {
        let service = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"type":"NodePort"}}"#;
        let off = r#"{"rules":{"service-type-nodeport":"off"}}"#;
        let v: Value = serde_json::from_str(&evaluate_with(service, off)).unwrap();
        assert_eq!(v["summary"]["denied"], 0, "{v}");
        let v: Value = serde_json::from_str(&evaluate_with(service, r#"{"profile":1}"#)).unwrap();
        assert_eq!(v["error"]["code"], "invalid-settings");

        let yaml =
            "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  type: NodePort # here\n";
        let report: Value = serde_json::from_str(&check_yaml(yaml, None)).unwrap();
        let out: Value =
            serde_json::from_str(&apply_fixes(yaml, &report["findings"].to_string())).unwrap();
        assert_eq!(out["text"], yaml.replace("NodePort", "ClusterIP"));
        let bad: Value = serde_json::from_str(&apply_fixes(yaml, "{}")).unwrap();
        assert_eq!(bad["error"]["code"], "invalid-input");
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
