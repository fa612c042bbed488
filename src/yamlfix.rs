//! Writes findings' fixes (RFC 6902 patches) into the YAML text itself, as
//! an editor or `--fix` would: only the nodes a patch touches change, so the
//! comments, quoting, key order and layout of everything else stay as the
//! author wrote them. Each fix is checked before it is kept: the edited
//! document must load to exactly the object the patch produces, or the fix is
//! left out with the reason.

use crate::object::escape_pointer;
use crate::yaml;
use crate::yamlcheck::{is_request_shape, request_prefix};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// One replacement, in the order applied: `from` and `to` are offsets in the
/// text as it was after the edits before it, counted in UTF-16 code units
/// (the offsets of JavaScript strings and browser editors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    pub from: usize,
    pub to: usize,
    pub insert: String,
}

/// A finding whose fix was not written, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Index of the finding in the list given.
    pub finding: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixOutcome {
    /// The text with every applied fix.
    pub text: String,
    pub edits: Vec<Edit>,
    /// Indices of the findings whose fix was written.
    pub applied: Vec<usize>,
    pub skipped: Vec<Skipped>,
}

/// Applies the fixes of `findings` (located findings as `check_text`
/// reports them: `document`, `index`, `object`, `fix`, `line`) to `text`,
/// from the last line up. A fix that no longer applies (another one did the
/// same) is skipped, not forced.
pub fn apply_fixes(text: &str, findings: &[Value]) -> FixOutcome {
    let mut skipped = Vec::new();
    let mut applied = Vec::new();
    let docs = yaml::load(text);
    // per document, the findings in the order given
    let mut per_doc: Vec<(usize, Vec<(usize, &Value)>)> = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        let Some(doc) = f.get("document").and_then(Value::as_u64) else {
            skipped.push(skip(
                i,
                "the finding has no `document` (pass findings as `check` reports them)",
            ));
            continue;
        };
        if f.get("fix")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            skipped.push(skip(i, "the finding has no automatic fix"));
            continue;
        }
        let doc = usize::try_from(doc).unwrap_or(usize::MAX);
        match per_doc.iter_mut().find(|(d, _)| *d == doc) {
            Some((_, list)) => list.push((i, f)),
            None => per_doc.push((doc, vec![(i, f)])),
        }
    }
    // the last document first: edits there leave the offsets of earlier ones as they are
    per_doc.sort_by_key(|d| std::cmp::Reverse(d.0));
    // inside a document, the last finding first: removing the second of two
    // list items leaves the first where its fix says it is
    let line = |f: &Value| f.get("line").and_then(Value::as_u64).unwrap_or(0);
    for (_, list) in &mut per_doc {
        list.sort_by(|a, b| line(b.1).cmp(&line(a.1)).then(b.0.cmp(&a.0)));
    }
    let mut out = text.to_string();
    let mut edits = Vec::new();
    for (doc_index, list) in per_doc {
        let Some(doc) = docs.iter().find(|d| d.index == doc_index) else {
            for (i, _) in list {
                skipped.push(skip(
                    i,
                    &format!("the text has no document {}", doc_index + 1),
                ));
            }
            continue;
        };
        let Some(mut chunk) = out.get(doc.range.clone()).map(str::to_string) else {
            continue;
        };
        let base16 = utf16_len(out.get(..doc.range.start).unwrap_or(""));
        for (i, finding) in list {
            match fix_document(&chunk, finding) {
                Ok((new_chunk, chunk_edits)) => {
                    let mut current = chunk.clone();
                    for e in chunk_edits {
                        let from = base16 + utf16_len(current.get(..e.from).unwrap_or(""));
                        let to = from + utf16_len(current.get(e.from..e.to).unwrap_or(""));
                        current.replace_range(e.from..e.to, &e.insert);
                        edits.push(Edit {
                            from,
                            to,
                            insert: e.insert,
                        });
                    }
                    chunk = new_chunk;
                    applied.push(i);
                }
                Err(reason) => skipped.push(skip(i, &reason)),
            }
        }
        out.replace_range(doc.range.clone(), &chunk);
    }
    applied.sort_unstable();
    skipped.sort_by_key(|s| s.finding);
    FixOutcome {
        text: out,
        edits,
        applied,
        skipped,
    }
}

fn skip(finding: usize, reason: &str) -> Skipped {
    Skipped {
        finding,
        reason: reason.to_string(),
    }
}

fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

/// A replacement in byte offsets of the text it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ByteEdit {
    from: usize,
    to: usize,
    insert: String,
}

