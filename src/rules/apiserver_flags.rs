//! The kube-apiserver's command-line flags as the control-plane rules see
//! them, read from a kube-apiserver static Pod (or any workload running it)
//! and from a kubeadm `ClusterConfiguration`, each flag with the JSON Pointer
//! of where it is set, or of where it would go.

use crate::object::{escape_pointer, Container, Object};
use crate::review::Context;
use crate::rules::common::with_workload_kinds;
use serde_json::Value;
use std::rc::Rc;

/// Kinds the control-plane rules read, for their declarations: every kind
/// with a pod spec (static Pods, and self-hosted control planes run as
/// DaemonSets or Deployments) and kubeadm's configuration.
pub const APISERVER_KINDS: &[&str] = with_workload_kinds!(; "kubeadm.k8s.io/ClusterConfiguration");

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
    /// Into the shell command string at this pointer.
    Script(String),
}

impl ApiServerFlags {
    /// Every kube-apiserver configured by the object: one per container
    /// running it, or the ClusterConfiguration's. Rules take the shared
    /// reading, [`ApiServerFlags::of`].
    fn read(obj: &Object<'_>) -> Vec<ApiServerFlags> {
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

    /// Every kube-apiserver configured by the object, read once per object
    /// and evaluation: the control-plane rules share one reading (a
    /// kube-apiserver with 130,000 arguments was read six times over).
    pub fn of(obj: &Object<'_>, cx: &Context<'_>) -> Rc<Vec<ApiServerFlags>> {
        cx.derived("apiserver-flags", obj, || ApiServerFlags::read(obj))
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
            Insert::Script(p) => p.clone(),
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

/// Programs that run the command given after their own arguments (go-runner
/// keeps kube-up's logs, flock serialises self-hosted restarts).
const WRAPPERS: &[&str] = &[
    "catatonit",
    "chrt",
    "dumb-init",
    "env",
    "exec",
    "flock",
    "go-runner",
    "gosu",
    "ionice",
    "nice",
    "nohup",
    "setpriv",
    "stdbuf",
    "su-exec",
    "taskset",
    "timeout",
    "tini",
];

/// Shells whose `-c` script may start kube-apiserver.
const SHELLS: &[&str] = &["ash", "bash", "dash", "ksh", "sh", "zsh"];

/// Where kube-apiserver's own arguments start in an argv.
enum Start {
    /// At this index of the argv.
    At(usize),
    /// In the shell script at this pointer: its words after kube-apiserver.
    Script { pointer: String, words: Vec<String> },
}

/// A word that may stand between a wrapper and the program it runs: an
/// option, a variable assignment, a number (`nice -n 10`) or a path (the
/// lock file of flock). Anything else is the program, and not ours.
fn wrapper_argument(word: &str) -> bool {
    word.starts_with('-')
        || word.contains('/')
        || word.chars().all(|c| c.is_ascii_digit())
        || word.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Finds kube-apiserver in an argv: the program itself, the all-in-one
/// `hyperkube apiserver`, behind wrappers, or started by a shell's `-c`
/// script. Naming it as the argument of another program (`kubectl delete pod
/// kube-apiserver`) is not running it.
fn find_apiserver(argv: &[(&str, String)], depth: usize) -> Option<Start> {
    let mut i = 0;
    while let Some((word, _)) = argv.get(i) {
        let program = basename(word);
        if program == "kube-apiserver" {
            return Some(Start::At(i + 1));
        }
        if program == "hyperkube" {
            let sub = argv.get(i + 1).map(|(w, _)| *w);
            return matches!(sub, Some("apiserver" | "kube-apiserver")).then_some(Start::At(i + 2));
        }
        if SHELLS.contains(&program) {
            let mut j = i + 1;
            let mut script = false;
            while let Some((opt, _)) = argv.get(j).filter(|(w, _)| w.starts_with('-')) {
                script |= !opt.starts_with("--") && opt.contains('c');
                j += 1;
            }
            let (text, pointer) = argv.get(j).filter(|_| script && depth < 2)?;
            return in_script(text, pointer, depth + 1);
        }
        let wraps = WRAPPERS.contains(&program) || (i > 0 && wrapper_argument(word));
        if !wraps {
            return None;
        }
        i += 1;
    }
    None
}

/// kube-apiserver in one of the commands of a shell script.
fn in_script(script: &str, pointer: &str, depth: usize) -> Option<Start> {
    for command in shell_commands(script) {
        let argv: Vec<(&str, String)> = command
            .iter()
            .map(|w| (w.as_str(), pointer.to_string()))
            .collect();
        match find_apiserver(&argv, depth) {
            Some(Start::At(i)) => {
                let words = command.get(i..).unwrap_or_default().to_vec();
                return Some(Start::Script {
                    pointer: pointer.to_string(),
                    words,
                });
            }
            Some(found) => return Some(found),
            None => {}
        }
    }
    None
}

/// The simple commands of a shell script, each as its words: quotes and
/// escapes resolved, redirections and comments dropped, split at `;`, `&`,
/// `&&`, `|`, `||` and line ends. Enough for the scripts that start a server,
/// not a shell.
fn shell_commands(script: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    // the next word is a redirection's target, to be dropped
    let mut target = false;
    let mut chars = script.chars().peekable();
    let end_word =
        |word: &mut String, in_word: &mut bool, target: &mut bool, words: &mut Vec<String>| {
            if *in_word {
                if *target {
                    *target = false;
                } else {
                    words.push(std::mem::take(word));
                }
            }
            word.clear();
            *in_word = false;
        };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(n) => {
                    word.push(n);
                    in_word = true;
                }
            },
            '\'' => {
                in_word = true;
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    word.push(n);
                }
            }
            '"' => {
                in_word = true;
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('\n') | None => {}
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some(e) => {
                                word.push('\\');
                                word.push(e);
                            }
                        },
                        n => word.push(n),
                    }
                }
            }
            '#' if !in_word => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                end_word(&mut word, &mut in_word, &mut target, &mut words);
                commands.push(std::mem::take(&mut words));
            }
            '>' | '<' => {
                // `2>&1`, `1>>/var/log/x`, `< in`: the fd number before it goes too
                if in_word && word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                end_word(&mut word, &mut in_word, &mut target, &mut words);
                while chars
                    .next_if(|n| matches!(n, '>' | '<' | '&' | '|'))
                    .is_some()
                {}
                target = true;
            }
            '&' if chars.peek() == Some(&'>') => {
                end_word(&mut word, &mut in_word, &mut target, &mut words);
                chars.next();
                chars.next_if_eq(&'>');
                target = true;
            }
            ';' | '&' | '|' | '\n' => {
                end_word(&mut word, &mut in_word, &mut target, &mut words);
                commands.push(std::mem::take(&mut words));
            }
            c if c.is_whitespace() => end_word(&mut word, &mut in_word, &mut target, &mut words),
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut target, &mut words);
    commands.push(words);
    commands.retain(|c| !c.is_empty());
    commands
}

