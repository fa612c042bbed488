//! The worst input each rule can be handed within the API server's limits:
//! one table, keyed by rule id, that every registered rule must appear in
//! (a test checks it, so a rule added later comes with its worst case).
//!
//! A generator builds its input from a unit count `n` (hosts, ports, rules,
//! subjects…, or objects for the rules that read the bundle). The harness
//! sizes `n` so that 8× is the limit: the largest object under the entry's
//! byte budget (3 MiB, the API server's request limit; 256 KiB where the
//! payload is annotations, which the API server caps at that in total), or
//! 10,000 objects for a bundle; 1× is an eighth of that. Objects stay valid
//! where validation runs before a validating webhook sees them (names and
//! hosts are DNS names), because only such objects reach admission.

// The generators edit objects they have just built with serde_json's
// `value["key"] = …`, which inserts into an object rather than failing; the
// lint is for reading untrusted input, which nothing here does.
#![allow(clippy::indexing_slicing)]

use serde_json::{json, Value};

/// The request limit of the API server: a single object is at most this.
pub const OBJECT_LIMIT: usize = 3 * 1024 * 1024;
/// The API server caps the annotations of one object at 256 KiB in total.
pub const ANNOTATIONS_LIMIT: usize = 256 * 1024;
/// Objects in the bundle of a cross-object rule at 8×.
pub const BUNDLE_OBJECTS: usize = 10_000;

/// How one rule's worst input is built.
#[derive(Clone, Copy)]
pub enum Build {
    /// One object from `n` units, sent as an UPDATE AdmissionReview whose
    /// oldObject is the same object: every rule runs twice and every finding
    /// goes through the ratchet, the most a single request can cost.
    Object {
        budget: usize,
        build: fn(usize) -> Value,
    },
    /// `n` objects, sent as one List (the CLI's and an audit's bundle).
    Bundle(fn(usize) -> Vec<Value>),
}

pub struct Worst {
    pub rule: &'static str,
    /// What the input is, for the report.
    pub what: &'static str,
    pub build: Build,
}

const fn object(build: fn(usize) -> Value) -> Build {
    Build::Object {
        budget: OBJECT_LIMIT,
        build,
    }
}

const fn annotated(build: fn(usize) -> Value) -> Build {
    Build::Object {
        budget: ANNOTATIONS_LIMIT,
        build,
    }
}

