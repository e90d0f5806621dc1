//! One reconcile of an ExternalSecret (in the order of ESO's ExternalSecret reconciler).

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use esox_api::labels::{FINALIZER_EXTERNAL_SECRET, LABEL_CREATED_BY};
use esox_api::v1::{
    Binding, CreationPolicy, DeletionPolicy, ExternalSecret, ExternalSecretStatus, RefreshPolicy,
    SyncWindowKind,
};
use esox_core::refresh::{self, RefreshInput, Requeue};
use esox_core::sync_window;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource as _, ResourceExt as _};
use serde_json::json;

use super::fetch;
use super::target::{self, Content, TargetError};
use crate::conditions::{self, es as reason};
use crate::context::Context;
use crate::error::{Error, StoreError};
use crate::index::{Dependencies, SourceKey};
use crate::source_versions::ANNOTATION_SOURCE_VERSIONS;

/// How often an ExternalSecret with `creationPolicy: Merge` looks for its missing target.
const MERGE_TARGET_RECHECK: Duration = Duration::from_secs(5);

/// How long a first sight waits for its sources' watches to list before it reads instead.
const SOURCES_LISTED_WAIT: Duration = Duration::from_secs(5);

/// How long an ExternalSecret waits for an unvalidated store before looking again, should the
/// store's status change not reach it.
const STORE_PENDING_RECHECK: Duration = Duration::from_secs(5);

/// Reconciles one ExternalSecret.
#[tracing::instrument(skip_all, fields(namespace = es.namespace().unwrap_or_default(), name = es.name_any()))]
pub async fn reconcile(es: Arc<ExternalSecret>, ctx: Arc<Context>) -> Result<Action, Error> {
    let r = Reconciler::new(es, ctx);
    if r.es.metadata.deletion_timestamp.is_some() {
        return r.cleanup().await;
    }
    r.apply().await
}

/// One reconcile of one ExternalSecret: the object and what every step writes through, so
/// the steps (and the status they end with) take only what they add.
struct Reconciler {
    es: Arc<ExternalSecret>,
    ctx: Arc<Context>,
    /// The ExternalSecrets of its namespace: status and finalizer writes.
    api: Api<ExternalSecret>,
    es_ref: ObjectRef<ExternalSecret>,
    namespace: String,
    name: String,
}

/// How a step ends the reconcile early, or what it hands to the next step.
type Step<T> = ControlFlow<Result<Action, Error>, T>;

impl Reconciler {
    fn new(es: Arc<ExternalSecret>, ctx: Arc<Context>) -> Reconciler {
        let namespace = es.namespace().unwrap_or_default();
        Reconciler {
            api: Api::namespaced(ctx.client.clone(), &namespace),
            es_ref: ObjectRef::from_obj(es.as_ref()),
            name: es.name_any(),
            namespace,
            es,
            ctx,
        }
    }

    /// Brings the target in line with the ExternalSecret when a refresh is due, and keeps the
    /// source watches of one that is not.
    async fn apply(&self) -> Result<Action, Error> {
        let es = &self.es;
        let target_name = es
            .spec
            .target
            .name
            .clone()
            .unwrap_or_else(|| self.name.clone());
        let secrets: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &self.namespace);
        // A first sync that only creates or takes over the target (the common case of a new
        // ExternalSecret) does not need to read it first: it creates it, and reads it only if
        // the API server says it exists already. Saves one request per new ExternalSecret.
        let first_sync = es
            .status
            .as_ref()
            .is_none_or(|s| s.refresh_time.is_none() && s.binding.is_none());
        let create_first = first_sync
            && matches!(
                es.spec.target.creation_policy,
                CreationPolicy::Owner | CreationPolicy::Orphan
            )
            && es.spec.target.deletion_policy == DeletionPolicy::Retain;
        let existing = if create_first {
            None
        } else {
            secrets.get_opt(&target_name).await?
        };
        let deps = Dependencies {
            target: target_name.clone(),
            stores: fetch::referenced_stores(es, &self.namespace),
            sources: Default::default(),
        };

