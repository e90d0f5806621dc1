//! The ExternalSecret controller.

mod fetch;
mod reconcile;
pub mod target;
mod template;

pub use template::apply_offline as apply_template_offline;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use esox_api::labels::{FINALIZER_EXTERNAL_SECRET, LABEL_MANAGED, LABEL_MANAGED_VALUE};
use esox_api::v1::ExternalSecret;
use futures::{FutureExt as _, StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt as _;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{PredicateConfig, WatchStreamExt as _, watcher};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::context::Context;
use crate::error::Error;

/// Changes that matter for an ExternalSecret: everything but its status (as ESO's predicate).
fn spec_or_metadata(es: &ExternalSecret) -> Option<u64> {
    let mut h = DefaultHasher::new();
    es.metadata.generation.hash(&mut h);
    es.labels().hash(&mut h);
    es.annotations().hash(&mut h);
    // esox adding its own finalizer is not a change to act on (it would reconcile every new
    // ExternalSecret twice); any other finalizer change is.
    es.finalizers()
        .iter()
        .filter(|f| *f != FINALIZER_EXTERNAL_SECRET)
        .for_each(|f| f.hash(&mut h));
    es.metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut h);
    Some(h.finish())
}

/// Reconciles in flight at once. Most of a reconcile is waiting for the API server, so this is
/// well above the number of cores. It also bounds the HTTP/1.1 connections esox opens (one per
/// request in flight, kept in the pool afterwards, tens of KiB each): at 64, with the events and
/// the provider's reads, a burst left about 260 connections open and cost about 5 MiB.
const CONCURRENCY: u16 = 32;

/// Runs the ExternalSecret controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    triggers: UnboundedReceiver<ObjectRef<ExternalSecret>>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (reader, writer) = reflector::store();
    let es_stream = crate::lenient::watch::<ExternalSecret>(
        &ctx,
        ctx.served(),
        watcher::Config::default().any_semantic(),
    )
    // Managed fields are the largest part of a stored ExternalSecret and never read.
    .modify(|es| es.metadata.managed_fields = None)
    .reflect(writer)
    .inspect(forget_deleted(ctx.clone()))
    .applied_objects()
    .inspect_ok({
        let ctx = ctx.clone();
        move |es| ctx.recent_statuses.observed(es)
    })
    .predicate_filter(spec_or_metadata, PredicateConfig::default());

    // Managed Secrets only, metadata only: memory follows what esox writes, not the cluster.
    let managed =
        watcher::Config::default().labels(&format!("{LABEL_MANAGED}={LABEL_MANAGED_VALUE}"));
    let secrets =
        crate::watches::watch(ctx.served::<PartialObjectMeta<Secret>>(), managed).touched_objects();
    let ctx_secrets = ctx.clone();
    let map_secret = move |s: PartialObjectMeta<Secret>| {
        let ns = s.namespace().unwrap_or_default();
        let name = s.name_any();
        let own = s
            .resource_version()
            .is_some_and(|rv| ctx_secrets.index.is_own_write(&ns, &name, &rv));
        if own {
            Vec::new()
        } else {
            ctx_secrets.index.for_target(&ns, &name)
        }
    };

    let triggers = futures::stream::unfold(triggers, |mut rx| async move {
        rx.recv().await.map(|r| (r, rx))
    });

    let listed = reader.clone();
    let shutdown = shutdown.shared();
    let controller = Controller::for_stream(es_stream, reader)
        .trigger_backoff(crate::watches::AlreadyBackedOff)
        .watches_stream(secrets, map_secret)
        // Store changes arrive through `reconcile_on` (see `caches::run`).
        .reconcile_on(triggers)
        .with_config(
            kube::runtime::controller::Config::default()
                .concurrency(ctx.options.concurrent.unwrap_or(CONCURRENCY)),
        )
        .graceful_shutdown_on(shutdown.clone())
        .run(reconcile, crate::state::error_policy, ctx)
        .for_each(|r| crate::state::log_event("externalsecret", r));
    crate::watches::ends_unless_listed(controller, listed, shutdown).await;
}

/// An ExternalSecret without a finalizer (the usual case) is gone before any reconcile sees
/// it: what esox keeps about it is dropped on the watch's delete event.
fn forget_deleted(
    ctx: Arc<Context>,
) -> impl Fn(&Result<watcher::Event<ExternalSecret>, watcher::Error>) {
    move |event| {
        if let Ok(watcher::Event::Delete(es)) = event {
            let es_ref = ObjectRef::from_obj(es);
            ctx.state.external_secrets.forget(&es_ref);
            ctx.index.forget(&es_ref);
            ctx.recent_statuses.forget(&es_ref);
            ctx.metrics
                .external_secret_deleted(&es.name_any(), &es.namespace().unwrap_or_default());
        }
    }
}

/// Reconciles one ExternalSecret and records ESO's metrics for it.
pub async fn reconcile(es: Arc<ExternalSecret>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let name = es.name_any();
    let namespace = es.namespace().unwrap_or_default();
    let es_ref = ObjectRef::from_obj(es.as_ref());
    let state = &ctx.state.external_secrets;
    let source_changed = state.has_source_changed(&es_ref);
    let checked = state.is_checked(&es_ref);
    // The watched copy may predate esox's own last status write.
    let es = ctx.recent_statuses.freshest(es);
    let result = reconcile::reconcile(es, ctx.clone()).await;
    if source_changed && result.is_err() {
        // The reconcile took the mark; its retries must still refresh, as ESO's retries of a
        // due periodic refresh do.
        state.mark_source_changed(es_ref.clone());
    }
    if !checked && result.is_err() {
        // A first refresh that read the sources but failed to write must be tried again.
        state.unmark_checked(&es_ref);
    }
    crate::state::settle(&ctx, &es_ref, &result);
    ctx.metrics
        .external_secret_reconciled(&name, &namespace, started.elapsed(), result.is_ok());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Arc<Context> {
        let url = "https://127.0.0.1:9";
        let client =
            kube::Client::try_from(kube::Config::new(url.parse().expect("uri"))).expect("client");
        let local = esox_providers::LocalCluster {
            url: url.into(),
            ca_pem: None,
        };
        Context::new(client, Default::default(), local).0
    }

    #[tokio::test]
    async fn a_deleted_external_secret_leaves_no_failures_behind() {
        let ctx = context();
        let es: ExternalSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "e", "namespace": "n"},
            "spec": {"dataFrom": [{"extract": {"key": "k"}}]},
        }))
        .expect("valid ExternalSecret");
        let es_ref = ObjectRef::from_obj(&es);
        let state = &ctx.state.external_secrets;
        assert_eq!(state.note_failure(&es_ref), 1);
        assert_eq!(state.note_failure(&es_ref), 2, "failures in a row add up");
        state.mark_source_changed(es_ref.clone());
        forget_deleted(ctx.clone())(&Ok(watcher::Event::Delete(es)));
        assert!(state.is_empty(), "state kept for a deleted ExternalSecret");
        assert_eq!(
            state.note_failure(&es_ref),
            1,
            "an ExternalSecret created again under the same name starts without the deleted one's failures"
        );
    }
}
