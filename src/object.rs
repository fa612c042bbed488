//! One reviewed Kubernetes object: its identity, its raw JSON, and the typed
//! view that the rules read, parsed once.

use crate::error::Error;
use crate::report::ObjectRef;
use k8s_openapi::api::core::v1::ServiceSpec;
use k8s_openapi::api::networking::v1::{IngressSpec, NetworkPolicySpec};
use k8s_openapi::api::rbac::v1::{AggregationRule, PolicyRule, RoleRef, Subject};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The kinds that carry a pod template, and where its pod spec lives.
pub const POD_SPEC_PATHS: &[(&str, &str)] = &[
    ("Pod", "/spec"),
    ("PodTemplate", "/template/spec"),
    ("Deployment", "/spec/template/spec"),
    ("ReplicaSet", "/spec/template/spec"),
    ("StatefulSet", "/spec/template/spec"),
    ("DaemonSet", "/spec/template/spec"),
    ("ReplicationController", "/spec/template/spec"),
    ("Job", "/spec/template/spec"),
    ("CronJob", "/spec/jobTemplate/spec/template/spec"),
];

/// The part of a pod spec the rules read, and nothing more. Full `PodSpec`
/// drags every volume source and probe type into the wasm modules, and every
/// field parsed is one whose malformed value makes the whole object
/// unreadable, so this mirrors the field names the rules read and stops.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(default)]
    pub init_containers: Option<Vec<Container>>,
    #[serde(default)]
    pub ephemeral_containers: Option<Vec<Container>>,
    pub host_network: Option<bool>,
    pub automount_service_account_token: Option<bool>,
    pub service_account_name: Option<String>,
    pub service_account: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default)]
    pub name: String,
    pub image: Option<String>,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub ports: Option<Vec<ContainerPort>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub container_port: Option<i32>,
    pub host_port: Option<i32>,
    pub host_ip: Option<String>,
}

impl PodSpec {
    /// Every container with the JSON Pointer of its list: init, regular, ephemeral.
    pub fn all_containers(&self) -> impl Iterator<Item = (&'static str, usize, &Container)> {
        let init = self.init_containers.iter().flatten().enumerate();
        let main = self.containers.iter().enumerate();
        let eph = self.ephemeral_containers.iter().flatten().enumerate();
        init.map(|(i, c)| ("initContainers", i, c))
            .chain(main.map(|(i, c)| ("containers", i, c)))
            .chain(eph.map(|(i, c)| ("ephemeralContainers", i, c)))
    }
}

/// The typed view of an object, by kind.
#[derive(Debug, Clone)]
pub enum Typed {
    Service(Box<ServiceSpec>),
    Ingress(Box<IngressSpec>),
    /// A Pod or a pod template; `spec_path` is the pod spec's JSON Pointer.
    Workload {
        spec: Box<PodSpec>,
        spec_path: &'static str,
    },
    /// Role or ClusterRole.
    Role {
        rules: Vec<PolicyRule>,
        aggregation: Option<AggregationRule>,
    },
    /// RoleBinding or ClusterRoleBinding.
    Binding {
        role_ref: RoleRef,
        subjects: Vec<Subject>,
    },
    NetworkPolicy(Box<NetworkPolicySpec>),
    /// A custom resource some rule reads (Istio, Traefik, cert-manager, kubeadm).
    Crd(Box<crate::crds::Crd>),
    /// Any other kind: rules read the raw JSON.
    Other,
}

/// Shape of the Ingress API the object was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngressApi {
    V1,
    /// `extensions/v1beta1` or `networking.k8s.io/v1beta1`: `backend`,
    /// `serviceName`/`servicePort`. The typed view is converted to v1.
    Legacy,
}

#[derive(Debug, Clone)]
pub struct Object<'a> {
    pub raw: &'a Value,
    pub api_version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    /// Position of the object in the reviewed input.
    pub index: usize,
    pub typed: Typed,
    pub ingress_api: IngressApi,
}

