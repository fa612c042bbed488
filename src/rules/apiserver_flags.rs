//! The kube-apiserver's command-line flags as the control-plane rules see
//! them, read from a kube-apiserver static Pod (or any workload running it)
//! and from a kubeadm `ClusterConfiguration`, each flag with the JSON Pointer
//! of where it is set, or of where it would go.

use crate::object::{escape_pointer, Container, Object};
use serde_json::Value;

/// Kinds the control-plane rules read, for their declarations.
pub const APISERVER_KINDS: &[&str] = &["Pod", "kubeadm.k8s.io/ClusterConfiguration"];

/// Boolean flags of kube-apiserver: the flag library takes their value only
/// as `--flag=value`, so `--anonymous-auth false` means true, followed by a
/// stray argument.
const BOOL_FLAGS: &[&str] = &[
    "allow-privileged",
    "anonymous-auth",
    "audit-log-compress",
    "audit-log-truncate-enabled",
    "audit-webhook-truncate-enabled",
    "contention-profiling",
    "enable-aggregator-routing",
    "enable-bootstrap-token-auth",
    "enable-garbage-collector",
    "enable-logs-handler",
    "enable-priority-and-fairness",
    "profiling",
    "service-account-extend-token-expiration",
];

/// What kubeadm writes into the kube-apiserver manifest unless `extraArgs`
/// overrides it, for the flags the rules read.
const KUBEADM_DEFAULTS: &[(&str, &str)] = &[
    ("authorization-mode", "Node,RBAC"),
    ("client-ca-file", "/etc/kubernetes/pki/ca.crt"),
    (
        "kubelet-client-certificate",
        "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
    ),
    (
        "kubelet-client-key",
        "/etc/kubernetes/pki/apiserver-kubelet-client.key",
    ),
    ("tls-cert-file", "/etc/kubernetes/pki/apiserver.crt"),
    ("tls-private-key-file", "/etc/kubernetes/pki/apiserver.key"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A container running kube-apiserver.
    Container,
    /// kubeadm's `ClusterConfiguration` (`apiServer.extraArgs`).
    Kubeadm,
}

/// One flag as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Without the leading `--`.
    pub name: String,
    pub value: String,
    /// Pointer to the element holding the value (`--flag=value` or the
    /// `value` after `--flag`).
    pub path: String,
    /// Written as a bare `--flag`, without a value.
    pub bare: bool,
}

/// A flag's effective value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting<'c> {
    pub value: &'c str,
    /// Where it is set; for a kubeadm default, where an override would go.
    pub path: &'c str,
    /// Set by kubeadm, not written in the object.
    pub defaulted: bool,
    /// Written as a bare `--flag`.
    pub bare: bool,
}

/// The flags of one kube-apiserver.
#[derive(Debug, Clone)]
pub struct ApiServerFlags {
    pub origin: Origin,
    /// `container kube-apiserver of Pod kube-system/kube-apiserver-cp1`, for messages.
    pub subject: String,
    /// JSON Pointer of the container running it (None for kubeadm).
    pub container: Option<String>,
    flags: Vec<Flag>,
    /// Where a new flag goes: a list's `-` or a map's key prefix.
    insert: Insert,
    defaults: Vec<(&'static str, &'static str, String)>,
}

#[derive(Debug, Clone)]
enum Insert {
    /// Append to the list at this pointer (`…/-`).
    List(String),
    /// A key of the map at this pointer.
    Map(String),
}

