//! Multi-document YAML to JSON values, with the line and column of every
//! node, so findings can point at the offending line. A broken document is
//! reported on its own and does not hide the others.

use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, Scanner, TScalarStyle, Token, TokenType};

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
    /// The document is a template to render, not YAML gone wrong.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub template: bool,
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
        let end = TextEnd::of(chunk, start_line);
        let value = parse_document(chunk, start_line, &mut positions).map_err(|e| end.error(e));
        for pos in positions.values_mut() {
            *pos = end.clamp(*pos);
        }
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

/// Where a document's text ends: its last line and the column just past
/// that line's last character. Measured once per document (positions are
/// many: re-counting the lines for each was quadratic in a large document).
/// Lines end as YAML ends them: at `\n`, `\r\n` or a lone `\r`.
struct TextEnd {
    line: usize,
    column: usize,
}

impl TextEnd {
    fn of(chunk: &str, start_line: usize) -> TextEnd {
        let breaks = chunk.matches(['\n', '\r']).count() - chunk.matches("\r\n").count();
        TextEnd {
            line: start_line + breaks,
            column: chunk
                .rsplit(['\n', '\r'])
                .next()
                .map_or(0, |l| l.chars().count())
                + 1,
        }
    }

    /// A position past the end of the text (an error or an empty node at
    /// its end) moved to the end of its last line.
    fn clamp(&self, pos: Pos) -> Pos {
        if pos.line <= self.line {
            return pos;
        }
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    /// The scanner puts an error at the end of the input on the line after
    /// it (it reads as if a newline followed): without a final newline that
    /// line does not exist, and the error belongs at the end of the last one.
    fn error(&self, mut e: YamlError) -> YamlError {
        let pos = self.clamp(Pos {
            line: e.line,
            column: e.column,
        });
        (e.line, e.column) = (pos.line, pos.column);
        e
    }
}

/// A stream of JSON values one after another (`{…}\n{…}`), which kubectl
/// reads as one document per value (its JSON decoder reads a stream) while
/// neither strict JSON nor YAML does. `None` unless the whole text is such a
/// stream of at least two values; each value keeps its own positions.
pub fn load_json_stream(text: &str) -> Option<Vec<Document>> {
    let full = text.len();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // ranges are in the text given, byte order mark included
    let bom = full - text.len();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut spans = Vec::new();
    let mut start = 0usize;
    while let Some(next) = stream.next() {
        let value = next.ok()?;
        let end = stream.byte_offset();
        spans.push((start, end, value));
        start = end;
    }
    if spans.len() < 2 {
        return None;
    }
    let mut docs = Vec::new();
    // lines are counted once over the whole text, value after value
    let (mut line, mut line_start, mut counted) = (1usize, 0usize, 0usize);
    for (index, (from, to, value)) in spans.into_iter().enumerate() {
        let slice = text.get(from..to)?;
        // where the value itself opens: past the blanks that separate it
        let lead = slice.len() - slice.trim_start().len();
        let opens = from + lead;
        let skipped = text.get(counted..opens)?;
        line += skipped.matches('\n').count();
        if let Some(last) = skipped.rfind('\n') {
            line_start = counted + last + 1;
        }
        counted = opens;
        let column = opens - line_start;
        // the value re-read as YAML (JSON is YAML) at its own place, for positions
        // (padding bounded: on a minified stream's one long line the
        // columns of the value's first line count from where it opens)
        let pad = if column <= 4096 { column } else { 0 };
        let padded = format!("{}{}", " ".repeat(pad), slice.trim_start());
        let mut positions = HashMap::new();
        let value = parse_document(&padded, line, &mut positions).map(|_| value);
        docs.push(Document {
            index,
            line,
            value,
            range: bom + opens..bom + to,
            positions,
        });
    }
    Some(docs)
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
    /// Spaces put in front of each line of the document by a repair.
    shift: &'p [usize],
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
        original_pos(mark, self.line_offset, self.shift)
    }