/// Every rule's worst case. Rules merged later add their line here.
pub static WORST: &[Worst] = &[
    // Exposure
    Worst {
        rule: "service-type-loadbalancer",
        what: "LoadBalancer Service, N ports each pinning a nodePort (the fix removes each)",
        build: object(|n| service("LoadBalancer", n, Ports::NodePorts)),
    },
    Worst {
        rule: "service-type-nodeport",
        what: "NodePort Service, N ports each pinning a nodePort",
        build: object(|n| service("NodePort", n, Ports::NodePorts)),
    },
    Worst {
        rule: "service-loadbalancer-node-ports",
        what: "LoadBalancer Service with allocateLoadBalancerNodePorts false, N pinned nodePorts",
        build: object(|n| {
            let mut s = service("LoadBalancer", n, Ports::NodePorts);
            s["spec"]["allocateLoadBalancerNodePorts"] = json!(false);
            s
        }),
    },
    Worst {
        rule: "service-loadbalancer-source-ranges",
        what: "LoadBalancer Service, N disjoint source ranges in falling order, every 7th invalid",
        build: object(|n| {
            let mut s = service("LoadBalancer", 1, Ports::Plain);
            let ranges: Vec<String> = (0..n)
                .rev()
                .map(|i| {
                    if i % 7 == 3 {
                        format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
                    } else {
                        format!("{}/32", v4(i * 2))
                    }
                })
                .collect();
            s["spec"]["loadBalancerSourceRanges"] = json!(ranges);
            s
        }),
    },
    Worst {
        rule: "service-external-ips",
        what: "ClusterIP Service, N externalIPs outside the (empty) allowlist",
        build: object(|n| {
            let mut s = service("ClusterIP", 1, Ports::Plain);
            let ips: Vec<String> = (0..n).map(|i| v4(i).to_string()).collect();
            s["spec"]["externalIPs"] = json!(ips);
            s
        }),
    },
    Worst {
        rule: "service-external-name",
        what: "N ExternalName Services aliasing relative names in namespaces of the bundle",
        build: Build::Bundle(|n| {
            (0..n)
                .map(|i| {
                    json!({"apiVersion": "v1", "kind": "Service",
                        "metadata": meta(&format!("alias-{i}"), &ns(i)),
                        "spec": {"type": "ExternalName",
                            "externalName": format!("db-{i}.{}", ns(i + 1))}})
                })
                .collect()
        }),
    },
    Worst {
        rule: "workload-host-network",
        what: "Pod on the host network, N containers with a port each (each binds a host port)",
        build: object(|n| {
            let containers: Vec<Value> = (0..n).map(|i| container(i, false)).collect();
            pod(json!({"hostNetwork": true, "containers": containers}))
        }),
    },
    Worst {
        rule: "workload-host-port",
        what: "Pod, N containers (init, regular, ephemeral) each with a hostPort and hostIP",
        build: object(|n| {
            let third = |k: usize| -> Vec<Value> {
                (0..n / 3 + 1).map(|i| container(i * 3 + k, true)).collect()
            };
            pod(json!({"initContainers": third(0), "containers": third(1),
                "ephemeralContainers": third(2)}))
        }),
    },
    // Ingress
    Worst {
        rule: "ingress-tls-missing",
        what: "Ingress without TLS, N rules with distinct hosts",
        build: object(|n| ingress(n, Tls::None, "nginx")),
    },
    Worst {
        rule: "ingress-host-without-tls",
        what: "Ingress, N rule hosts and one TLS entry listing N other hosts (no host covered)",
        build: object(|n| ingress(n, Tls::Others, "nginx")),
    },
    Worst {
        rule: "ingress-tls-secret",
        what: "N/2 Ingresses naming absent TLS Secrets, N/2 Secrets of other names in their namespace",
        build: Build::Bundle(|n| {
            (0..n)
                .map(|i| {
                    let k = i / 2;
                    if i % 2 == 0 {
                        let mut ing = ingress(1, Tls::All, "nginx");
                        ing["metadata"] = meta(&format!("web-{k}"), "shop");
                        ing["spec"]["tls"][0]["secretName"] = json!(format!("tls-{k}"));
                        ing
                    } else {
                        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                            "metadata": meta(&format!("other-tls-{k}"), "shop"),
                            "data": {"tls.crt": "", "tls.key": ""}})
                    }
                })
                .collect()
        }),
    },
    Worst {
        rule: "ingress-http-enabled",
        what: "GCE Ingress keeping HTTP, N TLS entries without a Secret (each scanned for a certificate)",
        build: object(|n| {
            let mut ing = ingress(1, Tls::All, "gce");
            let tls: Vec<Value> = (0..n)
                .map(|i| json!({"hosts": [host(i)], "secretName": ""}))
                .collect();
            ing["spec"]["tls"] = json!(tls);
            ing["metadata"]["annotations"] = json!({
                "nginx.ingress.kubernetes.io/ssl-redirect": "false",
                "nginx.ingress.kubernetes.io/force-ssl-redirect": "false",
                "kubernetes.io/ingress.allow-http": "true"});
            ing
        }),
    },
    Worst {
        rule: "ingress-auth-missing",
        what: "Ingress without authentication, N distinct hosts (all listed in its one finding)",
        build: object(|n| ingress(n, Tls::All, "nginx")),
    },
    Worst {
        rule: "ingress-auth-url-insecure",
        what: "Ingress whose plain-HTTP auth-url is N labels long (within the annotation limit)",
        build: annotated(|n| {
            let mut ing = ingress(1, Tls::All, "nginx");
            let url = format!("http://{}example.com:80/oauth2/auth", "a.".repeat(n * 8));
            ing["metadata"]["annotations"] =
                json!({"nginx.ingress.kubernetes.io/auth-url": url});
            ing
        }),
    },
    Worst {
        rule: "ingress-host-wildcard",
        what: "Ingress, N rules with wildcard hosts",
        build: object(|n| {
            let mut ing = ingress(n, Tls::None, "nginx");
            if let Some(rules) = ing["spec"]["rules"].as_array_mut() {
                for (i, r) in rules.iter_mut().enumerate() {
                    r["host"] = json!(format!("*.{}", host(i)));
                }
            }
            ing
        }),
    },
    Worst {
        rule: "ingress-host-conflict",
        what: "N Ingresses of one class, each claiming the same host and path",
        build: Build::Bundle(|n| {
            (0..n)
                .map(|i| {
                    let mut ing = ingress(1, Tls::All, "nginx");
                    ing["metadata"] = meta(&format!("web-{i}"), &ns(i));
                    ing["spec"]["rules"][0]["host"] = json!("shop.example.com");
                    ing["spec"]["tls"][0]["hosts"] = json!(["shop.example.com"]);
                    ing
                })
                .collect()
        }),
    },
    Worst {
        rule: "ingress-snippet-annotation",
        what: "Ingress with N NGINX snippet annotations (within the annotation limit)",
        build: annotated(|n| {
            let mut ing = ingress(1, Tls::All, "nginx");
            let annotations: serde_json::Map<String, Value> = (0..n)
                .map(|i| {
                    (
                        format!("nginx.ingress.kubernetes.io/s{i}-snippet"),
                        json!("more_set_headers \"X-A: b\";"),
                    )
                })
                .collect();
            ing["metadata"]["annotations"] = Value::Object(annotations);
            ing
        }),
    },
    Worst {
        rule: "gateway-listener-plaintext",
        what: "N/2 Gateways of 63 HTTP listeners and a TCP one, N/2 redirecting HTTPRoutes attached to them",
        build: Build::Bundle(|n| {
            let gateways = n / 2;
            (0..n)
                .map(|i| {
                    if i < gateways {
                        // the last one plain TCP: found without reading a route
                        let listeners: Vec<Value> = (0..64)
                            .map(|l| json!({"name": format!("l-{l}"),
                                "protocol": if l == 63 { "TCP" } else { "HTTP" },
                                "port": 8000 + l, "hostname": host(l)}))
                            .collect();
                        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                            "metadata": meta(&format!("gw-{i}"), "edge"),
                            "spec": {"gatewayClassName": "eg", "listeners": listeners}})
                    } else {
                        let g = i % gateways.max(1);
                        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                            "metadata": meta(&format!("redirect-{i}"), "edge"),
                            "spec": {"parentRefs": [{"name": format!("gw-{g}")}],
                                "rules": [{"filters": [{"type": "RequestRedirect",
                                    "requestRedirect": {"scheme": "https", "statusCode": 301}}]}]}})
                    }
                })
                .collect()
        }),
    },
    // Access
    Worst {
        rule: "rbac-wildcard",
        what: "ClusterRole, N rules with `*` in every field",
        build: object(|n| role(n, |_| json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}))),
    },
    Worst {
        rule: "rbac-anonymous-subject",
        what: "RoleBinding granting a role to N anonymous and unauthenticated subjects",
        build: object(|n| {
            binding("edit-all", n, |i| {
                let who = if i % 2 == 0 { "system:anonymous" } else { "system:unauthenticated" };
                json!({"kind": if i % 2 == 0 { "User" } else { "Group" },
                    "apiGroup": "rbac.authorization.k8s.io", "name": who})
            })
        }),
    },
    Worst {
        rule: "rbac-cluster-admin-binding",
        what: "ClusterRoleBinding of cluster-admin to N service accounts",
        build: object(|n| {
            binding("cluster-admin", n, |i| {
                json!({"kind": "ServiceAccount", "name": format!("sa-{i}"), "namespace": ns(i)})
            })
        }),
    },
    Worst {
        rule: "rbac-secrets-access",
        what: "ClusterRole, N rules reading Secrets",
        build: object(|n| {
            role(n, |i| json!({"apiGroups": ["", "apps"], "resources": ["configmaps", "secrets"],
                "verbs": ["get", "list", "watch"], "nonResourceURLs": null, "x": i}))
        }),
    },
    Worst {
        rule: "rbac-escalation-verbs",
        what: "ClusterRole, N rules granting escalate, bind, impersonate and pods/exec",
        build: object(|n| {
            role(n, |_| json!({"apiGroups": ["", "rbac.authorization.k8s.io"],
                "resources": ["roles", "clusterroles", "pods/exec", "pods/attach", "users"],
                "verbs": ["escalate", "bind", "impersonate", "create", "get"]}))
        }),
    },
    Worst {
        rule: "serviceaccount-token-automount",
        what: "N/2 Deployments each naming its own ServiceAccount, N/2 ServiceAccounts (in other namespaces)",
        build: Build::Bundle(|n| {
            (0..n)
                .map(|i| {
                    let k = i / 2;
                    if i % 2 == 0 {
                        let mut d = deployment(&format!("app-{k}"), "shop");
                        d["spec"]["template"]["spec"]["serviceAccountName"] = json!(format!("sa-{k}"));
                        d
                    } else {
                        json!({"apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": meta(&format!("sa-{k}"), &ns(k))})
                    }
                })
                .collect()
        }),
    },
    // Network
    Worst {
        rule: "namespace-default-deny-missing",
        what: "N/2 namespaces, each with one Deployment and one NetworkPolicy that denies nothing",
        build: Build::Bundle(|n| {
            (0..n)
                .map(|i| {
                    let k = i / 2;
                    if i % 2 == 0 {
                        deployment(&format!("app-{k}"), &format!("team-{k}"))
                    } else {
                        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                            "metadata": meta("allow-web", &format!("team-{k}")),
                            "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                                "ingress": [{"ports": [{"port": 80}]}]}})
                    }
                })
                .collect()
        }),
    },
    Worst {
        rule: "networkpolicy-allow-all",
        what: "NetworkPolicy, N ingress rules of 8 disjoint ipBlocks with excepts each, and one open to all",
        build: object(|n| {
            let mut rules: Vec<Value> = (0..n)
                .map(|i| {
                    let from: Vec<Value> = (0..8)
                        .map(|j| {
                            let base = (n - i) * 8 + j;
                            json!({"ipBlock": {"cidr": format!("{}/24", v4(base << 8)),
                                "except": [format!("{}/28", v4((base << 8) + 16))]}})
                        })
                        .collect();
                    json!({"from": from, "ports": [{"port": 443}]})
                })
                .collect();
            rules.push(json!({"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}));
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": meta("partners", "shop"),
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": rules}})
        }),
    },
    // Control plane
    Worst {
        rule: "apiserver-anonymous-auth",
        what: "kube-apiserver static Pod, one container with N flags (both spellings)",
        build: object(apiserver_pod),
    },
    Worst {
        rule: "apiserver-authorization",
        what: "kube-apiserver static Pod, one container with N flags (both spellings)",
        build: object(apiserver_pod),
    },
    Worst {
        rule: "apiserver-audit-logging",
        what: "kube-apiserver static Pod, one container with N flags (both spellings)",
        build: object(apiserver_pod),
    },
    Worst {
        rule: "apiserver-tls",
        what: "kube-apiserver static Pod, one container with N flags (both spellings)",
        build: object(apiserver_pod),
    },
    Worst {
        rule: "apiserver-external-authentication",
        what: "kubeadm ClusterConfiguration with N extraArgs",
        build: object(|n| {
            let args: Vec<Value> = (0..n)
                .map(|i| json!({"name": format!("feature-{i}"), "value": "true"}))
                .collect();
            json!({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
                "metadata": {"name": "cluster"},
                "apiServer": {"extraArgs": args}})
        }),
    },
    Worst {
        rule: "kubelet-insecure-config",
        what: "KubeletConfiguration with every insecure setting and N eviction thresholds",
        build: object(|n| {
            let eviction: serde_json::Map<String, Value> = (0..n)
                .map(|i| (format!("signal{i}.available"), json!("5%")))
                .collect();
            json!({"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
                "authentication": {"anonymous": {"enabled": true}},
                "authorization": {"mode": "AlwaysAllow"}, "readOnlyPort": 10255,
                "evictionHard": eviction})
        }),
    },
    // Versions
    Worst {
        rule: "api-version-removed",
        what: "extensions/v1beta1 Ingress (converted to v1), N rules with legacy backends",
        build: object(|n| {
            let rules: Vec<Value> = (0..n)
                .map(|i| json!({"host": host(i), "http": {"paths": [{"path": "/",
                    "backend": {"serviceName": format!("web-{i}"), "servicePort": "http"}}]}}))
                .collect();
            json!({"apiVersion": "extensions/v1beta1", "kind": "Ingress",
                "metadata": meta("legacy", "shop"),
                "spec": {"backend": {"serviceName": "web", "servicePort": 80}, "rules": rules}})
        }),
    },
    Worst {
        rule: "api-version-deprecated",
        what: "deprecated VolumeAttributesClass with N parameters",
        build: object(|n| {
            let params: serde_json::Map<String, Value> =
                (0..n).map(|i| (format!("p{i}"), json!("x"))).collect();
            json!({"apiVersion": "storage.k8s.io/v1beta1", "kind": "VolumeAttributesClass",
                "metadata": {"name": "fast"}, "driverName": "pd.csi.storage.gke.io",
                "parameters": params})
        }),
    },
    // Front doors
    Worst {
        rule: "cluster-version-unsupported",
        what: "kube-apiserver static Pod of an unsupported release, one container with N flags",
        build: object(|n| {
            let mut p = apiserver_pod(n);
            p["spec"]["containers"][0]["image"] = json!("registry.k8s.io/kube-apiserver:v1.29.0");
            p
        }),
    },
    Worst {
        rule: "ingress-certificate-hosts",
        what: "N/2 Gateways with an HTTPS listener, N/2 Certificates of their Secrets naming other hosts",
        build: Build::Bundle(|n| {
            (0..n)
                .map(|i| {
                    let k = i / 2;
                    if i % 2 == 0 {
                        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                            "metadata": meta(&format!("gw-{k}"), "edge"),
                            "spec": {"gatewayClassName": "eg", "listeners": [{"name": "https",
                                "protocol": "HTTPS", "port": 443, "hostname": host(k),
                                "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret",
                                    "name": format!("tls-{k}"), "namespace": "certs"}]}}]}})
                    } else {
                        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                            "metadata": meta(&format!("cert-{k}"), "certs"),
                            "spec": {"secretName": format!("tls-{k}"), "dnsNames": [format!("x{k}.example.com")],
                                "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}}})
                    }
                })
                .collect()
        }),
    },
    Worst {
        rule: "istio-gateway-plaintext",
        what: "Istio Gateway, N plain-HTTP servers for every host",
        build: object(|n| {
            let servers: Vec<Value> = (0..n)
                .map(|i| json!({"port": {"number": 8000 + i % 50000, "name": format!("http-{i}"),
                    "protocol": "HTTP"}, "hosts": ["*"]}))
                .collect();
            json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                "metadata": meta("public", "istio-ingress"),
                "spec": {"selector": {"istio": "ingressgateway"}, "servers": servers}})
        }),
    },
    Worst {
        rule: "istio-mtls-permissive",
        what: "PeerAuthentication, PERMISSIVE with N port-level PERMISSIVE entries",
        build: object(|n| {
            let ports: serde_json::Map<String, Value> = (0..n)
                .map(|i| ((1000 + i).to_string(), json!({"mode": "PERMISSIVE"})))
                .collect();
            json!({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                "metadata": meta("default", "shop"),
                "spec": {"mtls": {"mode": "PERMISSIVE"}, "portLevelMtls": ports}})
        }),
    },
    Worst {
        rule: "traefik-route-plaintext",
        what: "Traefik IngressRoute on the plain-HTTP entry point, N routes",
        build: object(|n| {
            let routes: Vec<Value> = (0..n)
                .map(|i| json!({"match": format!("Host(`{}`)", host(i)), "kind": "Rule",
                    "services": [{"name": "storefront", "port": 80}]}))
                .collect();
            json!({"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
                "metadata": meta("shop", "shop"),
                "spec": {"entryPoints": ["web"], "routes": routes}})
        }),
    },
];

