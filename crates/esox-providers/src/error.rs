//! Errors of providers. Messages name the cause and the fix, never a secret value; the
//! underlying error (kube's, an HTTP client's) is kept as the [`source`](std::error::Error::source)
//! for logs, stripped of anything the remote server chose to say (see `kube_errors`).
//!
//! Callers classify an error by asking it ([`ProviderError::is_retryable`],
//! [`ProviderError::reason`], [`ProviderError::metric_label`]), never by its text.

/// The cause of a provider error.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    #[error("{message}")]
    Forbidden {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// The remote could not be reached (network, TLS, timeouts) or is overloaded; worth retrying.
    #[error("{message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// A conflicting concurrent write; retry soon.
    #[error("{message}")]
    Conflict {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// The remote answered a request with another error (not found, invalid request, ...).
    #[error("{message}")]
    Refused {
        message: String,
        #[source]
        source: Source,
    },
    /// Anything else, with a message for the user.
    #[error("{0}")]
    Other(String),
}

impl ProviderError {
    /// A refusal of credentials or permission, without an underlying error.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
            source: None,
        }
    }

    /// An unreachable or overloaded remote, without an underlying error.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// A conflicting write, without an underlying error.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            source: None,
        }
    }

    /// Whether this is ESO's `NoSecretErr`.
    pub fn is_no_secret(&self) -> bool {
        matches!(self, ProviderError::NoSecret(_))
    }

    /// Whether trying again soon may succeed without anyone changing the store, its
    /// credentials or the remote secret: the remote was unreachable or busy, or a write raced
    /// another. The others need a change first (a retry then only confirms the error).
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Unavailable { .. } | ProviderError::Conflict { .. } => true,
            ProviderError::NoSecret(_)
            | ProviderError::InvalidConfig(_)
            | ProviderError::Forbidden { .. }
            | ProviderError::Refused { .. }
            | ProviderError::Other(_) => false,
        }
    }

    /// ESO's condition reason for this error, where ESO has a specific one: a store whose
    /// configuration is wrong is `InvalidProviderConfig`. `None` means the caller's generic
    /// failure reason applies (`SecretSyncedError` for an ExternalSecret, `Errored` for a
    /// PushSecret).
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            ProviderError::InvalidConfig(_) => Some("InvalidProviderConfig"),
            _ => None,
        }
    }

    /// A short label that does not change between versions, for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ProviderError::NoSecret(_) => "no_secret",
            ProviderError::InvalidConfig(_) => "invalid_config",
            ProviderError::Forbidden { .. } => "forbidden",
            ProviderError::Unavailable { .. } => "unavailable",
            ProviderError::Conflict { .. } => "conflict",
            ProviderError::Refused { .. } => "refused",
            ProviderError::Other(_) => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn every_kind() -> Vec<ProviderError> {
        vec![
            ProviderError::NoSecret("a".into()),
            ProviderError::InvalidConfig("b".into()),
            ProviderError::forbidden("c"),
            ProviderError::unavailable("d"),
            ProviderError::conflict("e"),
            ProviderError::Refused {
                message: "f".into(),
                source: "cause".into(),
            },
            ProviderError::Other("g".into()),
        ]
    }

    #[test]
    fn classification_is_asked_of_the_variant() {
        let retryable: Vec<&str> = every_kind()
            .iter()
            .filter(|e| e.is_retryable())
            .map(ProviderError::metric_label)
            .collect();
        assert_eq!(retryable, ["unavailable", "conflict"]);
        let labels: Vec<&str> = every_kind().iter().map(|e| e.metric_label()).collect();
        assert_eq!(
            labels,
            [
                "no_secret",
                "invalid_config",
                "forbidden",
                "unavailable",
                "conflict",
                "refused",
                "other"
            ]
        );
        let reasons: Vec<Option<&str>> = every_kind().iter().map(|e| e.reason()).collect();
        assert_eq!(reasons[1], Some("InvalidProviderConfig"));
        assert_eq!(reasons.iter().flatten().count(), 1);
    }

    #[test]
    fn the_message_is_the_display_and_the_cause_is_the_source() {
        let e = ProviderError::Refused {
            message: "cannot get secret a/b: the API server answered 404 NotFound".into(),
            source: "underlying".into(),
        };
        assert_eq!(
            e.to_string(),
            "cannot get secret a/b: the API server answered 404 NotFound"
        );
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some("underlying")
        );
        assert!(ProviderError::forbidden("x").source().is_none());
    }
}