    fn err(&self, mark: &Marker, message: impl Into<String>) -> YamlError {
        let p = self.pos(mark);
        YamlError {
            line: p.line,
            column: p.column,
            message: message.into(),
            template: false,
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

/// Each repair costs one more parse of the document: a document is given up
/// on once its parses would read more text than this (a generated CRD with
/// hundreds of long CEL rules is mostly repaired in one sweep, see
/// `sweep_quoted`).
const REPAIR_BUDGET: usize = 64 << 20;

/// Why one parse of a document stopped.
enum Stop {
    /// The scanner refused the text at `mark`: the only stops a repair may cure.
    Scan {
        mark: Marker,
        info: String,
    },
    Other(YamlError),
}

impl From<YamlError> for Stop {
    fn from(e: YamlError) -> Self {
        Stop::Other(e)
    }
}

/// A scanner position in the original text: `shift` spaces were put in
/// front of the line by a repair.
fn original_pos(mark: &Marker, line_offset: usize, shift: &[usize]) -> Pos {
    original_at(mark.line(), mark.col(), line_offset, shift)
}

/// `original_pos` of a 1-based line and 0-based column of the parsed text.
fn original_at(line: usize, col: usize, line_offset: usize, shift: &[usize]) -> Pos {
    let added = line
        .checked_sub(1)
        .and_then(|l| shift.get(l))
        .copied()
        .unwrap_or(0);
    Pos {
        line: line + line_offset,
        column: (col + 1).saturating_sub(added).max(1),
    }
}

/// Parses one document as kubectl (go-yaml) and PyYAML do. Strict YAML 1.2,
/// which the scanner follows, refuses two forms those accept and real
/// manifests use: the continuation lines of a quoted scalar indented less
/// than its key, and flow collections whose lines (the closing `]` most
/// often) sit at or left of their key's column. Neither indentation carries
/// meaning (a quoted scalar folds its line breaks and drops the leading
/// blanks; whitespace between flow tokens is insignificant), so such lines are
/// indented further and the document parsed again, positions still given in
/// the original text. Anything else the scanner refuses stays an error, on
/// the offending line.
fn parse_document(
    chunk: &str,
    start_line: usize,
    positions: &mut HashMap<String, Pos>,
) -> Result<Value, YamlError> {
    let mut text = std::borrow::Cow::Borrowed(chunk);
    let mut shift: Vec<usize> = Vec::new();
    let line_offset = start_line - 1;
    let mut spent = 0usize;
    let mut swept = false;
    let mut last_stop: Option<(usize, usize, String)> = None;
    while spent <= REPAIR_BUDGET {
        spent += chunk.len().max(1);
        positions.clear();
        let (mark, info) = match parse_once(&text, start_line, &shift, positions) {
            Ok(v) => return Ok(v),
            Err(Stop::Other(e)) => return Err(template_error(chunk, start_line).unwrap_or(e)),
            Err(Stop::Scan { mark, info }) => (mark, info),
        };
        let mut plan = repair_plan(&text, &mark, &info);
        if !plan.reindent.is_empty() && info == "invalid indentation in quoted scalar" && !swept {
            // one quoted scalar continued left of its key rarely comes alone
            // (generated CRDs hold hundreds): repair them all in one parse
            swept = true;
            for (line, n) in sweep_quoted(&text) {
                if !plan.reindent.iter().any(|(l, _)| *l == line) {
                    plan.reindent.push((line, n));
                }
            }
        }
        // a repair that leaves the scanner where it stopped cured nothing
        // (a lone CR ends a line for the scanner, not for the repairs): the
        // scanner's error stands
        let stop = (mark.line(), mark.col(), info.clone());
        if last_stop.as_ref() == Some(&stop) {
            plan.reindent.clear();
        }
        last_stop = Some(stop);
        if plan.reindent.is_empty() {
            let pos = match plan.blame {
                Some((line, col)) => original_at(line, col, line_offset, &shift),
                None => original_pos(&mark, line_offset, &shift),
            };
            let e = YamlError {
                line: pos.line,
                column: pos.column,
                message: info,
                template: false,
            };
            return Err(template_error(chunk, start_line).unwrap_or(e));
        }
        text = std::borrow::Cow::Owned(reindent(&text, &plan.reindent, &mut shift));
    }
    let e = YamlError {
        line: start_line,
        column: 1,
        message: "too many lines indented less than their flow collection or quoted scalar to read"
            .to_string(),
        template: false,
    };
    Err(template_error(chunk, start_line).unwrap_or(e))
}

/// What a scanner stop can be cured with: lines (0-based in the document) and
/// the spaces to put in front of each. Empty when it cannot, with `blame`
/// the place to report (1-based line, 0-based column of the parsed text)
/// when it is a better one than the scanner's.
#[derive(Default)]
struct Plan {
    reindent: Vec<(usize, usize)>,
    blame: Option<(usize, usize)>,
}

fn repair_plan(text: &str, mark: &Marker, info: &str) -> Plan {
    match info {
        "invalid indentation in quoted scalar" => quoted_plan(text, mark),
        "invalid indentation" | "invalid indentation in flow construct" => flow_plan(text, mark),
        _ => Plan::default(),
    }
}

/// Leading blanks of a line.
fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// The scanner blames a quoted scalar's opening quote (`mark`): every
/// non-blank continuation line up to the closing quote is put right of it.
fn quoted_plan(text: &str, mark: &Marker) -> Plan {
    let Some((start, quote)) = text.char_indices().nth(mark.index()) else {
        return Plan::default();
    };
    if quote != '\'' && quote != '"' {
        return Plan::default();
    }
    let need = mark.col() + 1;
    let mut plan = Plan::default();
    let mut line = mark.line().saturating_sub(1);
    let mut chars = text
        .get(start + 1..)
        .unwrap_or("")
        .char_indices()
        .peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            // an escaped character cannot close the scalar; an escaped line
            // break is still a line whose indentation counts
            '\\' if quote == '"' && chars.peek().is_some_and(|(_, n)| *n != '\n') => {
                chars.next();
            }
            '\'' if quote == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                chars.next();
            }
            c if c == quote => return plan,
            '\n' => {
                line += 1;
                let rest = text.get(start + 1 + i + 1..).unwrap_or("");
                let this = rest.split('\n').next().unwrap_or("");
                let indent = indent_of(this);
                if indent < need && !this.trim().is_empty() {
                    plan.reindent.push((line, need - indent));
                }
            }
            _ => {}
        }
    }
    // never closed: report the first line it could not take
    let blame = plan.reindent.first().map(|(l, _)| {
        let indent = text.split('\n').nth(*l).map_or(0, indent_of);
        (l + 1, indent)
    });
    Plan {
        reindent: Vec::new(),
        blame,
    }
}

