//! One reconcile of a PushSecret (in the order of ESO's PushSecret reconciler).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use esox_api::labels::FINALIZER_PUSH_SECRET;
use esox_api::v1::{ClusterSecretStore, SecretStore, SecretStoreRef, StoreKind};
use esox_api::v1alpha1::{
    PushDeletionPolicy, PushSecret, PushSecretStatus, PushSecretStoreRef, UpdatePolicy,
};
use esox_core::refresh::{self, RefreshInput, Requeue};
use esox_providers::{LocalSecret, PushEntry, SecretsClient};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, ObjectMeta};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt as _};

use super::cleanup::{self, Failure};
use super::entries::{self, Entry, StoreIdentity};
use super::sources::Source;
use super::status::{self, ERRORED, SOURCE_DELETED, SYNCED, Synced};
use super::{PushContext, generator, template};
use crate::conditions;
use crate::context::Context;
use crate::error::{Error, PushError, StoreError};
use crate::selector;
use crate::stores::{self, ResolvedStore};

/// After this long, a deleted PushSecret's finalizer is released even if some remote entries
/// could not be deleted (with a Warning event naming them): a finalizer must never wedge.
const GIVE_UP_AFTER: Duration = Duration::from_secs(15);
/// How long pushing to one store may take before it counts as failed.
const STORE_TIMEOUT: Duration = Duration::from_secs(20);

/// Reconciles one PushSecret.
#[tracing::instrument(skip_all, fields(namespace = ps.namespace().unwrap_or_default(), name = ps.name_any()))]
pub async fn reconcile(ps: Arc<PushSecret>, pctx: Arc<PushContext>) -> Result<Action, Error> {
    let r = Reconciler::new(ps, pctx);
    if r.ps.metadata.deletion_timestamp.is_some() {
        return r.cleanup().await;
    }
    r.apply().await
}

/// One reconcile of one PushSecret: the object and what every step writes through.
struct Reconciler {
    ps: Arc<PushSecret>,
    pctx: Arc<PushContext>,
    /// The PushSecrets of its namespace: status and finalizer writes.
    api: Api<PushSecret>,
    ps_ref: ObjectRef<PushSecret>,
    namespace: String,
}

impl Reconciler {
    fn new(ps: Arc<PushSecret>, pctx: Arc<PushContext>) -> Reconciler {
        let namespace = ps.namespace().unwrap_or_default();
        Reconciler {
            api: Api::namespaced(pctx.ctx.client.clone(), &namespace),
            ps_ref: ObjectRef::from_obj(ps.as_ref()),
            namespace,
            ps,
            pctx,
        }
    }