/// One finding's fix written into one document's text: the new text and the
/// edits that lead to it, each relative to the text before it.
fn fix_document(chunk: &str, finding: &Value) -> Result<(String, Vec<ByteEdit>), String> {
    let value = load_one(chunk)?;
    let index = finding
        .get("index")
        .and_then(Value::as_u64)
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(0);
    let prefix = locate(&value, index, finding.get("object"))?;
    let ops = finding
        .get("fix")
        .and_then(Value::as_array)
        .ok_or("the finding has no automatic fix")?;
    let ops = expand(ops, &prefix, &value)?;
    let mut expected = value.clone();
    crate::patch::apply(&mut expected, &ops)
        .map_err(|e| format!("the fix no longer applies to the text ({e}); check again"))?;
    let mut text = chunk.to_string();
    let mut current = value;
    let mut edits = Vec::new();
    for op in &ops {
        let mut next = current.clone();
        crate::patch::apply(&mut next, std::slice::from_ref(op))
            .map_err(|e| format!("the fix no longer applies to the text ({e}); check again"))?;
        if let Some(edit) = edit_for(&text, op, &next)? {
            let range = edit.from..edit.to;
            if text.get(range.clone()).is_none() {
                return Err("the fix could not be placed in the text".into());
            }
            text.replace_range(range, &edit.insert);
            edits.push(edit);
        }
        current = next;
    }
    // the edit must say exactly what the patch says, nothing more or less
    match load_one(&text) {
        Ok(v) if v == expected => Ok((text, edits)),
        _ => Err(
            "the fix could not be written into this YAML without changing more than it should; \
             apply it by hand"
                .into(),
        ),
    }
}

fn load_one(chunk: &str) -> Result<Value, String> {
    let docs = yaml::load(chunk);
    match docs.as_slice() {
        [doc] => doc
            .value
            .clone()
            .map_err(|e| format!("the document does not load: {e}")),
        _ => Err("the document does not load as one document".into()),
    }
}

/// Pointer of the finding's object inside its document, checked against the
/// object the finding names so that a stale finding never edits another one.
fn locate(doc: &Value, index: usize, object: Option<&Value>) -> Result<String, String> {
    let same = |candidate: &Value| match object {
        None => true,
        Some(o) => {
            let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
            let meta = |k: &str| candidate.get("metadata").and_then(|m| field(m, k));
            field(candidate, "kind") == field(o, "kind")
                && (meta("name").is_none() || meta("name") == field(o, "name"))
                && meta("namespace").filter(|n| !n.is_empty())
                    == field(o, "namespace").filter(|n| !n.is_empty())
        }
    };
    if is_request_shape(doc) {
        let prefix = request_prefix(doc, index);
        return match doc.pointer(&prefix) {
            Some(obj) if same(obj) => Ok(prefix),
            _ => Err("the finding's object is no longer in this document; check again".into()),
        };
    }
    let is_list = doc
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"));
    if let (true, Some(items)) = (is_list, doc.get("items").and_then(Value::as_array)) {
        let hits: Vec<usize> = (0..items.len())
            .filter(|i| items.get(*i).is_some_and(same))
            .collect();
        return match hits.as_slice() {
            [i] => Ok(format!("/items/{i}")),
            [] => Err("the finding's object is no longer in this document; check again".into()),
            _ => Err("the list holds this object more than once: apply the fix by hand".into()),
        };
    }
    if same(doc) {
        Ok(String::new())
    } else {
        Err("the finding's object is no longer in this document; check again".into())
    }
}

/// The patch with paths inside the document, `move` and `copy` spelled as
/// `remove` and `add` so every op is one of the four the text editor knows.
fn expand(ops: &[Value], prefix: &str, doc: &Value) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    let mut work = doc.clone();
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or("a fix operation has no path")?;
        let full = format!("{prefix}{path}");
        let from = op
            .get("from")
            .and_then(Value::as_str)
            .map(|f| format!("{prefix}{f}"));
        let mut step = match (kind, from) {
            ("move", Some(from)) => {
                let value = work
                    .pointer(&from)
                    .cloned()
                    .ok_or("the fix moves a missing value")?;
                vec![
                    serde_json::json!({"op": "remove", "path": from}),
                    serde_json::json!({"op": "add", "path": full, "value": value}),
                ]
            }
            ("copy", Some(from)) => {
                let value = work
                    .pointer(&from)
                    .cloned()
                    .ok_or("the fix copies a missing value")?;
                vec![serde_json::json!({"op": "add", "path": full, "value": value})]
            }
            _ => {
                let mut o = op.clone();
                if let Some(m) = o.as_object_mut() {
                    m.insert("path".into(), Value::String(full));
                }
                vec![o]
            }
        };
        // later `move`s read the document as the earlier steps leave it
        let _ = crate::patch::apply(&mut work, &step);
        out.append(&mut step);
    }
    Ok(out)
}

// --- where every node of a document is -----------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `|` or `>`
    BlockScalar,
    Alias,
    FlowMap,
    FlowSeq,
    BlockMap,
    BlockSeq,
}

impl Shape {
    fn is_flow_collection(self) -> bool {
        matches!(self, Shape::FlowMap | Shape::FlowSeq)
    }
}

