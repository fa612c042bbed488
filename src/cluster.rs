//! Context from a live cluster, for hosts that can read one (Kubewarden's
//! context-aware policies).
//!
//! The core stays host-agnostic: each rule declares what it would read for an
//! object (`Check::needs`), a host answers those lookups however it reaches
//! the cluster (Kubewarden: waPC host calls), and the answers become the
//! review's inventory and its `listed` set. A lookup the host refuses or
//! fails leaves the rules that needed it "not checked" for that object: a
//! visible warning, or a denial under `clusterContext: fail-closed`, never a
//! verdict reached on partial knowledge.

use crate::error::Error;
use crate::object::Object;
use crate::report::{Action, Report};
use crate::review::{self, Listed, Review, Unchecked};
use crate::rules::RULES;
use crate::settings::{ClusterContext, Policy};
use crate::{engine, Host};
use serde_json::Value;
use std::fmt;

/// A kind as a cluster serves it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiKind {
    pub group: &'static str,
    pub kind: &'static str,
    /// Versions to ask for, preferred first. Any served version answers for
    /// every object of the kind (the API server converts between them), so
    /// the next one is asked only when the cluster does not serve the
    /// previous one (an older install of the CRD).
    pub versions: &'static [&'static str],
}

impl ApiKind {
    /// `v1`, `networking.k8s.io/v1`: the apiVersion a host is asked for.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// Every apiVersion a host may be asked for: what a context-aware policy
    /// must be granted (Kubewarden's `contextAwareResources`).
    pub fn api_versions(&self) -> impl Iterator<Item = String> + '_ {
        self.versions.iter().map(|v| self.api_version(v))
    }

    /// `Secret`, `networking.k8s.io/Ingress`: as `RuleMeta::kinds` names kinds.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}/{}", self.group, self.kind)
        }
    }
}

/// The kinds the catalogue's rules look up in a cluster, shared by the rules
/// that read them.
pub static SECRET: ApiKind = ApiKind {
    group: "",
    kind: "Secret",
    versions: &["v1"],
};
pub static SERVICE_ACCOUNT: ApiKind = ApiKind {
    group: "",
    kind: "ServiceAccount",
    versions: &["v1"],
};
pub static INGRESS: ApiKind = ApiKind {
    group: "networking.k8s.io",
    kind: "Ingress",
    versions: &["v1"],
};
/// Cluster-scoped: read to know the default class of an Ingress without one.
pub static INGRESS_CLASS: ApiKind = ApiKind {
    group: "networking.k8s.io",
    kind: "IngressClass",
    versions: &["v1"],
};
pub static NETWORK_POLICY: ApiKind = ApiKind {
    group: "networking.k8s.io",
    kind: "NetworkPolicy",
    versions: &["v1"],
};
pub static CERTIFICATE: ApiKind = ApiKind {
    group: "cert-manager.io",
    kind: "Certificate",
    versions: &["v1"],
};
pub static SEALED_SECRET: ApiKind = ApiKind {
    group: "bitnami.com",
    kind: "SealedSecret",
    versions: &["v1alpha1"],
};
/// external-secrets serves v1 since 0.16 and v1beta1 before (and beside) it.
pub static EXTERNAL_SECRET: ApiKind = ApiKind {
    group: "external-secrets.io",
    kind: "ExternalSecret",
    versions: &["v1", "v1beta1"],
};

/// One thing a rule needs from the cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lookup {
    /// One namespaced object by name.
    Get {
        kind: &'static ApiKind,
        namespace: String,
        name: String,
    },
    /// Every object of the kind in one namespace.
    List {
        kind: &'static ApiKind,
        namespace: String,
    },
    /// Every object of the kind in the cluster.
    ListAll { kind: &'static ApiKind },
}

impl Lookup {
    pub fn get(kind: &'static ApiKind, namespace: &str, name: &str) -> Lookup {
        Lookup::Get {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    pub fn list(kind: &'static ApiKind, namespace: &str) -> Lookup {
        Lookup::List {
            kind,
            namespace: namespace.to_string(),
        }
    }

    pub fn list_all(kind: &'static ApiKind) -> Lookup {
        Lookup::ListAll { kind }
    }

    pub fn kind(&self) -> &'static ApiKind {
        match self {
            Lookup::Get { kind, .. } | Lookup::List { kind, .. } | Lookup::ListAll { kind } => kind,
        }
    }

    /// The namespace looked in; `None` for every namespace.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Lookup::Get { namespace, .. } | Lookup::List { namespace, .. } => Some(namespace),
            Lookup::ListAll { .. } => None,
        }
    }

    /// Whether an answer to `self` also answers `other`: a listing holds
    /// every lookup inside it.
    fn covers(&self, other: &Lookup) -> bool {
        if self.kind() != other.kind() {
            return false;
        }
        match (self, other) {
            (Lookup::ListAll { .. }, _) => true,
            (
                Lookup::List { namespace: a, .. },
                Lookup::List { namespace: b, .. } | Lookup::Get { namespace: b, .. },
            ) => a == b,
            _ => self == other,
        }
    }
}

impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind().qualified();
        match self {
            Lookup::Get {
                namespace, name, ..
            } => write!(f, "{kind} {namespace}/{name}"),
            Lookup::List { namespace, .. } => {
                write!(f, "the {kind} objects of namespace {namespace}")
            }
            Lookup::ListAll { .. } => write!(f, "the {kind} objects of every namespace"),
        }
    }
}

/// A host's answer to one lookup, asked at one apiVersion.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The object found (`Get`), or every object listed.
    Objects(Vec<Value>),
    /// `Get`: the cluster has no object of that name.
    NotFound,
    /// The cluster does not serve the kind at that apiVersion (its CRD is
    /// not installed, or not at that version).
    NotServed,
    /// The host refused or failed; the reason goes into the "not checked" finding.
    Failed(String),
}

/// Host calls one request may make. Each costs a round trip to the host
/// (and, past its cache, to the API server): an Ingress naming more TLS
/// Secrets than this leaves its Secret check "not checked" rather than
/// stalling the API server's admission chain.
pub const MAX_CALLS: usize = 32;

/// Rounds of lookups: a rule may ask for more once it knows more (a
/// Secret's producers only once the Secret is absent).
pub const MAX_ROUNDS: usize = 4;

/// What a host read from the cluster for one request.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// Every object the cluster returned, in the order it came.
    pub objects: Vec<Value>,
    /// Kinds read completely, per namespace.
    pub listed: Listed,
    /// Every lookup made, with the reason of those that failed.
    pub lookups: Vec<(Lookup, Option<String>)>,
    /// Host calls made (a kind with several versions may take more than one).
    pub calls: usize,
    /// For each object, the index in `lookups` of the lookup that returned it.
    origin: Vec<usize>,
}

impl Gathered {
    /// `Some(None)`: answered (by this lookup or one that covers it);
    /// `Some(Some(reason))`: failed; `None`: not asked.
    fn outcome(&self, wanted: &Lookup) -> Option<Option<&str>> {
        if self
            .lookups
            .iter()
            .any(|(l, failed)| failed.is_none() && l.covers(wanted))
        {
            return Some(None);
        }
        self.lookups
            .iter()
            .find(|(l, _)| l == wanted)
            .map(|(_, failed)| failed.as_deref())
    }

    fn failed(&mut self, lookup: Lookup, reason: String) {
        self.lookups.push((lookup, Some(reason)));
    }

    /// Records an answer: objects join the inventory, listings and absences
    /// join `listed`.
    fn record(&mut self, lookup: Lookup, answer: Answer, api_version: &str) {
        let kind = lookup.kind();
        match answer {
            Answer::Objects(items) => {
                let mut checked = Vec::with_capacity(items.len());
                let at = self.lookups.len();
                for mut item in items {
                    let Some(map) = item.as_object_mut() else {
                        return self.failed(
                            lookup,
                            format!(
                                "the answer holds a {}, not an object",
                                crate::object::type_name(&item)
                            ),
                        );
                    };
                    // the items of a list answer may leave out their apiVersion and kind
                    if !map.get("apiVersion").is_some_and(Value::is_string) {
                        map.insert("apiVersion".into(), Value::String(api_version.to_string()));
                    }
                    if !map.get("kind").is_some_and(Value::is_string) {
                        map.insert("kind".into(), Value::String(kind.kind.to_string()));
                    }
                    checked.push(item);
                }
                self.origin.extend(std::iter::repeat_n(at, checked.len()));
                self.objects.extend(checked);
                if !matches!(lookup, Lookup::Get { .. }) {
                    self.listed
                        .insert(kind.group, kind.kind, lookup.namespace());
                }
            }
            // none of that name, or none of that kind at all: as complete as
            // a listing for what the rules asked
            Answer::NotFound | Answer::NotServed => {
                self.listed
                    .insert(kind.group, kind.kind, lookup.namespace());
            }
            Answer::Failed(reason) => return self.failed(lookup, reason),
        }
        self.lookups.push((lookup, None));
    }
}

