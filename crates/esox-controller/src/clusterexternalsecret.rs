//! The ClusterExternalSecret controller: one ExternalSecret in every selected namespace, created
//! when a namespace starts matching and removed when it stops, within a second (namespaces are
//! watched).
//!
//! Unlike ESO, esox puts no finalizer on Namespaces: a finalizer there wedges the deletion of the
//! namespace whenever the controller is down. Deleting a namespace deletes its ExternalSecrets
//! anyway, and the namespace watch updates the status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use esox_api::labels::{ANNOTATION_FORCE_SYNC, FINALIZER_CLUSTER_EXTERNAL_SECRET};
use esox_api::v1::{
    ClusterCondition, ClusterExternalSecret, ClusterExternalSecretStatus, ExternalSecret,
    NamespaceFailure,
};
use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ListParams, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Resource as _, ResourceExt as _};
use serde_json::json;

use crate::context::Context;
use crate::error::Error;
use crate::selector;
use crate::{fanout, ownership};

/// Reconciles one ClusterExternalSecret and records `clusterexternalsecret_reconcile_duration`.
pub async fn reconcile(
    ces: Arc<ClusterExternalSecret>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let deleting = ces.metadata.deletion_timestamp.is_some();
    let name = ces.name_any();
    let result = reconcile_inner(ces, ctx.clone()).await;
    // A ClusterExternalSecret being deleted records nothing, so that its series stay removed.
    if !deleting {
        ctx.metrics
            .cluster_external_secret_reconciled(&name, started.elapsed());
    }
    result
}

#[tracing::instrument(skip_all, fields(name = ces.name_any()))]
async fn reconcile_inner(
    ces: Arc<ClusterExternalSecret>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let name = ces.name_any();
    let api: Api<ClusterExternalSecret> = Api::all(ctx.client.clone());
    let child_name = ces
        .spec
        .external_secret_name
        .clone()
        .unwrap_or_else(|| name.clone());
    let status = ces.status.clone().unwrap_or_default();

    if ces.metadata.deletion_timestamp.is_some() {
        for ns in &status.provisioned_namespaces {
            // Best effort: the children are also garbage-collected through their ownerReference,
            // so a failure here must not keep the finalizer.
            if let Err(e) = delete_child(&ctx, &ces, ns, &child_name).await {
                tracing::warn!(namespace = %ns, error = %e, "could not delete ExternalSecret; garbage collection will");
            }
        }
        ctx.metrics.cluster_external_secret_deleted(&name);
        return remove_finalizer(&api, &ces).await;
    }
    crate::finalizers::ensure(&api, ces.as_ref(), FINALIZER_CLUSTER_EXTERNAL_SECRET).await?;

    // A renamed child: remove the old one everywhere.
    if let Some(old) = status
        .external_secret_name
        .as_deref()
        .filter(|old| *old != child_name)
    {
        for ns in &status.provisioned_namespaces {
            delete_child(&ctx, &ces, ns, old).await?;
        }
    }

    let namespaces = Api::<PartialObjectMeta<Namespace>>::all(ctx.client.clone())
        .list_metadata(&ListParams::default())
        .await?;
    let mut targets = BTreeSet::new();
    let mut terminating = BTreeSet::new();
    for ns in &namespaces.items {
        let ns_name = ns.name_any();
        if matches(&ces, &ns_name, &ns.labels().clone()) {
            if ns.metadata.deletion_timestamp.is_some() {
                terminating.insert(ns_name);
            } else {
                targets.insert(ns_name);
            }
        }
    }
    for ns in status
        .provisioned_namespaces
        .iter()
        .filter(|ns| !targets.contains(*ns) && !terminating.contains(*ns))
    {
        delete_child(&ctx, &ces, ns, &child_name).await?;
    }

    let mut provisioned = Vec::new();
    let mut failed = Vec::new();
    for ns in &targets {
        match ensure_child(&ctx, &ces, ns, &child_name).await {
            Ok(()) => provisioned.push(ns.clone()),
            Err(reason) => failed.push(NamespaceFailure {
                namespace: ns.clone(),
                reason: Some(reason),
            }),
        }
    }
    let ready = failed.is_empty();
    let new_status = ClusterExternalSecretStatus {
        external_secret_name: Some(child_name),
        failed_namespaces: failed,
        provisioned_namespaces: provisioned,
        conditions: vec![ClusterCondition {
            type_: "Ready".to_owned(),
            status: if ready { "True" } else { "False" }.to_owned(),
            message: (!ready).then(|| "one or more namespaces failed".to_owned()),
        }],
    };
    if ces.status.as_ref() != Some(&new_status) {
        let patch = json!({ "status": new_status });
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    ctx.metrics.cluster_external_secret_condition(&name, ready);
    Ok(fanout::requeue(ces.spec.refresh_interval.as_deref()))
}

/// Whether namespace `ns` is selected (names, the deprecated selector and the selectors are ORed).
fn matches(ces: &ClusterExternalSecret, ns: &str, labels: &BTreeMap<String, String>) -> bool {
    ces.spec.namespaces.iter().any(|n| n == ns)
        || ces
            .spec
            .namespace_selector
            .as_ref()
            .is_some_and(|s| selector::matches(s, labels))
        || ces
            .spec
            .namespace_selectors
            .iter()
            .any(|s| selector::matches(s, labels))
}

async fn ensure_child(
    ctx: &Context,
    ces: &ClusterExternalSecret,
    ns: &str,
    name: &str,
) -> Result<(), String> {
    let api: Api<ExternalSecret> = Api::namespaced(ctx.client.clone(), ns);
    let existing = fanout::child_of(
        &api,
        name,
        ces,
        "external secret already exists in namespace",
    )
    .await?;
    let meta = ces
        .spec
        .external_secret_metadata
        .clone()
        .unwrap_or_default();
    let mut annotations = meta.annotations;
    if let Some(v) = ces.annotations().get(ANNOTATION_FORCE_SYNC) {
        annotations.insert(ANNOTATION_FORCE_SYNC.to_owned(), v.clone());
    }
    let mut desired = ExternalSecret::new(name, ces.spec.external_secret_spec.clone());
    desired.metadata.namespace = Some(ns.to_owned());
    desired.metadata.labels = (!meta.labels.is_empty()).then_some(meta.labels);
    desired.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    desired.metadata.owner_references = ces.controller_owner_ref(&()).map(|r| vec![r]);
    ownership::create_or_replace(
        &api,
        desired,
        existing,
        |current, desired| {
            current.spec == desired.spec
                && current.metadata.labels.clone().unwrap_or_default()
                    == desired.metadata.labels.clone().unwrap_or_default()
                && current
                    .metadata
                    .annotations
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(k, _)| !k.starts_with("kubectl.kubernetes.io/"))
                    .collect::<BTreeMap<_, _>>()
                    == desired.metadata.annotations.clone().unwrap_or_default()
        },
        |desired, current| desired.status = current.status.clone(),
    )
    .await
    .map_err(|e| e.to_string())
}