    /// Pushes the source to every store when a push is due, and removes what is no longer
    /// selected (deletionPolicy Delete).
    async fn apply(&self) -> Result<Action, Error> {
        let (ps, pctx, api) = (self.ps.as_ref(), &self.pctx, &self.api);
        let (ctx, namespace, ps_ref) = (&pctx.ctx, &self.namespace, &self.ps_ref);

        let source = match selected_source(ps) {
            Ok(s) => s,
            Err(e) => return Err(self.fail(None, "invalid selector", e).await),
        };
        pctx.sources.record(ps_ref, source.clone());

        let status = ps.status.clone().unwrap_or_default();
        let interval = match refresh_interval(ps) {
            Ok(i) => i,
            Err(e) => {
                // Retrying cannot help: the next spec change reconciles again.
                tracing::warn!(error = %e, "invalid refreshInterval; waiting for a change");
                self.fail(None, "invalid refreshInterval", e).await;
                return Ok(Action::await_change());
            }
        };
        let current_version = esox_core::hash::synced_resource_version(
            ps.metadata.generation.unwrap_or_default(),
            &ps.labels().clone(),
            &ps.annotations().clone(),
        );
        let input = RefreshInput {
            policy: refresh::RefreshPolicy::Periodic,
            refresh_interval: Some(interval),
            refresh_time: status.refresh_time.as_ref().map(|t| SystemTime::from(t.0)),
            synced_resource_version: &status.synced_resource_version,
            current_resource_version: &current_version,
            now: SystemTime::now(),
            periodic_allowed_by_windows: true,
        };
        // Beyond ESO: a source change is pushed at once, and a failed push is retried until it
        // succeeds (ESO's refresh test alone would wait for the next interval).
        let source_changed = pctx.ctx.state.push_secrets.take_source_changed(ps_ref);
        let ready = conditions::is_ready(&status.conditions);
        if !source_changed && ready && !refresh::should_refresh_push_secret(&input) {
            return Ok(requeue_action(refresh::push_secret_skip_requeue(&input)));
        }

        if let Err(e) = entries::validate_data_to(&ps.spec) {
            return Err(self.fail(None, "invalid dataTo", e).await);
        }

        let sources = match source_secrets(ctx, namespace, &source).await {
            Ok(s) => s,
            Err(SourceError::Missing(msg))
                if ps.spec.deletion_policy == PushDeletionPolicy::Delete
                    && !status.synced_push_secrets.is_empty() =>
            {
                return self.source_deleted(&msg).await;
            }
            Err(SourceError::Missing(msg)) => {
                let e = Error::Data(msg);
                return Err(self.fail(None, "could not get source secret", e).await);
            }
            Err(SourceError::Api(e)) => {
                return Err(self.fail(None, "could not get source secret", e).await);
            }
        };

        let stores = match resolve_stores(ctx, ps, namespace).await {
            Ok(s) => s,
            // The store's first status change reconciles this PushSecret again.
            Err(Error::Store(StoreError::Pending { .. })) => {
                return Ok(Action::requeue(Duration::from_secs(5)));
            }
            Err(e) => return Err(self.fail(None, "could not get store", e).await),
        };
        if stores.is_empty() {
            // Every store belongs to another controller class (or is being deleted): not ours.
            return Ok(Action::await_change());
        }
        // Only now is the PushSecret known to be ours (ESO adds its finalizer before looking at
        // the stores); only deletionPolicy Delete gives its deletion work to do.
        let wanted = ps.spec.deletion_policy == PushDeletionPolicy::Delete;
        crate::finalizers::keep(api, ps, FINALIZER_PUSH_SECRET, wanted).await?;

        // Templates are rendered once per source Secret, before anything is pushed: a template that
        // cannot be read or rendered leaves every remote entry as it is.
        let locals = match templated(ctx, ps, namespace, &sources).await {
            Ok(l) => l,
            Err(e) => return Err(self.fail(None, "could not apply template", e).await),
        };

        let (synced, existing_kept) = self.push_all(&stores, &locals, &status).await?;
        self.delete_stale(&status, &synced).await?;
        self.done(status, synced, existing_kept, current_version, interval)
            .await
    }

    /// Pushes every source to every store; returns what was pushed and whether IfNotExists
    /// left an existing remote value alone. A failure keeps what was pushed before tracked.
    async fn push_all(
        &self,
        stores: &[Target],
        locals: &[LocalSecret],
        status: &PushSecretStatus,
    ) -> Result<(Synced, bool), Error> {
        let (ps, ctx, namespace) = (self.ps.as_ref(), &self.pctx.ctx, &self.namespace);
        let mut synced = Synced::new();
        let mut existing_kept = false;
        for store in stores {
            let key = entries::store_key(store.resolved.key.kind, &store.resolved.key.name);
            let work = push_to_store(
                ctx,
                ps,
                namespace,
                store,
                locals,
                &mut synced,
                &mut existing_kept,
            );
            let result = match tokio::time::timeout(STORE_TIMEOUT, work).await {
                Ok(r) => r,
                Err(_) => Err(PushError::StoreTimeout {
                    store: key,
                    secs: STORE_TIMEOUT.as_secs(),
                }
                .into()),
            };
            if let Err(e) = result {
                let partial = status::union(&status.synced_push_secrets, &synced);
                return Err(self.fail(Some(partial), "could not push secret", e).await);
            }
        }
        Ok((synced, existing_kept))
    }

