//! `portcullis`: check Kubernetes manifests in CI, list and explain the rules.
//!
//! Exit codes: 0 clean (warnings allowed), 1 something denied (whatever else
//! happened), 2 nothing denied but some input unreadable, or a usage error.

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
  --bundle one|per-path      one: everything read is one deployment (default);
                             per-path: each PATH is checked as its own bundle
  --no-color                 plain text even on a terminal

exit codes: 0 nothing denied, 1 something denied (input errors or not),
            2 nothing denied but some input unreadable, or a usage error";

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
    bundling: load::Bundling,
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
        bundling: load::Bundling::One,
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
            "--bundle" => {
                a.bundling = match value("--bundle")?.as_str() {
                    "one" => load::Bundling::One,
                    "per-path" => load::Bundling::PerPath,
                    other => bail!("--bundle: `{other}` is not one or per-path"),
                }
            }
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
    let mut loaded = load::load(&a.paths, a.bundling);
    let host = Host {
        settings: Some(&settings),
        inventory: None,
    };
    let mut reports: Vec<(Origin, Report)> = Vec::new();
    let mut eval_errors = Vec::new();
    let mut bundles = std::mem::take(&mut loaded.bundles);
    for (b, bundle) in bundles.iter_mut().enumerate() {
        if bundle.objects.is_empty() {
            continue;
        }
        // plain manifests form a bundle, so cross-object rules see each other
        let mut values = Value::Array(std::mem::take(&mut bundle.objects));
        let mut result = portcullis::evaluate_document(&values, host);
        let mut kept: Option<Vec<usize>> = None;
        if let Err(portcullis::Error::Object { .. }) = result {
            // an object the rules cannot read is reported where it is, and the
            // rest is checked without it (only then is each object read alone)
            let Value::Array(items) = std::mem::take(&mut values) else {
                bail!("the bundle is a list");
            };
            let (readable, indexes, errors) = readable_objects(items, bundle, &loaded);
            loaded.errors.extend(errors);
            values = Value::Array(readable);
            result = portcullis::evaluate_document(&values, host);
            kept = Some(indexes);
        }
        match result {
            Ok(mut r) => {
                if let Some(kept) = &kept {
                    for f in r.violations.iter_mut().chain(r.warnings.iter_mut()) {
                        f.index = kept.get(f.index).copied().unwrap_or(f.index);
                    }
                }
                reports.push((Origin::Bundle(b), r));
            }
            Err(e) => eval_errors.push(("<bundle>".to_string(), e.to_string())),
        }
        // the process ends soon: the objects are not freed one by one
        std::mem::forget(values);
    }
    loaded.bundles = bundles;
    for (i, req) in loaded.requests.iter().enumerate() {
        // a request document is content too: settings inside it are an error
        match portcullis::evaluate_document(&req.value, host) {
            Ok(r) => reports.push((Origin::Request(i), r)),
            Err(portcullis::Error::InputSettings { path }) => {
                let message = portcullis::Error::InputSettings { path: path.clone() }.to_string();
                let (file, pos) = match loaded.request_position(req, &path) {
                    Some((file, pos)) => (file.to_string(), Some(pos)),
                    None => ("<input>".to_string(), None),
                };
                loaded.errors.push(load::LoadError {
                    file,
                    document: Some(req.document),
                    line: pos.map(|p| p.line),
                    column: pos.map(|p| p.column),
                    message: format!("{}: {message}", load::document_label(req.document)),
                });
            }
            Err(e) => {
                let file = loaded
                    .files
                    .get(req.file)
                    .map(|f| f.name.clone())
                    .unwrap_or_default();
                eval_errors.push((file, format!("{}: {e}", load::document_label(req.document))));
            }
        }
    }
    let (origins, only): (Vec<Origin>, Vec<Report>) = reports.into_iter().unzip();
    let mut located = Vec::new();
    for (origin, report) in origins.iter().zip(&only) {
        for f in report.findings() {
            let (file, document, pos) = match origin {
                Origin::Request(i) => {
                    let Some(r) = loaded.requests.get(*i) else {
                        continue;
                    };
                    let prefix = portcullis::yamlcheck::request_prefix(&r.value, f.index);
                    match loaded.request_position(r, &format!("{prefix}{}", f.path)) {
                        Some((file, pos)) => (file.to_string(), Some(r.document), pos),
                        None => continue,
                    }
                }
                Origin::Bundle(b) => match loaded.position(*b, f.index, &f.path) {
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
    let code = exit_code(&outcome);
    // the process ends here: freeing every object and finding one by one
    // was a fifth of a large run, and the OS takes the memory back at once
    std::mem::forget(outcome);
    std::mem::forget((only, loaded, text));
    Ok(code)
}

/// 1 whenever something is denied, input errors or not, so CI can tell a
/// policy failure from an unreadable file; 2 when nothing is denied but some
/// input could not be read; 0 otherwise (warnings are fine).
fn exit_code(o: &Outcome<'_>) -> ExitCode {
    if o.reports.iter().any(|r| !r.allowed) {
        ExitCode::from(1)
    } else if !o.loaded.errors.is_empty() || !o.eval_errors.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Which evaluation a report comes from.
#[derive(Clone, Copy)]
enum Origin {
    /// The bundle at this index of `Loaded::bundles`.
    Bundle(usize),
    /// The request document at this index of `Loaded::requests`.
    Request(usize),
}

/// The objects the rules can read, with their indexes in the bundle; each
/// other object becomes an input error at the field that could not be read.
fn readable_objects(
    objects: Vec<Value>,
    bundle: &load::Bundle,
    loaded: &load::Loaded,
) -> (Vec<Value>, Vec<usize>, Vec<load::LoadError>) {
    let mut readable = Vec::with_capacity(objects.len());
    let mut kept = Vec::with_capacity(objects.len());
    let mut errors = Vec::new();
    for (i, obj) in objects.into_iter().enumerate() {
        let problem = portcullis::object::Object::parse(&obj, i).err();
        let Some(e) = problem else {
            readable.push(obj);
            kept.push(i);
            continue;
        };
        let (path, message) = match &e {
            portcullis::Error::Object { path, message, .. } => {
                (path.clone(), format!("field {path}: {message}"))
            }
            other => (String::new(), other.to_string()),
        };
        let src = bundle.sources.get(i);
        let file = src.and_then(|s| loaded.files.get(s.file));
        let doc = src.and_then(|s| file.and_then(|f| f.documents.get(s.document)));
        let pos = match (src, doc) {
            (Some(s), Some(d)) => Some(d.position(&format!("{}{path}", s.prefix))),
            _ => None,
        };
        let item = src
            .filter(|s| !s.prefix.is_empty())
            .map(|s| format!(" item {}", s.prefix))
            .unwrap_or_default();
        let what = describe(&obj);
        errors.push(load::LoadError {
            file: file.map_or_else(|| "<input>".to_string(), |f| f.name.clone()),
            document: src.map(|s| s.document),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            message: format!(
                "{}{item}: {what}{message}",
                src.map_or_else(String::new, |s| load::document_label(s.document))
            ),
        });
    }
    (readable, kept, errors)
}

/// `Deployment shop/web: ` for messages, as far as the object says it.
fn describe(obj: &Value) -> String {
    let text = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (text("/kind"), text("/metadata/name")) {
        (Some(kind), Some(name)) => match text("/metadata/namespace") {
            Some(ns) => format!("{kind} {ns}/{name}: "),
            None => format!("{kind} {name}: "),
        },
        (Some(kind), None) => format!("{kind}: "),
        _ => String::new(),
    }
}
