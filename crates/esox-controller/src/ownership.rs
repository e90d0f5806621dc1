//! Controller ownerReferences: which object controls which, and deleting a child only when it is
//! really ours.

use kube::api::DeleteParams;
use kube::{Api, Resource};
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