/// An indentation the scanner refuses inside a flow collection is put right
/// of the collection's opening bracket; outside one, it is a real error.
fn flow_plan(text: &str, mark: &Marker) -> Plan {
    let mut open: Vec<Marker> = Vec::new();
    let mut scanner = Scanner::new(text.chars());
    for Token(at, token) in &mut scanner {
        match token {
            TokenType::FlowSequenceStart | TokenType::FlowMappingStart => open.push(at),
            TokenType::FlowSequenceEnd | TokenType::FlowMappingEnd => {
                open.pop();
            }
            _ => {}
        }
    }
    let same_stop = scanner
        .get_error()
        .is_some_and(|e| e.marker().index() == mark.index());
    let (Some(opener), true) = (open.last(), same_stop) else {
        return Plan::default();
    };
    let line = mark.line().saturating_sub(1);
    let indent = text.split('\n').nth(line).map_or(0, indent_of);
    let need = opener.col() + 1;
    if indent >= need {
        return Plan::default();
    }
    Plan {
        reindent: vec![(line, need - indent)],
        blame: None,
    }
}

/// Every quoted scalar that starts a block value (`key: "…`, `- '…`) and
/// continues on lines left of its opening quote, found line by line, for
/// the repairs `quoted_plan` would make one parse at a time. Leading blanks
/// are never content of a quoted or plain scalar, so the only lines to keep
/// away from are block scalars' (`|`, `>`), which are skipped, generously:
/// a line taken for block content is only a repair left to the exact loop.
fn sweep_quoted(text: &str) -> Vec<(usize, usize)> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut plan = Vec::new();
    let mut block: Option<usize> = None;
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        let indent = indent_of(line);
        let body = line.get(indent..).unwrap_or("");
        if let Some(parent) = block {
            if body.trim().is_empty() || indent > parent {
                i += 1;
                continue;
            }
            block = None;
        }
        let Some((col, value)) = block_value(body) else {
            i += 1;
            continue;
        };
        let col = indent + col;
        match value.chars().next() {
            Some('|' | '>') if is_block_header(value) => block = Some(indent),
            Some(q @ ('\'' | '"')) => {
                if let Some(end) = quoted_end(&lines, i, col, q) {
                    for (l, cont) in lines.iter().enumerate().take(end + 1).skip(i + 1) {
                        let n = indent_of(cont);
                        if n <= col && !cont.trim().is_empty() {
                            plan.push((l, col + 1 - n));
                        }
                    }
                    i = end;
                }
            }
            _ => {}
        }
        i += 1;
    }
    plan
}

