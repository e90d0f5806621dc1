//! Everything the request handlers and controllers share; survives a restart of the listener.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;

use crate::auth::token::TokenSigner;
use crate::faults::Faults;
use crate::resources::{GroupResource, Registry, ResourceInfo};
use crate::store::Store;

pub(crate) struct State {
    pub store: Store,
    pub registry: RwLock<Registry>,
    pub signer: TokenSigner,
    pub admin_token: String,
    pub ca_pem: String,
    pub faults: Faults,
    /// Bumped to end every open watch stream.
    pub watch_cut: tokio::sync::watch::Sender<u64>,
    pub bookmark_interval: Duration,
    /// Wakes the controllers when something needs another look (a finalizer went away, ...).
    pub controller_kick: tokio::sync::Notify,
    /// Users of the client certificates this cluster issued, by certificate DER.
    pub client_certs: std::sync::Mutex<std::collections::HashMap<Vec<u8>, crate::auth::UserInfo>>,
    /// Requests received, for benchmarks that count a client's API traffic.
    pub requests: RequestCounters,
}

/// Requests received since start, split into reads (GET, HEAD: get, list, watch, discovery)
/// and writes (every other method).
#[derive(Debug, Default)]
pub(crate) struct RequestCounters {
    pub reads: std::sync::atomic::AtomicU64,
    pub writes: std::sync::atomic::AtomicU64,
}

impl RequestCounters {
    pub fn record(&self, method: &http::Method) {
        let counter = if method == http::Method::GET || method == http::Method::HEAD {
            &self.reads
        } else {
            &self.writes
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl State {
    pub fn new(history_limit: usize, bookmark_interval: Duration, ca_pem: String) -> Arc<Self> {
        let (watch_cut, _) = tokio::sync::watch::channel(0);
        let admin_token = {
            let b = crate::util::random_bytes::<24>();
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        };
        Arc::new(Self {
            store: Store::new(history_limit),
            registry: RwLock::new(Registry::builtin()),
            signer: TokenSigner::new(),
            admin_token,
            ca_pem,
            faults: Faults::default(),
            watch_cut,
            bookmark_interval,
            controller_kick: tokio::sync::Notify::new(),
            client_certs: Default::default(),
            requests: RequestCounters::default(),
        })
    }

    pub fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn info(&self, group: &str, version: &str, resource: &str) -> Option<Arc<ResourceInfo>> {
        self.registry().get(group, version, resource)
    }

    pub fn info_for(&self, gr: &GroupResource) -> Option<Arc<ResourceInfo>> {
        self.registry().any_version(gr)
    }

    pub fn get(&self, group: &str, resource: &str, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.store
            .get(&GroupResource::new(group, resource), ns, name)
    }
}
