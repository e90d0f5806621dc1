//! Controller ownerReferences: which object controls which, and deleting a child only when it is
//! really ours.

use kube::api::{DeleteParams, PostParams};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Whether `owner` is the controller (ownerReference with `controller: true`) of `child`.
pub fn controlled_by(child: &impl Resource, owner: &impl Resource) -> bool {
    let uid = owner.meta().uid.as_deref().unwrap_or_default();
    child
        .meta()
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

/// Deletes `name` from `api` if `owner` controls it; a missing object is fine, and an object
/// someone else controls is left alone.
pub async fn delete_if_controlled<K>(
    api: &Api<K>,
    name: &str,
    owner: &impl Resource,
) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.get_opt(name).await? {
        Some(child) if controlled_by(&child, owner) => {
            match api.delete(name, &DeleteParams::default()).await {
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                other => other.map(|_| ()),
            }
        }
        _ => Ok(()),
    }
}

/// Creates the child `desired`, or replaces `existing` with it unless `unchanged(existing,
/// desired)` holds. A replacement keeps what is not the owner's to set: the existing
/// resourceVersion (so a concurrent change is a conflict), finalizers, and the status that
/// `keep_status` copies over.
pub async fn create_or_replace<K>(
    api: &Api<K>,
    mut desired: K,
    existing: Option<K>,
    unchanged: impl FnOnce(&K, &K) -> bool,
    keep_status: impl FnOnce(&mut K, &K),
) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let Some(current) = existing else {
        return api
            .create(&PostParams::default(), &desired)
            .await
            .map(|_| ());
    };
    if unchanged(&current, &desired) {
        return Ok(());
    }
    let name = desired.meta().name.clone().unwrap_or_default();
    desired.meta_mut().resource_version = current.meta().resource_version.clone();
    desired.meta_mut().finalizers = current.meta().finalizers.clone();
    keep_status(&mut desired, &current);
    api.replace(&name, &PostParams::default(), &desired)
        .await
        .map(|_| ())
}
