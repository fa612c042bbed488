use crate::object::Object;
use crate::plain_rule;
use crate::report::Severity;
use crate::review::Context;
use crate::rule::{Category, Check, Hit, RuleMeta, Scope};
use crate::rules::apiserver_flags::{config_name, ApiServerFlags, APISERVER_KINDS};
use crate::versions::{end_of_life, oldest_supported, parse_minor, show};
use crate::{doc_refs, doc_text};
use serde_json::Value;

#[derive(Default)]
pub struct ClusterVersionUnsupported;

static META: RuleMeta = RuleMeta {
    id: "cluster-version-unsupported",
    title: "Cluster on a Kubernetes release out of upstream support",
    severity: Severity::High,
    category: Category::Versions,
    kinds: APISERVER_KINDS,
    since: "0.1.0",
    scope: Scope::Object,
    params: &[],
    what: doc_text!("The Kubernetes minor release a manifest says the cluster runs: a kubeadm \
           `ClusterConfiguration`'s `kubernetesVersion` (`v1.28.3`, or a label naming a minor such as \
           `stable-1.28`; `stable` and `latest` name none), or the tag of the image of a kube-apiserver \
           container (found as the control-plane rules find it; only images named `kube-apiserver…` or \
           `hyperkube…` are read, since another image's tag is not a Kubernetes version). It is reported when \
           older than the three newest minors, counted from the settings' `kubernetesVersion` (the newest \
           release the api-version table covers when unset): with `kubernetesVersion: \"1.35\"`, 1.33 and \
           newer pass. A policy module has no clock, so the target stands for today; the message adds the \
           release's upstream end-of-life date from `policies/kubernetes-releases.yaml`."),
    why: doc_text!("Upstream Kubernetes patches only the three newest minor releases. Older control planes \
          get no fixes for vulnerabilities found since (privilege escalations, API server bypasses, \
          denial-of-service flaws), and their API versions drift away from what current tools and charts \
          expect. Keeping a current Kubernetes is part of keeping the cluster's front doors shut."),
    denied: doc_text!("apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.27.4\n"),
    allowed: doc_text!("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.34.1\n"),
    references: doc_refs!(&[
        "https://kubernetes.io/releases/",
        "https://kubernetes.io/releases/version-skew-policy/",
        "https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade/",
    ]),
};

plain_rule!(ClusterVersionUnsupported, META);

/// The Kubernetes version an image runs, when its name says it is one of
/// Kubernetes' own server images: `registry.k8s.io/kube-apiserver:v1.34.1`,
/// `k8s.gcr.io/kube-apiserver-amd64:v1.11.0`, `quay.io/coreos/hyperkube:v1.9.6_coreos.0`.
fn image_version(image: &str) -> Option<(u32, u32)> {
    let last = image.trim().rsplit('/').next()?;
    let last = last.split('@').next()?;
    let (name, tag) = last.split_once(':')?;
    let kubernetes = name == "kube-apiserver"
        || name.starts_with("kube-apiserver-")
        || name == "hyperkube"
        || name.starts_with("hyperkube-");
    if !kubernetes {
        return None;
    }
    parse_minor(tag)
}

fn message(
    subject: &str,
    version: (u32, u32),
    written: &str,
    target: (u32, u32),
    how: &str,
) -> String {
    let oldest = oldest_supported(target);
    let eol = end_of_life(version)
        .map(|d| format!(" Its upstream end of life: {d}."))
        .unwrap_or_default();
    format!(
        "{subject} runs Kubernetes {} (`{written}`), older than the three newest minor releases ({} and \
         newer, counted from the target kubernetesVersion {}): it gets no upstream security fixes.{eol} Upgrade \
         the control plane one minor release at a time{how} to {} or newer.",
        show(version),
        show(oldest),
        show(target),
        show(oldest),
    )
}

impl Check for ClusterVersionUnsupported {
    fn check(&self, obj: &Object<'_>, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let target = cx.kubernetes_version;
        let oldest = oldest_supported(target);
        if let Some(cluster) = obj.kubeadm_cluster() {
            let Some(written) = cluster.kubernetes_version.as_deref() else {
                return;
            };
            if let Some(v) = parse_minor(written).filter(|v| *v < oldest) {
                let subject = format!("kubeadm {}", config_name(obj));
                let hit = message(&subject, v, written.trim(), target, " (kubeadm upgrade)");
                out.push(Hit::new("/kubernetesVersion", hit));
            }
            return;
        }
        for flags in ApiServerFlags::of(obj, cx).iter() {
            let Some(container) = flags.container.as_deref() else {
                continue;
            };
            let path = format!("{container}/image");
            let Some(image) = obj.raw.pointer(&path).and_then(Value::as_str) else {
                continue;
            };
            if let Some(v) = image_version(image).filter(|v| *v < oldest) {
                out.push(Hit::new(
                    path,
                    message(&flags.subject, v, image.trim(), target, ""),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::image_version;
    use crate::rules::ingress_common::findings_of;
    use serde_json::json;

    #[test]
    fn images_of_kubernetes_servers_only() {
        assert_eq!(
            image_version("registry.k8s.io/kube-apiserver:v1.34.1"),
            Some((1, 34))
        );
        assert_eq!(
            image_version("localhost:5000/kube-apiserver-amd64:v1.11.0"),
            Some((1, 11))
        );
        assert_eq!(
            image_version("quay.io/coreos/hyperkube:v1.9.6_coreos.0"),
            Some((1, 9))
        );
        assert_eq!(
            image_version("registry.k8s.io/kube-apiserver@sha256:abcd"),
            None
        );
        assert_eq!(image_version("registry.k8s.io/kube-apiserver"), None);
        assert_eq!(image_version("busybox:1.36"), None);
        assert_eq!(image_version("localhost:5000/kube-apiserver"), None);
    }

    #[test]
    fn the_target_decides_and_the_date_is_printed() {
        let cfg = json!({"apiVersion": "kubeadm.k8s.io/v1beta3", "kind": "ClusterConfiguration",
            "kubernetesVersion": "v1.31.2"});
        let at = |target: &str| {
            findings_of(
                "cluster-version-unsupported",
                &json!({"objects": [cfg.clone()], "settings": {"kubernetesVersion": target,
                    "rules": {"cluster-version-unsupported": "deny"}}}),
            )
        };
        assert!(at("1.33").is_empty());
        let f = at("1.34");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].1, "/kubernetesVersion");
        assert!(f[0].2.contains("2025-11-11"), "{}", f[0].2);
        assert!(f[0].2.contains("1.32 and newer"), "{}", f[0].2);
    }

    #[test]
    fn a_wrong_type_is_an_error_at_its_path() {
        let cfg = json!({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
            "kubernetesVersion": 1.3});
        let e = crate::evaluate(&cfg, crate::Host::default()).unwrap_err();
        assert_eq!(e.code(), "invalid-object");
        assert_eq!(e.to_value()["path"], "/kubernetesVersion", "{e}");
    }
}
