//! Checks a multi-document YAML stream and places every finding on its
//! document, line and column. Shared by the CLI and the browser checker so
//! both answer the same way: a broken document or an object the rules cannot
//! read is reported where it is, and every other document is still checked.

use crate::object::Object;
use crate::report::{Finding, Report, Truncated};
use crate::yaml::Document;
use crate::{Error, Host, PolicyCache};
use serde::Serialize;
use serde_json::{json, Value};

/// A finding with where it is in the YAML text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Located {
    #[serde(flatten)]
    pub finding: Finding,
    /// Index of the object in the envelope the documents were checked as
    /// (for a request document: the object's index inside that request).
    pub index: usize,
    /// Index of the YAML document (`yaml::Document::index`).
    pub document: usize,
    pub line: usize,
    pub column: usize,
}

/// A document that could not be checked, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentError {
    pub document: usize,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct YamlSummary {
    pub documents: usize,
    pub objects: usize,
    pub denied: usize,
    pub warned: usize,
    pub errors: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YamlReport {
    /// No denied finding and no document error: broken input fails closed.
    pub allowed: bool,
    /// Sorted by document, line, column and rule.
    pub findings: Vec<Located>,
    pub errors: Vec<DocumentError>,
    /// Rules and objects with more findings than are listed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<Truncated>,
    pub summary: YamlSummary,
}

impl YamlReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Where a plain object of the envelope came from.
struct Origin {
    document: usize,
    /// Pointer of the object inside its document (`/items/3` in a List).
    prefix: String,
}

/// A document holding a request or an envelope rather than a manifest: it
/// carries its own context, so it is evaluated on its own.
pub fn is_request_shape(v: &Value) -> bool {
    let Some(map) = v.as_object() else {
        return false;
    };
    let has_identity = v.get("apiVersion").is_some_and(Value::is_string)
        && v.get("kind").is_some_and(Value::is_string);
    v.get("kind").and_then(Value::as_str) == Some("AdmissionReview")
        || (!has_identity
            && (map.contains_key("review")
                || map.contains_key("request")
                || map.contains_key("objects")))
        || (v.get("kind").is_some_and(Value::is_object) && map.contains_key("operation"))
}

fn list_items(v: &Value) -> Option<&Vec<Value>> {
    let kind = v.get("kind").and_then(Value::as_str)?;
    if kind == "List" || kind.ends_with("List") {
        v.get("items").and_then(Value::as_array)
    } else {
        None
    }
}

/// Pointer prefix of object `index` inside a request-shaped document.
pub fn request_prefix(v: &Value, index: usize) -> String {
    if v.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        "/request/object".into()
    } else if v.get("review").is_some() {
        "/review/object".into()
    } else if v.get("request").is_some() {
        "/request/object".into()
    } else if v.get("objects").is_some() {
        format!("/objects/{index}")
    } else {
        "/object".into()
    }
}

fn object_error(doc: &Document, prefix: &str, e: &Error) -> DocumentError {
    let pointer = match e {
        Error::Object { path, .. } => format!("{prefix}{path}"),
        // settings the document carries: pointed at in the document itself
        Error::InputSettings { path } => path.clone(),
        _ => prefix.to_string(),
    };
    let pos = doc.position(&pointer);
    let message = match e {
        Error::Object { path, message, .. } => format!("field {path}: {message}"),
        other => other.to_string(),
    };
    DocumentError {
        document: doc.index,
        line: pos.line,
        column: pos.column,
        message,
    }
}