impl<'a> Object<'a> {
    /// Reads identity and the typed view. `index` is the position in the input.
    pub fn parse(raw: &'a Value, index: usize) -> Result<Object<'a>, Error> {
        let where_ = || format!("object #{index}");
        if !raw.is_object() {
            return Err(Error::input(format!(
                "{}: expected a Kubernetes object (a JSON object), found {}",
                where_(),
                type_name(raw)
            )));
        }
        let api_version = match raw.get("apiVersion") {
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            Some(other) => {
                return Err(Error::Object {
                    object: where_(),
                    path: "/apiVersion".into(),
                    message: format!("expected a non-empty string, found {}", type_name(other)),
                })
            }
            None => {
                return Err(Error::Object {
                    object: where_(),
                    path: "/apiVersion".into(),
                    message: "missing: every Kubernetes object needs apiVersion and kind".into(),
                })
            }
        };
        let kind = match raw.get("kind") {
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            Some(other) => {
                return Err(Error::Object {
                    object: where_(),
                    path: "/kind".into(),
                    message: format!("expected a non-empty string, found {}", type_name(other)),
                })
            }
            None => {
                return Err(Error::Object {
                    object: where_(),
                    path: "/kind".into(),
                    message: "missing: every Kubernetes object needs apiVersion and kind".into(),
                })
            }
        };
        let meta = raw.get("metadata");
        if let Some(m) = meta {
            if !m.is_object() && !m.is_null() {
                return Err(Error::Object {
                    object: format!("{kind} (object #{index})"),
                    path: "/metadata".into(),
                    message: format!("expected an object, found {}", type_name(m)),
                });
            }
        }
        let field = |key: &str| -> Result<Option<&'a str>, Error> {
            match meta.and_then(|m| m.get(key)) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(other) => Err(Error::Object {
                    object: format!("{kind} (object #{index})"),
                    path: format!("/metadata/{key}"),
                    message: format!("expected a string, found {}", type_name(other)),
                }),
            }
        };
        let name = match (field("name")?, field("generateName")?) {
            (Some(n), _) => n,
            (None, Some(g)) => g,
            (None, None) => "",
        };
        let namespace = field("namespace")?.filter(|ns| !ns.is_empty());
        for key in ["labels", "annotations"] {
            if let Some(m) = meta.and_then(|m| m.get(key)) {
                if !(m.is_object() || m.is_null()) {
                    return Err(Error::Object {
                        object: format!("{kind} {name}"),
                        path: format!("/metadata/{key}"),
                        message: format!("expected a map of strings, found {}", type_name(m)),
                    });
                }
            }
        }
        let mut obj = Object {
            raw,
            api_version,
            kind,
            name,
            namespace,
            index,
            typed: Typed::Other,
            ingress_api: IngressApi::V1,
        };
        obj.typed = obj.read_typed()?;
        Ok(obj)
    }

    fn read_typed(&mut self) -> Result<Typed, Error> {
        let group = self.group();
        Ok(match (group, self.kind) {
            ("", "Service") => {
                Typed::Service(Box::new(self.typed_at("/spec")?.unwrap_or_default()))
            }
            ("networking.k8s.io" | "extensions", "Ingress") => {
                if self.api_version.ends_with("v1beta1") {
                    self.ingress_api = IngressApi::Legacy;
                    let converted = self.raw.get("spec").map(legacy_ingress_to_v1);
                    let spec = match converted {
                        Some(v) => self.typed_value("/spec", &v)?,
                        None => IngressSpec::default(),
                    };
                    Typed::Ingress(Box::new(spec))
                } else {
                    Typed::Ingress(Box::new(self.typed_at("/spec")?.unwrap_or_default()))
                }
            }
            ("networking.k8s.io", "NetworkPolicy") => {
                Typed::NetworkPolicy(Box::new(self.typed_at("/spec")?.unwrap_or_default()))
            }
            ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => {
                if self.kind == "Role"
                    && self
                        .raw
                        .get("aggregationRule")
                        .is_some_and(|a| !a.is_null())
                {
                    // the API server drops it (or refuses it under strict field
                    // validation): read as aggregation, it would hide the rules
                    return Err(Error::Object {
                        object: self.display_name(),
                        path: "/aggregationRule".into(),
                        message:
                            "a Role has no aggregationRule (only ClusterRoles aggregate): the API \
                                  server drops the field or refuses the Role; remove it"
                                .into(),
                    });
                }
                Typed::Role {
                    rules: self.typed_at("/rules")?.unwrap_or_default(),
                    aggregation: self.typed_at("/aggregationRule")?,
                }
            }
            ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => Typed::Binding {
                role_ref: self.typed_at("/roleRef")?.unwrap_or_default(),
                subjects: self.typed_at("/subjects")?.unwrap_or_default(),
            },
            ("kubeadm.k8s.io", "ClusterConfiguration") => {
                self.check_kubeadm_extra_args()?;
                match crate::crds::read(self)? {
                    Some(crd) => Typed::Crd(Box::new(crd)),
                    None => Typed::Other,
                }
            }
            (g, kind) if is_workload_group(g) => match pod_spec_path(kind) {
                Some(spec_path) => Typed::Workload {
                    spec: Box::new(self.typed_at(spec_path)?.unwrap_or_default()),
                    spec_path,
                },
                None => Typed::Other,
            },
            _ => match crate::crds::read(self)? {
                Some(crd) => Typed::Crd(Box::new(crd)),
                None => Typed::Other,
            },
        })
    }

    /// kubeadm's `apiServer.extraArgs`, which the control-plane rules read:
    /// a map of scalars (up to v1beta3) or a list of `{name, value}` (from
    /// v1beta4). kubeadm refuses other shapes; skipping an entry instead
    /// would hide the flag it sets.
    fn check_kubeadm_extra_args(&self) -> Result<(), Error> {
        let fail = |path: String, message: String| Error::Object {
            object: self.display_name(),
            path,
            message,
        };
        let is_scalar =
            |v: &Value| matches!(v, Value::String(_) | Value::Bool(_) | Value::Number(_));
        match self.raw.get("apiServer") {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(fail(
                    "/apiServer".into(),
                    format!("expected an object, found {}", type_name(other)),
                ))
            }
        }
        match self.raw.pointer("/apiServer/extraArgs") {
            None | Some(Value::Null) => Ok(()),
            Some(Value::Object(map)) => match map.iter().find(|(_, v)| !is_scalar(v)) {
                Some((k, v)) => Err(fail(
                    format!("/apiServer/extraArgs/{}", escape_pointer(k)),
                    format!("expected a flag value (a string), found {}", type_name(v)),
                )),
                None => Ok(()),
            },
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let at = format!("/apiServer/extraArgs/{i}");
                    let Some(entry) = item.as_object() else {
                        return Err(fail(
                            at,
                            format!("expected {{name, value}}, found {}", type_name(item)),
                        ));
                    };
                    match entry.get("name") {
                        Some(Value::String(n)) if !n.is_empty() => {}
                        other => {
                            return Err(fail(
                                format!("{at}/name"),
                                format!(
                                    "expected the flag's name, found {}",
                                    other.map_or("nothing", type_name)
                                ),
                            ))
                        }
                    }
                    if let Some(v) = entry.get("value").filter(|v| !is_scalar(v) && !v.is_null()) {
                        return Err(fail(
                            format!("{at}/value"),
                            format!("expected a flag value (a string), found {}", type_name(v)),
                        ));
                    }
                }
                Ok(())
            }
            Some(other) => Err(fail(
                "/apiServer/extraArgs".into(),
                format!(
                    "expected a map of flags or a list of {{name, value}}, found {}",
                    type_name(other)
                ),
            )),
        }
    }

    pub(crate) fn typed_at<T: for<'de> Deserialize<'de>>(
        &self,
        pointer: &str,
    ) -> Result<Option<T>, Error> {
        match self.raw.pointer(pointer) {
            None => self.no_wrong_container(pointer).map(|()| None),
            Some(Value::Null) => Ok(None),
            Some(v) => self.typed_value(pointer, v).map(Some),
        }
    }

    /// A typed field is absent only when the walk to it ends at a missing
    /// (or null) member: an array or a scalar on the way, where the API
    /// expects an object, is a malformed object. Read as absent, the rules
    /// would judge an empty spec and point findings through it.
    fn no_wrong_container(&self, pointer: &str) -> Result<(), Error> {
        let mut at = self.raw;
        let mut path = String::new();
        for token in pointer.split('/').skip(1) {
            match at {
                Value::Object(map) => match map.get(token) {
                    Some(next) => at = next,
                    None => return Ok(()),
                },
                Value::Null => return Ok(()),
                other => {
                    return Err(Error::Object {
                        object: self.display_name(),
                        path,
                        message: format!("expected an object, found {}", type_name(other)),
                    })
                }
            }
            path.push('/');
            path.push_str(token);
        }
        Ok(())
    }

    fn typed_value<T: for<'de> Deserialize<'de>>(
        &self,
        pointer: &str,
        v: &Value,
    ) -> Result<T, Error> {
        // Plain deserialization: a path-tracking deserializer would instantiate
        // every visitor twice and double the wasm modules' code size.
        T::deserialize(v).map_err(|e| {
            let message = e.to_string();
            let path = match locate(v, &message) {
                Some(inner) => format!("{pointer}{inner}"),
                None => pointer.to_string(),
            };
            Error::Object {
                object: self.display_name(),
                path,
                message: template_hint(message),
            }
        })
    }

    /// API group: "" for the core group.
    pub fn group(&self) -> &'a str {
        match self.api_version.rsplit_once('/') {
            Some((g, _)) => g,
            None => "",
        }
    }

    pub fn reference(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version.to_string(),
            kind: self.kind.to_string(),
            namespace: self.namespace.map(str::to_string),
            name: self.name.to_string(),
        }
    }

    /// `shop/web` or `web`, for messages.
    pub fn display_name(&self) -> String {
        match self.namespace {
            Some(ns) => format!("{} {}/{}", self.kind, ns, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// Namespace to use for same-namespace lookups (unset means `default`
    /// when applied; admission requests always carry one).
    pub fn namespace_or_default(&self) -> &'a str {
        self.namespace.unwrap_or("default")
    }

    fn meta_map(&self, key: &str) -> Option<&'a Map<String, Value>> {
        self.raw.get("metadata")?.get(key)?.as_object()
    }

    /// An annotation's value; unquoted YAML booleans count as their text.
    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        scalar_text(self.meta_map("annotations")?.get(key)?)
    }

    pub fn annotations(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.meta_map("annotations")
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str(), scalar_text(v)?)))
    }

    pub fn label(&self, key: &str) -> Option<&'a str> {
        scalar_text(self.meta_map("labels")?.get(key)?)
    }

    pub fn labels(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.meta_map("labels")
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str(), scalar_text(v)?)))
    }

    /// Same kind, namespace and name: two versions of one object.
    pub fn same_identity(&self, other: &Object<'_>) -> bool {
        self.kind == other.kind
            && self.group() == other.group()
            && self.name == other.name
            && self.namespace_or_default() == other.namespace_or_default()
    }

    pub fn service(&self) -> Option<&ServiceSpec> {
        match &self.typed {
            Typed::Service(s) => Some(s),
            _ => None,
        }
    }

    pub fn ingress(&self) -> Option<&IngressSpec> {
        match &self.typed {
            Typed::Ingress(s) => Some(s),
            _ => None,
        }
    }

    /// The pod spec and its JSON Pointer, for Pods and pod templates.
    pub fn pod_spec(&self) -> Option<(&PodSpec, &'static str)> {
        match &self.typed {
            Typed::Workload { spec, spec_path } => Some((spec, spec_path)),
            _ => None,
        }
    }
}

