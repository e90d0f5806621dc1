//! The Lease record and client-go's decisions over it: pure functions of the record, this
//! replica's identity and its monotonic clock, so every rule is tested without a server.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use tokio::time::Instant;

/// A wait of `period` plus up to `factor` periods more (client-go's `wait.Jitter`), so that
/// candidates started together do not keep colliding.
pub fn jittered(period: Duration, factor: f64, random: u64) -> Duration {
    let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
    period + period.mul_f64(factor * fraction)
}

/// The election fields of a Lease (client-go's `LeaderElectionRecord`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeaderRecord {
    /// Empty when nobody holds the lease (never taken, or released).
    pub holder_identity: String,
    pub lease_duration_seconds: i32,
    pub acquire_time: Option<MicroTime>,
    pub renew_time: Option<MicroTime>,
    pub lease_transitions: i32,
}

impl LeaderRecord {
    /// Reads the record of a Lease spec; absent fields read as zero values, as in client-go.
    pub fn from_spec(spec: Option<&LeaseSpec>) -> Self {
        let Some(spec) = spec else {
            return Self::default();
        };
        Self {
            holder_identity: spec.holder_identity.clone().unwrap_or_default(),
            lease_duration_seconds: spec.lease_duration_seconds.unwrap_or_default(),
            acquire_time: spec.acquire_time.clone(),
            renew_time: spec.renew_time.clone(),
            lease_transitions: spec.lease_transitions.unwrap_or_default(),
        }
    }

    /// Writes the record into `spec`, keeping the fields it does not own (coordinated election).
    pub fn write_to(&self, spec: &mut LeaseSpec) {
        spec.holder_identity = Some(self.holder_identity.clone());
        spec.lease_duration_seconds = Some(self.lease_duration_seconds);
        spec.acquire_time = self.acquire_time.clone();
        spec.renew_time = self.renew_time.clone();
        spec.lease_transitions = Some(self.lease_transitions);
    }
}

/// Whether a record first seen at `observed_at` still binds others at `now`: client-go's
/// `isLeaseValid`, with the record's own duration and the observer's clock.
pub fn lease_valid(observed_at: Instant, lease_duration_seconds: i32, now: Instant) -> bool {
    let secs = u64::try_from(lease_duration_seconds).unwrap_or(0);
    observed_at + Duration::from_secs(secs) > now
}

/// What a replica does with an existing Lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Another holder's lease is still valid.
    Wait,
    /// The record names this replica: renew, keeping acquireTime and the transition count.
    Renew,
    /// Free, released or expired: take it over, counting one more transition.
    TakeOver,
}

/// client-go's step "check the identity and time" of `tryAcquireOrRenew`.
pub fn decide(record: &LeaderRecord, observed_at: Instant, me: &str, now: Instant) -> Decision {
    if record.holder_identity == me {
        Decision::Renew
    } else if !record.holder_identity.is_empty()
        && lease_valid(observed_at, record.lease_duration_seconds, now)
    {
        Decision::Wait
    } else {
        Decision::TakeOver
    }
}

/// The result of one attempt to acquire or renew.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// This replica holds the lease now.
    Held,
    /// Another replica holds a valid lease.
    HeldBy(String),
}

/// Now, as the record stores it.
pub(super) fn now_micro() -> MicroTime {
    // The API server keeps microseconds; truncating here makes the record read back equal to
    // the one written.
    let now = jiff::Timestamp::now();
    let micros = now.as_microsecond();
    MicroTime(jiff::Timestamp::from_microsecond(micros).unwrap_or(now))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::leader::JITTER_FACTOR;
    use crate::leader::config::random_u64;

    fn record(holder: &str, secs: i32) -> LeaderRecord {
        LeaderRecord {
            holder_identity: holder.into(),
            lease_duration_seconds: secs,
            ..LeaderRecord::default()
        }
    }

    #[test]
    fn validity_uses_the_observers_clock_and_the_records_duration() {
        let seen = Instant::now();
        assert!(lease_valid(seen, 15, seen));
        assert!(lease_valid(seen, 15, seen + Duration::from_millis(14_999)));
        assert!(!lease_valid(seen, 15, seen + Duration::from_secs(15)));
        assert!(!lease_valid(seen, 1, seen + Duration::from_secs(1)));
        assert!(!lease_valid(seen, 0, seen), "a zero duration never binds");
        assert!(
            !lease_valid(seen, -5, seen),
            "a negative duration never binds"
        );
    }

    #[test]
    fn another_holders_fresh_lease_is_respected_until_it_expires() {
        let seen = Instant::now();
        let r = record("other", 15);
        assert_eq!(decide(&r, seen, "me", seen), Decision::Wait);
        assert_eq!(
            decide(&r, seen, "me", seen + Duration::from_secs(14)),
            Decision::Wait
        );
        assert_eq!(
            decide(&r, seen, "me", seen + Duration::from_secs(15)),
            Decision::TakeOver
        );
    }

    #[test]
    fn released_or_empty_leases_are_taken_at_once_and_own_leases_renewed() {
        let seen = Instant::now();
        assert_eq!(decide(&record("", 1), seen, "me", seen), Decision::TakeOver);
        assert_eq!(
            decide(&record("", 15), seen, "me", seen),
            Decision::TakeOver
        );
        assert_eq!(decide(&record("me", 15), seen, "me", seen), Decision::Renew);
        assert_eq!(
            decide(
                &record("me", 15),
                seen,
                "me",
                seen + Duration::from_secs(60)
            ),
            Decision::Renew,
            "a record naming this replica is still its own to renew"
        );
    }

    #[test]
    fn records_round_trip_through_a_lease_spec_and_keep_foreign_fields() {
        let stamp = now_micro();
        let r = LeaderRecord {
            holder_identity: "a_1".into(),
            lease_duration_seconds: 15,
            acquire_time: Some(stamp.clone()),
            renew_time: Some(stamp),
            lease_transitions: 3,
        };
        let mut spec = LeaseSpec {
            strategy: Some("OldestEmulationVersion".into()),
            ..LeaseSpec::default()
        };
        r.write_to(&mut spec);
        assert_eq!(LeaderRecord::from_spec(Some(&spec)), r);
        assert_eq!(spec.strategy.as_deref(), Some("OldestEmulationVersion"));
        assert_eq!(LeaderRecord::from_spec(None), LeaderRecord::default());
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["holderIdentity"], "a_1");
        assert_eq!(json["leaseDurationSeconds"], 15);
        assert_eq!(json["leaseTransitions"], 3);
        let back: LeaseSpec = serde_json::from_value(json).unwrap();
        assert_eq!(
            LeaderRecord::from_spec(Some(&back)),
            r,
            "microseconds survive JSON"
        );
    }

    #[test]
    fn jitter_stays_within_client_gos_bounds() {
        let p = Duration::from_secs(2);
        assert_eq!(jittered(p, JITTER_FACTOR, 0), p);
        let max = jittered(p, JITTER_FACTOR, u64::MAX);
        // At most 2.2 periods; nanosecond rounding may reach the bound itself.
        assert!(
            max <= p.mul_f64(1.0 + JITTER_FACTOR) && max > p.mul_f64(2.19),
            "{max:?}"
        );
        for _ in 0..100 {
            let j = jittered(p, JITTER_FACTOR, random_u64());
            assert!(j >= p && j <= p.mul_f64(2.2), "{j:?}");
        }
    }
}