impl ApiServerFlags {
    /// Every kube-apiserver configured by the object: one per container
    /// running it, or the ClusterConfiguration's.
    pub fn read(obj: &Object<'_>) -> Vec<ApiServerFlags> {
        if obj.group() == "kubeadm.k8s.io" && obj.kind == "ClusterConfiguration" {
            return vec![read_kubeadm(obj)];
        }
        let Some((spec, spec_path)) = obj.pod_spec() else {
            return Vec::new();
        };
        spec.containers
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                read_container(c, &format!("{spec_path}/containers/{i}")).map(|mut f| {
                    f.subject = format!("container {} of {}", c.name, obj.display_name());
                    f.container = Some(format!("{spec_path}/containers/{i}"));
                    f
                })
            })
            .collect()
    }

    /// The flag's effective value: the last time it is written (later
    /// arguments win), else kubeadm's default.
    pub fn get(&self, name: &str) -> Option<Setting<'_>> {
        if let Some(f) = self.flags.iter().rev().find(|f| f.name == name) {
            return Some(Setting {
                value: &f.value,
                path: &f.path,
                defaulted: false,
                bare: f.bare,
            });
        }
        self.defaults
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, v, path)| Setting {
                value: v,
                path,
                defaulted: true,
                bare: false,
            })
    }

    /// Set to a non-empty value (an empty value is the flag's unset state).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some_and(|s| !s.value.trim().is_empty())
    }

    /// Where the flag is set, or where it would go.
    pub fn path(&self, name: &str) -> String {
        match self.flags.iter().rev().find(|f| f.name == name) {
            Some(f) => f.path.clone(),
            None => self.insert_path(name),
        }
    }

    /// Where the flag would go if it were added.
    pub fn insert_path(&self, name: &str) -> String {
        match &self.insert {
            Insert::List(p) => format!("{p}/-"),
            Insert::Map(p) => format!("{p}/{}", escape_pointer(name)),
        }
    }

    /// How to write the flag in this source, for messages.
    pub fn spelling(&self, name: &str, value: &str) -> String {
        match self.origin {
            Origin::Container => format!("`--{name}={value}`"),
            Origin::Kubeadm => format!("`{name}: \"{value}\"` in apiServer.extraArgs"),
        }
    }
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The flags of a container running kube-apiserver; None for other containers.
fn read_container(c: &Container, base: &str) -> Option<ApiServerFlags> {
    let command = c.command.as_deref().unwrap_or_default();
    let args = c.args.as_deref().unwrap_or_default();
    let skip = match command {
        [first, ..] if basename(first) == "kube-apiserver" => 1,
        // the old all-in-one binary: `hyperkube kube-apiserver …`
        [first, second, ..]
            if basename(first) == "hyperkube"
                && matches!(second.as_str(), "kube-apiserver" | "apiserver") =>
        {
            2
        }
        // no command: the image's entrypoint runs, kube-apiserver for its own images
        [] if c.image.as_deref().is_some_and(is_apiserver_image) => 0,
        _ => return None,
    };
    // the container's argv is command then args: `--flag` may end one list
    // and its value open the other
    let argv: Vec<(&str, String)> = command
        .iter()
        .enumerate()
        .skip(skip)
        .map(|(i, a)| (a.as_str(), format!("{base}/command/{i}")))
        .chain(
            args.iter()
                .enumerate()
                .map(|(i, a)| (a.as_str(), format!("{base}/args/{i}"))),
        )
        .collect();
    let flags = parse_args(&argv);
    // new flags go where the existing ones are written
    let insert = if !args.is_empty() || command.len() <= skip {
        format!("{base}/args")
    } else {
        format!("{base}/command")
    };
    Some(ApiServerFlags {
        origin: Origin::Container,
        subject: String::new(),
        container: None,
        flags,
        insert: Insert::List(insert),
        defaults: Vec::new(),
    })
}

/// `registry.k8s.io/kube-apiserver:v1.34.1`, `…/kube-apiserver-amd64@sha256:…`.
fn is_apiserver_image(image: &str) -> bool {
    let name = basename(image);
    let name = name.split(['@', ':']).next().unwrap_or(name);
    name == "kube-apiserver" || name.starts_with("kube-apiserver-")
}

/// Reads `--flag=value` and `--flag value` from arguments and their pointers.
fn parse_args(argv: &[(&str, String)]) -> Vec<Flag> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some((item, path)) = argv.get(i) {
        let Some(body) = item.strip_prefix("--").filter(|b| !b.is_empty()) else {
            i += 1;
            continue;
        };
        if let Some((name, value)) = body.split_once('=') {
            out.push(Flag {
                name: name.to_string(),
                value: value.to_string(),
                path: path.clone(),
                bare: false,
            });
            i += 1;
            continue;
        }
        let is_bool = BOOL_FLAGS.contains(&body);
        match argv.get(i + 1).filter(|(n, _)| !n.starts_with('-')) {
            Some((value, value_path)) if !is_bool => {
                out.push(Flag {
                    name: body.to_string(),
                    value: value.to_string(),
                    path: value_path.clone(),
                    bare: false,
                });
                i += 2;
            }
            _ => {
                // a bare boolean flag means true; a bare other flag is empty
                out.push(Flag {
                    name: body.to_string(),
                    value: if is_bool { "true" } else { "" }.to_string(),
                    path: path.clone(),
                    bare: true,
                });
                i += 1;
            }
        }
    }
    out
}

