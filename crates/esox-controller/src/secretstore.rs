//! The SecretStore and ClusterSecretStore controllers: validate each store into its `Ready`
//! condition and `capabilities`, again on every change and every refresh interval. A store that
//! becomes Ready re-triggers its ExternalSecrets at once through the ExternalSecret controller's
//! store watch (ESO waits for their backoff, up to 7 minutes).

use std::sync::Arc;
use std::time::Duration;

use esox_api::v1::{
    ClusterSecretStore, SecretStore, SecretStoreSpec, SecretStoreStatus, StoreKind,
};
use esox_providers::{StoreInfo, ValidationResult};
use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Resource, ResourceExt as _};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::conditions::{self, store as reason};
use crate::context::Context;
use crate::error::Error;
use crate::index::StoreKey;
use crate::stores::{self, ResolvedStore};

/// The two store kinds, so one reconcile serves both.
pub trait StoreObject:
    crate::state::Tracked
    + Resource<DynamicType = ()>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    const KIND: StoreKind;
    fn store_spec(&self) -> &SecretStoreSpec;
    fn store_status(&self) -> Option<&SecretStoreStatus>;
    fn api(client: kube::Client, namespace: Option<&str>) -> Api<Self>;
}

impl StoreObject for SecretStore {
    const KIND: StoreKind = StoreKind::SecretStore;
    fn store_spec(&self) -> &SecretStoreSpec {
        &self.spec
    }
    fn store_status(&self) -> Option<&SecretStoreStatus> {
        self.status.as_ref()
    }
    fn api(client: kube::Client, namespace: Option<&str>) -> Api<Self> {
        match namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        }
    }
}

impl StoreObject for ClusterSecretStore {
    const KIND: StoreKind = StoreKind::ClusterSecretStore;
    fn store_spec(&self) -> &SecretStoreSpec {
        &self.spec.store
    }
    fn store_status(&self) -> Option<&SecretStoreStatus> {
        self.status.as_ref()
    }
    fn api(client: kube::Client, _namespace: Option<&str>) -> Api<Self> {
        Api::all(client)
    }
}

/// Validates one store.
pub async fn reconcile<S: StoreObject>(store: Arc<S>, ctx: Arc<Context>) -> Result<Action, Error> {
    let store_ref = kube::runtime::reflector::ObjectRef::from_obj(store.as_ref());
    let result = validate_store(store, ctx.clone()).await;
    crate::state::settle(&ctx, &store_ref, &result);
    result
}

#[tracing::instrument(skip_all, fields(kind = %S::KIND, namespace = store.namespace().unwrap_or_default(), name = store.name_any()))]
async fn validate_store<S: StoreObject>(store: Arc<S>, ctx: Arc<Context>) -> Result<Action, Error> {
    let spec = store.store_spec();
    let started = std::time::Instant::now();
    if !stores::manages(&ctx, spec) || store.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    // A refresh interval that does not parse is reported on the store like any other invalid
    // configuration; the store then waits for its spec to change.
    let interval = refresh_interval(spec, &ctx);
    let namespace = store.namespace();
    let resolved = ResolvedStore {
        key: StoreKey {
            kind: S::KIND,
            namespace: namespace.clone().unwrap_or_default(),
            name: store.name_any(),
        },
        info: StoreInfo {
            kind: S::KIND,
            name: store.name_any(),
            namespace: namespace.clone(),
            spec: spec.clone(),
        },
    };
    let mut status = store.store_status().cloned().unwrap_or_default();
    let outcome = match &interval {
        Ok(_) => validate(&ctx, &resolved).await,
        Err(e) => Err(("invalid store", e.to_string())),
    };
    let (ready, why, event) = match &outcome {
        Ok((ValidationResult::Ready, _)) => (true, reason::VALID, None),
        Ok((ValidationResult::Unknown, _)) => (true, reason::VALIDATION_UNKNOWN, None),
        Err((stage, e)) => (
            false,
            reason::INVALID_PROVIDER_CONFIG,
            Some(format!("{stage}: {e}")),
        ),
    };
    let message = match (&outcome, why) {
        (Ok(_), reason::VALID) => "store validated".to_owned(),
        (Ok(_), _) => "could not determine validation status".to_owned(),
        (Err(_), _) => event.clone().unwrap_or_default(),
    };
    conditions::set(
        &mut status.conditions,
        conditions::READY,
        ready,
        why,
        &message,
    );
    if let Ok((_, caps)) = &outcome {
        status.capabilities = Some(*caps);
    }
    let cluster = S::KIND == StoreKind::ClusterSecretStore;
    let ns = namespace.clone().unwrap_or_default();
    ctx.metrics
        .store_condition(cluster, &store.name_any(), &ns, ready);
    let changed = store.store_status() != Some(&status);
    if changed {
        let api = S::api(ctx.client.clone(), namespace.as_deref());
        let patch = json!({ "status": status });
        api.patch_status(
            &store.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        let (type_, reason, note) = match &event {
            None => (EventType::Normal, "Valid", "store validated".to_owned()),
            Some(e) => (EventType::Warning, "InvalidProviderConfig", e.clone()),
        };
        let ev = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: "Validate".to_owned(),
            secondary: None,
        };
        ctx.store_recorder
            .publish(&ev, &store.object_ref(&()))
            .await;
    }
    ctx.metrics
        .store_reconciled(cluster, &store.name_any(), &ns, started.elapsed());
    match (outcome, interval) {
        (_, Err(_)) => Ok(Action::await_change()),
        (Ok(_), Ok(interval)) => Ok(Action::requeue(interval)),
        (Err(_), Ok(interval)) => Ok(Action::requeue(broken_store_retry(
            &status.conditions,
            interval,
        ))),
    }
}

