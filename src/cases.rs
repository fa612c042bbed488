//! The rule cases under `policies/<rule-id>/` and the shared conformance
//! file, loaded into one form every test host (native, wasm modules, OPA,
//! Kubewarden, browser) can run and judge the same way.
//!
//! Case files are YAML (JSON is YAML too). The file name states the verdict:
//! `allowed-*.yaml` (the rule denies nothing) or `denied-*.yaml` (it denies
//! at least once). Comment lines at the top form the header:
//!
//! ```yaml
//! # settings: {rules: {service-type-nodeport: warn}}
//! # expect:
//! #   deny Service shop/orders /spec/type
//! #     fix: [{op: replace, path: /spec/type, value: ClusterIP}]
//! #   warn ClusterRole reader /rules/2
//! ```
//!
//! - `# settings:` (optional, one line of YAML flow) are the settings; the
//!   case's rule is switched to `deny` unless they name its action.
//! - `# expect:` lists every finding of the case's rule, one indented line
//!   each: the action (`deny` or `warn`), the object (`Kind namespace/name`,
//!   or `Kind name` without a namespace; `""` for no name) and the JSON
//!   Pointer of the finding (`""` for the whole object). An indented `fix:`
//!   line under it is the finding's exact RFC 6902 patch; a finding without
//!   one has no fix. `# expect: nothing` says the rule finds nothing.
//!   Findings are compared as a set, in any order.
//! - `# inventory: N` (optional) makes the last N documents the inventory:
//!   what the cluster holds beside the bundle (a host's synced objects).
//! - `# count: N` is the older form (the number of findings only); a case
//!   that has it instead of `expect` is judged on the count, and
//!   `PORTCULLIS_BLESS=1 cargo test --test cases` replaces it.
//!
//! Several documents form one bundle; a single AdmissionReview or
//! AdmissionRequest document is evaluated as a request.

use crate::report::Action;
use crate::yaml;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The rule denies nothing (a ratcheted UPDATE may still warn).
    Allow,
    /// The rule reports at least one finding.
    Deny,
}

/// One finding a case expects of its rule: what the answer must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// `Deny` or `Warn`: the list the finding is in.
    pub action: Action,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// JSON Pointer into the object.
    pub path: String,
    /// The exact patch; `None`: the finding has no fix.
    pub fix: Option<Value>,
}

impl Expected {
    /// Reads a finding of a JSON answer (a report's finding, or a Gatekeeper
    /// violation's `details`): `action`, `object`, `path` and `fix`.
    pub fn from_finding(f: &Value) -> Result<Expected, String> {
        let text = |v: Option<&Value>, what: &str| {
            v.and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("a finding without `{what}`: {f}"))
        };
        let action = match f.get("action").and_then(Value::as_str) {
            Some("deny") => Action::Deny,
            Some("warn") => Action::Warn,
            _ => return Err(format!("a finding whose action is not deny or warn: {f}")),
        };
        let object = f.get("object");
        Ok(Expected {
            action,
            kind: text(object.and_then(|o| o.get("kind")), "object.kind")?,
            namespace: object
                .and_then(|o| o.get("namespace"))
                .and_then(Value::as_str)
                .map(str::to_string),
            name: text(object.and_then(|o| o.get("name")), "object.name")?,
            path: text(f.get("path"), "path")?,
            fix: f.get("fix").filter(|x| !x.is_null()).cloned(),
        })
    }

    /// One header entry: `deny Service shop/web /spec/type`.
    fn parse(entry: &str) -> Result<Expected, String> {
        let bad = || {
            format!(
                "`{entry}` is not a finding: write `deny|warn Kind namespace/name /path` \
                 (`Kind name` without a namespace, `\"\"` for an empty name or path)"
            )
        };
        let mut words = entry.splitn(4, char::is_whitespace);
        let action = match words.next() {
            Some("deny") => Action::Deny,
            Some("warn") => Action::Warn,
            _ => return Err(bad()),
        };
        let kind = words.next().filter(|k| !k.is_empty()).ok_or_else(bad)?;
        let object = words.next().filter(|o| !o.is_empty()).ok_or_else(bad)?;
        let path = words.next().map(str::trim).ok_or_else(bad)?;
        let unquote = |s: &str| {
            if s == "\"\"" {
                String::new()
            } else {
                s.to_string()
            }
        };
        let (namespace, name) = match object.split_once('/') {
            Some((ns, name)) => (Some(ns.to_string()), unquote(name)),
            None => (None, unquote(object)),
        };
        if !(path.is_empty() || path == "\"\"" || path.starts_with('/')) {
            return Err(bad());
        }
        Ok(Expected {
            action,
            kind: kind.to_string(),
            namespace,
            name,
            path: unquote(path),
            fix: None,
        })
    }

    /// The header lines that state this finding (its entry, then its fix).
    pub fn header_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("#   {self}")];
        if let Some(fix) = &self.fix {
            lines.push(format!("#     fix: {}", flow(fix)));
        }
        lines
    }

    /// The finding as the JSON hosts that cannot read headers compare with.
    pub fn to_value(&self) -> Value {
        let mut object = json!({"kind": self.kind, "name": self.name});
        if let (Some(ns), Some(m)) = (&self.namespace, object.as_object_mut()) {
            m.insert("namespace".into(), json!(ns));
        }
        let mut v = json!({"action": self.action.as_str(), "object": object, "path": self.path});
        if let (Some(fix), Some(m)) = (&self.fix, v.as_object_mut()) {
            m.insert("fix".into(), fix.clone());
        }
        v
    }

    fn sort_key(&self) -> String {
        format!("{self} {}", self.fix.as_ref().map(flow).unwrap_or_default())
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let quoted = |s: &str| {
            if s.is_empty() {
                "\"\"".to_string()
            } else {
                s.to_string()
            }
        };
        write!(f, "{} {} ", self.action.as_str(), self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        write!(f, "{} {}", quoted(&self.name), quoted(&self.path))
    }
}

