//! Errors of reconciles. Messages are shown to users in conditions and Events: they name the
//! object and the fix, and never contain secret values.

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API call failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Provider(#[from] esox_providers::ProviderError),
    #[error("{0}")]
    Store(String),
    /// The store has not been validated yet (esox just started, or the store is new). Not a
    /// failure: the store's first status change triggers the reconcile again.
    #[error("{0}")]
    StorePending(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Data(String),
}

impl Error {
    /// A short stable label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::Provider(_) => "provider",
            Error::Store(_) | Error::StorePending(_) => "store",
            Error::Invalid(_) => "invalid",
            Error::Data(_) => "data",
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