/// `apiServer.extraArgs`: a map of strings up to kubeadm.k8s.io/v1beta3, a
/// list of `{name, value}` from v1beta4 on. Entries of other shapes are
/// skipped: kubeadm itself rejects them.
fn read_kubeadm(obj: &Object<'_>) -> ApiServerFlags {
    let extra = obj.raw.pointer("/apiServer/extraArgs");
    let mut flags = Vec::new();
    let insert = match extra {
        Some(Value::Object(map)) => {
            for (name, v) in map {
                if let Some(value) = scalar(v) {
                    flags.push(Flag {
                        name: name.clone(),
                        value,
                        path: format!("/apiServer/extraArgs/{}", escape_pointer(name)),
                        bare: false,
                    });
                }
            }
            Insert::Map("/apiServer/extraArgs".into())
        }
        Some(Value::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                let name = item.get("name").and_then(Value::as_str);
                let value = item.get("value").map_or(Some(String::new()), scalar);
                if let (Some(name), Some(value)) = (name, value) {
                    flags.push(Flag {
                        name: name.to_string(),
                        value,
                        path: format!("/apiServer/extraArgs/{i}/value"),
                        bare: false,
                    });
                }
            }
            Insert::List("/apiServer/extraArgs".into())
        }
        _ if obj.api_version.ends_with("/v1beta3") || obj.api_version.ends_with("/v1beta2") => {
            Insert::Map("/apiServer/extraArgs".into())
        }
        _ => Insert::List("/apiServer/extraArgs".into()),
    };
    let mut out = ApiServerFlags {
        origin: Origin::Kubeadm,
        subject: format!("kubeadm {}", config_name(obj)),
        container: None,
        flags,
        insert,
        defaults: Vec::new(),
    };
    out.defaults = KUBEADM_DEFAULTS
        .iter()
        .map(|(n, v)| (*n, *v, out.insert_path(n)))
        .collect();
    out
}

