//! The inputs every engine is measured on: typical admission requests as
//! the API server sends them (managed fields included), a mixed bundle and
//! a manifest tree for the CLI.

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// One benchmark input, as the JSON bytes a host receives.
pub struct Input {
    pub name: &'static str,
    pub json: Vec<u8>,
    pub objects: usize,
}

fn managed_fields(manager: &str) -> Value {
    json!([{
        "manager": manager,
        "operation": "Apply",
        "apiVersion": "v1",
        "time": "2026-11-28T09:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/name": {}, "f:app.kubernetes.io/part-of": {}}}, "f:spec": {}}
    }])
}

fn metadata(name: &str, namespace: Option<&str>, annotations: Value) -> Value {
    let mut m = json!({
        "name": name,
        "uid": format!("6f1c2d3e-{:04x}-4a5b-8c9d-0e1f2a3b4c5d", name.len()),
        "resourceVersion": "48213",
        "generation": 1,
        "creationTimestamp": "2026-11-28T09:00:00Z",
        "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "shop", "team": "checkout"},
        "annotations": annotations,
        "managedFields": managed_fields("kubectl"),
    });
    if let (Some(ns), Some(obj)) = (namespace, m.as_object_mut()) {
        obj.insert("namespace".into(), json!(ns));
    }
    m
}

/// A LoadBalancer Service with two ports: one finding with a fix.
pub fn service(name: &str, ns: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, Some(ns), json!({"prometheus.io/scrape": "true"})),
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app.kubernetes.io/name": name},
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}
            ],
            "sessionAffinity": "None",
            "externalTrafficPolicy": "Local",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack"
        }
    })
}

/// A ClusterIP or NodePort Service for the mixed bundle.
pub fn plain_service(name: &str, ns: &str, node_port: bool) -> Value {
    let mut s = service(name, ns);
    if let Some(spec) = s.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert(
            "type".into(),
            json!(if node_port { "NodePort" } else { "ClusterIP" }),
        );
        spec.remove("externalTrafficPolicy");
    }
    s
}

/// An NGINX Ingress with `hosts` hosts, TLS for all but the last, one wildcard.
/// Hosts are the Ingress's own, as in a real cluster: a bundle of them has no
/// host conflicts.
pub fn ingress(name: &str, ns: &str, hosts: usize) -> Value {
    let host = |i: usize| {
        if i == 0 {
            format!("*.{name}.example.com")
        } else {
            format!("h{i}.{name}.example.net")
        }
    };
    let rules: Vec<Value> = (0..hosts)
        .map(|i| {
            json!({
                "host": host(i),
                "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": format!("{name}-{i}"), "port": {"number": 80}}}},
                    {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": format!("{name}-api"), "port": {"name": "http"}}}}
                ]}
            })
        })
        .collect();
    let tls_hosts: Vec<String> = (0..hosts.saturating_sub(1)).map(host).collect();
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(name, Some(ns), json!({
            "nginx.ingress.kubernetes.io/ssl-redirect": "true",
            "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
            "cert-manager.io/cluster-issuer": "letsencrypt"
        })),
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": tls_hosts, "secretName": format!("{name}-tls")}],
            "rules": rules
        }
    })
}

fn container(name: &str, port: i64, host_port: bool) -> Value {
    let mut p = json!({"name": "http", "containerPort": port, "protocol": "TCP"});
    if host_port {
        if let Some(o) = p.as_object_mut() {
            o.insert("hostPort".into(), json!(port));
        }
    }
    json!({
        "name": name,
        "image": format!("registry.example.com/shop/{name}:1.4.2"),
        "imagePullPolicy": "IfNotPresent",
        "args": ["--listen=:8080", "--log-format=json"],
        "ports": [p],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
        "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]
    })
}

/// A Deployment with an app container and a sidecar; optionally on the host network.
pub fn deployment(name: &str, ns: &str, host: bool) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, Some(ns), json!({"deployment.kubernetes.io/revision": "3"})),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name}},
                "spec": {
                    "serviceAccountName": name,
                    "hostNetwork": host,
                    "containers": [container(name, 8080, host), container("envoy", 9901, false)],
                    "initContainers": [container("migrate", 8081, false)],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                    "securityContext": {"runAsUser": 10001, "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
                }
            }
        }
    })
}

/// A ClusterRole of an operator: several rules, one reading Secrets.
pub fn cluster_role(name: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(name, None, json!({})),
        "rules": [
            {"apiGroups": [""], "resources": ["pods", "services", "endpoints", "configmaps"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
            {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["get", "list", "watch", "update", "patch"]},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingresses/status"], "verbs": ["get", "list", "watch", "update"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}
        ]
    })
}