        let now = SystemTime::now();
        let status = es.status.clone().unwrap_or_default();
        let interval = match refresh_interval(es, &self.ctx) {
            Ok(i) => i,
            Err(e) => {
                // The API server accepted it (ESO's CRDs have no pattern there), so only the
                // object can tell its owner. Retrying cannot help: the next spec change
                // reconciles again.
                self.ctx.index.record(&self.es_ref, deps);
                tracing::warn!(error = %e, "invalid ExternalSecret; waiting for a change");
                self.fail(status, "invalid ExternalSecret", e).await;
                return Ok(Action::await_change());
            }
        };
        let current_version = esox_core::hash::synced_resource_version(
            es.metadata.generation.unwrap_or_default(),
            &es.labels().clone(),
            &es.annotations().clone(),
        );
        let policy = match es.spec.refresh_policy {
            Some(RefreshPolicy::CreatedOnce) => refresh::RefreshPolicy::CreatedOnce,
            Some(RefreshPolicy::OnChange) => refresh::RefreshPolicy::OnChange,
            Some(RefreshPolicy::Periodic) | None => refresh::RefreshPolicy::Periodic,
        };
        let input = RefreshInput {
            policy,
            refresh_interval: Some(interval),
            refresh_time: status.refresh_time.as_ref().map(|t| SystemTime::from(t.0)),
            synced_resource_version: &status.synced_resource_version,
            current_resource_version: &current_version,
            now,
            periodic_allowed_by_windows: periodic_allowed_by_windows(es, now),
        };
        // Beyond ESO: a change of the source refreshes a periodic ExternalSecret at once;
        // `refreshInterval` stays the safety net. Being a provider-driven refresh, it obeys
        // the sync windows like a periodic one.
        let source_driven = policy == refresh::RefreshPolicy::Periodic
            && interval > 0
            && input.periodic_allowed_by_windows;
        let source_changed = self
            .ctx
            .state
            .external_secrets
            .take_source_changed(&self.es_ref)
            && source_driven
            && !self.built_from_present_versions();
        let orphan = es.spec.target.creation_policy == CreationPolicy::Orphan;
        let valid = esox_core::managed_secret::is_secret_valid(
            orphan,
            existing.as_ref().map(view).as_ref().map(|v| v.as_target()),
        );
        let due = refresh::should_refresh_external_secret(&input) || !valid;
        let up_to_date = !source_changed && !due;
        if up_to_date {
            let first_sight = if source_driven {
                self.first_sight(existing.as_ref(), &deps).await
            } else {
                ControlFlow::Continue(false)
            };
            match first_sight {
                ControlFlow::Continue(true) => {}
                ControlFlow::Continue(false) => return self.not_due(deps, &input, interval).await,
                ControlFlow::Break(()) => {
                    self.ctx.index.record(&self.es_ref, deps);
                    return Ok(Action::requeue(STORE_PENDING_RECHECK));
                }
            }
        }

        let fetched = match self.fetch(deps, &status).await {
            ControlFlow::Continue(f) => f,
            ControlFlow::Break(end) => return end,
        };
        let mut status = es.status.clone().unwrap_or_default();
        if fetched.data.is_empty()
            && let ControlFlow::Break(end) = self
                .without_data(&secrets, existing.is_some(), &target_name, &status, &input)
                .await
        {
            return end;
        }

        let fingerprint = fetched.versions.fingerprint();
        let mut content = match &es.spec.target.template {
            None => target::untemplated(es, fetched.data),
            Some(t) => match super::template::apply(&self.ctx.client, es, t, &fetched.data).await {
                Ok(c) => c,
                // The target is left as it was: a template error never writes half-rendered
                // data.
                Err(e) => return Err(self.fail(status, "could not apply template", e).await),
            },
        };
        // The source versions the data comes from, for the next process's first sight. When
        // they are not known (a source's watch is not listed yet) the recorded ones stay: older
        // versions than the data can only cause a read, never hide a change.
        let recorded = existing
            .as_ref()
            .and_then(|s| s.annotations().get(ANNOTATION_SOURCE_VERSIONS));
        if let Some(f) = fingerprint.as_ref().or(recorded) {
            content
                .annotations
                .insert(ANNOTATION_SOURCE_VERSIONS.to_owned(), f.clone());
        }

