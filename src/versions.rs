//! The Kubernetes versions portcullis knows about, the api-version table
//! (`policies/api-versions.yaml`) and the release table
//! (`policies/kubernetes-releases.yaml`), both compiled in by build.rs.

/// One API version of one kind that Kubernetes deprecated or stopped serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersion {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// First minor release that deprecated it.
    pub deprecated: Option<(u32, u32)>,
    /// First minor release that no longer serves it.
    pub removed: Option<(u32, u32)>,
    /// The apiVersion to move to; None when the API went away for good.
    pub replacement: Option<&'static str>,
    /// Set when the replacement is another kind.
    pub replacement_kind: Option<&'static str>,
    /// First minor release that serves the replacement.
    pub replacement_since: Option<(u32, u32)>,
    /// Moving needs more than a new apiVersion line.
    pub field_changes: bool,
}

include!(concat!(env!("OUT_DIR"), "/api_versions.rs"));

/// One Kubernetes minor release and the last day of its upstream support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub version: (u32, u32),
    /// `YYYY-MM-DD`: final for releases that reached it, scheduled for the others.
    pub end_of_life: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/kubernetes_releases.rs"));

/// The release table's end-of-life date of a minor release.
pub fn end_of_life(version: (u32, u32)) -> Option<&'static str> {
    RELEASES
        .iter()
        .find(|r| r.version == version)
        .map(|r| r.end_of_life)
}

/// The oldest minor release still supported when `target` is the newest:
/// upstream maintains the three newest minors.
pub fn oldest_supported(target: (u32, u32)) -> (u32, u32) {
    (target.0, target.1.saturating_sub(2))
}

/// The major and minor of a Kubernetes version as manifests write it:
/// `v1.28.3`, `1.28`, `v1.9.6_coreos.0`, `v1.30.1-gke.100`, or a kubeadm
/// label naming a minor (`stable-1.28`, `latest-1.29`, `ci/latest-1.30`).
/// None for labels without one (`stable`, `latest`) and for anything else.
pub fn parse_minor(text: &str) -> Option<(u32, u32)> {
    let t = text.trim();
    let t = t.rsplit('/').next().unwrap_or(t);
    let t = ["stable-", "latest-"]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .unwrap_or(t);
    let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
    let (major, rest) = t.split_once('.')?;
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (minor, tail) = rest.split_at_checked(digits)?;
    // a patch, pre-release or vendor suffix may follow; nothing else may
    if !tail.is_empty() && !tail.starts_with(['.', '-', '+', '_']) {
        return None;
    }
    if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) || minor.is_empty() {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The newest Kubernetes minor release the api-version table covers; the
/// default target of the version rules.
pub const NEWEST_KNOWN: (u32, u32) = TABLE_COVERS;

/// The table's entry for an object's apiVersion and kind.
pub fn lookup(api_version: &str, kind: &str) -> Option<&'static ApiVersion> {
    API_VERSIONS
        .iter()
        .find(|e| e.api_version == api_version && e.kind == kind)
}

impl ApiVersion {
    /// Whether the API server at `target` no longer serves it.
    pub fn removed_at(&self, target: (u32, u32)) -> bool {
        self.removed.is_some_and(|r| r <= target)
    }

    /// Deprecated at `target` but still served.
    pub fn deprecated_at(&self, target: (u32, u32)) -> bool {
        self.deprecated.is_some_and(|d| d <= target) && !self.removed_at(target)
    }

    /// What to move to on a `target` cluster: the replacement, followed
    /// through the table while it is itself removed there (or deprecated with
    /// its own replacement served). None when the API went away for good.
    pub fn replacement_at(&self, target: (u32, u32)) -> Option<Replacement> {
        let mut to = Replacement {
            api_version: self.replacement?,
            kind: self.replacement_kind.unwrap_or(self.kind),
            since: self.replacement_since,
            field_changes: self.field_changes || self.replacement_kind.is_some(),
        };
        // bounded: a table with a cycle must not hang a review
        for _ in 0..8 {
            let Some(next) = lookup(to.api_version, to.kind) else {
                break;
            };
            let next_served = next.replacement_since.is_some_and(|s| s <= target);
            if !(next.removed_at(target) || (next.deprecated_at(target) && next_served)) {
                break;
            }
            to = Replacement {
                api_version: next.replacement?,
                kind: next.replacement_kind.unwrap_or(to.kind),
                since: next.replacement_since,
                field_changes: to.field_changes
                    || next.field_changes
                    || next.replacement_kind.is_some(),
            };
        }
        Some(to)
    }