#[derive(Debug, Clone)]
struct Node {
    shape: Shape,
    /// First byte of the node (a block map's first key, a block sequence's
    /// first `-`, a block scalar's `|` or `>`).
    start: usize,
    /// Just past its last content (trailing comments and blank lines are not
    /// part of it, except a comment on its last line).
    end: usize,
    /// Where its entry starts: the key of a map entry, the `-` of a block
    /// sequence item; else `start`.
    entry_start: usize,
    /// Just past the key of a map entry.
    key_end: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Tree {
    nodes: Vec<Node>,
    by_pointer: HashMap<String, usize>,
}

impl Tree {
    fn get(&self, pointer: &str) -> Option<&Node> {
        self.by_pointer
            .get(pointer)
            .and_then(|i| self.nodes.get(*i))
    }
    fn node(&self, i: usize) -> Option<&Node> {
        self.nodes.get(i)
    }
}

struct Frame {
    node: usize,
    pointer: String,
    is_map: bool,
    /// A map's key waiting for its value: text, start, end.
    key: Option<(String, usize, usize)>,
    next_index: usize,
}

struct Text<'t> {
    s: &'t str,
    /// Byte offset of every char, for the parser's char-counted markers.
    chars: Option<Vec<usize>>,
}

impl<'t> Text<'t> {
    fn new(s: &'t str) -> Self {
        let chars = if s.is_ascii() {
            None
        } else {
            Some(s.char_indices().map(|(b, _)| b).chain([s.len()]).collect())
        };
        Text { s, chars }
    }
    fn byte(&self, char_index: usize) -> usize {
        match &self.chars {
            None => char_index.min(self.s.len()),
            Some(map) => map.get(char_index).copied().unwrap_or(self.s.len()),
        }
    }
    fn at(&self, i: usize) -> u8 {
        self.s.as_bytes().get(i).copied().unwrap_or(0)
    }
    fn line_start(&self, i: usize) -> usize {
        self.s
            .get(..i)
            .and_then(|p| p.rfind('\n'))
            .map_or(0, |n| n + 1)
    }
    /// Offset of the newline ending the line of `i` (or the text's end).
    fn line_end(&self, i: usize) -> usize {
        self.s
            .get(i..)
            .and_then(|p| p.find('\n'))
            .map_or(self.s.len(), |n| i + n)
    }
    fn next_line_start(&self, i: usize) -> usize {
        (self.line_end(i) + 1).min(self.s.len())
    }
    fn column(&self, i: usize) -> usize {
        i - self.line_start(i)
    }
    /// Only spaces between the start of `i`'s line and `i`.
    fn starts_line(&self, i: usize) -> bool {
        self.s
            .get(self.line_start(i)..i)
            .is_some_and(|p| p.bytes().all(|b| b == b' ' || b == b'\t'))
    }

    /// Just past the last content before `limit`: back over blank lines,
    /// comment lines, flow commas and the indicators that open the next node.
    fn content_end_before(&self, limit: usize, floor: usize) -> usize {
        let mut i = limit.min(self.s.len());
        let ls = self.line_start(i);
        if ls >= floor
            && self
                .s
                .get(ls..i)
                .is_some_and(|p| p.bytes().all(|b| matches!(b, b' ' | b'\t' | b'-' | b'?')))
        {
            i = ls;
        }
        loop {
            while i > floor && matches!(self.at(i - 1), b' ' | b'\t' | b'\r' | b'\n' | b',') {
                i -= 1;
            }
            let ls = self.line_start(i);
            let comment_line = ls >= floor
                && self
                    .s
                    .get(ls..i)
                    .is_some_and(|l| l.trim_start().starts_with('#'));
            if comment_line && ls > floor {
                i = ls;
                continue;
            }
            return i.max(floor);
        }
    }

    /// Just past a quoted scalar starting at `start`.
    fn quoted_end(&self, start: usize, quote: u8) -> Option<usize> {
        let bytes = self.s.as_bytes();
        let mut i = start + 1;
        while i < bytes.len() {
            let b = *bytes.get(i)?;
            if quote == b'"' && b == b'\\' {
                i += 2;
                continue;
            }
            if b == quote {
                if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                return Some(i + 1);
            }
            i += 1;
        }
        None
    }

    /// Just past a plain key or quoted key starting at `start`.
    fn key_end(&self, start: usize, key: &str) -> usize {
        match self.at(start) {
            q @ (b'"' | b'\'') => self.quoted_end(start, q).unwrap_or(start),
            _ if self.s.get(start..).is_some_and(|r| r.starts_with(key)) => start + key.len(),
            _ => start,
        }
    }
}

