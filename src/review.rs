//! Input shape detection: every accepted shape becomes one `Review`.

use crate::error::Error;
use crate::object::{type_name, Object};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Object,
    List,
    Array,
    AdmissionReview,
    AdmissionRequest,
    Gatekeeper,
    Kubewarden,
    Envelope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

/// What to check, with its admission context, settings and inventory.
#[derive(Debug)]
pub struct Review<'a> {
    pub shape: Shape,
    pub objects: Vec<Object<'a>>,
    /// Same length as `objects`: the oldObject of an UPDATE.
    pub old: Vec<Option<Object<'a>>>,
    pub inventory: Vec<Object<'a>>,
    pub operation: Option<Operation>,
    pub uid: Option<&'a str>,
    /// Settings carried by the input itself (parameters, settings, envelope).
    pub settings: Option<&'a Value>,
    /// Kinds a host read completely from the live cluster (see `Listed`).
    pub listed: Listed,
    /// Rules a host could not give the cluster objects they need, per object:
    /// they report "not checked" instead of running on partial knowledge.
    pub unchecked: Vec<Unchecked>,
}

/// Kinds whose objects a host read from the live cluster completely, per
/// namespace (`None`: in every namespace). A rule may conclude that an object
/// of such a kind is absent: the cluster was asked and did not have it.
///
/// A host fills it from the lookups the rules declared (`Check::needs`): a
/// listing, a kind the cluster does not serve at all, or a lookup by name that
/// found nothing, which is as complete as a listing for the names the rules
/// asked about. A rule must therefore declare every cluster object it reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listed(BTreeSet<(String, String, Option<String>)>);

impl Listed {
    /// Records that `group/kind` was read completely in `namespace` (`None`: everywhere).
    pub fn insert(&mut self, group: &str, kind: &str, namespace: Option<&str>) {
        self.0.insert((
            group.to_string(),
            kind.to_string(),
            namespace.map(str::to_string),
        ));
    }

    /// Forgets a listing that turned out incomplete.
    pub fn remove(&mut self, group: &str, kind: &str, namespace: Option<&str>) {
        self.0.remove(&(
            group.to_string(),
            kind.to_string(),
            namespace.map(str::to_string),
        ));
    }

