use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::ingress_common::set_annotation_patch;
use crate::rules::{
    controller_advice, controller_of, gce_ingress_backed, has_ingress_neg, service_type,
    to_cluster_ip_patch, NEG_ANNOTATION,
};
use crate::{doc_refs, doc_text};

#[derive(Default)]
pub struct ServiceTypeNodePort;

static META: RuleMeta = RuleMeta {
    id: "service-type-nodeport",
    title: "Service of type NodePort",
    severity: Severity::High,
    category: Category::Exposure,
    kinds: &["Service"],
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[],
    what: doc_text!("Services of `type: NodePort`. The advice follows what the Service is for, read from the bundle: \
           an ingress or gateway controller's own Service (recognised by its labels or its selector's, or by \
           the image of the workload it selects) is the entry point and is to be exempted with a reason, not \
           made ClusterIP; a backend of an Ingress served by GKE's controller (class `gce` or `gce-internal`, \
           or no class and a GKE annotation) needs node ports unless container-native load balancing is on, \
           so the fix annotates it `cloud.google.com/neg: '{\"ingress\": true}'` before making it ClusterIP."),
    why: doc_text!("A NodePort opens the same port (30000-32767) on every node of the cluster, reachable by anything \
          that can reach a node, bypassing the Ingress and its TLS and authentication."),
    denied: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  type: NodePort\n  selector: {app: api}\n  ports:\n    - port: 8080\n      nodePort: 30080\n"),
    allowed: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  selector: {app: api}\n  ports:\n    - port: 8080\n"),
    references: doc_refs!(&["https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport"]),
};

plain_rule!(ServiceTypeNodePort, META);

impl Check for ServiceTypeNodePort {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.service() else { return };
        if service_type(spec) != "NodePort" {
            return;
        }
        let name = obj.display_name();
        let opens = format!(
            "{name} is of type NodePort: it opens a port on every node, reachable without the Ingress's TLS \
             and authentication."
        );
        if let Some(controller) = controller_of(obj, cx) {
            let advice = controller_advice(obj, META.id, controller);
            out.push(Hit::new("/spec/type", format!("{opens} {advice}")));
            return;
        }
        let gce = gce_ingress_backed(obj, cx).filter(|_| !has_ingress_neg(obj));
        let hit = match gce {
            None => Hit::new(
                "/spec/type",
                format!("{opens} Make it ClusterIP and expose it through the Ingress or Gateway."),
            )
            .fix(to_cluster_ip_patch(obj, spec)),
            Some((ingress, definite)) => {
                let served = if definite {
                    format!("It backs {ingress}, which GKE's Ingress controller serves:")
                } else {
                    format!(
                        "It backs {ingress}; if GKE's Ingress controller serves it (the default class on GKE),"
                    )
                };
                // the NEG annotation first: without it GKE's controller
                // cannot reach a ClusterIP backend; other controllers ignore it
                let mut fix = set_annotation_patch(obj, NEG_ANNOTATION, "{\"ingress\": true}");
                fix.extend(to_cluster_ip_patch(obj, spec));
                Hit::new(
                    "/spec/type",
                    format!(
                        "{opens} {served} that controller needs NodePort backends unless container-native load \
                         balancing is on, so do not just make it ClusterIP: annotate it `{NEG_ANNOTATION}: \
                         '{{\"ingress\": true}}'` (VPC-native clusters) and then make it ClusterIP; the load \
                         balancer then sends traffic straight to the pods."
                    ),
                )
                .fix(fix)
            }
        };
        out.push(hit);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    fn nodeport(extra: Value) -> Value {
        let mut svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}});
        if let (Some(m), Value::Object(e)) = (svc["metadata"].as_object_mut(), extra) {
            m.extend(e);
        }
        svc
    }

    fn ingress(annotations: Value, class: Option<&str>) -> Value {
        let mut ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
            "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}});
        if let Some(c) = class {
            ing["spec"]["ingressClassName"] = json!(c);
        }
        ing
    }

    fn finding(objects: Vec<Value>) -> crate::Finding {
        let report = crate::evaluate(&json!({"objects": objects}), crate::Host::default()).unwrap();
        let mut f: Vec<_> = report
            .findings()
            .filter(|f| f.rule == "service-type-nodeport")
            .cloned()
            .collect();
        assert_eq!(f.len(), 1, "{:?}", report.to_value());
        f.remove(0)
    }

    #[test]
    fn a_gce_backend_is_told_to_turn_negs_on_first() {
        let f = finding(vec![nodeport(json!({})), ingress(json!({}), Some("gce"))]);
        assert!(
            f.message.contains("GKE's Ingress controller serves"),
            "{}",
            f.message
        );
        assert!(f.message.contains("cloud.google.com/neg"), "{}", f.message);
        let fix = f.fix.unwrap();
        assert_eq!(
            fix[0],
            json!({"op": "add", "path": "/metadata/annotations", "value": {"cloud.google.com/neg": "{\"ingress\": true}"}})
        );
        assert_eq!(fix[1]["path"], "/spec/type");
        // an Ingress without a class but with a GKE annotation is GKE's too
        let f = finding(vec![
            nodeport(json!({})),
            ingress(
                json!({"kubernetes.io/ingress.global-static-ip-name": "web-ip"}),
                None,
            ),
        ]);
        assert!(
            f.message.contains("GKE's Ingress controller serves"),
            "{}",
            f.message
        );
        // without any class it may be
        let f = finding(vec![nodeport(json!({})), ingress(json!({}), None)]);
        assert!(
            f.message.contains("if GKE's Ingress controller serves it"),
            "{}",
            f.message
        );
    }

    #[test]
    fn negs_on_or_another_controller_keep_the_plain_advice() {
        let with_neg =
            nodeport(json!({"annotations": {"cloud.google.com/neg": "{\"ingress\": true}"}}));
        for objects in [
            vec![with_neg, ingress(json!({}), Some("gce"))],
            vec![nodeport(json!({})), ingress(json!({}), Some("nginx"))],
        ] {
            let f = finding(objects);
            assert!(f.message.contains("Make it ClusterIP"), "{}", f.message);
            assert_eq!(f.fix.unwrap()[0]["path"], "/spec/type");
        }
    }

    #[test]
    fn an_ingress_controllers_own_service_is_to_be_exempted() {
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
            "spec": {"type": "NodePort", "selector": {"app.kubernetes.io/name": "ingress-nginx",
                "app.kubernetes.io/component": "controller"}, "ports": [{"port": 80}]}});
        let f = finding(vec![svc]);
        assert!(
            f.message.contains("ingress-nginx, the entry point"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("names: [ingress-nginx-controller]"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("Make it ClusterIP"), "{}", f.message);
        assert!(f.fix.is_none());
    }
}
