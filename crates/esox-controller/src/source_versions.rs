//! The versions of watched remote secrets (for Kubernetes: their resourceVersions, from the
//! metadata watch), and the fingerprint of the versions an ExternalSecret was built from.
//!
//! With them a source-driven refresh can tell whether anything it reads changed since the last
//! read, without reading: after a watch re-lists (the API server came back, a network cut
//! healed) and when a new process or leader first sees an ExternalSecret whose target records
//! the fingerprint it was built from (see [`ANNOTATION_SOURCE_VERSIONS`]). A fingerprint exists
//! only when every source is a named key at a watched location that has been listed, so that
//! "unknown" never compares equal.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use esox_providers::RemoteChange;
use tokio::sync::watch;

use crate::index::SourceKey;

/// Annotation on a target: the fingerprint of the source versions its data was read from.
/// esox's own (ESO has none, and ignores it). A target ESO wrote gets it, in one metadata-only
/// write, the first time esox reads its sources; its data is not rewritten.
pub const ANNOTATION_SOURCE_VERSIONS: &str = "esox.io/source-versions";

/// What the watch of one location has seen.
struct Location {
    versions: HashMap<String, String>,
    /// Whether `versions` is the present: the watch has listed and still runs.
    listed: watch::Sender<bool>,
}

impl Default for Location {
    fn default() -> Self {
        Self {
            versions: HashMap::new(),
            listed: watch::channel(false).0,
        }
    }
}

/// Versions of watched remote secrets, by watch key.
#[derive(Default)]
pub struct SourceVersions {
    locations: Mutex<HashMap<String, Location>>,
}

/// What is known of one source's version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known {
    /// Exists with this version.
    Version(String),
    /// Does not exist.
    Absent,
}

impl SourceVersions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Location>> {
        self.locations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A change the watch of `watch_key` reported.
    pub fn changed(&self, watch_key: &str, change: &RemoteChange) {
        let mut locations = self.lock();
        let location = locations.entry(watch_key.to_owned()).or_default();
        match &change.version {
            Some(v) => location.versions.insert(change.key.clone(), v.clone()),
            None => location.versions.remove(&change.key),
        };
    }

    /// The watch of `watch_key` has listed: its versions are the present ones.
    pub fn listed(&self, watch_key: &str) {
        let mut locations = self.lock();
        let location = locations.entry(watch_key.to_owned()).or_default();
        location.listed.send_replace(true);
    }

    /// The watch of `watch_key` ended: what it saw may no longer be true.
    pub fn ended(&self, watch_key: &str) {
        self.lock().remove(watch_key);
    }

    /// The version of `key` at `watch_key`; `None` while that location is not listed.
    pub fn version(&self, watch_key: &str, key: &str) -> Option<Known> {
        let locations = self.lock();
        let location = locations.get(watch_key)?;
        if !*location.listed.borrow() {
            return None;
        }
        Some(
            location
                .versions
                .get(key)
                .map_or(Known::Absent, |v| Known::Version(v.clone())),
        )
    }

    /// Waits until the watch of `watch_key` has listed, at most `limit`; whether it has.
    pub async fn wait_listed(&self, watch_key: &str, limit: Duration) -> bool {
        let mut rx = self
            .lock()
            .entry(watch_key.to_owned())
            .or_default()
            .listed
            .subscribe();
        tokio::time::timeout(limit, rx.wait_for(|listed| *listed))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The fingerprint of the present versions of `sources`; `None` when one of them is a
    /// `find` (any key may matter) or its location is not listed.
    pub fn fingerprint(&self, sources: &BTreeSet<SourceKey>) -> Option<String> {
        let mut read = Versions::default();
        for s in sources {
            let key = s.key.as_deref()?;
            read.note(&s.watch_key, key, self.version(&s.watch_key, key));
        }
        read.fingerprint()
    }
}

/// The versions one fetch read, noted just before each read (so a change racing the read
/// makes the fingerprint older than the data, never newer: the next comparison refreshes).
#[derive(Clone, Debug, Default)]
pub struct Versions {
    read: BTreeSet<(String, String, String)>,
    /// A source whose location was not listed yet when it was read.
    unlisted: bool,
    /// A source that has no version at all (a `find`, a provider that cannot watch).
    unversioned: bool,
}

impl Versions {
    pub fn note(&mut self, watch_key: &str, key: &str, known: Option<Known>) {
        match known {
            Some(Known::Version(v)) => {
                self.read
                    .insert((watch_key.to_owned(), key.to_owned(), format!("v{v}")));
            }
            Some(Known::Absent) => {
                self.read
                    .insert((watch_key.to_owned(), key.to_owned(), "absent".to_owned()));
            }
            None => self.unlisted = true,
        }
    }

