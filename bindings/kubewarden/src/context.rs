//! The core's cluster lookups as Kubewarden's context-aware host calls
//! (binding `kubewarden`, namespace `kubernetes`), and the host's answers and
//! errors back as the core's `Answer`. The payloads are the ones Kubewarden's
//! SDKs send; the error texts matched are the ones its policy-server gives.

use portcullis::cluster::{Answer, Lookup};
use serde_json::{json, Value};

/// Kubewarden's host calls, as the policy makes them.
pub trait Cluster {
    /// One call of binding `kubewarden`, namespace `kubernetes`: the answer,
    /// or the host's error text.
    fn call(&mut self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String>;
}

/// The refusal of a build with no Kubewarden host (the library run natively).
pub const NO_HOST: &str = "no Kubewarden host to ask (the policy runs outside Kubewarden)";

/// No host to ask: every call is refused, as Kubewarden refuses a policy
/// that was granted nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCluster;

impl Cluster for NoCluster {
    fn call(&mut self, _operation: &str, _payload: &[u8]) -> Result<Vec<u8>, String> {
        Err(NO_HOST.to_string())
    }
}

/// The operation and payload of one lookup at one apiVersion.
pub fn request(lookup: &Lookup, api_version: &str) -> (&'static str, Value) {
    let kind = lookup.kind().kind;
    match lookup {
        // the host caches a get for five seconds: enough for an admission burst
        Lookup::Get {
            namespace, name, ..
        } => (
            "get_resource",
            json!({"api_version": api_version, "kind": kind, "name": name,
                   "namespace": namespace, "disable_cache": false}),
        ),
        Lookup::List { namespace, .. } => (
            "list_resources_by_namespace",
            json!({"api_version": api_version, "kind": kind, "namespace": namespace,
                   "label_selector": null, "field_selector": null}),
        ),
        Lookup::ListAll { .. } => (
            "list_resources_all",
            json!({"api_version": api_version, "kind": kind,
                   "label_selector": null, "field_selector": null}),
        ),
    }
}

/// Asks the host for one lookup and reads what it says.
pub fn ask(cluster: &mut dyn Cluster, lookup: &Lookup, api_version: &str) -> Answer {
    let (operation, payload) = request(lookup, api_version);
    match cluster.call(operation, payload.to_string().as_bytes()) {
        Ok(bytes) => read(lookup, &bytes),
        Err(error) => classify(lookup, api_version, &error),
    }
}

/// A successful answer: the object of a get, the items of a list.
fn read(lookup: &Lookup, bytes: &[u8]) -> Answer {
    let value = match portcullis::parse_json(bytes) {
        Ok(v) => v,
        Err(e) => return Answer::Failed(format!("the host's answer is unreadable: {e}")),
    };
    match (lookup, value) {
        (Lookup::Get { .. }, object @ Value::Object(_)) => Answer::Objects(vec![object]),
        (Lookup::Get { .. }, other) => Answer::Failed(format!(
            "the host answered a {} instead of an object",
            portcullis::object::type_name(&other)
        )),
        (_, Value::Object(mut list)) => match list.remove("items") {
            Some(Value::Array(items)) => Answer::Objects(items),
            Some(Value::Null) | None => Answer::Objects(Vec::new()),
            Some(other) => Answer::Failed(format!(
                "the host's list holds a {} instead of items",
                portcullis::object::type_name(&other)
            )),
        },
        (_, other) => Answer::Failed(format!(
            "the host answered a {} instead of a list",
            portcullis::object::type_name(&other)
        )),
    }
}

/// Host errors that are answers: no object of that name, no such kind in
/// this cluster. Everything else is a failure, worded for the operator.
fn classify(lookup: &Lookup, api_version: &str, error: &str) -> Answer {
    let kind = lookup.kind().kind;
    let error = shorten(error.trim());
    // policy-server: "Cannot find v1/Secret named 'x' inside of namespace 'Some("shop")'"
    if matches!(lookup, Lookup::Get { .. })
        && error.contains(&format!("Cannot find {api_version}/{kind} named '"))
    {
        return Answer::NotFound;
    }
    // discovery: the kind (or its group or version) is not served, its CRD not installed
    let not_served = error.contains(&format!("Cannot find resource {api_version}/{kind}"))
        || (error.contains("error finding resource")
            && (error.contains("404") || error.contains("NotFound")));
    if not_served {
        return Answer::NotServed;
    }
    let reason = if error.contains("has not been granted access") {
        format!(
            "Kubewarden does not let this policy read {api_version} {kind} ({error}); only a \
             ClusterAdmissionPolicy listing it under contextAwareResources may"
        )
    } else if error.contains("forbidden") || error.contains("Forbidden") {
        format!(
            "the policy server's ServiceAccount may not read {api_version} {kind} ({error}); \
             grant it with policies/kubewarden/context-rbac.yaml"
        )
    } else if error.is_empty() {
        "the host call failed without saying why".to_string()
    } else {
        format!("the host answered: {error}")
    };
    Answer::Failed(reason)
}

/// Host errors can carry whole API responses: a warning keeps the first 300 characters.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis::cluster::{CERTIFICATE, INGRESS, SECRET};

