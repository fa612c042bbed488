use crate::error::Error;
use crate::object::Object;
use crate::params::Params;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, ParamDoc, Rule, RuleMeta, Scope};
use crate::rules::{controller_advice, controller_of, service_type, to_cluster_ip_patch};
use crate::{doc_refs, doc_text};

pub struct ServiceTypeLoadBalancer;

static META: RuleMeta = RuleMeta {
    id: "service-type-loadbalancer",
    title: "Service of type LoadBalancer",
    severity: Severity::High,
    category: Category::Exposure,
    kinds: &["Service"],
    since: "0.1.0",
    scope: Scope::Bundle,
    params: &[ParamDoc {
        name: "allowInternal",
        kind: "bool",
        default: "true",
        help: "allow load balancers marked internal by their cloud's annotation",
    }],
    what: doc_text!("Services of `type: LoadBalancer`. A load balancer marked internal by its cloud's annotation \
           (AWS, Azure, GCP, OCI, IBM Cloud, Alibaba Cloud, OpenStack) is allowed unless `allowInternal: false`. \
           An ingress or gateway controller's own Service (recognised by its labels or its selector's, or by the \
           image of the workload of the bundle it selects) is still reported, with the advice to exempt it with \
           a reason rather than make it ClusterIP, which would cut the cluster off."),
    why: doc_text!("Every LoadBalancer Service gets its own external address: one more public entry point, with its \
          own TLS and authentication to get right, beside the Ingress that should be the only door. \
          It also opens a node port on every node."),
    denied: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  type: LoadBalancer\n  selector: {app: web}\n  ports:\n    - port: 80\n"),
    allowed: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  type: ClusterIP\n  selector: {app: web}\n  ports:\n    - port: 80\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer",
        "https://kubernetes.io/docs/concepts/services-networking/service/#internal-load-balancer",
    ]),
};

/// Annotation and the values that make a load balancer internal, per cloud.
const INTERNAL: &[(&str, &[&str])] = &[
    (
        "service.beta.kubernetes.io/aws-load-balancer-internal",
        &["true", "0.0.0.0/0"],
    ),
    (
        "service.beta.kubernetes.io/aws-load-balancer-scheme",
        &["internal"],
    ),
    (
        "service.beta.kubernetes.io/azure-load-balancer-internal",
        &["true"],
    ),
    ("networking.gke.io/load-balancer-type", &["internal"]),
    ("cloud.google.com/load-balancer-type", &["internal"]),
    (
        "service.beta.kubernetes.io/oci-load-balancer-internal",
        &["true"],
    ),
    (
        "oci-network-load-balancer.oraclecloud.com/internal",
        &["true"],
    ),
    (
        "service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type",
        &["private"],
    ),
    (
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type",
        &["intranet"],
    ),
    (
        "service.beta.kubernetes.io/openstack-internal-load-balancer",
        &["true"],
    ),
];

/// The annotation that marks this Service's load balancer internal, if any.
pub fn internal_annotation(obj: &Object<'_>) -> Option<&'static str> {
    INTERNAL.iter().find_map(|(key, values)| {
        let v = obj.annotation(key)?;
        values
            .iter()
            .any(|ok| v.eq_ignore_ascii_case(ok))
            .then_some(*key)
    })
}

struct Configured {
    allow_internal: bool,
}

impl Rule for ServiceTypeLoadBalancer {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn configure(&self, p: &mut Params<'_>) -> Result<Box<dyn Check>, Error> {
        Ok(Box::new(Configured {
            allow_internal: p.bool("allowInternal", true)?,
        }))
    }
}

impl Check for Configured {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.service() else { return };
        if service_type(spec) != "LoadBalancer" {
            return;
        }
        let internal = internal_annotation(obj);
        if self.allow_internal && internal.is_some() {
            return;
        }
        let note = match internal {
            Some(key) => format!(
                " It is marked internal ({key}), but this policy sets allowInternal: false."
            ),
            None => String::new(),
        };
        if let Some(controller) = controller_of(obj, cx) {
            let advice = controller_advice(obj, META.id, controller);
            out.push(Hit::new(
                "/spec/type",
                format!(
                    "{} is of type LoadBalancer: it gets its own external address and a port on every \
                     node.{note} {advice}",
                    obj.display_name()
                ),
            ));
            return;
        }
        out.push(
            Hit::new(
                "/spec/type",
                format!(
                    "{} is of type LoadBalancer: it gets its own external address, one more public entry point \
                     beside the Ingress, and a port on every node.{note} Make it ClusterIP and route to it through \
                     the Ingress or Gateway; if it must stay a load balancer, make it internal with your cloud's \
                     annotation or exempt it with a reason.",
                    obj.display_name()
                ),
            )
            .fix(to_cluster_ip_patch(obj, spec)),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn an_ingress_controllers_own_service_is_to_be_exempted_not_made_cluster_ip() {
        // the controller recognised by the image of the workload its selector picks
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "edge", "namespace": "traefik"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "edge"}, "ports": [{"port": 443}]}});
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "edge", "namespace": "traefik"},
            "spec": {"selector": {"matchLabels": {"app": "edge"}}, "template": {
                "metadata": {"labels": {"app": "edge", "tier": "edge"}},
                "spec": {"containers": [{"name": "traefik", "image": "docker.io/library/traefik:v3.1"}]}}}});
        let report =
            crate::evaluate(&json!({"objects": [svc, deploy]}), crate::Host::default()).unwrap();
        let f = report
            .findings()
            .find(|f| f.rule == "service-type-loadbalancer")
            .unwrap();
        assert!(f.message.contains("Service of Traefik"), "{}", f.message);
        assert!(f.message.contains("exemptions"), "{}", f.message);
        assert!(f.fix.is_none());
        // the same Service selecting an ordinary application keeps the usual advice and fix
        let plain = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}});
        let report = crate::evaluate(&plain, crate::Host::default()).unwrap();
        let f = report.findings().next().unwrap();
        assert!(f.message.contains("Make it ClusterIP"), "{}", f.message);
        assert!(f.fix.is_some());
        // by labels alone: the Istio gateway chart's east-west gateway
        let eastwest = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "istio-eastwest", "namespace": "istio-system",
                "labels": {"app": "istio-eastwest", "istio": "eastwest"}},
            "spec": {"type": "LoadBalancer", "selector": {"istio": "eastwest"}, "ports": [{"port": 15443}]}});
        let report = crate::evaluate(&eastwest, crate::Host::default()).unwrap();
        let f = report.findings().next().unwrap();
        assert!(
            f.message.contains("Istio east-west gateway"),
            "{}",
            f.message
        );
    }
}