/// A value as one line of YAML flow: plain scalars where they read back as
/// the same string, JSON quoting otherwise.
pub fn flow(v: &Value) -> String {
    match v {
        Value::String(s) if plain(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", flow(&Value::String(k.clone())), flow(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

/// Whether a string can stand unquoted in flow YAML and read back as itself.
fn plain(s: &str) -> bool {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_');
    let words = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~",
    ];
    first_ok
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.'))
        && !words.contains(&s.to_ascii_lowercase().as_str())
}

#[derive(Debug, Clone)]
pub struct Case {
    pub rule: String,
    /// `policies/<rule>/<file>` or the conformance file path.
    pub name: String,
    pub expect: Expect,
    pub count: Option<usize>,
    /// Every finding of the rule, when the case states them (`# expect:`).
    pub findings: Option<Vec<Expected>>,
    /// Settings with the case's rule switched to `deny` unless they set its action.
    pub settings: Value,
    /// Plain objects of the bundle (empty for an admission request).
    pub objects: Vec<Value>,
    /// Extra objects known to the rules (the peer's inventory).
    pub inventory: Vec<Value>,
    /// The AdmissionRequest, when the case is one.
    pub request: Option<Value>,
    /// The case file, for a per-rule case (bless rewrites it).
    pub file: Option<PathBuf>,
}

/// How many findings of one rule an answer holds, by what they do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub denied: usize,
    pub warned: usize,
}

impl Case {
    /// The case as one native input: an envelope, or `{request, settings}`.
    pub fn input(&self) -> Value {
        match &self.request {
            Some(req) => json!({"request": req, "settings": self.settings}),
            None => {
                let mut env = json!({"objects": self.objects, "settings": self.settings});
                if !self.inventory.is_empty() {
                    if let Some(m) = env.as_object_mut() {
                        m.insert("inventory".into(), Value::Array(self.inventory.clone()));
                    }
                }
                env
            }
        }
    }

    /// Whether the settings put the policy in audit mode: denials allow.
    pub fn audit(&self) -> bool {
        self.settings.get("mode").and_then(Value::as_str) == Some("audit")
    }

    /// The expectation for hosts that judge in another language: the case's
    /// rule, audit mode, the verdict and count, and the findings (or null).
    pub fn expectation(&self) -> Value {
        json!({
            "rule": self.rule,
            "audit": self.audit(),
            "expect": match self.expect { Expect::Allow => "allow", Expect::Deny => "deny" },
            "count": self.count,
            "findings": self.findings.as_ref().map(|f| f.iter().map(Expected::to_value).collect::<Vec<_>>()),
        })
    }

    /// The findings of the case's rule in a report (the JSON answer of any
    /// host that gives the whole report), each checked to sit in the list
    /// its action says.
    pub fn findings_of(&self, report: &Value) -> Result<Vec<Expected>, String> {
        if let Some(err) = report.get("error") {
            return Err(format!("{}: evaluation failed: {err}", self.name));
        }
        let mut got = Vec::new();
        for (list, action) in [("violations", Action::Deny), ("warnings", Action::Warn)] {
            let items = report.get(list).and_then(Value::as_array).ok_or_else(|| {
                format!("{}: the answer has no `{list}` list: {report}", self.name)
            })?;
            for f in items {
                if f.get("rule").and_then(Value::as_str) != Some(&self.rule) {
                    continue;
                }
                let e = Expected::from_finding(f).map_err(|e| format!("{}: {e}", self.name))?;
                if e.action != action {
                    return Err(format!(
                        "{}: a finding with action {} in `{list}`: {f}",
                        self.name,
                        e.action.as_str()
                    ));
                }
                got.push(e);
            }
        }
        Ok(got)
    }

    /// Checks a report (the JSON answer of any host) against the expectation.
    pub fn judge(&self, report: &Value) -> Result<(), String> {
        let got = self.findings_of(report)?;
        self.judge_findings(&got)
            .map_err(|e| format!("{e}\nreport: {report}"))
    }

    /// Checks the findings of the case's rule: every stated finding and no
    /// other, or (without a statement) the verdict and count.
    pub fn judge_findings(&self, got: &[Expected]) -> Result<(), String> {
        let tally = Tally {
            denied: got.iter().filter(|f| f.action == Action::Deny).count(),
            warned: got.iter().filter(|f| f.action == Action::Warn).count(),
        };
        self.judge_tally(tally)?;
        match &self.findings {
            Some(want) => compare(&self.name, &self.rule, want, got),
            None => Ok(()),
        }
    }

    /// Checks a Gatekeeper violation list (`[{msg, details}]`): the rule's
    /// entries are exactly its stated denials (none in audit mode, which
    /// allows everything).
    pub fn judge_violation_list(&self, list: &Value) -> Result<(), String> {
        let items = list
            .as_array()
            .ok_or_else(|| format!("{}: a violation answer is a list: {list}", self.name))?;
        let mut got = Vec::new();
        for v in items {
            let details = v.get("details").unwrap_or(&Value::Null);
            if details.get("rule").and_then(Value::as_str) != Some(&self.rule) {
                continue;
            }
            if !v.get("msg").is_some_and(Value::is_string) {
                return Err(format!("{}: a violation without msg: {v}", self.name));
            }
            got.push(Expected::from_finding(details).map_err(|e| format!("{}: {e}", self.name))?);
        }
        let want: Vec<Expected> = match &self.findings {
            _ if self.audit() => Vec::new(),
            Some(f) => f
                .iter()
                .filter(|f| f.action == Action::Deny)
                .cloned()
                .collect(),
            None if self.expect == Expect::Allow => Vec::new(),
            // an unstated expectation says nothing more about denials
            None => return Ok(()),
        };
        compare(&self.name, &self.rule, &want, &got).map_err(|e| format!("{e}\nanswer: {list}"))
    }

    /// Checks an admission answer (Kubewarden's ValidationResponse, an
    /// AdmissionReview response): the verdict, and the rule's denial and
    /// warning lines (`rule-id: message`) counted against the expectation.
    /// Audit mode allows and lists would-be denials among the warnings.
    pub fn judge_admission(
        &self,
        allowed: bool,
        denials: &[&str],
        warnings: &[&str],
    ) -> Result<(), String> {
        let prefix = format!("{}: ", self.rule);
        let count = |lines: &[&str]| lines.iter().filter(|l| l.starts_with(&prefix)).count();
        let got = Tally {
            denied: count(denials),
            warned: count(warnings),
        };
        let fail = |what: String| {
            Err(format!(
                "{}: {what} (allowed: {allowed}, denials: {denials:?}, warnings: {warnings:?})",
                self.name
            ))
        };
        if self.audit() {
            if !allowed || got.denied > 0 {
                return fail("audit mode allows and denies nothing".into());
            }
            // would-be denials are warnings: judged as findings of either action
            return match &self.findings {
                Some(want) if want.len() != got.warned => fail(format!(
                    "expected {} findings of {} as warnings, got {}",
                    want.len(),
                    self.rule,
                    got.warned
                )),
                _ => self.judge_total(got.warned),
            };
        }
        if got.denied > 0 && allowed {
            return fail("denials listed but the answer allows".into());
        }
        self.judge_tally(got)
    }

    fn judge_total(&self, total: usize) -> Result<(), String> {
        let ok =
            (self.expect == Expect::Allow || total > 0) && self.count.is_none_or(|c| c == total);
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{}: expected {:?} for {}, got {total} findings",
                self.name, self.expect, self.rule
            ))
        }
    }

    /// The verdict and counts of the rule's findings.
    pub fn judge_tally(&self, got: Tally) -> Result<(), String> {
        let total = got.denied + got.warned;
        let want = self.findings.as_ref().map(|f| Tally {
            denied: f.iter().filter(|f| f.action == Action::Deny).count(),
            warned: f.iter().filter(|f| f.action == Action::Warn).count(),
        });
        let ok = match self.expect {
            Expect::Allow => got.denied == 0,
            Expect::Deny => total > 0,
        } && self.count.is_none_or(|c| c == total)
            && want.is_none_or(|w| w == got);
        if ok {
            return Ok(());
        }
        let wanted = match want {
            Some(w) => format!("{} denied and {} warned", w.denied, w.warned),
            None => format!(
                "{:?}{}",
                self.expect,
                self.count
                    .map(|c| format!(" ({c} findings)"))
                    .unwrap_or_default()
            ),
        };
        Err(format!(
            "{}: expected {wanted} for {}, got {} denied and {} warned",
            self.name, self.rule, got.denied, got.warned
        ))
    }

    /// Writes the expectation of a case file that states none, from a report
    /// of it (`PORTCULLIS_BLESS=1`): an `# expect:` block in place of any
    /// `# count:` line. Ok(true) when the file was written. A report that
    /// contradicts the file name is an error: bless never signs a wrong verdict.
    pub fn bless(&self, report: &Value) -> Result<bool, String> {
        let (Some(file), None) = (&self.file, &self.findings) else {
            return Ok(false);
        };
        let got = self.findings_of(report)?;
        let denies = got.iter().any(|f| f.action == Action::Deny);
        if denies != (self.expect == Expect::Deny) {
            return Err(format!(
                "{}: the rule gives {} findings ({}), which contradicts the file name; \
                 fix the rule or the case before blessing",
                self.name,
                got.len(),
                if denies { "some denied" } else { "none denied" }
            ));
        }
        let mut sorted = got.clone();
        sorted.sort_by_key(Expected::sort_key);
        let mut block = Vec::new();
        if sorted.is_empty() {
            block.push("# expect: nothing".to_string());
        } else {
            block.push("# expect:".to_string());
            block.extend(sorted.iter().flat_map(Expected::header_lines));
        }
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let written = with_expectation(&text, &block);
        let reread = header(&written).map_err(|e| format!("{}: {e}", self.name))?;
        let check = Case {
            findings: reread.findings,
            count: reread.count,
            ..self.clone()
        };
        check.judge_findings(&got).map_err(|e| {
            format!(
                "{}: the written expectation does not read back: {e}",
                self.name
            )
        })?;
        std::fs::write(file, written).map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(true)
    }
}

