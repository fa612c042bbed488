//! The values hosts hold by address. Rego has sets where JSON has none; only
//! result sets are sets here, so a value is JSON or a set of JSON values.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Json(Value),
    Set(Vec<Value>),
}

impl Term {
    /// The result set of an entrypoint: one binding of `result`.
    pub fn result_set(result: Value) -> Term {
        let mut binding = serde_json::Map::new();
        binding.insert("result".into(), result);
        Term::Set(vec![Value::Object(binding)])
    }

    pub fn as_json(&self) -> Option<&Value> {
        match self {
            Term::Json(v) => Some(v),
            Term::Set(_) => None,
        }
    }

    /// `opa_json_dump`: sets dump as arrays, as OPA's own modules do.
    pub fn to_json(&self) -> String {
        match self {
            Term::Json(v) => v.to_string(),
            Term::Set(items) => Value::Array(items.clone()).to_string(),
        }
    }

    /// `opa_value_dump`: Rego term text. JSON values print as themselves;
    /// sets print as `{a,b}`, the empty set as `set()`.
    pub fn to_rego(&self) -> String {
        match self {
            Term::Json(v) => v.to_string(),
            Term::Set(items) if items.is_empty() => "set()".into(),
            Term::Set(items) => {
                let inner: Vec<String> = items.iter().map(Value::to_string).collect();
                format!("{{{}}}", inner.join(","))
            }
        }
    }
}

/// Strips what C-string hosts leave after the text: NULs and whitespace.
pub fn trim_text(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, 0 | b' ' | b'\t' | b'\n' | b'\r'))
        .map_or(0, |i| i + 1);
    bytes.get(..end).unwrap_or_default()
}

/// `opa_json_parse`: JSON text, trailing NUL tolerated.
pub fn parse_json(bytes: &[u8]) -> Option<Term> {
    serde_json::from_slice(trim_text(bytes))
        .ok()
        .map(Term::Json)
}

/// `opa_value_parse`: Rego term text. JSON first (what hosts send in
/// practice), then the Rego-only forms: sets (read as arrays, which is how
/// JSON sees them), `set()`, raw strings in backquotes.
pub fn parse_rego(bytes: &[u8]) -> Option<Term> {
    if let Some(t) = parse_json(bytes) {
        return Some(t);
    }
    let text = std::str::from_utf8(trim_text(bytes)).ok()?;
    let mut p = Rego {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.term()?;
    p.ws();
    (p.i == p.s.len()).then_some(Term::Json(v))
}

/// Nesting limit of the Rego reader: hostile input must not exhaust the stack.
const MAX_DEPTH: usize = 128;

struct Rego<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Rego<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self, w: &str) -> bool {
        if self.s.get(self.i..self.i + w.len()) == Some(w.as_bytes()) {
            self.i += w.len();
            true
        } else {
            false
        }
    }

    fn term(&mut self) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        let v = match self.peek()? {
            b'[' => {
                self.i += 1;
                Value::Array(self.items(b']')?)
            }
            b'{' => self.braces()?,
            b'"' => Value::String(self.string()?),
            b'`' => {
                self.i += 1;
                let start = self.i;
                while self.peek()? != b'`' {
                    self.i += 1;
                }
                let s = std::str::from_utf8(self.s.get(start..self.i)?).ok()?;
                self.i += 1;
                Value::String(s.to_string())
            }
            _ if self.word("set()") => Value::Array(Vec::new()),
            _ if self.word("null") => Value::Null,
            _ if self.word("true") => Value::Bool(true),
            _ if self.word("false") => Value::Bool(false),
            _ => {
                let start = self.i;
                while matches!(
                    self.peek(),
                    Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                ) {
                    self.i += 1;
                }
                serde_json::from_slice(self.s.get(start..self.i)?).ok()?
            }
        };
        self.depth -= 1;
        Some(v)
    }

    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.i += 1;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                b'"' => break,
                _ => self.i += 1,
            }
        }
        self.i += 1;
        serde_json::from_slice(self.s.get(start..self.i)?).ok()
    }

    fn items(&mut self, close: u8) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        if self.eat(close) {
            return Some(out);
        }
        loop {
            out.push(self.term()?);
            if self.eat(close) {
                return Some(out);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// An object, or a set: decided by the `:` after the first term.
    fn braces(&mut self) -> Option<Value> {
        self.i += 1;
        if self.eat(b'}') {
            return Some(Value::Object(serde_json::Map::new()));
        }
        let first = self.term()?;
        if !self.eat(b':') {
            let mut items = vec![first];
            if !self.eat(b'}') {
                if !self.eat(b',') {
                    return None;
                }
                items.extend(self.items(b'}')?);
            }
            return Some(Value::Array(items));
        }
        let mut map = serde_json::Map::new();
        let mut key = first;
        loop {
            let value = self.term()?;
            let key_text = match key {
                Value::String(s) => s,
                other => other.to_string(),
            };
            map.insert(key_text, value);
            if self.eat(b'}') {
                return Some(Value::Object(map));
            }
            if !self.eat(b',') {
                return None;
            }
            key = self.term()?;
            if !self.eat(b':') {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dumps_result_sets_in_both_formats() {
        let set = Term::result_set(json!([{"msg": "x"}]));
        assert_eq!(set.to_json(), r#"[{"result":[{"msg":"x"}]}]"#);
        assert_eq!(set.to_rego(), r#"{{"result":[{"msg":"x"}]}}"#);
        assert_eq!(Term::Set(vec![]).to_rego(), "set()");
        assert_eq!(Term::Set(vec![]).to_json(), "[]");
    }

    #[test]
    fn tolerates_c_strings() {
        assert_eq!(
            parse_json(b"{\"a\":1}\0"),
            Some(Term::Json(json!({"a": 1})))
        );
        assert_eq!(parse_json(b"{} \n\0\0"), Some(Term::Json(json!({}))));
        assert_eq!(parse_json(b"{\"a\":"), None);
        assert_eq!(parse_json(b""), None);
    }

    #[test]
    fn reads_rego_term_text() {
        let t = parse_rego(br#"{"a": {1, 2}, "b": set(), "c": `raw\n`, 3: [true, null]}"#);
        assert_eq!(
            t,
            Some(Term::Json(
                json!({"a": [1, 2], "b": [], "c": "raw\\n", "3": [true, null]})
            ))
        );
        assert_eq!(parse_rego(b"{\"x\"}"), Some(Term::Json(json!(["x"]))));
        assert_eq!(parse_rego(b"{1,"), None);
        let deep = "[".repeat(10_000);
        assert_eq!(parse_rego(deep.as_bytes()), None);
    }
}