/// The flags of a container running kube-apiserver; None for other containers.
fn read_container(c: &Container, base: &str) -> Option<ApiServerFlags> {
    let command = c.command.as_deref().unwrap_or_default();
    let args = c.args.as_deref().unwrap_or_default();
    // the container's argv is command then args: `--flag` may end one list
    // and its value open the other
    let argv: Vec<(&str, String)> = command
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), format!("{base}/command/{i}")))
        .chain(
            args.iter()
                .enumerate()
                .map(|(i, a)| (a.as_str(), format!("{base}/args/{i}"))),
        )
        .collect();
    let image = c.image.as_deref().unwrap_or_default();
    let start = if command.is_empty() && is_apiserver_image(image) {
        // no command: the image's entrypoint runs, kube-apiserver for its own images
        Start::At(0)
    } else if command.is_empty() && image_name(image) == "hyperkube" {
        // the all-in-one image runs the component its first argument names
        match args.first().map(String::as_str) {
            Some("apiserver" | "kube-apiserver") => Start::At(1),
            _ => return None,
        }
    } else {
        find_apiserver(&argv, 0)?
    };
    let (flags, insert) = match start {
        Start::At(from) => {
            let rest = argv.get(from..).unwrap_or_default();
            // new flags go where the existing ones are written
            let insert = if !args.is_empty() || from >= command.len() {
                format!("{base}/args")
            } else {
                format!("{base}/command")
            };
            (parse_args(rest), Insert::List(insert))
        }
        Start::Script { pointer, words } => {
            let argv: Vec<(&str, String)> = words
                .iter()
                .map(|w| (w.as_str(), pointer.clone()))
                .collect();
            (parse_args(&argv), Insert::Script(pointer))
        }
    };
    Some(ApiServerFlags {
        origin: Origin::Container,
        subject: String::new(),
        container: None,
        flags,
        insert,
        defaults: Vec::new(),
    })
}

/// An image's name without registry, tag or digest.
fn image_name(image: &str) -> &str {
    let name = basename(image);
    name.split(['@', ':']).next().unwrap_or(name)
}