/// Compares two lists of findings as multisets; the error names what is
/// missing and what is unexpected.
fn compare(name: &str, rule: &str, want: &[Expected], got: &[Expected]) -> Result<(), String> {
    let mut unexpected: Vec<&Expected> = Vec::new();
    let mut left: Vec<&Expected> = want.iter().collect();
    for g in got {
        match left.iter().position(|w| *w == g) {
            Some(i) => {
                left.swap_remove(i);
            }
            None => unexpected.push(g),
        }
    }
    if left.is_empty() && unexpected.is_empty() {
        return Ok(());
    }
    let lines = |list: &[&Expected]| {
        list.iter()
            .flat_map(|e| e.header_lines())
            .map(|l| format!("  {}", l.trim_start_matches('#').trim_start()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut msg = format!("{name}: the findings of {rule} differ from the expectation");
    if !left.is_empty() {
        msg.push_str(&format!("\n expected but missing:\n{}", lines(&left)));
    }
    if !unexpected.is_empty() {
        msg.push_str(&format!(
            "\n found but not expected:\n{}",
            lines(&unexpected)
        ));
    }
    Err(msg)
}

/// The file with its header's `# count:` line dropped and `block` written
/// after the `# settings:` line (or first, when there is none).
fn with_expectation(text: &str, block: &[String]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let header_len = lines
        .iter()
        .position(|l| !(l.trim().is_empty() || l.trim_start().starts_with('#')))
        .unwrap_or(lines.len());
    let is = |l: &str, key: &str| {
        l.trim()
            .strip_prefix('#')
            .is_some_and(|c| c.trim_start().starts_with(key))
    };
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + block.len());
    let mut placed = false;
    let settings_at = lines
        .iter()
        .take(header_len)
        .position(|l| is(l, "settings:"));
    if settings_at.is_none() {
        out.extend(block.iter().cloned());
        placed = true;
    }
    for (i, l) in lines.iter().enumerate() {
        if i < header_len && is(l, "count:") {
            continue;
        }
        out.push((*l).to_string());
        if !placed && Some(i) == settings_at {
            out.extend(block.iter().cloned());
            placed = true;
        }
    }
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Runs every case through a host and gathers every failure, so one run
/// shows them all: Err holds the summary and each failure's report.
pub fn run_all(
    cases: &[Case],
    mut run: impl FnMut(&Case) -> Result<(), String>,
) -> Result<(), String> {
    let failures: Vec<String> = cases.iter().filter_map(|c| run(c).err()).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n\n")
        ))
    }
}

