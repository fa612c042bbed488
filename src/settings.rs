//! Settings: one object for every host (Gatekeeper `parameters`, Kubewarden
//! `settings`, the native envelope's `settings`), compiled once into a `Policy`.

use crate::error::{did_you_mean, Error};
use crate::glob::Glob;
use crate::object::{type_name, Object};
use crate::params::Params;
use crate::report::{Action, ActionSet};
use crate::rule::{Check, Rule};
use crate::rules::RULES;
use serde_json::{Map, Value};

pub const SETTINGS_KEYS: &[&str] = &[
    "profile",
    "mode",
    "kubernetesVersion",
    "rules",
    "exemptions",
    "exemptionAnnotations",
    "mutate",
    "violationActions",
    "allowInputSettings",
    "clusterContext",
];

/// The key by which a host lets the checked input carry settings of its own
/// (see `crate::evaluate`). Only the host's own settings may set it.
pub const ALLOW_INPUT_SETTINGS: &str = "allowInputSettings";

/// Profiles are data (policies/profiles/), embedded at build time.
pub const PROFILES: &[(&str, &str)] = &[
    (
        "baseline",
        include_str!("../policies/profiles/baseline.json"),
    ),
    ("strict", include_str!("../policies/profiles/strict.json")),
];

pub const DEFAULT_PROFILE: &str = "baseline";

/// Per-object exemption annotation (opt in with `exemptionAnnotations: true`).
/// Value: `rule-id[,rule-id…]: reason` or `*: reason`.
pub const EXEMPT_ANNOTATION: &str = "portcullis.dev/exempt";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    /// Report everything, allow everything.
    Audit,
}

pub struct Configured {
    pub rule: &'static dyn Rule,
    pub action: Action,
    pub check: Box<dyn Check>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exemption {
    /// None: every rule.
    pub rules: Option<Vec<String>>,
    pub namespaces: Vec<Glob>,
    pub names: Vec<Glob>,
    pub kinds: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub reason: String,
}

impl Exemption {
    pub fn matches(&self, rule: &str, obj: &Object<'_>) -> bool {
        let rule_ok = self
            .rules
            .as_ref()
            .is_none_or(|r| r.iter().any(|id| id == rule));
        let ns_ok = self.namespaces.is_empty()
            || self
                .namespaces
                .iter()
                .any(|p| p.matches(obj.namespace.unwrap_or_default()));
        let name_ok = self.names.is_empty() || self.names.iter().any(|p| p.matches(obj.name));
        let kind_ok = self.kinds.is_empty() || self.kinds.iter().any(|k| k == obj.kind);
        let labels_ok = self
            .labels
            .iter()
            .all(|(k, v)| obj.label(k).is_some_and(|have| v == "*" || have == v));
        rule_ok && ns_ok && name_ok && kind_ok && labels_ok
    }
}

/// What a host that reads the live cluster (Kubewarden) does for the rules
/// that need other objects (`clusterContext`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClusterContext {
    /// Read what the rules need; a rule the cluster could not answer for is
    /// "not checked", reported as a warning (the default).
    #[default]
    FailOpen,
    /// The same, but a rule set to `deny` that could not be checked denies.
    FailClosed,
    /// Never read the cluster: the rules see only the request, as in a
    /// namespaced Kubewarden AdmissionPolicy, which gets no cluster access.
    Off,
}

impl ClusterContext {
    pub const VALUES: &'static [&'static str] = &["fail-open", "fail-closed", "off"];

    pub fn as_str(self) -> &'static str {
        match self {
            ClusterContext::FailOpen => "fail-open",
            ClusterContext::FailClosed => "fail-closed",
            ClusterContext::Off => "off",
        }
    }
}