/// `registry.k8s.io/kube-apiserver:v1.34.1`, `…/kube-apiserver-amd64@sha256:…`.
fn is_apiserver_image(image: &str) -> bool {
    let name = image_name(image);
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
        // `-` alone is a value (standard output for --audit-log-path)
        let value = argv
            .get(i + 1)
            .filter(|(n, _)| *n == "-" || !n.starts_with('-'));
        match value {
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
        // a map of strings up to v1beta3, a list from v1beta4 on
        _ if ["/v1beta1", "/v1beta2", "/v1beta3"]
            .iter()
            .any(|v| obj.api_version.ends_with(v)) =>
        {
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

    fn pod(command: Value, args: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "kube-system"},
            "spec": {"containers": [{"name": "c", "image": "example/control-plane:1",
                                     "command": command, "args": args}]}})
    }

    #[test]
    fn wrappers_before_the_apiserver_are_skipped() {
        let f = &flags(&pod(
            json!([
                "/go-runner",
                "--log-file=/var/log/kube-apiserver.log",
                "--also-stdout=false",
                "/usr/local/bin/kube-apiserver",
                "--anonymous-auth=false",
                "--audit-log-path",
                "-"
            ]),
            Value::Null,
        ))[0];
        let anon = f.get("anonymous-auth").unwrap();
        assert_eq!(
            (anon.value, anon.path),
            ("false", "/spec/containers/0/command/4")
        );
        assert_eq!(
            f.get("audit-log-path").unwrap().path,
            "/spec/containers/0/command/6"
        );
        // go-runner's own flags are not the apiserver's
        assert!(f.get("log-file").is_none());
        assert_eq!(f.insert_path("x"), "/spec/containers/0/command/-");

        let f = &flags(&pod(
            json!([
                "/usr/bin/flock",
                "/var/lock/api-server.lock",
                "/hyperkube",
                "apiserver"
            ]),
            json!(["--authorization-mode=RBAC"]),
        ))[0];
        assert_eq!(
            f.get("authorization-mode").unwrap().path,
            "/spec/containers/0/args/0"
        );
        assert_eq!(f.insert_path("x"), "/spec/containers/0/args/-");
    }

    #[test]
    fn shell_scripts_are_split_into_words() {
        let script = "mkdir -p /var/log && exec /usr/local/bin/kube-apiserver --v=2 \\\n  --anonymous-auth='false' \"--audit-policy-file=/etc/a b.yaml\" --token-auth-file /t 1>>/var/log/kube-apiserver.log 2>&1; echo done";
        let f = &flags(&pod(json!(["/bin/sh", "-c", script]), Value::Null))[0];
        let anon = f.get("anonymous-auth").unwrap();
        assert_eq!(
            (anon.value, anon.path),
            ("false", "/spec/containers/0/command/2")
        );
        assert_eq!(f.get("audit-policy-file").unwrap().value, "/etc/a b.yaml");
        assert_eq!(f.get("token-auth-file").unwrap().value, "/t");
        assert!(f.get("log-file").is_none());
        // a missing flag points at the script: there is no list to add it to
        assert_eq!(
            f.insert_path("oidc-issuer-url"),
            "/spec/containers/0/command/2"
        );
        // the script may come from args, after `-ec`
        let f = &flags(&pod(
            json!(["bash", "-ec"]),
            json!(["kube-apiserver --profiling=false"]),
        ))[0];
        assert_eq!(
            f.get("profiling").unwrap().path,
            "/spec/containers/0/args/0"
        );
        // a script inside a script
        let f = &flags(&pod(
            json!(["sh", "-c", "sh -c 'exec kube-apiserver --anonymous-auth=0'"]),
            Value::Null,
        ))[0];
        assert_eq!(f.get("anonymous-auth").unwrap().value, "0");
    }

    #[test]
    fn naming_the_apiserver_is_not_running_it() {
        for (command, args) in [
            (
                json!([
                    "kubectl",
                    "-n",
                    "kube-system",
                    "delete",
                    "pod",
                    "kube-apiserver"
                ]),
                Value::Null,
            ),
            (
                json!(["sh", "-c", "echo kube-apiserver; pkill kube-apiserver-old"]),
                Value::Null,
            ),
            (
                json!(["/app/server"]),
                json!(["--target", "/usr/local/bin/kube-apiserver"]),
            ),
            (
                json!(["sh", "/scripts/start-kube-apiserver.sh"]),
                Value::Null,
            ),
            (
                json!(["/hyperkube", "kubelet"]),
                json!(["--anonymous-auth=true"]),
            ),
        ] {
            assert!(flags(&pod(command.clone(), args)).is_empty(), "{command}");
        }
    }

    #[test]
    fn kubeadm_extra_args_are_a_map_up_to_v1beta3() {
        for version in ["v1beta1", "v1beta2", "v1beta3"] {
            let cfg = json!({"apiVersion": format!("kubeadm.k8s.io/{version}"),
                "kind": "ClusterConfiguration", "kubernetesVersion": "v1.20.0"});
            let f = &flags(&cfg)[0];
            assert_eq!(
                f.insert_path("audit-log-path"),
                "/apiServer/extraArgs/audit-log-path",
                "{version}"
            );
            assert_eq!(
                f.path("anonymous-auth"),
                "/apiServer/extraArgs/anonymous-auth"
            );
        }
        let v4 = json!({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration"});
        assert_eq!(flags(&v4)[0].insert_path("x"), "/apiServer/extraArgs/-");
    }

    #[test]
    fn apiserver_kinds_cover_every_workload_kind() {
        for kind in crate::rules::WORKLOAD_KINDS {
            assert!(APISERVER_KINDS.contains(kind), "{kind}");
        }
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
