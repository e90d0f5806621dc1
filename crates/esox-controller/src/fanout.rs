//! ClusterExternalSecret and ClusterPushSecret: one child per selected namespace, created when a
//! namespace starts matching and removed when it stops, within a second (namespaces are watched),
//! and a periodic pass over the namespaces. One reconcile and one controller serve both kinds;
//! each kind supplies only what differs ([`FanOut`]).
//!
//! No finalizer is put on Namespaces: a finalizer there wedges the deletion of the namespace
//! whenever the controller is down. Deleting a namespace deletes its children anyway, and the
//! namespace watch updates the status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use esox_api::v1::NamespaceFailure;
use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ListParams, Patch, PatchParams};
use kube::core::{ClusterResourceScope, NamespaceResourceScope, PartialObjectMeta};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Resource, ResourceExt as _};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::context::Context;
use crate::error::Error;
use crate::ownership;
use crate::state::Tracked;

/// What one fanned-out kind supplies.
pub trait FanOut:
    Tracked
    + Resource<Scope = ClusterResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
{
    type Child: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug
        + Send
        + Sync
        + 'static;
    type Status: PartialEq + Serialize + Send;

    /// The controller's name in logs.
    const NAME: &'static str;
    /// The failure reason ESO records for a namespace whose child exists without this parent.
    const TAKEN: &'static str;
    /// The parent's finalizer, if it has one: the children are then deleted before it goes.
    const FINALIZER: Option<&'static str>;
    /// Whether a child that cannot be deleted fails the reconcile (retried) rather than being
    /// reported in the status (ESO's `Errored` reason for ClusterPushSecrets).
    const DELETE_ERRORS_FAIL: bool;

    /// The children's name.
    fn child_name(&self) -> String;
    /// The children's name at the last reconcile, and the namespaces they were put in.
    fn provisioned(&self) -> (Option<&str>, &[String]);
    /// Whether namespace `ns` with `labels` is selected.
    fn selects(&self, ns: &str, labels: &BTreeMap<String, String>) -> bool;
    /// The child wanted in `ns`, without its owner reference.
    fn desired_child(&self, ns: &str, name: &str) -> Self::Child;
    /// Whether `current` already is `desired`.
    fn same_child(current: &Self::Child, desired: &Self::Child) -> bool;
    /// What a replaced child keeps from the current one.
    fn keep(desired: &mut Self::Child, current: &Self::Child);
    fn refresh_interval(&self) -> Option<&str>;
    fn status(&self) -> Option<&Self::Status>;
    fn new_status(&self, outcome: Outcome) -> Self::Status;
    fn record_reconciled(ctx: &Context, name: &str, took: Duration);
    fn record_condition(ctx: &Context, name: &str, ready: bool);
    fn record_deleted(ctx: &Context, name: &str);
}

/// What a pass over the namespaces did.
pub struct Outcome {
    pub child_name: String,
    pub provisioned: Vec<String>,
    pub failed: Vec<NamespaceFailure>,
    /// Children that could not be deleted (only when not [`FanOut::DELETE_ERRORS_FAIL`]).
    pub errors: Vec<String>,
}

impl Outcome {
    pub fn ready(&self) -> bool {
        self.failed.is_empty() && self.errors.is_empty()
    }
}

/// Reconciles one parent and records its metrics; `still_exists` tells, after the reconcile,
/// whether the parent was deleted meanwhile.
pub async fn reconcile<P: FanOut>(
    parent: Arc<P>,
    ctx: Arc<Context>,
    still_exists: impl Fn(&ObjectRef<P>) -> bool,
) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let deleting = parent.meta().deletion_timestamp.is_some();
    let name = parent.name_any();
    let parent_ref = ObjectRef::from_obj(parent.as_ref());
    let result = fan_out(parent, &ctx).await;
    crate::state::settle(&ctx, &parent_ref, &result);
    // A parent being deleted records nothing, so that its series stay removed.
    if !still_exists(&parent_ref) {
        P::record_deleted(&ctx, &name);
    } else if !deleting {
        P::record_reconciled(&ctx, &name, started.elapsed());
    }
    result
}