/// The entry of a rule.
pub fn find(rule: &str) -> Option<&'static Worst> {
    WORST.iter().find(|w| w.rule == rule)
}

fn v4(i: usize) -> std::net::Ipv4Addr {
    // spread over public space, never 0.0.0.0/8
    std::net::Ipv4Addr::from(0x0b00_0000u32.wrapping_add(i as u32))
}

fn ns(i: usize) -> String {
    format!("team-{}", i % 97)
}

fn host(i: usize) -> String {
    format!("h{i}.shop.example.com")
}

fn meta(name: &str, namespace: &str) -> Value {
    json!({"name": name, "namespace": namespace, "labels": {"app": name}})
}

enum Ports {
    Plain,
    NodePorts,
}

fn service(kind: &str, n: usize, ports: Ports) -> Value {
    let ports: Vec<Value> = (0..n)
        .map(|i| {
            let mut p = json!({"name": format!("p{i}"), "port": 1000 + i % 60000,
                "targetPort": 8080, "protocol": "TCP"});
            if matches!(ports, Ports::NodePorts) {
                p["nodePort"] = json!(30000 + i % 2768);
            }
            p
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("web", "shop"),
        "spec": {"type": kind, "selector": {"app": "web"}, "ports": ports,
            "externalTrafficPolicy": "Local", "loadBalancerClass": "example.com/lb",
            "healthCheckNodePort": 32000}})
}

