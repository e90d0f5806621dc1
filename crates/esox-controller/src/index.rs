//! In-memory indexes from what changed (a Secret, a store, a remote secret) to the
//! ExternalSecrets that must reconcile. They are filled by the reconciles themselves, so their
//! size follows the number of ExternalSecrets, never the number of Secrets in the cluster.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use esox_api::v1::{ExternalSecret, StoreKind};
use kube::runtime::reflector::ObjectRef;

/// A store, as ExternalSecrets reference it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreKey {
    pub kind: StoreKind,
    /// Namespace of a SecretStore; empty for a ClusterSecretStore.
    pub namespace: String,
    pub name: String,
}

/// A remote secret an ExternalSecret reads, for event-driven refreshes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceKey {
    /// The provider's watch identity (server, namespace, credentials).
    pub watch_key: String,
    /// The remote key; `None` for `find`, which any change may affect.
    pub key: Option<String>,
}

/// What one ExternalSecret depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dependencies {
    pub target: String,
    pub stores: BTreeSet<StoreKey>,
    pub sources: BTreeSet<SourceKey>,
}

type EsRef = ObjectRef<ExternalSecret>;
/// One allocation per ExternalSecret, shared by every map below (an `ObjectRef` is about a
/// hundred bytes plus its strings; the maps would otherwise hold four copies).
type Es = Arc<EsRef>;

/// [`Dependencies`] as kept: boxed slices, since a one-element `BTreeSet` allocates a whole
/// B-tree node (hundreds of bytes) and there is one of these per ExternalSecret.
struct Stored {
    target: Box<str>,
    stores: Box<[StoreKey]>,
    sources: Box<[SourceKey]>,
}

impl From<Dependencies> for Stored {
    fn from(d: Dependencies) -> Self {
        Self {
            target: d.target.into_boxed_str(),
            stores: d.stores.into_iter().collect(),
            sources: d.sources.into_iter().collect(),
        }
    }
}

/// A target Secret: who writes it (usually one ExternalSecret, so a Vec rather than a set) and
/// the resourceVersion of esox's own last write, whose watch event needs no reconcile.
#[derive(Default)]
struct Target {
    readers: Vec<Es>,
    written: Option<Box<str>>,
}

type TargetKey = (Arc<str>, Box<str>);

#[derive(Default)]
struct Inner {
    deps: HashMap<Es, Stored>,
    by_target: HashMap<TargetKey, Target>,
    by_store: HashMap<StoreKey, HashSet<Es>>,
    by_source: HashMap<SourceKey, HashSet<Es>>,
    /// Namespace names, shared by the target keys.
    namespaces: HashSet<Arc<str>>,
}

/// The indexes, shared by the controllers.
#[derive(Default)]
pub struct Index {
    inner: Mutex<Inner>,
}

fn target_key(namespace: &str, name: &str) -> TargetKey {
    (Arc::from(namespace), Box::from(name))
}

impl Inner {
    fn namespace(&mut self, ns: &str) -> Arc<str> {
        if let Some(n) = self.namespaces.get(ns) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(ns);
        self.namespaces.insert(n.clone());
        n
    }

    /// Removes `es` from every map; returns its shared reference if it was known.
    fn unlink(&mut self, es: &EsRef) -> Option<Es> {
        let (shared, old) = self.deps.remove_entry(es)?;
        let ns = es.namespace.as_deref().unwrap_or_default();
        let key = target_key(ns, &old.target);
        if let Some(t) = self.by_target.get_mut(&key) {
            t.readers.retain(|e| **e != *es);
            if t.readers.is_empty() {
                self.by_target.remove(&key);
            }
        }
        for s in old.stores.iter() {
            remove(&mut self.by_store, s, es);
        }
        for s in old.sources.iter() {
            remove(&mut self.by_source, s, es);
        }
        Some(shared)
    }
}