    #[test]
    fn payloads_are_the_sdks() {
        let (op, p) = request(&Lookup::get(&SECRET, "shop", "web-tls"), "v1");
        assert_eq!(op, "get_resource");
        assert_eq!(
            p,
            json!({"api_version": "v1", "kind": "Secret", "name": "web-tls",
                   "namespace": "shop", "disable_cache": false})
        );
        let (op, p) = request(&Lookup::list_all(&INGRESS), "networking.k8s.io/v1");
        assert_eq!(op, "list_resources_all");
        assert_eq!(p["kind"], "Ingress");
        assert!(p.get("namespace").is_none());
        let (op, p) = request(&Lookup::list(&CERTIFICATE, "shop"), "cert-manager.io/v1");
        assert_eq!(op, "list_resources_by_namespace");
        assert_eq!(p["namespace"], "shop");
    }

    #[test]
    fn host_errors_are_read_as_policy_server_words_them() {
        let get = Lookup::get(&SECRET, "shop", "web-tls");
        let list = Lookup::list(&CERTIFICATE, "shop");
        assert_eq!(
            classify(&get, "v1", "Callback evaluation failure: Cannot find v1/Secret named 'web-tls' inside of namespace 'Some(\"shop\")'"),
            Answer::NotFound
        );
        assert_eq!(
            classify(
                &list,
                "cert-manager.io/v1",
                "Callback evaluation failure: Cannot find resource cert-manager.io/v1/Certificate"
            ),
            Answer::NotServed
        );
        assert_eq!(
            classify(&list, "cert-manager.io/v1", "Callback evaluation failure: error finding resource cert-manager.io/v1 / Certificate: ApiError: 404 page not found: NotFound"),
            Answer::NotServed
        );
        let Answer::Failed(r) = classify(&get, "v1", "Policy has not been granted access to Kubernetes v1/Secret resources. The violation has been reported.") else {
            panic!()
        };
        assert!(r.contains("contextAwareResources"), "{r}");
        let Answer::Failed(r) = classify(&get, "v1", "ApiError: secrets \"web-tls\" is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot get resource") else {
            panic!()
        };
        assert!(r.contains("context-rbac.yaml"), "{r}");
        // a not-found for another name or kind is not ours
        assert!(matches!(
            classify(&get, "v1", "Cannot find v1/ConfigMap named 'web-tls'"),
            Answer::Failed(_)
        ));
        let Answer::Failed(r) = classify(&get, "v1", &"x".repeat(5000)) else {
            panic!()
        };
        assert!(r.chars().count() < 400);
    }

    #[test]
    fn answers_are_read_or_refused() {
        let get = Lookup::get(&SECRET, "shop", "web-tls");
        let list = Lookup::list_all(&INGRESS);
        assert_eq!(
            read(&get, br#"{"kind":"Secret"}"#),
            Answer::Objects(vec![json!({"kind": "Secret"})])
        );
        assert_eq!(
            read(&list, br#"{"items":[{"a":1}]}"#),
            Answer::Objects(vec![json!({"a": 1})])
        );
        assert_eq!(read(&list, br#"{"items":null}"#), Answer::Objects(vec![]));
        for bad in [&b"["[..], b"[]", b"7", b"\xff"] {
            assert!(matches!(read(&get, bad), Answer::Failed(_)));
            assert!(matches!(read(&list, bad), Answer::Failed(_)));
        }
        assert!(matches!(read(&list, br#"{"items":{}}"#), Answer::Failed(_)));
    }
}
