use crate::crds::{IstioGateway, IstioServer};
use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::ingress_common::TlsCoverage;
use crate::rules::istio_common::{
    bare_host, carriage, has_credential, http_server_serves_nothing, is_egress, is_passthrough,
    protocol, terminates_with_own_certificate, tls_mode, Carriage,
};
use crate::{doc_refs, doc_text};
use serde_json::{json, Value};

#[derive(Default)]
pub struct IstioGatewayPlaintext;

static META: RuleMeta = RuleMeta {
    id: "istio-gateway-plaintext",
    title: "Istio Gateway server without TLS",
    severity: Severity::High,
    category: Category::Ingress,
    kinds: &["networking.istio.io/Gateway", "networking.istio.io/VirtualService"],
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[],
    what: doc_text!("Each server of an Istio `Gateway` (`networking.istio.io` v1, v1beta1 and v1alpha3). A server \
           whose protocol carries plaintext (`HTTP`, `HTTP2`, `GRPC`, `GRPC-WEB`, `TCP`, `MONGO`; Istio reads \
           protocol names without regard to case) is reported, unless it is an HTTP server with \
           `tls.httpsRedirect: true`, which answers every request with a redirect to HTTPS, or an HTTP or HTTP2 \
           server whose VirtualServices in the bundle or inventory (at least one names the Gateway in its \
           `gateways` and shares a host with the server) only redirect to https (`redirect.scheme: https`) \
           or only answer ACME HTTP-01 challenges (every `match` is a `uri` prefix or exact path under \
           `/.well-known/acme-challenge/`, which a certificate authority must reach over plain HTTP). An `HTTPS` or \
           `TLS` server is reported when it has no `tls` settings, or when it terminates TLS with a \
           certificate of its own (`tls.mode` `SIMPLE`, `MUTUAL` or `OPTIONAL_MUTUAL`) but names none: \
           no `credentialName`/`credentialNames`, no `serverCertificate` with `privateKey`, no \
           `tlsCertificates`. `PASSTHROUGH` (the mode when none is set), `AUTO_PASSTHROUGH` and \
           `ISTIO_MUTUAL` need no certificate here. A terminating server whose `minProtocolVersion` or \
           `maxProtocolVersion` is `TLSV1_0` or `TLSV1_1` is reported too. Egress gateways (a selector \
           value naming `egress`, as Istio's `istio: egressgateway`) carry the mesh's outbound traffic and \
           are not judged. The fix sets `httpsRedirect: true` when another server of the same Gateway \
           serves every host of the HTTP server over HTTPS, and raises an old minimum TLS version to \
           `TLSV1_2`."),
    why: doc_text!("An Istio ingress Gateway is the mesh's front door: a plaintext server hands credentials, \
          cookies and data to anyone on the path, however strict the mTLS inside the mesh. An HTTPS server \
          without a certificate is not served (or not as intended), and TLS 1.0 and 1.1 are deprecated \
          (RFC 8996) and refused by current browsers and compliance regimes."),
    denied: doc_text!("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: shop\n  namespace: istio-ingress\nspec:\n  selector:\n    istio: ingressgateway\n  servers:\n    - port: {number: 80, name: http, protocol: HTTP}\n      hosts: [shop.example.com]\n    - port: {number: 443, name: https, protocol: HTTPS}\n      hosts: [shop.example.com]\n      tls:\n        mode: SIMPLE\n        credentialName: shop-tls\n        minProtocolVersion: TLSV1_0\n"),
    allowed: doc_text!("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: shop\n  namespace: istio-ingress\nspec:\n  selector:\n    istio: ingressgateway\n  servers:\n    - port: {number: 80, name: http, protocol: HTTP}\n      hosts: [shop.example.com]\n      tls:\n        httpsRedirect: true\n    - port: {number: 443, name: https, protocol: HTTPS}\n      hosts: [shop.example.com]\n      tls:\n        mode: SIMPLE\n        credentialName: shop-tls\n        minProtocolVersion: TLSV1_2\n"),
    references: doc_refs!(&[
        "https://istio.io/latest/docs/reference/config/networking/gateway/",
        "https://istio.io/latest/docs/tasks/traffic-management/ingress/secure-ingress/",
        "https://www.rfc-editor.org/rfc/rfc8996",
    ]),
};

plain_rule!(IstioGatewayPlaintext, META);

/// `server \`https\` (port 443)` for messages.
fn describe(server: &IstioServer, i: usize) -> String {
    let port = server.port.as_ref();
    let name = server
        .name
        .as_deref()
        .or_else(|| port.and_then(|p| p.name.as_deref()))
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let what = match name {
        Some(n) => format!("server `{n}`"),
        None => format!("server #{i}"),
    };
    match port.and_then(|p| p.number) {
        Some(n) => format!("{what} (port {n})"),
        None => what,
    }
}

