//! The three output formats of `check`, and the rule list.

use crate::{Located, Outcome};
use portcullis::report::Action;
use portcullis::rules::RULES;
use serde_json::{json, Value};
use std::fmt::Write;

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn red(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
}

/// A manifest's string made safe for a terminal: C0 and C1 control
/// characters (ESC of colours, cursor moves and OSC-8 links, BEL, CSI) and
/// the bidirectional overrides that reorder what is shown are written as
/// escapes, as ripgrep and ruff print them, so they are seen, not run.
pub fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x80 && unsafe_char(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn patch_text(fix: &[Value]) -> String {
    fix.iter()
        .map(|op| {
            let verb = op.get("op").and_then(Value::as_str).unwrap_or("?");
            let path = op.get("path").and_then(Value::as_str).unwrap_or("?");
            match op.get("value") {
                Some(v) => format!("{verb} {path} = {v}"),
                None => format!("{verb} {path}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Findings grouped by file, then object, each with its line.
pub fn text(o: &Outcome<'_>, color: bool) -> String {
    let p = Paint { on: color };
    let mut s = String::new();
    let mut last_file: Option<&str> = None;
    let mut last_object: Option<String> = None;
    let mut by_file: Vec<&Located<'_>> = o.located.iter().collect();
    // group by object inside a file, objects in order of their first line
    by_file.sort_by(|a, b| (&a.file, a.document, a.line).cmp(&(&b.file, b.document, b.line)));
    for l in by_file {
        if last_file != Some(l.file.as_str()) {
            if last_file.is_some() {
                s.push('\n');
            }
            let _ = writeln!(s, "{}", p.bold(&shown(&l.file)));
            last_file = Some(l.file.as_str());
            last_object = None;
        }
        let object = l.finding.object.to_string();
        if last_object.as_deref() != Some(object.as_str()) {
            let _ = writeln!(s, "  {}", shown(&object));
            last_object = Some(object);
        }
        let (mark, label) = match l.finding.action {
            Action::Deny => (p.red("✗"), p.red("deny")),
            _ => (p.yellow("!"), p.yellow("warn")),
        };
        let _ = writeln!(
            s,
            "    {mark} {}  {label} {} {}",
            p.dim(&format!("{}:{}", l.line, l.column)),
            p.bold(l.finding.rule),
            p.dim(&format!("({})", l.finding.severity.as_str()))
        );
        let _ = writeln!(s, "      {}", shown(&l.finding.message));
        if let Some(fix) = &l.finding.fix {
            let _ = writeln!(s, "      {} {}", p.green("fix:"), shown(&patch_text(fix)));
        }
    }
    for e in &o.loaded.errors {
        let at = match (e.line, e.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", e.file),
            _ => e.file.clone(),
        };
        let _ = writeln!(
            s,
            "{} {}: {}",
            p.red("error:"),
            shown(&at),
            shown(&e.message)
        );
    }
    for (file, msg) in &o.eval_errors {
        let _ = writeln!(s, "{} {}: {}", p.red("error:"), shown(file), shown(msg));
    }
    for k in &o.loaded.skipped {
        let _ = writeln!(
            s,
            "{} {}:{}: {}",
            p.dim("skipped:"),
            shown(&k.file),
            k.line,
            shown(&k.reason)
        );
    }
    let objects: usize = o.reports.iter().map(|r| r.summary.objects).sum();
    let denied: usize = o.reports.iter().map(|r| r.summary.denied).sum();
    let warned: usize = o.reports.iter().map(|r| r.summary.warned).sum();
    let exempted: usize = o.reports.iter().map(|r| r.summary.exempted).sum();
    if !s.is_empty() {
        s.push('\n');
    }
    let verdict = if allowed(o) {
        p.green("PASS")
    } else {
        p.red("FAIL")
    };
    // audit mode denies nothing: its denials are reported, not enforced
    let enforced = if denied > 0 && o.reports.iter().all(|r| r.allowed) {
        " in audit mode, not enforced"
    } else {
        ""
    };
    let _ = write!(
        s,
        "{verdict}: {objects} objects in {} files: {denied} denied{enforced}, {warned} warnings",
        o.loaded.files.len()
    );
    if exempted > 0 {
        let _ = write!(s, ", {exempted} exempted");
    }
    let errors = o.loaded.errors.len() + o.eval_errors.len();
    if errors > 0 {
        let _ = write!(s, ", {errors} input errors");
    }
    if !o.loaded.skipped.is_empty() {
        let _ = write!(s, ", {} skipped", o.loaded.skipped.len());
    }
    s
}

/// The one verdict the text, the JSON and the exit code give: nothing
/// denied (audit mode denies nothing) and every input read.
pub fn allowed(o: &Outcome<'_>) -> bool {
    o.reports.iter().all(|r| r.allowed) && o.loaded.errors.is_empty() && o.eval_errors.is_empty()
}

fn location(l: &Located<'_>) -> Value {
    json!({"file": l.file, "document": l.document, "line": l.line, "column": l.column})
}

/// The report shape of every host, each finding with its location.
pub fn json(o: &Outcome<'_>) -> Value {
    let pick = |action: Action| -> Vec<Value> {
        o.located
            .iter()
            .filter(|l| (l.finding.action == Action::Deny) == (action == Action::Deny))
            .map(|l| {
                let mut v = serde_json::to_value(l.finding).unwrap_or(Value::Null);
                if let Some(m) = v.as_object_mut() {
                    m.insert("location".into(), location(l));
                }
                v
            })
            .collect()
    };
    let violations = pick(Action::Deny);
    let warnings = pick(Action::Warn);
    let errors: Vec<Value> = o
        .loaded
        .errors
        .iter()
        .map(|e| json!({"file": e.file, "document": e.document, "line": e.line, "column": e.column, "message": e.message}))
        .chain(
            o.eval_errors
                .iter()
                .map(|(f, m)| json!({"file": f, "message": m})),
        )
        .collect();
    let exempted: Vec<Value> = o
        .reports
        .iter()
        .flat_map(|r| r.exempted.iter())
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    let skipped: Vec<Value> = o
        .loaded
        .skipped
        .iter()
        .map(
            |k| json!({"file": k.file, "document": k.document, "line": k.line, "reason": k.reason}),
        )
        .collect();
    let truncated: Vec<Value> = o
        .reports
        .iter()
        .flat_map(|r| r.truncated.iter())
        .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
        .collect();
    json!({
        "allowed": allowed(o),
        "violations": violations,
        "warnings": warnings,
        "exempted": exempted,
        "truncated": truncated,
        "errors": errors,
        "skipped": skipped,
        "summary": {
            "files": o.loaded.files.len(),
            "skipped": o.loaded.skipped.len(),
            "objects": o.reports.iter().map(|r| r.summary.objects).sum::<usize>(),
            "denied": o.reports.iter().map(|r| r.summary.denied).sum::<usize>(),
            "warned": o.reports.iter().map(|r| r.summary.warned).sum::<usize>(),
        }
    })
}

fn security_severity(s: portcullis::Severity) -> &'static str {
    match s {
        portcullis::Severity::Critical => "9.5",
        portcullis::Severity::High => "8.0",
        portcullis::Severity::Medium => "5.5",
        portcullis::Severity::Low => "3.0",
    }
}

const DOCS_BASE: &str = "https://github.com/portcullis-dev/portcullis/blob/main/";

/// SARIF 2.1.0, as code scanning services accept it.
pub fn sarif(o: &Outcome<'_>) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            let m = r.meta();
            json!({
                "id": m.id,
                "name": m.title,
                "shortDescription": {"text": m.title},
                "fullDescription": {"text": m.what},
                "help": {"text": m.why, "markdown": portcullis::docs::rule_markdown(m)},
                "helpUri": format!("{DOCS_BASE}{}", portcullis::docs::doc_path(m.id)),
                "defaultConfiguration": {"level": "error"},
                "properties": {
                    "tags": ["security", "kubernetes", m.category.title()],
                    "security-severity": security_severity(m.severity),
                    "precision": "high"
                }
            })
        })
        .collect();
    let results: Vec<Value> = o
        .located
        .iter()
        .map(|l| {
            let f = l.finding;
            let rule_index = RULES
                .iter()
                .position(|r| r.meta().id == f.rule)
                .unwrap_or(0);
            json!({
                "ruleId": f.rule,
                "ruleIndex": rule_index,
                "level": if f.action == Action::Deny { "error" } else { "warning" },
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": artifact(&l.file),
                        "region": {"startLine": l.line, "startColumn": l.column}
                    },
                    "logicalLocations": [{"name": f.object.to_string(), "kind": "resource"}]
                }],
                "partialFingerprints": {
                    "portcullis/v1": format!("{}|{}|{}", f.rule, f.object, f.path)
                },
                "properties": {"path": f.path, "fix": f.fix}
            })
        })
        .collect();
    let notifications: Vec<Value> = o
        .loaded
        .errors
        .iter()
        .map(|e| {
            let mut physical = json!({"artifactLocation": artifact(&e.file)});
            if let (Some(line), Some(col), Some(m)) = (e.line, e.column, physical.as_object_mut()) {
                m.insert("region".into(), json!({"startLine": line, "startColumn": col}));
            }
            json!({"level": "error", "message": {"text": e.message}, "locations": [{"physicalLocation": physical}]})
        })
        .chain(o.loaded.skipped.iter().map(|k| {
            json!({"level": "note", "message": {"text": format!("skipped: {}", k.reason)},
                   "locations": [{"physicalLocation": {"artifactLocation": artifact(&k.file),
                                                        "region": {"startLine": k.line}}}]})
        }))
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "portcullis",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/portcullis-dev/portcullis",
                "rules": rules
            }},
            "originalUriBaseIds": src_root(),
            "invocations": [{
                "executionSuccessful": o.loaded.errors.is_empty() && o.eval_errors.is_empty(),
                "toolExecutionNotifications": notifications
            }],
            "results": results
        }]
    })
}

