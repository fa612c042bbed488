//! Multi-document YAML to JSON values, with the line and column of every
//! node, so findings can point at the offending line. A broken document is
//! reported on its own and does not hide the others.

use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Nesting deeper than this is refused (Kubernetes objects stay far below it).
const MAX_DEPTH: usize = 200;
/// Aliases may not expand to more nodes than this in one document.
const MAX_ALIAS_NODES: usize = 1_000_000;

/// A 1-based position in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// One document of a YAML stream.
#[derive(Debug, Clone)]
pub struct Document {
    /// 0-based index among the stream's non-empty documents.
    pub index: usize,
    /// First line of the document (1-based).
    pub line: usize,
    /// The value, or the parse error. Empty documents are skipped entirely.
    pub value: Result<Value, YamlError>,
    /// Byte range of the document's text (its `---` line included) in the
    /// text given to `load`, so a fix can be written into that text.
    pub range: std::ops::Range<usize>,
    positions: HashMap<String, Pos>,
}

impl Document {
    /// Position of the node at a JSON Pointer, or of its nearest ancestor
    /// that exists (a patch may add a field that is not there yet).
    pub fn position(&self, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(cut) => p = p.get(..cut).unwrap_or(""),
                None => {
                    return Pos {
                        line: self.line,
                        column: 1,
                    }
                }
            }
        }
    }
}

/// Splits the stream at `---` lines and parses each document by itself.
pub fn load(text: &str) -> Vec<Document> {
    let full = text;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut docs = Vec::new();
    for (start_line, chunk) in split_documents(text) {
        // chunks are slices of `full`, so their place in it is their distance from its start
        let start = (chunk.as_ptr() as usize).saturating_sub(full.as_ptr() as usize);
        if !has_content(chunk) {
            continue;
        }
        let index = docs.len();
        let mut positions = HashMap::new();
        let value = parse_document(chunk, start_line, &mut positions);
        let value = match value {
            Ok(Value::Null) if positions.len() <= 1 => continue,
            other => other,
        };
        docs.push(Document {
            index,
            line: start_line,
            value,
            range: start..start + chunk.len(),
            positions,
        });
    }
    docs
}

/// (first line, text) per document; separators are kept with the document they open.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end_matches(['\n', '\r']);
        let opens = trimmed == "---" || trimmed.starts_with("--- ") || trimmed.starts_with("---\t");
        let closes = trimmed == "..." || trimmed.starts_with("... ");
        if opens && offset > start {
            out.push((start_line, text.get(start..offset).unwrap_or("")));
            start = offset;
            start_line = i + 1;
        }
        offset += line.len();
        if closes {
            out.push((start_line, text.get(start..offset).unwrap_or("")));
            start = offset;
            start_line = i + 2;
        }
    }
    if start < text.len() {
        out.push((start_line, text.get(start..).unwrap_or("")));
    }
    out
}

fn has_content(chunk: &str) -> bool {
    chunk.lines().any(|l| {
        let t = l.trim();
        !(t.is_empty() || t.starts_with('#') || t == "---" || t == "..." || t.starts_with("%"))
    })
}

enum Frame {
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        pointer: String,
        anchor: usize,
    },
    Seq {
        items: Vec<Value>,
        pointer: String,
        anchor: usize,
    },
}

struct Builder<'p> {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    root: Option<Value>,
    positions: &'p mut HashMap<String, Pos>,
    line_offset: usize,
    alias_nodes: usize,
}

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(count_nodes).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

