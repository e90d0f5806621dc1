//! When to re-read provider data, and when to requeue: ESO's `shouldRefresh`,
//! `shouldRefreshPeriodic` and `getRequeueResult` for ExternalSecrets, and the PushSecret
//! `shouldRefresh` and requeue arithmetic.
//!
//! Sync windows need a cron evaluator, which lives with the controller; it passes in
//! whether a periodic refresh is allowed right now.

use std::time::{Duration, SystemTime};

use crate::duration::HOUR;

/// The interval used when `refreshInterval` is unset (the CRD default and the
/// controller's `RequeueInterval`).
pub const DEFAULT_REFRESH_INTERVAL: i64 = HOUR;

/// Extra delay PushSecret adds when it skips a refresh.
pub const PUSH_SECRET_REQUEUE_SLACK: i64 = 5_000_000_000;

/// `spec.refreshPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefreshPolicy {
    /// Refresh every `refreshInterval` (also the meaning of an unset field).
    #[default]
    Periodic,
    /// Sync once per ExternalSecret object.
    CreatedOnce,
    /// Sync when generation, labels or annotations change.
    OnChange,
}

impl RefreshPolicy {
    /// Parses the API value (`""` is `Periodic`).
    pub fn parse(value: &str) -> Result<Self, UnknownRefreshPolicy> {
        match value {
            "" | "Periodic" => Ok(Self::Periodic),
            "CreatedOnce" => Ok(Self::CreatedOnce),
            "OnChange" => Ok(Self::OnChange),
            other => Err(UnknownRefreshPolicy(other.to_owned())),
        }
    }
}

/// A `refreshPolicy` value this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown refreshPolicy {0:?}: use one of Periodic, CreatedOnce, OnChange")]
pub struct UnknownRefreshPolicy(pub String);

/// What the controller should tell its work queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// Nothing; wait for the next watch event.
    Never,
    /// Again now (rate-limited by the queue), i.e. `Requeue: true`.
    Immediately,
    /// After this delay.
    After(Duration),
}

/// The state the refresh decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshInput<'a> {
    /// `spec.refreshPolicy` (PushSecret has none; it is ignored there).
    pub policy: RefreshPolicy,
    /// `spec.refreshInterval` in nanoseconds; `None` when unset.
    pub refresh_interval: Option<i64>,
    /// `status.refreshTime`; `None` when unset (Go's zero time).
    pub refresh_time: Option<SystemTime>,
    /// `status.syncedResourceVersion` (empty when never synced).
    pub synced_resource_version: &'a str,
    /// [`crate::hash::synced_resource_version`] of the object as it is now.
    pub current_resource_version: &'a str,
    /// The current time.
    pub now: SystemTime,
    /// Whether the sync windows allow a periodic refresh at `now` (true without windows).
    pub periodic_allowed_by_windows: bool,
}

impl RefreshInput<'_> {
    fn interval(&self) -> i64 {
        self.refresh_interval.unwrap_or(DEFAULT_REFRESH_INTERVAL)
    }

    fn never_synced(&self) -> bool {
        self.synced_resource_version.is_empty() || self.refresh_time.is_none()
    }

    fn changed(&self) -> bool {
        self.synced_resource_version != self.current_resource_version
    }

    /// `now - refresh_time` in nanoseconds, saturated like Go's `time.Since`.
    fn since_refresh(&self, refresh_time: SystemTime) -> i64 {
        let nanos: i128 = match self.now.duration_since(refresh_time) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        nanos.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }
}

/// ExternalSecret `shouldRefresh`: whether to fetch from the provider now. The caller
/// still refreshes when the target Secret is invalid (`isSecretValid`).
pub fn should_refresh_external_secret(input: &RefreshInput<'_>) -> bool {
    match input.policy {
        RefreshPolicy::CreatedOnce => input.never_synced(),
        RefreshPolicy::OnChange => input.never_synced() || input.changed(),
        RefreshPolicy::Periodic => should_refresh_periodic(input),
    }
}

