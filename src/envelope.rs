//! Reading an input's top level once, with its settings member left as JSON
//! text. Hosts that send settings with every request (Kubewarden settings,
//! Gatekeeper parameters, the generic envelope) would otherwise have them
//! parsed into a `Value` on every call only to learn that they are the
//! settings of the last call: kept as text, a [`crate::PolicyCache`] finds
//! the compiled policy by comparing bytes, and the settings are parsed only
//! when they are new.

use crate::error::Error;
use crate::review;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// An input read once: everything but the settings member parsed, the
/// settings member (the one [`review::detect`] would read as settings, if
/// any) kept as text.
pub struct Envelope<'a> {
    /// The input without its settings member.
    pub value: Value,
    /// The settings member's name and text.
    pub settings: Option<(&'static str, &'a RawValue)>,
}

/// The bytes a host hands over as JSON text: valid UTF-8, and without the
/// NUL that hosts passing C strings add.
pub(crate) fn json_text(input: &[u8]) -> Result<&[u8], Error> {
    if let Err(e) = std::str::from_utf8(input) {
        return Err(Error::Utf8 {
            offset: e.valid_up_to(),
        });
    }
    Ok(input.strip_suffix(b"\0").unwrap_or(input))
}

/// Parses an input as [`crate::parse_json`] does, with the same errors, but
/// keeps the settings member of an envelope as text.
pub fn parse(input: &[u8]) -> Result<Envelope<'_>, Error> {
    let text = json_text(input)?;
    let starts_object = text
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !starts_object {
        let value = serde_json::from_slice(text).map_err(|e| Error::from_json(&e))?;
        return Ok(Envelope {
            value,
            settings: None,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    let top = TopLevel
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top))
        .map_err(|e| whole_error(text, &e))?;
    let Top { mut map, raw } = top;
    let member = review::settings_member(&map);
    let mut settings = None;
    for (key, member_text) in raw {
        // read as text, a member escapes serde_json's nesting limit (and
        // parsed alone it would start again at the top): one that may pass
        // it is refused as parse_json refuses it
        if nesting(member_text.get().as_bytes()) >= NESTING_LIMIT - 1 {
            serde_json::from_slice::<Value>(text).map_err(|e| Error::from_json(&e))?;
        }
        match member.filter(|m| *m == key) {
            Some(m) => settings = Some((m, member_text)),
            // an object's own `parameters` (a StorageClass's), or a member
            // detection refuses: parsed like every other member
            None => {
                let value = serde_json::from_slice(member_text.get().as_bytes())
                    .map_err(|e| whole_error(text, &e))?;
                map.insert(key.to_string(), value);
            }
        }
    }
    Ok(Envelope {
        value: Value::Object(map),
        settings,
    })
}

/// The error [`crate::parse_json`] gives for a text read here failed:
/// serde_json places some errors (a control character in a string) one
/// character apart when it skips a value as raw text. Errors are rare, so
/// the text is parsed again the usual way to word and place it alike.
fn whole_error(text: &[u8], first: &serde_json::Error) -> Error {
    match serde_json::from_slice::<Value>(text) {
        Err(e) => Error::from_json(&e),
        Ok(_) => Error::from_json(first),
    }
}

/// serde_json's nesting limit: arrays and objects deeper than this are an error.
const NESTING_LIMIT: usize = 128;

