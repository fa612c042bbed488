//! What a rule is: its declaration (id, severity, doc…) and its logic.

use crate::cluster::{ApiKind, Lookup};
use crate::error::Error;
use crate::object::Object;
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Exposure,
    Ingress,
    Access,
    Network,
    ControlPlane,
    Versions,
}

impl Category {
    pub fn title(self) -> &'static str {
        match self {
            Category::Exposure => "Exposure",
            Category::Ingress => "Ingress",
            Category::Access => "Access",
            Category::Network => "Network",
            Category::ControlPlane => "Control plane",
            Category::Versions => "Versions",
        }
    }
}

/// Whether the rule reads one object, or the whole bundle/inventory too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    Object,
    /// Reads other objects of the bundle or the inventory as well.
    Bundle,
}

/// One parameter a rule accepts, for docs and the settings schema.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ParamDoc {
    pub name: &'static str,
    /// `bool`, `string list`, `CIDR list`, `port ranges`…
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

/// Long doc text of a rule: kept in native builds (CLI, docs), left out of the
/// wasm modules unless they ask for the `docs` feature, since it would be
/// most of their data section.
#[macro_export]
macro_rules! doc_text {
    ($text:expr) => {
        if cfg!(feature = "docs") {
            $text
        } else {
            ""
        }
    };
}

/// A rule's reference links, kept or left out like `doc_text!`.
#[macro_export]
macro_rules! doc_refs {
    ($refs:expr) => {{
        const REFS: &[&str] = if cfg!(feature = "docs") { $refs } else { &[] };
        REFS
    }};
}

fn is_empty(s: &&str) -> bool {
    s.is_empty()
}

/// A rule's declaration: everything users and docs see.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RuleMeta {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub category: Category,
    /// Kinds the rule reads, as `group/Kind` (`Service`, `networking.k8s.io/Ingress`).
    pub kinds: &'static [&'static str],
    /// First portcullis version with this rule.
    pub since: &'static str,
    pub scope: Scope,
    pub params: &'static [ParamDoc],
    /// What it checks.
    #[serde(skip_serializing_if = "is_empty")]
    pub what: &'static str,
    /// Why it matters.
    #[serde(skip_serializing_if = "is_empty")]
    pub why: &'static str,
    /// A denied example (YAML).
    #[serde(skip_serializing_if = "is_empty")]
    pub denied: &'static str,
    /// An allowed example (YAML).
    #[serde(skip_serializing_if = "is_empty")]
    pub allowed: &'static str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub references: &'static [&'static str],
}

/// One problem a rule found in one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// JSON Pointer into the object.
    pub path: String,
    /// What is wrong, why it matters, and what to do.
    pub message: String,
    pub fix: Option<Vec<Value>>,
    /// What caused the finding, which the ratchet compares between an
    /// UPDATE's old and new object. None: the value at `path`.
    pub evidence: Option<String>,
}

impl Hit {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Hit {
        Hit {
            path: path.into(),
            message: message.into(),
            fix: None,
            evidence: None,
        }
    }

    pub fn fix(mut self, patch: Vec<Value>) -> Hit {
        self.fix = Some(patch);
        self
    }

    /// Names what caused the finding when the value at its path says more
    /// (`/spec` for an Ingress without TLS: the cause is `/spec/tls`, and a
    /// backend port edited beside it is no new cause).
    pub fn evidence(mut self, key: impl Into<String>) -> Hit {
        self.evidence = Some(key.into());
        self
    }

    /// The evidence is what the object holds at these pointers.
    pub fn evidence_at(self, obj: &Object<'_>, pointers: &[&str]) -> Hit {
        let key = pointers
            .iter()
            .map(|p| evidence_of(obj, p))
            .collect::<Vec<_>>()
            .join("\n");
        self.evidence(key)
    }

    /// The finding's identity in `obj` for the ratchet: its evidence, or the
    /// value at its path. Positions in lists are left out (an argument or a
    /// port that moved because another was inserted before it is the same);
    /// the value says which item it is.
    pub fn identity(&self, obj: &Object<'_>) -> String {
        match &self.evidence {
            Some(key) => key.clone(),
            None => evidence_of(obj, &self.path),
        }
    }
}

/// `pointer` with list positions as `*`, and the value there.
fn evidence_of(obj: &Object<'_>, pointer: &str) -> String {
    let mut key = String::with_capacity(pointer.len() + 16);
    let mut at: Option<&Value> = Some(obj.raw);
    for token in pointer.split('/').skip(1) {
        key.push('/');
        match at {
            Some(Value::Array(items)) => {
                key.push('*');
                at = token.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            Some(Value::Object(map)) => {
                key.push_str(token);
                at = map.get(&token.replace("~1", "/").replace("~0", "~"));
            }
            _ => {
                key.push_str(token);
                at = None;
            }
        }
    }
    key.push('=');
    match at {
        Some(v) => key.push_str(&v.to_string()),
        None => key.push_str("(absent)"),
    }
    key
}

/// A rule's logic with its parameters already read.
pub trait Check: Send + Sync {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>);

    /// The cluster objects `check` would read for `obj`, for hosts that can
    /// fetch them from a live cluster (Kubewarden's context-aware policies).
    /// Asked again after each answer, so a rule may ask for more once it
    /// knows more (the producers of a Secret only once the Secret is absent).
    /// Every object a rule reads from the cluster must be declared here, of
    /// a kind listed in `Rule::cluster_reads`: what it does not ask for, a
    /// host does not fetch.
    fn needs(&self, _obj: &Object<'_>, _cx: &Context<'_>, _out: &mut Vec<Lookup>) {}
}

/// A rule: its declaration, and how to configure its check from settings.
pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;

    /// Reads the rule's parameters. Every key must be consumed: the caller
    /// reports the ones left over as unknown.
    fn configure(&self, params: &mut Params<'_>) -> Result<Box<dyn Check>, Error>;

    /// Kinds the rule may look up in a live cluster (its `Check::needs`):
    /// what a context-aware host must be allowed to read for it.
    fn cluster_reads(&self) -> &'static [&'static ApiKind] {
        &[]
    }
}

/// For rules without parameters: the rule value is its own check.
/// `reads: LIST` names the kinds its `Check::needs` looks up in a cluster.
#[macro_export]
macro_rules! plain_rule {
    ($ty:ty, $meta:expr, reads: $reads:expr) => {
        impl $crate::rule::Rule for $ty {
            fn meta(&self) -> &'static $crate::rule::RuleMeta {
                &$meta
            }
            fn configure(
                &self,
                _params: &mut $crate::params::Params<'_>,
            ) -> Result<Box<dyn $crate::rule::Check>, $crate::error::Error> {
                Ok(Box::new(<$ty>::default()))
            }
            fn cluster_reads(&self) -> &'static [&'static $crate::cluster::ApiKind] {
                $reads
            }
        }
    };
    ($ty:ty, $meta:expr) => {
        $crate::plain_rule!($ty, $meta, reads: &[]);
    };
}