impl Builder<'_> {
    fn pos(&self, mark: &Marker) -> Pos {
        Pos {
            line: mark.line() + self.line_offset,
            column: mark.col() + 1,
        }
    }

    fn err(&self, mark: &Marker, message: impl Into<String>) -> YamlError {
        let p = self.pos(mark);
        YamlError {
            line: p.line,
            column: p.column,
            message: message.into(),
        }
    }

    /// Pointer for the node about to be added to the top frame; records its position.
    fn child_pointer(&mut self, mark: &Marker) -> String {
        // built by hand: `format!` here was a fifth of loading a large manifest tree
        let child = |parent: &str, token: &str| {
            let mut p = String::with_capacity(parent.len() + 1 + token.len());
            p.push_str(parent);
            p.push('/');
            p.push_str(token);
            p
        };
        let pointer = match self.stack.last() {
            None => String::new(),
            Some(Frame::Map { key, pointer, .. }) => child(
                pointer,
                &crate::object::escape_pointer(key.as_deref().unwrap_or("")),
            ),
            Some(Frame::Seq { items, pointer, .. }) => child(pointer, &items.len().to_string()),
        };
        let pos = self.pos(mark);
        // a map entry already recorded its key's position, which is where people look
        self.positions.entry(pointer.clone()).or_insert(pos);
        pointer
    }

    /// Adds a finished node to the top frame (or makes it the root).
    fn add(&mut self, value: Value, anchor: usize, mark: &Marker) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        let pos = self.pos(mark);
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                map, key, pointer, ..
            }) => match key.take() {
                None => {
                    let k = match value {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".to_string(),
                        _ => return Err(self.err(mark, "complex mapping keys are not supported")),
                    };
                    let child = format!("{pointer}/{}", crate::object::escape_pointer(&k));
                    self.positions.insert(child, pos);
                    *key = Some(k);
                }
                Some(k) => {
                    if k == "<<" {
                        // merge key: the mapping(s) merged in do not override explicit keys
                        let sources = match value {
                            Value::Object(m) => vec![m],
                            Value::Array(list) => list
                                .into_iter()
                                .filter_map(|v| match v {
                                    Value::Object(m) => Some(m),
                                    _ => None,
                                })
                                .collect(),
                            _ => Vec::new(),
                        };
                        for src in sources {
                            for (mk, mv) in src {
                                map.entry(mk).or_insert(mv);
                            }
                        }
                    } else {
                        map.insert(k, value);
                    }
                }
            },
        }
        Ok(())
    }

    fn key_pending(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

fn parse_document(
    chunk: &str,
    start_line: usize,
    positions: &mut HashMap<String, Pos>,
) -> Result<Value, YamlError> {
    let mut parser = Parser::new_from_str(chunk);
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        positions,
        line_offset: start_line - 1,
        alias_nodes: 0,
    };
    let mut docs = 0;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            let m = e.marker();
            YamlError {
                line: m.line() + start_line - 1,
                column: m.col() + 1,
                message: e.info().to_string(),
            }
        })?;
        match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart => {
                docs += 1;
                if docs > 1 {
                    return Err(b.err(
                        &mark,
                        "a second document starts here without a `---` line of its own",
                    ));
                }
            }
            Event::StreamEnd => break,
            Event::Alias(id) => {
                let value = b
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| b.err(&mark, "alias to an unknown anchor"))?;
                b.alias_nodes += count_nodes(&value);
                if b.alias_nodes > MAX_ALIAS_NODES {
                    return Err(b.err(&mark, "aliases expand to too many nodes (over a million)"));
                }
                if !b.key_pending() {
                    b.child_pointer(&mark);
                }
                b.add(value, 0, &mark)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let is_key = b.key_pending();
                if !is_key {
                    b.child_pointer(&mark);
                }
                let value = if is_key {
                    Value::String(text)
                } else {
                    scalar(text, style, tag.as_ref()).map_err(|m| b.err(&mark, m))?
                };
                b.add(value, anchor, &mark)?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if b.key_pending() {
                    return Err(b.err(&mark, "complex mapping keys are not supported"));
                }
                if b.stack.len() >= MAX_DEPTH {
                    return Err(b.err(&mark, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                let pointer = b.child_pointer(&mark);
                b.stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        items: Vec::new(),
                        pointer,
                        anchor,
                    }
                } else {
                    Frame::Map {
                        map: Map::new(),
                        key: None,
                        pointer,
                        anchor,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match b.stack.pop() {
                    Some(Frame::Seq { items, anchor, .. }) => (Value::Array(items), anchor),
                    Some(Frame::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    None => return Err(b.err(&mark, "unbalanced collection end")),
                };
                b.add(value, anchor, &mark)?;
            }
        }
    }
    Ok(b.root.unwrap_or(Value::Null))
}

