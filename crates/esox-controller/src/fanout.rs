//! What ClusterExternalSecret and ClusterPushSecret share: one child per selected namespace, and
//! a periodic pass over the namespaces.

use std::time::Duration;

use kube::runtime::controller::Action;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::ownership;

/// The next periodic pass: `spec.refreshInterval` when it parses to more than zero, else 1h
/// (ESO's default for both kinds).
pub fn requeue(refresh_interval: Option<&str>) -> Action {
    let interval = refresh_interval
        .and_then(|d| esox_core::duration::parse(d).ok())
        .filter(|n| *n > 0)
        .map_or(Duration::from_secs(3600), |n| {
            Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
        });
    Action::requeue(interval)
}

/// The existing child `name`, if any, when `parent` may manage it; `Err(taken)` (the failure
/// reason ESO records for the namespace) when the object exists without `parent` controlling it.
pub async fn child_of<K>(
    api: &Api<K>,
    name: &str,
    parent: &impl Resource,
    taken: &str,
) -> Result<Option<K>, String>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let existing = api.get_opt(name).await.map_err(|e| e.to_string())?;
    match existing {
        Some(child) if !ownership::controlled_by(&child, parent) => Err(taken.to_owned()),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requeue_uses_the_interval_or_one_hour() {
        assert_eq!(
            requeue(Some("90s")),
            Action::requeue(Duration::from_secs(90))
        );
        for fallback in [None, Some("0s"), Some("not a duration"), Some("-1m")] {
            assert_eq!(
                requeue(fallback),
                Action::requeue(Duration::from_secs(3600)),
                "{fallback:?}"
            );
        }
    }
}