fn container(i: usize, host_port: bool) -> Value {
    let mut port = json!({"name": "http", "containerPort": 1024 + i % 60000, "protocol": "TCP"});
    if host_port {
        port["hostPort"] = json!(1024 + i % 60000);
        port["hostIP"] = json!("0.0.0.0");
    }
    json!({"name": format!("c{i}"), "image": "registry.example.com/app:1.0", "ports": [port]})
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta("web", "shop"), "spec": spec})
}

fn deployment(name: &str, namespace: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, namespace),
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1.0",
                    "ports": [{"containerPort": 8080}]}]}}}})
}

enum Tls {
    None,
    /// One entry listing every rule host.
    All,
    /// One entry listing as many hosts, none of them the rules'.
    Others,
}

fn ingress(n: usize, tls: Tls, class: &str) -> Value {
    let rules: Vec<Value> = (0..n)
        .map(|i| {
            json!({"host": host(i), "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}})
        })
        .collect();
    let mut spec = json!({"ingressClassName": class, "rules": rules});
    match tls {
        Tls::None => {}
        Tls::All => {
            let hosts: Vec<String> = (0..n).map(host).collect();
            spec["tls"] = json!([{"hosts": hosts, "secretName": "web-tls"}]);
        }
        Tls::Others => {
            let hosts: Vec<String> = (0..n).map(|i| format!("t{i}.shop.example.com")).collect();
            spec["tls"] = json!([{"hosts": hosts, "secretName": "web-tls"}]);
        }
    }
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": meta("web", "shop"), "spec": spec})
}

fn role(n: usize, rule: fn(usize) -> Value) -> Value {
    let rules: Vec<Value> = (0..n).map(rule).collect();
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "operator"}, "rules": rules})
}

