//! RFC 6902 JSON Patch, applied to a copy so a patch lands whole or not at
//! all. Hosts that mutate (Kubewarden) apply the findings' `fix` with it.

use serde_json::Value;

/// Why a patch could not be applied: which operation, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("patch operation {index}: {message}")]
pub struct PatchError {
    /// Position of the failing operation in the patch.
    pub index: usize,
    pub message: String,
}

/// Applies `patch` to `doc`. On error `doc` is left as it was.
pub fn apply(doc: &mut Value, patch: &[Value]) -> Result<(), PatchError> {
    let mut work = doc.clone();
    for (index, op) in patch.iter().enumerate() {
        apply_one(&mut work, op).map_err(|message| PatchError { index, message })?;
    }
    *doc = work;
    Ok(())
}

fn apply_one(doc: &mut Value, op: &Value) -> Result<(), String> {
    let field = |k: &str| {
        op.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("missing string member `{k}`"))
    };
    let path = field("path")?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| "missing member `value`".to_string())
    };
    match field("op")? {
        "add" => add(doc, path, value()?),
        "remove" => remove(doc, path).map(drop),
        "replace" => {
            let slot = lookup_mut(doc, path)?;
            *slot = value()?;
            Ok(())
        }
        "move" => {
            let from = field("from")?;
            // a value cannot move into its own child (RFC 6902, 4.4)
            if path
                .strip_prefix(from)
                .is_some_and(|rest| rest.starts_with('/'))
            {
                return Err(format!("cannot move `{from}` into its own child `{path}`"));
            }
            let moved = remove(doc, from)?;
            add(doc, path, moved)
        }
        "copy" => {
            let from = field("from")?;
            let copied = lookup_mut(doc, from)?.clone();
            add(doc, path, copied)
        }
        "test" => {
            let expected = value()?;
            if *lookup_mut(doc, path)? == expected {
                Ok(())
            } else {
                Err(format!("test failed: `{path}` is not {expected}"))
            }
        }
        other => Err(format!("unknown op `{other}`")),
    }
}

/// Splits a JSON Pointer into its unescaped tokens.
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "`{pointer}` is not a JSON Pointer (it must start with /)"
        ));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn array_index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    // leading zeros and signs are not array indices (RFC 6901, 4)
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let i: usize = token
        .parse()
        .ok()
        .filter(|_| valid)
        .ok_or_else(|| format!("`{token}` is not an array index"))?;
    let max = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    if i > max || (!allow_end && len == 0) {
        return Err(format!("index {i} is out of bounds (length {len})"));
    }
    Ok(i)
}

fn step<'v>(v: &'v mut Value, token: &str) -> Result<&'v mut Value, String> {
    match v {
        Value::Object(map) => map
            .get_mut(token)
            .ok_or_else(|| format!("no member `{token}`")),
        Value::Array(items) => {
            let i = array_index(token, items.len(), false)?;
            items
                .get_mut(i)
                .ok_or_else(|| format!("index {i} is out of bounds"))
        }
        _ => Err(format!("cannot descend into a scalar at `{token}`")),
    }
}

fn lookup_mut<'v>(doc: &'v mut Value, pointer: &str) -> Result<&'v mut Value, String> {
    let mut cur = doc;
    for t in tokens(pointer)? {
        cur = step(cur, &t).map_err(|e| format!("`{pointer}`: {e}"))?;
    }
    Ok(cur)
}

/// The parent of the pointed-to location and the last token.
fn parent<'v>(doc: &'v mut Value, pointer: &str) -> Result<(&'v mut Value, String), String> {
    let mut toks = tokens(pointer)?;
    let Some(last) = toks.pop() else {
        return Err("the whole document has no parent".to_string());
    };
    let mut cur = doc;
    for t in &toks {
        cur = step(cur, t).map_err(|e| format!("`{pointer}`: {e}"))?;
    }
    Ok((cur, last))
}