    /// With deletionPolicy Delete, deletes the entries pushed before and no longer selected.
    async fn delete_stale(&self, status: &PushSecretStatus, synced: &Synced) -> Result<(), Error> {
        let (ps, ctx) = (self.ps.as_ref(), &self.pctx.ctx);
        if ps.spec.deletion_policy == PushDeletionPolicy::Delete {
            let stale = status::removed(&status.synced_push_secrets, synced);
            if !stale.is_empty() {
                let failures = cleanup::delete_entries(ctx, ps, &stale).await;
                if !failures.is_empty() {
                    // Failed deletes stay tracked so a later reconcile retries them.
                    let keep = status::union(synced, &still_tracked(&stale, &failures));
                    let e = PushError::StaleEntriesLeft(list(&failures)).into();
                    return Err(self.fail(Some(keep), "could not delete secrets", e).await);
                }
            }
        }
        Ok(())
    }

    /// Records a successful push: Ready=True, the entries pushed, refreshTime and
    /// syncedResourceVersion; the next push is due after `interval`.
    async fn done(
        &self,
        status: PushSecretStatus,
        synced: Synced,
        existing_kept: bool,
        current_version: String,
        interval: i64,
    ) -> Result<Action, Error> {
        let (ps, pctx, api) = (self.ps.as_ref(), &self.pctx, &self.api);
        let message = if existing_kept {
            "PushSecret synced successfully. Existing secrets in providers unchanged."
        } else {
            "PushSecret synced successfully"
        };
        let mut new_status = status;
        conditions::set(
            &mut new_status.conditions,
            conditions::READY,
            true,
            SYNCED,
            message,
        );
        new_status.synced_push_secrets = synced;
        new_status.refresh_time = Some(Time(jiff::Timestamp::now()));
        new_status.synced_resource_version = current_version;
        status::write(ps, api, &new_status, &pctx.ctx.recent_push_statuses).await?;
        pctx.ctx
            .metrics
            .push_secret_condition(&ps.name_any(), &self.namespace, true);
        pctx.publish(ps, EventType::Normal, SYNCED, message).await;
        Ok(requeue_action(refresh::push_secret_done_requeue(Some(
            interval,
        ))))
    }

    /// The source is gone and deletionPolicy is Delete: remove what was pushed (ESO step 5).
    async fn source_deleted(&self, why: &str) -> Result<Action, Error> {
        let (ps, pctx, api, namespace) = (self.ps.as_ref(), &self.pctx, &self.api, &self.namespace);
        let status = ps.status.clone().unwrap_or_default();
        let failures = cleanup::delete_entries(&pctx.ctx, ps, &status.synced_push_secrets).await;
        if !failures.is_empty() {
            let keep = still_tracked(&status.synced_push_secrets, &failures);
            let e = PushError::SourceGoneEntriesLeft {
                why: why.to_owned(),
                entries: list(&failures),
            }
            .into();
            return Err(self.fail(Some(keep), "could not delete secrets", e).await);
        }
        let mut new_status = status;
        new_status.synced_push_secrets.clear();
        let message = "source secret deleted; provider secrets cleaned up";
        conditions::set(
            &mut new_status.conditions,
            conditions::READY,
            false,
            SOURCE_DELETED,
            message,
        );
        status::write(ps, api, &new_status, &pctx.ctx.recent_push_statuses).await?;
        pctx.ctx
            .metrics
            .push_secret_condition(&ps.name_any(), namespace, false);
        pctx.publish(ps, EventType::Normal, SOURCE_DELETED, message)
            .await;
        Ok(Action::await_change())
    }