fn binding(role: &str, n: usize, subject: fn(usize) -> Value) -> Value {
    let subjects: Vec<Value> = (0..n).map(subject).collect();
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": format!("{role}-binding")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects})
}

fn apiserver_pod(n: usize) -> Value {
    let mut command = vec![json!("kube-apiserver")];
    for i in 0..n {
        if i % 2 == 0 {
            command.push(json!(format!("--feature-{i}=true")));
        } else {
            command.push(json!(format!("--option-{i}")));
            command.push(json!("value"));
        }
    }
    command.push(json!("--anonymous-auth=true"));
    command.push(json!("--authorization-mode=AlwaysAllow"));
    command.push(json!("--insecure-port=8080"));
    command.push(json!("--tls-min-version=VersionTLS10"));
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "kube-apiserver-node1", "namespace": "kube-system"},
        "spec": {"hostNetwork": true, "containers": [{"name": "kube-apiserver",
            "image": "registry.k8s.io/kube-apiserver:v1.35.0", "command": command}]}})
}

/// An AdmissionReview of an UPDATE from `object` to itself.
pub fn update_review(object: &Value) -> Value {
    let kind = object.get("kind").cloned().unwrap_or(Value::Null);
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "b1e5b4f5-0000-4000-8000-000000000001",
            "kind": {"group": group, "version": version, "kind": kind},
            "operation": "UPDATE",
            "userInfo": {"username": "system:serviceaccount:ci:deployer"},
            "object": object, "oldObject": object}})
}