fn is_request(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some("AdmissionReview")
        || (v.get("kind").is_some_and(Value::is_object) && v.get("operation").is_some())
}

/// A finding's rule and object, as the counts below key them.
fn count_key(f: &Value) -> (String, String) {
    let part = |k: &str| f.get(k).map(Value::to_string).unwrap_or_default();
    (part("rule"), part("object"))
}

/// How many findings each rule has on each object in an answer (the core's
/// report or `check_text`'s): the listed ones and those counted in
/// `truncated`, so a fix is seen to take its finding away even when the
/// list was full.
pub fn finding_counts(report: &Value) -> HashMap<(String, String), usize> {
    let mut out = HashMap::new();
    for list in ["violations", "warnings", "findings"] {
        for f in report
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            *out.entry(count_key(f)).or_insert(0) += 1;
        }
    }
    for t in report
        .get("truncated")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let unlisted = t.get("unlisted").and_then(Value::as_u64).unwrap_or(0);
        let n: &mut usize = out.entry(count_key(t)).or_insert(0);
        *n = (*n).saturating_add(usize::try_from(unlisted).unwrap_or(usize::MAX));
    }
    out
}

/// The fixes that did not take their finding away: `written` are findings of
/// `before` whose fix was applied, `after` the answer on the fixed input.
/// Each written fix must lower its rule's count on its object by one.
pub fn unfixed(before: &Value, after: &Value, written: &[Value]) -> Vec<String> {
    let (before, after) = (finding_counts(before), finding_counts(after));
    let mut fixed: HashMap<(String, String), usize> = HashMap::new();
    for f in written {
        *fixed.entry(count_key(f)).or_insert(0) += 1;
    }
    let mut out: Vec<String> = fixed
        .into_iter()
        .filter(|(key, n)| {
            after.get(key).copied().unwrap_or(0).saturating_add(*n)
                > before.get(key).copied().unwrap_or(0)
        })
        .map(|((rule, object), _)| format!("{rule} on {object} is still reported after its fix"))
        .collect();
    out.sort();
    out
}