fn should_refresh_periodic(input: &RefreshInput<'_>) -> bool {
    let interval = input.interval();
    // Interval 0 means "sync once", even when the spec changed afterwards.
    if interval <= 0 && !input.synced_resource_version.is_empty() {
        return false;
    }
    if input.changed() {
        return true;
    }
    let Some(refresh_time) = input.refresh_time else {
        return true;
    };
    let since = input.since_refresh(refresh_time);
    if since < 0 {
        // The last refresh is in the future (clock skew): refresh.
        return true;
    }
    // Go: !refreshTime.Add(interval).Before(now) → no refresh.
    if since <= interval {
        return false;
    }
    input.periodic_allowed_by_windows
}

/// ExternalSecret `getRequeueResult`.
pub fn external_secret_requeue(input: &RefreshInput<'_>) -> Requeue {
    let interval = input.interval();
    if interval <= 0 {
        return Requeue::Never;
    }
    let Some(refresh_time) = input.refresh_time else {
        return Requeue::After(nanos_to_duration(interval));
    };
    let since = input.since_refresh(refresh_time);
    if since < 0 {
        return Requeue::Immediately;
    }
    if since < interval {
        return Requeue::After(nanos_to_duration(interval - since));
    }
    Requeue::Immediately
}

/// PushSecret `shouldRefresh`.
pub fn should_refresh_push_secret(input: &RefreshInput<'_>) -> bool {
    if input.changed() {
        return true;
    }
    let interval = input.interval();
    if interval == 0 && !input.synced_resource_version.is_empty() {
        return false;
    }
    let Some(refresh_time) = input.refresh_time else {
        return true;
    };
    // Go: refreshTime.Add(interval).Before(now).
    input.since_refresh(refresh_time) > interval
}

/// PushSecret requeue after a skipped refresh: `interval - elapsed + 5s`. A result of
/// zero or less means controller-runtime does not requeue at all.
pub fn push_secret_skip_requeue(input: &RefreshInput<'_>) -> Requeue {
    let since = input.refresh_time.map_or(0, |t| input.since_refresh(t));
    let after = input
        .interval()
        .saturating_sub(since)
        .saturating_add(PUSH_SECRET_REQUEUE_SLACK);
    positive_after(after)
}

/// PushSecret requeue after a successful push: `RequeueAfter = refreshInterval`.
pub fn push_secret_done_requeue(refresh_interval: Option<i64>) -> Requeue {
    positive_after(refresh_interval.unwrap_or(DEFAULT_REFRESH_INTERVAL))
}

fn positive_after(nanos: i64) -> Requeue {
    if nanos > 0 {
        Requeue::After(nanos_to_duration(nanos))
    } else {
        Requeue::Never
    }
}