/// How deep arrays and objects nest in a JSON text.
fn nesting(json: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for b in json {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The members that may carry settings: read as text until the whole
/// object is known.
const MEMBERS: [&str; 2] = ["settings", "parameters"];

struct Top<'a> {
    map: Map<String, Value>,
    /// The last occurrence of each settings-like member, as JSON parsers
    /// keep the last of duplicate keys.
    raw: Vec<(&'static str, &'a RawValue)>,
}

struct TopLevel;

impl<'de> DeserializeSeed<'de> for TopLevel {
    type Value = Top<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Top<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Top<'de>, A::Error> {
        let mut top = Top {
            map: Map::new(),
            raw: Vec::new(),
        };
        while let Some(key) = access.next_key::<String>()? {
            match MEMBERS.iter().find(|m| **m == key) {
                Some(member) => {
                    let text: &'de RawValue = access.next_value()?;
                    top.raw.retain(|(k, _)| k != member);
                    top.raw.push((member, text));
                }
                None => {
                    let value: Value = access.next_value()?;
                    top.map.insert(key, value);
                }
            }
        }
        Ok(top)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests fail loudly by design

    use super::*;
    use serde_json::json;

    fn whole(input: &str) -> Value {
        let envelope = parse(input.as_bytes()).unwrap();
        let mut value = envelope.value;
        if let Some((member, text)) = envelope.settings {
            let parsed: Value = serde_json::from_str(text.get()).unwrap();
            value.as_object_mut().unwrap().insert(member.into(), parsed);
        }
        value
    }

    /// Put back together, the envelope is what `parse_json` reads, for
    /// every shape; only an envelope's own settings member is kept as text.
    #[test]
    fn the_envelope_is_the_input_with_its_settings_as_text() {
        for (input, member) in [
            (
                r#"{"request": {"uid": "u"}, "settings": {"profile": "strict"}}"#,
                Some("settings"),
            ),
            (
                r#"{"review": {}, "parameters": {"rules": {}}, "inventory": []}"#,
                Some("parameters"),
            ),
            (r#"{"objects": [], "settings": null}"#, Some("settings")),
            // a StorageClass's parameters are the object's own
            (
                r#"{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "parameters": {"type": "gp3"}}"#,
                None,
            ),
            // settings beside a review are refused by detection, so parsed as content
            (r#"{"review": {}, "settings": {}}"#, None),
            (
                r#"{"kind": "AdmissionReview", "request": {}, "settings": {}}"#,
                None,
            ),
            (r#"  [{"kind": "Service"}]"#, None),
            // duplicates: the last wins, as in every JSON reader here
            (
                r#"{"settings": 1, "objects": [], "settings": {"mode": "audit"}}"#,
                Some("settings"),
            ),
        ] {
            let envelope = parse(input.as_bytes()).unwrap();
            assert_eq!(envelope.settings.map(|(m, _)| m), member, "{input}");
            assert_eq!(
                whole(input),
                crate::parse_json(input.as_bytes()).unwrap(),
                "{input}"
            );
        }
        let text = parse(br#"{"request": {}, "settings": {"profile": "strict"}}"#).unwrap();
        assert_eq!(text.settings.unwrap().1.get(), r#"{"profile": "strict"}"#);
        assert_eq!(text.value, json!({"request": {}}));
    }

    /// Errors are `parse_json`'s, at the same place.
    #[test]
    fn errors_are_those_of_parse_json() {
        for input in [
            &br#"{"request": {}, "settings": {"profile": }}"#[..],
            br#"{"request": {}} trailing"#,
            // a control character in a string: serde_json places it one
            // character apart when it skips a value as raw text
            b"{\"objects\": [], \"settings\": {\"\n\": 1}}",
            b"{\"objects\": [], \"parameters\": \"a\tb\"}",
            // nesting past serde_json's limit inside a member read as text
            format!(
                "{{\"objects\": [], \"settings\": {}1{}}}",
                "[".repeat(200),
                "]".repeat(200)
            )
            .as_bytes(),
            // and inside a member that is not the settings, parsed on its own
            format!(
                "{{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"parameters\": {}1{}}}",
                "[".repeat(127),
                "]".repeat(127)
            )
            .as_bytes(),
            br#"{"request": "#,
            b"\xff{}",
            b"",
        ] {
            let ours = parse(input).err().unwrap();
            let theirs = crate::parse_json(input).err().unwrap();
            assert_eq!(ours.to_answer(), theirs.to_answer(), "{input:?}");
        }
    }
}