/// Settings compiled: one configured check per rule, exemptions, mode.
pub struct Policy {
    pub profile: String,
    pub mode: Mode,
    /// `(major, minor)` target for the api-version rules; None: newest known.
    pub kubernetes_version: Option<(u32, u32)>,
    pub rules: Vec<Configured>,
    pub exemptions: Vec<Exemption>,
    pub exemption_annotations: bool,
    /// Hosts that can mutate apply the fixes instead of denying.
    pub mutate: bool,
    /// Hosts that read the live cluster: whether, and how missing context fails.
    pub cluster_context: ClusterContext,
    /// Which actions a violation-list host (Gatekeeper's convention) lists.
    pub violation_actions: ActionSet,
    /// Whether settings carried inside the checked input are honoured.
    pub allow_input_settings: bool,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("profile", &self.profile)
            .field("mode", &self.mode)
            .field(
                "rules",
                &self
                    .rules
                    .iter()
                    .map(|c| (c.rule.meta().id, c.action))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Policy {
    /// The default policy: the baseline profile.
    pub fn baseline() -> Result<Policy, Error> {
        Policy::from_settings(None)
    }

    pub fn action_of(&self, id: &str) -> Option<Action> {
        self.rules
            .iter()
            .find(|c| c.rule.meta().id == id)
            .map(|c| c.action)
    }

    /// Validates and compiles settings. `None` or `null` or `{}`: the baseline.
    pub fn from_settings(settings: Option<&Value>) -> Result<Policy, Error> {
        let empty = Map::new();
        let map = match settings {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(Error::settings(
                    "(settings)",
                    format!("expected an object, found {}", type_name(other)),
                ))
            }
        };
        if let Some(k) = map.keys().find(|k| !SETTINGS_KEYS.contains(&k.as_str())) {
            return Err(Error::settings(
                k.clone(),
                format!(
                    "unknown key{}; accepted: {}",
                    did_you_mean(k, SETTINGS_KEYS.iter().copied()),
                    SETTINGS_KEYS.join(", ")
                ),
            ));
        }
        let profile = match map.get("profile") {
            None | Some(Value::Null) => DEFAULT_PROFILE.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(Error::settings(
                    "profile",
                    format!("expected a profile name, found {}", type_name(other)),
                ))
            }
        };
        let profile_rules = profile_rules(&profile)?;
        let mode = match map.get("mode") {
            None | Some(Value::Null) => Mode::Enforce,
            Some(Value::String(s)) if s == "enforce" => Mode::Enforce,
            Some(Value::String(s)) if s == "audit" => Mode::Audit,
            Some(other) => {
                return Err(Error::settings(
                    "mode",
                    format!("expected `enforce` or `audit`, found {other}"),
                ))
            }
        };
        let kubernetes_version = match map.get("kubernetesVersion") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_version(s).ok_or_else(|| {
                Error::settings(
                    "kubernetesVersion",
                    format!("`{s}` is not a Kubernetes version like \"1.34\""),
                )
            })?),
            Some(Value::Number(n)) => {
                return Err(Error::settings(
                    "kubernetesVersion",
                    format!("found the number {n}: quote the version (\"1.30\"), since 1.30 as a number reads as 1.3"),
                ))
            }
            Some(other) => {
                return Err(Error::settings(
                    "kubernetesVersion",
                    format!("expected a version string like \"1.34\", found {}", type_name(other)),
                ))
            }
        };
        let exemption_annotations = bool_key(map, "exemptionAnnotations")?;
        let mutate = bool_key(map, "mutate")?;
        let cluster_context = match map.get("clusterContext") {
            None | Some(Value::Null) => ClusterContext::default(),
            Some(Value::String(s)) if s == "fail-open" => ClusterContext::FailOpen,
            Some(Value::String(s)) if s == "fail-closed" => ClusterContext::FailClosed,
            Some(Value::String(s)) if s == "off" => ClusterContext::Off,
            Some(other) => {
                let found = match other {
                    Value::String(s) => format!(
                        "`{s}`{}",
                        did_you_mean(s, ClusterContext::VALUES.iter().copied())
                    ),
                    // Kubernetes reads manifests as YAML 1.1, where a bare off is false
                    Value::Bool(false) => {
                        "false (an unquoted off in YAML 1.1: write \"off\")".to_string()
                    }
                    other => type_name(other).to_string(),
                };
                return Err(Error::settings(
                    "clusterContext",
                    format!("expected fail-open, fail-closed or off, found {found}"),
                ));
            }
        };
        let allow_input_settings = bool_key(map, ALLOW_INPUT_SETTINGS)?;
        let violation_actions = violation_actions(map.get("violationActions"))?;
        let user_rules = match map.get("rules") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                return Err(Error::settings(
                    "rules",
                    format!(
                        "expected a map of rule id to action or parameters, found {}",
                        type_name(other)
                    ),
                ))
            }
        };
        if let Some(user) = user_rules {
            for id in user.keys() {
                if !RULES.iter().any(|r| r.meta().id == id) {
                    return Err(Error::settings(
                        format!("rules.{id}"),
                        format!(
                            "unknown rule id{}; `portcullis rules` lists them",
                            did_you_mean(id, RULES.iter().map(|r| r.meta().id))
                        ),
                    ));
                }
            }
        }
        let mut rules = Vec::with_capacity(RULES.len());
        for rule in RULES {
            let id = rule.meta().id;
            let (mut action, mut params) = match profile_rules.get(id) {
                Some(entry) => split_entry(&format!("profile {profile}: rules.{id}"), entry)?,
                None => (Action::Off, Map::new()),
            };
            if let Some(entry) = user_rules.and_then(|u| u.get(id)) {
                let (user_action, user_params) = split_entry(&format!("rules.{id}"), entry)?;
                if !(entry.is_object() && entry.get("action").is_none()) {
                    action = user_action;
                }
                // the user's keys replace the profile's, key by key
                params.extend(user_params);
            }
            let mut p = Params::new(format!("rules.{id}"), params);
            let check = rule.configure(&mut p)?;
            p.finish()?;
            rules.push(Configured {
                rule: *rule,
                action,
                check,
            });
        }
        let exemptions = match map.get("exemptions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, e)| parse_exemption(i, e))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(Error::settings(
                    "exemptions",
                    format!("expected a list, found {}", type_name(other)),
                ))
            }
        };
        Ok(Policy {
            profile,
            mode,
            kubernetes_version,
            rules,
            exemptions,
            exemption_annotations,
            mutate,
            cluster_context,
            violation_actions,
            allow_input_settings,
        })
    }
}