/// A value that is an unrendered template placeholder (`${PORT}` where a
/// number belongs) says so: the file is to be rendered before it is checked.
fn template_hint(message: String) -> String {
    let quoted = message
        .strip_prefix("invalid type: string ")
        .and_then(|rest| rest.split_once(", expected "));
    match quoted {
        Some((value, expected)) if ["${", "{{", "%{"].iter().any(|m| value.contains(m)) => {
            format!(
                "{value} is an unrendered template placeholder where {expected} belongs: render the \
                 template first (envsubst, helm template…) and check the output"
            )
        }
        _ => message,
    }
}

/// Finds the node a serde error is about from the value it quotes
/// (`invalid type: string "eighty", expected i32`): the first scalar in
/// document order that renders the same. None when the message quotes nothing.
fn locate(v: &Value, message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))?;
    let (what, _) = rest.split_once(", expected")?;
    let want: Value = if let Some(s) = what.strip_prefix("string ") {
        serde_json::from_str(s).ok()?
    } else if let Some(n) = what
        .strip_prefix("integer `")
        .or_else(|| what.strip_prefix("floating point `"))
    {
        serde_json::from_str(n.trim_end_matches('`')).ok()?
    } else if let Some(b) = what.strip_prefix("boolean `") {
        Value::Bool(b.trim_end_matches('`') == "true")
    } else {
        let kind = match what {
            "map" => |v: &Value| v.is_object(),
            "sequence" => |v: &Value| v.is_array(),
            "null" | "unit value" => |v: &Value| v.is_null(),
            _ => return None,
        };
        return find_path(v, &|n| kind(n));
    };
    find_path(v, &|n| n == &want)
}