fn parse_tree(text: &Text<'_>) -> Result<Tree, String> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut by_pointer = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    // nodes whose end is where the next event starts
    let mut pending: Vec<usize> = Vec::new();
    let mut parser = Parser::new_from_str(text.s);
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| format!("the document does not load: {e}"))?;
        let at = text.byte(mark.index());
        for id in pending.drain(..) {
            if let Some(n) = nodes.get_mut(id) {
                n.end = text.content_end_before(at, n.start);
            }
        }
        let (shape, start, end) = match event {
            Event::StreamEnd => break,
            Event::Scalar(ref value, style, _, _) => {
                if let Some(Frame {
                    is_map: true,
                    key: key @ None,
                    ..
                }) = stack.last_mut()
                {
                    let end = text.key_end(at, value);
                    *key = Some((value.clone(), at, end));
                    continue;
                }
                match style {
                    TScalarStyle::SingleQuoted => {
                        (Shape::SingleQuoted, at, text.quoted_end(at, b'\''))
                    }
                    TScalarStyle::DoubleQuoted => {
                        (Shape::DoubleQuoted, at, text.quoted_end(at, b'"'))
                    }
                    TScalarStyle::Literal | TScalarStyle::Folded => {
                        (Shape::BlockScalar, block_header(text, at), None)
                    }
                    _ => {
                        let verbatim = !value.is_empty()
                            && !value.contains('\n')
                            && text
                                .s
                                .get(at..)
                                .is_some_and(|r| r.starts_with(value.as_str()));
                        if verbatim {
                            (Shape::Plain, at, Some(at + value.len()))
                        } else if value.is_empty()
                            || !text
                                .s
                                .get(at..)
                                .is_some_and(|r| r.starts_with(value.as_str()))
                        {
                            // an empty value: it sits right after its key's colon
                            let after = empty_value_at(text, stack.last(), at);
                            (Shape::Plain, after, Some(after))
                        } else {
                            (Shape::Plain, at, None)
                        }
                    }
                }
            }
            Event::Alias(_) => {
                let mut end = at + 1;
                while end < text.s.len()
                    && !matches!(
                        text.at(end),
                        b' ' | b'\t' | b'\r' | b'\n' | b',' | b']' | b'}'
                    )
                {
                    end += 1;
                }
                (Shape::Alias, at, Some(end))
            }
            Event::MappingStart(..) => {
                if text.at(at) == b'{' {
                    (Shape::FlowMap, at, None)
                } else {
                    // the marker sits on the first key's colon; the first key fixes the start
                    (Shape::BlockMap, usize::MAX, None)
                }
            }
            Event::SequenceStart(..) => {
                if text.at(at) == b'[' {
                    (Shape::FlowSeq, at, None)
                } else {
                    (Shape::BlockSeq, at, None)
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(frame) = stack.pop() else { continue };
                if let Some(n) = nodes.get_mut(frame.node) {
                    n.end = if n.shape.is_flow_collection() {
                        at + 1
                    } else {
                        text.content_end_before(at, n.start.min(at))
                    };
                }
                continue;
            }
            _ => continue,
        };
        // attach the new node to its parent
        let id = nodes.len();
        let (pointer, parent, entry_start, key_end) = match stack.last_mut() {
            None => (String::new(), None, start, None),
            Some(frame) => {
                if frame.is_map {
                    let (key, key_start, key_end) = frame.key.take().unwrap_or_default();
                    let pointer = format!("{}/{}", frame.pointer, escape_pointer(&key));
                    (pointer, Some(frame.node), key_start, Some(key_end))
                } else {
                    let pointer = format!("{}/{}", frame.pointer, frame.next_index);
                    frame.next_index += 1;
                    (pointer, Some(frame.node), start, None)
                }
            }
        };
        if let Some(p) = parent {
            // the first key of a block map is where the map starts
            if let Some(pn) = nodes.get_mut(p) {
                if pn.shape == Shape::BlockMap && pn.start == usize::MAX {
                    pn.start = entry_start;
                }
                pn.children.push(id);
            }
        }
        nodes.push(Node {
            shape,
            start,
            end: end.unwrap_or(start),
            entry_start,
            key_end,
            parent,
            children: Vec::new(),
        });
        if end.is_none()
            && !matches!(
                shape,
                Shape::FlowMap | Shape::FlowSeq | Shape::BlockMap | Shape::BlockSeq
            )
        {
            pending.push(id);
        }
        if matches!(
            shape,
            Shape::FlowMap | Shape::FlowSeq | Shape::BlockMap | Shape::BlockSeq
        ) {
            stack.push(Frame {
                node: id,
                pointer: pointer.clone(),
                is_map: matches!(shape, Shape::FlowMap | Shape::BlockMap),
                key: None,
                next_index: 0,
            });
        }
        by_pointer.insert(pointer, id);
    }
    // a block map's start is known once its first key is; items of block
    // sequences start at their `-`
    let starts: Vec<(usize, usize)> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.shape == Shape::BlockMap && n.key_end.is_none())
        .map(|(i, n)| (i, n.start))
        .collect();
    for (i, start) in starts {
        if let Some(n) = nodes.get_mut(i) {
            n.entry_start = start;
        }
    }
    for i in 0..nodes.len() {
        let in_block_seq = nodes
            .get(i)
            .and_then(|n| n.parent)
            .and_then(|p| nodes.get(p))
            .is_some_and(|p| p.shape == Shape::BlockSeq);
        if let (true, Some(n)) = (in_block_seq, nodes.get_mut(i)) {
            let mut d = n.start.min(text.s.len());
            while d > 0 && matches!(text.at(d - 1), b' ' | b'\t') {
                d -= 1;
            }
            if d > 0 && text.at(d - 1) == b'-' {
                n.entry_start = d - 1;
            }
        }
    }
    Ok(Tree { nodes, by_pointer })
}