/// The request bytes of `w` at `n` units.
pub fn request(w: &Worst, n: usize) -> Vec<u8> {
    let v = match w.build {
        Build::Object { build, .. } => update_review(&build(n)),
        Build::Bundle(build) => json!({"apiVersion": "v1", "kind": "List", "items": build(n)}),
    };
    serde_json::to_vec(&v).unwrap_or_default()
}

/// `request` with every rule off: what reading the request and writing the
/// answer cost with no rule to run, the floor under every rule's figure.
pub fn floor_request(request: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(request)?;
    let off: serde_json::Map<String, Value> = portcullis::rules::RULES
        .iter()
        .map(|r| (r.meta().id.to_string(), json!("off")))
        .collect();
    let settings = json!({ "rules": off });
    let wrapped = match v.get_mut("request").map(Value::take) {
        // an AdmissionReview: the Kubewarden shape carries settings beside it
        Some(request) => json!({"request": request, "settings": settings}),
        None => {
            json!({"objects": v.get_mut("items").map_or(Value::Null, Value::take), "settings": settings})
        }
    };
    Ok(serde_json::to_vec(&wrapped)?)
}

/// Units at 8×: the largest `n` whose object fits the budget, or the bundle size.
pub fn units_at_limit(w: &Worst) -> usize {
    match w.build {
        Build::Bundle(_) => BUNDLE_OBJECTS,
        Build::Object { budget, build } => {
            let size = |n: usize| serde_json::to_vec(&build(n)).map_or(usize::MAX, |b| b.len());
            // the size grows about linearly in n: extrapolate from two small
            // objects, then step to the exact largest n that fits
            let (a, b) = (size(64), size(128));
            let per_unit = (b.saturating_sub(a) / 64).max(1);
            let mut n = (64 + budget.saturating_sub(a) / per_unit).max(1);
            while n > 1 && size(n) > budget {
                n = n * 99 / 100;
            }
            let mut step = (n / 100).max(1);
            while step > 0 {
                while size(n + step) <= budget {
                    n += step;
                }
                step /= 2;
            }
            n
        }
    }
}

