//! The Kubernetes versions portcullis knows about.

/// The newest Kubernetes minor release the api-version table covers; the
/// default target of the version rules.
pub const NEWEST_KNOWN: (u32, u32) = (1, 34);