/// Characters kept as they are in a URI path; every other byte is
/// percent-encoded.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The working directory, which `%SRCROOT%` stands for.
fn cwd() -> Option<std::path::PathBuf> {
    std::env::current_dir().ok()?.canonicalize().ok()
}

/// `%SRCROOT%` for SARIF consumers that resolve it themselves.
fn src_root() -> Value {
    match cwd().as_deref().and_then(std::path::Path::to_str) {
        Some(dir) => {
            json!({"%SRCROOT%": {"uri": format!("file://{}/", uri_path(dir.trim_end_matches('/')))}})
        }
        None => json!({}),
    }
}

/// A SARIF artifact location: a URI relative to `%SRCROOT%` (the working
/// directory, where CI checks the repository out) whenever the file is under
/// it, an absolute `file://` URI otherwise, since a relative base with an
/// absolute path is not a location code scanning can resolve.
fn artifact(file: &str) -> Value {
    if file == "<stdin>" {
        return json!({"uri": "stdin"});
    }
    let path = std::path::Path::new(file);
    let absolute = path.canonicalize().ok();
    let relative = match (&absolute, cwd()) {
        (Some(abs), Some(dir)) => abs
            .strip_prefix(&dir)
            .ok()
            .and_then(|r| r.to_str())
            .map(str::to_string),
        _ if path.is_relative() => Some(file.trim_start_matches("./").to_string()),
        _ => None,
    };
    match (
        relative,
        absolute.as_deref().and_then(std::path::Path::to_str),
    ) {
        (Some(rel), _) => json!({"uri": uri_path(&rel), "uriBaseId": "%SRCROOT%"}),
        (None, Some(abs)) => json!({"uri": format!("file://{}", uri_path(abs))}),
        (None, None) => json!({"uri": format!("file://{}", uri_path(file))}),
    }
}

/// `portcullis rules`: the catalogue as a table.
pub fn rules_text() -> String {
    let mut s = String::new();
    let width = RULES.iter().map(|r| r.meta().id.len()).max().unwrap_or(10);
    let mut category = None;
    for r in RULES {
        let m = r.meta();
        if category != Some(m.category) {
            let _ = writeln!(s, "\n{}", m.category.title());
            category = Some(m.category);
        }
        let _ = writeln!(
            s,
            "  {:width$}  {:8}  {}",
            m.id,
            m.severity.as_str(),
            m.title
        );
    }
    let _ = writeln!(
        s,
        "\n`portcullis explain RULE` prints a rule's documentation."
    );
    s
}
