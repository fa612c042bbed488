//! Reading manifests from files, directories and stdin into bundles,
//! remembering where every object came from.

use portcullis::yaml::{self, Document, Pos};
use portcullis::yamlcheck::{split_document, Member};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Where an object of a bundle came from.
pub struct Source {
    /// Index of the file in `Loaded::files`.
    pub file: usize,
    /// Index of the document in its file.
    pub document: usize,
    /// JSON Pointer of the object inside the document (`/items/3` in a List).
    pub prefix: String,
}

/// A problem with one file or document; the rest is still checked.
pub struct LoadError {
    pub file: String,
    pub document: Option<usize>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// A document left unchecked on purpose, and why.
pub struct Skipped {
    pub file: String,
    pub document: Option<usize>,
    pub line: usize,
    pub reason: String,
}

/// An input document that is a request or envelope rather than a manifest:
/// it is evaluated on its own.
pub struct Request {
    pub file: usize,
    pub document: usize,
    pub value: Value,
}

pub struct File {
    pub name: String,
    pub documents: Vec<Document>,
}

/// The objects checked together, so cross-object rules see each other.
#[derive(Default)]
pub struct Bundle {
    pub objects: Vec<Value>,
    pub sources: Vec<Source>,
}

/// How PATH arguments are grouped into bundles.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Bundling {
    /// Everything read forms one bundle (one deployment).
    One,
    /// Each PATH argument is a bundle of its own (independent trees).
    PerPath,
}

#[derive(Default)]
pub struct Loaded {
    pub files: Vec<File>,
    pub bundles: Vec<Bundle>,
    pub requests: Vec<Request>,
    pub errors: Vec<LoadError>,
    pub skipped: Vec<Skipped>,
}

impl Loaded {
    /// Line and column of a JSON Pointer inside object `index` of a bundle.
    pub fn position(
        &self,
        bundle: usize,
        index: usize,
        pointer: &str,
    ) -> Option<(&str, usize, Pos)> {
        let src = self.bundles.get(bundle)?.sources.get(index)?;
        let file = self.files.get(src.file)?;
        let doc = file.documents.get(src.document)?;
        Some((
            file.name.as_str(),
            src.document,
            doc.position(&format!("{}{pointer}", src.prefix)),
        ))
    }

    /// Position inside a request document.
    pub fn request_position(&self, req: &Request, pointer: &str) -> Option<(&str, Pos)> {
        let file = self.files.get(req.file)?;
        let doc = file.documents.get(req.document)?;
        Some((file.name.as_str(), doc.position(pointer)))
    }

    /// An error at a pointer inside a document of a loaded file.
    pub fn error_at(&mut self, file: usize, document: usize, pointer: &str, message: String) {
        let (name, pos) = match self.files.get(file) {
            Some(f) => {
                let pos = f.documents.get(document).map(|d| d.position(pointer));
                (f.name.clone(), pos)
            }
            None => ("<input>".to_string(), None),
        };
        self.errors.push(LoadError {
            file: name,
            document: Some(document),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            message,
        });
    }
}

fn is_manifest_file(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("yaml" | "yml" | "json")
    )
}

/// The names kustomize looks for in a directory.
const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

fn is_kustomization(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| KUSTOMIZATION_FILES.contains(&n))
}