/// The `|` or `>` that opens a block scalar whose content starts at `content`.
fn block_header(text: &Text<'_>, content: usize) -> usize {
    let line = text.line_start(content);
    let header_line = text.line_start(line.saturating_sub(1));
    let header = text.s.get(header_line..line).unwrap_or("");
    header
        .rfind(['|', '>'])
        .map_or(content, |i| header_line + i)
}

/// Where an empty value is: just past the colon of its key.
fn empty_value_at(text: &Text<'_>, frame: Option<&Frame>, fallback: usize) -> usize {
    let Some(Frame {
        key: Some((_, _, key_end)),
        ..
    }) = frame
    else {
        return fallback;
    };
    let mut i = *key_end;
    while i < text.s.len() && matches!(text.at(i), b' ' | b'\t') {
        i += 1;
    }
    if text.at(i) == b':' {
        i + 1
    } else {
        fallback
    }
}

// --- one patch operation as one text edit ------------------------------------------

fn split_pointer(pointer: &str) -> Option<(&str, String)> {
    let cut = pointer.rfind('/')?;
    let parent = pointer.get(..cut)?;
    let token = pointer
        .get(cut + 1..)?
        .replace("~1", "/")
        .replace("~0", "~");
    Some((parent, token))
}

/// The edit for one op on `text`; `after` is the document once the op is applied.
fn edit_for(text: &str, op: &Value, after: &Value) -> Result<Option<ByteEdit>, String> {
    let t = Text::new(text);
    let tree = parse_tree(&t)?;
    let path = op.get("path").and_then(Value::as_str).unwrap_or("");
    let new_value = || {
        after
            .pointer(path)
            .cloned()
            .ok_or("the fixed value is missing")
    };
    let unsupported = || "the fix changes the document's root; apply it by hand".to_string();
    match op.get("op").and_then(Value::as_str).unwrap_or("") {
        "test" => Ok(None),
        "replace" => {
            let node = tree
                .get(path)
                .ok_or("the value to replace is not in the text")?;
            Ok(Some(replace_node(&t, node, &new_value()?)))
        }
        "add" => {
            let (parent_ptr, token) = split_pointer(path).ok_or_else(unsupported)?;
            let parent = tree
                .get(parent_ptr)
                .ok_or("the place to add to is not in the text")?;
            if parent.shape.is_flow_collection() {
                let value = after
                    .pointer(parent_ptr)
                    .ok_or("the fixed value is missing")?;
                return Ok(Some(edit(parent.start, parent.end, render_flow(value))));
            }
            match parent.shape {
                Shape::BlockMap => {
                    if let Some(node) = tree.get(path) {
                        return Ok(Some(replace_node(&t, node, &new_value()?)));
                    }
                    Ok(Some(insert_map_entry(
                        &t,
                        &tree,
                        parent,
                        &token,
                        &new_value()?,
                    )))
                }
                Shape::BlockSeq => {
                    let at = if token == "-" {
                        None
                    } else {
                        Some(
                            token
                                .parse::<usize>()
                                .map_err(|_| "the fix adds at a bad index")?,
                        )
                    };
                    Ok(Some(insert_seq_item(&t, &tree, parent, at, &new_value()?)))
                }
                _ => {
                    // adding into an empty or scalar value: write the whole new value
                    let value = after
                        .pointer(parent_ptr)
                        .ok_or("the fixed value is missing")?;
                    Ok(Some(replace_node(&t, parent, value)))
                }
            }
        }
        "remove" => {
            let (parent_ptr, _) = split_pointer(path).ok_or_else(unsupported)?;
            let node = tree
                .get(path)
                .ok_or("the value to remove is not in the text")?;
            let parent = node
                .parent
                .and_then(|p| tree.node(p))
                .ok_or_else(unsupported)?;
            if parent.shape.is_flow_collection() {
                let value = after
                    .pointer(parent_ptr)
                    .ok_or("the fixed value is missing")?;
                return Ok(Some(edit(parent.start, parent.end, render_flow(value))));
            }
            remove_entry(&t, &tree, parent, node).map(Some)
        }
        other => Err(format!(
            "the fix uses the operation `{other}`, which cannot be written into YAML"
        )),
    }
}

fn edit(from: usize, to: usize, insert: String) -> ByteEdit {
    ByteEdit { from, to, insert }
}