    /// The PushSecret is being deleted: remove its remote entries (deletionPolicy Delete), then its
    /// finalizer. Entries that cannot be deleted are given up on, with a Warning event naming them,
    /// once retrying cannot help or [`GIVE_UP_AFTER`] has passed.
    async fn cleanup(&self) -> Result<Action, Error> {
        let (ps, pctx, api, namespace) = (self.ps.as_ref(), &self.pctx, &self.api, &self.namespace);
        pctx.sources.forget(&self.ps_ref);
        if !crate::finalizers::has(ps, FINALIZER_PUSH_SECRET) {
            return Ok(Action::await_change());
        }
        if of_another_class(&pctx.ctx, ps, namespace).await {
            // Its controller (which uses the same finalizer name) cleans it up.
            return Ok(Action::await_change());
        }
        let status = ps.status.clone().unwrap_or_default();
        if ps.spec.deletion_policy == PushDeletionPolicy::Delete {
            let failures =
                cleanup::delete_entries(&pctx.ctx, ps, &status.synced_push_secrets).await;
            if !failures.is_empty() {
                let waited = ps
                    .metadata
                    .deletion_timestamp
                    .as_ref()
                    .and_then(|t| jiff::Timestamp::now().duration_since(t.0).try_into().ok())
                    .unwrap_or(Duration::ZERO);
                let hopeless = failures.iter().all(|f| f.permanent);
                if !hopeless && waited < GIVE_UP_AFTER {
                    let keep = still_tracked(&status.synced_push_secrets, &failures);
                    let e = Error::from(PushError::EntriesLeft(list(&failures)));
                    tracing::warn!(error = %e, "could not delete secrets; retrying");
                    self.fail(Some(keep), "could not delete secrets", e).await;
                    return Ok(Action::requeue(Duration::from_secs(2)));
                }
                pctx.publish(
                    ps,
                    EventType::Warning,
                    "DeleteFailed",
                    &format!(
                        "finalizer released without deleting these provider entries: {}",
                        list(&failures)
                    ),
                )
                .await;
            }
        }
        crate::finalizers::remove(api, ps, FINALIZER_PUSH_SECRET).await?;
        pctx.ctx
            .metrics
            .push_secret_deleted(&ps.name_any(), namespace);
        Ok(Action::await_change())
    }

    /// Records a failure: Ready=False `Errored` naming the cause, and a Warning event. `synced`
    /// replaces `status.syncedPushSecrets` when given (entries still to track).
    async fn fail(&self, synced: Option<Synced>, message: &str, err: Error) -> Error {
        let (ps, pctx, api) = (self.ps.as_ref(), &self.pctx, &self.api);
        // Not logged here: a returned error is logged once by the error policy, and the callers
        // that do not return it log it themselves.
        let mut status: PushSecretStatus = ps.status.clone().unwrap_or_default();
        conditions::set(
            &mut status.conditions,
            conditions::READY,
            false,
            ERRORED,
            &format!("{message}: {err}"),
        );
        if let Some(s) = synced {
            status.synced_push_secrets = s;
        }
        match status::write(ps, api, &status, &pctx.ctx.recent_push_statuses).await {
            Ok(()) => {
                pctx.ctx
                    .metrics
                    .push_secret_condition(&ps.name_any(), &self.namespace, false)
            }
            Err(e) => tracing::warn!(error = %e, "could not write status"),
        }
        pctx.publish(ps, EventType::Warning, ERRORED, &err.to_string())
            .await;
        err
    }
}

/// What the PushSecret pushes: a Secret by name or by labels, or a generator's output.
fn selected_source(ps: &PushSecret) -> Result<Source, Error> {
    match (&ps.spec.selector.secret, &ps.spec.selector.generator_ref) {
        (Some(s), _) => match (&s.name, &s.selector) {
            (Some(n), _) => Ok(Source::Name(n.clone())),
            (None, Some(sel)) => Ok(Source::Selector(sel.clone())),
            (None, None) => Err(Error::Invalid(
                "spec.selector.secret needs a name or a selector".into(),
            )),
        },
        (None, Some(g)) => Ok(Source::Generator(g.clone())),
        (None, None) => Err(Error::Invalid(
            "spec.selector needs secret (a name or a selector) or generatorRef: say what to push"
                .into(),
        )),
    }
}

