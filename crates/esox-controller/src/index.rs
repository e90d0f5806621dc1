//! In-memory indexes from what changed (a Secret, a store, a remote secret) to the
//! ExternalSecrets that must reconcile. They are filled by the reconciles themselves, so their
//! size follows the number of ExternalSecrets, never the number of Secrets in the cluster.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

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

#[derive(Default)]
struct Inner {
    deps: HashMap<EsRef, Stored>,
    /// Usually one ExternalSecret per target: a Vec, not a set (an empty-ish hash set
    /// allocates room for several entries).
    by_target: HashMap<(String, String), Vec<EsRef>>,
    by_store: HashMap<StoreKey, HashSet<EsRef>>,
    by_source: HashMap<SourceKey, HashSet<EsRef>>,
    /// resourceVersion of each target as esox last wrote it: the watch event of our own write
    /// need not trigger a reconcile.
    written: HashMap<(String, String), String>,
}

/// The indexes, shared by the controllers.
#[derive(Default)]
pub struct Index {
    inner: Mutex<Inner>,
}

fn remove<K: std::hash::Hash + Eq>(map: &mut HashMap<K, HashSet<EsRef>>, key: K, es: &EsRef) {
    if let Some(set) = map.get_mut(&key) {
        set.remove(es);
        if set.is_empty() {
            map.remove(&key);
        }
    }
}

fn remove_from_target(inner: &mut Inner, ns: &str, old: &Stored, es: &EsRef) {
    let key = (ns.to_owned(), old.target.to_string());
    if let Some(list) = inner.by_target.get_mut(&key) {
        list.retain(|e| e != es);
        if list.is_empty() {
            inner.by_target.remove(&key);
        }
    }
}

fn unlink(inner: &mut Inner, ns: &str, es: &EsRef) {
    if let Some(old) = inner.deps.remove(es) {
        remove_from_target(inner, ns, &old, es);
        for s in old.stores.iter() {
            remove(&mut inner.by_store, s.clone(), es);
        }
        for s in old.sources.iter() {
            remove(&mut inner.by_source, s.clone(), es);
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
        // Without the uid and resourceVersion a reference from the object carries: they are
        // not part of its identity and would be copied into every map below.
        let es = &EsRef::new(&es.name).within(&ns);
        let deps = Stored::from(deps);
        let mut inner = self.lock();
        unlink(&mut inner, &ns, es);
        let targets = inner
            .by_target
            .entry((ns, deps.target.to_string()))
            .or_default();
        if !targets.contains(es) {
            targets.push(es.clone());
        }
        for s in deps.stores.iter() {
            inner
                .by_store
                .entry(s.clone())
                .or_default()
                .insert(es.clone());
        }
        for s in deps.sources.iter() {
            inner
                .by_source
                .entry(s.clone())
                .or_default()
                .insert(es.clone());
        }
        inner.deps.insert(es.clone(), deps);
    }

    /// Forgets a deleted ExternalSecret.
    pub fn forget(&self, es: &EsRef) {
        let ns = es.namespace.clone().unwrap_or_default();
        unlink(&mut self.lock(), &ns, es);
    }

    /// The remote sources `es` read at its last fetch.
    pub fn sources_of(&self, es: &EsRef) -> Option<BTreeSet<SourceKey>> {
        self.lock()
            .deps
            .get(es)
            .map(|d| d.sources.iter().cloned().collect())
    }

    pub fn for_target(&self, namespace: &str, name: &str) -> Vec<EsRef> {
        let inner = self.lock();
        inner
            .by_target
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    pub fn for_store(&self, store: &StoreKey) -> Vec<EsRef> {
        let inner = self.lock();
        inner
            .by_store
            .get(store)
            .map(|s| s.iter().cloned().collect())
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
        let mut out: HashSet<EsRef> = HashSet::new();
        for k in [exact, any] {
            if let Some(s) = inner.by_source.get(&k) {
                out.extend(s.iter().cloned());
            }
        }
        out.into_iter().collect()
    }

    pub fn note_written(&self, namespace: &str, name: &str, resource_version: Option<String>) {
        let mut inner = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        match resource_version {
            Some(rv) => {
                inner.written.insert(key, rv);
            }
            None => {
                inner.written.remove(&key);
            }
        }
    }

    /// Whether this resourceVersion is the one esox itself wrote.
    pub fn is_own_write(&self, namespace: &str, name: &str, resource_version: &str) -> bool {
        let inner = self.lock();
        inner
            .written
            .get(&(namespace.to_owned(), name.to_owned()))
            .map(String::as_str)
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
