//! Garbage collection by ownerReferences: background deletion of dependents whose owners are
//! gone, foreground deletion (`foregroundDeletion` finalizer) and orphaning (`orphan`).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::resources::GroupResource;
use crate::state::State;
use crate::store::{Event, EventType};
use crate::util::{finalizers, meta, meta_str, name_of};

type Key = (GroupResource, String, String);

/// Indexes kept from store events, so that no event or periodic pass has to look at every
/// object (the store may hold tens of thousands).
#[derive(Default)]
pub(crate) struct Gc {
    /// Owner uid to dependents.
    dependents: HashMap<String, HashSet<Key>>,
    /// Dependent to its owner uids (the reverse of `dependents`).
    owners_of: HashMap<Key, Vec<String>>,
    /// Objects waiting for foreground deletion or orphaning.
    deleting: HashSet<Key>,
}

fn owner_uids(obj: &Value) -> Vec<String> {
    meta(obj)
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|o| o.get("uid").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn key_of(gr: &GroupResource, obj: &Value) -> Key {
    (
        gr.clone(),
        meta_str(obj, "namespace").unwrap_or("").to_string(),
        name_of(obj).to_string(),
    )
}

fn waits_for_gc(obj: &Value) -> bool {
    finalizers(obj)
        .iter()
        .any(|f| f == "foregroundDeletion" || f == "orphan")
}

impl Gc {
    pub(crate) fn rebuild(&mut self, state: &State) {
        self.dependents.clear();
        self.owners_of.clear();
        self.deleting.clear();
        for (gr, obj) in state.store.all() {
            self.index(key_of(&gr, &obj), Some(&obj));
        }
    }

    pub(crate) fn observe(&mut self, e: &Event) {
        let key = (e.gr.clone(), e.namespace.clone(), e.name.clone());
        let obj = (e.kind != EventType::Deleted).then_some(e.object.as_ref());
        self.index(key, obj);
    }

    /// Records what `key` looks like now (`None`: it is gone).
    fn index(&mut self, key: Key, obj: Option<&Value>) {
        if let Some(old) = self.owners_of.remove(&key) {
            for uid in old {
                if let Some(set) = self.dependents.get_mut(&uid) {
                    set.remove(&key);
                    if set.is_empty() {
                        self.dependents.remove(&uid);
                    }
                }
            }
        }
        let Some(obj) = obj else {
            self.deleting.remove(&key);
            return;
        };
        if waits_for_gc(obj) {
            self.deleting.insert(key.clone());
        } else {
            self.deleting.remove(&key);
        }
        let owners = owner_uids(obj);
        if owners.is_empty() {
            return;
        }
        for uid in &owners {
            self.dependents
                .entry(uid.clone())
                .or_default()
                .insert(key.clone());
        }
        self.owners_of.insert(key, owners);
    }

    pub(crate) fn on_event(&mut self, state: &State, e: &Event) {
        match e.kind {
            EventType::Deleted => {
                if let Some(uid) = meta_str(&e.object, "uid") {
                    self.collect_orphans_of(state, uid);
                }
                // A dependent went away: an owner waiting in foreground deletion may finish.
                for uid in owner_uids(&e.object) {
                    if let Some((gr, ns, name)) = state.store.lookup_uid(&uid) {
                        self.reconcile_deleting(state, &gr, &ns, &name);
                    }
                }
            }
            _ => {
                if meta(&e.object).is_some_and(|m| m.contains_key("deletionTimestamp")) {
                    self.reconcile_deleting(state, &e.gr, &e.namespace, &e.name);
                }
                if e.kind == EventType::Added {
                    let owners = owner_uids(&e.object);
                    if !owners.is_empty()
                        && owners.iter().all(|u| state.store.lookup_uid(u).is_none())
                    {
                        delete_background(state, &e.gr, &e.namespace, &e.name);
                    }
                }
            }
        }
    }

    pub(crate) fn reconcile_all(&mut self, state: &State) {
        let deleting: Vec<Key> = self.deleting.iter().cloned().collect();
        for (gr, ns, name) in deleting {
            self.reconcile_deleting(state, &gr, &ns, &name);
        }
    }

    /// Dependents of a removed owner are deleted when no other owner of theirs remains.
    fn collect_orphans_of(&mut self, state: &State, uid: &str) {
        let Some(deps) = self.dependents.get(uid).cloned() else {
            return;
        };
        for (gr, ns, name) in deps {
            let Some(obj) = state.store.get(&gr, &ns, &name) else {
                continue;
            };
            if owner_uids(&obj)
                .iter()
                .all(|u| state.store.lookup_uid(u).is_none())
            {
                delete_background(state, &gr, &ns, &name);
            }
        }
    }

    fn reconcile_deleting(&mut self, state: &State, gr: &GroupResource, ns: &str, name: &str) {
        let Some(obj) = state.store.get(gr, ns, name) else {
            return;
        };
        let fins = finalizers(&obj);
        let uid = meta_str(&obj, "uid").unwrap_or("").to_string();
        let deps: Vec<Key> = self
            .dependents
            .get(&uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let Some(info) = state.info_for(gr) else {
            return;
        };
        if fins.iter().any(|f| f == "orphan") {
            for (dgr, dns, dname) in &deps {
                if let Some(dinfo) = state.info_for(dgr) {
                    let _ = crate::handlers::write::update(
                        state,
                        &dinfo,
                        dns,
                        dname,
                        &super::ctx(),
                        |cur| {
                            let mut n = cur.clone();
                            if let Some(Value::Array(refs)) =
                                n.pointer_mut("/metadata/ownerReferences")
                            {
                                refs.retain(|r| {
                                    r.get("uid").and_then(Value::as_str) != Some(uid.as_str())
                                });
                            }
                            Ok(n)
                        },
                    );
                }
            }
            remove_finalizer(state, &info, ns, name, "orphan");
            return;
        }
        if fins.iter().any(|f| f == "foregroundDeletion") {
            let mut remaining = 0;
            for (dgr, dns, dname) in &deps {
                if let Some(dinfo) = state.info_for(dgr)
                    && state.store.get(dgr, dns, dname).is_some()
                {
                    remaining += 1;
                    let opts = crate::handlers::write::DeleteOpts {
                        propagation: Some("Foreground".into()),
                        ..Default::default()
                    };
                    let _ = crate::handlers::write::delete(state, &dinfo, dns, dname, &opts);
                }
            }
            let still: usize = deps
                .iter()
                .filter(|(g, n, m)| state.store.get(g, n, m).is_some())
                .count();
            if remaining == 0 || still == 0 {
                remove_finalizer(state, &info, ns, name, "foregroundDeletion");
            }
        }
    }
}

fn remove_finalizer(
    state: &State,
    info: &crate::resources::ResourceInfo,
    ns: &str,
    name: &str,
    fin: &str,
) {
    let _ = crate::handlers::write::update(state, info, ns, name, &super::ctx(), |cur| {
        let mut n = cur.clone();
        if let Some(Value::Array(f)) = n.pointer_mut("/metadata/finalizers") {
            f.retain(|x| x.as_str() != Some(fin));
        }
        Ok(n)
    });
}

fn delete_background(state: &State, gr: &GroupResource, ns: &str, name: &str) {
    if let Some(info) = state.info_for(gr) {
        let opts = crate::handlers::write::DeleteOpts {
            propagation: Some("Background".into()),
            ..Default::default()
        };
        let _ = crate::handlers::write::delete(state, &info, ns, name, &opts);
    }
}
