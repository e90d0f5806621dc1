//! Names ESO writes onto the Secrets it manages, and its `isSecretValid` check: whether
//! the target Secret still holds exactly what the last sync wrote.

use crate::hash::data_hash;
use crate::{SecretData, StringMap};

/// Label on every Secret an ExternalSecret manages.
pub const LABEL_MANAGED: &str = "reconcile.external-secrets.io/managed";
/// Value of [`LABEL_MANAGED`].
pub const LABEL_MANAGED_VALUE: &str = "true";
/// Annotation holding [`data_hash`] of the data the controller wrote.
pub const ANNOTATION_DATA_HASH: &str = "reconcile.external-secrets.io/data-hash";
/// Label (creationPolicy Owner only) holding [`crate::hash::created_by_hash`].
pub const LABEL_CREATED_BY: &str = "reconcile.external-secrets.io/created-by";
/// Annotation users change to force a refresh.
pub const ANNOTATION_FORCE_SYNC: &str = "external-secrets.io/force-sync";
/// Finalizer on ExternalSecrets.
pub const EXTERNAL_SECRET_FINALIZER: &str =
    "externalsecrets.external-secrets.io/externalsecret-cleanup";
/// Finalizer on PushSecrets with deletionPolicy Delete.
pub const PUSH_SECRET_FINALIZER: &str = "pushsecret.externalsecrets.io/finalizer";

/// The parts of an existing target Secret the validity check reads.
#[derive(Clone, Copy)]
pub struct TargetView<'a> {
    /// `data`.
    pub data: &'a SecretData,
    /// `metadata.labels`.
    pub labels: &'a StringMap,
    /// `metadata.annotations`.
    pub annotations: &'a StringMap,
}

impl std::fmt::Debug for TargetView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetView")
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field("labels", self.labels)
            .field("annotations", self.annotations)
            .finish()
    }
}

/// ESO's `isSecretValid`: always true for creationPolicy Orphan; otherwise the Secret
/// must exist (`None` = missing), carry `managed=true` and a data-hash annotation equal to
/// the hash of its current data. A false result forces a refresh.
pub fn is_secret_valid(creation_policy_orphan: bool, target: Option<TargetView<'_>>) -> bool {
    if creation_policy_orphan {
        return true;
    }
    let Some(target) = target else {
        return false;
    };
    if target.labels.get(LABEL_MANAGED).map(String::as_str) != Some(LABEL_MANAGED_VALUE) {
        return false;
    }
    target.annotations.get(ANNOTATION_DATA_HASH) == Some(&data_hash(target.data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        let data = SecretData::from([("k".to_owned(), b"v".to_vec())]);
        let labels = StringMap::from([(LABEL_MANAGED.to_owned(), "true".to_owned())]);
        let annotations = StringMap::from([(ANNOTATION_DATA_HASH.to_owned(), data_hash(&data))]);
        let ok = TargetView {
            data: &data,
            labels: &labels,
            annotations: &annotations,
        };
        assert!(is_secret_valid(false, Some(ok)));
        assert!(!is_secret_valid(false, None));
        assert!(is_secret_valid(true, None));
        let edited = SecretData::from([("k".to_owned(), b"changed".to_vec())]);
        assert!(!is_secret_valid(
            false,
            Some(TargetView {
                data: &edited,
                ..ok
            })
        ));
        let unmanaged = StringMap::from([(LABEL_MANAGED.to_owned(), "yes".to_owned())]);
        assert!(!is_secret_valid(
            false,
            Some(TargetView {
                labels: &unmanaged,
                ..ok
            })
        ));
        let no_hash = StringMap::new();
        assert!(!is_secret_valid(
            false,
            Some(TargetView {
                annotations: &no_hash,
                ..ok
            })
        ));
    }
}
