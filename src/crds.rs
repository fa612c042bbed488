//! Typed views of the custom resources the front-door rules read: Istio's
//! networking and security APIs, Traefik's IngressRoute and Middleware,
//! cert-manager's Certificate, and the version a kubeadm configuration asks
//! for. Each view mirrors the field names of the resource's schema for the
//! fields some rule reads and stops there, so that a wrong type in one of
//! them is an `invalid-object` error at its JSON Pointer, as it is for the
//! built-in kinds, while fields no rule reads stay unchecked.

use crate::error::Error;
use crate::object::{Object, Typed};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Istio's label selector as the networking API writes it: a plain map.
pub type Labels = BTreeMap<String, String>;

/// `networking.istio.io` Gateway (v1, v1beta1, v1alpha3 share the schema).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioGateway {
    pub selector: Option<Labels>,
    pub servers: Option<Vec<IstioServer>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioServer {
    pub port: Option<IstioPort>,
    pub hosts: Option<Vec<String>>,
    pub tls: Option<IstioServerTls>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioPort {
    pub number: Option<u32>,
    pub protocol: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioServerTls {
    pub https_redirect: Option<bool>,
    pub mode: Option<String>,
    pub credential_name: Option<String>,
    pub credential_names: Option<Vec<String>>,
    pub server_certificate: Option<String>,
    pub private_key: Option<String>,
    pub tls_certificates: Option<Vec<Map<String, Value>>>,
    pub min_protocol_version: Option<String>,
    pub max_protocol_version: Option<String>,
}

/// `networking.istio.io` VirtualService: the routes a Gateway's servers answer with.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VirtualService {
    pub hosts: Option<Vec<String>>,
    pub gateways: Option<Vec<String>>,
    pub http: Option<Vec<HttpRoute>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpRoute {
    #[serde(rename = "match")]
    pub matches: Option<Vec<HttpMatch>>,
    pub redirect: Option<HttpRedirect>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpMatch {
    pub uri: Option<StringMatch>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StringMatch {
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub regex: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpRedirect {
    pub scheme: Option<String>,
}

/// The security API's workload selector.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    pub match_labels: Option<Labels>,
}

/// `security.istio.io` PeerAuthentication (v1, v1beta1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerAuthentication {
    pub selector: Option<WorkloadSelector>,
    pub mtls: Option<Mtls>,
    /// Keyed by port number, written as a map key.
    pub port_level_mtls: Option<BTreeMap<String, Mtls>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Mtls {
    pub mode: Option<String>,
}

/// `security.istio.io` AuthorizationPolicy (v1, v1beta1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationPolicy {
    pub selector: Option<WorkloadSelector>,
    pub action: Option<String>,
    pub provider: Option<AuthzProvider>,
    pub rules: Option<Vec<AuthzRule>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthzProvider {
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthzRule {
    pub from: Option<Vec<AuthzFrom>>,
    pub to: Option<Vec<AuthzTo>>,
    pub when: Option<Vec<AuthzCondition>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthzFrom {
    pub source: Option<AuthzSource>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthzSource {
    pub principals: Option<Vec<String>>,
    pub request_principals: Option<Vec<String>>,
    pub not_request_principals: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthzTo {
    pub operation: Option<AuthzOperation>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthzOperation {
    pub hosts: Option<Vec<String>>,
    pub not_hosts: Option<Vec<String>>,
    pub paths: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthzCondition {
    pub key: Option<String>,
}

/// `security.istio.io` RequestAuthentication (v1, v1beta1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestAuthentication {
    pub selector: Option<WorkloadSelector>,
    pub jwt_rules: Option<Vec<JwtRule>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct JwtRule {
    pub issuer: Option<String>,
}

/// Traefik IngressRoute (`traefik.io/v1alpha1`, `traefik.containo.us/v1alpha1`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressRoute {
    pub entry_points: Option<Vec<String>>,
    pub routes: Option<Vec<TraefikRoute>>,
    pub tls: Option<TraefikTls>,
    /// Parent IngressRoutes (Traefik's multi-layer routing): their entry
    /// points, TLS and middlewares come first.
    pub parent_refs: Option<Vec<MiddlewareRef>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TraefikRoute {
    #[serde(rename = "match")]
    pub rule: Option<String>,
    pub middlewares: Option<Vec<MiddlewareRef>>,
    pub services: Option<Vec<Map<String, Value>>>,
}

/// A reference by name and namespace (Middlewares, parent IngressRoutes).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MiddlewareRef {
    pub name: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraefikTls {
    pub secret_name: Option<String>,
}

/// Traefik Middleware (same two groups as IngressRoute).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Middleware {
    pub forward_auth: Option<ForwardAuth>,
    pub basic_auth: Option<Map<String, Value>>,
    pub digest_auth: Option<Map<String, Value>>,
    pub redirect_scheme: Option<RedirectScheme>,
    pub redirect_regex: Option<RedirectRegex>,
    pub chain: Option<Chain>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ForwardAuth {
    pub address: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RedirectScheme {
    pub scheme: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RedirectRegex {
    pub replacement: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Chain {
    pub middlewares: Option<Vec<MiddlewareRef>>,
}

/// cert-manager Certificate (`cert-manager.io` v1 and its alphas and beta,
/// and the older `certmanager.k8s.io/v1alpha1`: the fields read are the same).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    pub secret_name: Option<String>,
    pub dns_names: Option<Vec<String>>,
    pub common_name: Option<String>,
}

/// The part of a kubeadm `ClusterConfiguration` the version rule reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmCluster {
    pub kubernetes_version: Option<String>,
}

/// One typed custom resource.
#[derive(Debug, Clone)]
pub enum Crd {
    IstioGateway(IstioGateway),
    VirtualService(VirtualService),
    PeerAuthentication(PeerAuthentication),
    AuthorizationPolicy(AuthorizationPolicy),
    RequestAuthentication(RequestAuthentication),
    IngressRoute(IngressRoute),
    Middleware(Middleware),
    Certificate(Certificate),
    KubeadmCluster(KubeadmCluster),
}

pub const ISTIO_NETWORKING: &str = "networking.istio.io";
pub const ISTIO_SECURITY: &str = "security.istio.io";
pub const TRAEFIK_GROUPS: &[&str] = &["traefik.io", "traefik.containo.us"];
pub const CERT_MANAGER_GROUPS: &[&str] = &["cert-manager.io", "certmanager.k8s.io"];

/// Reads the typed view of `obj` when it is one of the kinds above.
pub(crate) fn read(o: &Object<'_>) -> Result<Option<Crd>, Error> {
    let group = o.group();
    Ok(match o.kind {
        "Gateway" if group == ISTIO_NETWORKING => {
            Some(Crd::IstioGateway(o.typed_at("/spec")?.unwrap_or_default()))
        }
        "VirtualService" if group == ISTIO_NETWORKING => Some(Crd::VirtualService(
            o.typed_at("/spec")?.unwrap_or_default(),
        )),
        "PeerAuthentication" if group == ISTIO_SECURITY => Some(Crd::PeerAuthentication(
            o.typed_at("/spec")?.unwrap_or_default(),
        )),
        "AuthorizationPolicy" if group == ISTIO_SECURITY => Some(Crd::AuthorizationPolicy(
            o.typed_at("/spec")?.unwrap_or_default(),
        )),
        "RequestAuthentication" if group == ISTIO_SECURITY => Some(Crd::RequestAuthentication(
            o.typed_at("/spec")?.unwrap_or_default(),
        )),
        "IngressRoute" if TRAEFIK_GROUPS.contains(&group) => {
            Some(Crd::IngressRoute(o.typed_at("/spec")?.unwrap_or_default()))
        }
        "Middleware" if TRAEFIK_GROUPS.contains(&group) => {
            Some(Crd::Middleware(o.typed_at("/spec")?.unwrap_or_default()))
        }
        "Certificate" if CERT_MANAGER_GROUPS.contains(&group) => {
            Some(Crd::Certificate(o.typed_at("/spec")?.unwrap_or_default()))
        }
        "ClusterConfiguration" if group == "kubeadm.k8s.io" => {
            // the whole document is the configuration: read only its version
            let version = o.typed_at("/kubernetesVersion")?;
            Some(Crd::KubeadmCluster(KubeadmCluster {
                kubernetes_version: version,
            }))
        }
        _ => None,
    })
}

impl Object<'_> {
    fn crd(&self) -> Option<&Crd> {
        match &self.typed {
            Typed::Crd(c) => Some(c),
            _ => None,
        }
    }

    pub fn istio_gateway(&self) -> Option<&IstioGateway> {
        match self.crd()? {
            Crd::IstioGateway(g) => Some(g),
            _ => None,
        }
    }

    pub fn virtual_service(&self) -> Option<&VirtualService> {
        match self.crd()? {
            Crd::VirtualService(v) => Some(v),
            _ => None,
        }
    }

    pub fn peer_authentication(&self) -> Option<&PeerAuthentication> {
        match self.crd()? {
            Crd::PeerAuthentication(p) => Some(p),
            _ => None,
        }
    }

    pub fn authorization_policy(&self) -> Option<&AuthorizationPolicy> {
        match self.crd()? {
            Crd::AuthorizationPolicy(p) => Some(p),
            _ => None,
        }
    }

    pub fn request_authentication(&self) -> Option<&RequestAuthentication> {
        match self.crd()? {
            Crd::RequestAuthentication(r) => Some(r),
            _ => None,
        }
    }

    pub fn ingress_route(&self) -> Option<&IngressRoute> {
        match self.crd()? {
            Crd::IngressRoute(r) => Some(r),
            _ => None,
        }
    }

    pub fn middleware(&self) -> Option<&Middleware> {
        match self.crd()? {
            Crd::Middleware(m) => Some(m),
            _ => None,
        }
    }

    pub fn certificate(&self) -> Option<&Certificate> {
        match self.crd()? {
            Crd::Certificate(c) => Some(c),
            _ => None,
        }
    }

    pub fn kubeadm_cluster(&self) -> Option<&KubeadmCluster> {
        match self.crd()? {
            Crd::KubeadmCluster(k) => Some(k),
            _ => None,
        }
    }
}