fn replace_node(t: &Text<'_>, node: &Node, value: &Value) -> ByteEdit {
    let collection = matches!(value, Value::Object(m) if !m.is_empty())
        || matches!(value, Value::Array(a) if !a.is_empty());
    match node.shape {
        Shape::BlockMap | Shape::BlockSeq if collection => {
            let block = render_block(value, t.column(node.start));
            let trimmed = block.trim_start_matches(' ').to_string();
            edit(node.start, node.end, trimmed)
        }
        _ => {
            let mut text = match node.shape {
                Shape::SingleQuoted | Shape::DoubleQuoted | Shape::Plain if !collection => {
                    render_scalar(value, Some(node.shape))
                }
                _ => render_flow(value),
            };
            // an empty value right after `key:` needs its space
            if node.start == node.end && node.start > 0 && t.at(node.start - 1) == b':' {
                text.insert(0, ' ');
            }
            edit(node.start, node.end, text)
        }
    }
}

fn remove_entry(t: &Text<'_>, tree: &Tree, parent: &Node, node: &Node) -> Result<ByteEdit, String> {
    let empty = if parent.shape == Shape::BlockMap {
        "{}"
    } else {
        "[]"
    };
    if parent.children.len() <= 1 {
        // the collection becomes empty: write it as `{}` or `[]` beside its key
        if let Some(key_end) = parent.key_end {
            let colon =
                t.s.get(key_end..)
                    .and_then(|r| r.find(':'))
                    .map(|c| key_end + c + 1);
            if let Some(colon) = colon {
                return Ok(edit(colon, parent.end, format!(" {empty}")));
            }
        }
        return Ok(edit(parent.start, parent.end, empty.to_string()));
    }
    let entry = node.entry_start;
    if t.starts_line(entry) {
        // whole lines: the entry, its value and a comment on its last line
        return Ok(edit(
            t.line_start(entry),
            t.next_line_start(node.end.max(entry)),
            String::new(),
        ));
    }
    // the first entry of a sequence item (`- key: …`): the next one moves up beside the `-`
    let position = parent
        .children
        .iter()
        .position(|c| tree.node(*c).is_some_and(|n| n.entry_start == entry));
    let next = position
        .and_then(|p| parent.children.get(p + 1))
        .and_then(|c| tree.node(*c));
    match next {
        Some(next) => Ok(edit(entry, next.entry_start, String::new())),
        None => {
            Err("the value to remove shares its line with another: apply the fix by hand".into())
        }
    }
}

fn insert_map_entry(t: &Text<'_>, tree: &Tree, map: &Node, key: &str, value: &Value) -> ByteEdit {
    let first = map.children.first().and_then(|c| tree.node(*c));
    let indent = first.map_or(t.column(map.start), |n| t.column(n.entry_start));
    let line = render_entry(key, value, indent);
    let at = t.line_end(map.end);
    edit(at, at, format!("\n{line}"))
}

fn insert_seq_item(
    t: &Text<'_>,
    tree: &Tree,
    seq: &Node,
    at: Option<usize>,
    value: &Value,
) -> ByteEdit {
    let dash = t.column(seq.start);
    let item = format!("{}- {}", " ".repeat(dash), render_item(value, dash + 2));
    match at
        .and_then(|i| seq.children.get(i))
        .and_then(|c| tree.node(*c))
    {
        Some(before) => {
            let ls = t.line_start(before.entry_start);
            edit(ls, ls, format!("{item}\n"))
        }
        None => {
            let end = t.line_end(seq.end);
            edit(end, end, format!("\n{item}"))
        }
    }
}

// --- values as YAML text ------------------------------------------------------

