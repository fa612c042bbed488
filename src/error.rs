//! Every way an evaluation can fail, and the one converter into the JSON error answer.

use serde_json::{json, Value};

/// An input or settings problem. Each variant says what is wrong and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("input is not valid UTF-8 (first bad byte at offset {offset})")]
    Utf8 { offset: usize },
    #[error("input is not valid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("input: {message}")]
    Input { message: String },
    #[error("settings: {key}: {message}")]
    Settings { key: String, message: String },
    /// Settings inside the content being checked, where only the host may
    /// set them: `path` points at them in the input.
    #[error(
        "settings found inside the checked input, at {path}: settings come from whoever runs \
         the check (OPA data, Gatekeeper parameters, --settings, the settings argument), never \
         from the content being checked; a host that means to take them from the input sets \
         allowInputSettings: true in its own settings"
    )]
    InputSettings { path: String },
    #[error("{object}: field {path}: {message}")]
    Object {
        object: String,
        path: String,
        message: String,
    },
}

impl Error {
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
        }
    }

    pub fn settings(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Settings {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Wraps a serde_json parse error with its position.
    pub fn from_json(err: &serde_json::Error) -> Self {
        let text = err.to_string();
        // serde_json appends " at line L column C"; the position has its own fields.
        let message = match text.rfind(" at line ") {
            Some(cut) => text.get(..cut).unwrap_or(&text).to_string(),
            None => text,
        };
        Error::Json {
            line: err.line(),
            column: err.column(),
            message,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Utf8 { .. } => "invalid-utf8",
            Error::Json { .. } => "invalid-json",
            Error::Input { .. } => "invalid-input",
            Error::Settings { .. } => "invalid-settings",
            Error::InputSettings { .. } => "settings-in-input",
            Error::Object { .. } => "invalid-object",
        }
    }

    /// The `error` member of the JSON error answer.
    pub fn to_value(&self) -> Value {
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        if let Some(map) = error.as_object_mut() {
            match self {
                Error::Utf8 { offset } => {
                    map.insert("offset".into(), json!(offset));
                }
                Error::Json { line, column, .. } => {
                    map.insert("line".into(), json!(line));
                    map.insert("column".into(), json!(column));
                }
                Error::Settings { key, .. } => {
                    map.insert("key".into(), json!(key));
                }
                Error::InputSettings { path } => {
                    map.insert("path".into(), json!(path));
                }
                Error::Object { object, path, .. } => {
                    map.insert("object".into(), json!(object));
                    map.insert("path".into(), json!(path));
                }
                Error::Input { .. } => {}
            }
        }
        error
    }

    /// The whole answer: evaluation fails closed.
    pub fn to_answer(&self) -> Value {
        json!({"allowed": false, "error": self.to_value()})
    }
}

/// Levenshtein distance, for did-you-mean hints on keys and rule ids.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(usize::MAX) + 1;
            let ins = cur.get(j).copied().unwrap_or(usize::MAX) + 1;
            let sub = prev.get(j).copied().unwrap_or(usize::MAX) + cost;
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = del.min(ins).min(sub);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

/// " (did you mean `x`?)" when a candidate is close enough, else "".
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= (word.len() / 3).max(2) => format!(" (did you mean `{c}`?)"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            did_you_mean(
                "service-type-nodeprot",
                ["service-type-nodeport", "rbac-wildcard"]
            ),
            " (did you mean `service-type-nodeport`?)"
        );
        assert_eq!(did_you_mean("zzz", ["service-type-nodeport"]), "");
    }

    #[test]
    fn json_errors_keep_their_position() {
        let err = serde_json::from_str::<Value>("{\n  \"a\": 1,,\n}").unwrap_err();
        let err = Error::from_json(&err);
        assert_eq!(err.code(), "invalid-json");
        let v = err.to_answer();
        assert_eq!(v["error"]["line"], 2);
        assert_eq!(v["allowed"], false);
    }
}
