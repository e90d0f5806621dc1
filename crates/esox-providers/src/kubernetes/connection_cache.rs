//! Resolved connections, kept for a few seconds. Resolving one reads the CA ConfigMap or Secret
//! and the credential Secret; when a source change refreshes a thousand ExternalSecrets of the
//! same store at once, those reads would otherwise be repeated a thousand times.
//!
//! An entry lives at most [`TTL`], so a rotated token, CA or kubeconfig is picked up within that
//! time; any error of the remote server drops the entry at once (see
//! [`super::client::KubernetesClient::remote_error`]), so credentials that stopped working are
//! resolved again on the next call instead of being reused.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use esox_api::v1::providers::kubernetes::KubernetesProvider as KubernetesSpec;

use super::connect::Connection;
use crate::auth::Scope;
use crate::{LocalCluster, ProviderError};

/// How long a resolved connection is reused without reading its references again.
pub(crate) const TTL: Duration = Duration::from_secs(10);
/// Entries kept at most; beyond that the cache starts over (thousands of distinct stores).
const MAX_ENTRIES: usize = 4096;

/// What a connection is resolved from: two stores with identical specs used from the same
/// namespace resolve the same references, so they may share it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct ConnectionKey(Vec<u8>);

impl ConnectionKey {
    pub fn new(spec: &KubernetesSpec, scope: &Scope, local: &LocalCluster) -> Option<Self> {
        // A spec that does not serialise is not cached (it cannot happen for a typed spec).
        let spec = serde_json::to_vec(spec).ok()?;
        let mut key = Vec::with_capacity(spec.len() + 64);
        let mut field = |bytes: &[u8]| {
            key.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            key.extend_from_slice(bytes);
        };
        field(if scope.is_cluster_store() { b"C" } else { b"N" });
        field(scope.consuming.as_deref().unwrap_or_default().as_bytes());
        field(local.url.as_bytes());
        field(&spec);
        Some(Self(key))
    }
}

struct Entry {
    connection: Connection,
    resolved_at: Instant,
}

/// The cache; one per provider instance.
#[derive(Default)]
pub(crate) struct ConnectionCache {
    entries: Mutex<Option<HashMap<ConnectionKey, Entry>>>,
}

impl ConnectionCache {
    /// The cached connection for `key`, or the one `resolve` builds (then cached).
    pub async fn get_or_resolve<F>(
        &self,
        key: Option<ConnectionKey>,
        resolve: F,
    ) -> Result<Connection, ProviderError>
    where
        F: std::future::Future<Output = Result<Connection, ProviderError>>,
    {
        let Some(key) = key else {
            return resolve.await;
        };
        let now = Instant::now();
        if let Some(entry) = self.lock().get_or_insert_with(HashMap::new).get(&key)
            && now.duration_since(entry.resolved_at) < TTL
        {
            return Ok(entry.connection.clone());
        }
        // Two callers may resolve the same key at once; both results are equivalent.
        let connection = resolve.await?;
        let mut guard = self.lock();
        let entries = guard.get_or_insert_with(HashMap::new);
        entries.retain(|_, e| now.duration_since(e.resolved_at) < TTL);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                connection: connection.clone(),
                resolved_at: now,
            },
        );
        Ok(connection)
    }

    /// Drops `key`, so the next use resolves the references again.
    pub fn forget(&self, key: &ConnectionKey) {
        if let Some(entries) = self.lock().as_mut() {
            entries.remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HashMap<ConnectionKey, Entry>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
