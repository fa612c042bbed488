//! portcullis: Kubernetes exposure and access rules, written once, run in
//! every policy host. This crate is the host-agnostic core: input shapes,
//! settings, rules and the report. Bindings translate at the edges.

#[cfg(feature = "yaml")]
#[doc(hidden)]
pub mod cases;
pub mod crds;
pub mod docs;
pub mod engine;
pub mod error;
pub mod glob;
pub mod net;
pub mod object;
pub mod params;
pub mod patch;
pub mod report;
pub mod review;
pub mod rule;
pub mod rules;
pub mod settings;
pub mod versions;
#[cfg(feature = "yaml")]
pub mod yaml;
#[cfg(feature = "yaml")]
pub mod yamlcheck;

#[cfg(all(target_arch = "wasm32", not(feature = "no-abi")))]
mod abi;

pub use error::Error;
pub use report::{Action, Finding, ObjectRef, Report, Severity};
pub use review::{detect, Review, Shape};
pub use settings::Policy;

use serde_json::Value;

/// Settings and inventory a host supplies beside the input (OPA `data`,
/// a CLI `--settings` file). Settings carried inside the input win.
#[derive(Debug, Clone, Copy, Default)]
pub struct Host<'a> {
    pub settings: Option<&'a Value>,
    pub inventory: Option<&'a Value>,
}

/// Parses JSON bytes with errors that say where.
pub fn parse_json(input: &[u8]) -> Result<Value, Error> {
    if let Err(e) = std::str::from_utf8(input) {
        return Err(Error::Utf8 {
            offset: e.valid_up_to(),
        });
    }
    // hosts may hand over C strings
    let input = input.strip_suffix(b"\0").unwrap_or(input);
    serde_json::from_slice(input).map_err(|e| Error::from_json(&e))
}

/// Evaluates any accepted input shape.
pub fn evaluate(input: &Value, host: Host<'_>) -> Result<Report, Error> {
    let mut review = detect(input)?;
    let settings = review.settings.or(host.settings);
    let compiled;
    let policy = match settings {
        None | Some(Value::Null) if HEAP_SURVIVES_CALLS => baseline()?,
        Some(Value::Object(m)) if HEAP_SURVIVES_CALLS && m.is_empty() => baseline()?,
        _ => {
            compiled = Policy::from_settings(settings)?;
            &compiled
        }
    };
    if review.inventory.is_empty() {
        if let Some(inv) = host.inventory {
            review.inventory = review::inventory(inv)?;
        }
    }
    Ok(engine::run(&review, policy))
}

/// Whether statics may keep heap data from one call to the next. Not in the
/// bindings with their own ABI: the OPA module's hosts reset its bump heap
/// before every evaluation, which would leave a cached policy dangling.
pub(crate) const HEAP_SURVIVES_CALLS: bool = !cfg!(all(target_arch = "wasm32", feature = "no-abi"));

/// The baseline policy, compiled once per process: hosts without settings
/// (the generic ABI, the CLI without `--settings`) would otherwise re-read
/// the profile and configure every rule on every request, which cost more
/// than the rules themselves.
fn baseline() -> Result<&'static Policy, Error> {
    static BASELINE: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    if let Some(p) = BASELINE.get() {
        return Ok(p);
    }
    let p = Policy::from_settings(None)?;
    Ok(BASELINE.get_or_init(|| p))
}

/// Evaluates under an already compiled policy (hosts that cache settings).
/// Settings carried inside the input are rejected: they would be ignored.
pub fn evaluate_with(
    input: &Value,
    policy: &Policy,
    inventory: Option<&Value>,
) -> Result<Report, Error> {
    let mut review = detect(input)?;
    if review.settings.is_some_and(|s| !s.is_null()) {
        let own = Policy::from_settings(review.settings)?;
        return Ok(engine::run(&review, &own));
    }
    if let Some(inv) = inventory {
        if review.inventory.is_empty() {
            review.inventory = review::inventory(inv)?;
        }
    }
    Ok(engine::run(&review, policy))
}

/// The generic JSON entry point: bytes in, the JSON answer out. Never fails.
pub fn evaluate_bytes(input: &[u8]) -> Value {
    match parse_json(input).and_then(|v| evaluate(&v, Host::default())) {
        Ok(report) => report.to_value(),
        Err(e) => e.to_answer(),
    }
}

/// `evaluate_bytes` serialised, without building the answer as a `Value`
/// first (a quarter of a small request's cost). Keys keep the report's field
/// order instead of `Value`'s sorted order; the JSON is the same.
pub fn evaluate_to_json(input: &[u8]) -> Vec<u8> {
    let answer = match parse_json(input).and_then(|v| evaluate(&v, Host::default())) {
        Ok(report) => serde_json::to_vec(&report),
        Err(e) => serde_json::to_vec(&e.to_answer()),
    };
    answer.unwrap_or_else(|_| b"{\"allowed\":false}".to_vec())
}

/// Validates settings; the error names the offending key.
pub fn validate_settings(settings: &Value) -> Result<Policy, Error> {
    Policy::from_settings(Some(settings))
}

/// The catalogue as JSON: every rule's declaration and its default actions.
pub fn catalogue() -> Value {
    let rules: Vec<Value> = rules::RULES
        .iter()
        .map(|r| {
            let meta = r.meta();
            let mut v = serde_json::to_value(meta).unwrap_or(Value::Null);
            if let Some(m) = v.as_object_mut() {
                let defaults: serde_json::Map<String, Value> = settings::PROFILES
                    .iter()
                    .map(|(n, _)| {
                        (
                            (*n).to_string(),
                            Value::String(docs::default_action(n, meta.id)),
                        )
                    })
                    .collect();
                m.insert("defaultAction".into(), Value::Object(defaults));
                m.insert("doc".into(), Value::String(docs::doc_path(meta.id)));
            }
            v
        })
        .collect();
    serde_json::json!({"version": env!("CARGO_PKG_VERSION"), "rules": rules})
}