/// Files under one PATH argument, directories walked recursively in name
/// order; hidden directories (`.git`) are skipped.
fn expand(p: &str, errors: &mut Vec<LoadError>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if p == "-" {
        out.push(PathBuf::from("-"));
        return out;
    }
    let path = PathBuf::from(p);
    if path.is_dir() {
        walk(&path, &mut out, errors);
    } else if path.exists() {
        out.push(path);
    } else {
        errors.push(LoadError {
            file: p.to_string(),
            document: None,
            line: None,
            column: None,
            message: "no such file or directory".into(),
        });
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(LoadError {
                file: dir.display().to_string(),
                document: None,
                line: None,
                column: None,
                message: e.to_string(),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if p.is_dir() {
            if !hidden {
                walk(&p, out, errors);
            }
        } else if is_manifest_file(&p) || is_kustomization(&p) {
            out.push(p);
        }
    }
}

/// Files that kustomizations beside the checked files merge into other
/// objects or read as configuration: patches, replacement sources, Helm
/// values. They are not objects of their own, so they are skipped, each
/// with the kustomization that names it.
fn kustomize_inputs(files: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let dirs: HashSet<&Path> = files.iter().filter_map(|f| f.parent()).collect();
    let mut dirs: Vec<&Path> = dirs.into_iter().collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let Some(kfile) = KUSTOMIZATION_FILES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&kfile) else {
            continue;
        };
        let Some(Ok(k)) = yaml::load(&text).into_iter().next().map(|d| d.value) else {
            continue;
        };
        let named = |p: &str, what: &str, out: &mut Vec<(PathBuf, String)>| {
            // an inline patch (YAML text) is no file name
            if p.contains('\n') || p.trim().is_empty() {
                return;
            }
            let target = dir.join(p.trim());
            let target = target.canonicalize().unwrap_or(target);
            out.push((target, format!("{what} of {}", kfile.display())));
        };
        for (field, what) in [
            ("patchesStrategicMerge", "a strategic merge patch"),
            ("patches", "a patch"),
            ("patchesJson6902", "a JSON 6902 patch"),
            ("replacements", "a replacement source"),
            ("helmCharts", "Helm values"),
        ] {
            for entry in k.get(field).and_then(Value::as_array).into_iter().flatten() {
                let path = match entry {
                    Value::String(s) => Some(s.as_str()),
                    other => other
                        .get("path")
                        .or_else(|| other.get("valuesFile"))
                        .and_then(Value::as_str),
                };
                if let Some(p) = path {
                    named(p, what, &mut out);
                }
            }
        }
    }
    out
}

type Problem = (Option<usize>, Option<usize>, String);

fn read_text(path: &Path) -> Result<String, Problem> {
    let bytes = if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    };
    let bytes = bytes.map_err(|e| (None, None, e.to_string()))?;
    // YAML allows UTF-16 with a byte order mark, and go-yaml and PyYAML read it
    let utf16 = match bytes.get(..2) {
        Some([0xFF, 0xFE]) => Some(u16::from_le_bytes as fn([u8; 2]) -> u16),
        Some([0xFE, 0xFF]) => Some(u16::from_be_bytes as fn([u8; 2]) -> u16),
        _ => None,
    };
    if let Some(unit) = utf16 {
        let units: Vec<u16> = bytes
            .get(2..)
            .unwrap_or_default()
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => unit([*a, *b]),
                _ => 0xFFFD,
            })
            .collect();
        return String::from_utf16(&units).map_err(|_| {
            (
                None,
                None,
                "not UTF-16 text, though it opens with a UTF-16 byte order mark".to_string(),
            )
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        (
            None,
            None,
            format!("not UTF-8 text (first bad byte at offset {offset})"),
        )
    })
}

/// JSON files are parsed as JSON (exact error positions); positions come
/// from reading the same text as YAML, which JSON is. A `.json` file that is
/// not strict JSON but reads as YAML (a trailing comma, several objects) is
/// taken as YAML, as kubectl's kustomize does; a stream of JSON values one
/// after another is one document per value, as kubectl's JSON decoder reads.
fn parse(path: &Path, text: &str) -> Result<Vec<Document>, Problem> {
    let is_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_json {
        let docs = yaml::load(text);
        // kubectl reads any input opening with `{` as JSON, a stream of values
        if docs.iter().any(|d| d.value.is_err()) && text.trim_start().starts_with('{') {
            if let Some(stream) = yaml::load_json_stream(text) {
                return Ok(stream);
            }
        }
        return Ok(docs);
    }
    let mut docs = yaml::load(text);
    match portcullis::parse_json(text.as_bytes()) {
        Ok(value) => {
            if let Some(d) = docs.first_mut().filter(|d| d.value.is_ok()) {
                d.value = Ok(value);
            }
            Ok(docs)
        }
        Err(_) if text.trim().is_empty() => Ok(Vec::new()),
        Err(_) if !docs.is_empty() && docs.iter().all(|d| d.value.is_ok()) => Ok(docs),
        Err(e) => match yaml::load_json_stream(text) {
            // several JSON values one after another, as kubectl reads them
            Some(stream) => Ok(stream),
            None => Err(match e {
                portcullis::Error::Json {
                    line,
                    column,
                    message,
                } => (
                    Some(line),
                    Some(column),
                    format!("not valid JSON: {message}"),
                ),
                other => (None, None, other.to_string()),
            }),
        },
    }
}