        let result = match self
            .write_target(
                &secrets,
                existing.as_ref(),
                create_first,
                &target_name,
                content,
                &status,
                &input,
            )
            .await
        {
            ControlFlow::Continue(result) => result,
            ControlFlow::Break(end) => return end,
        };
        match result {
            Ok(written) => {
                self.ctx
                    .state
                    .external_secrets
                    .set_fingerprint(&self.es_ref, fingerprint);
                status.binding = Some(Binding {
                    name: target_name.clone(),
                });
                // A refresh ESO would not have made (a source change, or the first sight after
                // a start) that changed nothing keeps the refresh time of the last sync, as ESO
                // would have left it: the periodic schedule stays ESO's, and a restart of esox
                // writes nothing at all for an ExternalSecret whose data did not change.
                let synced_at = match &status.refresh_time {
                    Some(last) if !due && !written => last.clone(),
                    _ => Time(jiff::Timestamp::now()),
                };
                self.done_at(
                    status,
                    &input,
                    reason::SECRET_SYNCED,
                    "secret synced",
                    synced_at,
                )
                .await
            }
            Err(e) if e.is_conflict() => Ok(Action::requeue(Duration::from_millis(200))),
            // As in ESO, no retry: only a change of the objects involved can fix these.
            Err(Error::Target(e)) => {
                let message = e.condition_message();
                tracing::warn!(error = %e, "{message}; waiting for a change");
                self.fail(status, message, e.into()).await;
                Ok(Action::await_change())
            }
            Err(e) => Err(self.fail(status, "could not update secret", e).await),
        }
    }

    /// Whether an up-to-date ExternalSecret refreshes anyway because this process sees it for
    /// the first time (esox started, restarted, or a new leader took over) and its sources can
    /// be watched: its status only says what was true when the last process stopped watching,
    /// and a change made since then would otherwise wait for refreshInterval. The refresh also
    /// starts the source watches; an unchanged result rewrites nothing. `Break`: the store is
    /// not validated yet (its first status triggers this ExternalSecret again). Only for
    /// ExternalSecrets a source change may refresh (Periodic, interval above 0, window open).
    async fn first_sight(
        &self,
        existing: Option<&Secret>,
        deps: &Dependencies,
    ) -> ControlFlow<(), bool> {
        let states = &self.ctx.state.external_secrets;
        if states.is_checked(&self.es_ref) {
            return ControlFlow::Continue(false);
        }
        match fetch::watched_sources(&self.ctx, &self.es, &self.namespace).await {
            Ok(Some(sources)) if !sources.is_empty() => {
                if self.target_built_from(existing, deps, sources).await {
                    states.mark_checked(self.es_ref.clone());
                    return ControlFlow::Continue(false);
                }
                ControlFlow::Continue(true)
            }
            Ok(_) => {
                states.mark_checked(self.es_ref.clone());
                ControlFlow::Continue(false)
            }
            Err(Error::Store(why @ StoreError::Pending { .. })) => {
                tracing::debug!(%why, "waiting for the store's validation");
                ControlFlow::Break(())
            }
            // A store that cannot be used now is reported by the refresh that needs it.
            Err(e) => {
                tracing::debug!(error = %e, "cannot resolve the sources' stores yet");
                ControlFlow::Continue(false)
            }
        }
    }

    /// Whether the target says it was built from the versions its sources have now (its
    /// [`ANNOTATION_SOURCE_VERSIONS`]), so that a first sight needs no read. Waits for the
    /// sources' watches to list; from before the comparison on, a change of a source triggers
    /// this ExternalSecret, so a change the comparison cannot see still refreshes it.
    async fn target_built_from(
        &self,
        existing: Option<&Secret>,
        deps: &Dependencies,
        sources: BTreeSet<SourceKey>,
    ) -> bool {
        let Some(recorded) = existing.and_then(|s| s.annotations().get(ANNOTATION_SOURCE_VERSIONS))
        else {
            return false;
        };
        if sources.iter().any(|s| s.key.is_none()) {
            return false;
        }
        let ctx = &self.ctx;
        let locations: BTreeSet<&str> = sources.iter().map(|s| s.watch_key.as_str()).collect();
        let mut recorded_deps = deps.clone();
        recorded_deps.sources = sources.clone();
        ctx.index.record(&self.es_ref, recorded_deps);
        for location in locations {
            if !ctx
                .source_versions
                .wait_listed(location, SOURCES_LISTED_WAIT)
                .await
            {
                return false;
            }
        }
        let Some(present) = ctx.source_versions.fingerprint(&sources) else {
            return false;
        };
        if present != *recorded {
            return false;
        }
        ctx.state
            .external_secrets
            .set_fingerprint(&self.es_ref, Some(present));
        true
    }

    /// Whether the sources this ExternalSecret read last have not changed since (their
    /// versions, as watched, are those it was built from): a source event then needs no read.
    fn built_from_present_versions(&self) -> bool {
        let ctx = &self.ctx;
        ctx.index
            .sources_of(&self.es_ref)
            .and_then(|sources| ctx.source_versions.fingerprint(&sources))
            .is_some_and(|present| {
                ctx.state
                    .external_secrets
                    .built_from(&self.es_ref, &present)
            })
    }

    /// No refresh is due: the target stays as it is and the next refresh is scheduled.
    async fn not_due(
        &self,
        mut deps: Dependencies,
        input: &RefreshInput<'_>,
        interval: i64,
    ) -> Result<Action, Error> {
        let ctx = &self.ctx;
        if let Some(prev) = ctx.index.sources_of(&self.es_ref) {
            deps.sources = prev;
        }
        ctx.index.record(&self.es_ref, deps);
        let overdue = RefreshInput {
            periodic_allowed_by_windows: true,
            ..*input
        };
        if refresh::should_refresh_external_secret(&overdue) {
            // A sync window holds back an overdue refresh. ESO requeues at once and lets its
            // rate limiter space the retries; a bounded delay notices the window's end as well.
            let nanos = u64::try_from(interval).unwrap_or(0);
            return Ok(Action::requeue(
                Duration::from_nanos(nanos).min(WINDOW_RECHECK),
            ));
        }
        Ok(requeue_action(refresh::external_secret_requeue(input)))
    }

    /// Reads the provider; records what the ExternalSecret depends on either way.
    async fn fetch(
        &self,
        mut deps: Dependencies,
        status: &ExternalSecretStatus,
    ) -> Step<fetch::Fetched> {
        let ctx = &self.ctx;
        let fetched = match fetch::fetch(
            ctx,
            &self.es,
            &self.namespace,
            &super::template::TransformTemplates,
        )
        .await
        {
            Ok(Some(f)) => {
                ctx.state.external_secrets.mark_checked(self.es_ref.clone());
                // Only now is the object known to be ours (ESO adds it before the class check).
                if let Err(e) = sync_finalizer(&self.api, &self.es).await {
                    return ControlFlow::Break(Err(e));
                }
                f
            }
            Ok(None) => {
                // A store of another controller class: not ours, no status, no requeue.
                ctx.index.record(&self.es_ref, deps);
                return ControlFlow::Break(Ok(Action::await_change()));
            }
            Err(Error::Store(why @ StoreError::Pending { .. })) => {
                // Right after esox starts every store is unvalidated for a moment: wait for the
                // store's first status (it triggers this ExternalSecret through the index)
                // instead of failing and backing off. The requeue only covers a missed trigger.
                tracing::debug!(%why, "waiting for the store's validation");
                ctx.index.record(&self.es_ref, deps);
                return ControlFlow::Break(Ok(Action::requeue(STORE_PENDING_RECHECK)));
            }
            Err(e) => {
                ctx.index.record(&self.es_ref, deps);
                let e = self
                    .fail(status.clone(), "could not get secret data from provider", e)
                    .await;
                return ControlFlow::Break(Err(e));
            }
        };
        deps.stores.extend(fetched.stores.iter().cloned());
        deps.sources = fetched.sources.clone();
        ctx.index.record(&self.es_ref, deps);
        // A watch that listed or reported a change while this read went on did so before the
        // index knew this reader, so its trigger never came: refresh once more.
        let present = ctx.source_versions.fingerprint(&fetched.sources);
        if fetched.versions.may_be_stale(present.as_deref()) {
            ctx.state
                .external_secrets
                .mark_source_changed(self.es_ref.clone());
            ctx.trigger(self.es_ref.clone());
        }
        for missing in &fetched.missing {
            self.publish(EventType::Normal, "MissingProviderSecret", missing)
                .await;
        }
        ControlFlow::Continue(fetched)
    }

    /// The provider has no data for this ExternalSecret: `deletionPolicy` decides (Merge goes
    /// on to write what the template makes of nothing).
    async fn without_data(
        &self,
        secrets: &Api<Secret>,
        exists: bool,
        target_name: &str,
        status: &ExternalSecretStatus,
        input: &RefreshInput<'_>,
    ) -> Step<()> {
        let es = &self.es;
        match es.spec.target.deletion_policy {
            DeletionPolicy::Delete => {
                if es.spec.target.creation_policy != CreationPolicy::Owner {
                    let e = Error::Invalid(format!(
                        "unable to delete secret {target_name}: creationPolicy={:?} is not Owner",
                        es.spec.target.creation_policy
                    ));
                    let e = self
                        .fail(status.clone(), "could not delete secret", e)
                        .await;
                    return ControlFlow::Break(Err(e));
                }
                if exists {
                    // As ESO: the status says why the Secret is still there (a refused delete
                    // names the verb, the resource and the identity).
                    if let Err(e) = secrets.delete(target_name, &DeleteParams::default()).await {
                        let e = self
                            .fail(status.clone(), "could not delete secret", Error::from(e))
                            .await;
                        return ControlFlow::Break(Err(e));
                    }
                    self.publish(
                        EventType::Normal,
                        "Deleted",
                        "secret deleted due to DeletionPolicy=Delete",
                    )
                    .await;
                }
                ControlFlow::Break(
                    self.done(
                        status.clone(),
                        input,
                        reason::SECRET_DELETED,
                        "secret deleted due to DeletionPolicy=Delete",
                    )
                    .await,
                )
            }
            DeletionPolicy::Retain => ControlFlow::Break(
                self.done(
                    status.clone(),
                    input,
                    reason::SECRET_SYNCED,
                    "secret retained due to DeletionPolicy=Retain",
                )
                .await,
            ),
            DeletionPolicy::Merge => ControlFlow::Continue(()),
        }
    }

    /// Creates or updates the target as `creationPolicy` says; the write's outcome, or the end
    /// of the reconcile when there is nothing to write yet.
    #[allow(clippy::too_many_arguments)] // each is a different part of the target's write
    async fn write_target(
        &self,
        secrets: &Api<Secret>,
        existing: Option<&Secret>,
        create_first: bool,
        target_name: &str,
        content: Content,
        status: &ExternalSecretStatus,
        input: &RefreshInput<'_>,
    ) -> Step<Result<bool, Error>> {
        let manager = esox_core::hash::field_manager_name(&self.name);
        let es = &self.es;
        let ctx = &self.ctx;
        // Whether the target was written: `write` returns the target's resourceVersion, which
        // stays the same when the content already was right.
        let before = existing.and_then(|s| s.resource_version());
        let result = match (es.spec.target.creation_policy, existing) {
            (CreationPolicy::None, _) => Ok(None),
            (CreationPolicy::Merge, None) => {
                if let Err(e) = self
                    .done(
                        status.clone(),
                        input,
                        reason::SECRET_MISSING,
                        "secret will not be created due to CreationPolicy=Merge",
                    )
                    .await
                {
                    return ControlFlow::Break(Err(e));
                }
                // esox watches only the Secrets it labelled, and the Secret a Merge target
                // waits for carries no label yet: look for it every few seconds (one GET)
                // instead of at the next refreshInterval as ESO does.
                return ControlFlow::Break(Ok(Action::requeue(MERGE_TARGET_RECHECK)));
            }
            (_, None) if create_first => match write(
                es,
                ctx,
                secrets,
                None,
                target_name,
                &manager,
                content.clone(),
            )
            .await
            {
                Err(e) if e.is_already_exists() => match secrets.get_opt(target_name).await {
                    Ok(current) => {
                        write(
                            es,
                            ctx,
                            secrets,
                            current.as_ref(),
                            target_name,
                            &manager,
                            content,
                        )
                        .await
                    }
                    Err(e) => return ControlFlow::Break(Err(e.into())),
                },
                other => other,
            }
            .map(Some),
            (_, existing) => write(es, ctx, secrets, existing, target_name, &manager, content)
                .await
                .map(Some),
        };
        ControlFlow::Continue(result.map(|after| after.is_some() && after != before))
    }

    /// Records a successful sync: Ready=True with `reason`, refreshTime, syncedResourceVersion.
    async fn done(
        &self,
        status: ExternalSecretStatus,
        input: &RefreshInput<'_>,
        reason: &str,
        message: &str,
    ) -> Result<Action, Error> {
        let now = Time(jiff::Timestamp::now());
        self.done_at(status, input, reason, message, now).await
    }

    /// [`done`](Self::done) with the refresh time to record (the last sync's when a refresh
    /// found nothing to change and nothing is owed to ESO's schedule).
    async fn done_at(
        &self,
        mut status: ExternalSecretStatus,
        input: &RefreshInput<'_>,
        reason: &str,
        message: &str,
        refresh_time: Time,
    ) -> Result<Action, Error> {
        conditions::set(
            &mut status.conditions,
            conditions::READY,
            true,
            reason,
            message,
        );
        let synced_at = SystemTime::from(refresh_time.0);
        status.refresh_time = Some(refresh_time);
        status.synced_resource_version = input.current_resource_version.to_owned();
        self.ctx
            .metrics
            .external_secret_condition(&self.name, &self.namespace, true);
        self.write_status(status).await?;
        // The next refresh counts from this sync, seen from now: with the reconcile's start as
        // `now`, the refresh time just written lies in the future and the refresh logic asks
        // for an immediate requeue (one more reconcile and target read per sync, 1 s later).
        let after = RefreshInput {
            refresh_time: Some(synced_at),
            now: SystemTime::now(),
            synced_resource_version: input.current_resource_version,
            ..*input
        };
        Ok(requeue_action(refresh::external_secret_requeue(&after)))
    }

    /// Records a failure: Ready=False with ESO's message, a Warning event with the cause.
    async fn fail(&self, mut status: ExternalSecretStatus, message: &str, err: Error) -> Error {
        // Not logged here: a returned error is logged once by the error policy, and the
        // callers that do not return it log it themselves.
        // ESO keeps the condition message generic and puts the cause in the event; esox adds
        // the cause to the condition too so `kubectl get es` tells what to fix.
        let cause = err.to_string();
        let condition = if cause.starts_with(message) {
            cause
        } else {
            format!("{message}: {cause}")
        };
        conditions::set(
            &mut status.conditions,
            conditions::READY,
            false,
            reason::SECRET_SYNCED_ERROR,
            &condition,
        );
        self.ctx
            .metrics
            .external_secret_condition(&self.name, &self.namespace, false);
        if let Err(e) = self.write_status(status).await {
            tracing::warn!(error = %e, "could not write status");
        }
        self.publish(EventType::Warning, "UpdateFailed", &err.to_string())
            .await;
        err
    }

    async fn write_status(&self, status: ExternalSecretStatus) -> Result<(), Error> {
        let old = self.es.status.clone().unwrap_or_default();
        if same_status(&old, &status) {
            return Ok(());
        }
        let patch = json!({ "status": status });
        match self
            .api
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(written) => {
                self.ctx.recent_statuses.remember(&written);
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn publish(&self, type_: EventType, reason: &str, note: &str) {
        publish(&self.ctx, &self.es, type_, reason, note).await;
    }

    /// The ExternalSecret is being deleted: forgets it, and when it carries esox's finalizer
    /// (deletionPolicy Delete) deletes the target it controls, then releases it.
    async fn cleanup(&self) -> Result<Action, Error> {
        let (es, ctx) = (self.es.as_ref(), &self.ctx);
        ctx.index.forget(&self.es_ref);
        ctx.recent_statuses.forget(&self.es_ref);
        ctx.metrics
            .external_secret_deleted(&self.name, &self.namespace);
        if !crate::finalizers::has(es, FINALIZER_EXTERNAL_SECRET) {
            return Ok(Action::await_change());
        }
        if of_another_class(ctx, es, &self.namespace).await {
            // Its controller (which uses the same finalizer name) cleans it up.
            return Ok(Action::await_change());
        }
        if es.spec.target.deletion_policy == DeletionPolicy::Delete {
            let target_name = es
                .spec
                .target
                .name
                .clone()
                .unwrap_or_else(|| self.name.clone());
            let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &self.namespace);
            // A failure here must not wedge the deletion: the Secret is owned by the
            // ExternalSecret (creationPolicy Owner), so garbage collection removes it anyway.
            match secrets.get_opt(&target_name).await {
                Ok(Some(s)) if crate::ownership::controlled_by(&s, es) => {
                    if let Err(e) = secrets.delete(&target_name, &DeleteParams::default()).await {
                        tracing::warn!(error = %e, "could not delete the target Secret; garbage collection will");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the target Secret during cleanup")
                }
            }
        }
        crate::finalizers::remove(&self.api, es, FINALIZER_EXTERNAL_SECRET).await?;
        Ok(Action::await_change())
    }
}

struct SecretParts {
    data: esox_core::SecretData,
    labels: std::collections::BTreeMap<String, String>,
    annotations: std::collections::BTreeMap<String, String>,
}

impl SecretParts {
    fn as_target(&self) -> esox_core::managed_secret::TargetView<'_> {
        esox_core::managed_secret::TargetView {
            data: &self.data,
            labels: &self.labels,
            annotations: &self.annotations,
        }
    }
}