/// Checks the documents of one YAML stream as one bundle (plain manifests
/// see each other, as cross-object rules need); request documents are
/// evaluated on their own. `settings` are the caller's: settings inside a
/// document are an error at that document unless they allow them
/// (`allowInputSettings`). Only invalid settings fail the whole call.
pub fn check_documents(docs: &[Document], settings: Option<&Value>) -> Result<YamlReport, Error> {
    // every document of the stream under one compiled policy
    let cache = PolicyCache::new();
    let host = Host {
        settings,
        inventory: None,
    };
    let mut errors = Vec::new();
    let mut objects: Vec<Value> = Vec::new();
    let mut origins: Vec<Origin> = Vec::new();
    let mut requests: Vec<&Document> = Vec::new();

    for doc in docs {
        let value = match &doc.value {
            Ok(v) => v,
            Err(e) => {
                errors.push(DocumentError {
                    document: doc.index,
                    line: e.line,
                    column: e.column,
                    message: e.message.clone(),
                });
                continue;
            }
        };
        if value.is_null() {
            continue;
        }
        if is_request_shape(value) {
            requests.push(doc);
            continue;
        }
        let members: Vec<(String, &Value)> = match list_items(value) {
            Some(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("/items/{i}"), item))
                .collect(),
            None => vec![(String::new(), value)],
        };
        for (prefix, obj) in members {
            // an object the rules cannot read is reported where it is
            match Object::parse(obj, objects.len()) {
                Ok(_) => {
                    objects.push(obj.clone());
                    origins.push(Origin {
                        document: doc.index,
                        prefix,
                    });
                }
                Err(e) => errors.push(object_error(doc, &prefix, &e)),
            }
        }
    }

    let mut findings = Vec::new();
    let mut summary = YamlSummary {
        documents: docs.len(),
        ..YamlSummary::default()
    };
    let mut allowed = true;
    let mut truncated = Vec::new();
    let mut tally = |report: &Report, summary: &mut YamlSummary| {
        allowed &= report.allowed;
        truncated.extend(report.truncated.iter().cloned());
        summary.objects += report.summary.objects;
        summary.denied += report.summary.denied;
        summary.warned += report.summary.warned;
    };

    // evaluated even when empty: invalid settings fail the call here
    {
        let count = objects.len();
        let envelope = json!({ "objects": objects });
        let report = cache.evaluate_document(&envelope, host)?;
        tally(&report, &mut summary);
        for f in report.violations.into_iter().chain(report.warnings) {
            let Some(origin) = origins.get(f.index) else {
                continue;
            };
            let Some(doc) = docs.iter().find(|d| d.index == origin.document) else {
                continue;
            };
            let pos = doc.position(&format!("{}{}", origin.prefix, f.path));
            findings.push(Located {
                index: f.index,
                document: origin.document,
                line: pos.line,
                column: pos.column,
                finding: f,
            });
        }
        debug_assert!(findings.iter().all(|l| l.index < count));
    }

    for doc in requests {
        let Ok(value) = &doc.value else { continue };
        match cache.evaluate_document(value, host) {
            Ok(report) => {
                tally(&report, &mut summary);
                for f in report.violations.into_iter().chain(report.warnings) {
                    let prefix = request_prefix(value, f.index);
                    let pos = doc.position(&format!("{prefix}{}", f.path));
                    findings.push(Located {
                        index: f.index,
                        document: doc.index,
                        line: pos.line,
                        column: pos.column,
                        finding: f,
                    });
                }
            }
            Err(e) => errors.push(object_error(doc, &request_prefix(value, 0), &e)),
        }
    }

    findings.sort_by(|a, b| {
        (a.document, a.line, a.column, a.finding.rule).cmp(&(
            b.document,
            b.line,
            b.column,
            b.finding.rule,
        ))
    });
    errors.sort_by_key(|e| (e.document, e.line, e.column));
    summary.errors = errors.len();
    Ok(YamlReport {
        allowed: allowed && errors.is_empty(),
        findings,
        errors,
        truncated,
        summary,
    })
}

