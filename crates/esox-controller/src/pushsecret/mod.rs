//! The PushSecret controller: pushes local Secrets to stores as ESO's does, and beyond ESO
//! pushes a source change at once: source Secrets are watched (metadata only) and mapped to
//! PushSecrets through an index the reconciles maintain.

mod cleanup;
pub mod entries;
mod error;
pub mod generator;
mod reconcile;
mod secret_changes;
pub mod sources;
mod status;
mod template;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use crate::events::{Event, EventType, Recorder};
use esox_api::v1alpha1::PushSecret;
use futures::{FutureExt as _, StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{PredicateConfig, WatchStreamExt as _, watcher};
use kube::{Resource as _, ResourceExt as _};

use crate::context::Context;
use crate::error::Error;

pub use error::PushError;

/// State of the PushSecret controller, next to the shared [`Context`].
pub struct PushContext {
    pub ctx: Arc<Context>,
    /// The watched PushSecrets, to tell whether one still exists after its reconcile.
    pushsecrets: reflector::Store<PushSecret>,
    /// Source Secret → PushSecrets.
    pub sources: sources::SourceIndex,
    recorder: Recorder,
}

impl PushContext {
    pub fn new(ctx: Arc<Context>, pushsecrets: reflector::Store<PushSecret>) -> Arc<Self> {
        let recorder = Recorder::new(ctx.client.clone(), "pushsecret");
        Arc::new(Self {
            ctx,
            pushsecrets,
            sources: Default::default(),
            recorder,
        })
    }

    async fn publish(&self, ps: &PushSecret, type_: EventType, reason: &str, note: &str) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note.to_owned()),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        self.recorder.publish(&event, &ps.object_ref(&())).await;
    }
}

impl AsRef<Context> for PushContext {
    fn as_ref(&self) -> &Context {
        &self.ctx
    }
}

/// Changes that matter for a PushSecret: everything but its status (ESO's predicate).
fn spec_or_metadata(ps: &PushSecret) -> Option<u64> {
    let mut h = DefaultHasher::new();
    ps.metadata.generation.hash(&mut h);
    ps.labels().hash(&mut h);
    ps.annotations().hash(&mut h);
    ps.finalizers().hash(&mut h);
    ps.metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut h);
    Some(h.finish())
}

/// Runs the PushSecret controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (reader, writer) = reflector::store();
    let concurrency = ctx.options.concurrent.unwrap_or(16);
    let pctx = PushContext::new(ctx, reader.clone());
    let stream = crate::lenient::watch::<PushSecret>(
        &pctx.ctx,
        pctx.ctx.served(),
        watcher::Config::default().any_semantic(),
    )
    .reflect(writer)
    .inspect(forget_deleted(pctx.ctx.clone()))
    .applied_objects()
    .inspect_ok({
        let ctx = pctx.ctx.clone();
        move |ps| ctx.recent_push_statuses.observed(ps)
    })
    .predicate_filter(spec_or_metadata, PredicateConfig::default());

    // Every Secret, metadata only and uncached: the index decides which events matter.
    let secrets = secret_changes::changes(pctx.ctx.served::<Secret>()).map(Ok);
    let weak = Arc::downgrade(&pctx);
    let map_secret = move |s: PartialObjectMeta<Secret>| {
        let Some(pctx) = weak.upgrade() else {
            return Vec::new();
        };
        let refs = pctx.sources.for_secret(
            &s.namespace().unwrap_or_default(),
            &s.name_any(),
            s.labels(),
        );
        for r in &refs {
            pctx.ctx.state.push_secrets.mark_source_changed(r.clone());
        }
        refs
    };

    let listed = reader.clone();
    let shutdown = shutdown.shared();
    let controller = Controller::for_stream(stream, reader)
        .trigger_backoff(crate::watches::AlreadyBackedOff)
        .watches_stream(secrets, map_secret)
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
        .graceful_shutdown_on(shutdown.clone())
        .run(reconcile_and_measure, crate::state::error_policy, pctx)
        .for_each(|r| crate::state::log_event("pushsecret", r));
    crate::watches::ends_unless_listed(controller, listed, shutdown).await;
}

/// A PushSecret without a finalizer is gone before any reconcile sees it: its metric series are
/// dropped on the watch's delete event.
fn forget_deleted(
    ctx: Arc<Context>,
) -> impl Fn(&Result<watcher::Event<PushSecret>, watcher::Error>) {
    move |event| {
        if let Ok(watcher::Event::Delete(ps)) = event {
            let ps_ref = ObjectRef::from_obj(ps);
            ctx.state.push_secrets.forget(&ps_ref);
            ctx.recent_push_statuses.forget(&ps_ref);
            ctx.metrics
                .push_secret_deleted(&ps.name_any(), &ps.namespace().unwrap_or_default());
        }
    }
}

/// Reconciles one PushSecret and records `pushsecret_reconcile_duration`, as ESO does for every
/// reconcile; a PushSecret being deleted records nothing so that its series stay removed.
async fn reconcile_and_measure(
    ps: Arc<PushSecret>,
    pctx: Arc<PushContext>,
) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let deleting = ps.metadata.deletion_timestamp.is_some();
    let name = ps.name_any();
    let namespace = ps.namespace().unwrap_or_default();
    let ps_ref = ObjectRef::from_obj(ps.as_ref());
    // The watched copy may predate esox's own last status write.
    let ps = pctx.ctx.recent_push_statuses.freshest(ps);
    let result = reconcile::reconcile(ps, pctx.clone()).await;
    crate::state::settle(&pctx.ctx, &ps_ref, &result);
    if pctx.pushsecrets.get(&ps_ref).is_none() {
        // Deleted while this reconcile ran: its delete event may already have dropped the series.
        pctx.ctx.metrics.push_secret_deleted(&name, &namespace);
    } else if !deleting {
        pctx.ctx
            .metrics
            .push_secret_reconciled(&name, &namespace, started.elapsed());
    }
    result
}