/// Reads a YAML/JSON file into its documents' values.
pub fn read_documents(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    yaml::load(&text)
        .into_iter()
        .map(|d| d.value.map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

/// The rule's action forced to `deny` unless the settings name one.
pub fn settings_for(rule: &str, settings: Option<&Value>) -> Value {
    let mut s = settings.cloned().unwrap_or_else(|| json!({}));
    if !s.is_object() {
        return s;
    }
    let rules = s
        .as_object_mut()
        .map(|m| m.entry("rules").or_insert_with(|| json!({})));
    if let Some(Value::Object(rules)) = rules {
        match rules.get_mut(rule) {
            None => {
                rules.insert(rule.to_string(), json!("deny"));
            }
            Some(Value::Object(p)) => {
                p.entry("action").or_insert_with(|| json!("deny"));
            }
            Some(_) => {}
        }
    }
    s
}

/// What a case states besides its documents.
#[derive(Debug, Default)]
struct Header {
    settings: Option<Value>,
    count: Option<usize>,
    findings: Option<Vec<Expected>>,
    /// How many of the last documents are the inventory.
    inventory: usize,
}

fn build(
    rule: &str,
    name: String,
    expect: Expect,
    head: Header,
    docs: Vec<Value>,
    inventory: Vec<Value>,
) -> Case {
    let settings = settings_for(rule, head.settings.as_ref());
    let (request, objects) = match docs.as_slice() {
        [one] if is_request(one) => {
            let req = if one.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
                one.get("request").cloned().unwrap_or(Value::Null)
            } else {
                one.clone()
            };
            (Some(req), Vec::new())
        }
        _ => (None, docs),
    };
    Case {
        rule: rule.to_string(),
        name,
        expect,
        count: head.count,
        findings: head.findings,
        settings,
        objects,
        inventory,
        request,
        file: None,
    }
}

/// Every case under `policies/<rule-id>/`, sorted.
pub fn policy_cases(policies: &Path) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    for rule in crate::rules::RULES {
        let id = rule.meta().id;
        let dir = policies.join(id);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            })
            .collect();
        files.sort();
        for file in files {
            let fname = file
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or_default()
                .to_string();
            let expect = if fname.starts_with("allowed") {
                Expect::Allow
            } else if fname.starts_with("denied") {
                Expect::Deny
            } else {
                return Err(format!(
                    "{}: a case file name starts with allowed or denied",
                    file.display()
                ));
            };
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let head = header(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            check_header(&head, expect).map_err(|e| format!("{}: {e}", file.display()))?;
            let mut docs = read_documents(&file)?;
            let bundle = docs.len().checked_sub(head.inventory).filter(|n| *n > 0);
            let Some(bundle) = bundle else {
                return Err(format!(
                    "{}: `inventory: {}` leaves no document to review",
                    file.display(),
                    head.inventory
                ));
            };
            let inventory = docs.split_off(bundle);
            if !inventory.is_empty() && matches!(docs.as_slice(), [one] if is_request(one)) {
                return Err(format!(
                    "{}: an admission request case carries no inventory (no host input holds both)",
                    file.display()
                ));
            }
            let mut case = build(
                id,
                format!("policies/{id}/{fname}"),
                expect,
                head,
                docs,
                inventory,
            );
            case.file = Some(file);
            cases.push(case);
        }
    }
    Ok(cases)
}

/// A header must agree with the file name and with itself.
fn check_header(head: &Header, expect: Expect) -> Result<(), String> {
    let Some(findings) = &head.findings else {
        return Ok(());
    };
    let denies = findings.iter().any(|f| f.action == Action::Deny);
    match expect {
        Expect::Allow if denies => return Err("an allowed case expects no `deny` finding".into()),
        Expect::Deny if !denies => {
            return Err("a denied case expects at least one `deny` finding".into())
        }
        _ => {}
    }
    if let Some(c) = head.count.filter(|c| *c != findings.len()) {
        return Err(format!(
            "`count: {c}` disagrees with the {} findings of `expect`",
            findings.len()
        ));
    }
    Ok(())
}