/// Loads and checks YAML text in one step.
pub fn check_text(text: &str, settings: Option<&Value>) -> Result<YamlReport, Error> {
    check_documents(&crate::yaml::load(text), settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::load;

    /// The findings of the two Service type rules these texts are about
    /// (other rules may see the same objects).
    fn typed(r: &YamlReport) -> Vec<&Located> {
        r.findings
            .iter()
            .filter(|f| f.finding.rule.starts_with("service-type-"))
            .collect()
    }

    const SHOP: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  type: LoadBalancer
  ports:
    - port: 80
---
apiVersion: v1
kind: Service
metadata: {name: [broken
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata:
      name: admin
    spec:
      type: NodePort
  - apiVersion: v1
    kind: Service
    metadata:
      name: api
    spec:
      type: ClusterIP
";

    #[test]
    fn findings_carry_document_line_and_column() {
        let r = check_text(SHOP, None).unwrap();
        assert_eq!(r.summary.documents, 3);
        assert_eq!(r.summary.objects, 3);
        let lb = r
            .findings
            .iter()
            .find(|f| f.finding.rule == "service-type-loadbalancer")
            .unwrap();
        assert_eq!((lb.document, lb.line, lb.column, lb.index), (0, 7, 3, 0));
        let np = r
            .findings
            .iter()
            .find(|f| f.finding.rule == "service-type-nodeport")
            .unwrap();
        assert_eq!((np.document, np.line, np.index), (2, 23, 1));
        assert_eq!(np.finding.object.name, "admin");
        assert!(!r.allowed);
    }

    #[test]
    fn a_broken_document_is_reported_and_hides_nothing() {
        let r = check_text(SHOP, None).unwrap();
        assert_eq!(r.errors.len(), 1);
        let e = &r.errors[0];
        assert_eq!(e.document, 1);
        assert!((13..=14).contains(&e.line), "{e:?}");
        assert_eq!(typed(&r).len(), 2);
        assert_eq!(r.summary.errors, 1);
    }

    #[test]
    fn unreadable_object_is_an_error_at_its_field() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  labels: [x]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {type: NodePort}\n";
        let r = check_text(text, None).unwrap();
        assert_eq!(r.errors.len(), 1);
        assert_eq!((r.errors[0].document, r.errors[0].line), (0, 5));
        assert!(r.errors[0].message.contains("/metadata/labels"));
        let found = typed(&r);
        assert_eq!(found.len(), 1);
        // the envelope holds only readable objects
        assert_eq!((found[0].document, found[0].index), (1, 0));
        assert!(!r.allowed);
    }

    #[test]
    fn settings_switch_rules_and_bad_settings_fail() {
        let off = json!({"rules": {"service-type-nodeport": "off"}});
        let r = check_text(SHOP, Some(&off)).unwrap();
        assert!(r
            .findings
            .iter()
            .all(|f| f.finding.rule != "service-type-nodeport"));
        let bad = json!({"rules": {"no-such-rule": "off"}});
        assert!(matches!(
            check_text(SHOP, Some(&bad)),
            Err(Error::Settings { .. })
        ));
    }

    /// `checkYaml(yaml, {profile: "strict"})` on a document that carries
    /// its own settings: an error at that document, the rest still checked.
    #[test]
    fn settings_inside_a_document_are_an_error_there() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: np}\nspec: {type: NodePort}\n---\nobjects:\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: lb}\n    spec: {type: LoadBalancer}\nsettings:\n  mode: audit\n";
        let strict = json!({"profile": "strict"});
        let r = check_text(text, Some(&strict)).unwrap();
        assert!(!r.allowed);
        assert_eq!(r.errors.len(), 1, "{r:?}");
        assert_eq!((r.errors[0].document, r.errors[0].line), (1, 11), "{r:?}");
        assert!(r.errors[0].message.contains("/settings"), "{r:?}");
        assert_eq!(typed(&r).len(), 1, "the plain document is still checked");
        // no settings from the caller: still the caller's call, not the document's
        assert_eq!(check_text(text, None).unwrap().errors.len(), 1);
        // the caller may allow them
        let consent = json!({"profile": "strict", "allowInputSettings": true});
        let r = check_text(text, Some(&consent)).unwrap();
        assert!(r.errors.is_empty(), "{r:?}");
        assert_eq!(r.summary.objects, 2);
    }

    #[test]
    fn admission_review_document_is_placed_inside_the_request() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: plain}\nspec: {type: ClusterIP}\n---\napiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  uid: u\n  operation: CREATE\n  kind: {group: '', version: v1, kind: Service}\n  object:\n    apiVersion: v1\n    kind: Service\n    metadata: {name: np}\n    spec:\n      type: NodePort\n";
        let docs = load(text);
        let r = check_documents(&docs, None).unwrap();
        let found = typed(&r);
        assert_eq!(found.len(), 1, "{r:?}");
        assert_eq!((found[0].document, found[0].line), (1, 17));
    }

    #[test]
    fn serialized_shape() {
        let v = check_text(SHOP, None).unwrap().to_value();
        let f = &v["findings"][0];
        for key in [
            "rule", "severity", "action", "message", "object", "path", "index", "document", "line",
            "column",
        ] {
            assert!(f.get(key).is_some(), "missing {key}: {f}");
        }
        assert_eq!(v["errors"][0]["document"], 1);
    }
}