/// The pointer of the only node that matches, or the deepest pointer common
/// to all matches: never a precise-looking wrong answer.
fn find_path(v: &Value, hit: &dyn Fn(&Value) -> bool) -> Option<String> {
    let mut found: Vec<String> = Vec::new();
    collect_matches(v, String::new(), hit, &mut found);
    let first = found.first()?;
    let mut common: Vec<&str> = first.split('/').collect();
    for other in found.iter().skip(1) {
        let segs: Vec<&str> = other.split('/').collect();
        let same = common.iter().zip(&segs).take_while(|(a, b)| a == b).count();
        common.truncate(same);
    }
    Some(common.join("/"))
}

fn collect_matches(v: &Value, at: String, hit: &dyn Fn(&Value) -> bool, out: &mut Vec<String>) {
    // bounded: an error message never needs more than a few candidates
    if out.len() > 16 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{at}/{}", escape_pointer(k));
                if hit(c) {
                    out.push(p.clone());
                }
                collect_matches(c, p, hit, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                if hit(c) {
                    out.push(p.clone());
                }
                collect_matches(c, p, hit, out);
            }
        }
        _ => {}
    }
}

fn scalar_text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Bool(true) => Some("true"),
        Value::Bool(false) => Some("false"),
        _ => None,
    }
}

