//! The catalogue: one file per rule, and `RULES`, the only id -> rule map.
//! Adding a rule touches three places: its file, its line here, and its
//! cases under `policies/<rule-id>/` (plus its default in each profile).

use crate::rule::Rule;

mod common;
pub use common::*;

// --- Exposure
mod service_external_ips;
mod service_external_name;
mod service_loadbalancer_node_ports;
mod service_loadbalancer_source_ranges;
mod service_type_loadbalancer;
mod service_type_nodeport;
mod workload_host_network;
mod workload_host_port;

// --- Ingress
mod certmanager;
mod gateway_listener_plaintext;
mod ingress_auth_missing;
mod ingress_auth_url_insecure;
mod ingress_certificate_hosts;
pub mod ingress_common;
mod ingress_host_conflict;
mod ingress_host_wildcard;
mod ingress_host_without_tls;
mod ingress_http_enabled;
mod ingress_snippet_annotation;
mod ingress_tls_missing;
mod ingress_tls_secret;
pub mod istio_common;
mod istio_gateway_plaintext;
pub mod traefik_common;
mod traefik_route_plaintext;

// --- Access
mod rbac_anonymous_subject;
mod rbac_cluster_admin_binding;
mod rbac_common;
mod rbac_escalation_verbs;
mod rbac_secrets_access;
mod rbac_wildcard;
mod serviceaccount_token_automount;

// --- Network
mod istio_mtls_permissive;
mod namespace_default_deny_missing;
mod networkpolicy_allow_all;

// --- Control plane
mod apiserver_anonymous_auth;
mod apiserver_audit_logging;
mod apiserver_authorization;
mod apiserver_external_authentication;
pub mod apiserver_flags;
mod apiserver_tls;
mod kubelet_insecure_config;

// --- Versions
mod api_version_deprecated;
pub mod api_version_removed;
mod cluster_version_unsupported;

pub static RULES: &[&dyn Rule] = &[
    // Exposure
    &service_type_loadbalancer::ServiceTypeLoadBalancer,
    &service_type_nodeport::ServiceTypeNodePort,
    &service_loadbalancer_node_ports::ServiceLoadBalancerNodePorts,
    &service_loadbalancer_source_ranges::ServiceLoadBalancerSourceRanges,
    &service_external_ips::ServiceExternalIps,
    &service_external_name::ServiceExternalName,
    &workload_host_network::WorkloadHostNetwork,
    &workload_host_port::WorkloadHostPort,
    // Ingress
    &ingress_tls_missing::IngressTlsMissing,
    &ingress_host_without_tls::IngressHostWithoutTls,
    &ingress_tls_secret::IngressTlsSecret,
    &ingress_http_enabled::IngressHttpEnabled,
    &ingress_auth_missing::IngressAuthMissing,
    &ingress_auth_url_insecure::IngressAuthUrlInsecure,
    &ingress_host_wildcard::IngressHostWildcard,
    &ingress_host_conflict::IngressHostConflict,
    &ingress_snippet_annotation::IngressSnippetAnnotation,
    &gateway_listener_plaintext::GatewayListenerPlaintext,
    &istio_gateway_plaintext::IstioGatewayPlaintext,
    &traefik_route_plaintext::TraefikRoutePlaintext,
    &ingress_certificate_hosts::IngressCertificateHosts,
    // Access
    &rbac_wildcard::RbacWildcard,
    &rbac_anonymous_subject::RbacAnonymousSubject,
    &rbac_cluster_admin_binding::RbacClusterAdminBinding,
    &rbac_secrets_access::RbacSecretsAccess,
    &rbac_escalation_verbs::RbacEscalationVerbs,
    &serviceaccount_token_automount::ServiceAccountTokenAutomount,
    // Network
    &namespace_default_deny_missing::NamespaceDefaultDenyMissing,
    &networkpolicy_allow_all::NetworkPolicyAllowAll,
    &istio_mtls_permissive::IstioMtlsPermissive,
    // Control plane
    &apiserver_anonymous_auth::ApiServerAnonymousAuth,
    &apiserver_authorization::ApiServerAuthorization,
    &apiserver_audit_logging::ApiServerAuditLogging,
    &apiserver_tls::ApiServerTls,
    &apiserver_external_authentication::ApiServerExternalAuthentication,
    &kubelet_insecure_config::KubeletInsecureConfig,
    // Versions
    &api_version_removed::ApiVersionRemoved,
    &api_version_deprecated::ApiVersionDeprecated,
    &cluster_version_unsupported::ClusterVersionUnsupported,
];

/// A rule by id.
pub fn find(id: &str) -> Option<&'static dyn Rule> {
    RULES.iter().copied().find(|r| r.meta().id == id)
}
