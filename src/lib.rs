//! portcullis: Kubernetes exposure and access rules, written once, run in
//! every policy host. This crate is the host-agnostic core: input shapes,
//! settings, rules and the report. Bindings translate at the edges.

#[cfg(feature = "yaml")]
#[doc(hidden)]
pub mod cases;
pub mod cluster;
pub mod crds;
pub mod docs;
pub mod engine;
pub mod envelope;
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
#[cfg(feature = "yaml")]
pub mod yamlfix;

pub use error::Error;
pub use report::{Action, Finding, ObjectRef, Report, Severity};
pub use review::{detect, Review, Shape};
pub use settings::Policy;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use settings::ALLOW_INPUT_SETTINGS;
use std::sync::{Arc, Mutex, PoisonError};

/// What a host supplies beside the input.
///
/// `settings` is the host's own settings channel: OPA data, the CLI's
/// `--settings` and flags, the `settings` argument of the JavaScript API.
/// `None` means the host has no channel but the input itself, as the generic
/// ABI (whose envelope is its only channel) and Kubewarden (whose
/// `{request, settings}` payload the policy server writes) have: then the
/// input's `settings` or `parameters` are the host's settings.
///
/// When the host has its own settings, they are the base; Gatekeeper's
/// `parameters` (a constraint: the operator's configuration) override them
/// key by key, and settings anywhere else in the input are an error naming
/// where they were found, unless the host's settings set
/// `allowInputSettings: true`. Invalid host settings are reported whatever
/// the input carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Host<'a> {
    pub settings: Option<&'a Value>,
    pub inventory: Option<&'a Value>,
}

/// Parses JSON bytes with errors that say where.
pub fn parse_json(input: &[u8]) -> Result<Value, Error> {
    let input = envelope::json_text(input)?;
    serde_json::from_slice(input).map_err(|e| Error::from_json(&e))
}

/// Evaluates any accepted input shape as a host's call (see [`Host`]),
/// compiling the settings for this call alone.
pub fn evaluate(input: &Value, host: Host<'_>) -> Result<Report, Error> {
    run(input, host, Channel::of(host), None)
}

/// Evaluates a document of checked content (a file of a CLI run, a
/// document of `checkYaml`): every settings member it carries, Gatekeeper's
/// `parameters` included, is content and so an error naming where it was
/// found, unless the host's settings set `allowInputSettings: true`.
pub fn evaluate_document(document: &Value, host: Host<'_>) -> Result<Report, Error> {
    run(document, host, Channel::Content, None)
}

/// Evaluates under a policy the host compiled (with [`PolicyCache::compile`]
/// or [`Policy::from_settings`]): the host decided the settings, so settings
/// carried inside the input are an error naming where they were found.
pub fn evaluate_with(
    input: &Value,
    policy: &Policy,
    inventory: Option<&Value>,
) -> Result<Report, Error> {
    let mut review = detect(input)?;
    if review.settings.is_some_and(|s| !is_empty_settings(s)) {
        let member = if review.shape == Shape::Gatekeeper {
            "parameters"
        } else {
            "settings"
        };
        return Err(Error::InputSettings {
            path: format!("/{member}"),
        });
    }
    if let Some(inv) = inventory {
        if review.inventory.is_empty() {
            review.inventory = review::inventory(inv)?;
        }
    }
    Ok(engine::run(&review, policy))
}

/// The generic JSON entry point without a cache: bytes in, the JSON answer
/// out. Never fails.
pub fn evaluate_bytes(input: &[u8]) -> Value {
    answer_value(parse_json(input).and_then(|v| evaluate(&v, Host::default())))
}

/// `evaluate_bytes` serialised, without building the answer as a `Value`
/// first (a quarter of a small request's cost). Keys keep the report's field
/// order instead of `Value`'s sorted order; the JSON is the same.
pub fn evaluate_to_json(input: &[u8]) -> Vec<u8> {
    answer_json(parse_json(input).and_then(|v| evaluate(&v, Host::default())))
}

fn answer_value(result: Result<Report, Error>) -> Value {
    match result {
        Ok(report) => report.to_value(),
        Err(e) => e.to_answer(),
    }
}

fn answer_json(result: Result<Report, Error>) -> Vec<u8> {
    let answer = match result {
        Ok(report) => serde_json::to_vec(&report),
        Err(e) => serde_json::to_vec(&e.to_answer()),
    };
    answer.unwrap_or_else(|_| b"{\"allowed\":false}".to_vec())
}

/// Who may set the settings of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    /// The input is the host's own call: its settings are the host's.
    Input,
    /// The host has settings of its own; the input may add Gatekeeper
    /// parameters, and any other settings only with the host's consent.
    Host,
    /// The input is content being checked: any settings in it need consent.
    Content,
}

impl Channel {
    fn of(host: Host<'_>) -> Channel {
        if host.settings.is_some() {
            Channel::Host
        } else {
            Channel::Input
        }
    }
}

