//! The Kubernetes versions portcullis knows about, and the api-version table
//! (`policies/api-versions.yaml`, compiled in by build.rs).

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

    /// The replacement, when changing the apiVersion line alone moves the
    /// object to it on a `target` cluster.
    pub fn drop_in(&self, target: (u32, u32)) -> Option<&'static str> {
        let available = self.replacement_since.is_some_and(|s| s <= target);
        let gone = lookup(self.replacement?, self.kind).is_some_and(|r| r.removed_at(target));
        (self.replacement_kind.is_none() && !self.field_changes && available && !gone)
            .then_some(self.replacement)
            .flatten()
    }
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
    fn replacements_of_other_kinds_are_never_drop_ins() {
        let ep = lookup("v1", "Endpoints").unwrap();
        assert!(ep.deprecated_at((1, 35)) && !ep.removed_at((1, 99)));
        assert_eq!(ep.drop_in((1, 35)), None);
    }
}
