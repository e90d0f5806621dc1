//! Statuses esox wrote that its ExternalSecret and PushSecret caches may not show yet.
//!
//! A controller reconciles from a watched copy of each object. Between esox's status
//! patch and the watch event that carries it back, a reconcile triggered by something else (a
//! store change, a source change, a target event) would see the old status: right after a first
//! sync that means no `refreshTime`, so it would sync again as a first sync, ignoring
//! `refreshInterval` and the sync windows (for a PushSecret fed by a generator: push a second,
//! newly generated value, seen on a real API server). Each status esox writes is kept here until the watched
//! copy has caught up with it, and reconciles read the newer of the two. Entries only live for
//! that window (milliseconds), so memory does not grow with the number of ExternalSecrets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use esox_api::v1::{ExternalSecret, ExternalSecretStatus};
use esox_api::v1alpha1::{PushSecret, PushSecretStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt as _;
use kube::runtime::reflector::ObjectRef;

/// A kind whose status esox writes and reads back: what the window needs of it.
pub trait WithStatus: kube::Resource<DynamicType = ()> + Clone {
    type Status: Clone;
    fn status(&self) -> Option<&Self::Status>;
    fn set_status(&mut self, status: Self::Status);
    fn refresh_time(status: &Self::Status) -> Option<&Time>;
}

impl WithStatus for ExternalSecret {
    type Status = ExternalSecretStatus;
    fn status(&self) -> Option<&ExternalSecretStatus> {
        self.status.as_ref()
    }
    fn set_status(&mut self, status: ExternalSecretStatus) {
        self.status = Some(status);
    }
    fn refresh_time(status: &ExternalSecretStatus) -> Option<&Time> {
        status.refresh_time.as_ref()
    }
}

impl WithStatus for PushSecret {
    type Status = PushSecretStatus;
    fn status(&self) -> Option<&PushSecretStatus> {
        self.status.as_ref()
    }
    fn set_status(&mut self, status: PushSecretStatus) {
        self.status = Some(status);
    }
    fn refresh_time(status: &PushSecretStatus) -> Option<&Time> {
        status.refresh_time.as_ref()
    }
}

/// A status esox wrote, with the resourceVersion the API server gave the write.
#[derive(Clone, Debug)]
struct Written<S> {
    resource_version: String,
    status: S,
}

/// Status writes not yet seen through the watch of `K`.
pub struct RecentStatuses<K: WithStatus = ExternalSecret> {
    written: Mutex<HashMap<ObjectRef<K>, Written<K::Status>>>,
}

impl<K: WithStatus> Default for RecentStatuses<K> {
    fn default() -> Self {
        Self {
            written: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: WithStatus> RecentStatuses<K> {
    /// Remembers the object the API server returned for esox's status write.
    pub fn remember(&self, written: &K) {
        let (Some(resource_version), Some(status)) =
            (written.resource_version(), written.status().cloned())
        else {
            return;
        };
        self.lock().insert(
            ObjectRef::from_obj(written),
            Written {
                resource_version,
                status,
            },
        );
    }

    /// Called for every object the watch delivers: forgets the write once the watched copy has
    /// caught up with it.
    pub fn observed(&self, seen: &K) {
        let mut written = self.lock();
        if written.is_empty() {
            return;
        }
        let key = ObjectRef::from_obj(seen);
        if written.get(&key).is_some_and(|w| caught_up(seen, w)) {
            written.remove(&key);
        }
    }

    /// Forgets `es` (deleted).
    pub fn forget(&self, es: &ObjectRef<K>) {
        self.lock().remove(es);
    }

    /// `es`, with esox's last status write in place of its status when the watched copy does
    /// not show that write yet. Spec and metadata stay those of the watched copy.
    pub fn freshest(&self, es: Arc<K>) -> Arc<K> {
        let status = {
            let written = self.lock();
            match written.get(&ObjectRef::from_obj(es.as_ref())) {
                Some(w) if !caught_up(es.as_ref(), w) => w.status.clone(),
                _ => return es,
            }
        };
        let mut newer = es.as_ref().clone();
        newer.set_status(status);
        Arc::new(newer)
    }

    /// Number of writes not yet seen (for tests).
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    #[allow(clippy::type_complexity)] // the map and its guard, nothing more
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectRef<K>, Written<K::Status>>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `seen` is the write `w` or a later version of the object.
fn caught_up<K: WithStatus>(seen: &K, w: &Written<K::Status>) -> bool {
    let seen_rv = seen.meta().resource_version.as_deref().unwrap_or_default();
    if seen_rv == w.resource_version {
        return true;
    }
    // resourceVersions are opaque in general, but every API server in practice (etcd revisions,
    // the test cluster) uses increasing integers; compare them when both parse.
    if let (Ok(seen_n), Ok(written_n)) = (seen_rv.parse::<u64>(), w.resource_version.parse::<u64>())
    {
        return seen_n >= written_n;
    }
    // Otherwise by refreshTime (second precision): a copy with an older one, or none, predates
    // the write.
    let seen_time = seen.status().and_then(K::refresh_time);
    match (seen_time, K::refresh_time(&w.status)) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(s), Some(w)) => s.0 >= w.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(rv: &str, refreshed: Option<i64>) -> ExternalSecret {
        let mut es: ExternalSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "es", "namespace": "ns", "resourceVersion": rv},
            "spec": {"secretStoreRef": {"name": "s"}, "target": {"name": "t"}},
        }))
        .expect("valid ExternalSecret");
        if let Some(secs) = refreshed {
            es.status = Some(ExternalSecretStatus {
                refresh_time: Some(Time(
                    jiff::Timestamp::from_second(secs).expect("valid timestamp"),
                )),
                synced_resource_version: format!("v{secs}"),
                ..Default::default()
            });
        }
        es
    }

    #[test]
    fn stale_copy_gets_the_written_status_until_the_watch_catches_up() {
        let recent = RecentStatuses::default();
        recent.remember(&es("12", Some(1_000)));
        let stale = Arc::new(es("10", None));
        let fresh = recent.freshest(stale.clone());
        let status = fresh.status.as_ref().expect("status overlaid");
        assert_eq!(status.synced_resource_version, "v1000");
        assert_eq!(fresh.metadata.resource_version.as_deref(), Some("10"));

        // An older event (the finalizer patch) does not end the window.
        recent.observed(&es("11", None));
        assert_eq!(recent.pending(), 1);
        // The write itself does.
        recent.observed(&es("12", Some(1_000)));
        assert_eq!(recent.pending(), 0);
        assert!(recent.freshest(stale.clone()).status.is_none());
    }

    #[test]
    fn a_newer_copy_wins_over_the_remembered_write() {
        let recent = RecentStatuses::default();
        recent.remember(&es("12", Some(1_000)));
        let newer = Arc::new(es("15", Some(2_000)));
        let got = recent.freshest(newer.clone());
        assert!(Arc::ptr_eq(&got, &newer));
    }

    #[test]
    fn opaque_versions_fall_back_to_refresh_time() {
        let recent = RecentStatuses::default();
        recent.remember(&es("b", Some(1_000)));
        assert!(
            recent
                .freshest(Arc::new(es("a", Some(999))))
                .status
                .as_ref()
                .is_some_and(|s| s.synced_resource_version == "v1000")
        );
        recent.observed(&es("c", Some(1_000)));
        assert_eq!(recent.pending(), 0);
    }

    #[test]
    fn forget_drops_the_entry() {
        let recent = RecentStatuses::default();
        recent.remember(&es("12", Some(1_000)));
        recent.forget(&ObjectRef::new("es").within("ns"));
        assert_eq!(recent.pending(), 0);
    }
}