fn run(
    input: &Value,
    host: Host<'_>,
    channel: Channel,
    cache: Option<&PolicyCache>,
) -> Result<Report, Error> {
    let mut review = detect(input)?;
    let (base, over) = settings_sources(&review, host, channel)?;
    let compiled;
    let cached;
    let policy: &Policy = match cache {
        Some(cache) => {
            cached = cache.policy(base, over)?;
            &cached
        }
        None => {
            compiled = compile(base, over)?;
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

/// Settings that say nothing: absent, `null` or `{}`.
fn is_empty_settings(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// The settings of one evaluation: the base, and what overrides it key by key.
fn settings_sources<'a>(
    review: &Review<'a>,
    host: Host<'a>,
    channel: Channel,
) -> Result<(Option<&'a Value>, Option<&'a Value>), Error> {
    let carried = review.settings.filter(|s| !is_empty_settings(s));
    if channel == Channel::Input {
        return Ok((carried, None));
    }
    let base = host.settings.filter(|s| !is_empty_settings(s));
    let Some(carried) = carried else {
        return Ok((base, None));
    };
    let member = if review.shape == Shape::Gatekeeper {
        "parameters"
    } else {
        "settings"
    };
    let consented = base
        .and_then(|b| b.get(ALLOW_INPUT_SETTINGS))
        .is_some_and(|v| v == &Value::Bool(true));
    let host_parameters = channel == Channel::Host && review.shape == Shape::Gatekeeper;
    if !(host_parameters || consented) {
        return Err(Error::InputSettings {
            path: format!("/{member}"),
        });
    }
    if !carried.is_object() {
        return Err(Error::settings(
            member,
            format!(
                "expected an object of settings, found {}",
                object::type_name(carried)
            ),
        ));
    }
    if carried.get(ALLOW_INPUT_SETTINGS).is_some() {
        return Err(Error::settings(
            format!("{member}.{ALLOW_INPUT_SETTINGS}"),
            "only the host's own settings can allow settings in the input",
        ));
    }
    Ok((base, Some(carried)))
}

/// Compiles the base settings, with `over` applied key by key. Invalid base
/// settings are an error even when `over` replaces the offending keys: a
/// host's settings mistake must not hide behind the input's.
fn compile(base: Option<&Value>, over: Option<&Value>) -> Result<Policy, Error> {
    let Some(over) = over else {
        return Policy::from_settings(base);
    };
    if base.is_some() {
        Policy::from_settings(base)?;
    }
    Policy::from_settings(Some(&merge(base, over)))
}

/// `over` on top of `base`: each top-level key replaces the base's, except
/// `rules`, where each rule's entry replaces the base's entry for that rule.
/// A `null` value changes nothing.
fn merge(base: Option<&Value>, over: &Value) -> Value {
    let mut out: Map<String, Value> = base.and_then(Value::as_object).cloned().unwrap_or_default();
    for (key, value) in over.as_object().into_iter().flatten() {
        if value.is_null() {
            continue;
        }
        if let (Some(Value::Object(into)), Value::Object(rules)) =
            (out.get_mut("rules").filter(|_| key == "rules"), value)
        {
            for (id, entry) in rules.iter().filter(|(_, e)| !e.is_null()) {
                into.insert(id.clone(), entry.clone());
            }
            continue;
        }
        out.insert(key.clone(), value.clone());
    }
    Value::Object(out)
}

/// Compiled policies kept between calls, keyed by the settings they were
/// compiled from: hosts that send settings with every request (Gatekeeper
/// parameters, Kubewarden settings, the generic envelope) would otherwise
/// read the profile and configure every rule on every call, which costs more
/// than the rules. Each binding chooses to keep one (a `static`) or not: the
/// OPA module cannot, since its hosts reset its heap between evaluations and
/// a kept policy would dangle.
pub struct PolicyCache {
    entries: Mutex<Vec<Cached>>,
}

struct Cached {
    base: Option<Value>,
    over: Option<Value>,
    /// The JSON text these settings last came in, when a host gave them as
    /// text ([`PolicyCache::compile_text`]): compared byte for byte, so the
    /// next request with the same text parses nothing.
    text: Option<Box<str>>,
    policy: Arc<Policy>,
}

/// Distinct settings kept at once: a host serving a deny and a warn
/// constraint alternates between two; more is a host with many policies.
const CACHED_POLICIES: usize = 8;

impl Default for PolicyCache {
    fn default() -> Self {
        PolicyCache::new()
    }
}

impl PolicyCache {
    pub const fn new() -> PolicyCache {
        PolicyCache {
            entries: Mutex::new(Vec::new()),
        }
    }

    /// `evaluate`, with the compiled policy taken from or kept in the cache.
    pub fn evaluate(&self, input: &Value, host: Host<'_>) -> Result<Report, Error> {
        run(input, host, Channel::of(host), Some(self))
    }

    /// `evaluate_document`, with the compiled policy taken from or kept in the cache.
    pub fn evaluate_document(&self, document: &Value, host: Host<'_>) -> Result<Report, Error> {
        run(document, host, Channel::Content, Some(self))
    }

    /// The compiled policy for these settings, from the cache or compiled
    /// and kept (for [`evaluate_with`]).
    pub fn compile(&self, settings: Option<&Value>) -> Result<Arc<Policy>, Error> {
        self.policy(settings.filter(|s| !is_empty_settings(s)), None)
    }

    /// The compiled policy for settings given as JSON text (an envelope's
    /// settings member, see [`envelope::parse`]): a text seen before finds
    /// its policy by comparing bytes, without being parsed, so settings sent
    /// with every request cost a comparison.
    pub fn compile_text(&self, settings: Option<&RawValue>) -> Result<Arc<Policy>, Error> {
        let Some(text) = settings.map(RawValue::get) else {
            return self.policy(None, None);
        };
        {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            let hit = entries.iter().position(|c| c.text.as_deref() == Some(text));
            if let Some(policy) = hit.and_then(|at| most_recent(&mut entries, at)) {
                return Ok(policy);
            }
        }
        let value: Value =
            serde_json::from_slice(text.as_bytes()).map_err(|e| Error::from_json(&e))?;
        let policy = self.compile(Some(&value))?;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = entries.iter_mut().find(|c| Arc::ptr_eq(&c.policy, &policy)) {
            c.text = Some(text.into());
        }
        Ok(policy)
    }

    /// `evaluate_bytes` through the cache.
    pub fn evaluate_bytes(&self, input: &[u8]) -> Value {
        answer_value(self.evaluate_text(input))
    }

    /// `evaluate_to_json` through the cache.
    pub fn evaluate_to_json(&self, input: &[u8]) -> Vec<u8> {
        answer_json(self.evaluate_text(input))
    }

    /// `evaluate` of JSON text as the host's own call (the generic ABI: the
    /// input's settings are the host's), with the settings member kept as
    /// text until the cache has not seen it.
    fn evaluate_text(&self, input: &[u8]) -> Result<Report, Error> {
        let envelope = envelope::parse(input)?;
        let review = detect(&envelope.value)?;
        let policy = self.compile_text(envelope.settings.map(|(_, text)| text))?;
        Ok(engine::run(&review, &policy))
    }

    /// The policy for these settings: compared by value, which is what
    /// comparing their bytes would say and costs less than serialising them.
    fn policy(&self, base: Option<&Value>, over: Option<&Value>) -> Result<Arc<Policy>, Error> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let hit = entries
            .iter()
            .position(|c| c.base.as_ref() == base && c.over.as_ref() == over);
        if let Some(policy) = hit.and_then(|at| most_recent(&mut entries, at)) {
            return Ok(policy);
        }
        let policy = Arc::new(compile(base, over)?);
        entries.truncate(CACHED_POLICIES - 1);
        entries.insert(
            0,
            Cached {
                base: base.cloned(),
                over: over.cloned(),
                text: None,
                policy: Arc::clone(&policy),
            },
        );
        Ok(policy)
    }
}

/// Moves the entry at `at` to the front, most recently used first, so the
/// cache keeps what hosts use; its policy.
fn most_recent(entries: &mut [Cached], at: usize) -> Option<Arc<Policy>> {
    entries.get_mut(..=at)?.rotate_right(1);
    entries.first().map(|c| Arc::clone(&c.policy))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests fail loudly by design

    use super::*;
    use serde_json::json;

    /// The same settings give the same compiled policy, not a new compile;
    /// the least recently used of more than the cache holds is dropped.
    #[test]
    fn a_cache_compiles_each_settings_once() {
        let cache = PolicyCache::new();
        let strict = json!({"profile": "strict"});
        let params = json!({"rules": {"service-type-nodeport": "warn"}});
        let first = cache.policy(Some(&strict), Some(&params)).unwrap();
        let again = cache.policy(Some(&strict), Some(&params)).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = cache.policy(Some(&strict), None).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        // fill the cache past its size while using `first`'s settings now and then
        for i in 0..CACHED_POLICIES * 2 {
            let s = json!({"kubernetesVersion": format!("1.{i}")});
            cache.policy(Some(&s), None).unwrap();
            if i % 3 == 0 {
                let kept = cache.policy(Some(&strict), Some(&params)).unwrap();
                assert!(Arc::ptr_eq(&first, &kept), "evicted while in use");
            }
        }
        assert!(cache.entries.lock().unwrap().len() <= CACHED_POLICIES);
        let replaced = cache.policy(Some(&strict), None).unwrap();
        assert!(
            !Arc::ptr_eq(&other, &replaced),
            "the least recently used went"
        );
        // errors are not kept
        let bad = json!({"profle": "strict"});
        assert!(cache.policy(Some(&bad), None).is_err());
        assert!(cache.policy(Some(&bad), None).is_err());
    }
}
