//! Watched copies of the objects every reconcile consults: stores (few, small) and the labels
//! of namespaces (for ClusterSecretStore conditions). Reading them from memory instead of the
//! API server keeps a reconcile that changes nothing free of requests, and lets a thousand
//! ExternalSecrets refresh without a thousand store reads.
//!
//! The copies may trail the API server by the time a watch event takes to arrive, so a lookup
//! that would refuse (store missing or not ready, namespace not allowed) is confirmed against
//! the API server before the refusal stands (see `stores::resolve`).

use std::sync::Arc;

use esox_api::v1::{ClusterSecretStore, SecretStore, StoreKind};
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::{Api, Resource, ResourceExt as _};
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::index::StoreKey;

/// The readers.
pub struct Caches {
    pub secret_stores: Store<SecretStore>,
    pub cluster_stores: Store<ClusterSecretStore>,
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
}

/// The writers, consumed by [`run`].
pub struct Writers {
    secret_stores: reflector::store::Writer<SecretStore>,
    cluster_stores: reflector::store::Writer<ClusterSecretStore>,
    namespaces: reflector::store::Writer<PartialObjectMeta<Namespace>>,
}

pub fn new() -> (Caches, Writers) {
    let (ss, ss_w) = reflector::store();
    let (css, css_w) = reflector::store();
    let (ns, ns_w) = reflector::store();
    (
        Caches {
            secret_stores: ss,
            cluster_stores: css,
            namespaces: ns,
        },
        Writers {
            secret_stores: ss_w,
            cluster_stores: css_w,
            namespaces: ns_w,
        },
    )
}

impl Caches {
    pub fn secret_store(&self, namespace: &str, name: &str) -> Option<Arc<SecretStore>> {
        self.secret_stores
            .get(&ObjectRef::new(name).within(namespace))
    }

    pub fn cluster_store(&self, name: &str) -> Option<Arc<ClusterSecretStore>> {
        self.cluster_stores.get(&ObjectRef::new(name))
    }

    pub fn namespace(&self, name: &str) -> Option<Arc<PartialObjectMeta<Namespace>>> {
        self.namespaces.get(&ObjectRef::new(name))
    }
}

/// Managed fields are large and never read from these copies.
fn slim<K: Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
}

/// Keeps the caches filled until `shutdown`; a store change asks its ExternalSecrets to
/// reconcile (after the cache holds the change, so they read the new store).
pub async fn run(
    ctx: Arc<Context>,
    writers: Writers,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let client = ctx.client.clone();
    let stores = follow_stores(
        ctx.clone(),
        ctx.served::<crate::lenient::Lenient<SecretStore>>(),
        writers.secret_stores,
        StoreKind::SecretStore,
    );
    // Cluster stores and the namespace labels their conditions read need cluster-wide reads:
    // without cluster stores (namespace-scoped mode) neither is watched.
    let cluster_wide = ctx.options.cluster_stores;
    let cluster_stores = follow_stores(
        ctx.clone(),
        Api::all(client.clone()),
        writers.cluster_stores,
        StoreKind::ClusterSecretStore,
    );
    let namespaces = crate::watches::watch(
        Api::<PartialObjectMeta<Namespace>>::all(client),
        Default::default(),
    )
    .modify(slim)
    .reflect(writers.namespaces)
    .for_each(|_| futures::future::ready(()));
    let cluster = async move {
        if cluster_wide {
            futures::future::join(cluster_stores, namespaces).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = stores => {}
        _ = cluster => {}
        _ = shutdown => {}
    }
}

/// Keeps one kind of store in its cache and asks the ExternalSecrets that use a changed store
/// to reconcile.
async fn follow_stores<K>(
    ctx: Arc<Context>,
    api: Api<crate::lenient::Lenient<K>>,
    writer: reflector::store::Writer<K>,
    kind: StoreKind,
) where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    crate::lenient::watch::<K>(&ctx, api, Default::default())
        .modify(slim)
        .reflect(writer)
        .touched_objects()
        .for_each(|store| {
            if let Ok(store) = store {
                // A ClusterSecretStore has no namespace: its key's namespace is empty.
                let key = StoreKey {
                    kind,
                    namespace: store.namespace().unwrap_or_default(),
                    name: store.name_any(),
                };
                for es in ctx.index.for_store(&key) {
                    ctx.trigger(es);
                }
            }
            futures::future::ready(())
        })
        .await;
}