/// A store to push to, with its labels (for `dataTo[].storeRef.labelSelector`).
struct Target {
    resolved: ResolvedStore,
    labels: BTreeMap<String, String>,
}

async fn push_to_store(
    ctx: &Context,
    ps: &PushSecret,
    namespace: &str,
    store: &Target,
    sources: &[LocalSecret],
    synced: &mut Synced,
    existing_kept: &mut bool,
) -> Result<(), Error> {
    let key = entries::store_key(store.resolved.key.kind, &store.resolved.key.name);
    let client = stores::client(ctx, &store.resolved, Some(namespace))
        .await
        .map_err(|source| Error::ProviderCall {
            action: format!("could not get a client for {key}"),
            source,
        })?;
    for local in sources {
        let identity = StoreIdentity {
            kind: store.resolved.key.kind,
            name: &store.resolved.key.name,
            labels: &store.labels,
        };
        let expanded = if entries::renders_templates(&ps.spec) {
            let (spec, data) = (ps.spec.clone(), local.data.clone());
            let (kind, name, labels) = (
                identity.kind,
                identity.name.to_owned(),
                identity.labels.clone(),
            );
            crate::templating::off_workers(move || {
                let identity = StoreIdentity {
                    kind,
                    name: &name,
                    labels: &labels,
                };
                entries::for_store(&spec, &identity, &data)
            })
            .await??
        } else {
            entries::for_store(&ps.spec, &identity, &local.data)?
        };
        for entry in expanded {
            let remote_key = entries::remote_key(&entry.data.match_.remote_ref);
            let pushed_before = ps
                .status
                .as_ref()
                .and_then(|s| s.synced_push_secrets.get(&key))
                .is_some_and(|m| m.contains_key(&remote_key));
            let kept = push_entry(client.as_ref(), ps, local, &entry, &key, pushed_before).await?;
            *existing_kept |= kept;
            // An entry IfNotExists left alone was written by someone else: it is not recorded,
            // so deletionPolicy Delete never removes it. One pushed before stays recorded.
            if kept && !pushed_before {
                continue;
            }
            synced
                .entry(key.clone())
                .or_default()
                .insert(remote_key, entry.data);
        }
    }
    Ok(())
}

/// The identity esox marks remote secrets with, and checks before deleting one.
pub(super) fn owner_of(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Pushes one entry; returns true when IfNotExists left an existing remote value alone.
/// `pushed_before`: the entry is in `status.syncedPushSecrets`, so its remote secret most
/// likely exists.
async fn push_entry(
    client: &dyn SecretsClient,
    ps: &PushSecret,
    source: &LocalSecret,
    entry: &Entry,
    store_key: &str,
    pushed_before: bool,
) -> Result<bool, Error> {
    let mut local = source.clone();
    local.data = entries::reversed(entry.data.conversion_strategy, &source.data)?;
    if let Some(only) = &entry.only_keys {
        local.data.retain(|k, _| only.contains(k));
    }
    let remote = &entry.data.match_.remote_ref;
    let remote_name = entries::remote_key(remote);
    if let Some(k) = entry
        .data
        .match_
        .secret_key
        .as_deref()
        .filter(|k| !k.is_empty())
        && !local.data.contains_key(k)
    {
        return Err(Error::Data(format!(
            "secret key {k:?} does not exist in source secret {}/{}: add it to the Secret or fix data[].match.secretKey",
            source.namespace, source.name
        )));
    }
    let write_err = |source| Error::ProviderCall {
        action: format!(
            "could not write remote ref {remote_name} to target secretstore {store_key}"
        ),
        source,
    };
    let push = PushEntry {
        secret_key: entry.data.match_.secret_key.clone(),
        remote_ref: remote.clone(),
        metadata: entry.data.metadata.as_ref().map(|m| m.0.clone()),
        never_pushed: !pushed_before,
        owner: Some(owner_of(
            &ps.namespace().unwrap_or_default(),
            &ps.name_any(),
        )),
    };
    if ps.spec.update_policy == UpdatePolicy::IfNotExists
        && client.secret_exists(&push).await.map_err(write_err)?
    {
        return Ok(true);
    }
    client.push_secret(&local, &push).await.map_err(write_err)?;
    Ok(false)
}

/// The source Secrets as pushed: with `spec.template` applied in memory.
async fn templated(
    ctx: &Context,
    ps: &PushSecret,
    namespace: &str,
    sources: &[Secret],
) -> Result<Vec<LocalSecret>, Error> {
    let locals: Vec<LocalSecret> = sources.iter().map(local_secret).collect();
    match &ps.spec.template {
        Some(t) => {
            let resolved = template::resolve(&ctx.client, namespace, t).await?;
            template::apply_all(resolved, locals).await
        }
        None => Ok(locals),
    }
}

fn local_secret(s: &Secret) -> LocalSecret {
    LocalSecret {
        name: s.name_any(),
        namespace: s.namespace().unwrap_or_default(),
        type_: s.type_.clone().unwrap_or_default(),
        data: s
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect(),
        labels: s.metadata.labels.clone().unwrap_or_default(),
        annotations: s
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("kubectl.kubernetes.io/"))
            .collect(),
    }
}

