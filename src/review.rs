//! Input shape detection: every accepted shape becomes one `Review`.

use crate::error::Error;
use crate::object::{type_name, Object};
use serde_json::{Map, Value};
use std::any::Any;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

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
    index: Index<'a>,
}

/// The key of `(group, kind, namespace)`, and with a name, of an identity:
/// owned, so that lookups need not share the index's lifetime. No part
/// holds a newline.
fn key(parts: &[&str]) -> String {
    parts.join("\n")
}

/// Every known object once (bundle first, then the inventory without the
/// copies of bundle objects), by kind and namespace and by name: built once
/// per evaluation, so a rule that looks up a Secret or lists a namespace's
/// NetworkPolicies for each of 10,000 objects costs 10,000 lookups, not
/// 10,000 scans of the bundle.
#[derive(Default)]
struct Index<'a> {
    known: Vec<&'a Object<'a>>,
    /// Positions in `known` by `(group, kind, namespace)`, in order.
    by_kind: HashMap<String, Vec<usize>>,
    /// Namespaces holding each `(group, kind)`, in first-seen order.
    namespaces: HashMap<String, Vec<&'a str>>,
    /// The first object of each identity.
    by_name: HashMap<String, usize>,
    /// Positions in `known` of the bundle's objects by namespace, in order.
    bundle_by_ns: HashMap<&'a str, Vec<usize>>,
    /// How many of `known` come from the bundle.
    bundled: usize,
    /// Gateway API routes by the name of each Gateway their parentRefs
    /// name, built when a rule first asks.
    routes_by_parent: OnceCell<HashMap<String, Vec<usize>>>,
    /// The groupings rules ask for by name ([`Context::grouped`]).
    groupings: RefCell<HashMap<&'static str, Rc<Grouping>>>,
    /// What rules derived from one object, by name and the object's address
    /// ([`Context::derived`]).
    derived: RefCell<HashMap<DerivedKey, Rc<dyn Any>>>,
}

/// A rule's name for what it derives, and the address of the object.
type DerivedKey = (&'static str, usize);

/// Positions in [`Context::all`] grouped under keys a rule chose.
pub type Grouping = HashMap<String, Vec<usize>>;

impl<'a> Index<'a> {
    fn new(objects: &'a [Object<'a>], inventory: &'a [Object<'a>]) -> Index<'a> {
        let mut index = Index::default();
        for o in objects {
            let at = index.known.len();
            index
                .bundle_by_ns
                .entry(o.namespace_or_default())
                .or_default()
                .push(at);
            index.add(o);
        }
        index.bundled = index.known.len();
        for o in inventory {
            // an inventory copy of a bundle object is the bundle's version
            let bundled = index
                .by_name
                .get(&identity(o))
                .is_some_and(|at| *at < index.bundled);
            if !bundled {
                index.add(o);
            }
        }
        index
    }

    fn add(&mut self, o: &'a Object<'a>) {
        let at = self.known.len();
        self.known.push(o);
        self.by_name.entry(identity(o)).or_insert(at);
        let (group, kind, ns) = (o.group(), o.kind, o.namespace_or_default());
        let list = self.by_kind.entry(key(&[group, kind, ns])).or_default();
        if list.is_empty() {
            self.namespaces
                .entry(key(&[group, kind]))
                .or_default()
                .push(ns);
        }
        list.push(at);
    }

    fn in_kind(&self, group: &str, kind: &str, namespace: &str) -> &[usize] {
        self.by_kind
            .get(&key(&[group, kind, namespace]))
            .map_or(&[], Vec::as_slice)
    }
}

fn identity(o: &Object<'_>) -> String {
    key(&[o.group(), o.kind, o.namespace_or_default(), o.name])
}

