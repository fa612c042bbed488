//! The one output shape every host answer is translated from.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What a finding of a rule does to the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Deny,
    Warn,
    Off,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "deny" => Some(Action::Deny),
            "warn" => Some(Action::Warn),
            "off" => Some(Action::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Warn => "warn",
            Action::Off => "off",
        }
    }
}

/// A set of the actions a finding can have (`off` findings never exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionSet {
    pub deny: bool,
    pub warn: bool,
}

impl ActionSet {
    /// Gatekeeper's meaning of a violation: a denial.
    pub const DENY: ActionSet = ActionSet {
        deny: true,
        warn: false,
    };

    pub fn contains(self, action: Action) -> bool {
        match action {
            Action::Deny => self.deny,
            Action::Warn => self.warn,
            Action::Off => false,
        }
    }
}

impl Default for ActionSet {
    fn default() -> Self {
        ActionSet::DENY
    }
}

/// Which object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub action: Action,
    pub message: String,
    pub object: ObjectRef,
    /// JSON Pointer into the object.
    pub path: String,
    /// RFC 6902 patch, only where the fix is safe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Vec<Value>>,
    /// Index of the object in the reviewed input (the order objects were found in).
    #[serde(skip)]
    pub index: usize,
}

/// A finding that an exemption switched off, kept so audits can see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exempted {
    pub rule: &'static str,
    pub object: ObjectRef,
    pub path: String,
    pub reason: String,
}

/// Findings of one rule on one object beyond the listed ones: counted, not
/// listed (see `engine::FINDINGS_PER_RULE`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truncated {
    pub rule: &'static str,
    pub object: ObjectRef,
    /// `deny` or `warn`: denials and warnings are capped apart.
    pub action: Action,
    pub listed: usize,
    pub unlisted: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub objects: usize,
    pub denied: usize,
    pub warned: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub exempted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub allowed: bool,
    pub violations: Vec<Finding>,
    pub warnings: Vec<Finding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exempted: Vec<Exempted>,
    /// Rules and objects with more findings than are listed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<Truncated>,
    /// Counts every finding, listed or not.
    pub summary: Summary,
    /// The settings' `violationActions`: what a violation-list host lists.
    #[serde(skip)]
    pub violation_actions: ActionSet,
}

impl Report {
    /// Every finding, denials first.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.violations.iter().chain(self.warnings.iter())
    }

    /// The findings a host that reads one violation list (Gatekeeper's
    /// convention) reports: those whose action `violationActions` selects.
    /// A denial that audit mode did not enforce counts as a warning.
    pub fn violation_list(&self) -> impl Iterator<Item = &Finding> {
        let listed = self.violation_actions;
        let denials_as = if self.allowed {
            Action::Warn
        } else {
            Action::Deny
        };
        let denials: &[Finding] = if listed.contains(denials_as) {
            &self.violations
        } else {
            &[]
        };
        let warnings: &[Finding] = if listed.contains(Action::Warn) {
            &self.warnings
        } else {
            &[]
        };
        denials.iter().chain(warnings)
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}
