//! The rule cases under `policies/<rule-id>/` and the shared conformance
//! file, loaded into one form every test host (native, wasm modules, OPA,
//! Kubewarden, browser) can run and judge the same way.
//!
//! Case files are YAML (JSON is YAML too). The file name states the verdict:
//! `allowed-*.yaml` or `denied-*.yaml`. Comment lines at the top may set
//! `# settings: {…}` (one line, YAML flow) and `# count: N` (exact number of
//! findings of the rule). Several documents form one bundle; a single
//! AdmissionReview or AdmissionRequest document is evaluated as a request.

use crate::yaml;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The rule denies nothing (a ratcheted UPDATE may still warn).
    Allow,
    /// The rule reports at least one finding.
    Deny,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub rule: String,
    /// `policies/<rule>/<file>` or the conformance file path.
    pub name: String,
    pub expect: Expect,
    pub count: Option<usize>,
    /// Settings with the case's rule switched to `deny` unless they set its action.
    pub settings: Value,
    /// Plain objects of the bundle (empty for an admission request).
    pub objects: Vec<Value>,
    /// Extra objects known to the rules (the peer's inventory).
    pub inventory: Vec<Value>,
    /// The AdmissionRequest, when the case is one.
    pub request: Option<Value>,
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

    /// Checks a report (the JSON answer of any host) against the expectation.
    pub fn judge(&self, report: &Value) -> Result<(), String> {
        if let Some(err) = report.get("error") {
            return Err(format!("{}: evaluation failed: {err}", self.name));
        }
        let of_rule = |list: &str| {
            report
                .get(list)
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter(|f| f.get("rule").and_then(Value::as_str) == Some(&self.rule))
                        .count()
                })
                .unwrap_or(0)
        };
        let denied = of_rule("violations");
        let total = denied + of_rule("warnings");
        let ok = match self.expect {
            Expect::Allow => denied == 0,
            Expect::Deny => total > 0,
        } && self.count.is_none_or(|c| c == total);
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{}: expected {:?}{} for {}, got {denied} denied and {} warned\nreport: {report}",
                self.name,
                self.expect,
                self.count
                    .map(|c| format!(" ({c} findings)"))
                    .unwrap_or_default(),
                self.rule,
                total - denied
            ))
        }
    }
}

/// Runs every case through a host and gathers every failure, so one run
/// shows them all: Err holds the summary and each failure's report.
pub fn run_all(cases: &[Case], run: impl Fn(&Case) -> Result<(), String>) -> Result<(), String> {
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

fn build(
    rule: &str,
    name: String,
    expect: Expect,
    count: Option<usize>,
    settings: Option<&Value>,
    docs: Vec<Value>,
    inventory: Vec<Value>,
) -> Case {
    let settings = settings_for(rule, settings);
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
        count,
        settings,
        objects,
        inventory,
        request,
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
            let (settings, count) =
                header(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let docs = read_documents(&file)?;
            cases.push(build(
                id,
                format!("policies/{id}/{fname}"),
                expect,
                count,
                settings.as_ref(),
                docs,
                Vec::new(),
            ));
        }
    }
    Ok(cases)
}

/// `# settings:` and `# count:` from the leading comment lines.
fn header(text: &str) -> Result<(Option<Value>, Option<usize>), String> {
    let mut settings = None;
    let mut count = None;
    for line in text.lines() {
        let Some(comment) = line.trim().strip_prefix('#') else {
            if line.trim().is_empty() {
                continue;
            }
            break;
        };
        let comment = comment.trim();
        if let Some(s) = comment.strip_prefix("settings:") {
            let docs = yaml::load(s);
            let v = docs.into_iter().next().map(|d| d.value);
            settings = match v {
                Some(Ok(v)) => Some(v),
                Some(Err(e)) => return Err(format!("settings header: {e}")),
                None => None,
            };
        } else if let Some(c) = comment.strip_prefix("count:") {
            count = Some(
                c.trim()
                    .parse()
                    .map_err(|_| format!("count header: `{c}` is not a number"))?,
            );
        }
    }
    Ok((settings, count))
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
        cases.push(build(rule, name, expect, count, settings, docs, inventory));
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
