//! Structure-aware inputs: a real Kubernetes input (JSON text), a NUL byte,
//! then bytes that drive mutations of its parsed value (replace, insert or
//! delete values at chosen nodes, duplicate array items, swap kinds, long
//! strings, deep nesting, a wrapper of another input shape). libFuzzer
//! mutates both halves; the value stays a real object most of the time,
//! which arbitrary bytes almost never are.
//!
//! Only serde_json is used here: the generic module's replay test in
//! wasm-tests includes this file to rebuild the same inputs.

use serde_json::{json, Value};

/// The bytes to evaluate for one structured input, or `None` when the JSON
/// half does not parse (the `evaluate` target covers broken JSON).
pub fn mutated(data: &[u8]) -> Option<Vec<u8>> {
    let cut = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (text, ops) = data.split_at(cut);
    let mut root: Value = serde_json::from_slice(text).ok()?;
    let mut bytes = Bytes {
        data: ops.get(1..).unwrap_or_default(),
        at: 0,
    };
    for _ in 0..MAX_OPS {
        // the API server takes objects up to about 3 MiB: nothing bigger
        // reaches a webhook, and duplications would otherwise grow without end
        if json_len(&root) > MAX_BYTES {
            break;
        }
        let Some(op) = bytes.u8() else { break };
        apply(&mut root, op, &mut bytes);
    }
    serde_json::to_vec(&root).ok()
}

/// The largest input mutations grow (an op at most doubles it, but for
/// duplications, which are bounded by this too).
const MAX_BYTES: usize = 3 << 20;

fn json_len(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

/// Mutations per input: enough to combine a few, few enough to stay fast.
const MAX_OPS: usize = 16;
/// The longest string a mutation writes (a 3 MiB object is the API server's limit).
const LONG: usize = 1 << 16;

struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let b = self.data.get(self.at).copied();
        self.at += 1;
        b
    }

    fn byte(&mut self) -> u8 {
        self.u8().unwrap_or(0)
    }

    fn u16(&mut self) -> usize {
        usize::from(self.byte()) << 8 | usize::from(self.byte())
    }

    fn pick<'t, T>(&mut self, table: &'t [T]) -> Option<&'t T> {
        let n = self.u16();
        table.get(n.checked_rem(table.len())?)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let from = self.at.min(self.data.len());
        let to = self.at.saturating_add(n).min(self.data.len());
        self.at = self.at.saturating_add(n);
        self.data.get(from..to).unwrap_or_default()
    }
}

/// Values the rules look at closely: addresses, ports, protocols, globs,
/// booleans as strings, and the wrong types.
fn interesting(i: u8) -> Value {
    let table: [Value; 40] = [
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(1),
        json!(80),
        json!(443),
        json!(65535),
        json!(65536),
        json!(30080),
        json!(1.5),
        json!(1e300),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(""),
        json!("*"),
        json!("*.example.com"),
        json!("0.0.0.0/0"),
        json!("::/0"),
        json!("10.0.0.0/8"),
        json!("203.0.113.7"),
        json!("fe80::1%eth0"),
        json!("LoadBalancer"),
        json!("NodePort"),
        json!("ClusterIP"),
        json!("ExternalName"),
        json!("localhost"),
        json!("true"),
        json!("false"),
        json!("TRUE"),
        json!("1"),
        json!("HTTP"),
        json!("HTTPS"),
        json!("PERMISSIVE"),
        json!("cluster-admin"),
        json!("system:anonymous"),
        json!({}),
        json!([]),
        json!("é\u{0}\u{feff}/~0~1"),
    ];
    let at = usize::from(i) % table.len();
    table.get(at).cloned().unwrap_or(Value::Null)
}

/// Keys the rules read, inserted where the fuzzer points.
const KEYS: [&str; 40] = [
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "annotations",
    "labels",
    "spec",
    "type",
    "ports",
    "port",
    "nodePort",
    "hostPort",
    "hostNetwork",
    "externalIPs",
    "externalName",
    "loadBalancerSourceRanges",
    "allocateLoadBalancerNodePorts",
    "rules",
    "host",
    "hosts",
    "tls",
    "secretName",
    "http",
    "paths",
    "backend",
    "containers",
    "template",
    "selector",
    "subjects",
    "roleRef",
    "verbs",
    "resources",
    "apiGroups",
    "ingressClassName",
    "servers",
    "mtls",
    "mode",
    "automountServiceAccountToken",
    "nginx.ingress.kubernetes.io/auth-url",
];

/// Kinds (with their apiVersion) the catalogue reads.
const KINDS: [(&str, &str); 24] = [
    ("v1", "Service"),
    ("v1", "Pod"),
    ("v1", "Namespace"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "CronJob"),
    ("extensions/v1beta1", "Ingress"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
    ("networking.istio.io/v1", "Gateway"),
    ("security.istio.io/v1", "PeerAuthentication"),
    ("traefik.io/v1alpha1", "IngressRoute"),
    ("cert-manager.io/v1", "Certificate"),
    ("kubeadm.k8s.io/v1beta3", "ClusterConfiguration"),
    ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"),
    ("v1", "List"),
];

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count).sum(),
        Value::Object(map) => map.values().map(count).sum(),
        _ => 0,
    }
}

/// The `n`th node in document order (the root is 0).
fn nth_mut<'v>(v: &'v mut Value, n: &mut usize) -> Option<&'v mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(items) => items.iter_mut().find_map(|item| nth_mut(item, n)),
        Value::Object(map) => map.values_mut().find_map(|item| nth_mut(item, n)),
        _ => None,
    }
}

