//! The object store: every object as JSON, keyed by group/resource, namespace and name, with one
//! global resourceVersion counter and a bounded event history for watch resumption.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::resources::GroupResource;
use crate::util::{meta, meta_mut};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as delivered to watchers and controllers.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    pub gr: GroupResource,
    pub namespace: String,
    pub name: String,
    pub object: Arc<Value>,
    /// The object before a modification (watch selectors need it to turn a change that
    /// leaves or enters the selection into DELETED or ADDED).
    pub previous: Option<Arc<Value>>,
}

/// Replayed history plus the receiver for what follows.
pub type WatchStart = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>);

type Objects = BTreeMap<(String, String), Arc<Value>>;

#[derive(Default)]
struct Inner {
    objects: HashMap<GroupResource, Objects>,
    uids: HashMap<String, (GroupResource, String, String)>,
    rv: u64,
    history: VecDeque<Arc<Event>>,
}

/// Why a store operation did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum StoreError {
    NotFound,
    AlreadyExists,
    /// The requested resourceVersion is older than the retained history.
    TooOld {
        oldest: u64,
    },
}

/// The outcome of an atomic read-modify-write.
pub enum Mutation {
    /// Leave the object as it is.
    Keep,
    /// Store this new content.
    Replace(Value),
    /// Remove the object.
    Remove,
}

pub struct Store {
    inner: RwLock<Inner>,
    tx: broadcast::Sender<Arc<Event>>,
    history_limit: usize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resource_version", &self.current_rv())
            .finish_non_exhaustive()
    }
}

fn set_rv(obj: &mut Value, rv: u64) {
    meta_mut(obj).insert("resourceVersion".into(), Value::String(rv.to_string()));
}