impl<'a> Context<'a> {
    pub fn new(
        objects: &'a [Object<'a>],
        inventory: &'a [Object<'a>],
        kubernetes_version: (u32, u32),
        admission: bool,
        listed: &'a Listed,
    ) -> Context<'a> {
        Context {
            objects,
            inventory,
            kubernetes_version,
            admission,
            listed,
            index: Index::new(objects, inventory),
        }
    }

    /// Every other object of the bundle and the inventory (never `of` itself
    /// nor an inventory copy of it).
    pub fn others<'s>(&'s self, of: &'s Object<'_>) -> impl Iterator<Item = &'s Object<'a>> + 's {
        let bundle = self.objects.iter().filter(move |o| o.index != of.index);
        let inv = self.inventory.iter().filter(move |o| !o.same_identity(of));
        bundle.chain(inv)
    }

    /// Every object known: bundle then inventory, inventory copies of bundle objects skipped.
    pub fn all(&self) -> impl Iterator<Item = &Object<'a>> {
        self.index.known.iter().copied()
    }

    /// The known objects of `group/kind` in `namespace`, in the order of
    /// [`Context::all`].
    pub fn of_kind<'s>(
        &'s self,
        group: &str,
        kind: &str,
        namespace: &str,
    ) -> impl Iterator<Item = &'s Object<'a>> + 's {
        self.index
            .in_kind(group, kind, namespace)
            .iter()
            .filter_map(|at| self.index.known.get(*at).copied())
    }

    /// The other known objects of `group/kind` in `namespace`: never `of`
    /// itself nor an inventory copy of it, as [`Context::others`].
    pub fn others_of_kind<'s>(
        &'s self,
        of: &'s Object<'_>,
        group: &str,
        kind: &str,
        namespace: &str,
    ) -> impl Iterator<Item = &'s Object<'a>> + 's {
        self.positions(self.index.in_kind(group, kind, namespace), of)
    }

    /// Whether the known object at `at` is `of` itself or an inventory copy
    /// of it.
    fn is_itself(&self, at: usize, o: &Object<'_>, of: &Object<'_>) -> bool {
        if at < self.index.bundled {
            o.index == of.index
        } else {
            o.same_identity(of)
        }
    }

    /// The objects at positions of [`Context::all`] (a [`Grouping`]'s),
    /// without `of` itself or an inventory copy of it.
    pub fn positions<'s: 'p, 'p, 'o>(
        &'s self,
        at: &'p [usize],
        of: &'p Object<'o>,
    ) -> impl Iterator<Item = &'s Object<'a>> + use<'s, 'p, 'o, 'a> {
        at.iter().filter_map(move |at| {
            let o = self.index.known.get(*at).copied()?;
            (!self.is_itself(*at, o, of)).then_some(o)
        })
    }

    /// The other Gateway API routes whose parentRefs name a Gateway called
    /// `gateway` (in any namespace: the caller judges the rest of the ref).
    pub fn routes_naming<'s>(
        &'s self,
        of: &'s Object<'_>,
        gateway: &str,
    ) -> impl Iterator<Item = &'s Object<'a>> + 's {
        let index = self.index.routes_by_parent.get_or_init(|| {
            let mut by: HashMap<String, Vec<usize>> = HashMap::new();
            for (at, o) in self.index.known.iter().enumerate() {
                if o.group() != "gateway.networking.k8s.io" || !o.kind.ends_with("Route") {
                    continue;
                }
                let refs = o.raw.pointer("/spec/parentRefs").and_then(Value::as_array);
                let mut names: Vec<&str> = refs
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.get("name").and_then(Value::as_str))
                    .collect();
                names.sort_unstable();
                names.dedup();
                for name in names {
                    by.entry(name.to_string()).or_default().push(at);
                }
            }
            by
        });
        let at: &[usize] = index.get(gateway).map_or(&[], Vec::as_slice);
        self.positions(at, of)
    }

    /// A grouping of the known objects that a rule builds once per
    /// evaluation and reads for each object it checks (say, Ingresses by the
    /// route they claim): `build` runs on the first call for `name`, with
    /// the objects of [`Context::all`] and their positions, and its
    /// answer is kept for the later calls.
    pub fn grouped(
        &self,
        name: &'static str,
        build: impl FnOnce(&mut dyn Iterator<Item = (usize, &Object<'a>)>) -> Grouping,
    ) -> Rc<Grouping> {
        if let Some(g) = self.index.groupings.borrow().get(name) {
            return Rc::clone(g);
        }
        let built = Rc::new(build(&mut self.index.known.iter().copied().enumerate()));
        self.index
            .groupings
            .borrow_mut()
            .insert(name, Rc::clone(&built));
        built
    }

    /// Something several rules derive from the object they check (the
    /// kube-apiserver flags six rules read): `build` runs on the first call
    /// for `name` and this object, and its answer is shared with the later
    /// calls of the same evaluation. Objects are told apart by their
    /// address, which every object keeps for the whole evaluation.
    pub fn derived<T: 'static>(
        &self,
        name: &'static str,
        of: &Object<'_>,
        build: impl FnOnce() -> T,
    ) -> Rc<T> {
        let key = (name, std::ptr::from_ref(of.raw) as usize);
        let cached = self.index.derived.borrow().get(&key).cloned();
        if let Some(done) = cached.and_then(|d| d.downcast::<T>().ok()) {
            return done;
        }
        let built = Rc::new(build());
        // a name asked for with another type is built each time, not mixed up
        self.index
            .derived
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| Rc::clone(&built) as Rc<dyn Any>);
        built
    }

    /// The known object at a position of [`Context::all`].
    pub fn at(&self, position: usize) -> Option<&Object<'a>> {
        self.index.known.get(position).copied()
    }

    /// The bundle's objects in `namespace` (not the inventory's), in order.
    pub fn bundle_in<'s>(&'s self, namespace: &str) -> impl Iterator<Item = &'s Object<'a>> + 's {
        self.index
            .bundle_by_ns
            .get(namespace)
            .into_iter()
            .flatten()
            .filter_map(|at| self.index.known.get(*at).copied())
    }

    /// The namespaces in which objects of `group/kind` are known.
    pub fn namespaces_of(&self, group: &str, kind: &str) -> &[&'a str] {
        self.index
            .namespaces
            .get(&key(&[group, kind]))
            .map_or(&[], Vec::as_slice)
    }

    /// An object by group, kind, namespace and name, in the bundle or the inventory.
    pub fn find(
        &self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&Object<'a>> {
        let at = match namespace {
            Some(ns) => self
                .index
                .by_name
                .get(&key(&[group, kind, ns, name]))
                .copied(),
            None => self
                .namespaces_of(group, kind)
                .iter()
                .filter_map(|ns| self.index.by_name.get(&key(&[group, kind, ns, name])))
                .min()
                .copied(),
        }?;
        self.index.known.get(at).copied()
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
            || !self.index.in_kind(group, kind, namespace).is_empty()
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests fail loudly by design

    use super::*;
    use serde_json::json;

    /// What a rule derives from an object is built once per object and
    /// shared; two objects equal in content are still two objects, and a
    /// name asked for with another type is built again, never mixed up.
    #[test]
    fn derived_values_are_built_once_per_object() {
        let a = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        let b = a.clone();
        let objects = [Object::parse(&a, 0).unwrap(), Object::parse(&b, 1).unwrap()];
        let listed = Listed::default();
        let cx = Context::new(&objects, &[], (1, 35), false, &listed);
        let builds = std::cell::Cell::new(0);
        let build = |o: &Object<'_>| {
            builds.set(builds.get() + 1);
            o.index
        };
        let first = cx.derived("n", &objects[0], || build(&objects[0]));
        let again = cx.derived("n", &objects[0], || build(&objects[0]));
        assert!(Rc::ptr_eq(&first, &again));
        assert_eq!(builds.get(), 1);
        let other = cx.derived("n", &objects[1], || build(&objects[1]));
        assert_eq!((*first, *other, builds.get()), (0, 1, 2));
        let typed = cx.derived("n", &objects[0], || "another type");
        assert_eq!(*typed, "another type");
        assert_eq!(*cx.derived("n", &objects[0], || build(&objects[0])), 0);
        assert_eq!(builds.get(), 2);
    }

    /// The index answers what a scan of the bundle and the inventory
    /// answers: bundle objects first, inventory copies of bundle objects
    /// skipped, `of` never among the others, cluster-scoped objects in
    /// "default".
    #[test]
    fn the_index_answers_as_a_scan() {
        let route = |name: &str, ns: &str, parents: &[&str]| {
            let refs: Vec<Value> = parents.iter().map(|p| json!({"name": p})).collect();
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": name, "namespace": ns}, "spec": {"parentRefs": refs}})
        };
        let secret = |name: &str, ns: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}});
        let cert = |name: &str, ns: &str, secret: &str| {
            json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"name": name, "namespace": ns}, "spec": {"secretName": secret}})
        };
        let ingress = |name: &str, ns: &str, secret: &str| {
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"tls": [{"secretName": secret}, {"secretName": secret}]}})
        };
        let bundle = [
            secret("a", "shop"),
            secret("a", "shop"), // a duplicate document
            secret("b", "web"),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c"}}),
            route("r1", "edge", &["gw", "gw", "other"]),
            route("r2", "shop", &["gw"]),
            cert("c1", "shop", "tls"),
            ingress("i1", "shop", "tls"),
            ingress("i2", "shop", " tls "),
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}}),
        ];
        let inventory = [
            secret("a", "shop"), // a copy of a bundle object
            secret("z", "shop"),
            route("r1", "edge", &["gw"]),
            route("r9", "edge", &["gw"]),
            cert("c9", "shop", "tls"),
        ];
        let objects: Vec<Object<'_>> = bundle
            .iter()
            .enumerate()
            .map(|(i, v)| Object::parse(v, i).unwrap())
            .collect();
        let inv: Vec<Object<'_>> = inventory
            .iter()
            .enumerate()
            .map(|(i, v)| Object::parse(v, i).unwrap())
            .collect();
        let listed = Listed::default();
        let cx = Context::new(&objects, &inv, (1, 35), false, &listed);
        let names = |it: &mut dyn Iterator<Item = &Object<'_>>| -> Vec<String> {
            it.map(|o| format!("{}/{}/{}", o.kind, o.namespace_or_default(), o.name))
                .collect()
        };
        // every object once, in order
        assert_eq!(cx.all().count(), bundle.len() + inventory.len() - 2);
        let scan: Vec<&Object<'_>> = objects
            .iter()
            .chain(
                inv.iter()
                    .filter(|i| !objects.iter().any(|o| o.same_identity(i))),
            )
            .collect();
        assert_eq!(names(&mut cx.all()), names(&mut scan.iter().copied()));
        for (group, kind, ns) in [
            ("", "Secret", "shop"),
            ("", "Secret", "default"),
            ("", "Secret", "nowhere"),
            ("networking.k8s.io", "IngressClass", "default"),
        ] {
            let want: Vec<&Object<'_>> = scan
                .iter()
                .copied()
                .filter(|o| o.group() == group && o.kind == kind && o.namespace_or_default() == ns)
                .collect();
            assert_eq!(
                names(&mut cx.of_kind(group, kind, ns)),
                names(&mut want.iter().copied())
            );
            assert_eq!(cx.knows(group, kind, ns), !want.is_empty());
            for of in objects.iter().chain(inv.iter()) {
                let others: Vec<&Object<'_>> = cx
                    .others(of)
                    .filter(|o| {
                        o.group() == group && o.kind == kind && o.namespace_or_default() == ns
                    })
                    .collect();
                let mut got = names(&mut cx.others_of_kind(of, group, kind, ns));
                let mut want = names(&mut others.iter().copied());
                // `others` repeats inventory copies of bundle objects; the index does not
                want.dedup();
                got.dedup();
                assert_eq!(got, want, "others of {}", of.name);
            }
        }
        assert_eq!(cx.find("", "Secret", Some("shop"), "a").unwrap().index, 0);
        assert_eq!(cx.find("", "Secret", Some("shop"), "z").unwrap().index, 1);
        assert_eq!(
            cx.find("", "Secret", None, "b").unwrap().namespace,
            Some("web")
        );
        assert!(cx.find("", "Secret", Some("web"), "a").is_none());
        assert_eq!(cx.namespaces_of("", "Secret"), ["shop", "web", "default"]);
        // references: routes by parent name (each route once), producers by Secret
        let r2 = &objects[5];
        assert_eq!(
            names(&mut cx.routes_naming(r2, "gw")),
            ["HTTPRoute/edge/r1", "HTTPRoute/edge/r9"]
        );
        assert_eq!(
            names(&mut cx.routes_naming(r2, "other")),
            ["HTTPRoute/edge/r1"]
        );
        assert_eq!(
            names(&mut cx.bundle_in("default")),
            ["Secret/default/c", "IngressClass/default/nginx"]
        );
    }
}