/// What one worst case costs under wasmtime at 1× and 8× of its limit.
pub struct Row {
    pub rule: &'static str,
    pub what: &'static str,
    pub bundle: bool,
    /// Units (hosts, ports, rules…; objects for a bundle) at 8×.
    pub units: usize,
    /// Request bytes at 1× and 8×.
    pub bytes: (usize, usize),
    /// Median milliseconds per request at 1× and 8×.
    pub ms: (f64, f64),
    /// Median milliseconds of the 8× request with every rule off.
    pub floor_ms: f64,
    /// Linear memory of a fresh instance after one 8× request.
    pub memory: usize,
    /// Findings listed in the 8× answer, and the answer's bytes.
    pub findings: usize,
    pub answer_bytes: usize,
    /// The 8× request ran past [`DEADLINE`] and was cut off: `ms.1` is the
    /// deadline, and the other figures are not known.
    pub cut_off: bool,
}

impl Row {
    /// The growth exponent k in time ∝ bytesᵏ from 1× to 8×.
    pub fn exponent(&self) -> f64 {
        let size = self.bytes.1 as f64 / self.bytes.0.max(1) as f64;
        if self.ms.0 <= 0.0 || size <= 1.0 {
            return 0.0;
        }
        (self.ms.1 / self.ms.0).ln() / size.ln()
    }

    /// At most n log n: from 1× to 8×, n log n shows as an exponent a
    /// little above 1 (about 1.1 at these sizes); 1.3 leaves room for noise
    /// on a shared machine while n^1.5 or n² stand out.
    pub fn within_n_log_n(&self) -> bool {
        !self.cut_off && self.exponent() <= MAX_EXPONENT
    }

    /// The per-request goal, for single objects.
    pub fn within_time(&self) -> bool {
        !self.cut_off && (self.bundle || self.ms.1 <= OBJECT_MS)
    }
}

