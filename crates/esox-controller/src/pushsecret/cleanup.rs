//! Removing pushed entries from stores (deletionPolicy Delete). A failure is reported per entry;
//! the caller decides whether to retry or give up, so that a store, credential or cluster that is
//! already gone can never wedge a finalizer.

use std::time::Duration;

use esox_api::v1::{ClusterSecretStore, SecretStore, SecretStoreRef, StoreKind};
use esox_api::v1alpha1::PushSecret;
use esox_providers::PushEntry;
use kube::{Api, ResourceExt as _};

use super::entries::parse_store_key;
use super::status::Synced;
use crate::context::Context;
use crate::error::Error;
use crate::stores;

/// How long one store may take to delete its entries before it counts as failed.
const STORE_TIMEOUT: Duration = Duration::from_secs(8);

/// An entry that could not be deleted.
#[derive(Debug)]
pub struct Failure {
    pub store: String,
    pub key: String,
    pub reason: String,
    /// Retrying cannot help: the store itself is gone.
    pub permanent: bool,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?} ({})", self.store, self.key, self.reason)
    }
}

/// Deletes every entry of `entries` from its store; returns the entries that could not be deleted.
pub async fn delete_entries(ctx: &Context, ps: &PushSecret, entries: &Synced) -> Vec<Failure> {
    let namespace = &ps.namespace().unwrap_or_default();
    let owner = super::reconcile::owner_of(namespace, &ps.name_any());
    let mut failures = Vec::new();
    for (store_key, keys) in entries {
        let fail_all = |reason: String, permanent: bool, out: &mut Vec<Failure>| {
            out.extend(keys.keys().map(|k| Failure {
                store: store_key.clone(),
                key: k.clone(),
                reason: reason.clone(),
                permanent,
            }));
        };
        let Some((kind, name)) = parse_store_key(store_key) else {
            fail_all(
                "unknown store kind in status.syncedPushSecrets".to_owned(),
                true,
                &mut failures,
            );
            continue;
        };
        match store_exists(ctx, kind, &name, namespace).await {
            Ok(true) => {}
            Ok(false) => {
                fail_all(
                    format!("{kind} {name:?} no longer exists"),
                    true,
                    &mut failures,
                );
                continue;
            }
            Err(e) => {
                fail_all(e.to_string(), false, &mut failures);
                continue;
            }
        }
        let work = delete_from_store(ctx, namespace, &owner, kind, &name, keys);
        match tokio::time::timeout(STORE_TIMEOUT, work).await {
            Ok(Ok(mut f)) => {
                for x in &mut f {
                    x.store = store_key.clone();
                }
                failures.extend(f);
            }
            Ok(Err(e)) => fail_all(e.to_string(), false, &mut failures),
            Err(_) => fail_all(
                format!(
                    "the store did not answer within {}s",
                    STORE_TIMEOUT.as_secs()
                ),
                false,
                &mut failures,
            ),
        }
    }
    failures
}

async fn delete_from_store(
    ctx: &Context,
    namespace: &str,
    owner: &str,
    kind: StoreKind,
    name: &str,
    keys: &std::collections::BTreeMap<String, esox_api::v1alpha1::PushSecretData>,
) -> Result<Vec<Failure>, Error> {
    let store_ref = SecretStoreRef {
        name: name.to_owned(),
        kind: Some(kind),
    };
    let Some(store) = stores::resolve(ctx, &store_ref, namespace, false).await? else {
        // Another controller class serves that store now: its entries are not ours to delete.
        return Ok(Vec::new());
    };
    let client = stores::client(ctx, &store, Some(namespace)).await?;
    let mut failures = Vec::new();
    for (key, data) in keys {
        let entry = PushEntry {
            secret_key: data.match_.secret_key.clone(),
            remote_ref: data.match_.remote_ref.clone(),
            // The entry's metadata as pushed: it says where the remote secret went.
            metadata: data.metadata.as_ref().map(|m| m.0.clone()),
            never_pushed: false,
            owner: Some(owner.to_owned()),
        };
        if let Err(e) = client.delete_secret(&entry).await {
            failures.push(Failure {
                store: String::new(),
                key: key.clone(),
                reason: e.to_string(),
                permanent: false,
            });
        }
    }
    Ok(failures)
}

/// Whether the store exists (a missing store can never delete anything).
pub async fn store_exists(
    ctx: &Context,
    kind: StoreKind,
    name: &str,
    namespace: &str,
) -> Result<bool, Error> {
    crate::stores::kind_served(ctx, kind)?;
    Ok(match kind {
        StoreKind::SecretStore => Api::<SecretStore>::namespaced(ctx.client.clone(), namespace)
            .get_metadata_opt(name)
            .await?
            .is_some(),
        StoreKind::ClusterSecretStore => Api::<ClusterSecretStore>::all(ctx.client.clone())
            .get_metadata_opt(name)
            .await?
            .is_some(),
    })
}