enum SourceError {
    Missing(String),
    Api(Error),
}

async fn source_secrets(
    ctx: &Context,
    namespace: &str,
    source: &Source,
) -> Result<Vec<Secret>, SourceError> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    match source {
        Source::Generator(g) => generator::source_secret(&ctx.client, &ctx.providers, g, namespace)
            .await
            .map(|s| vec![s])
            .map_err(SourceError::Api),
        Source::Name(name) => match api.get_opt(name).await {
            Ok(Some(s)) => Ok(vec![s]),
            Ok(None) => Err(SourceError::Missing(format!(
                "secret {namespace}/{name} does not exist: create it or fix spec.selector.secret.name"
            ))),
            Err(e) => Err(SourceError::Api(e.into())),
        },
        Source::Selector(sel) => {
            let lp = ListParams::default().labels(&selector::to_query(sel));
            let mut list = api
                .list(&lp)
                .await
                .map_err(|e| SourceError::Api(e.into()))?
                .items;
            list.sort_by_key(|s| s.name_any());
            Ok(list)
        }
    }
}

async fn resolve_stores(
    ctx: &Context,
    ps: &PushSecret,
    namespace: &str,
) -> Result<Vec<Target>, Error> {
    let mut out: Vec<Target> = Vec::new();
    for (i, r) in ps.spec.secret_store_refs.iter().enumerate() {
        for (name, labels) in store_names(ctx, r, namespace, i).await? {
            if out
                .iter()
                .any(|t| t.resolved.key.kind == r.kind && t.resolved.key.name == name)
            {
                continue;
            }
            let store_ref = SecretStoreRef {
                name,
                kind: Some(r.kind),
            };
            // PushSecrets do not use the flood gate: a store need not be Ready to be pushed to.
            if let Some(resolved) = stores::resolve(ctx, &store_ref, namespace, false).await? {
                out.push(Target { resolved, labels });
            }
        }
    }
    Ok(out)
}