fn remove<K: std::hash::Hash + Eq>(map: &mut HashMap<K, HashSet<Es>>, key: &K, es: &EsRef) {
    if let Some(set) = map.get_mut(key) {
        set.retain(|e| **e != *es);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

impl Index {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain maps behind; they are still consistent
        // enough to serve lookups, so a poisoned lock is not fatal.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces what `es` depends on.
    pub fn record(&self, es: &EsRef, deps: Dependencies) {
        let ns = es.namespace.clone().unwrap_or_default();
        let deps = Stored::from(deps);
        let mut inner = self.lock();
        // Without the uid and resourceVersion a reference from the object carries: they are
        // not part of its identity.
        let shared = inner
            .unlink(es)
            .unwrap_or_else(|| Arc::new(EsRef::new(&es.name).within(&ns)));
        let ns = inner.namespace(&ns);
        let target = inner
            .by_target
            .entry((ns, deps.target.clone()))
            .or_default();
        if !target.readers.iter().any(|e| **e == *es) {
            target.readers.push(shared.clone());
        }
        for s in deps.stores.iter() {
            inner
                .by_store
                .entry(s.clone())
                .or_default()
                .insert(shared.clone());
        }
        for s in deps.sources.iter() {
            inner
                .by_source
                .entry(s.clone())
                .or_default()
                .insert(shared.clone());
        }
        inner.deps.insert(shared, deps);
    }

    /// Forgets a deleted ExternalSecret.
    pub fn forget(&self, es: &EsRef) {
        self.lock().unlink(es);
    }

    /// The remote sources `es` read at its last fetch.
    pub fn sources_of(&self, es: &EsRef) -> Option<BTreeSet<SourceKey>> {
        self.lock()
            .deps
            .get(es)
            .map(|d| d.sources.iter().cloned().collect())
    }

    pub fn for_target(&self, namespace: &str, name: &str) -> Vec<EsRef> {
        self.lock()
            .by_target
            .get(&target_key(namespace, name))
            .map(|t| t.readers.iter().map(|e| EsRef::clone(e)).collect())
            .unwrap_or_default()
    }

    pub fn for_store(&self, store: &StoreKey) -> Vec<EsRef> {
        self.lock()
            .by_store
            .get(store)
            .map(|s| s.iter().map(|e| EsRef::clone(e)).collect())
            .unwrap_or_default()
    }

    /// ExternalSecrets that read `key` through `watch_key`, plus those that search it.
    pub fn for_source(&self, watch_key: &str, key: &str) -> Vec<EsRef> {
        let inner = self.lock();
        let exact = SourceKey {
            watch_key: watch_key.to_owned(),
            key: Some(key.to_owned()),
        };
        let any = SourceKey {
            watch_key: watch_key.to_owned(),
            key: None,
        };
        let mut out: HashSet<Es> = HashSet::new();
        for k in [exact, any] {
            if let Some(s) = inner.by_source.get(&k) {
                out.extend(s.iter().cloned());
            }
        }
        out.into_iter().map(|e| EsRef::clone(&e)).collect()
    }

    /// ExternalSecrets that read anything through `watch_key`.
    pub fn for_watch(&self, watch_key: &str) -> Vec<EsRef> {
        let inner = self.lock();
        let mut out: HashSet<&Es> = HashSet::new();
        for (key, readers) in &inner.by_source {
            if key.watch_key == watch_key {
                out.extend(readers);
            }
        }
        out.into_iter().map(|e| EsRef::clone(e)).collect()
    }

    /// Remembers the resourceVersion of esox's own write of a target (`None`: forget it).
    pub fn note_written(&self, namespace: &str, name: &str, resource_version: Option<String>) {
        let mut inner = self.lock();
        let ns = inner.namespace(namespace);
        let target = inner.by_target.entry((ns, Box::from(name))).or_default();
        target.written = resource_version.map(String::into_boxed_str);
        if target.readers.is_empty() && target.written.is_none() {
            inner.by_target.remove(&target_key(namespace, name));
        }
    }

    /// Whether this resourceVersion is the one esox itself wrote.
    pub fn is_own_write(&self, namespace: &str, name: &str, resource_version: &str) -> bool {
        self.lock()
            .by_target
            .get(&target_key(namespace, name))
            .and_then(|t| t.written.as_deref())
            == Some(resource_version)
    }

    /// Number of ExternalSecrets tracked (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().deps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(ns: &str, name: &str) -> EsRef {
        EsRef::new(name).within(ns)
    }

    fn deps(target: &str, store: &str, source: Option<&str>) -> Dependencies {
        Dependencies {
            target: target.to_owned(),
            stores: BTreeSet::from([StoreKey {
                kind: esox_api::v1::StoreKind::ClusterSecretStore,
                namespace: String::new(),
                name: store.to_owned(),
            }]),
            sources: source
                .map(|k| SourceKey {
                    watch_key: "w".to_owned(),
                    key: Some(k.to_owned()),
                })
                .into_iter()
                .collect(),
        }
    }

    fn store(name: &str) -> StoreKey {
        StoreKey {
            kind: esox_api::v1::StoreKind::ClusterSecretStore,
            namespace: String::new(),
            name: name.to_owned(),
        }
    }

    #[test]
    fn lookups_follow_the_latest_record_and_forget() {
        let idx = Index::default();
        let a = es("bar", "a");
        let b = es("bar", "b");
        idx.record(&a, deps("t", "s1", Some("src")));
        idx.record(&b, deps("t", "s2", None));
        let mut readers = idx.for_target("bar", "t");
        readers.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(readers, vec![a.clone(), b.clone()]);
        assert_eq!(idx.for_store(&store("s1")), vec![a.clone()]);
        assert_eq!(idx.for_source("w", "src"), vec![a.clone()]);
        assert!(idx.for_source("w", "other").is_empty());
        assert_eq!(idx.for_watch("w"), vec![a.clone()]);
        assert!(idx.for_watch("elsewhere").is_empty());
        assert!(
            idx.for_target("foo", "t").is_empty(),
            "namespaces are apart"
        );

        // A new record replaces the old dependencies.
        idx.record(&a, deps("u", "s2", None));
        assert_eq!(idx.for_target("bar", "t"), vec![b.clone()]);
        assert_eq!(idx.for_target("bar", "u"), vec![a.clone()]);
        assert!(idx.for_store(&store("s1")).is_empty());
        assert_eq!(idx.for_store(&store("s2")).len(), 2);
        assert!(idx.for_source("w", "src").is_empty());
        assert_eq!(idx.sources_of(&a), Some(BTreeSet::new()));

        // Own writes are recognised by resourceVersion only.
        idx.note_written("bar", "u", Some("7".into()));
        assert!(idx.is_own_write("bar", "u", "7"));
        assert!(!idx.is_own_write("bar", "u", "8"));
        assert!(!idx.is_own_write("bar", "t", "7"));

        idx.forget(&a);
        idx.forget(&b);
        assert!(idx.is_empty());
        assert!(idx.for_target("bar", "t").is_empty());
        assert!(idx.for_store(&store("s2")).is_empty());
    }
}