/// Where the value of a block line starts (column within `body`, and the
/// text from there): after `- ` entries and a `key: `, anchors and tags.
fn block_value(body: &str) -> Option<(usize, &str)> {
    if body.is_empty() || body.starts_with('#') {
        return None;
    }
    let mut col = 0;
    let mut rest = body;
    let skip = |rest: &mut &str, col: &mut usize, n: usize| {
        let after = rest.get(n..).unwrap_or("");
        let trimmed = after.trim_start_matches([' ', '\t']);
        *col += n + after.len() - trimmed.len();
        *rest = trimmed;
    };
    while rest == "-" || rest.starts_with("- ") || rest.starts_with("-\t") {
        skip(&mut rest, &mut col, 1);
    }
    if let Some(key_end) = key_length(rest) {
        skip(&mut rest, &mut col, key_end);
    }
    while rest.starts_with(['&', '!']) {
        let token = rest.find([' ', '\t']).unwrap_or(rest.len());
        skip(&mut rest, &mut col, token);
    }
    Some((col, rest))
}

/// Length of `key:` at the start of a block line (the colon included), for
/// a plain or single-line quoted key; None when the line holds no key.
fn key_length(s: &str) -> Option<usize> {
    let mut chars = s.char_indices().peekable();
    if let Some((_, q @ ('\'' | '"'))) = chars.peek().copied() {
        chars.next();
        let mut closed = None;
        while let Some((i, c)) = chars.next() {
            if c == '\\' && q == '"' {
                chars.next();
            } else if c == q {
                closed = Some(i);
                break;
            }
        }
        let after = closed? + 1;
        let rest = s.get(after..)?.trim_start_matches([' ', '\t']);
        let colon = after + s.get(after..)?.len() - rest.len();
        return (rest == ":" || rest.starts_with(": ") || rest.starts_with(":\t"))
            .then_some(colon + 1);
    }
    for (i, c) in s.char_indices() {
        match c {
            '#' if i > 0 && s.get(..i).is_some_and(|h| h.ends_with([' ', '\t'])) => return None,
            ':' => {
                let next = s.get(i + 1..).and_then(|r| r.chars().next());
                if matches!(next, None | Some(' ' | '\t')) {
                    return Some(i + 1);
                }
            }
            '[' | '{' | '\'' | '"' if i == 0 => return None,
            _ => {}
        }
    }
    None
}

/// `|`, `>`, with optional indentation and chomping indicators and comment.
fn is_block_header(value: &str) -> bool {
    let head = value.split('#').next().unwrap_or(value).trim_end();
    head.len() <= 3
        && head
            .chars()
            .skip(1)
            .all(|c| c.is_ascii_digit() || c == '-' || c == '+')
}

/// The line a quoted scalar opened at (`line`, `col`) closes on.
fn quoted_end(lines: &[&str], line: usize, col: usize, quote: char) -> Option<usize> {
    let mut l = line;
    let mut from = col + 1;
    loop {
        let text = lines.get(l)?;
        let mut chars = text.get(from..).unwrap_or("").chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if quote == '"' => {
                    chars.next();
                }
                '\'' if quote == '\'' && chars.peek() == Some(&'\'') => {
                    chars.next();
                }
                c if c == quote => return Some(l),
                _ => {}
            }
        }
        l += 1;
        from = 0;
    }
}