fn node<'v>(root: &'v mut Value, bytes: &mut Bytes<'_>) -> Option<&'v mut Value> {
    let total = count(root);
    let mut n = bytes.u16().checked_rem(total)?;
    nth_mut(root, &mut n)
}

fn clone_of(root: &mut Value, bytes: &mut Bytes<'_>) -> Value {
    node(root, bytes).map(|v| v.clone()).unwrap_or(Value::Null)
}

fn long_string(bytes: &mut Bytes<'_>) -> Value {
    let unit = match bytes.byte() % 4 {
        0 => "a",
        1 => "a.",
        2 => "*.",
        _ => "é",
    };
    let len = (bytes.u16() % LONG).max(1);
    Value::String(unit.repeat(len / unit.len()))
}

fn nested(bytes: &mut Bytes<'_>, inner: Value) -> Value {
    let depth = usize::from(bytes.byte());
    let object = bytes.byte().is_multiple_of(2);
    (0..depth).fold(inner, |v, _| {
        if object {
            json!({ "spec": v })
        } else {
            json!([v])
        }
    })
}

/// The input wrapped as another of the shapes the contract accepts.
fn wrapped(root: Value, bytes: &mut Bytes<'_>) -> Value {
    let request = |object: Value, old: Option<Value>| {
        let mut r = json!({
            "uid": "fuzz", "operation": if old.is_some() { "UPDATE" } else { "CREATE" },
            "kind": {"group": "", "version": "v1", "kind": object.get("kind").cloned().unwrap_or(Value::Null)},
            "object": object,
        });
        if let (Some(m), Some(old)) = (r.as_object_mut(), old) {
            m.insert("oldObject".into(), old);
        }
        r
    };
    match bytes.byte() % 7 {
        0 => json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "request": request(root, None)}),
        1 => {
            let old = root.clone();
            request(root, Some(old))
        }
        2 => json!({"review": request(root, None), "parameters": {}}),
        3 => json!({"request": request(root, None), "settings": {}}),
        4 => json!({"objects": [root], "settings": {"profile": "strict"}}),
        5 => json!({"apiVersion": "v1", "kind": "List", "items": [root]}),
        _ => json!([root.clone(), root]),
    }
}

fn apply(root: &mut Value, op: u8, bytes: &mut Bytes<'_>) {
    match op % 12 {
        // replace a value
        0 => {
            let value = interesting(bytes.byte());
            if let Some(at) = node(root, bytes) {
                *at = value;
            }
        }
        // delete a member or an item
        1 => {
            let which = bytes.u16();
            match node(root, bytes) {
                Some(Value::Array(items)) if !items.is_empty() => {
                    items.remove(which % items.len());
                }
                Some(Value::Object(map)) if !map.is_empty() => {
                    if let Some(key) = map.keys().nth(which % map.len()).cloned() {
                        map.remove(&key);
                    }
                }
                _ => {}
            }
        }
        // duplicate an item, up to 255 times (many hosts, ports, rules)
        2 => {
            let (which, times) = (bytes.u16(), usize::from(bytes.byte()));
            if let Some(Value::Array(items)) = node(root, bytes) {
                if let Some(item) = items.get(which % items.len().max(1)).cloned() {
                    let times = times.min(MAX_BYTES / json_len(&item).max(1));
                    items.extend(std::iter::repeat_n(item, times));
                }
            }
        }
        // insert a key the rules read, with an interesting value or a copy of another node
        3 => {
            let key = bytes.pick(&KEYS).copied().unwrap_or("spec");
            let value = if bytes.byte().is_multiple_of(2) {
                interesting(bytes.byte())
            } else {
                clone_of(root, bytes)
            };
            if let Some(Value::Object(map)) = node(root, bytes) {
                map.insert(key.to_string(), value);
            }
        }
        // swap the kind of an object
        4 => {
            let (api, kind) = bytes.pick(&KINDS).copied().unwrap_or(("v1", "Service"));
            if let Some(Value::Object(map)) = node(root, bytes) {
                map.insert("apiVersion".into(), json!(api));
                map.insert("kind".into(), json!(kind));
            }
        }
        // nest a value deeply
        5 => {
            if let Some(at) = node(root, bytes) {
                let inner = std::mem::take(at);
                *at = nested(bytes, inner);
            }
        }
        // a long string
        6 => {
            let value = long_string(bytes);
            if let Some(at) = node(root, bytes) {
                *at = value;
            }
        }
        // a string of the fuzzer's own bytes
        7 => {
            let len = usize::from(bytes.byte());
            let value = Value::String(String::from_utf8_lossy(bytes.take(len)).into_owned());
            if let Some(at) = node(root, bytes) {
                *at = value;
            }
        }
        // copy one node over another
        8 => {
            let value = clone_of(root, bytes);
            if let Some(at) = node(root, bytes) {
                *at = value;
            }
        }
        // rename a member (a typo, another key the rules read)
        9 => {
            let key = bytes.pick(&KEYS).copied().unwrap_or("spec");
            let which = bytes.u16();
            if let Some(Value::Object(map)) = node(root, bytes) {
                if let Some(old) = map.keys().nth(which % map.len().max(1)).cloned() {
                    if let Some(v) = map.remove(&old) {
                        map.insert(key.to_string(), v);
                    }
                }
            }
        }
        // a map of many members (annotations, labels, selectors)
        10 => {
            let n = usize::from(bytes.byte());
            let value = interesting(bytes.byte());
            if let Some(Value::Object(map)) = node(root, bytes) {
                for i in 0..n {
                    map.insert(format!("k{i}.example.com/x"), value.clone());
                }
            }
        }
        // another input shape around the whole input
        _ => {
            let inner = std::mem::take(root);
            *root = wrapped(inner, bytes);
        }
    }
}