impl Gathered {
    /// Objects the rules cannot read (`(index in objects, why)`): the lookup
    /// that returned them failed, so its other objects and its listing go too.
    fn reject(&mut self, bad: Vec<(usize, String)>) {
        for (object, why) in bad {
            let Some(&at) = self.origin.get(object) else {
                continue;
            };
            if let Some((lookup, failed)) = self.lookups.get_mut(at) {
                if failed.is_none() {
                    *failed = Some(format!(
                        "the cluster returned an object portcullis cannot read: {why}"
                    ));
                    // a Get that found its object listed nothing: the
                    // listing under that key, if any, is another lookup's
                    if !matches!(lookup, Lookup::Get { .. }) {
                        let kind = lookup.kind();
                        self.listed
                            .remove(kind.group, kind.kind, lookup.namespace());
                    }
                }
            }
        }
        let failed: Vec<bool> = self.lookups.iter().map(|(_, f)| f.is_some()).collect();
        let keep: Vec<bool> = self
            .origin
            .iter()
            .map(|at| !failed.get(*at).copied().unwrap_or(true))
            .collect();
        let mut keep = keep.into_iter();
        self.objects.retain(|_| keep.next().unwrap_or(false));
        self.origin
            .retain(|at| !failed.get(*at).copied().unwrap_or(true));
    }
}

/// One round's outcome: the answer, lookups to make, or objects to reject.
enum Step {
    Fetch(Vec<Lookup>),
    Reject(Vec<(usize, String)>),
}

/// A host's way to the cluster: answers one lookup at one apiVersion.
pub type Fetch<'f> = dyn FnMut(&Lookup, &str) -> Answer + 'f;

/// Evaluates any accepted input (as `crate::evaluate`), fetching through
/// `fetch` the cluster objects the rules need, within `MAX_CALLS` and
/// `MAX_ROUNDS`. The input's settings, or else the host's, are compiled for
/// this call: for a host that sends them with the request (Kubewarden's
/// `{request, settings}`). With `clusterContext: off` nothing is fetched.
pub fn evaluate_in_cluster(
    input: &Value,
    host: Host<'_>,
    fetch: &mut Fetch<'_>,
) -> Result<(Report, Gathered), Error> {
    let review = review::detect(input)?;
    let settings = review.settings.or(host.settings);
    let policy = Policy::from_settings(settings)?;
    gather(
        review,
        input,
        &policy,
        host.inventory,
        Gathered::default(),
        fetch,
    )
}

/// Evaluates under a policy the host compiled (as `crate::evaluate_with`:
/// settings carried inside the input are an error), fetching what the rules
/// need through `fetch`, starting from what an earlier evaluation gathered:
/// lookups already made are not asked again (a host checking the object it
/// mutated, against the same cluster).
pub fn evaluate_from(
    input: &Value,
    policy: &Policy,
    gathered: Gathered,
    fetch: &mut Fetch<'_>,
) -> Result<(Report, Gathered), Error> {
    evaluate_read(review::detect(input)?, input, policy, gathered, fetch)
}

/// `evaluate_from` for an input the host already read (`review` is
/// `review::detect(input)`): a host that checks the request before compiling
/// the settings does not read it twice.
pub fn evaluate_read<'a>(
    review: Review<'a>,
    input: &'a Value,
    policy: &Policy,
    gathered: Gathered,
    fetch: &mut Fetch<'_>,
) -> Result<(Report, Gathered), Error> {
    if review
        .settings
        .is_some_and(|s| !crate::is_empty_settings(s))
    {
        let member = if review.shape == review::Shape::Gatekeeper {
            "parameters"
        } else {
            "settings"
        };
        return Err(Error::InputSettings {
            path: format!("/{member}"),
        });
    }
    gather(review, input, policy, None, gathered, fetch)
}

