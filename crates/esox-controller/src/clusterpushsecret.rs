//! The ClusterPushSecret controller: one PushSecret in every namespace its `namespaceSelectors`
//! select (ESO section 7.2), kept in step with namespace changes within a second (namespaces are
//! watched). As ESO, no finalizer on the ClusterPushSecret nor on namespaces: children go with
//! their controller ownerReference.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use esox_api::v1::Condition;
use esox_api::v1::NamespaceFailure;
use esox_api::v1alpha1::{ClusterPushSecret, ClusterPushSecretStatus, PushSecret};
use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Resource as _, ResourceExt as _};
use serde_json::json;

use crate::context::Context;
use crate::error::Error;
use crate::selector;
use crate::{fanout, ownership};

/// Reconciles one ClusterPushSecret and records `clusterpushsecret_reconcile_duration`.
/// `still_exists` tells, after the reconcile, whether the object was deleted meanwhile.
pub async fn reconcile(
    cps: Arc<ClusterPushSecret>,
    ctx: Arc<Context>,
    still_exists: impl Fn(&ObjectRef<ClusterPushSecret>) -> bool,
) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let deleting = cps.metadata.deletion_timestamp.is_some();
    let name = cps.name_any();
    let cps_ref = ObjectRef::from_obj(cps.as_ref());
    let result = reconcile_inner(cps, ctx.clone()).await;
    // A ClusterPushSecret being deleted records nothing, so that its series stay removed.
    if !still_exists(&cps_ref) {
        ctx.metrics.cluster_push_secret_deleted(&name);
    } else if !deleting {
        ctx.metrics
            .cluster_push_secret_reconciled(&name, started.elapsed());
    }
    result
}

#[tracing::instrument(skip_all, fields(name = cps.name_any()))]
async fn reconcile_inner(cps: Arc<ClusterPushSecret>, ctx: Arc<Context>) -> Result<Action, Error> {
    if cps.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = cps.name_any();
    let api: Api<ClusterPushSecret> = Api::all(ctx.client.clone());
    let child_name = cps
        .spec
        .push_secret_name
        .clone()
        .unwrap_or_else(|| name.clone());
    let status = cps.status.clone().unwrap_or_default();

    let mut errors = Vec::new();
    if let Some(old) = status
        .push_secret_name
        .as_deref()
        .filter(|old| *old != child_name)
    {
        for ns in &status.provisioned_namespaces {
            if let Err(e) = delete_child(&ctx, &cps, ns, old).await {
                errors.push(format!("could not delete PushSecret {ns}/{old}: {e}"));
            }
        }
    }

    let namespaces = Api::<PartialObjectMeta<Namespace>>::all(ctx.client.clone())
        .list_metadata(&ListParams::default())
        .await?;
    let mut targets = BTreeSet::new();
    let mut terminating = BTreeSet::new();
    for ns in &namespaces.items {
        if matches(&cps, &ns.labels().clone()) {
            if ns.metadata.deletion_timestamp.is_some() {
                terminating.insert(ns.name_any());
            } else {
                targets.insert(ns.name_any());
            }
        }
    }
    for ns in status
        .provisioned_namespaces
        .iter()
        .filter(|ns| !targets.contains(*ns) && !terminating.contains(*ns))
    {
        if let Err(e) = delete_child(&ctx, &cps, ns, &child_name).await {
            errors.push(format!(
                "could not delete PushSecret {ns}/{child_name}: {e}"
            ));
        }
    }

    let mut provisioned = Vec::new();
    let mut failed = Vec::new();
    for ns in &targets {
        match ensure_child(&ctx, &cps, ns, &child_name).await {
            Ok(()) => provisioned.push(ns.clone()),
            Err(reason) => failed.push(NamespaceFailure {
                namespace: ns.clone(),
                reason: Some(reason),
            }),
        }
    }
    let ok = errors.is_empty() && failed.is_empty();
    let condition = if !errors.is_empty() {
        ready(false, Some("Errored"), &errors.join("; "), &status)
    } else if failed.is_empty() {
        ready(true, None, "", &status)
    } else {
        ready(false, None, "one or more namespaces failed", &status)
    };
    let new_status = ClusterPushSecretStatus {
        failed_namespaces: failed,
        provisioned_namespaces: provisioned,
        push_secret_name: Some(child_name),
        conditions: vec![condition],
    };
    if cps.status.as_ref() != Some(&new_status) {
        let patch = json!({ "status": new_status });
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    ctx.metrics.cluster_push_secret_condition(&name, ok);
    Ok(fanout::requeue(cps.spec.refresh_interval.as_deref()))
}

/// The `Ready` condition, keeping `lastTransitionTime` when the status does not change.
fn ready(
    ok: bool,
    reason: Option<&str>,
    message: &str,
    old: &ClusterPushSecretStatus,
) -> Condition {
    let status = if ok { "True" } else { "False" };
    let previous = old.conditions.iter().find(|c| c.type_ == "Ready");
    let last_transition_time = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Some(Time(jiff::Timestamp::now())),
    };
    Condition {
        type_: "Ready".to_owned(),
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        message: (!message.is_empty()).then(|| message.to_owned()),
        last_transition_time,
    }
}

