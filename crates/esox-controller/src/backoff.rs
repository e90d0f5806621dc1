//! The one retry policy of failed reconciles, for every kind.
//!
//! A reconcile that returns an error is retried after [`Backoff::RECONCILE`]: 1 s, doubling with
//! each failure in a row, capped at 5 minutes, each delay shortened by up to a quarter at random
//! so that objects failing together (a store outage) do not retry together. The count of
//! failures in a row lives in the kind's [`ObjectState`](crate::state::ObjectState): a
//! successful reconcile and the object's deletion clear it, so a recreated object starts at 1 s.
//!
//! Deliberate exceptions, each named where it is used:
//! - PushSecrets retry on [`Backoff::PUSH`] (the same curve, capped at 60 s): their failures are
//!   mostly a remote store being away, and a store that comes back should be pushed to within a
//!   minute without anyone touching the PushSecret.
//! - A PushSecret whose remote store cannot be reached at all retries on
//!   [`Backoff::PUSH_UNAVAILABLE`] (capped at 4 s): a change made during the outage is pushed
//!   within 5 s of the remote answering again, without a watch on the remote end.
//! - Waiting is not failing: an unvalidated store (`StoreError::Pending`), a `creationPolicy: Merge`
//!   target that does not exist yet, a write conflict and a PushSecret deletion waiting for its
//!   remote entries are fixed rechecks returned as `Ok`, and clear the count.
//! - A broken store is validated again after half the time it has been broken (1 s to 30 s),
//!   read from its `Ready` condition so that it survives a restart of esox.

use std::hash::{BuildHasher as _, RandomState};
use std::time::Duration;

/// Capped exponential backoff with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
}

impl Backoff {
    /// Failed reconciles of every kind but PushSecret.
    pub const RECONCILE: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
    /// Failed PushSecret reconciles (see the module documentation).
    pub const PUSH: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    /// Failed PushSecret reconciles while the remote store cannot be reached at all (connection
    /// refused, timed out): retried at least every 4 s, so a change made during a remote outage
    /// is pushed within 5 s of the remote answering again (a retry is one failed connection).
    pub const PUSH_UNAVAILABLE: Backoff =
        Backoff::new(Duration::from_secs(1), Duration::from_secs(4));

    pub const fn new(first: Duration, cap: Duration) -> Self {
        Self { first, cap }
    }

    /// The delay before the retry that follows `failures` failures in a row (1 for the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let full = self.first.saturating_mul(1u32 << doublings).min(self.cap);
        full.saturating_sub(full.mul_f64(jitter() / 4.0))
    }
}

/// A number in [0, 1): a process-random hasher's output, enough to spread retries.
fn jitter() -> f64 {
    let bits = RandomState::new().hash_one(std::time::Instant::now()) >> 11;
    // 53 bits fit an f64 exactly.
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(d: Duration, full: Duration) -> bool {
        d <= full && d >= full.mul_f64(0.75)
    }

    #[test]
    fn doubles_from_one_second_up_to_the_cap() {
        let b = Backoff::RECONCILE;
        for (failures, full) in [(1, 1), (2, 2), (3, 4), (9, 256), (10, 300), (u32::MAX, 300)] {
            for _ in 0..50 {
                let d = b.delay(failures);
                assert!(
                    within(d, Duration::from_secs(full)),
                    "{failures} failures: {d:?} is not within a quarter below {full}s"
                );
            }
        }
        assert!(within(Backoff::PUSH.delay(20), Duration::from_secs(60)));
    }

    #[test]
    fn retries_are_spread() {
        let delays: std::collections::HashSet<_> =
            (0..20).map(|_| Backoff::RECONCILE.delay(5)).collect();
        assert!(delays.len() > 1, "20 delays, all {delays:?}");
    }
}