#[tracing::instrument(skip_all, fields(kind = %P::kind(&()), name = parent.name_any()))]
async fn fan_out<P: FanOut>(parent: Arc<P>, ctx: &Context) -> Result<Action, Error> {
    let name = parent.name_any();
    let api: Api<P> = Api::all(ctx.client.clone());
    let child_name = parent.child_name();
    let (old_name, provisioned) = parent.provisioned();

    if parent.meta().deletion_timestamp.is_some() {
        let Some(finalizer) = P::FINALIZER else {
            return Ok(Action::await_change());
        };
        for ns in provisioned {
            // Best effort: the children are also garbage-collected through their ownerReference,
            // so a failure here must not keep the finalizer.
            if let Err(e) = delete_child(ctx, parent.as_ref(), ns, &child_name).await {
                tracing::warn!(namespace = %ns, error = %e, "could not delete a child; garbage collection will");
            }
        }
        P::record_deleted(ctx, &name);
        crate::finalizers::remove(&api, parent.as_ref(), finalizer).await?;
        return Ok(Action::await_change());
    }
    if let Some(finalizer) = P::FINALIZER {
        crate::finalizers::ensure(&api, parent.as_ref(), finalizer).await?;
    }

    let mut errors = Vec::new();
    let mut delete = async |ns: &str, child: &str| -> Result<(), Error> {
        match delete_child(ctx, parent.as_ref(), ns, child).await {
            Err(e) if !P::DELETE_ERRORS_FAIL => {
                let kind = P::Child::kind(&());
                errors.push(format!("could not delete {kind} {ns}/{child}: {e}"));
                Ok(())
            }
            other => other,
        }
    };
    // A renamed child: remove the old one everywhere.
    if let Some(old) = old_name.filter(|old| *old != child_name) {
        for ns in provisioned {
            delete(ns, old).await?;
        }
    }

    let namespaces = Api::<PartialObjectMeta<Namespace>>::all(ctx.client.clone())
        .list_metadata(&ListParams::default())
        .await?;
    let mut targets = BTreeSet::new();
    let mut terminating = BTreeSet::new();
    for ns in &namespaces.items {
        let ns_name = ns.name_any();
        if parent.selects(&ns_name, ns.labels()) {
            if ns.metadata.deletion_timestamp.is_some() {
                terminating.insert(ns_name);
            } else {
                targets.insert(ns_name);
            }
        }
    }
    for ns in provisioned
        .iter()
        .filter(|ns| !targets.contains(*ns) && !terminating.contains(*ns))
    {
        delete(ns, &child_name).await?;
    }

    let mut provisioned = Vec::new();
    let mut failed = Vec::new();
    for ns in &targets {
        match ensure_child(ctx, parent.as_ref(), ns, &child_name).await {
            Ok(()) => provisioned.push(ns.clone()),
            Err(reason) => failed.push(NamespaceFailure {
                namespace: ns.clone(),
                reason: Some(reason),
            }),
        }
    }
    let outcome = Outcome {
        child_name,
        provisioned,
        failed,
        errors,
    };
    let ready = outcome.ready();
    let new_status = parent.new_status(outcome);
    if parent.status() != Some(&new_status) {
        let patch = json!({ "status": new_status });
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    P::record_condition(ctx, &name, ready);
    Ok(requeue(parent.refresh_interval()))
}

async fn ensure_child<P: FanOut>(
    ctx: &Context,
    parent: &P,
    ns: &str,
    name: &str,
) -> Result<(), String> {
    let api: Api<P::Child> = Api::namespaced(ctx.client.clone(), ns);
    let existing = child_of(&api, name, parent, P::TAKEN).await?;
    let mut desired = parent.desired_child(ns, name);
    desired.meta_mut().namespace = Some(ns.to_owned());
    desired.meta_mut().owner_references = parent.controller_owner_ref(&()).map(|r| vec![r]);
    ownership::create_or_replace(&api, desired, existing, P::same_child, P::keep)
        .await
        .map_err(|e| e.to_string())
}

async fn delete_child<P: FanOut>(
    ctx: &Context,
    parent: &P,
    ns: &str,
    name: &str,
) -> Result<(), Error> {
    let api: Api<P::Child> = Api::namespaced(ctx.client.clone(), ns);
    Ok(ownership::delete_if_controlled(&api, name, parent).await?)
}

/// Runs the controller of one fanned-out kind until `shutdown` resolves.
pub async fn run<P: FanOut>(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let (store, writer) = reflector::store();
    // A parent without a finalizer is never reconciled once deleted: its state and metric
    // series are dropped on the watch's delete event.
    let on_delete = ctx.clone();
    let stream =
        crate::lenient::watch::<P>(&ctx, Api::all(client.clone()), watcher::Config::default())
            .reflect(writer)
            .inspect(move |event| {
                crate::state::forget_deleted(&on_delete, event);
                if let Ok(watcher::Event::Delete(parent)) = event {
                    P::record_deleted(&on_delete, &parent.name_any());
                }
            })
            .applied_objects();
    let alive = store.clone();
    // Any namespace change may change which parents select it.
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
    // The children's metadata is all the owner mapping reads, and it decodes whatever their
    // spec holds.
    let owned = crate::watches::watch(
        Api::<PartialObjectMeta<P::Child>>::all(client),
        watcher::Config::default(),
    )
    .touched_objects();
    let listed = alive.clone();
    let shutdown = shutdown.shared();
    let controller = Controller::for_stream(stream, alive.clone())
        .owns_stream(owned)
        .watches_stream(namespaces, map_ns)
        .trigger_backoff(crate::watches::AlreadyBackedOff)
        .graceful_shutdown_on(shutdown.clone())
        .run(
            move |parent, ctx| {
                let alive = alive.clone();
                async move { reconcile(parent, ctx, |r| alive.get(r).is_some()).await }
            },
            crate::state::error_policy,
            ctx,
        )
        .for_each(|r| crate::state::log_event(P::NAME, r));
    crate::watches::ends_unless_listed(controller, listed, shutdown).await;
}

/// The next periodic pass: `spec.refreshInterval` when it parses to more than zero, else 1h
/// (ESO's default for both kinds).
pub fn requeue(refresh_interval: Option<&str>) -> Action {
    let interval = refresh_interval
        .and_then(|d| esox_core::duration::parse(d).ok())
        .filter(|n| *n > 0)
        .map_or(Duration::from_secs(3600), |n| {
            Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
        });
    Action::requeue(interval)
}

/// The existing child `name`, if any, when `parent` may manage it; `Err(taken)` (the failure
/// reason ESO records for the namespace) when the object exists without `parent` controlling it.
async fn child_of<K>(
    api: &Api<K>,
    name: &str,
    parent: &impl Resource,
    taken: &str,
) -> Result<Option<K>, String>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let existing = api.get_opt(name).await.map_err(|e| e.to_string())?;
    match existing {
        Some(child) if !ownership::controlled_by(&child, parent) => Err(taken.to_owned()),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requeue_uses_the_interval_or_one_hour() {
        assert_eq!(
            requeue(Some("90s")),
            Action::requeue(Duration::from_secs(90))
        );
        for fallback in [None, Some("0s"), Some("not a duration"), Some("-1m")] {
            assert_eq!(
                requeue(fallback),
                Action::requeue(Duration::from_secs(3600)),
                "{fallback:?}"
            );
        }
    }
}