/// "document 3" (counted from 1 within its file), for messages.
pub fn document_label(index: usize) -> String {
    format!("document {}", index + 1)
}

/// Reads every path. JSON files are parsed as JSON (exact error positions),
/// everything else as multi-document YAML. Plain objects go into one bundle,
/// or one per PATH argument.
pub fn load(paths: &[String], bundling: Bundling) -> Loaded {
    let mut loaded = Loaded::default();
    let groups: Vec<Vec<PathBuf>> = paths
        .iter()
        .map(|p| expand(p, &mut loaded.errors))
        .collect();
    let all: Vec<PathBuf> = groups.iter().flatten().cloned().collect();
    let kustomize = kustomize_inputs(&all);
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for group in groups {
        if bundling == Bundling::PerPath || loaded.bundles.is_empty() {
            loaded.bundles.push(Bundle::default());
        }
        for path in group {
            // a file named twice (a directory and a file in it) is read once
            let key = path.canonicalize().unwrap_or_else(|_| path.clone());
            if path.as_os_str() != "-" && !seen.insert(key.clone()) {
                continue;
            }
            let name = if path.as_os_str() == "-" {
                "<stdin>".to_string()
            } else {
                path.display().to_string()
            };
            let reason = if is_kustomization(&path) {
                Some(
                    "a kustomization (build configuration, not an object): check what it builds with \
                     `kustomize build DIR | portcullis check -`"
                        .to_string(),
                )
            } else {
                kustomize.iter().find(|(p, _)| *p == key).map(|(_, why)| {
                    format!(
                        "{why}, not a whole object: check what it builds with `kustomize build DIR | \
                         portcullis check -`"
                    )
                })
            };
            if let Some(reason) = reason {
                loaded.skipped.push(Skipped {
                    file: name,
                    document: None,
                    line: 1,
                    reason,
                });
                continue;
            }
            read_file(&mut loaded, &path, name);
        }
    }
    loaded
}

fn read_file(loaded: &mut Loaded, path: &Path, name: String) {
    let documents = read_text(path).and_then(|text| parse(path, &text));
    let mut documents = match documents {
        Ok(d) => d,
        Err((line, column, message)) => {
            loaded.errors.push(LoadError {
                file: name,
                document: None,
                line,
                column,
                message,
            });
            return;
        }
    };
    let file = loaded.files.len();
    let mut invalid = Vec::new();
    for doc in &mut documents {
        // the bundle owns the values; documents keep their positions
        let value = match std::mem::replace(&mut doc.value, Ok(Value::Null)) {
            Ok(v) => v,
            Err(e) => {
                doc.value = Err(e.clone());
                loaded.errors.push(LoadError {
                    file: name.clone(),
                    document: Some(doc.index),
                    line: Some(e.line),
                    column: Some(e.column),
                    message: if e.template {
                        format!("{}: {}", document_label(doc.index), e.message)
                    } else {
                        format!(
                            "{}: not valid YAML: {}",
                            document_label(doc.index),
                            e.message
                        )
                    },
                });
                continue;
            }
        };
        for member in split_document(value) {
            match member {
                Member::Request(value) => loaded.requests.push(Request {
                    file,
                    document: doc.index,
                    value,
                }),
                Member::Object { prefix, value } => {
                    if let Some(bundle) = loaded.bundles.last_mut() {
                        bundle.objects.push(value);
                        bundle.sources.push(Source {
                            file,
                            document: doc.index,
                            prefix,
                        });
                    }
                }
                Member::Skipped { prefix, reason } => loaded.skipped.push(Skipped {
                    file: name.clone(),
                    document: Some(doc.index),
                    line: doc.position(&prefix).line,
                    reason,
                }),
                Member::Invalid { prefix, message } => invalid.push((doc.index, prefix, message)),
            }
        }
    }
    loaded.files.push(File { name, documents });
    for (document, prefix, message) in invalid {
        let at = if prefix.is_empty() {
            String::new()
        } else {
            format!(" item {prefix}")
        };
        let message = format!("{}{at}: {message}", document_label(document));
        loaded.error_at(file, document, &prefix, message);
    }
}
