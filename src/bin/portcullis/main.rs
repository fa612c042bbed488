//! `portcullis`: check Kubernetes manifests in CI, list and explain the rules.
//!
//! Exit codes: 0 clean (warnings allowed), 1 denied findings, 2 bad input or usage.

mod load;
mod output;

use anyhow::{bail, Context as _, Result};
use portcullis::{Finding, Host, Report};
use serde_json::Value;
use std::process::ExitCode;

const USAGE: &str = "\
portcullis: Kubernetes exposure and access rules

usage:
  portcullis check [PATH…|-] [options]   check manifests (files, directories, - for stdin)
  portcullis rules [--format text|json]  list the rule catalogue
  portcullis explain RULE                print a rule's documentation
  portcullis version

check options:
  --format text|json|sarif   output format (default: text)
  --settings FILE            settings file (YAML or JSON), as for every host
  --profile baseline|strict  profile (overrides the settings file's)
  --kubernetes-version X.Y   target version for the api-version rules
  --no-color                 plain text even on a terminal

exit codes: 0 no denied findings, 1 denied findings, 2 bad input or usage";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

struct CheckArgs {
    paths: Vec<String>,
    format: Format,
    settings: Option<String>,
    profile: Option<String>,
    kubernetes_version: Option<String>,
    color: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("portcullis: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode> {
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return Ok(ExitCode::from(2));
    };
    match cmd.as_str() {
        "check" => check(parse_check(rest)?),
        "rules" => {
            let json = match rest {
                [] => false,
                [f, v] if f == "--format" && v == "json" => true,
                [f, v] if f == "--format" && v == "text" => false,
                [f] if f == "--format=json" => true,
                _ => bail!("usage: portcullis rules [--format text|json]"),
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&portcullis::catalogue())?
                );
            } else {
                print!("{}", output::rules_text());
            }
            Ok(ExitCode::SUCCESS)
        }
        "explain" => {
            let [id] = rest else {
                bail!("usage: portcullis explain RULE")
            };
            let Some(rule) = portcullis::rules::find(id) else {
                let ids: Vec<&str> = portcullis::rules::RULES
                    .iter()
                    .map(|r| r.meta().id)
                    .collect();
                let hint = portcullis::error::did_you_mean(id, ids.iter().copied());
                bail!("unknown rule `{id}`{hint}; `portcullis rules` lists them");
            };
            print!("{}", portcullis::docs::rule_markdown(rule.meta()));
            Ok(ExitCode::SUCCESS)
        }
        "version" | "--version" | "-V" => {
            println!("portcullis {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

fn parse_check(rest: &[String]) -> Result<CheckArgs> {
    let mut a = CheckArgs {
        paths: Vec::new(),
        format: Format::Text,
        settings: None,
        profile: None,
        kubernetes_version: None,
        color: std::io::IsTerminal::is_terminal(&std::io::stdout())
            && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value")),
            }
        };
        match flag {
            "--format" | "-f" => {
                a.format = match value("--format")?.as_str() {
                    "text" => Format::Text,
                    "json" => Format::Json,
                    "sarif" => Format::Sarif,
                    other => bail!("--format: `{other}` is not text, json or sarif"),
                }
            }
            "--settings" => a.settings = Some(value("--settings")?),
            "--profile" => a.profile = Some(value("--profile")?),
            "--kubernetes-version" => a.kubernetes_version = Some(value("--kubernetes-version")?),
            "--no-color" => a.color = false,
            "-" => a.paths.push("-".into()),
            f if f.starts_with('-') => bail!("unknown option `{f}`\n\n{USAGE}"),
            _ => a.paths.push(arg.clone()),
        }
    }
    if a.paths.is_empty() {
        bail!("check needs at least one path (or - for stdin)\n\n{USAGE}");
    }
    Ok(a)
}

/// Settings from the file, with the command-line overrides applied.
fn settings(a: &CheckArgs) -> Result<Value> {
    let mut s = match &a.settings {
        None => Value::Object(Default::default()),
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("--settings {path}"))?;
            let mut docs = portcullis::yaml::load(&text);
            match docs.len() {
                0 => Value::Object(Default::default()),
                1 => match docs.remove(0).value {
                    Ok(v) => v,
                    Err(e) => bail!("--settings {path}: {e}"),
                },
                n => bail!("--settings {path}: expected one YAML document, found {n}"),
            }
        }
    };
    if let Some(map) = s.as_object_mut() {
        if let Some(p) = &a.profile {
            map.insert("profile".into(), Value::String(p.clone()));
        }
        if let Some(v) = &a.kubernetes_version {
            map.insert("kubernetesVersion".into(), Value::String(v.clone()));
        }
    }
    // validate up front: a settings mistake is a usage error, named by its key
    portcullis::validate_settings(&s)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.settings.as_deref().unwrap_or("settings")))?;
    Ok(s)
}

/// One finding with where it is in the input.
pub struct Located<'a> {
    pub finding: &'a Finding,
    pub file: String,
    pub document: Option<usize>,
    pub line: usize,
    pub column: usize,
}

pub struct Outcome<'a> {
    pub located: Vec<Located<'a>>,
    pub reports: &'a [Report],
    pub loaded: &'a load::Loaded,
    pub eval_errors: Vec<(String, String)>,
}