/// The text with spaces put in front of the planned lines; `shift` keeps the
/// total per line so positions can be given in the original text.
fn reindent(text: &str, plan: &[(usize, usize)], shift: &mut Vec<usize>) -> String {
    let mut out = String::with_capacity(text.len() + plan.iter().map(|(_, n)| n).sum::<usize>());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if let Some((_, n)) = plan.iter().find(|(l, _)| *l == i) {
            if shift.len() <= i {
                shift.resize(i + 1, 0);
            }
            if let Some(s) = shift.get_mut(i) {
                *s += n;
            }
            out.extend(std::iter::repeat_n(' ', *n));
        }
        out.push_str(line);
    }
    out
}

/// Template syntax a document holds, for documents that do not parse: they
/// are to be rendered first, and the parser's complaint would only confuse.
const TEMPLATE_MARKERS: &[(&str, &str)] = &[
    ("{{", "Helm or Go template syntax `{{ … }}`"),
    ("{%", "Jinja template syntax `{% … %}`"),
    ("%{", "Terraform template directive `%{ … }`"),
    ("${", "template variable `${…}` (Terraform, envsubst)"),
];

fn template_error(chunk: &str, start_line: usize) -> Option<YamlError> {
    for (i, line) in chunk.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let found = TEMPLATE_MARKERS
            .iter()
            .filter_map(|(m, what)| line.find(m).map(|at| (at, *m, *what)))
            .filter(|(at, m, _)| *m != "${" || is_variable(line.get(at + 2..).unwrap_or("")))
            .min_by_key(|(at, _, _)| *at);
        if let Some((at, _, what)) = found {
            return Some(YamlError {
                line: start_line + i,
                column: line.get(..at).map_or(at, |s| s.chars().count()) + 1,
                message: format!(
                    "{what}: this document is a template, not a manifest; render it first \
                     (helm template, terraform, envsubst…) and check the output"
                ),
                template: true,
            });
        }
    }
    None
}

/// `NAME}` or `NAME:-default}` after `${`: a variable, not a literal `${`.
fn is_variable(rest: &str) -> bool {
    let name_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    name_len > 0 && rest.get(name_len..).is_some_and(|r| r.contains('}'))
}

/// One parse of a document's text, `shift` saying how many spaces were put
/// in front of each of its lines (positions are given in the original text).
fn parse_once(
    text: &str,
    start_line: usize,
    shift: &[usize],
    positions: &mut HashMap<String, Pos>,
) -> Result<Value, Stop> {
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        positions,
        line_offset: start_line - 1,
        shift,
        alias_nodes: 0,
    };
    let mut docs = 0;
    // the last scalar of the document, when it is a block scalar
    let mut last_block: Option<String> = None;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| Stop::Scan {
            mark: *e.marker(),
            info: e.info().to_string(),
        })?;
        match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart => {
                docs += 1;
                if docs > 1 {
                    return Err(Stop::from(b.err(
                        &mark,
                        "a second document starts here without a `---` line of its own",
                    )));
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
                    return Err(Stop::from(
                        b.err(&mark, "aliases expand to too many nodes (over a million)"),
                    ));
                }
                if !b.key_pending() {
                    b.child_pointer(&mark);
                }
                b.add(value, 0, &mark)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let is_key = b.key_pending();
                last_block = None;
                if !is_key {
                    let pointer = b.child_pointer(&mark);
                    if matches!(style, TScalarStyle::Literal | TScalarStyle::Folded) {
                        last_block = Some(pointer);
                    }
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
                    return Err(Stop::from(
                        b.err(&mark, "complex mapping keys are not supported"),
                    ));
                }
                if b.stack.len() >= MAX_DEPTH {
                    return Err(Stop::from(
                        b.err(&mark, format!("nesting deeper than {MAX_DEPTH} levels")),
                    ));
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
                    None => return Err(Stop::from(b.err(&mark, "unbalanced collection end"))),
                };
                b.add(value, anchor, &mark)?;
            }
        }
    }
    let mut root = b.root.unwrap_or(Value::Null);
    if let Some(pointer) = last_block {
        unbreak_final_block(text, &mut root, &pointer);
    }
    Ok(root)
}

