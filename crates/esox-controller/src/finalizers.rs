//! Adding and removing one finalizer with a merge patch guarded by the object's resourceVersion,
//! so a concurrent change of the list by someone else is a conflict (retried), never lost.
//!
//! Not kube-runtime's `finalizer` helper: it adds the finalizer in a reconcile of its own and
//! returns, so every new object costs one more reconcile (and one more write to wait for)
//! before its first sync; and it finalizes every object, while ExternalSecrets and PushSecrets
//! carry theirs only while their deletion has work for esox ([`keep`]), so that the others can
//! be deleted while esox is down or uninstalled.

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt as _};
use serde::de::DeserializeOwned;
use serde_json::json;

/// Whether `obj` carries `finalizer`.
pub fn has<K: Resource>(obj: &K, finalizer: &str) -> bool {
    obj.finalizers().iter().any(|f| f == finalizer)
}

/// A conditional finalizer: adds `finalizer` to `obj` when its deletion has work to do
/// (`wanted`), removes it otherwise; writes nothing when the list is as wanted already.
pub async fn keep<K>(
    api: &Api<K>,
    obj: &K,
    finalizer: &str,
    wanted: bool,
) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    if wanted {
        ensure(api, obj, finalizer).await
    } else {
        remove(api, obj, finalizer).await
    }
}

/// Adds `finalizer` to `obj` unless it is there already.
pub async fn ensure<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    if has(obj, finalizer) {
        return Ok(());
    }
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(finalizer.to_owned());
    patch(api, obj, finalizers).await
}

/// Removes `finalizer` from `obj`; an object already gone is fine.
pub async fn remove<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    if !has(obj, finalizer) {
        return Ok(());
    }
    let finalizers: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != finalizer)
        .cloned()
        .collect();
    match patch(api, obj, finalizers).await {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other,
    }
}

async fn patch<K>(api: &Api<K>, obj: &K, finalizers: Vec<String>) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let body =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.resource_version()}});
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&body),
    )
    .await
    .map(|_| ())
}