fn is_workload_group(group: &str) -> bool {
    matches!(group, "" | "apps" | "batch" | "extensions")
}

pub fn pod_spec_path(kind: &str) -> Option<&'static str> {
    POD_SPEC_PATHS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, p)| *p)
}

/// A JSON type's name for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// RFC 6901 escaping of one reference token.
pub fn escape_pointer(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Rewrites a v1beta1 Ingress spec into the v1 shape so one typed view serves
/// both: `backend` -> `defaultBackend`, `serviceName`/`servicePort` ->
/// `service.name`/`service.port.{number|name}`.
fn legacy_ingress_to_v1(spec: &Value) -> Value {
    let mut spec = spec.clone();
    if let Some(map) = spec.as_object_mut() {
        if let Some(b) = map.remove("backend") {
            map.insert("defaultBackend".into(), legacy_backend(b));
        }
        if let Some(Value::Array(rules)) = map.get_mut("rules") {
            for rule in rules {
                let paths = rule
                    .pointer_mut("/http/paths")
                    .and_then(Value::as_array_mut);
                for path in paths.into_iter().flatten() {
                    if let Some(p) = path.as_object_mut() {
                        if let Some(b) = p.remove("backend") {
                            p.insert("backend".into(), legacy_backend(b));
                        }
                        // v1beta1 allowed pathType to be omitted; v1 requires it
                        p.entry("pathType")
                            .or_insert_with(|| Value::String("ImplementationSpecific".into()));
                    }
                }
            }
        }
    }
    spec
}

fn legacy_backend(mut b: Value) -> Value {
    if let Some(map) = b.as_object_mut() {
        let name = map.remove("serviceName");
        let port = map.remove("servicePort");
        if name.is_some() || port.is_some() {
            let port = match port {
                Some(Value::Number(n)) => serde_json::json!({"number": n}),
                Some(Value::String(s)) => match s.parse::<i32>() {
                    Ok(n) => serde_json::json!({"number": n}),
                    Err(_) => serde_json::json!({"name": s}),
                },
                Some(other) => serde_json::json!({"number": other}),
                None => Value::Null,
            };
            let mut svc = Map::new();
            if let Some(n) = name {
                svc.insert("name".into(), n);
            }
            if !port.is_null() {
                svc.insert("port".into(), port);
            }
            map.insert("service".into(), Value::Object(svc));
        }
    }
    b
}

/// Path of a pod spec field for messages and patches, in the object's own shape.
pub fn join(base: &str, rest: &str) -> String {
    let mut s = String::with_capacity(base.len() + rest.len() + 1);
    s.push_str(base);
    if !rest.is_empty() {
        if !rest.starts_with('/') {
            s.push('/');
        }
        s.push_str(rest);
    }
    s
}

/// JSON Pointer of an Ingress field, mapped back to the shape the object was
/// written in (`/spec/defaultBackend` is `/spec/backend` in v1beta1).
impl Object<'_> {
    pub fn ingress_path(&self, v1_path: &str) -> String {
        if self.ingress_api == IngressApi::Legacy {
            if let Some(rest) = v1_path.strip_prefix("/spec/defaultBackend") {
                return format!("/spec/backend{rest}");
            }
        }
        v1_path.to_string()
    }
}