/// A block scalar that runs to the end of a text without a final line break
/// has no line break to keep (kubectl and PyYAML give `hello` for `x: |` and
/// `  hello` at the very end of a file); the scanner adds one.
fn unbreak_final_block(text: &str, root: &mut Value, pointer: &str) {
    if text.ends_with('\n') {
        return;
    }
    let last_line = text.rsplit('\n').next().unwrap_or("").trim();
    if last_line.is_empty() {
        return;
    }
    if let Some(Value::String(s)) = root.pointer_mut(pointer) {
        let ends_here = s
            .strip_suffix('\n')
            .is_some_and(|body| body.trim_end().ends_with(last_line));
        if ends_here {
            s.pop();
        }
    }
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
    // a leading zero makes an octal number to go-yaml (v2 and v3 alike, by
    // Go's ParseInt with base 0), so `defaultMode: 0400` is 256 to kubectl
    if digits.len() > 1
        && digits.starts_with('0')
        && digits.chars().all(|c| ('0'..='7').contains(&c))
    {
        let n = i64::from_str_radix(digits, 8).ok()?;
        return Some(Value::from(if t.starts_with('-') { -n } else { n }));
    }
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

    /// The scanner reports an unclosed collection at the end of the text on
    /// the line after it, which does not exist when the text has no final
    /// newline: the error is put at the end of the last line instead.
    #[test]
    fn an_error_at_the_end_of_the_text_is_inside_it() {
        for (text, line, column) in [
            ("a: [1", 1, 6),
            ("kind: Pod\nspec: {a: [1, {b: 2}", 2, 21),
            ("---\nkind: Pod\n---\nx: {y: 1", 4, 9),
            ("kind: Pod\r\nspec:\r  x: [1", 3, 8),
        ] {
            let docs = load(text);
            let err = docs.last().unwrap().value.as_ref().unwrap_err();
            assert_eq!((err.line, err.column), (line, column), "{text:?}: {err}");
        }
        // a node at the very end, as an empty scalar after a tag
        let docs = load("!");
        assert_eq!(docs[0].position(""), Pos { line: 1, column: 2 });
        // with the final newline, the line after it is there to point at
        let docs = load("a: [1\n");
        let err = docs[0].value.as_ref().unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }

    /// A lone CR is a line break to the scanner but not to the repairs,
    /// which count lines at `\n`: the repair then reindented a line the
    /// scanner never complained of, again and again until its budget was
    /// spent (seconds on a few hundred bytes). A repair that leaves the
    /// scanner where it stopped gives up with the scanner's own error.
    #[test]
    fn a_repair_that_cures_nothing_is_not_repeated() {
        let text = "spec:\n  containers:\n    - name: a\n      args: [\r-x, y]\n";
        let docs = load(text);
        let err = docs[0].value.as_ref().unwrap_err();
        assert!(!err.message.contains("too many lines"), "{err}");
    }

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

    /// A service mesh quickstart's form: a flow sequence whose closing `]`
    /// (and an item) sit at the key's column. kubectl and PyYAML take it.
    const FLOW_AT_KEY_COLUMN: &str = "\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  template:
    spec:
      hostNetwork: true
      containers:
        - name: agent
          args: [
              \"-socket-dir\", \"/run/agent\",
          \"-verbose\",
          ]
          image: agent:1
          env: [{name: A,
value: b}
          ]
";

    #[test]
    fn flow_collections_closed_at_their_key_column_are_read() {
        let docs = load(FLOW_AT_KEY_COLUMN);
        let d = &docs[0];
        let v = d.value.as_ref().unwrap();
        let c = &v["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["args"], json!(["-socket-dir", "/run/agent", "-verbose"]));
        assert_eq!(c["env"], json!([{"name": "A", "value": "b"}]));
        assert_eq!(c["image"], "agent:1");
        // positions stay those of the original text
        let p = "/spec/template/spec/containers/0";
        assert_eq!(
            d.position(&format!("{p}/args/2")),
            Pos {
                line: 13,
                column: 11
            }
        );
        assert_eq!(
            d.position(&format!("{p}/image")),
            Pos {
                line: 15,
                column: 11
            }
        );
        assert_eq!(
            d.position(&format!("{p}/env/0/value")),
            Pos {
                line: 17,
                column: 1
            }
        );
        assert_eq!(d.position("/spec/template/spec/hostNetwork").line, 8);
    }

    #[test]
    fn quoted_scalars_continued_left_of_their_key_are_read() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    note: \"first\n  second \\\n   third\"\n    other: 'it''s\n a\n\n b'\n    last: x\n";
        let d = &load(text)[0];
        let v = d.value.as_ref().unwrap();
        assert_eq!(v["metadata"]["annotations"]["note"], "first second third");
        assert_eq!(v["metadata"]["annotations"]["other"], "it's a\nb");
        assert_eq!(
            d.position("/metadata/annotations/last"),
            Pos {
                line: 13,
                column: 5
            }
        );
        assert_eq!(
            d.position("/metadata/annotations/other"),
            Pos { line: 9, column: 5 }
        );
    }

    #[test]
    fn real_indentation_errors_stay_errors_on_their_line() {
        // a block mapping that dedents to no parent: kubectl and PyYAML refuse it too
        let e = load("a:\n    b: 1\n  c: 2\n").remove(0).value.unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        // a quoted scalar that never closes is blamed on the first line it could not take
        let e = load("kind: Pod\nmetadata:\n  name: \"p\n x\n")
            .remove(0)
            .value
            .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        // outside a flow collection a dedented line is not repaired
        let e = load("a:\n  b:\n    - x\n   - y\n")
            .remove(0)
            .value
            .unwrap_err();
        assert!(e.line >= 3, "{e}");
    }

    #[test]
    fn templates_are_to_be_rendered_first() {
        let helm = "apiVersion: v1\nkind: Service\n# {{ not this one }}\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  type: {{ .Values.type }}\n";
        let e = load(helm).remove(0).value.unwrap_err();
        assert_eq!((e.line, e.column), (5, 9), "{e}");
        assert!(e.message.contains("render it first"), "{e}");
        assert!(e.message.contains("Helm"), "{e}");
        let terraform = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - args:\n%{ for f in flags ~}\n      - ${f}\n%{ endfor ~}\n";
        let e = load(terraform).remove(0).value.unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("Terraform"), "{e}");
        let envsubst = "kind: Pod\nspec:\n  containers:\n    - command:\n      - kube-apiserver\n      ${extra_flags}\n      - --v=2\n";
        let e = load(envsubst).remove(0).value.unwrap_err();
        assert_eq!((e.line, e.column), (6, 7), "{e}");
        // a literal `${` that is no variable, and templates that parse, are left alone
        let fine = "kind: ConfigMap\ndata:\n  a: \"{{ .Values.x }}\"\n  b: \"cost: ${ 5\"\n";
        assert!(load(fine)[0].value.is_ok());
        let broken = "kind: ConfigMap\ndata:\n  b: \"cost: ${ 5\"\n  c: [\n";
        assert!(!load(broken)[0]
            .value
            .as_ref()
            .unwrap_err()
            .message
            .contains("template"));
    }

    #[test]
    fn scalars_read_as_kubectl_reads_them() {
        // octal with a leading zero; a block scalar at the very end of a text
        // without a final line break has none
        let v = load("mode: 0400\nneg: -010\nzero: 0\nnine: 09\nx: |\n  hello")
            .remove(0)
            .value
            .unwrap();
        assert_eq!(
            v,
            json!({"mode": 256, "neg": -8, "zero": 0, "nine": 9, "x": "hello"})
        );
        let v = load("x: |\n  hello\n").remove(0).value.unwrap();
        assert_eq!(v["x"], "hello\n");
        let v = load("x: >\n  a\n  b\n# done").remove(0).value.unwrap();
        assert_eq!(v["x"], "a b\n");
        let v = load("- |\n  a\n  # b").remove(0).value.unwrap();
        assert_eq!(v, json!(["a\n# b"]));
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