/// The rounds of lookups and the final run. `first` is `input` already
/// read: a request that needs nothing from the cluster costs no second parse.
fn gather<'a>(
    first: Review<'a>,
    input: &'a Value,
    policy: &Policy,
    inventory: Option<&Value>,
    mut gathered: Gathered,
    fetch: &mut Fetch<'_>,
) -> Result<(Report, Gathered), Error> {
    let mut first = Some(first);
    let mut round = 0;
    loop {
        let step = {
            let mut review = match first.take() {
                Some(review) => review,
                None => review::detect(input)?,
            };
            if review.inventory.is_empty() {
                if let Some(inv) = inventory {
                    review.inventory = review::inventory(inv)?;
                }
            }
            if policy.cluster_context == ClusterContext::Off {
                return Ok((engine::run(&review, policy), gathered));
            }
            // each round reads the cluster's objects once; one the rules
            // cannot read fails the lookup that returned it, and the round
            // starts over without them
            let first = review.inventory.len();
            let mut bad = Vec::new();
            for (i, v) in gathered.objects.iter().enumerate() {
                match Object::parse(v, first + i) {
                    Ok(o) => review.inventory.push(o),
                    Err(e) => bad.push((i, e.to_string())),
                }
            }
            if !bad.is_empty() {
                Step::Reject(bad)
            } else {
                review.listed = gathered.listed.clone();
                let wanted = wanted(&review, policy);
                let mut new: Vec<Lookup> = Vec::new();
                for (lookup, _, _) in &wanted {
                    if gathered.outcome(lookup).is_none() && !new.contains(lookup) {
                        new.push(lookup.clone());
                    }
                }
                if new.is_empty() || round >= MAX_ROUNDS {
                    review.unchecked = unchecked(&wanted, &gathered);
                    return Ok((engine::run(&review, policy), gathered));
                }
                Step::Fetch(new)
            }
        };
        match step {
            Step::Reject(bad) => gathered.reject(bad),
            Step::Fetch(new) => {
                // listings first: they answer the lookups by name inside them
                let (lists, gets): (Vec<Lookup>, Vec<Lookup>) = new
                    .into_iter()
                    .partition(|l| !matches!(l, Lookup::Get { .. }));
                for lookup in lists.into_iter().chain(gets) {
                    resolve(&mut gathered, lookup, fetch);
                }
                round += 1;
            }
        }
    }
}

/// Every lookup the configured rules want for the review's objects, with
/// the object and the rule that want it. Rules switched off or exempted for
/// the object want nothing.
fn wanted(review: &Review<'_>, policy: &Policy) -> Vec<(Lookup, usize, &'static str)> {
    let cx = engine::context(review, policy);
    let mut out = Vec::new();
    let mut needs = Vec::new();
    for obj in &review.objects {
        for configured in &policy.rules {
            if configured.action == Action::Off {
                continue;
            }
            let id = configured.rule.meta().id;
            if engine::exemption(policy, id, obj).is_some() {
                continue;
            }
            configured.check.needs(obj, &cx, &mut needs);
            out.extend(needs.drain(..).map(|l| (l, obj.index, id)));
        }
    }
    out
}

/// The rules whose lookups failed or were never made, per object.
fn unchecked(wanted: &[(Lookup, usize, &'static str)], gathered: &Gathered) -> Vec<Unchecked> {
    let mut out: Vec<Unchecked> = Vec::new();
    for (lookup, object, rule) in wanted {
        let reason = match gathered.outcome(lookup) {
            Some(None) => continue,
            Some(Some(failure)) => format!("reading {lookup} failed: {failure}"),
            None => format!(
                "{lookup} was not read: one request makes at most {MAX_ROUNDS} rounds of lookups"
            ),
        };
        let u = Unchecked {
            object: *object,
            rule,
            reason,
        };
        if !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

/// Asks the host for one lookup, trying the kind's versions in turn while
/// the cluster does not serve them.
fn resolve(gathered: &mut Gathered, lookup: Lookup, fetch: &mut Fetch<'_>) {
    // a listing made earlier in this round may already hold it
    if gathered.outcome(&lookup).is_some() {
        return;
    }
    let kind = lookup.kind();
    let mut answer = Answer::NotServed;
    let mut asked = String::new();
    for version in kind.versions {
        if gathered.calls >= MAX_CALLS {
            return gathered.failed(
                lookup,
                format!("not asked, one request makes at most {MAX_CALLS} host calls"),
            );
        }
        gathered.calls += 1;
        asked = kind.api_version(version);
        answer = fetch(&lookup, &asked);
        if answer != Answer::NotServed {
            break;
        }
    }
    gathered.record(lookup, answer, &asked);
}

/// Every kind the catalogue may read from a cluster, sorted, once each.
pub fn kinds_read() -> Vec<&'static ApiKind> {
    let mut kinds: Vec<&'static ApiKind> = RULES
        .iter()
        .flat_map(|r| r.cluster_reads().iter().copied())
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}