async fn delete_child(
    ctx: &Context,
    ces: &ClusterExternalSecret,
    ns: &str,
    name: &str,
) -> Result<(), Error> {
    let api: Api<ExternalSecret> = Api::namespaced(ctx.client.clone(), ns);
    Ok(ownership::delete_if_controlled(&api, name, ces).await?)
}

async fn remove_finalizer(
    api: &Api<ClusterExternalSecret>,
    ces: &ClusterExternalSecret,
) -> Result<Action, Error> {
    crate::finalizers::remove(api, ces, FINALIZER_CLUSTER_EXTERNAL_SECRET).await?;
    Ok(Action::await_change())
}

fn error_policy(_ces: Arc<ClusterExternalSecret>, err: &Error, _ctx: Arc<Context>) -> Action {
    tracing::info!(error = %err, "ClusterExternalSecret reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let (store, writer) = kube::runtime::reflector::store();
    let stream = crate::lenient::watch::<ClusterExternalSecret>(
        &ctx,
        Api::all(client.clone()),
        watcher::Config::default(),
    )
    .reflect(writer)
    .applied_objects();
    let listed = store.clone();
    let controller = Controller::for_stream(stream, store.clone())
        .trigger_backoff(crate::watches::AlreadyBackedOff);
    // Any namespace change may change which ClusterExternalSecrets select it.
    let map_ns = move |_ns: PartialObjectMeta<Namespace>| {
        store
            .state()
            .iter()
            .map(|c| ObjectRef::from_obj(c.as_ref()))
            .collect::<Vec<_>>()
    };
    let namespaces = crate::watches::watch(
        Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
        watcher::Config::default(),
    )
    .touched_objects();
    // The owned ExternalSecrets' metadata is all the owner mapping reads, and it decodes
    // whatever their spec holds.
    let owned = crate::watches::watch(
        Api::<PartialObjectMeta<ExternalSecret>>::all(client),
        watcher::Config::default(),
    )
    .touched_objects();
    let shutdown = shutdown.shared();
    let controller = controller
        .owns_stream(owned)
        .watches_stream(namespaces, map_ns)
        .graceful_shutdown_on(shutdown.clone())
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "clusterexternalsecret controller event");
            }
        });
    crate::watches::ends_unless_listed(controller, listed, shutdown).await;
}