    /// A source that has no fingerprint (a `find`, a provider that cannot watch).
    pub fn note_unknown(&mut self) {
        self.unversioned = true;
    }

    /// Whether the data read may be older than the sources' `present` fingerprint: a watch
    /// reported a version (or listed) while the read went on, possibly before this reader was
    /// indexed for its triggers.
    pub fn may_be_stale(&self, present: Option<&str>) -> bool {
        !self.unversioned && present.is_some() && self.fingerprint().as_deref() != present
    }

    /// SHA3-224 over the sorted (location, key, version) triples, or `None` when one is
    /// unknown or nothing was read.
    pub fn fingerprint(&self) -> Option<String> {
        if self.unlisted || self.unversioned || self.read.is_empty() {
            return None;
        }
        let mut text = String::new();
        for (location, key, version) in &self.read {
            for part in [location, key, version] {
                text.push_str(&part.len().to_string());
                text.push(':');
                text.push_str(part);
            }
            text.push('\n');
        }
        Some(esox_core::hash::sha3_224_hex(text.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, version: Option<&str>) -> RemoteChange {
        RemoteChange {
            key: key.to_owned(),
            version: version.map(str::to_owned),
        }
    }

    fn source(key: Option<&str>) -> SourceKey {
        SourceKey {
            watch_key: "w".to_owned(),
            key: key.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn fingerprints_exist_only_for_listed_named_sources() {
        let v = SourceVersions::default();
        let sources = BTreeSet::from([source(Some("a")), source(Some("gone"))]);
        v.changed("w", &change("a", Some("1")));
        assert_eq!(v.fingerprint(&sources), None, "not listed yet");
        assert!(!v.wait_listed("w", Duration::from_millis(10)).await);
        v.listed("w");
        assert!(v.wait_listed("w", Duration::from_millis(10)).await);
        let first = v.fingerprint(&sources).expect("listed");
        assert_eq!(v.version("w", "gone"), Some(Known::Absent));
        v.changed("w", &change("a", Some("2")));
        let second = v.fingerprint(&sources).expect("listed");
        assert_ne!(first, second, "a new version changes the fingerprint");
        v.changed("w", &change("gone", Some("3")));
        assert_ne!(
            v.fingerprint(&sources),
            Some(second),
            "so does a key appearing"
        );
        let with_find = BTreeSet::from([source(Some("a")), source(None)]);
        assert_eq!(v.fingerprint(&with_find), None, "a find has no fingerprint");
        v.ended("w");
        assert_eq!(
            v.fingerprint(&sources),
            None,
            "an ended watch knows nothing"
        );
    }

    #[test]
    fn a_fetch_fingerprint_matches_the_watch_fingerprint_of_the_same_versions() {
        let v = SourceVersions::default();
        v.changed("w", &change("a", Some("7")));
        v.listed("w");
        let mut read = Versions::default();
        read.note("w", "a", v.version("w", "a"));
        read.note("w", "b", v.version("w", "b"));
        let sources = BTreeSet::from([source(Some("a")), source(Some("b"))]);
        assert_eq!(read.fingerprint(), v.fingerprint(&sources));
        let present = v.fingerprint(&sources);
        assert!(!read.may_be_stale(present.as_deref()));
        v.changed("w", &change("a", Some("8")));
        assert!(read.may_be_stale(v.fingerprint(&sources).as_deref()));
        read.note("w", "c", None);
        assert_eq!(read.fingerprint(), None, "one unknown version spoils it");
        assert!(
            read.may_be_stale(present.as_deref()),
            "read before the list"
        );
        read.note_unknown();
        assert!(
            !read.may_be_stale(present.as_deref()),
            "a find has no version to compare"
        );
    }
}