/// `violationActions: [deny]` (the default), `[warn]` or `[deny, warn]`.
fn violation_actions(v: Option<&Value>) -> Result<ActionSet, Error> {
    let key = "violationActions";
    let items = match v {
        None | Some(Value::Null) => return Ok(ActionSet::DENY),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(Error::settings(
                key,
                format!(
                    "expected a list of actions (deny, warn), found {}",
                    type_name(other)
                ),
            ))
        }
    };
    let mut set = ActionSet {
        deny: false,
        warn: false,
    };
    for (i, item) in items.iter().enumerate() {
        match item.as_str().and_then(Action::parse) {
            Some(Action::Deny) => set.deny = true,
            Some(Action::Warn) => set.warn = true,
            _ => {
                return Err(Error::settings(
                    format!("{key}[{i}]"),
                    format!("expected deny or warn, found {item}"),
                ))
            }
        }
    }
    if !set.deny && !set.warn {
        return Err(Error::settings(
            key,
            "lists no action, so the violation list would always be empty: name deny, warn or both",
        ));
    }
    Ok(set)
}

fn bool_key(map: &Map<String, Value>, key: &str) -> Result<bool, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(Error::settings(
            key,
            format!("expected true or false, found {}", type_name(other)),
        )),
    }
}

/// `1.34`, `v1.34`, `1.34.2` -> (1, 34).
pub fn parse_version(s: &str) -> Option<(u32, u32)> {
    let s = s.trim().trim_start_matches('v');
    let mut parts = s.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    match parts.next() {
        None => Some((major, minor)),
        Some(patch) if patch.parse::<u32>().is_ok() && parts.next().is_none() => {
            Some((major, minor))
        }
        Some(_) => None,
    }
}