fn hosts(server: &IstioServer) -> Vec<&str> {
    server
        .hosts
        .iter()
        .flatten()
        .map(|h| bare_host(h))
        .filter(|h| !h.is_empty())
        .collect()
}

fn host_list(server: &IstioServer) -> String {
    let list: Vec<String> = hosts(server).iter().map(|h| format!("`{h}`")).collect();
    if list.is_empty() {
        "no host".to_string()
    } else {
        list.join(", ")
    }
}

/// Another server of the Gateway serves every host of `plain` over TLS, so
/// redirecting its clients there cannot send them into the void.
fn https_serves_all(secure: &TlsCoverage, plain: &IstioServer) -> bool {
    let wanted = hosts(plain);
    !wanted.is_empty() && wanted.iter().all(|h| secure.covers(Some(h)))
}

/// The hosts the HTTPS servers of a gateway serve securely, indexed once per
/// gateway: a gateway of a few MiB can hold tens of thousands of servers.
fn secure_hosts(gateway: &IstioGateway) -> TlsCoverage {
    let secure = gateway
        .servers
        .iter()
        .flatten()
        .filter(|s| protocol(s).as_deref() == Some("HTTPS"))
        .filter(|s| {
            s.tls.as_ref().is_some_and(|t| {
                let mode = tls_mode(t);
                is_passthrough(&mode) || has_credential(t) || mode == "ISTIO_MUTUAL"
            })
        });
    TlsCoverage::of_patterns(secure.flat_map(hosts))
}

fn old_tls(version: Option<&String>) -> Option<&str> {
    let v = version?.trim();
    matches!(v.to_ascii_uppercase().as_str(), "TLSV1_0" | "TLSV1_1").then_some(v)
}

impl Check for IstioGatewayPlaintext {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(gateway) = obj.istio_gateway() else {
            return;
        };
        if is_egress(gateway) {
            return;
        }
        let name = obj.display_name();
        let mut secure: Option<TlsCoverage> = None;
        for (i, server) in gateway.servers.iter().flatten().enumerate() {
            let Some(proto) = protocol(server) else {
                continue;
            };
            let what = describe(server, i);
            let at = format!("/spec/servers/{i}");
            let tls = server.tls.as_ref();
            match carriage(&proto) {
                Carriage::Plain => {
                    if tls.and_then(|t| t.https_redirect) == Some(true) && proto == "HTTP" {
                        continue;
                    }
                    if matches!(proto.as_str(), "HTTP" | "HTTP2")
                        && http_server_serves_nothing(obj, server, cx)
                    {
                        continue;
                    }
                    // a TCP server may still terminate TLS through its tls settings
                    if tls.is_some_and(|t| {
                        terminates_with_own_certificate(&tls_mode(t)) && has_credential(t)
                    }) {
                        continue;
                    }
                    let advice = if proto == "HTTP" {
                        "Serve these hosts on an HTTPS server with a credentialName and set \
                         `tls.httpsRedirect: true` here, so that only the redirect travels in the clear."
                    } else {
                        "Use protocol HTTPS or TLS with a credentialName (or PASSTHROUGH to a backend that \
                         terminates TLS itself)."
                    };
                    let mut hit = Hit::new(
                        at.clone(),
                        format!(
                            "{name} has {what} with protocol {proto} for {}: traffic through the mesh's front \
                             door is plaintext, readable and alterable by anyone on the path, whatever mTLS \
                             does inside. {advice}",
                            host_list(server)
                        ),
                    );
                    // the cause is the server's protocol and TLS settings, not its hosts
                    let cause = [format!("{at}/port"), format!("{at}/tls")];
                    hit = hit.evidence_at(obj, &[cause[0].as_str(), cause[1].as_str()]);
                    let secure = secure.get_or_insert_with(|| secure_hosts(gateway));
                    if proto == "HTTP" && https_serves_all(secure, server) {
                        let fix = if obj
                            .raw
                            .pointer(&format!("{at}/tls"))
                            .is_some_and(Value::is_object)
                        {
                            json!({"op": "add", "path": format!("{at}/tls/httpsRedirect"), "value": true})
                        } else {
                            json!({"op": "add", "path": format!("{at}/tls"), "value": {"httpsRedirect": true}})
                        };
                        hit = hit.fix(vec![fix]);
                    }
                    out.push(hit);
                }
                Carriage::Tls => {
                    let cause = [format!("{at}/port"), format!("{at}/tls")];
                    let cause = [cause[0].as_str(), cause[1].as_str()];
                    let Some(t) = tls else {
                        out.push(Hit::new(
                            at.clone(),
                            format!(
                                "{name} has {what} with protocol {proto} for {} but no tls settings: the \
                                 gateway has no certificate to present and no mode to run in, so the server is \
                                 refused or not served as meant. Add `tls` with `mode: SIMPLE` and a \
                                 credentialName (a kubernetes.io/tls Secret), or `mode: PASSTHROUGH` when \
                                 the backend terminates TLS.",
                                host_list(server)
                            ),
                        )
                        .evidence_at(obj, &cause));
                        continue;
                    };
                    let mode = tls_mode(t);
                    if terminates_with_own_certificate(&mode) && !has_credential(t) {
                        out.push(Hit::new(
                            format!("{at}/tls"),
                            format!(
                                "{name} has {what} terminating TLS (mode {mode}) for {} without a \
                                 certificate: no credentialName, credentialNames, serverCertificate with \
                                 privateKey, or tlsCertificates. The gateway cannot complete a handshake for \
                                 these hosts. Name the kubernetes.io/tls Secret in `credentialName`.",
                                host_list(server)
                            ),
                        )
                        .evidence_at(obj, &cause));
                    }
                    if !(terminates_with_own_certificate(&mode) || mode == "ISTIO_MUTUAL") {
                        continue;
                    }
                    let low_max = old_tls(t.max_protocol_version.as_ref());
                    if let Some(v) = old_tls(t.min_protocol_version.as_ref()) {
                        let path = format!("{at}/tls/minProtocolVersion");
                        let mut hit = Hit::new(
                            path.clone(),
                            format!(
                                "{name} has {what} accepting {v}: TLS 1.0 and 1.1 are deprecated (RFC 8996), \
                                 broken in known ways and refused by current browsers. Set \
                                 `minProtocolVersion: TLSV1_2`."
                            ),
                        );
                        if low_max.is_none() {
                            hit = hit.fix(vec![
                                json!({"op": "replace", "path": path, "value": "TLSV1_2"}),
                            ]);
                        }
                        out.push(hit);
                    }
                    if let Some(v) = low_max {
                        out.push(Hit::new(
                            format!("{at}/tls/maxProtocolVersion"),
                            format!(
                                "{name} has {what} capped at {v}: clients can only use TLS 1.0 or 1.1, \
                                 deprecated (RFC 8996) and refused by current browsers. Remove \
                                 `maxProtocolVersion` or set it to `TLSV1_3`."
                            ),
                        ));
                    }
                }
                Carriage::Unknown => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::ingress_common::findings_of;
    use serde_json::json;

    #[test]
    fn wrong_types_are_errors_at_their_path() {
        for (spec, path) in [
            (
                json!({"servers": [{"port": {"number": "80", "protocol": "HTTP"}}]}),
                "/spec/servers/0/port/number",
            ),
            (
                json!({"servers": [{"port": {"number": 80, "protocol": "HTTP"}, "tls": {"httpsRedirect": "yes"}}]}),
                "/spec/servers/0/tls/httpsRedirect",
            ),
            (json!({"servers": {"port": 80}}), "/spec/servers"),
            (
                json!({"selector": {"istio": 7}, "servers": []}),
                "/spec/selector/istio",
            ),
        ] {
            let gw = json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                "metadata": {"name": "g", "namespace": "n"}, "spec": spec});
            let e = crate::evaluate(&gw, crate::Host::default()).unwrap_err();
            assert_eq!(e.code(), "invalid-object", "{e}");
            assert_eq!(e.to_value()["path"], path, "{e}");
        }
    }

