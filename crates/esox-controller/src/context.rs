//! What every reconcile shares: clients, options, indexes, event recorders and the remote
//! watches that turn source changes into reconciles.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use esox_api::v1::ExternalSecret;
use esox_providers::{LocalCluster, ProviderRuntime, RemoteEvent, SecretsClient};
use futures::StreamExt as _;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;

use crate::caches::{self, Caches};
use crate::events::Recorder;
use crate::index::Index;
use crate::recent_status::RecentStatuses;
use crate::shared_reads::SharedReads;

/// Settings of `esox run`.
#[derive(Clone, Debug)]
pub struct Options {
    /// Stores whose `spec.controller` is set to another class are left alone.
    pub controller_class: String,
    /// Refuse to use a store that is not `Ready=True` (ESO's flood gate).
    pub flood_gate: bool,
    /// How often stores are validated again when they set no `refreshInterval`.
    pub store_requeue_interval: Duration,
    /// ExternalSecret refreshInterval when the field is absent.
    pub default_refresh_interval: Duration,
    /// Serve only this namespace (`esox run --namespace`, ESO's flag): every watch and list of a
    /// namespaced kind stays inside it, so Roles in that namespace are all esox needs.
    pub namespace: Option<String>,
    /// Which controllers run (ESO's `--enable-*-reconciler` flags). The cluster-scoped kinds
    /// are off in namespace-scoped mode whatever these say (see [`Options::scoped`]).
    pub cluster_stores: bool,
    pub cluster_external_secrets: bool,
    pub push_secrets: bool,
    pub cluster_push_secrets: bool,
    /// Reconciles in flight per controller (`--concurrent`); `None` keeps each controller's own
    /// default (32 ExternalSecrets, 16 PushSecrets).
    pub concurrent: Option<u16>,
}

impl Options {
    /// The options with the cluster-scoped kinds off when esox serves one namespace: reading
    /// them needs cluster-wide permissions that namespace-scoped RBAC does not grant (ESO's
    /// chart turns them off the same way).
    pub fn scoped(mut self) -> Self {
        if self.namespace.is_some() {
            self.cluster_stores = false;
            self.cluster_external_secrets = false;
            self.cluster_push_secrets = false;
        }
        self
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            controller_class: "default".to_owned(),
            flood_gate: true,
            store_requeue_interval: Duration::from_secs(300),
            default_refresh_interval: Duration::from_secs(3600),
            namespace: None,
            cluster_stores: true,
            cluster_external_secrets: true,
            push_secrets: true,
            cluster_push_secrets: true,
            concurrent: None,
        }
    }
}

/// Shared state of the controllers.
pub struct Context {
    pub client: kube::Client,
    pub options: Options,
    /// The providers, with their caches and API-call hook: this instance's own.
    pub providers: ProviderRuntime,
    pub index: Index,
    /// ExternalSecret statuses esox wrote that the watched copies may not show yet.
    pub recent_statuses: RecentStatuses,
    /// The same for PushSecrets.
    pub recent_push_statuses: RecentStatuses<esox_api::v1alpha1::PushSecret>,
    /// Stores and namespace labels, as watched.
    pub caches: Caches,
    /// Writers of `caches`, taken once by the runner.
    cache_writers: Mutex<Option<caches::Writers>>,
    /// Provider reads shared between ExternalSecrets reading the same watched source.
    pub shared_reads: SharedReads,
    /// Versions of the watched sources, to tell an unchanged source without reading it.
    pub source_versions: crate::source_versions::SourceVersions,
    /// Shared with later leadership terms of this process, so counters never restart at zero.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Events for ExternalSecrets (ESO's recorder name).
    pub es_recorder: Recorder,
    /// Events for stores.
    pub store_recorder: Recorder,
    /// Reconcile requests for ExternalSecrets coming from outside the main watch.
    es_trigger: mpsc::UnboundedSender<ObjectRef<ExternalSecret>>,
    /// What is remembered about each object between reconciles (failures, source changes).
    pub state: crate::state::States,
    /// Running remote watches by watch key.
    remote_watches: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
    /// Controllers that ended before shutdown, for `/healthz`.
    pub liveness: crate::runner::Liveness,
    /// Objects already reported as undecodable (see [`crate::lenient`]).
    pub undecodable: crate::lenient::Reporter,
}