/// The `rules` map of a named profile. Parsed on every compile: hosts that
/// keep compiled policies (a `PolicyCache`) compile rarely, and a static copy
/// would dangle in the OPA module, whose hosts reset its heap between calls.
pub fn profile_rules(name: &str) -> Result<Map<String, Value>, Error> {
    let Some((_, text)) = PROFILES.iter().find(|(n, _)| *n == name) else {
        return Err(Error::settings(
            "profile",
            format!(
                "unknown profile `{name}`{}; accepted: {}",
                did_you_mean(name, PROFILES.iter().map(|(n, _)| *n)),
                PROFILES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    parse_profile(text).map_err(|e| Error::settings("profile", format!("profile `{name}` {e}")))
}

fn parse_profile(text: &str) -> Result<Map<String, Value>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("is corrupt: {e}"))?;
    match doc.get("rules") {
        Some(Value::Object(m)) => Ok(m.clone()),
        _ => Err("has no rules map".to_string()),
    }
}

/// A rule entry is `deny|warn|off` or `{action?, …parameters}`.
fn split_entry(key: &str, entry: &Value) -> Result<(Action, Map<String, Value>), Error> {
    match entry {
        Value::String(s) => Action::parse(s).map(|a| (a, Map::new())).ok_or_else(|| {
            Error::settings(
                key,
                format!("`{s}` is not an action: use deny, warn or off"),
            )
        }),
        Value::Object(m) => {
            let mut params = m.clone();
            let action = match params.remove("action") {
                None | Some(Value::Null) => Action::Deny,
                Some(Value::String(s)) => Action::parse(&s).ok_or_else(|| {
                    Error::settings(
                        format!("{key}.action"),
                        format!("`{s}` is not an action: use deny, warn or off"),
                    )
                })?,
                Some(other) => {
                    return Err(Error::settings(
                        format!("{key}.action"),
                        format!("expected deny, warn or off, found {}", type_name(&other)),
                    ))
                }
            };
            Ok((action, params))
        }
        Value::Bool(false) => Ok((Action::Off, Map::new())),
        other => Err(Error::settings(
            key,
            format!(
                "expected deny, warn, off or an object of parameters, found {}",
                type_name(other)
            ),
        )),
    }
}

const EXEMPTION_KEYS: &[&str] = &["rules", "namespaces", "names", "kinds", "labels", "reason"];

fn parse_exemption(i: usize, e: &Value) -> Result<Exemption, Error> {
    let key = |k: &str| format!("exemptions[{i}].{k}");
    let Value::Object(m) = e else {
        return Err(Error::settings(
            format!("exemptions[{i}]"),
            format!("expected an object, found {}", type_name(e)),
        ));
    };
    if let Some(k) = m.keys().find(|k| !EXEMPTION_KEYS.contains(&k.as_str())) {
        return Err(Error::settings(
            key(k),
            format!(
                "unknown key{}; accepted: {}",
                did_you_mean(k, EXEMPTION_KEYS.iter().copied()),
                EXEMPTION_KEYS.join(", ")
            ),
        ));
    }
    let list = |k: &str| -> Result<Vec<String>, Error> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        Error::settings(format!("{}[{j}]", key(k)), "expected a string")
                    })
                })
                .collect(),
            Some(other) => Err(Error::settings(
                key(k),
                format!("expected a list of strings, found {}", type_name(other)),
            )),
        }
    };
    let rules = match m.get("rules") {
        None | Some(Value::Null) => None,
        Some(_) => {
            let ids = list("rules")?;
            for (j, id) in ids.iter().enumerate() {
                if !RULES.iter().any(|r| r.meta().id == id) {
                    return Err(Error::settings(
                        format!("{}[{j}]", key("rules")),
                        format!(
                            "unknown rule id `{id}`{}",
                            did_you_mean(id, RULES.iter().map(|r| r.meta().id))
                        ),
                    ));
                }
            }
            Some(ids)
        }
    };
    let labels = match m.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(l)) => l
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(Error::settings(
                    format!("{}.{k}", key("labels")),
                    "expected a string value",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(Error::settings(
                key("labels"),
                format!(
                    "expected a map of label to value, found {}",
                    type_name(other)
                ),
            ))
        }
    };
    let reason = match m.get("reason") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(Error::settings(
                key("reason"),
                "every exemption needs a reason, so reviewers know why it exists",
            ))
        }
    };
    let ex = Exemption {
        rules,
        namespaces: list("namespaces")?.iter().map(|g| Glob::new(g)).collect(),
        names: list("names")?.iter().map(|g| Glob::new(g)).collect(),
        kinds: list("kinds")?,
        labels,
        reason,
    };
    if ex.rules.is_none()
        && ex.namespaces.is_empty()
        && ex.names.is_empty()
        && ex.kinds.is_empty()
        && ex.labels.is_empty()
    {
        return Err(Error::settings(
            format!("exemptions[{i}]"),
            "matches everything: name at least one of rules, namespaces, names, kinds or labels",
        ));
    }
    Ok(ex)
}

/// Reads the exemption annotation of an object: Ok(Some(reason)) when it
/// exempts `rule`, Err(message) when it is malformed.
pub fn annotation_exemption(obj: &Object<'_>, rule: &str) -> Result<Option<String>, String> {
    let Some(value) = obj.annotation(EXEMPT_ANNOTATION) else {
        return Ok(None);
    };
    let Some((ids, reason)) = value.split_once(':') else {
        return Err(format!(
            "the {EXEMPT_ANNOTATION} annotation needs the form `rule-id[,rule-id]: reason`"
        ));
    };
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(format!(
            "the {EXEMPT_ANNOTATION} annotation gives no reason"
        ));
    }
    let hit = ids
        .split(',')
        .map(str::trim)
        .any(|id| id == rule || id == "*");
    Ok(hit.then(|| reason.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("1.34"), Some((1, 34)));
        assert_eq!(parse_version("v1.29.3"), Some((1, 29)));
        assert_eq!(parse_version("1"), None);
        assert_eq!(parse_version("1.x"), None);
    }
}
