//! Errors of providers. Messages name the cause and the fix, never a secret value.

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The remote secret does not exist (ESO's `NoSecretErr`: deletionPolicy Delete/Merge skip it).
    #[error("{0}")]
    NoSecret(String),
    /// The store's configuration is wrong; fixing the store is needed.
    #[error("{0}")]
    InvalidConfig(String),
    /// The remote refused the credentials or the permission.
    #[error("{0}")]
    Forbidden(String),
    /// The remote could not be reached (network, TLS, timeouts); worth retrying.
    #[error("{0}")]
    Unavailable(String),
    /// A conflicting concurrent write; retry soon.
    #[error("{0}")]
    Conflict(String),
    /// Anything else, with a message for the user.
    #[error("{0}")]
    Other(String),
}

impl ProviderError {
    /// Whether this is ESO's `NoSecretErr`.
    pub fn is_no_secret(&self) -> bool {
        matches!(self, ProviderError::NoSecret(_))
    }
}