impl Context {
    /// Builds the context and the stream of extra reconcile requests for ExternalSecrets.
    pub fn new(
        client: kube::Client,
        options: Options,
        local_cluster: LocalCluster,
    ) -> (
        Arc<Self>,
        mpsc::UnboundedReceiver<ObjectRef<ExternalSecret>>,
    ) {
        Self::with_metrics(client, options, local_cluster, Arc::default())
    }

    /// As [`Context::new`], counting into `metrics` (kept from an earlier term).
    pub fn with_metrics(
        client: kube::Client,
        options: Options,
        local_cluster: LocalCluster,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> (
        Arc<Self>,
        mpsc::UnboundedReceiver<ObjectRef<ExternalSecret>>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (caches, cache_writers) = caches::new();
        let ctx = Context {
            caches,
            cache_writers: Mutex::new(Some(cache_writers)),
            shared_reads: SharedReads::default(),
            source_versions: Default::default(),
            es_recorder: Recorder::new(client.clone(), "external-secrets"),
            store_recorder: Recorder::new(client.clone(), "secret-store"),
            providers: ProviderRuntime::new(client.clone(), local_cluster),
            client,
            options,
            index: Index::default(),
            recent_statuses: RecentStatuses::default(),
            recent_push_statuses: RecentStatuses::default(),
            metrics,
            es_trigger: tx,
            state: Default::default(),
            remote_watches: Mutex::default(),
            liveness: Default::default(),
            undecodable: Default::default(),
        };
        (Arc::new(ctx), rx)
    }

    /// An API over a namespaced kind in every namespace esox serves: one namespace in
    /// namespace-scoped mode, else all of them.
    pub fn served<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match &self.options.namespace {
            Some(ns) => kube::Api::namespaced(self.client.clone(), ns),
            None => kube::Api::all(self.client.clone()),
        }
    }

    /// The writers of [`Context::caches`]; `None` after the first call.
    pub fn take_cache_writers(&self) -> Option<caches::Writers> {
        self.cache_writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Asks for a reconcile of `es`.
    pub fn trigger(&self, es: ObjectRef<ExternalSecret>) {
        // The receiver lives as long as the controller; a closed channel means shutdown.
        let _ = self.es_trigger.send(es);
    }

    /// Starts watching the remote location of `client` unless a watch for it already runs.
    pub fn ensure_remote_watch(self: &Arc<Self>, client: &dyn SecretsClient) {
        let Some(key) = client.watch_key() else {
            return;
        };
        let mut watches = self
            .remote_watches
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if watches.get(&key).is_some_and(|h| !h.is_finished()) {
            return;
        }
        let Some(stream) = client.watch() else {
            return;
        };
        let ctx = Arc::downgrade(self);
        let watch_key = key.clone();
        self.shared_reads.watching(&key);
        let handle = tokio::spawn(async move {
            let mut stream = stream;
            while let Some(event) = stream.next().await {
                let Some(ctx) = ctx.upgrade() else { break };
                let change = match event {
                    RemoteEvent::Listed => {
                        ctx.source_versions.listed(&watch_key);
                        continue;
                    }
                    RemoteEvent::Changed(change) => change,
                };
                // Before the triggers: the refreshes they cause must read (and compare with)
                // the new version.
                ctx.source_versions.changed(&watch_key, &change);
                ctx.shared_reads.changed(&watch_key);
                for es in ctx.index.for_source(&watch_key, &change.key) {
                    ctx.state.external_secrets.mark_source_changed(es.clone());
                    ctx.trigger(es);
                }
            }
            tracing::debug!(watch_key = %watch_key, "remote watch ended");
            let Some(ctx) = ctx.upgrade() else { return };
            ctx.source_versions.ended(&watch_key);
            ctx.shared_reads.not_watching(&watch_key);
            // The entry is this task's (no other watch of the key starts while it runs); once
            // removed, the next read of the source starts a new watch with fresh credentials.
            ctx.remote_watches
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&watch_key);
            // Changes may have gone unseen: the readers refresh, which also restarts the watch.
            for es in ctx.index.for_watch(&watch_key) {
                ctx.state.external_secrets.mark_source_changed(es.clone());
                ctx.trigger(es);
            }
        });
        watches.insert(key, handle);
    }

    /// Number of remote watches running (for tests and metrics).
    pub fn remote_watch_count(&self) -> usize {
        self.remote_watches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|h| !h.is_finished())
            .count()
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        for (_, h) in self
            .remote_watches
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            h.abort();
        }
    }
}

impl AsRef<Context> for Context {
    fn as_ref(&self) -> &Context {
        self
    }
}