fn view(s: &Secret) -> SecretParts {
    SecretParts {
        data: target::plain_data(s),
        labels: s.metadata.labels.clone().unwrap_or_default(),
        annotations: s.metadata.annotations.clone().unwrap_or_default(),
    }
}

/// Creates or updates the target; returns its new resourceVersion.
async fn write(
    es: &ExternalSecret,
    ctx: &Context,
    secrets: &Api<Secret>,
    existing: Option<&Secret>,
    target_name: &str,
    manager: &str,
    content: Content,
) -> Result<String, Error> {
    let namespace = es.namespace().unwrap_or_default();
    let desired = target::desired(es, existing, target_name, manager, content)?;
    let pp = PostParams {
        dry_run: false,
        field_manager: Some(manager.to_owned()),
    };
    // A Secret created under an older target name can only exist once the binding (the name
    // of the last synced target) differs from the current name; listing on every write would
    // cost a request per ExternalSecret.
    let renamed = es
        .status
        .as_ref()
        .and_then(|s| s.binding.as_ref())
        .is_some_and(|b| !b.name.is_empty() && b.name != target_name);
    if es.spec.target.creation_policy == CreationPolicy::Owner && renamed {
        delete_orphans(es, secrets, target_name).await?;
    }
    let written = match existing {
        None => {
            let created = secrets.create(&pp, &desired).await?;
            publish(ctx, es, EventType::Normal, "Created", "secret created").await;
            created
        }
        Some(current) if target::same_content(current, &desired) => {
            return Ok(current.resource_version().unwrap_or_default());
        }
        Some(current) => {
            if current.immutable == Some(true)
                && (current.data != desired.data || current.type_ != desired.type_)
            {
                // As ESO: the metadata (labels, annotations, ownership) is still written,
                // then the data change is refused.
                let mut metadata_only = desired.clone();
                metadata_only.data = current.data.clone();
                metadata_only.type_ = current.type_.clone();
                if !target::same_content(current, &metadata_only) {
                    let updated = secrets.replace(target_name, &pp, &metadata_only).await?;
                    ctx.index
                        .note_written(&namespace, target_name, updated.resource_version());
                }
                return Err(TargetError::Immutable(target_name.to_owned()).into());
            }
            let updated = secrets.replace(target_name, &pp, &desired).await?;
            publish(ctx, es, EventType::Normal, "Updated", "secret updated").await;
            updated
        }
    };
    let rv = written.resource_version();
    ctx.index.note_written(&namespace, target_name, rv.clone());
    Ok(rv.unwrap_or_default())
}