    /// The replacement apiVersion when changing the apiVersion line alone
    /// moves the object to it on a `target` cluster.
    pub fn drop_in(&self, target: (u32, u32)) -> Option<&'static str> {
        let to = self.replacement_at(target)?;
        let served = to.since.is_some_and(|s| s <= target);
        let gone = lookup(to.api_version, to.kind).is_some_and(|r| r.removed_at(target));
        (to.kind == self.kind && !to.field_changes && served && !gone).then_some(to.api_version)
    }
}

/// Where an API version's objects move to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replacement {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// First release serving it.
    pub since: Option<(u32, u32)>,
    /// Moving needs more than the apiVersion line (on some step of the way).
    pub field_changes: bool,
}

/// `1.22` for messages.
pub fn show((major, minor): (u32, u32)) -> String {
    format!("{major}.{minor}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn table_is_loaded_and_covers_the_newest_release() {
        assert!(API_VERSIONS.len() > 40);
        assert!(NEWEST_KNOWN >= (1, 35));
        let fs = lookup("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema").unwrap();
        assert_eq!(fs.deprecated, Some((1, 29)));
        assert_eq!(fs.removed, Some((1, 32)));
        assert!(fs.deprecated_at((1, 29)) && !fs.removed_at((1, 31)) && fs.removed_at((1, 32)));
        assert_eq!(fs.drop_in((1, 29)), Some("flowcontrol.apiserver.k8s.io/v1"));
        assert_eq!(fs.drop_in((1, 28)), None);
    }

    #[test]
    fn replacements_are_followed_through_later_removals() {
        let fs = lookup("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema").unwrap();
        let at = |t| fs.replacement_at(t).unwrap().api_version;
        assert_eq!(at((1, 25)), "flowcontrol.apiserver.k8s.io/v1beta2");
        assert_eq!(at((1, 27)), "flowcontrol.apiserver.k8s.io/v1beta3");
        assert_eq!(at((1, 29)), "flowcontrol.apiserver.k8s.io/v1");
        assert_eq!(fs.drop_in((1, 33)), Some("flowcontrol.apiserver.k8s.io/v1"));
        let plc = lookup(
            "flowcontrol.apiserver.k8s.io/v1beta2",
            "PriorityLevelConfiguration",
        )
        .unwrap();
        assert_eq!(plc.drop_in((1, 29)), None);
        let psp = lookup("extensions/v1beta1", "PodSecurityPolicy").unwrap();
        assert!(psp.replacement_at((1, 24)).is_some());
        assert!(psp.replacement_at((1, 25)).is_none());
    }

    #[test]
    fn release_table_lists_every_minor_up_to_the_api_table() {
        let newest = RELEASES.first().unwrap().version;
        assert!(newest >= NEWEST_KNOWN, "{newest:?}");
        let mut want = NEWEST_KNOWN;
        while want >= (1, 19) {
            assert!(end_of_life(want).is_some(), "{want:?} is missing");
            want.1 -= 1;
        }
        assert_eq!(end_of_life((1, 28)), Some("2024-10-22"));
        assert_eq!(oldest_supported((1, 35)), (1, 33));
    }

    #[test]
    fn versions_as_manifests_write_them() {
        for (text, want) in [
            ("v1.28.3", Some((1, 28))),
            ("1.30", Some((1, 30))),
            ("stable-1.29", Some((1, 29))),
            ("ci/latest-1.31", Some((1, 31))),
            ("v1.9.6_coreos.0", Some((1, 9))),
            ("v1.30.1-gke.100", Some((1, 30))),
            ("v1.19.3-rancher1", Some((1, 19))),
            ("v1.31-rc", Some((1, 31))),
            ("stable", None),
            ("stable-1", None),
            ("latest", None),
            ("${K8S_VERSION}", None),
            ("{{ .Values.version }}", None),
            ("v1.x", None),
            ("", None),
        ] {
            assert_eq!(parse_minor(text), want, "{text}");
        }
    }

    #[test]
    fn replacements_of_other_kinds_are_never_drop_ins() {
        let ep = lookup("v1", "Endpoints").unwrap();
        assert!(ep.deprecated_at((1, 35)) && !ep.removed_at((1, 99)));
        assert_eq!(ep.drop_in((1, 35)), None);
    }
}