/// A scalar, keeping the quoting style of the value it replaces where it can.
fn render_scalar(value: &Value, like: Option<Shape>) -> String {
    let Value::String(s) = value else {
        return render_flow(value);
    };
    let printable = !s.chars().any(char::is_control);
    match like {
        Some(Shape::DoubleQuoted) => json_string(s),
        Some(Shape::SingleQuoted) if printable => format!("'{}'", s.replace('\'', "''")),
        _ if plain_is_safe(s) => s.clone(),
        _ => json_string(s),
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A string that reads back as that same string when written plain, in
/// block and flow context alike.
fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let bad_first = "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace();
    let bad_inside = s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.ends_with(char::is_whitespace)
        || s.chars().any(|c| c.is_control() || ",[]{}".contains(c));
    if bad_first || bad_inside {
        return false;
    }
    // words and numbers YAML reads as something else (true, null, 1e3, 0x1f)
    match load_one(&format!("k: {s}\n")) {
        Ok(Value::Object(m)) => m.get("k") == Some(&Value::String(s.to_string())),
        _ => false,
    }
}

fn render_key(key: &str) -> String {
    if plain_is_safe(key) {
        key.to_string()
    } else {
        json_string(key)
    }
}

/// A value on one line, in flow style.
fn render_flow(value: &Value) -> String {
    match value {
        Value::Object(m) => {
            let entries: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", render_key(k), render_flow(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(render_flow).collect();
            format!("[{}]", items.join(", "))
        }
        Value::String(s) => render_scalar(&Value::String(s.clone()), None),
        other => other.to_string(),
    }
}

fn is_nonempty_collection(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

/// `key: value` at `indent`, a collection value in block style below it.
fn render_entry(key: &str, value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    if is_nonempty_collection(value) {
        format!(
            "{pad}{}:\n{}",
            render_key(key),
            render_block(value, indent + 2)
        )
    } else {
        format!("{pad}{}: {}", render_key(key), render_flow(value))
    }
}

/// A sequence item's text after its `- `; continuation lines at `indent`.
fn render_item(value: &Value, indent: usize) -> String {
    match value {
        Value::Object(m) if !m.is_empty() => render_block(value, indent)
            .trim_start_matches(' ')
            .to_string(),
        other => render_flow(other),
    }
}

/// A collection in block style, every line at `indent` or deeper.
fn render_block(value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| render_entry(k, v, indent))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|item| format!("{pad}- {}", render_item(item, indent + 2)))
            .collect::<Vec<_>>()
            .join("\n"),
        other => format!("{pad}{}", render_flow(other)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    /// The findings of `check_text` on `text`, limited to `rules`.
    fn findings(text: &str, rules: &[&str]) -> Vec<Value> {
        let report = crate::yamlcheck::check_text(text, None).unwrap().to_value();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| rules.contains(&f["rule"].as_str().unwrap()))
            .cloned()
            .collect()
    }

    /// Applies every finding's fix of `rules`; asserts they all were applied.
    fn fix_all(text: &str, rules: &[&str]) -> String {
        let fs = findings(text, rules);
        assert!(!fs.is_empty(), "no findings of {rules:?}");
        let out = apply_fixes(text, &fs);
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        // the edits, replayed in order on the original, give the same text
        let mut utf16: Vec<u16> = text.encode_utf16().collect();
        for e in &out.edits {
            utf16.splice(e.from..e.to, e.insert.encode_utf16());
        }
        assert_eq!(String::from_utf16(&utf16).unwrap(), out.text);
        // and the fixed text no longer has those findings
        assert!(findings(&out.text, rules).is_empty(), "{}", out.text);
        out.text
    }

    #[test]
    fn replacing_a_scalar_keeps_its_comment_and_everything_else() {
        let text = "\
# the shop's front door
apiVersion: v1
kind: Service
metadata:
  name: web   # public name
  namespace: shop
spec:
  type: LoadBalancer # was NodePort before
  ports:
    - port: 80 # http
";
        let fixed = fix_all(text, &["service-type-loadbalancer"]);
        assert_eq!(
            fixed,
            text.replace("type: LoadBalancer #", "type: ClusterIP #")
        );
    }

    #[test]
    fn quoting_style_is_kept() {
        let text =
            "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  type: \"NodePort\"\n";
        let fixed = fix_all(text, &["service-type-nodeport"]);
        assert!(fixed.contains("type: \"ClusterIP\"\n"), "{fixed}");
        let text = text.replace("\"NodePort\"", "'NodePort'");
        let fixed = fix_all(&text, &["service-type-nodeport"]);
        assert!(fixed.contains("type: 'ClusterIP'\n"), "{fixed}");
    }

    #[test]
    fn removing_entries_takes_their_lines_and_comments_only() {
        let text = "\
apiVersion: v1
kind: Service
metadata:
  name: admin
  namespace: shop
spec:
  type: NodePort
  ports:
    # the admin port
    - port: 8080
      nodePort: 30080 # fixed on purpose
      protocol: TCP
    - nodePort: 30081
      port: 8081
";
        let fixed = fix_all(text, &["service-type-nodeport"]);
        assert_eq!(
            fixed,
            "\
apiVersion: v1
kind: Service
metadata:
  name: admin
  namespace: shop
spec:
  type: ClusterIP
  ports:
    # the admin port
    - port: 8080
      protocol: TCP
    - port: 8081
"
        );
    }

    #[test]
    fn adding_an_annotation_writes_a_block_entry_at_the_map_indent() {
        let text = "\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
    kubernetes.io/ingress.class: nginx   # the class
    nginx.ingress.kubernetes.io/ssl-redirect: \"false\"
spec:
  tls:
    - hosts: [shop.example.com]
      secretName: shop-tls
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: web, port: {number: 80}}}
";
        let fs = findings(text, &["ingress-http-enabled"]);
        assert!(!fs.is_empty());
        let out = apply_fixes(text, &fs);
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        // only the annotations changed; every other line is as it was
        let before: Vec<&str> = text.lines().collect();
        let after: Vec<&str> = out.text.lines().collect();
        let kept: Vec<&&str> = before.iter().filter(|l| after.contains(l)).collect();
        assert!(kept.len() >= before.len() - 1, "{}", out.text);
        assert!(out.text.contains("# the class"), "{}", out.text);
        assert!(
            findings(&out.text, &["ingress-http-enabled"]).is_empty(),
            "{}",
            out.text
        );
    }

    #[test]
    fn added_fields_land_at_the_end_of_their_map_in_block_style() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: nginx\n";
        let fixed = fix_all(text, &["serviceaccount-token-automount"]);
        assert_eq!(
            fixed,
            format!("{text}  automountServiceAccountToken: false\n")
        );
        // a whole missing map, written by hand as a rule's fix would say it
        let text = "kind: Ingress\nmetadata:\n  name: web # front\nspec: {}\n";
        let finding = json!({"document": 0, "index": 0, "object": {"kind": "Ingress", "name": "web"},
            "fix": [{"op": "add", "path": "/metadata/annotations", "value": {"example.com/ssl-redirect": "true", "n": 1}}]});
        let out = apply_fixes(text, &[finding]);
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        assert_eq!(
            out.text,
            "kind: Ingress\nmetadata:\n  name: web # front\n  annotations:\n    example.com/ssl-redirect: \"true\"\n    n: 1\nspec: {}\n"
        );
    }

    #[test]
    fn flow_collections_are_rewritten_in_flow_style() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: shop}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 30080}]}\n";
        let fixed = fix_all(text, &["service-type-nodeport"]);
        assert_eq!(
            fixed,
            "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: shop}\nspec: {type: ClusterIP, ports: [{port: 80}]}\n"
        );
    }

    #[test]
    fn lists_and_other_documents_are_left_alone() {
        let text = "\
# first
apiVersion: v1
kind: Service
metadata: {name: a}
spec:
  type: NodePort
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: {name: b}
    spec: {type: ClusterIP}
  - apiVersion: v1
    kind: Service
    metadata: {name: c}
    spec:
      type: LoadBalancer  # é
      ports: [{port: 443}]
";
        let fixed = fix_all(
            text,
            &["service-type-nodeport", "service-type-loadbalancer"],
        );
        assert_eq!(
            fixed,
            text.replace("type: NodePort", "type: ClusterIP")
                .replace("type: LoadBalancer  #", "type: ClusterIP  #")
        );
    }

    #[test]
    fn a_stale_or_repeated_fix_is_skipped_with_its_reason() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  type: NodePort\n  ports:\n    - port: 80\n      nodePort: 30080\n";
        let fs = findings(text, &["service-type-nodeport"]);
        let twice = vec![fs[0].clone(), fs[0].clone()];
        let out = apply_fixes(text, &twice);
        assert_eq!(out.applied.len(), 1);
        assert_eq!(out.skipped.len(), 1);
        assert!(
            out.skipped[0].reason.contains("no longer applies"),
            "{:?}",
            out.skipped
        );
        // a finding about an object that is not there any more edits nothing
        let mut other = fs[0].clone();
        other["object"]["name"] = json!("b");
        let out = apply_fixes(text, &[other]);
        assert_eq!(out.text, text);
        assert!(out.skipped[0].reason.contains("no longer in this document"));
        // garbage in: reasons, no edits
        let out = apply_fixes(
            text,
            &[
                json!(1),
                json!({"document": 0}),
                json!({"document": 9, "fix": [{"op": "remove", "path": "/x"}]}),
            ],
        );
        assert_eq!(out.text, text);
        assert_eq!(out.skipped.len(), 3);
    }

    #[test]
    fn removing_the_only_entry_leaves_an_empty_collection() {
        let text = "kind: Pod\nmetadata:\n  name: p\n  labels:\n    a: b # only\nspec:\n  hostNetwork: true\n  ports:\n    - nodePort: 1\n  ips:\n  - 10.0.0.1\n";
        let finding = json!({"document": 0, "index": 0, "object": {"kind": "Pod", "name": "p"},
            "fix": [{"op": "remove", "path": "/metadata/labels/a"}, {"op": "remove", "path": "/spec/ports/0/nodePort"},
                    {"op": "remove", "path": "/spec/ips/0"}, {"op": "remove", "path": "/spec/hostNetwork"}]});
        let out = apply_fixes(text, &[finding]);
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        assert_eq!(
            out.text,
            "kind: Pod\nmetadata:\n  name: p\n  labels: {}\nspec:\n  ports:\n    - {}\n  ips: []\n"
        );
    }

    #[test]
    fn rendering_quotes_what_would_read_back_differently() {
        assert_eq!(render_scalar(&json!("ClusterIP"), None), "ClusterIP");
        assert_eq!(render_scalar(&json!("false"), None), "\"false\"");
        assert_eq!(render_scalar(&json!("1.20"), None), "\"1.20\"");
        assert_eq!(render_scalar(&json!("a: b"), None), "\"a: b\"");
        assert_eq!(render_scalar(&json!(""), None), "\"\"");
        assert_eq!(
            render_flow(&json!({"a": [1, "x y"], "b c": null})),
            "{a: [1, x y], b c: null}"
        );
        assert_eq!(
            render_block(
                &json!({"annotations": {"k/x": "v"}, "list": [{"a": 1, "b": 2}, 3]}),
                2
            ),
            "  annotations:\n    k/x: v\n  list:\n    - a: 1\n      b: 2\n    - 3"
        );
    }
}
