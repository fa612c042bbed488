//! Reading manifests from files, directories and stdin into one bundle,
//! remembering where every object came from.

use portcullis::yaml::{self, Document, Pos};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where an object of the bundle came from.
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
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
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

#[derive(Default)]
pub struct Loaded {
    pub files: Vec<File>,
    pub objects: Vec<Value>,
    pub sources: Vec<Source>,
    pub requests: Vec<Request>,
    pub errors: Vec<LoadError>,
}

impl Loaded {
    /// Line and column of a JSON Pointer inside object `index` of the bundle.
    pub fn position(&self, index: usize, pointer: &str) -> Option<(&str, usize, Pos)> {
        let src = self.sources.get(index)?;
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

/// Files under the paths, directories walked recursively in name order;
/// hidden directories (`.git`) are skipped.
fn expand(paths: &[String], errors: &mut Vec<LoadError>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            out.push(PathBuf::from("-"));
            continue;
        }
        let path = PathBuf::from(p);
        if path.is_dir() {
            walk(&path, &mut out, errors);
        } else if path.exists() {
            out.push(path);
        } else {
            errors.push(LoadError {
                file: p.clone(),
                line: None,
                column: None,
                message: "no such file or directory".into(),
            });
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(LoadError {
                file: dir.display().to_string(),
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
        } else if is_manifest_file(&p) {
            out.push(p);
        }
    }
}

fn is_list(v: &Value) -> bool {
    v.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && v.get("items").is_some_and(Value::is_array)
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
/// from reading the same text as YAML, which JSON is.
fn parse(path: &Path, text: &str) -> Result<Vec<Document>, Problem> {
    let is_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_json {
        return Ok(yaml::load(text));
    }
    let value = portcullis::parse_json(text.as_bytes()).map_err(|e| match e {
        portcullis::Error::Json {
            line,
            column,
            message,
        } => (Some(line), Some(column), message),
        other => (None, None, other.to_string()),
    })?;
    let mut docs = yaml::load(text);
    if let Some(d) = docs.first_mut().filter(|d| d.value.is_ok()) {
        d.value = Ok(value);
    }
    Ok(docs)
}

/// Reads every path. JSON files are parsed as JSON (exact error positions),
/// everything else as multi-document YAML.
pub fn load(paths: &[String]) -> Loaded {
    let mut loaded = Loaded::default();
    let files = expand(paths, &mut loaded.errors);
    for path in files {
        let name = if path.as_os_str() == "-" {
            "<stdin>".to_string()
        } else {
            path.display().to_string()
        };
        let documents = read_text(&path).and_then(|text| parse(&path, &text));
        let mut documents = match documents {
            Ok(d) => d,
            Err((line, column, message)) => {
                loaded.errors.push(LoadError {
                    file: name,
                    line,
                    column,
                    message,
                });
                continue;
            }
        };
        let file = loaded.files.len();
        for doc in &mut documents {
            // the bundle owns the values; documents keep their positions
            let value = match std::mem::replace(&mut doc.value, Ok(Value::Null)) {
                Ok(v) => v,
                Err(e) => {
                    doc.value = Err(e.clone());
                    loaded.errors.push(LoadError {
                        file: name.clone(),
                        line: Some(e.line),
                        column: Some(e.column),
                        message: format!("YAML document {}: {}", doc.index, e.message),
                    });
                    continue;
                }
            };
            if value.is_null() {
                continue;
            }
            if portcullis::yamlcheck::is_request_shape(&value) {
                loaded.requests.push(Request {
                    file,
                    document: doc.index,
                    value,
                });
            } else if is_list(&value) {
                let items = match value {
                    Value::Object(mut m) => m.remove("items"),
                    _ => None,
                };
                let Some(Value::Array(items)) = items else {
                    continue;
                };
                for (i, item) in items.into_iter().enumerate() {
                    loaded.objects.push(item);
                    loaded.sources.push(Source {
                        file,
                        document: doc.index,
                        prefix: format!("/items/{i}"),
                    });
                }
            } else {
                loaded.objects.push(value);
                loaded.sources.push(Source {
                    file,
                    document: doc.index,
                    prefix: String::new(),
                });
            }
        }
        loaded.files.push(File { name, documents });
    }
    loaded
}