fn add(doc: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    if pointer.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (target, last) = parent(doc, pointer)?;
    match target {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let i =
                array_index(&last, items.len(), true).map_err(|e| format!("`{pointer}`: {e}"))?;
            items.insert(i, value);
            Ok(())
        }
        _ => Err(format!("`{pointer}`: the parent is not an object or array")),
    }
}

fn remove(doc: &mut Value, pointer: &str) -> Result<Value, String> {
    let (target, last) = parent(doc, pointer)?;
    match target {
        Value::Object(map) => map
            .remove(&last)
            .ok_or_else(|| format!("`{pointer}`: no member `{last}` to remove")),
        Value::Array(items) => {
            let i =
                array_index(&last, items.len(), false).map_err(|e| format!("`{pointer}`: {e}"))?;
            Ok(items.remove(i))
        }
        _ => Err(format!("`{pointer}`: the parent is not an object or array")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(doc: Value, patch: Value) -> Result<Value, PatchError> {
        let mut doc = doc;
        apply(&mut doc, patch.as_array().unwrap())?;
        Ok(doc)
    }

    #[test]
    fn every_operation() {
        let doc = json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}});
        let out = patched(
            doc,
            json!([
                {"op": "test", "path": "/spec/type", "value": "NodePort"},
                {"op": "replace", "path": "/spec/type", "value": "ClusterIP"},
                {"op": "remove", "path": "/spec/ports/0/nodePort"},
                {"op": "add", "path": "/spec/ports/-", "value": {"port": 443}},
                {"op": "add", "path": "/spec/ports/0", "value": {"port": 8080}},
                {"op": "copy", "from": "/spec/type", "path": "/spec/was"},
                {"op": "move", "from": "/spec/was", "path": "/metadata"}
            ]),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"spec": {"type": "ClusterIP", "ports": [{"port": 8080}, {"port": 80}, {"port": 443}]},
                   "metadata": "ClusterIP"})
        );
    }

    #[test]
    fn escaped_tokens() {
        let doc = json!({"metadata": {"annotations": {"a/b": "1", "c~d": "2"}}});
        let out = patched(
            doc,
            json!([
                {"op": "remove", "path": "/metadata/annotations/a~1b"},
                {"op": "replace", "path": "/metadata/annotations/c~0d", "value": "3"}
            ]),
        )
        .unwrap();
        assert_eq!(out, json!({"metadata": {"annotations": {"c~d": "3"}}}));
    }

    #[test]
    fn a_failing_patch_leaves_the_document_untouched() {
        let mut doc = json!({"spec": {"type": "LoadBalancer"}});
        let before = doc.clone();
        let err = apply(
            &mut doc,
            &[
                json!({"op": "replace", "path": "/spec/type", "value": "ClusterIP"}),
                json!({"op": "remove", "path": "/spec/loadBalancerIP"}),
            ],
        )
        .unwrap_err();
        assert_eq!(err.index, 1);
        assert!(err.message.contains("loadBalancerIP"), "{err}");
        assert_eq!(doc, before);
    }

    #[test]
    fn refuses_what_rfc_6902_refuses() {
        let doc = json!({"a": {"b": [1, 2]}});
        for bad in [
            json!([{"op": "replace", "path": "/a/c", "value": 1}]),
            json!([{"op": "add", "path": "/a/b/3", "value": 1}]),
            json!([{"op": "add", "path": "/a/b/01", "value": 1}]),
            json!([{"op": "remove", "path": "/a/b/-"}]),
            json!([{"op": "move", "from": "/a", "path": "/a/d"}]),
            json!([{"op": "test", "path": "/a/b/0", "value": 2}]),
            json!([{"op": "frobnicate", "path": "/a"}]),
            json!([{"op": "add", "path": "a", "value": 1}]),
            json!([{"op": "add", "path": "/a/b/0/x", "value": 1}]),
            json!([{"path": "/a"}]),
        ] {
            assert!(patched(doc.clone(), bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn whole_document() {
        let out = patched(
            json!(1),
            json!([{"op": "add", "path": "", "value": {"x": 1}}]),
        )
        .unwrap();
        assert_eq!(out, json!({"x": 1}));
    }
}