/// An AdmissionReview carrying `object` as a CREATE.
pub fn admission_review(object: &Value) -> Value {
    let kind = object.get("kind").cloned().unwrap_or(Value::Null);
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let meta = object.get("metadata");
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": "things"},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "name": meta.and_then(|m| m.get("name")).cloned().unwrap_or(Value::Null),
            "namespace": meta.and_then(|m| m.get("namespace")).cloned().unwrap_or(Value::Null),
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:ci:deployer", "uid": "c0ffee", "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions", "fieldManager": "kubectl"}
        }
    })
}

/// Object number `i` of a mixed bundle: Services, Ingresses, Deployments,
/// ConfigMaps, ClusterRoles, in proportions like a real cluster's.
pub fn mixed(i: usize) -> Value {
    let ns = format!("team-{}", i % 17);
    let name = format!("app-{i}");
    match i % 10 {
        0 | 1 => plain_service(&name, &ns, i % 20 == 1),
        2 => service(&name, &ns),
        3 => ingress(&name, &ns, 1 + i % 5),
        4..=6 => deployment(&name, &ns, i % 50 == 4),
        7 => cluster_role(&name),
        _ => json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(&name, Some(&ns), json!({})),
            "data": {"config.yaml": "listen: :8080\nlog: json\n", "feature-flags": "checkout=on"}
        }),
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// The four typical admission requests.
pub fn requests() -> Vec<Input> {
    let one = |name, v: Value| Input {
        name,
        json: bytes(&admission_review(&v)),
        objects: 1,
    };
    vec![
        one("Service (LoadBalancer)", service("web", "shop")),
        one("Ingress (5 hosts)", ingress("storefront", "shop", 5)),
        one("Deployment", deployment("checkout", "shop", false)),
        one("ClusterRole", cluster_role("shop-operator")),
    ]
}

/// A List of `n` mixed objects.
pub fn bundle(n: usize) -> Input {
    let items: Vec<Value> = (0..n).map(mixed).collect();
    Input {
        name: "bundle (1,000 objects, List)",
        json: bytes(&json!({"apiVersion": "v1", "kind": "List", "items": items})),
        objects: n,
    }
}

/// Writes `n` mixed objects as YAML, `per_file` documents a file, one folder
/// per namespace-ish group. Returns the bytes written.
pub fn write_tree(dir: &Path, n: usize, per_file: usize) -> std::io::Result<u64> {
    let mut total = 0u64;
    let per_file = per_file.max(1);
    for f in 0..n.div_ceil(per_file) {
        let sub = dir.join(format!("team-{}", f % 20));
        std::fs::create_dir_all(&sub)?;
        let mut text = String::new();
        for i in (f * per_file)..((f + 1) * per_file).min(n) {
            text.push_str("---\n");
            yaml(&mixed(i), 0, &mut text);
        }
        total += text.len() as u64;
        std::fs::write(sub.join(format!("manifests-{f:04}.yaml")), text)?;
    }
    Ok(total)
}

/// Writes one YAML document to `path`: a v1 List of `n` mixed objects, the
/// largest single document a repository holds (a rendered chart, an export).
/// Returns the bytes written.
pub fn write_list_document(path: &Path, n: usize) -> std::io::Result<u64> {
    let items: Vec<Value> = (0..n).map(mixed).collect();
    let mut text = String::new();
    yaml(
        &json!({"apiVersion": "v1", "kind": "List", "items": items}),
        0,
        &mut text,
    );
    std::fs::write(path, &text)?;
    Ok(text.len() as u64)
}

/// Block-style YAML; strings stay JSON-quoted, which YAML reads as double-quoted.
fn yaml(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, val) in m {
                let _ = write!(out, "{pad}{}:", scalar(&Value::String(k.clone())));
                child(val, indent, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for val in a {
                let _ = write!(out, "{pad}-");
                child(val, indent, out);
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", scalar(other));
        }
    }
}

fn child(val: &Value, indent: usize, out: &mut String) {
    match val {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            yaml(val, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            yaml(val, indent + 2, out);
        }
        other => {
            let _ = writeln!(out, " {}", scalar(other));
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_what_the_core_accepts() {
        for input in requests().into_iter().chain([bundle(50)]) {
            let answer = portcullis::evaluate_bytes(&input.json);
            assert!(answer.get("error").is_none(), "{}: {answer}", input.name);
            let objects = answer.pointer("/summary/objects").and_then(Value::as_u64);
            assert_eq!(objects, Some(input.objects as u64), "{}", input.name);
        }
    }

    #[test]
    fn yaml_tree_reads_back() {
        let mut text = String::new();
        for i in 0..10 {
            text.push_str("---\n");
            yaml(&mixed(i), 0, &mut text);
        }
        let docs = portcullis::yaml::load(&text);
        assert_eq!(docs.len(), 10);
        for (i, d) in docs.iter().enumerate() {
            assert_eq!(d.value.as_ref().ok(), Some(&mixed(i)), "document {i}");
        }
    }
}
