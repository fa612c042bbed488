use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::{service_type, to_cluster_ip_patch};
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
    scope: Scope::Object,
    params: &[],
    what: doc_text!("Services of `type: NodePort`."),
    why: doc_text!("A NodePort opens the same port (30000-32767) on every node of the cluster, reachable by anything \
          that can reach a node, bypassing the Ingress and its TLS and authentication."),
    denied: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  type: NodePort\n  selector: {app: api}\n  ports:\n    - port: 8080\n      nodePort: 30080\n"),
    allowed: doc_text!("apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  selector: {app: api}\n  ports:\n    - port: 8080\n"),
    references: doc_refs!(&["https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport"]),
};

plain_rule!(ServiceTypeNodePort, META);

impl Check for ServiceTypeNodePort {
    fn check(&self, obj: &Object<'_>, _cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(spec) = obj.service() else { return };
        if service_type(spec) != "NodePort" {
            return;
        }
        out.push(
            Hit::new(
                "/spec/type",
                format!(
                    "{} is of type NodePort: it opens a port on every node, reachable without the Ingress's TLS \
                     and authentication. Make it ClusterIP and expose it through the Ingress or Gateway.",
                    obj.display_name()
                ),
            )
            .fix(to_cluster_ip_patch(obj, spec)),
        );
    }
}
