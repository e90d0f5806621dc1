//! Writing a PushSecret's status with ESO's reasons. The status is merge-patched; entries that
//! left `syncedPushSecrets` are sent as `null` so the merge removes them.

use std::collections::BTreeMap;

use esox_api::v1alpha1::{PushSecret, PushSecretData, PushSecretStatus};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt as _};
use serde_json::{Value, json};

use crate::error::Error;

pub const SYNCED: &str = "Synced";
pub const ERRORED: &str = "Errored";
pub const SOURCE_DELETED: &str = "SourceDeleted";

/// `status.syncedPushSecrets`.
pub type Synced = BTreeMap<String, BTreeMap<String, PushSecretData>>;

/// Union of two synced maps (`b` wins), so entries whose deletion failed stay tracked.
pub fn union(a: &Synced, b: &Synced) -> Synced {
    let mut out = a.clone();
    for (store, entries) in b {
        out.entry(store.clone())
            .or_default()
            .extend(entries.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

/// `metadata.spec.remoteNamespace` of an entry: where its remote secret went when the store
/// allows the override.
fn remote_namespace(d: &PushSecretData) -> Option<&str> {
    d.metadata
        .as_ref()?
        .0
        .get("spec")?
        .get("remoteNamespace")?
        .as_str()
}

/// Entries of `old` that are absent from `new`, or that `new` writes to another namespace (the
/// old remote secret is then left behind like a renamed one).
pub fn removed(old: &Synced, new: &Synced) -> Synced {
    let mut out = Synced::new();
    for (store, entries) in old {
        for (key, data) in entries {
            let kept = new
                .get(store)
                .and_then(|e| e.get(key))
                .is_some_and(|n| remote_namespace(n) == remote_namespace(data));
            if !kept {
                out.entry(store.clone())
                    .or_default()
                    .insert(key.clone(), data.clone());
            }
        }
    }
    out
}

fn synced_patch(old: &Synced, new: &Synced) -> Value {
    let mut patch = serde_json::Map::new();
    for (store, entries) in new {
        let mut inner = serde_json::Map::new();
        for (k, v) in entries {
            inner.insert(k.clone(), serde_json::to_value(v).unwrap_or(Value::Null));
        }
        if let Some(old_entries) = old.get(store) {
            for k in old_entries.keys().filter(|k| !entries.contains_key(*k)) {
                inner.insert(k.clone(), Value::Null);
            }
        }
        patch.insert(store.clone(), Value::Object(inner));
    }
    for store in old.keys().filter(|s| !new.contains_key(*s)) {
        patch.insert(store.clone(), Value::Null);
    }
    Value::Object(patch)
}

/// Writes `status` unless it equals the current one.
pub async fn write(
    ps: &PushSecret,
    api: &Api<PushSecret>,
    status: &PushSecretStatus,
    recent: &crate::recent_status::RecentStatuses<PushSecret>,
) -> Result<(), Error> {
    let old = ps.status.clone().unwrap_or_default();
    if &old == status {
        return Ok(());
    }
    let mut value = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "syncedPushSecrets".to_owned(),
            synced_patch(&old.synced_push_secrets, &status.synced_push_secrets),
        );
        if status.refresh_time.is_none() {
            obj.insert("refreshTime".to_owned(), Value::Null);
        }
    }
    let patch = json!({ "status": value });
    match api
        .patch_status(
            &ps.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(written) => {
            recent.remember(&written);
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> PushSecretData {
        PushSecretData::default()
    }

    #[test]
    fn removed_entries_become_nulls_in_the_patch() {
        let old: Synced = BTreeMap::from([
            (
                "SecretStore/a".to_owned(),
                BTreeMap::from([("k1".to_owned(), entry()), ("k2".to_owned(), entry())]),
            ),
            (
                "SecretStore/b".to_owned(),
                BTreeMap::from([("k".to_owned(), entry())]),
            ),
        ]);
        let new: Synced = BTreeMap::from([(
            "SecretStore/a".to_owned(),
            BTreeMap::from([("k1".to_owned(), entry())]),
        )]);
        let p = synced_patch(&old, &new);
        assert!(p["SecretStore/a"]["k2"].is_null());
        assert!(p["SecretStore/a"]["k1"].is_object());
        assert!(p["SecretStore/b"].is_null());
        let gone = removed(&old, &new);
        assert_eq!(gone["SecretStore/a"].keys().collect::<Vec<_>>(), ["k2"]);
        assert_eq!(gone["SecretStore/b"].len(), 1);
        assert_eq!(union(&new, &gone), old);
    }
}