    /// Whether `group/kind` was read completely in `namespace`.
    pub fn covers(&self, group: &str, kind: &str, namespace: &str) -> bool {
        self.0.iter().any(|(g, k, ns)| {
            g == group && k == kind && ns.as_deref().is_none_or(|ns| ns == namespace)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(group, kind, namespace)`, sorted; `None` is every namespace.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, Option<&str>)> {
        self.0
            .iter()
            .map(|(g, k, ns)| (g.as_str(), k.as_str(), ns.as_deref()))
    }
}

/// A rule that could not be checked on one object, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked {
    /// `Object::index` of the reviewed object.
    pub object: usize,
    pub rule: &'static str,
    pub reason: String,
}

/// The bundle a rule sees beside the object it checks.
pub struct Context<'a> {
    pub objects: &'a [Object<'a>],
    pub inventory: &'a [Object<'a>],
    /// Target Kubernetes version for the api-version rules.
    pub kubernetes_version: (u32, u32),
    /// True for an admission request: one object, the bundle is the inventory.
    pub admission: bool,
    /// Kinds the host read completely from the cluster.
    pub listed: &'a Listed,
}

impl<'a> Context<'a> {
    /// Every other object of the bundle and the inventory (never `of` itself
    /// nor an inventory copy of it).
    pub fn others<'s>(&'s self, of: &'s Object<'_>) -> impl Iterator<Item = &'s Object<'a>> + 's {
        let bundle = self.objects.iter().filter(move |o| o.index != of.index);
        let inv = self.inventory.iter().filter(move |o| !o.same_identity(of));
        bundle.chain(inv)
    }

    /// Every object known: bundle then inventory, inventory copies of bundle objects skipped.
    pub fn all(&self) -> impl Iterator<Item = &Object<'a>> {
        let objects = self.objects;
        self.objects.iter().chain(
            self.inventory
                .iter()
                .filter(move |i| !objects.iter().any(|o| o.same_identity(i))),
        )
    }

    /// An object by group, kind, namespace and name, in the bundle or the inventory.
    pub fn find(
        &self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&Object<'a>> {
        self.all().find(|o| {
            o.kind == kind
                && o.group() == group
                && o.name == name
                && (namespace.is_none() || o.namespace.or(Some("default")) == namespace)
        })
    }

    /// Whether there is a bundle to look things up in (more than the object itself).
    pub fn has_bundle(&self) -> bool {
        self.objects.len() > 1 || !self.inventory.is_empty()
    }

    /// Whether objects of `group/kind` in `namespace` are known here: the
    /// bundle or the inventory holds at least one, or the host read that kind
    /// in that namespace completely. Only then may a rule conclude that one
    /// of them is absent: an inventory synced without that kind, or a bundle
    /// without it, says nothing.
    pub fn knows(&self, group: &str, kind: &str, namespace: &str) -> bool {
        self.listed.covers(group, kind, namespace)
            || self.all().any(|o| {
                o.kind == kind && o.group() == group && o.namespace_or_default() == namespace
            })
    }
}

fn is_k8s_object(v: &Value) -> bool {
    v.get("apiVersion").is_some_and(Value::is_string) && v.get("kind").is_some_and(Value::is_string)
}

/// The shape of an input object that is an envelope around what is checked
/// (an AdmissionReview, `{review, parameters}`, `{request, settings}`,
/// `{objects, settings, inventory}`), or `None` for an object that is itself
/// checked (a Kubernetes object, a List, a bare AdmissionRequest). A
/// Kubernetes object is never an envelope, whatever keys it has.
pub fn envelope_shape(map: &Map<String, Value>) -> Option<Shape> {
    let kind = map.get("kind").and_then(Value::as_str);
    let k8s = map.get("apiVersion").is_some_and(Value::is_string) && kind.is_some();
    if kind == Some("AdmissionReview") {
        Some(Shape::AdmissionReview)
    } else if k8s {
        None
    } else if map.contains_key("review") {
        Some(Shape::Gatekeeper)
    } else if map.contains_key("request") {
        Some(Shape::Kubewarden)
    } else if map.contains_key("objects") {
        Some(Shape::Envelope)
    } else {
        None
    }
}

/// The member of an input object that carries settings, if it is an
/// envelope that has one: `parameters` beside a Gatekeeper review,
/// `settings` beside a Kubewarden request or an envelope's objects.
pub fn settings_member(map: &Map<String, Value>) -> Option<&'static str> {
    match envelope_shape(map)? {
        Shape::Gatekeeper => Some("parameters"),
        Shape::Kubewarden | Shape::Envelope => Some("settings"),
        _ => None,
    }
}

/// Detects the input's shape. Settings and inventory given beside the input
/// by a host (OPA data, Kubewarden settings) are not read here.
pub fn detect(input: &Value) -> Result<Review<'_>, Error> {
    let mut review = Review {
        shape: Shape::Object,
        objects: Vec::new(),
        old: Vec::new(),
        inventory: Vec::new(),
        operation: None,
        uid: None,
        settings: None,
        listed: Listed::default(),
        unchecked: Vec::new(),
    };
    match input {
        Value::Array(items) => {
            review.shape = Shape::Array;
            collect(items.iter(), &mut review.objects, "input")?;
        }
        Value::Object(map) => {
            let kind = map.get("kind").and_then(Value::as_str);
            let envelope = envelope_shape(map);
            if envelope == Some(Shape::AdmissionReview) {
                review.shape = Shape::AdmissionReview;
                let request = map
                    .get("request")
                    .ok_or_else(|| Error::input("AdmissionReview has no `request`"))?;
                admission(request, "request", &mut review)?;
            } else if envelope == Some(Shape::Gatekeeper) {
                review.shape = Shape::Gatekeeper;
                for k in map.keys() {
                    if !matches!(k.as_str(), "review" | "parameters" | "inventory") {
                        return Err(Error::input(format!(
                            "Gatekeeper input has an unknown key `{k}` (expected review, parameters, inventory)"
                        )));
                    }
                }
                review.settings = map.get("parameters");
                let request = map.get("review").unwrap_or(&Value::Null);
                admission(request, "review", &mut review)?;
                // one input may carry the request, its settings and the cluster state
                if let Some(inv) = map.get("inventory") {
                    review.inventory = inventory(inv)?;
                }
            } else if envelope == Some(Shape::Kubewarden) {
                review.shape = Shape::Kubewarden;
                for k in map.keys() {
                    if !matches!(k.as_str(), "request" | "settings" | "inventory") {
                        return Err(Error::input(format!(
                            "Kubewarden input has an unknown key `{k}` (expected request, settings, inventory)"
                        )));
                    }
                }
                review.settings = map.get("settings");
                let request = map.get("request").unwrap_or(&Value::Null);
                admission(request, "request", &mut review)?;
                if let Some(inv) = map.get("inventory") {
                    review.inventory = inventory(inv)?;
                }
            } else if envelope == Some(Shape::Envelope) {
                review.shape = Shape::Envelope;
                for k in map.keys() {
                    if !matches!(k.as_str(), "objects" | "settings" | "inventory") {
                        return Err(Error::input(format!(
                            "envelope has an unknown key `{k}` (expected objects, settings, inventory)"
                        )));
                    }
                }
                match map.get("objects") {
                    Some(Value::Array(items)) => {
                        collect(items.iter(), &mut review.objects, "objects")?
                    }
                    Some(other) => {
                        return Err(Error::input(format!(
                            "envelope `objects` must be a list, found {}",
                            type_name(other)
                        )))
                    }
                    None => {}
                }
                review.settings = map.get("settings");
                if let Some(inv) = map.get("inventory") {
                    review.inventory = inventory(inv)?;
                }
            } else if is_admission_request(input) {
                review.shape = Shape::AdmissionRequest;
                admission(input, "request", &mut review)?;
            } else if kind.is_some_and(|k| k == "List" || k.ends_with("List"))
                && map.contains_key("items")
            {
                review.shape = Shape::List;
                match map.get("items") {
                    Some(Value::Array(items)) => {
                        collect(items.iter(), &mut review.objects, "items")?
                    }
                    Some(Value::Null) => {}
                    Some(other) => {
                        return Err(Error::input(format!(
                            "List `items` must be a list, found {}",
                            type_name(other)
                        )))
                    }
                    None => {}
                }
            } else {
                review.shape = Shape::Object;
                review.objects.push(Object::parse(input, 0)?);
            }
        }
        other => {
            return Err(Error::input(format!(
                "expected a Kubernetes object, a List, an array of objects, an AdmissionReview, \
                 an AdmissionRequest, {{review, parameters}}, {{request, settings}} or \
                 {{objects, settings, inventory}}; found {}",
                type_name(other)
            )))
        }
    }
    review.old.resize_with(review.objects.len(), || None);
    Ok(review)
}

/// The `uid` of the AdmissionRequest an input carries, in whichever shape
/// it came (an AdmissionReview, `{review}`, `{request}`, a bare request):
/// an answer shaped as an AdmissionReview must echo it, or the API server
/// rejects the answer. Read without detecting the rest of the input, so an
/// input that fails detection is answered with its uid too.
pub fn request_uid(input: &Value) -> Option<&str> {
    let request = if input.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        input.get("request")
    } else if is_k8s_object(input) {
        None
    } else if input.get("review").is_some() {
        input.get("review")
    } else if input.get("request").is_some() {
        input.get("request")
    } else if input.get("objects").is_some() {
        None
    } else if is_admission_request(input) {
        Some(input)
    } else {
        None
    };
    request?.get("uid").and_then(Value::as_str)
}

fn is_admission_request(v: &Value) -> bool {
    // AdmissionRequest: `kind` is a GroupVersionKind object, plus uid/operation/object
    v.get("kind").is_some_and(Value::is_object)
        && (v.get("operation").is_some() || v.get("object").is_some() || v.get("uid").is_some())
}

/// Flattens objects and nested Lists into `out`, indexing them in order.
fn collect<'a>(
    items: impl Iterator<Item = &'a Value>,
    out: &mut Vec<Object<'a>>,
    what: &str,
) -> Result<(), Error> {
    for (i, item) in items.enumerate() {
        let is_list = item
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k == "List" || k.ends_with("List"))
            && item.get("items").is_some_and(Value::is_array);
        if is_list {
            let nested = item
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            collect(nested, out, &format!("{what}[{i}].items"))?;
            continue;
        }
        if !item.is_object() {
            return Err(Error::input(format!(
                "{what}[{i}]: expected a Kubernetes object, found {}",
                type_name(item)
            )));
        }
        let index = out.len();
        out.push(Object::parse(item, index)?);
    }
    Ok(())
}

fn admission<'a>(request: &'a Value, what: &str, review: &mut Review<'a>) -> Result<(), Error> {
    if !request.is_object() {
        return Err(Error::input(format!(
            "`{what}` must be an AdmissionRequest object, found {}",
            type_name(request)
        )));
    }
    review.uid = request.get("uid").and_then(Value::as_str);
    let op = match request.get("operation") {
        None | Some(Value::Null) => Operation::Create,
        Some(Value::String(s)) => match s.as_str() {
            "CREATE" => Operation::Create,
            "UPDATE" => Operation::Update,
            "DELETE" => Operation::Delete,
            "CONNECT" => Operation::Connect,
            other => {
                return Err(Error::input(format!(
                    "{what}.operation: `{other}` is not CREATE, UPDATE, DELETE or CONNECT"
                )))
            }
        },
        Some(other) => {
            return Err(Error::input(format!(
                "{what}.operation: expected a string, found {}",
                type_name(other)
            )))
        }
    };
    review.operation = Some(op);
    // a deletion removes exposure; it is never denied
    if matches!(op, Operation::Delete | Operation::Connect) {
        return Ok(());
    }
    match request.get("object") {
        Some(obj) if obj.is_object() => {
            review.objects.push(Object::parse(obj, 0)?);
        }
        None | Some(Value::Null) => {
            return Err(Error::input(format!(
                "{what}.object is missing on a {op:?} request"
            )));
        }
        Some(other) => {
            return Err(Error::input(format!(
                "{what}.object: expected an object, found {}",
                type_name(other)
            )))
        }
    }
    if op == Operation::Update {
        if let Some(old) = request.get("oldObject").filter(|o| o.is_object()) {
            review.old.push(Some(Object::parse(old, 0)?));
        } else if let Some(pod) = review
            .objects
            .first()
            .filter(|o| is_pod_spec_update(request, o))
        {
            // A Pod's spec is immutable apart from images, tolerations and
            // deadlines (ephemeral containers and resources change through
            // their own subresources), so an UPDATE that omits the oldObject
            // cannot have introduced what the spec holds: the Pod stands for
            // its old self, and the ratchet treats its findings as existing.
            // Parsed again rather than cloned: a clone of every typed view
            // costs the wasm modules more than a second parse costs here.
            review.old.push(Some(Object::parse(pod.raw, 0)?));
        }
    }
    Ok(())
}

/// An UPDATE of a Pod itself, not of one of its subresources.
fn is_pod_spec_update(request: &Value, obj: &Object<'_>) -> bool {
    let subresource = request
        .get("subResource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    obj.kind == "Pod" && obj.group().is_empty() && subresource.is_empty()
}

/// Reads an inventory: Gatekeeper's `data.inventory` (`cluster.<gv>.<Kind>.<name>`
/// and `namespace.<ns>.<gv>.<Kind>.<name>`), a List, or an array of objects.
/// A malformed inventory is an error naming where: silently skipping part of
/// it would let rules conclude that something is absent.
pub fn inventory(v: &Value) -> Result<Vec<Object<'_>>, Error> {
    let mut found: Vec<(String, &Value)> = Vec::new();
    match v {
        Value::Null => {}
        Value::Array(items) => found.extend(
            items
                .iter()
                .enumerate()
                .map(|(i, o)| (format!("inventory[{i}]"), o)),
        ),
        Value::Object(map) if map.contains_key("items") => match map.get("items") {
            Some(Value::Array(items)) => found.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, o)| (format!("inventory.items[{i}]"), o)),
            ),
            Some(Value::Null) => {}
            Some(other) => {
                return Err(Error::input(format!(
                    "inventory.items: expected a list of objects, found {}",
                    type_name(other)
                )))
            }
            None => {}
        },
        Value::Object(map) => {
            for (k, sub) in map {
                match k.as_str() {
                    "cluster" => walk_objects(sub, 3, format!("inventory.{k}"), &mut found)?,
                    "namespace" => walk_objects(sub, 4, format!("inventory.{k}"), &mut found)?,
                    other => {
                        return Err(Error::input(format!(
                            "inventory: unknown key `{other}` (expected cluster and namespace, as Gatekeeper syncs them, or a list of objects)"
                        )))
                    }
                }
            }
        }
        other => {
            return Err(Error::input(format!(
                "inventory: expected an object or a list, found {}",
                type_name(other)
            )))
        }
    }
    found
        .into_iter()
        .enumerate()
        .map(|(i, (at, o))| {
            if !o.is_object() {
                return Err(Error::input(format!(
                    "{at}: expected a Kubernetes object, found {}",
                    type_name(o)
                )));
            }
            Object::parse(o, i).map_err(|e| Error::input(format!("{at}: {e}")))
        })
        .collect()
}

/// Descends `depth` levels of maps and collects the objects found there,
/// each with where it is; anything but a map on the way is an error.
fn walk_objects<'a>(
    v: &'a Value,
    depth: usize,
    at: String,
    out: &mut Vec<(String, &'a Value)>,
) -> Result<(), Error> {
    if depth == 0 {
        out.push((at, v));
        return Ok(());
    }
    match v {
        Value::Object(map) => {
            for (k, sub) in map {
                walk_objects(sub, depth - 1, format!("{at}.{k}"), out)?;
            }
            Ok(())
        }
        // an empty level is Gatekeeper's way of syncing nothing there
        Value::Null => Ok(()),
        other => Err(Error::input(format!(
            "{at}: expected a map (Gatekeeper's inventory nests group/version, kind and name), found {}",
            type_name(other)
        ))),
    }
}