/// The growth exponent a rule may show from 1× to 8×.
pub const MAX_EXPONENT: f64 = 1.3;
/// Milliseconds one object up to the request limit may take under wasmtime.
pub const OBJECT_MS: f64 = 50.0;
/// One request that takes longer is cut off and reported as over it: a
/// rule gone quadratic must not keep `make bench` from finishing.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Median milliseconds of `runs` calls, fewer when one call takes seconds.
fn median_ms(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut t = Vec::new();
    for _ in 0..runs {
        let start = std::time::Instant::now();
        f()?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        t.push(ms);
        if ms > 2_000.0 {
            break;
        }
    }
    t.sort_by(f64::total_cmp);
    Ok(t.get(t.len() / 2).copied().unwrap_or(0.0))
}

/// Measures `w` in `generic`: one instance kept across calls (as a policy
/// server does), the first call of each size untimed.
pub fn measure(generic: &crate::wasm::Generic, w: &'static Worst) -> anyhow::Result<Row> {
    let n8 = units_at_limit(w);
    let n1 = (n8 / 8).max(1);
    let (small, big) = (request(w, n1), request(w, n8));
    let mut row = Row {
        rule: w.rule,
        what: w.what,
        bundle: matches!(w.build, Build::Bundle(_)),
        units: n8,
        bytes: (small.len(), big.len()),
        ms: (0.0, DEADLINE.as_secs_f64() * 1e3),
        floor_ms: 0.0,
        memory: 0,
        findings: 0,
        answer_bytes: 0,
        cut_off: false,
    };
    let mut fresh = generic.instance()?;
    fresh.deadline(DEADLINE)?;
    let started = std::time::Instant::now();
    let answer = match fresh.evaluate(&big) {
        Ok(bytes) => bytes,
        // a trap past the deadline: the rule is over every goal
        Err(_) if started.elapsed() >= DEADLINE => {
            row.cut_off = true;
            return Ok(row);
        }
        Err(e) => return Err(e.context(format!("{}: evaluating its worst case", w.rule))),
    };
    let answer: Value = serde_json::from_slice(&answer)?;
    if let Some(e) = answer.get("error") {
        anyhow::bail!("{}: the module rejected its worst case: {e}", w.rule);
    }
    row.memory = fresh.memory_bytes();
    row.findings = ["violations", "warnings"]
        .iter()
        .filter_map(|k| answer.get(*k).and_then(Value::as_array))
        .map(Vec::len)
        .sum();
    row.answer_bytes = serde_json::to_vec(&answer)?.len();
    drop(fresh);
    let mut guest = generic.instance()?;
    let mut timed = |input: &[u8]| -> anyhow::Result<()> {
        guest.deadline(DEADLINE)?;
        guest.evaluate(input).map(drop)
    };
    timed(&small)?;
    row.ms = (
        median_ms(7, || timed(&small))?,
        median_ms(5, || timed(&big))?,
    );
    let floor = floor_request(&big)?;
    timed(&floor)?;
    row.floor_ms = median_ms(3, || timed(&floor))?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule added to the catalogue must bring its worst case.
    #[test]
    fn every_rule_has_a_worst_case() {
        let missing: Vec<&str> = portcullis::rules::RULES
            .iter()
            .map(|r| r.meta().id)
            .filter(|id| find(id).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "no worst case in benches/src/worst.rs for: {missing:?}"
        );
        for w in WORST {
            assert!(
                portcullis::rules::find(w.rule).is_some(),
                "{}: no such rule",
                w.rule
            );
            assert_eq!(
                WORST.iter().filter(|x| x.rule == w.rule).count(),
                1,
                "{}",
                w.rule
            );
        }
    }

    /// Each worst case is accepted and makes its rule answer (the report checks
    /// the sizes at the limit: generating 3 MiB objects takes a while in a
    /// debug build).
    #[test]
    fn worst_cases_are_what_they_say() {
        for w in WORST {
            let answer = portcullis::evaluate_bytes(&request(w, 40));
            assert!(answer.get("error").is_none(), "{}: {answer}", w.rule);
            let hits = ["violations", "warnings"]
                .iter()
                .filter_map(|k| answer.get(*k).and_then(Value::as_array))
                .flatten()
                .filter(|f| f.get("rule").and_then(Value::as_str) == Some(w.rule))
                .count();
            // the ratchet turns an UPDATE's unchanged findings into warnings;
            // the rule must still find something
            assert!(
                hits > 0,
                "{}: its worst case finds nothing: {answer}",
                w.rule
            );
        }
    }
}