/// With creationPolicy Owner, Secrets this ExternalSecret created under an older target name.
async fn delete_orphans(
    es: &ExternalSecret,
    secrets: &Api<Secret>,
    target_name: &str,
) -> Result<(), Error> {
    let hash =
        esox_core::hash::created_by_hash(&es.namespace().unwrap_or_default(), &es.name_any());
    let list = secrets
        .list_metadata(&ListParams::default().labels(&format!("{LABEL_CREATED_BY}={hash}")))
        .await?;
    for s in list.items {
        let name = s.name_any();
        if name != target_name {
            secrets.delete(&name, &DeleteParams::default()).await?;
        }
    }
    Ok(())
}

/// Beyond ESO, which finalizes every ExternalSecret: the finalizer is there only while the
/// deletion has work for esox (deletionPolicy Delete deletes the target), so any other
/// ExternalSecret can be deleted even while esox is down or uninstalled.
async fn sync_finalizer(api: &Api<ExternalSecret>, es: &ExternalSecret) -> Result<(), Error> {
    let wanted = es.spec.target.deletion_policy == DeletionPolicy::Delete;
    crate::finalizers::keep(api, es, FINALIZER_EXTERNAL_SECRET, wanted).await?;
    Ok(())
}

/// Whether a store the ExternalSecret references belongs to another controller class. A store
/// that cannot be read does not make it someone else's.
async fn of_another_class(ctx: &Context, es: &ExternalSecret, namespace: &str) -> bool {
    for key in fetch::referenced_stores(es, namespace) {
        let store_ref = esox_api::v1::SecretStoreRef {
            name: key.name.clone(),
            kind: Some(key.kind),
        };
        if let Ok(None) = crate::stores::resolve(ctx, &store_ref, namespace, false).await {
            return true;
        }
    }
    false
}