    #[test]
    fn a_wrong_type_in_a_virtual_service_is_an_error_at_its_path() {
        let vs = json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
            "metadata": {"name": "v", "namespace": "n"},
            "spec": {"gateways": ["g"], "http": [{"redirect": {"scheme": 443}}]}});
        let e = crate::evaluate(&vs, crate::Host::default()).unwrap_err();
        assert_eq!(e.code(), "invalid-object", "{e}");
        assert_eq!(e.to_value()["path"], "/spec/http/0/redirect/scheme", "{e}");
    }

    #[test]
    fn redirect_fix_only_when_https_serves_the_hosts() {
        let gw = |https_hosts: serde_json::Value| {
            json!({"objects": [{"apiVersion": "networking.istio.io/v1beta1", "kind": "Gateway",
                "metadata": {"name": "g", "namespace": "n"},
                "spec": {"servers": [
                    {"port": {"number": 80, "protocol": "http"}, "hosts": ["n/a.example.com"]},
                    {"port": {"number": 443, "protocol": "HTTPS"}, "hosts": https_hosts,
                     "tls": {"mode": "SIMPLE", "credentialName": "c"}}]}}],
                "settings": {"rules": {"istio-gateway-plaintext": "deny"}}})
        };
        let report = |input| {
            crate::evaluate(&input, crate::Host::default())
                .unwrap()
                .to_value()
        };
        let with = report(gw(json!(["*.example.com"])));
        assert_eq!(
            with["violations"][0]["fix"][0]["path"],
            "/spec/servers/0/tls"
        );
        let without = report(gw(json!(["b.example.com"])));
        assert!(without["violations"][0].get("fix").is_none(), "{without}");
        assert_eq!(
            findings_of("istio-gateway-plaintext", &gw(json!(["*"]))).len(),
            1
        );
    }
}