/// Whether a namespace with `labels` is selected (the selectors are ORed).
fn matches(cps: &ClusterPushSecret, labels: &BTreeMap<String, String>) -> bool {
    cps.spec
        .namespace_selectors
        .iter()
        .any(|s| selector::matches(s, labels))
}

async fn ensure_child(
    ctx: &Context,
    cps: &ClusterPushSecret,
    ns: &str,
    name: &str,
) -> Result<(), String> {
    let api: Api<PushSecret> = Api::namespaced(ctx.client.clone(), ns);
    let existing =
        fanout::child_of(&api, name, cps, "push secret already exists in namespace").await?;
    let meta = cps.spec.push_secret_metadata.clone().unwrap_or_default();
    let mut desired = PushSecret::new(name, cps.spec.push_secret_spec.clone());
    desired.metadata.namespace = Some(ns.to_owned());
    desired.metadata.labels = (!meta.labels.is_empty()).then_some(meta.labels);
    desired.metadata.annotations = (!meta.annotations.is_empty()).then_some(meta.annotations);
    desired.metadata.owner_references = cps.controller_owner_ref(&()).map(|r| vec![r]);
    ownership::create_or_replace(
        &api,
        desired,
        existing,
        |current, desired| {
            current.spec == desired.spec
                && current.metadata.labels.clone().unwrap_or_default()
                    == desired.metadata.labels.clone().unwrap_or_default()
                && current.metadata.annotations.clone().unwrap_or_default()
                    == desired.metadata.annotations.clone().unwrap_or_default()
        },
        |desired, current| desired.status = current.status.clone(),
    )
    .await
    .map_err(|e| e.to_string())
}

async fn delete_child(
    ctx: &Context,
    cps: &ClusterPushSecret,
    ns: &str,
    name: &str,
) -> Result<(), Error> {
    let api: Api<PushSecret> = Api::namespaced(ctx.client.clone(), ns);
    Ok(ownership::delete_if_controlled(&api, name, cps).await?)
}

fn error_policy(_cps: Arc<ClusterPushSecret>, err: &Error, _ctx: Arc<Context>) -> Action {
    tracing::info!(error = %err, "ClusterPushSecret reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let (store, writer) = reflector::store();
    // Without a finalizer a deleted ClusterPushSecret is never reconciled: its metric series
    // are dropped on the watch's delete event.
    let metrics_ctx = ctx.clone();
    let stream = crate::lenient::watch::<ClusterPushSecret>(
        &ctx,
        Api::all(client.clone()),
        watcher::Config::default(),
    )
    .reflect(writer)
    .inspect(move |event| {
        if let Ok(watcher::Event::Delete(cps)) = event {
            metrics_ctx
                .metrics
                .cluster_push_secret_deleted(&cps.name_any());
        }
    })
    .applied_objects();
    let controller = Controller::for_stream(stream, store.clone());
    let alive = store.clone();
    // Any namespace change may change which ClusterPushSecrets select it.
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
    let listed = alive.clone();
    let shutdown = shutdown.shared();
    let controller = controller
        .owns_stream(
            crate::watches::watch(Api::<PushSecret>::all(client), watcher::Config::default())
                .touched_objects(),
        )
        .watches_stream(namespaces, map_ns)
        .trigger_backoff(crate::watches::AlreadyBackedOff)
        .graceful_shutdown_on(shutdown.clone())
        .run(
            move |cps, ctx| {
                let alive = alive.clone();
                async move { reconcile(cps, ctx, |r| alive.get(r).is_some()).await }
            },
            error_policy,
            ctx,
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "clusterpushsecret controller event");
            }
        });
    crate::watches::ends_unless_listed(controller, listed, shutdown).await;
}
