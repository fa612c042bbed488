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
    /// Documents left unchecked on purpose (patches), with the reason.
    pub skipped: Vec<DocumentError>,
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

/// What one YAML document holds, part by part.
#[derive(Debug, Clone, PartialEq)]
pub enum Member {
    /// A Kubernetes object at `prefix` inside its document (`/items/3` in a
    /// List, `/3` in a top-level array).
    Object { prefix: String, value: Value },
    /// A request or envelope: it carries its own context and is evaluated alone.
    Request(Value),
    /// A partial object (a strategic merge patch): not checked as a whole.
    Skipped { prefix: String, reason: String },
    /// Not a Kubernetes object at all.
    Invalid { prefix: String, message: String },
}

fn is_list(v: &Value) -> bool {
    v.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && v.get("items").is_some_and(|i| i.is_array() || i.is_null())
}

/// Keys of the strategic merge patch format: a document holding one is a
/// patch to merge into an object defined elsewhere, not an object.
fn patch_directive(v: &Value, depth: usize) -> Option<&str> {
    if depth > 64 {
        return None;
    }
    match v {
        Value::Object(m) => m
            .keys()
            .find(|k| {
                k.as_str() == "$patch"
                    || k.starts_with("$setElementOrder/")
                    || k.starts_with("$deleteFromPrimitiveList/")
                    || k.as_str() == "$retainKeys"
            })
            .map(String::as_str)
            .or_else(|| m.values().find_map(|c| patch_directive(c, depth + 1))),
        Value::Array(a) => a.iter().find_map(|c| patch_directive(c, depth + 1)),
        _ => None,
    }
}

/// Splits a document into the objects it holds: itself, the items of a
/// List, or the elements of a top-level array (what every host accepts).
/// Anything that is not an object is `Invalid`, named by its pointer.
pub fn split_document(value: Value) -> Vec<Member> {
    let mut out = Vec::new();
    match value {
        Value::Null => {}
        v if is_request_shape(&v) => out.push(Member::Request(v)),
        Value::Array(items) if !items.is_empty() && !items.iter().any(looks_like_object) => {
            // data that happens to be a list (a bill of materials, a JSON
            // patch): one error for the document, not one per entry
            let message = format!(
                "expected Kubernetes objects, found a list of {} entries without apiVersion or kind",
                items.len()
            );
            out.push(Member::Invalid {
                prefix: String::new(),
                message,
            });
        }
        Value::Array(items) => split_items(items, "", &mut out),
        v => split_item(v, String::new(), &mut out),
    }
    out
}

fn looks_like_object(v: &Value) -> bool {
    v.get("apiVersion").is_some() || v.get("kind").is_some()
}

fn split_items(items: Vec<Value>, base: &str, out: &mut Vec<Member>) {
    for (i, item) in items.into_iter().enumerate() {
        split_item(item, format!("{base}/{i}"), out);
    }
}

fn split_item(value: Value, prefix: String, out: &mut Vec<Member>) {
    if !value.is_object() {
        let message = format!(
            "expected a Kubernetes object (a mapping with apiVersion and kind), found {}",
            crate::object::type_name(&value)
        );
        out.push(Member::Invalid { prefix, message });
        return;
    }
    if is_list(&value) {
        if let Value::Object(mut m) = value {
            if let Some(Value::Array(items)) = m.remove("items") {
                split_items(items, &format!("{prefix}/items"), out);
            }
        }
        return;
    }
    if let Some(key) = patch_directive(&value, 0) {
        let reason = format!(
            "a strategic merge patch (it holds `{key}`), not a whole object: check the objects it is \
             merged into, e.g. `kustomize build DIR | portcullis check -`"
        );
        out.push(Member::Skipped { prefix, reason });
        return;
    }
    out.push(Member::Object { prefix, value });
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

fn located_note(doc: &Document, prefix: &str, message: String) -> DocumentError {
    let pos = doc.position(prefix);
    DocumentError {
        document: doc.index,
        line: pos.line,
        column: pos.column,
        message,
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
    let mut skipped = Vec::new();

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
        for member in split_document(value.clone()) {
            match member {
                Member::Request(_) => requests.push(doc),
                Member::Object { prefix, value } => {
                    // an object the rules cannot read is reported where it is
                    let readable = Object::parse(&value, objects.len()).map(|_| ());
                    match readable {
                        Ok(()) => {
                            objects.push(value);
                            origins.push(Origin {
                                document: doc.index,
                                prefix,
                            });
                        }
                        Err(e) => errors.push(object_error(doc, &prefix, &e)),
                    }
                }
                Member::Skipped { prefix, reason } => {
                    skipped.push(located_note(doc, &prefix, reason))
                }
                Member::Invalid { prefix, message } => {
                    let what = if prefix.is_empty() {
                        String::new()
                    } else {
                        format!("{prefix}: ")
                    };
                    errors.push(located_note(doc, &prefix, format!("{what}{message}")))
                }
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
        skipped,
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
    fn top_level_arrays_are_objects_and_other_shapes_are_named_errors() {
        let text = "- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n  spec: {type: NodePort}\n- 42\n---\njust a string\n---\n[]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {type: NodePort}\n";
        let r = check_text(text, None).unwrap();
        let names: Vec<(&str, usize, usize)> = typed(&r)
            .iter()
            .map(|f| (f.finding.object.name.as_str(), f.document, f.line))
            .collect();
        assert_eq!(names, [("a", 0, 4), ("b", 3, 14)], "{r:?}");
        let errors: Vec<(usize, usize, &str)> = r
            .errors
            .iter()
            .map(|e| (e.document, e.line, e.message.as_str()))
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!((errors[0].0, errors[0].1), (0, 5));
        assert!(
            errors[0].2.starts_with("/1: expected a Kubernetes object"),
            "{errors:?}"
        );
        assert!(errors[0].2.contains("found a number"), "{errors:?}");
        assert_eq!((errors[1].0, errors[1].1), (1, 7));
        assert!(errors[1].2.contains("found a string"), "{errors:?}");
        // a list of data, not of objects, is one error for the document
        let r = check_text("- op: add\n  path: /a\n- op: remove\n  path: /b\n", None).unwrap();
        assert_eq!(r.errors.len(), 1, "{r:?}");
        assert!(r.errors[0].message.contains("list of 2 entries"), "{r:?}");
    }

    #[test]
    fn template_placeholders_where_a_number_belongs_are_to_be_rendered() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: epp}\nspec:\n  ports:\n    - port: ${GRPC_PORT:-9002}\n";
        let r = check_text(text, None).unwrap();
        assert_eq!(r.errors.len(), 1, "{r:?}");
        let e = &r.errors[0];
        assert_eq!(e.line, 6, "{e:?}");
        assert!(
            e.message
                .contains("\"${GRPC_PORT:-9002}\" is an unrendered template placeholder"),
            "{e:?}"
        );
        assert!(e.message.contains("render the template first"), "{e:?}");
    }

    #[test]
    fn strategic_merge_patches_are_skipped_not_checked() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n$patch: delete\n---\napiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec:\n  type: NodePort\n  ports:\n    - $patch: replace\n    - port: 80\n";
        let r = check_text(text, None).unwrap();
        assert!(r.findings.is_empty(), "{r:?}");
        assert!(r.errors.is_empty(), "{r:?}");
        assert_eq!(r.skipped.len(), 2);
        assert!(r.skipped[0].message.contains("`$patch`"), "{r:?}");
        assert_eq!(r.summary.objects, 0);
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