/// Names (and labels) of the stores one `secretStoreRefs` entry designates; stores being
/// deleted are left out.
async fn store_names(
    ctx: &Context,
    r: &PushSecretStoreRef,
    namespace: &str,
    index: usize,
) -> Result<Vec<(String, BTreeMap<String, String>)>, Error> {
    if let Some(name) = &r.name {
        // The watched copy answers; a store it lacks may just be new, so the server decides.
        let cached = match r.kind {
            StoreKind::SecretStore => ctx
                .caches
                .secret_store(namespace, name)
                .map(|s| s.metadata.clone()),
            StoreKind::ClusterSecretStore => {
                ctx.caches.cluster_store(name).map(|s| s.metadata.clone())
            }
        };
        let labels = match cached {
            Some(m) => Some(m),
            None => read_store_metadata(ctx, r.kind, namespace, name).await?,
        };
        return match labels {
            Some(m) if m.deletion_timestamp.is_some() => Ok(Vec::new()),
            Some(m) => Ok(vec![(name.clone(), m.labels.unwrap_or_default())]),
            // Let resolve() produce its message naming the missing store.
            None => Ok(vec![(name.clone(), BTreeMap::new())]),
        };
    }
    let Some(sel) = &r.label_selector else {
        return Err(Error::Invalid(format!(
            "spec.secretStoreRefs[{index}] needs a name or a labelSelector"
        )));
    };
    let lp = ListParams::default().labels(&selector::to_query(sel));
    crate::stores::kind_served(ctx, r.kind)?;
    let metas = match r.kind {
        StoreKind::SecretStore => Api::<SecretStore>::namespaced(ctx.client.clone(), namespace)
            .list_metadata(&lp)
            .await?
            .items
            .into_iter()
            .map(|m| m.metadata)
            .collect::<Vec<_>>(),
        StoreKind::ClusterSecretStore => Api::<ClusterSecretStore>::all(ctx.client.clone())
            .list_metadata(&lp)
            .await?
            .items
            .into_iter()
            .map(|m| m.metadata)
            .collect(),
    };
    Ok(metas
        .into_iter()
        .filter(|m| m.deletion_timestamp.is_none())
        .map(|m| (m.name.unwrap_or_default(), m.labels.unwrap_or_default()))
        .collect())
}

async fn read_store_metadata(
    ctx: &Context,
    kind: StoreKind,
    namespace: &str,
    name: &str,
) -> Result<Option<ObjectMeta>, Error> {
    crate::stores::kind_served(ctx, kind)?;
    Ok(match kind {
        StoreKind::SecretStore => Api::<SecretStore>::namespaced(ctx.client.clone(), namespace)
            .get_metadata_opt(name)
            .await?
            .map(|m| m.metadata),
        StoreKind::ClusterSecretStore => Api::<ClusterSecretStore>::all(ctx.client.clone())
            .get_metadata_opt(name)
            .await?
            .map(|m| m.metadata),
    })
}

/// Whether the PushSecret's named stores exist and all belong to another controller class. A
/// store that cannot be read, or a label selector, does not make it someone else's: a deletion
/// must never wait on a store that is gone.
async fn of_another_class(ctx: &Context, ps: &PushSecret, namespace: &str) -> bool {
    let mut foreign = false;
    for r in &ps.spec.secret_store_refs {
        let Some(name) = &r.name else {
            return false;
        };
        let store_ref = SecretStoreRef {
            name: name.clone(),
            kind: Some(r.kind),
        };
        match stores::resolve(ctx, &store_ref, namespace, false).await {
            Ok(None) => foreign = true,
            _ => return false,
        }
    }
    foreign
}

fn still_tracked(entries: &Synced, failures: &[Failure]) -> Synced {
    let mut out = Synced::new();
    for f in failures {
        if let Some(d) = entries.get(&f.store).and_then(|m| m.get(&f.key)) {
            out.entry(f.store.clone())
                .or_default()
                .insert(f.key.clone(), d.clone());
        }
    }
    out
}

fn list(failures: &[Failure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn refresh_interval(ps: &PushSecret) -> Result<i64, Error> {
    match ps.spec.refresh_interval.as_deref() {
        None => Ok(refresh::DEFAULT_REFRESH_INTERVAL),
        Some(text) => esox_core::duration::parse(text).map_err(|e| {
            Error::Invalid(format!(
                "spec.refreshInterval {text:?} is not a duration ({e}): write it like 1h, 15m or 30s"
            ))
        }),
    }
}

fn requeue_action(r: Requeue) -> Action {
    match r {
        Requeue::Never => Action::await_change(),
        Requeue::Immediately => Action::requeue(Duration::from_secs(1)),
        Requeue::After(d) => Action::requeue(d),
    }
}
