//! Errors of reconciles. Messages are shown to users in conditions and Events: they name the
//! object and the fix, and never contain secret values.

use esox_providers::ProviderError;

pub use crate::externalsecret::target::TargetError;
pub use crate::pushsecret::PushError;
pub use crate::stores::StoreError;

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API call failed: {0}")]
    Kube(#[from] kube::Error),
    /// A provider call failed. Its class (retry, reason, metric label) is the provider's.
    #[error("{0}")]
    Provider(#[from] ProviderError),
    /// A provider call failed; `action` names the call and its object, the provider's message
    /// follows. Classified like [`Error::Provider`].
    #[error("{action}: {source}")]
    ProviderCall {
        action: String,
        #[source]
        source: ProviderError,
    },
    /// A store cannot be used: missing, of a kind not served, not Ready, or not validated yet.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Pushing to or deleting from the stores did not finish.
    #[error(transparent)]
    Push(#[from] PushError),
    /// The object's spec says something esox cannot do; only a change of it helps.
    #[error("{0}")]
    Invalid(String),
    /// The data read or to be written does not fit (a missing key, a value that does not decode).
    #[error("{0}")]
    Data(String),
    /// The target Secret is someone else's, or immutable and its data would change.
    #[error(transparent)]
    Target(#[from] TargetError),
}

impl Error {
    /// Whether the provider could not reach its remote end at all (refused, timed out).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Error::Provider(esox_providers::ProviderError::Unavailable { .. })
                | Error::ProviderCall {
                    source: esox_providers::ProviderError::Unavailable { .. },
                    ..
                }
        )
    }

    /// Whether retrying the same object unchanged may succeed. Errors that only a change of
    /// the objects involved can fix are not (ESO does not retry them either).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Kube(kube::Error::Api(s)) => {
                // Conflicts and throttling pass; other refusals of the request itself do not.
                !(400..500).contains(&s.code) || s.code == 409 || s.code == 429
            }
            Error::Kube(_) | Error::Store(_) | Error::Push(_) | Error::Data(_) => true,
            Error::Provider(e) | Error::ProviderCall { source: e, .. } => e.is_retryable(),
            Error::Invalid(_) | Error::Target(_) => false,
        }
    }

    /// A CamelCase reason for a condition or Event: ESO's where ESO has one.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube(_) => "KubernetesAPIError",
            // The provider names a reason where ESO has a specific one (a wrong store config).
            Error::Provider(e) | Error::ProviderCall { source: e, .. } => {
                e.reason().unwrap_or("ProviderError")
            }
            // ESO's event reason for a store it cannot use.
            Error::Store(_) | Error::Push(_) => "UnavailableStore",
            Error::Invalid(_) => "InvalidSpec",
            Error::Data(_) => "InvalidData",
            Error::Target(e) => e.reason(),
        }
    }

    /// A short stable label for metrics and logs: these strings never change.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            // The provider's own labels (`unavailable`, `forbidden`, ...): stable, and they say
            // more than one `provider` label for every failure of a store.
            Error::Provider(e) | Error::ProviderCall { source: e, .. } => e.metric_label(),
            Error::Store(_) | Error::Push(_) => "store",
            Error::Invalid(_) => "invalid",
            Error::Data(_) => "data",
            Error::Target(e) => e.metric_label(),
        }
    }

    /// Whether the API server refused a write because the object changed meanwhile.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Kube(kube::Error::Api(s)) if s.code == 409)
    }

    /// Whether a create was refused because the object exists already.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::Kube(kube::Error::Api(s)) if s.code == 409 && s.reason == "AlreadyExists")
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn api(code: u16, reason: &str) -> Error {
        Error::Kube(kube::Error::Api(Box::new(
            kube::core::Status::failure("refused", reason).with_code(code),
        )))
    }

    #[test]
    fn kube_errors_stay_sources_and_keep_their_message() {
        let e = api(503, "ServiceUnavailable");
        assert!(e.source().is_some(), "the kube error is the source");
        assert!(
            e.to_string().starts_with("Kubernetes API call failed: "),
            "{e}"
        );
        assert!(e.is_retryable());
        assert!(api(409, "Conflict").is_retryable());
        assert!(api(429, "TooManyRequests").is_retryable());
        assert!(!api(422, "Invalid").is_retryable());
        assert!(api(409, "AlreadyExists").is_already_exists());
    }

    #[test]
    fn target_errors_are_typed_not_matched_by_text() {
        let owned = Error::from(TargetError::OwnedByOtherExternalSecret("n/other".into()));
        assert!(
            owned
                .to_string()
                .starts_with("target is owned by another ExternalSecret (n/other)")
        );
        assert!(!owned.is_retryable());
        assert_eq!(owned.metric_label(), "ownership");
        // A spec error whose text happens to mention immutability is not an immutable target.
        let invalid = Error::Invalid("template key \"is immutable\" is not valid".into());
        assert_eq!(invalid.reason(), "InvalidSpec");
        assert!(!matches!(invalid, Error::Target(TargetError::Immutable(_))));
        let immutable = Error::from(TargetError::Immutable("s".into()));
        assert_eq!(immutable.reason(), "TargetImmutable");
        assert!(!immutable.is_retryable());
    }

    #[test]
    fn provider_errors_stay_sources_and_decide_the_class() {
        let busy = Error::ProviderCall {
            action: "could not write remote ref r to target secretstore SecretStore/s".into(),
            source: ProviderError::unavailable("connection refused"),
        };
        assert_eq!(
            busy.to_string(),
            "could not write remote ref r to target secretstore SecretStore/s: connection refused"
        );
        assert_eq!(
            busy.source().map(ToString::to_string).as_deref(),
            Some("connection refused")
        );
        assert!(busy.is_retryable());
        assert_eq!(busy.metric_label(), "unavailable");
        assert_eq!(busy.reason(), "ProviderError");
        let config = Error::from(ProviderError::InvalidConfig("no server".into()));
        assert!(!config.is_retryable());
        assert_eq!(config.metric_label(), "invalid_config");
        assert_eq!(config.reason(), "InvalidProviderConfig");
    }

    #[test]
    fn store_errors_keep_their_messages() {
        let missing = Error::from(StoreError::MissingSecretStore {
            name: "s".into(),
            namespace: "n".into(),
        });
        assert_eq!(
            missing.to_string(),
            "could not get SecretStore \"s\": it does not exist in namespace \"n\"; create it or fix the store reference"
        );
        let pending = Error::from(StoreError::Pending {
            kind: esox_api::v1::StoreKind::ClusterSecretStore,
            name: "c".into(),
        });
        assert_eq!(
            pending.to_string(),
            "ClusterSecretStore \"c\" has not been validated yet"
        );
        assert_eq!(pending.reason(), "UnavailableStore");
    }

    #[test]
    fn metric_labels_are_stable() {
        let labels: Vec<_> = [
            api(500, "InternalError"),
            StoreError::MissingClusterStore {
                name: String::new(),
            }
            .into(),
            StoreError::Pending {
                kind: esox_api::v1::StoreKind::SecretStore,
                name: String::new(),
            }
            .into(),
            PushError::EntriesLeft(String::new()).into(),
            Error::Invalid(String::new()),
            Error::Data(String::new()),
            TargetError::Immutable(String::new()).into(),
        ]
        .iter()
        .map(Error::metric_label)
        .collect();
        assert_eq!(
            labels,
            [
                "kube",
                "store",
                "store",
                "store",
                "invalid",
                "data",
                "immutable"
            ]
        );
    }
}