/// When to validate a broken store again: after half the time it has been broken, from 1 s up
/// to 30 s (or its refresh interval if shorter). A ConfigMap or Secret the store needs that
/// appears a moment after it (the seed applies them together, and Kubernetes publishes
/// `kube-root-ca.crt` into a new namespace a little later) is picked up within a second or two,
/// and a store that stays broken costs one validation every 30 s.
fn broken_store_retry(conds: &[esox_api::v1::Condition], interval: Duration) -> Duration {
    let broken_for = conds
        .iter()
        .find(|c| c.type_ == conditions::READY)
        .and_then(|c| c.last_transition_time.as_ref())
        .and_then(|t| {
            let since = jiff::Timestamp::now().duration_since(t.0);
            Duration::try_from(since).ok()
        })
        .unwrap_or_default();
    (broken_for / 2)
        .max(Duration::from_secs(1))
        .min(Duration::from_secs(30))
        .min(interval.max(Duration::from_secs(1)))
}

async fn validate(
    ctx: &Context,
    store: &ResolvedStore,
) -> Result<(ValidationResult, esox_api::v1::Capabilities), (&'static str, String)> {
    let provider = ctx
        .providers
        .provider_for(&store.info.spec)
        .map_err(|e| ("unable to create client", e.to_string()))?;
    provider
        .validate_store(&store.info)
        .map_err(|e| ("invalid store", e.to_string()))?;
    let client = stores::client(ctx, store, None)
        .await
        .map_err(|e| ("unable to create client", e.to_string()))?;
    let (result, why) = client
        .validate_with_reason()
        .await
        .map_err(|e| ("unable to validate store", e.to_string()))?;
    if let Some(why) = why {
        tracing::info!(reason = %why, "store validation result");
    }
    Ok((result, provider.capabilities()))
}

fn refresh_interval(spec: &SecretStoreSpec, ctx: &Context) -> Result<Duration, Error> {
    let parsed = match &spec.refresh_interval {
        None => None,
        Some(IntOrString::Int(secs)) => Some(Duration::from_secs(u64::try_from(*secs).map_err(|_| {
            Error::Invalid(format!("spec.refreshInterval {secs} is negative: use a positive number of seconds or a duration such as 5m"))
        })?)),
        Some(IntOrString::String(text)) => {
            let nanos = esox_core::duration::parse(text).map_err(|e| {
                Error::Invalid(format!("spec.refreshInterval {text:?} is not a duration ({e}): write it like 5m or 300"))
            })?;
            Some(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
        }
    };
    Ok(parsed
        .filter(|d| !d.is_zero())
        .unwrap_or(ctx.options.store_requeue_interval))
}

/// Runs the controller of one store kind until `shutdown` resolves.
pub async fn run<S>(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    S: StoreObject + kube::Resource<Scope = kube::core::NamespaceResourceScope>,
{
    let api = ctx.served::<crate::lenient::Lenient<S>>();
    run_api(api, ctx, shutdown).await;
}

/// Same as [`run`] for the cluster-scoped kind.
pub async fn run_cluster(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api = Api::<crate::lenient::Lenient<ClusterSecretStore>>::all(ctx.client.clone());
    run_api(api, ctx, shutdown).await;
}

async fn run_api<S: StoreObject>(
    api: Api<crate::lenient::Lenient<S>>,
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    S::DynamicType: Default,
{
    let (reader, writer) = kube::runtime::reflector::store();
    let forget = ctx.clone();
    let stream = crate::lenient::watch::<S>(&ctx, api, watcher::Config::default())
        .reflect(writer)
        .inspect(move |event| crate::state::forget_deleted(&forget, event))
        .applied_objects();
    let listed = reader.clone();
    let shutdown = shutdown.shared();
    let controller = Controller::for_stream(stream, reader)
        .trigger_backoff(crate::watches::AlreadyBackedOff)
        .graceful_shutdown_on(shutdown.clone())
        .run(
            reconcile::<S>,
            crate::state::error_policy::<S, Context>,
            ctx,
        )
        .for_each(|r| crate::state::log_event("store", r));
    crate::watches::ends_unless_listed(controller, listed, shutdown).await;
}