/// `# settings:`, `# expect:` and `# count:` from the leading comment lines.
fn header(text: &str) -> Result<Header, String> {
    let mut head = Header::default();
    // inside an `expect:` block: whether it has an entry yet
    let mut block: Option<bool> = None;
    for (n, line) in text.lines().enumerate() {
        let at = |msg: String| format!("line {}: {msg}", n + 1);
        let trimmed = line.trim();
        let Some(comment) = trimmed.strip_prefix('#') else {
            if trimmed.is_empty() {
                continue;
            }
            break;
        };
        if block.is_some() && comment.starts_with("  ") {
            let entry = comment.trim();
            let list = head.findings.get_or_insert_with(Vec::new);
            if let Some(fix) = entry.strip_prefix("fix:") {
                let last = list
                    .last_mut()
                    .ok_or_else(|| at("a `fix:` line follows the finding it belongs to".into()))?;
                if last.fix.is_some() {
                    return Err(at("a finding has one `fix:` line".into()));
                }
                let value = flow_value(fix).map_err(|e| at(format!("fix: {e}")))?;
                if !value.is_array() {
                    return Err(at("a fix is a JSON Patch: a list of operations".into()));
                }
                last.fix = Some(value);
            } else {
                list.push(Expected::parse(entry).map_err(at)?);
                block = Some(true);
            }
            continue;
        }
        if block == Some(false) {
            return Err(at(
                "`expect:` lists no finding under it; write `# expect: nothing`".into(),
            ));
        }
        block = None;
        let comment = comment.trim();
        if let Some(s) = comment.strip_prefix("settings:") {
            head.settings = Some(flow_value(s).map_err(|e| at(format!("settings: {e}")))?);
        } else if let Some(c) = comment.strip_prefix("count:") {
            head.count = Some(
                c.trim()
                    .parse()
                    .map_err(|_| at(format!("count: `{}` is not a number", c.trim())))?,
            );
        } else if let Some(c) = comment.strip_prefix("inventory:") {
            head.inventory = c
                .trim()
                .parse()
                .map_err(|_| at(format!("inventory: `{}` is not a number", c.trim())))?;
        } else if let Some(e) = comment.strip_prefix("expect:") {
            if head.findings.is_some() {
                return Err(at("a case has one `expect:`".into()));
            }
            match e.trim() {
                "nothing" => head.findings = Some(Vec::new()),
                "" => {
                    head.findings = Some(Vec::new());
                    block = Some(false);
                }
                other => {
                    return Err(at(format!(
                        "`expect:` is followed by `nothing` or by indented findings, not `{other}`"
                    )))
                }
            }
        }
    }
    if block == Some(false) {
        return Err("`expect:` lists no finding under it; write `# expect: nothing`".into());
    }
    Ok(head)
}

/// One line of YAML flow as a value.
fn flow_value(text: &str) -> Result<Value, String> {
    match yaml::load(text).into_iter().next().map(|d| d.value) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("empty".into()),
    }
}

/// The shared conformance file's cases whose rule exists in this build.
/// Returns the runnable cases and the number skipped for missing rules.
pub fn conformance_cases(shared_conformance: &Path) -> Result<(Vec<Case>, usize), String> {
    let file = shared_conformance.join("expectations.yaml");
    let docs = read_documents(&file)?;
    let doc = docs
        .into_iter()
        .next()
        .ok_or("expectations.yaml is empty")?;
    let list = doc
        .get("cases")
        .and_then(Value::as_array)
        .ok_or("expectations.yaml has no `cases` list")?;
    let mut cases = Vec::new();
    let mut skipped = 0;
    for (i, c) in list.iter().enumerate() {
        let field = |k: &str| {
            c.get(k)
                .and_then(Value::as_str)
                .ok_or(format!("case {i}: missing `{k}`"))
        };
        let rule = field("rule")?;
        if crate::rules::find(rule).is_none() {
            skipped += 1;
            continue;
        }
        let file = field("file")?;
        let expect = match field("expect")? {
            "allow" => Expect::Allow,
            "deny" => Expect::Deny,
            other => return Err(format!("case {i}: expect `{other}`")),
        };
        let count = c
            .get("count")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok());
        let docs = read_documents(&shared_conformance.join(file))?;
        let mut inventory = Vec::new();
        for w in c
            .get("with")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let w = w
                .as_str()
                .ok_or(format!("case {i}: `with` entries are paths"))?;
            inventory.extend(read_documents(&shared_conformance.join(w))?);
        }
        let name = format!("conformance #{i} {file} [{rule}]");
        let peer = match c.get("settings") {
            Some(_) => None,
            None => peer_constraint_settings(&shared_conformance.join(file))?,
        };
        let settings = c.get("settings").or(peer.as_ref());
        let head = Header {
            settings: settings.cloned(),
            count,
            findings: None,
            inventory: 0,
        };
        cases.push(build(rule, name, expect, head, docs, inventory));
    }
    Ok((cases, skipped))
}

/// Gatekeeper constraint parameters and the portcullis settings they mean.
/// A case without settings of its own is judged under the parameters of the
/// peer's constraint beside its sample, as the peer judged it.
const CONSTRAINT_PARAMETERS: &[(&str, &str, &str, &str)] = &[
    // (constraint kind, parameter, rule, rule parameter)
    (
        "K8sDisallowAnonymous",
        "allowedRoles",
        "rbac-anonymous-subject",
        "allowedRoles",
    ),
    (
        "K8sDisallowAnonymous",
        "disallowAuthenticated",
        "rbac-anonymous-subject",
        "includeAuthenticated",
    ),
];

/// Settings translated from the `constraint.yaml` next to a Gatekeeper sample
/// (or one or two folders up), when its parameters have a portcullis meaning.
fn peer_constraint_settings(sample: &Path) -> Result<Option<Value>, String> {
    let Some(constraint) = sample
        .ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join("constraint.yaml"))
        .find(|p| p.exists())
    else {
        return Ok(None);
    };
    let docs = read_documents(&constraint)?;
    let Some(doc) = docs.first() else {
        return Ok(None);
    };
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    let Some(params) = doc.pointer("/spec/parameters").and_then(Value::as_object) else {
        return Ok(None);
    };
    let mut rules = Map::new();
    for (k, v) in params {
        let mapped = CONSTRAINT_PARAMETERS
            .iter()
            .find(|(ck, cp, _, _)| *ck == kind && cp == k);
        if let Some((_, _, rule, param)) = mapped {
            let entry = rules
                .entry(rule.to_string())
                .or_insert_with(|| json!({"action": "deny"}));
            if let Some(m) = entry.as_object_mut() {
                m.insert(param.to_string(), v.clone());
            }
        }
    }
    Ok((!rules.is_empty()).then(|| json!({"rules": rules})))
}