fn nanos_to_duration(nanos: i64) -> Duration {
    Duration::from_nanos(nanos.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::SECOND;

    const RV: &str = "1-abc";

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn input(policy: RefreshPolicy) -> RefreshInput<'static> {
        RefreshInput {
            policy,
            refresh_interval: Some(HOUR),
            refresh_time: Some(at(1_000_000)),
            synced_resource_version: RV,
            current_resource_version: RV,
            now: at(1_000_000 + 60),
            periodic_allowed_by_windows: true,
        }
    }

    #[test]
    fn periodic_waits_for_the_interval() {
        let i = input(RefreshPolicy::Periodic);
        assert!(!should_refresh_external_secret(&i));
        assert_eq!(
            external_secret_requeue(&i),
            Requeue::After(Duration::from_secs(3540))
        );
        // Exactly at refreshTime+interval: not yet (Go uses Before, strictly).
        let due = RefreshInput {
            now: at(1_000_000 + 3600),
            ..i
        };
        assert!(!should_refresh_external_secret(&due));
        assert_eq!(external_secret_requeue(&due), Requeue::Immediately);
        let late = RefreshInput {
            now: at(1_000_000 + 3601),
            ..i
        };
        assert!(should_refresh_external_secret(&late));
        let blocked = RefreshInput {
            periodic_allowed_by_windows: false,
            ..late
        };
        assert!(!should_refresh_external_secret(&blocked));
        assert_eq!(external_secret_requeue(&blocked), Requeue::Immediately);
    }

    #[test]
    fn periodic_refreshes_on_change_even_inside_a_deny_window() {
        let i = RefreshInput {
            current_resource_version: "2-abc",
            periodic_allowed_by_windows: false,
            ..input(RefreshPolicy::Periodic)
        };
        assert!(should_refresh_external_secret(&i));
        let future = RefreshInput {
            refresh_time: Some(at(2_000_000)),
            ..input(RefreshPolicy::Periodic)
        };
        assert!(should_refresh_external_secret(&future));
        assert_eq!(external_secret_requeue(&future), Requeue::Immediately);
        let never = RefreshInput {
            refresh_time: None,
            ..input(RefreshPolicy::Periodic)
        };
        assert!(should_refresh_external_secret(&never));
        assert_eq!(
            external_secret_requeue(&never),
            Requeue::After(Duration::from_secs(3600))
        );
    }

    #[test]
    fn zero_interval_syncs_once_even_after_spec_change() {
        let i = RefreshInput {
            refresh_interval: Some(0),
            current_resource_version: "2-abc",
            ..input(RefreshPolicy::Periodic)
        };
        assert!(!should_refresh_external_secret(&i));
        assert_eq!(external_secret_requeue(&i), Requeue::Never);
        let first = RefreshInput {
            synced_resource_version: "",
            ..i
        };
        assert!(should_refresh_external_secret(&first));
    }

    #[test]
    fn created_once_and_on_change() {
        let i = RefreshInput {
            current_resource_version: "2-x",
            now: at(9_999_999),
            ..input(RefreshPolicy::CreatedOnce)
        };
        assert!(!should_refresh_external_secret(&i));
        assert!(should_refresh_external_secret(&RefreshInput {
            refresh_time: None,
            ..i
        }));
        assert!(should_refresh_external_secret(&RefreshInput {
            synced_resource_version: "",
            ..i
        }));
        let o = input(RefreshPolicy::OnChange);
        assert!(!should_refresh_external_secret(&RefreshInput {
            now: at(9_999_999),
            ..o
        }));
        assert!(should_refresh_external_secret(&RefreshInput {
            current_resource_version: "2-x",
            ..o
        }));
    }

    #[test]
    fn unset_interval_uses_one_hour() {
        let i = RefreshInput {
            refresh_interval: None,
            ..input(RefreshPolicy::Periodic)
        };
        assert_eq!(
            external_secret_requeue(&i),
            Requeue::After(Duration::from_secs(3540))
        );
    }

    #[test]
    fn push_secret_refresh_and_requeue() {
        let i = input(RefreshPolicy::Periodic);
        assert!(!should_refresh_push_secret(&i));
        assert_eq!(
            push_secret_skip_requeue(&i),
            Requeue::After(Duration::from_secs(3545))
        );
        assert!(should_refresh_push_secret(&RefreshInput {
            current_resource_version: "2",
            ..i
        }));
        assert!(should_refresh_push_secret(&RefreshInput {
            now: at(1_000_000 + 3601),
            ..i
        }));
        assert!(!should_refresh_push_secret(&RefreshInput {
            now: at(1_000_000 + 3600),
            ..i
        }));
        let once = RefreshInput {
            refresh_interval: Some(0),
            ..i
        };
        assert!(!should_refresh_push_secret(&once));
        // 0 - 60s + 5s < 0: no requeue at all.
        assert_eq!(push_secret_skip_requeue(&once), Requeue::Never);
        let fresh = RefreshInput {
            refresh_interval: Some(0),
            now: at(1_000_000 + 2),
            ..i
        };
        assert_eq!(
            push_secret_skip_requeue(&fresh),
            Requeue::After(Duration::from_secs(3))
        );
        assert_eq!(push_secret_done_requeue(Some(0)), Requeue::Never);
        assert_eq!(
            push_secret_done_requeue(Some(90 * SECOND)),
            Requeue::After(Duration::from_secs(90))
        );
        assert_eq!(
            push_secret_done_requeue(None),
            Requeue::After(Duration::from_secs(3600))
        );
    }

    #[test]
    fn parse_policy() {
        assert_eq!(RefreshPolicy::parse(""), Ok(RefreshPolicy::Periodic));
        assert_eq!(
            RefreshPolicy::parse("OnChange"),
            Ok(RefreshPolicy::OnChange)
        );
        assert!(RefreshPolicy::parse("Always").is_err());
    }
}
