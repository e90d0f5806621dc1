//! Failures of pushing that are the PushSecret's own: the stores did not finish in time, or
//! entries could not be deleted. Provider errors of single calls stay typed in
//! [`Error::ProviderCall`](crate::Error::ProviderCall).

/// Why pushing to, or cleaning up, the stores did not finish. Each is worth retrying: the
/// stores may answer later (the finalizer gives up on its own schedule).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{store} did not answer within {secs}s")]
    StoreTimeout { store: String, secs: u64 },
    /// Entries no longer selected that could not be deleted (listed with their causes).
    #[error("could not delete stale entries: {0}")]
    StaleEntriesLeft(String),
    /// The source is gone and some of its pushed entries could not be deleted.
    #[error("{why}; could not delete provider secrets: {entries}")]
    SourceGoneEntriesLeft { why: String, entries: String },
    /// The PushSecret is being deleted and some entries could not be deleted yet.
    #[error("could not delete provider secrets (will retry): {0}")]
    EntriesLeft(String),
}