/// A configuration file's name for messages: these kinds rarely carry one.
pub fn config_name(obj: &Object<'_>) -> String {
    if obj.name.is_empty() {
        obj.kind.to_string()
    } else {
        obj.display_name()
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean flag's value as Go's strconv.ParseBool reads it; None when
/// kube-apiserver would refuse it.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The comma-separated values of a list flag, trimmed, empty ones dropped.
pub fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn flags(v: &Value) -> Vec<ApiServerFlags> {
        let obj = Object::parse(v, 0).unwrap();
        ApiServerFlags::read(&obj)
    }

    #[test]
    fn command_and_args_both_forms_later_wins() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kube-apiserver-cp1", "namespace": "kube-system"},
            "spec": {"containers": [
                {"name": "sidecar", "image": "busybox", "command": ["sh"]},
                {"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.34.1",
                 "command": ["/usr/local/bin/kube-apiserver", "--authorization-mode", "AlwaysAllow",
                             "--anonymous-auth=false", "--profiling"],
                 "args": ["--authorization-mode=Node,RBAC", "--audit-policy-file", "/etc/audit.yaml"]}]}});
        let all = flags(&pod);
        assert_eq!(all.len(), 1);
        let f = &all[0];
        let mode = f.get("authorization-mode").unwrap();
        assert_eq!(
            (mode.value, mode.path),
            ("Node,RBAC", "/spec/containers/1/args/0")
        );
        let anon = f.get("anonymous-auth").unwrap();
        assert_eq!(
            (anon.value, anon.path),
            ("false", "/spec/containers/1/command/3")
        );
        assert_eq!(f.get("profiling").unwrap().value, "true");
        assert_eq!(
            f.get("audit-policy-file").unwrap().path,
            "/spec/containers/1/args/2"
        );
        assert_eq!(
            f.insert_path("oidc-issuer-url"),
            "/spec/containers/1/args/-"
        );
        assert!(f.get("tls-cert-file").is_none());
    }

    #[test]
    fn a_value_may_follow_its_flag_across_command_and_args() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
            "spec": {"containers": [{"name": "c", "command": ["kube-apiserver", "--audit-policy-file"],
                                     "args": ["/etc/audit.yaml"]}]}});
        let f = &flags(&pod)[0];
        let p = f.get("audit-policy-file").unwrap();
        assert_eq!(
            (p.value, p.path),
            ("/etc/audit.yaml", "/spec/containers/0/args/0")
        );
        assert_eq!(f.insert_path("x"), "/spec/containers/0/args/-");
    }

    #[test]
    fn a_boolean_flag_does_not_take_the_next_argument() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
            "spec": {"containers": [{"name": "c", "command": ["kube-apiserver", "--anonymous-auth", "false"]}]}});
        assert_eq!(flags(&pod)[0].get("anonymous-auth").unwrap().value, "true");
    }

    #[test]
    fn image_entrypoint_and_other_workloads() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
            "spec": {"template": {"spec": {"containers": [{"name": "c",
                "image": "registry.k8s.io/kube-apiserver-amd64@sha256:abc", "args": ["--tls-cert-file", "/c"]}]}}}});
        let f = &flags(&deploy)[0];
        assert_eq!(
            f.get("tls-cert-file").unwrap().path,
            "/spec/template/spec/containers/0/args/1"
        );
        let other = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
            "spec": {"containers": [{"name": "c", "image": "nginx", "args": ["--anonymous-auth=true"]}]}});
        assert!(flags(&other).is_empty());
    }

    #[test]
    fn kubeadm_map_and_list_with_defaults() {
        let v3 = json!({"apiVersion": "kubeadm.k8s.io/v1beta3", "kind": "ClusterConfiguration",
            "apiServer": {"extraArgs": {"anonymous-auth": false, "authorization-mode": "AlwaysAllow"}}});
        let f = &flags(&v3)[0];
        assert_eq!(f.get("anonymous-auth").unwrap().value, "false");
        let mode = f.get("authorization-mode").unwrap();
        assert_eq!(
            (mode.value, mode.path, mode.defaulted),
            (
                "AlwaysAllow",
                "/apiServer/extraArgs/authorization-mode",
                false
            )
        );
        let tls = f.get("tls-cert-file").unwrap();
        assert!(tls.defaulted);
        assert_eq!(
            f.insert_path("audit-log-path"),
            "/apiServer/extraArgs/audit-log-path"
        );

        let v4 = json!({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
            "apiServer": {"extraArgs": [{"name": "audit-log-path", "value": "-"}, {"name": "x"},
                                        {"name": "audit-log-path", "value": "/var/log/a.log"}]}});
        let f = &flags(&v4)[0];
        let audit = f.get("audit-log-path").unwrap();
        assert_eq!(
            (audit.value, audit.path),
            ("/var/log/a.log", "/apiServer/extraArgs/2/value")
        );
        assert_eq!(f.get("authorization-mode").unwrap().value, "Node,RBAC");
        assert_eq!(f.insert_path("x"), "/apiServer/extraArgs/-");
    }

    /// kubeadm refuses these shapes; skipped, they would hide the flag they set.
    #[test]
    fn malformed_extra_args_name_their_path() {
        for (api_server, path) in [
            (json!("nope"), "/apiServer"),
            (
                json!({"extraArgs": "anonymous-auth=true"}),
                "/apiServer/extraArgs",
            ),
            (
                json!({"extraArgs": {"anonymous-auth": ["true"]}}),
                "/apiServer/extraArgs/anonymous-auth",
            ),
            (
                json!({"extraArgs": [{"name": "a", "value": "1"}, "junk"]}),
                "/apiServer/extraArgs/1",
            ),
            (
                json!({"extraArgs": [{"name": 3, "value": "1"}]}),
                "/apiServer/extraArgs/0/name",
            ),
            (
                json!({"extraArgs": [{"value": "1"}]}),
                "/apiServer/extraArgs/0/name",
            ),
            (
                json!({"extraArgs": [{"name": "a", "value": {"v": 1}}]}),
                "/apiServer/extraArgs/0/value",
            ),
        ] {
            let v = json!({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
                "apiServer": api_server});
            match Object::parse(&v, 0) {
                Err(crate::Error::Object { path: p, .. }) => assert_eq!(p, path, "{v}"),
                other => panic!("{v}: {other:?}"),
            }
        }
    }
}
