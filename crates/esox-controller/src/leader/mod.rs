//! Leader election over a `coordination.k8s.io/v1` Lease, so that only one of several replicas
//! runs the reconcilers.
//!
//! The protocol is the one of client-go's `leaderelection` package with its `LeaseLock` (which
//! ESO uses through controller-runtime), so esox and ESO replicas pointed at the same Lease name
//! exclude each other during a migration:
//! - the record is `holderIdentity`, `leaseDurationSeconds`, `acquireTime`, `renewTime` and
//!   `leaseTransitions` of the Lease spec;
//! - a lease is valid while its record has not changed for `leaseDurationSeconds`, measured on
//!   the *observer's* monotonic clock from when it saw the record change; the timestamps in the
//!   record are never compared with the local clock, which makes the scheme immune to clock skew;
//! - a candidate takes the lease over when it is absent, released (empty holder) or expired,
//!   and counts one more transition; the holder renews every retry period;
//! - every write is an update carrying the `resourceVersion` last read, so of two racing
//!   candidates only one succeeds;
//! - releasing writes an empty holder with `leaseDurationSeconds: 1`, so followers take over
//!   at their next retry instead of after a full lease duration.
//!
//! Where esox differs from controller-runtime: losing the lease does not end the process (ESO
//! exits, see ESO issue #1725). The controllers of that term stop, and the replica becomes a
//! candidate again; a later acquisition starts fresh controllers. The renew deadline counts from
//! the last successful renewal (client-go counts from the first retry after it), which leaves
//! the stopping controllers more of the lease before another replica may take over.

mod config;
mod elector;
mod record;
mod term;

use std::time::Duration;

pub use config::*;
pub use elector::{LeaderElector, LeaderStatus};
pub use record::*;
pub use term::{LeaderTerm, run_controllers, run_while_leading};

/// Why leader election could not run.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("invalid leader election settings: {0}")]
    Config(String),
    /// `lease` is `namespace/name`.
    #[error("lease {lease}: {source}")]
    Api {
        lease: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("lease {lease}: no answer within {after:?}")]
    Timeout { lease: String, after: Duration },
}