/// Where the peers' conformance corpus is: `PORTCULLIS_CONFORMANCE` when set,
/// else `../shared/conformance` beside the repository (where CI puts it).
pub fn conformance_dir(repo_root: &Path) -> PathBuf {
    match std::env::var_os("PORTCULLIS_CONFORMANCE") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                repo_root.join(dir)
            }
        }
        _ => repo_root.join("../shared/conformance"),
    }
}

/// Whether a missing corpus fails the run (`PORTCULLIS_REQUIRE_CONFORMANCE=1`,
/// as CI sets it) instead of being skipped with a notice.
pub fn conformance_required() -> bool {
    std::env::var("PORTCULLIS_REQUIRE_CONFORMANCE").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The conformance corpus when it is there. A user's clone has none: then
/// this gives `Ok(None)` (`make test` says so in one line), unless the corpus
/// is required, when its absence is an error that fails the run.
pub fn conformance_corpus(repo_root: &Path) -> Result<Option<PathBuf>, String> {
    let dir = conformance_dir(repo_root);
    if dir.join("expectations.yaml").is_file() {
        return Ok(Some(dir));
    }
    let msg = format!(
        "peer conformance corpus not found at {} (set PORTCULLIS_CONFORMANCE to its folder)",
        dir.display()
    );
    if conformance_required() {
        Err(format!(
            "{msg}; PORTCULLIS_REQUIRE_CONFORMANCE is set, so this fails"
        ))
    } else {
        Ok(None)
    }
}

/// The conformance cases when the corpus is there (see `conformance_corpus`).
pub fn conformance_cases_if_present(repo_root: &Path) -> Result<Vec<Case>, String> {
    match conformance_corpus(repo_root)? {
        Some(dir) => Ok(conformance_cases(&dir)?.0),
        None => Ok(Vec::new()),
    }
}

/// Helper for hosts: the settings object without the `inventory` key.
pub fn split_inventory(data: &Value) -> (Value, Option<Value>) {
    match data {
        Value::Object(m) => {
            let mut m: Map<String, Value> = m.clone();
            let inv = m.remove("inventory");
            (Value::Object(m), inv)
        }
        other => (other.clone(), None),
    }
}

/// Every file under `dir` (recursively, in path order) whose extension is
/// one of `extensions`, appended to `out`: the case files, examples and
/// profiles the tests and the fuzz seeds read. An unreadable folder adds none.
pub fn files_under(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, extensions, out);
        } else if p
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == *x))
        {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests fail loudly by design

    use super::*;

    const HEADER: &str = "# settings: {rules: {service-type-nodeport: warn}}
# expect:
#   deny Service shop/orders /spec/type
#     fix: [{op: replace, path: /spec/type, value: ClusterIP}]
#   warn ClusterRole reader /rules/2
#   deny KubeletConfiguration \"\" /readOnlyPort
# A free comment ends the block.
apiVersion: v1
";

    fn case(findings: Option<Vec<Expected>>, expect: Expect) -> Case {
        Case {
            rule: "r".into(),
            name: "c".into(),
            expect,
            count: None,
            findings,
            settings: json!({}),
            objects: Vec::new(),
            inventory: Vec::new(),
            request: None,
            file: None,
        }
    }

    fn finding(action: &str, path: &str, fix: Option<Value>) -> Value {
        let mut f = json!({"rule": "r", "action": action, "path": path,
            "object": {"apiVersion": "v1", "kind": "Service", "namespace": "shop", "name": "web"}});
        if let Some(fix) = fix {
            f["fix"] = fix;
        }
        f
    }

    #[test]
    fn header_reads_settings_findings_and_fixes() {
        let h = header(HEADER).unwrap();
        assert_eq!(
            h.settings,
            Some(json!({"rules": {"service-type-nodeport": "warn"}}))
        );
        let f = h.findings.unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].action, Action::Deny);
        assert_eq!(
            (
                f[0].kind.as_str(),
                f[0].namespace.as_deref(),
                f[0].name.as_str()
            ),
            ("Service", Some("shop"), "orders")
        );
        assert_eq!(
            f[0].fix,
            Some(json!([{"op": "replace", "path": "/spec/type", "value": "ClusterIP"}]))
        );
        assert_eq!((f[1].namespace.as_deref(), f[1].fix.as_ref()), (None, None));
        assert_eq!(
            (f[2].name.as_str(), f[2].path.as_str()),
            ("", "/readOnlyPort")
        );
        // the lines read back the way they are written
        let lines: Vec<String> = f.iter().flat_map(Expected::header_lines).collect();
        assert_eq!(
            lines.join("\n"),
            HEADER
                .lines()
                .skip(2)
                .take(4)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn malformed_headers_are_errors_that_say_where() {
        for (text, needle) in [
            ("# expect:\napiVersion: v1\n", "write `# expect: nothing`"),
            ("# expect:\n# free text\n", "line 2"),
            ("# expect: all of them\n", "not `all of them`"),
            ("# expect:\n#   fix: []\n", "follows the finding"),
            (
                "# expect:\n#   denied Service a /spec\n",
                "is not a finding",
            ),
            ("# expect:\n#   deny Service a spec\n", "is not a finding"),
            (
                "# expect:\n#   deny Service a /x\n#     fix: {op: remove}\n",
                "a list of operations",
            ),
            ("# expect: nothing\n# expect: nothing\n", "one `expect:`"),
            ("# count: two\n", "not a number"),
        ] {
            let err = header(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
        let deny = header("# expect: nothing\n").unwrap();
        assert!(check_header(&deny, Expect::Deny).is_err());
        let warn_only = header("# expect:\n#   warn Service a /spec\n").unwrap();
        assert!(check_header(&warn_only, Expect::Allow).is_ok());
        assert!(check_header(&warn_only, Expect::Deny).is_err());
    }

    #[test]
    fn judging_pins_action_path_and_fix() {
        let want = Expected::from_finding(&finding(
            "deny",
            "/spec/type",
            Some(json!([{"op": "remove", "path": "/a"}])),
        ))
        .unwrap();
        let c = case(Some(vec![want]), Expect::Deny);
        let report = |violations: Vec<Value>, warnings: Vec<Value>| json!({"allowed": false, "violations": violations, "warnings": warnings});
        let fix = || Some(json!([{"op": "remove", "path": "/a"}]));
        assert!(c
            .judge(&report(vec![finding("deny", "/spec/type", fix())], vec![]))
            .is_ok());
        // the same finding warned, on another path, without its fix, or twice
        for wrong in [
            report(vec![], vec![finding("warn", "/spec/type", fix())]),
            report(vec![finding("deny", "/spec", fix())], vec![]),
            report(vec![finding("deny", "/spec/type", None)], vec![]),
            report(
                vec![
                    finding("deny", "/spec/type", fix()),
                    finding("deny", "/spec/type", fix()),
                ],
                vec![],
            ),
            // a finding in the list its action contradicts
            report(vec![finding("warn", "/spec/type", fix())], vec![]),
        ] {
            assert!(c.judge(&wrong).is_err(), "{wrong}");
        }
        let err = c
            .judge(&report(vec![finding("deny", "/spec", fix())], vec![]))
            .unwrap_err();
        assert!(
            err.contains("expected but missing:\n  deny Service shop/web /spec/type"),
            "{err}"
        );
        assert!(
            err.contains("found but not expected:\n  deny Service shop/web /spec\n"),
            "{err}"
        );
    }

    #[test]
    fn admission_answers_are_counted_per_rule() {
        let warn = Expected::from_finding(&finding("warn", "/spec", None)).unwrap();
        let deny = Expected::from_finding(&finding("deny", "/spec", None)).unwrap();
        let c = case(Some(vec![deny, warn]), Expect::Deny);
        assert!(c
            .judge_admission(false, &["r: a", "other: b"], &["r: c"])
            .is_ok());
        assert!(c.judge_admission(true, &["r: a"], &["r: c"]).is_err());
        assert!(c.judge_admission(false, &["other: a"], &["r: c"]).is_err());
        assert!(c
            .judge_admission(false, &["r: a"], &["r: c", "r: d"])
            .is_err());
        let mut audit = c.clone();
        audit.settings = json!({"mode": "audit"});
        assert!(audit
            .judge_admission(true, &[], &["r: a (audit mode: not enforced)", "r: c"])
            .is_ok());
        assert!(audit.judge_admission(false, &["r: a"], &["r: c"]).is_err());
        // Gatekeeper lists denials only, none in audit mode
        let list = json!([{"msg": "m", "details": finding("deny", "/spec", None)}]);
        assert!(c.judge_violation_list(&list).is_ok());
        assert!(c.judge_violation_list(&json!([])).is_err());
        assert!(audit.judge_violation_list(&json!([])).is_ok());
        assert!(audit.judge_violation_list(&list).is_err());
    }

    #[test]
    fn flow_reads_back_as_the_same_value() {
        let v = json!([{"op": "test", "path": "/spec/externalIPs/0", "value": "8.8.8.8"},
            {"op": "add", "path": "/metadata/annotations/a~1b", "value": "false"},
            {"value": true, "s": "", "t": "yes", "u": "a: b", "w": "#x", "x": "~", "n": 3, "z": null, "q": "\u{1b}[31m\""}]);
        let text = flow(&v);
        assert_eq!(flow_value(&text).unwrap(), v, "{text}");
        assert!(
            text.starts_with("[{op: test, path: /spec/externalIPs/0, value: \"8.8.8.8\"}"),
            "{text}"
        );
    }

    #[test]
    fn bless_replaces_count_after_the_settings_line() {
        let text = "# note first\n# settings: {a: 1}\n# count: 2\n# why\nkind: X\n# count: 9 stays in the body\n";
        let block = vec!["# expect:".to_string(), "#   deny X a /b".to_string()];
        assert_eq!(
            with_expectation(text, &block),
            "# note first\n# settings: {a: 1}\n# expect:\n#   deny X a /b\n# why\nkind: X\n# count: 9 stays in the body\n"
        );
        assert_eq!(
            with_expectation("kind: X", &block),
            "# expect:\n#   deny X a /b\nkind: X"
        );
    }
}