#[cfg(test)]
pub fn rv_of(obj: &Value) -> Option<u64> {
    meta(obj)
        .and_then(|m| m.get("resourceVersion"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

fn uid_of(obj: &Value) -> Option<String> {
    meta(obj)
        .and_then(|m| m.get("uid"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(8192);
        Self {
            inner: RwLock::new(Inner {
                rv: 1,
                ..Inner::default()
            }),
            tx,
            history_limit,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock leaves data that is still consistent per object.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn current_rv(&self) -> u64 {
        self.read().rv
    }

    pub fn get(&self, gr: &GroupResource, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.read()
            .objects
            .get(gr)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    pub fn lookup_uid(&self, uid: &str) -> Option<(GroupResource, String, String)> {
        self.read().uids.get(uid).cloned()
    }

    /// Objects of a resource (in one namespace or all), in (namespace, name) order, and the
    /// resourceVersion the list is consistent with.
    pub fn list(&self, gr: &GroupResource, ns: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let inner = self.read();
        let items = match inner.objects.get(gr) {
            None => Vec::new(),
            Some(objs) => match ns {
                Some(ns) => objs
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, v)| v.clone())
                    .collect(),
                None => objs.values().cloned().collect(),
            },
        };
        (items, inner.rv)
    }

    /// Every object of every resource in a namespace.
    pub fn all_in_namespace(&self, ns: &str) -> Vec<(GroupResource, Arc<Value>)> {
        let inner = self.read();
        let mut out = Vec::new();
        for (gr, objs) in &inner.objects {
            for ((n, _), v) in objs.range((ns.to_string(), String::new())..) {
                if n != ns {
                    break;
                }
                out.push((gr.clone(), v.clone()));
            }
        }
        out
    }

    /// Every stored object (controllers' resync).
    pub fn all(&self) -> Vec<(GroupResource, Arc<Value>)> {
        let inner = self.read();
        inner
            .objects
            .iter()
            .flat_map(|(gr, objs)| objs.values().map(move |v| (gr.clone(), v.clone())))
            .collect()
    }

    pub fn count(&self) -> usize {
        self.read().objects.values().map(BTreeMap::len).sum()
    }

    fn emit(&self, inner: &mut Inner, ev: Event) {
        let ev = Arc::new(ev);
        inner.history.push_back(ev.clone());
        while inner.history.len() > self.history_limit {
            inner.history.pop_front();
        }
        // No receivers is normal (nobody watches).
        let _ = self.tx.send(ev);
    }

    pub fn create(
        &self,
        gr: &GroupResource,
        ns: &str,
        mut obj: Value,
    ) -> Result<Arc<Value>, StoreError> {
        let name = crate::util::name_of(&obj).to_string();
        let mut inner = self.write();
        let key = (ns.to_string(), name.clone());
        if inner.objects.get(gr).is_some_and(|o| o.contains_key(&key)) {
            return Err(StoreError::AlreadyExists);
        }
        inner.rv += 1;
        let rv = inner.rv;
        set_rv(&mut obj, rv);
        let obj = Arc::new(obj);
        if let Some(uid) = uid_of(&obj) {
            inner
                .uids
                .insert(uid, (gr.clone(), ns.to_string(), name.clone()));
        }
        inner
            .objects
            .entry(gr.clone())
            .or_default()
            .insert(key, obj.clone());
        let ev = Event {
            rv,
            kind: EventType::Added,
            gr: gr.clone(),
            namespace: ns.to_string(),
            name,
            object: obj.clone(),
            previous: None,
        };
        self.emit(&mut inner, ev);
        Ok(obj)
    }

    /// Atomically reads an object, lets `f` decide what to do, and applies it. Returns the
    /// object as stored afterwards (for `Remove`, the removed object with its final version).
    pub fn mutate<E>(
        &self,
        gr: &GroupResource,
        ns: &str,
        name: &str,
        f: impl FnOnce(&Arc<Value>) -> Result<Mutation, E>,
    ) -> Result<Result<(Arc<Value>, bool), E>, StoreError> {
        let mut inner = self.write();
        let key = (ns.to_string(), name.to_string());
        let current = inner
            .objects
            .get(gr)
            .and_then(|o| o.get(&key))
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let decision = match f(&current) {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        match decision {
            Mutation::Keep => Ok(Ok((current, false))),
            Mutation::Replace(mut obj) => {
                inner.rv += 1;
                let rv = inner.rv;
                set_rv(&mut obj, rv);
                let obj = Arc::new(obj);
                inner
                    .objects
                    .entry(gr.clone())
                    .or_default()
                    .insert(key, obj.clone());
                let ev = Event {
                    rv,
                    kind: EventType::Modified,
                    gr: gr.clone(),
                    namespace: ns.to_string(),
                    name: name.to_string(),
                    object: obj.clone(),
                    previous: Some(current.clone()),
                };
                self.emit(&mut inner, ev);
                Ok(Ok((obj, true)))
            }
            Mutation::Remove => {
                inner.rv += 1;
                let rv = inner.rv;
                if let Some(objs) = inner.objects.get_mut(gr) {
                    objs.remove(&key);
                }
                if let Some(uid) = uid_of(&current) {
                    inner.uids.remove(&uid);
                }
                let mut last = (*current).clone();
                set_rv(&mut last, rv);
                let last = Arc::new(last);
                let ev = Event {
                    rv,
                    kind: EventType::Deleted,
                    gr: gr.clone(),
                    namespace: ns.to_string(),
                    name: name.to_string(),
                    object: last.clone(),
                    previous: None,
                };
                self.emit(&mut inner, ev);
                Ok(Ok((last, true)))
            }
        }
    }

    /// Events after `after_rv` still in history plus a receiver for the ones to come, taken
    /// atomically so none is lost or repeated.
    pub fn watch_from(&self, after_rv: u64) -> Result<WatchStart, StoreError> {
        let inner = self.read();
        let rx = self.tx.subscribe();
        if after_rv >= inner.rv {
            return Ok((Vec::new(), rx));
        }
        let oldest = inner.history.front().map(|e| e.rv).unwrap_or(inner.rv + 1);
        if after_rv + 1 < oldest {
            return Err(StoreError::TooOld { oldest });
        }
        let start = inner.history.partition_point(|e| e.rv <= after_rv);
        Ok((inner.history.range(start..).cloned().collect(), rx))
    }

    /// A receiver for all future events (controllers).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Forgets history up to now so that older resourceVersions answer 410 Gone (as after an
    /// etcd compaction).
    pub fn compact(&self) {
        let mut inner = self.write();
        inner.history.clear();
        inner.rv += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gr() -> GroupResource {
        GroupResource::new("", "configmaps")
    }

    #[test]
    fn create_bumps_rv_and_refuses_duplicates() {
        let s = Store::new(100);
        let a = s
            .create(&gr(), "ns", json!({"metadata": {"name": "a"}}))
            .expect("create");
        assert_eq!(rv_of(&a), Some(2));
        assert_eq!(
            s.create(&gr(), "ns", json!({"metadata": {"name": "a"}}))
                .err(),
            Some(StoreError::AlreadyExists)
        );
    }

    #[test]
    fn watch_history_resumes_and_expires() {
        let s = Store::new(2);
        for n in ["a", "b", "c"] {
            s.create(&gr(), "ns", json!({"metadata": {"name": n}}))
                .expect("create");
        }
        let (events, _) = s.watch_from(2).expect("in history");
        assert_eq!(
            events.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert!(matches!(s.watch_from(1), Err(StoreError::TooOld { .. })));
    }

    #[test]
    fn list_by_namespace() {
        let s = Store::new(10);
        s.create(&gr(), "a", json!({"metadata": {"name": "x"}}))
            .expect("create");
        s.create(&gr(), "b", json!({"metadata": {"name": "x"}}))
            .expect("create");
        assert_eq!(s.list(&gr(), Some("a")).0.len(), 1);
        assert_eq!(s.list(&gr(), None).0.len(), 2);
    }
}