/// Resolves a plain scalar with the YAML 1.2 core schema; quoted scalars are strings.
fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
            return match tag.suffix.as_str() {
                "str" => Ok(Value::String(text)),
                "int" | "float" => number(&text).ok_or_else(|| format!("`{text}` is not a number")),
                "bool" => match text.as_str() {
                    "true" | "True" | "TRUE" => Ok(Value::Bool(true)),
                    "false" | "False" | "FALSE" => Ok(Value::Bool(false)),
                    _ => Err(format!("`{text}` is not a boolean")),
                },
                "null" => Ok(Value::Null),
                _ => Ok(Value::String(text)),
            };
        }
        return Ok(Value::String(text));
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::String(text));
    }
    Ok(match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => number(&text).unwrap_or(Value::String(text)),
    })
}

fn number(t: &str) -> Option<Value> {
    let first = t.chars().next()?;
    if !(first.is_ascii_digit() || first == '-' || first == '+' || first == '.') {
        return None;
    }
    if let Some(hex) = t.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(Value::from);
    }
    if let Some(oct) = t.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok().map(Value::from);
    }
    let digits = t.trim_start_matches(['-', '+']);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .ok()
            .map(Value::from)
            .or_else(|| t.parse::<u64>().ok().map(Value::from));
    }
    match t {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | ".nan" | ".NaN" | ".NAN" => {
            // JSON has no infinities: keep the text
            return Some(Value::String(t.to_string()));
        }
        _ => {}
    }
    let valid = digits
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && digits.chars().any(|c| c.is_ascii_digit());
    if !valid {
        return None;
    }
    t.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_values_and_lines() {
        let text = "# leading comment\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  type: NodePort\n  ports:\n    - port: 80\n      nodePort: 30080\n---\n# only a comment\n---\n\n---\nkind: Pod\nlist: [1, 'two', 3.5, true, ~]\n";
        let docs = load(text);
        assert_eq!(docs.len(), 2);
        let a = docs[0].value.as_ref().unwrap();
        assert_eq!(a["spec"]["ports"][0]["nodePort"], 30080);
        assert_eq!(docs[0].position("/spec/type"), Pos { line: 8, column: 3 });
        assert_eq!(docs[0].position("/spec/ports/0/nodePort").line, 11);
        assert_eq!(docs[0].position("/spec/ports/0").line, 10);
        assert_eq!(docs[0].position("/spec/missing/deeper").line, 7);
        let b = docs[1].value.as_ref().unwrap();
        assert_eq!(b["list"], json!([1, "two", 3.5, true, null]));
        assert_eq!(docs[1].index, 1);
        assert_eq!(docs[1].position("/kind").line, 17);
    }

    #[test]
    fn broken_document_does_not_hide_others() {
        let text = "kind: A\n---\nkind: [unclosed\n---\nkind: C\n";
        let docs = load(text);
        assert_eq!(docs.len(), 3);
        assert!(docs[0].value.is_ok());
        let e = docs[1].value.as_ref().unwrap_err();
        assert!(e.line >= 3, "{e}");
        assert_eq!(docs[2].value.as_ref().unwrap()["kind"], "C");
    }

    #[test]
    fn anchors_merge_keys_and_quoting() {
        let text = "base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\nquoted: \"true\"\nport: '80'\nver: 1.30\nann:\n  x: \"false\"\n";
        let v = load(text).remove(0).value.unwrap();
        assert_eq!(v["derived"], json!({"a": 1, "b": 3}));
        assert_eq!(v["quoted"], "true");
        assert_eq!(v["port"], "80");
        assert_eq!(v["ver"], 1.3);
        assert_eq!(v["ann"]["x"], "false");
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let docs = load(&text);
        assert!(docs[0].value.is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        let docs = load(&text);
        assert!(docs[0].value.is_err());
    }
}