fn check(a: CheckArgs) -> Result<ExitCode> {
    let settings = settings(&a)?;
    let mut loaded = load::load(&a.paths);
    let mut reports = Vec::new();
    let mut eval_errors = Vec::new();
    let host = Host {
        settings: Some(&settings),
        inventory: None,
    };
    // plain manifests form one bundle, so cross-object rules see each other
    let mut bundle = Value::Array(std::mem::take(&mut loaded.objects));
    let mut origin: Option<Vec<usize>> = None;
    let mut result = match &bundle {
        Value::Array(items) if !items.is_empty() => {
            Some(portcullis::evaluate_document(&bundle, host))
        }
        _ => None,
    };
    if let Some(Err(portcullis::Error::Object { .. })) = result {
        // an object the rules cannot read is reported where it is, and the
        // rest is checked without it (only then is each object read alone)
        let Value::Array(items) = std::mem::take(&mut bundle) else {
            bail!("the bundle is a list");
        };
        let (readable, kept) = readable_objects(items, &mut loaded);
        bundle = Value::Array(readable);
        result = (!kept.is_empty()).then(|| portcullis::evaluate_document(&bundle, host));
        origin = Some(kept);
    }
    match result {
        Some(Ok(mut r)) => {
            if let Some(origin) = &origin {
                for f in r.violations.iter_mut().chain(r.warnings.iter_mut()) {
                    f.index = origin.get(f.index).copied().unwrap_or(f.index);
                }
            }
            reports.push((None, r));
        }
        Some(Err(e)) => eval_errors.push(("<bundle>".to_string(), e.to_string())),
        None => {}
    }
    for (i, req) in loaded.requests.iter().enumerate() {
        // a request document is content too: settings inside it are an error
        match portcullis::evaluate_document(&req.value, host) {
            Ok(r) => reports.push((Some(i), r)),
            Err(portcullis::Error::InputSettings { path }) => {
                let message = portcullis::Error::InputSettings { path: path.clone() }.to_string();
                let (file, pos) = match loaded.request_position(req, &path) {
                    Some((file, pos)) => (file.to_string(), Some(pos)),
                    None => ("<input>".to_string(), None),
                };
                loaded.errors.push(load::LoadError {
                    file,
                    line: pos.map(|p| p.line),
                    column: pos.map(|p| p.column),
                    message: format!("YAML document {}: {message}", req.document),
                });
            }
            Err(e) => {
                let file = loaded
                    .files
                    .get(req.file)
                    .map(|f| f.name.clone())
                    .unwrap_or_default();
                eval_errors.push((file, e.to_string()));
            }
        }
    }
    let (requests_of, only): (Vec<Option<usize>>, Vec<Report>) = reports.into_iter().unzip();
    let mut located = Vec::new();
    for (req, report) in requests_of.iter().zip(&only) {
        for f in report.findings() {
            let (file, document, pos) = match req.and_then(|i| loaded.requests.get(i)) {
                Some(r) => {
                    let prefix = portcullis::yamlcheck::request_prefix(&r.value, f.index);
                    match loaded.request_position(r, &format!("{prefix}{}", f.path)) {
                        Some((file, pos)) => (file.to_string(), Some(r.document), pos),
                        None => continue,
                    }
                }
                None => match loaded.position(f.index, &f.path) {
                    Some((file, doc, pos)) => (file.to_string(), Some(doc), pos),
                    None => continue,
                },
            };
            located.push(Located {
                finding: f,
                file,
                document,
                line: pos.line,
                column: pos.column,
            });
        }
    }
    located.sort_by(|x, y| {
        (&x.file, x.line, x.column, x.finding.rule).cmp(&(
            &y.file,
            y.line,
            y.column,
            y.finding.rule,
        ))
    });
    let outcome = Outcome {
        located,
        reports: &only,
        loaded: &loaded,
        eval_errors,
    };
    let text = match a.format {
        Format::Text => output::text(&outcome, a.color),
        Format::Json => serde_json::to_string_pretty(&output::json(&outcome))?,
        Format::Sarif => serde_json::to_string_pretty(&output::sarif(&outcome))?,
    };
    println!("{text}");
    let bad_input = !loaded.errors.is_empty() || !outcome.eval_errors.is_empty();
    let denied = only.iter().any(|r| !r.allowed);
    let code = if bad_input {
        ExitCode::from(2)
    } else if denied {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    // the process ends here: freeing every object and finding one by one
    // was a fifth of a large run, and the OS takes the memory back at once
    std::mem::forget(outcome);
    std::mem::forget((only, bundle, loaded, text));
    Ok(code)
}

/// The objects the rules can read, with their original indexes; each other
/// object becomes an input error at the field that could not be read.
fn readable_objects(objects: Vec<Value>, loaded: &mut load::Loaded) -> (Vec<Value>, Vec<usize>) {
    let mut readable = Vec::with_capacity(objects.len());
    let mut kept = Vec::with_capacity(objects.len());
    for (i, obj) in objects.into_iter().enumerate() {
        match portcullis::object::Object::parse(&obj, i) {
            Ok(_) => {
                readable.push(obj);
                kept.push(i);
            }
            Err(e) => {
                let path = match &e {
                    portcullis::Error::Object { path, .. } => path.clone(),
                    _ => String::new(),
                };
                let (file, line, column) = match loaded.position(i, &path) {
                    Some((file, _, pos)) => (file.to_string(), Some(pos.line), Some(pos.column)),
                    None => ("<input>".to_string(), None, None),
                };
                loaded.errors.push(load::LoadError {
                    file,
                    line,
                    column,
                    message: e.to_string(),
                });
            }
        }
    }
    (readable, kept)
}