/// How often an ExternalSecret whose refresh a sync window holds back looks again.
const WINDOW_RECHECK: Duration = Duration::from_secs(30);

/// ESO's `isPeriodicRefreshAllowedByWindows` over `spec.syncWindows`, in UTC. A window whose
/// schedule or duration does not parse is ignored (never active), as ESO ignores a bad schedule.
fn periodic_allowed_by_windows(es: &ExternalSecret, now: SystemTime) -> bool {
    let Some(windows) = &es.spec.sync_windows else {
        return true;
    };
    if windows.windows.is_empty() {
        return true;
    }
    let active = windows.windows.iter().any(|w| {
        let schedule = match sync_window::parse(&w.schedule) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "ignoring a sync window whose schedule does not parse");
                return false;
            }
        };
        match esox_core::duration::parse(&w.duration) {
            Ok(d) => sync_window::is_within_window(&schedule, d, now),
            Err(e) => {
                tracing::debug!(error = %e, duration = %w.duration, "ignoring a sync window whose duration does not parse");
                false
            }
        }
    });
    match windows.kind {
        SyncWindowKind::Deny => !active,
        SyncWindowKind::Allow => active,
    }
}

fn refresh_interval(es: &ExternalSecret, ctx: &Context) -> Result<i64, Error> {
    match es.spec.refresh_interval.as_deref() {
        None => Ok(i64::try_from(ctx.options.default_refresh_interval.as_nanos()).unwrap_or(i64::MAX)),
        Some(text) => esox_core::duration::parse(text).map_err(|e| {
            Error::Invalid(format!("spec.refreshInterval {text:?} is not a duration ({e}): write it like 1h, 15m or 30s"))
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

fn same_status(a: &ExternalSecretStatus, b: &ExternalSecretStatus) -> bool {
    a.conditions == b.conditions
        && a.synced_resource_version == b.synced_resource_version
        && a.binding == b.binding
        && a.refresh_time == b.refresh_time
}

pub(crate) async fn publish(
    ctx: &Context,
    es: &ExternalSecret,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.to_owned()),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    ctx.es_recorder.publish(&event, &es.object_ref(&())).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_windows(windows: serde_json::Value) -> ExternalSecret {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "e", "namespace": "n"},
            "spec": {"dataFrom": [{"extract": {"key": "k"}}], "syncWindows": windows},
        }))
        .expect("valid ExternalSecret")
    }

    /// 2024-03-15 10:30:00 UTC.
    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_710_498_600)
    }

    #[test]
    fn sync_windows_gate_periodic_refreshes() {
        let es = |kind: &str, schedule: &str, duration: &str| {
            with_windows(
                serde_json::json!({"kind": kind, "windows": [{"schedule": schedule, "duration": duration}]}),
            )
        };
        let none: ExternalSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "e", "namespace": "n"},
            "spec": {"dataFrom": [{"extract": {"key": "k"}}]},
        }))
        .expect("valid ExternalSecret");
        assert!(periodic_allowed_by_windows(&none, at()));
        // 10:00 for an hour covers 10:30; 12:00 does not.
        assert!(!periodic_allowed_by_windows(
            &es("deny", "0 10 * * *", "1h"),
            at()
        ));
        assert!(periodic_allowed_by_windows(
            &es("deny", "0 12 * * *", "1h"),
            at()
        ));
        assert!(periodic_allowed_by_windows(
            &es("allow", "0 10 * * *", "1h"),
            at()
        ));
        assert!(!periodic_allowed_by_windows(
            &es("allow", "0 12 * * *", "1h"),
            at()
        ));
        // A window that does not parse is never active.
        assert!(periodic_allowed_by_windows(
            &es("deny", "0 10 * * *", "an hour"),
            at()
        ));
        assert!(!periodic_allowed_by_windows(
            &es("allow", "0 10 * * *", "an hour"),
            at()
        ));
        assert!(periodic_allowed_by_windows(
            &es("deny", "61 * * * *", "1h"),
            at()
        ));
    }
}
