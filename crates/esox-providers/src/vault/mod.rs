//! ESO's HashiCorp Vault provider (`providers/v1/vault`): the KV v1 and v2 secrets engines of
//! a Vault (or OpenBao) server.
//!
//! Where esox differs from ESO, on purpose:
//! - one login serves every client built for the same server settings and credentials: the
//!   session (token, lease) is kept in the provider and renewed (`renew-self`) or replaced
//!   before it expires, instead of one login per client;
//! - a 403 with a token Vault no longer knows makes the session log in again once;
//! - see [`push`] for the differences of PushSecret writes.
//!
//! Login methods live in [`auth`], one file each.

mod auth;
mod client;
pub(crate) mod dynamic;
mod errors;
mod http;
mod paths;
mod push;
mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use esox_api::v1::providers::vault::{VaultKvStoreVersion, VaultProvider as VaultSpec};
use esox_api::v1::{Capabilities, StoreKind};
use secrecy::SecretString;
use sha3::{Digest as _, Sha3_256};

pub use client::VaultClient;
pub use session::{
    CALL_DELETE_SECRET, CALL_LIST_SECRETS, CALL_LOGICAL, CALL_LOGIN, CALL_LOOKUP_SELF,
    CALL_READ_SECRET_DATA, CALL_RENEW_SELF, CALL_WRITE_SECRET_DATA, PROVIDER_VAULT,
};

use crate::auth::{CaSource, Scope};
use crate::{ClientContext, LocalCluster, Provider, ProviderError, SecretsClient, StoreInfo};
use paths::Kv;
use session::Session;

/// How long resolved references (CA, credential Secrets) are reused before being read again,
/// so a burst of reconciles of one store reads them once; a rotated credential is seen
/// within this time.
const RESOLVE_TTL: Duration = Duration::from_secs(10);
/// Sessions unused for this long are dropped (their store was deleted or changed).
const SESSION_IDLE: Duration = Duration::from_secs(3600);
/// Entries kept at most in each cache; beyond that it starts over.
const MAX_ENTRIES: usize = 4096;

/// Sessions by cache key, with when each was last handed out.
type SessionMap = Mutex<HashMap<Vec<u8>, (Instant, Arc<Session>)>>;

/// The `vault` provider.
#[derive(Default)]
pub struct VaultProvider {
    /// (store spec, scope) → session, for [`RESOLVE_TTL`].
    resolved: SessionMap,
    /// (server settings, CA, credentials digest) → session, while used.
    sessions: SessionMap,
}

/// The registry's constructor.
pub(crate) fn register(_: &LocalCluster) -> Box<dyn Provider> {
    Box::new(VaultProvider::default())
}

fn spec_of(store: &StoreInfo) -> Result<&VaultSpec, ProviderError> {
    store.spec.provider.vault.as_ref().ok_or_else(|| {
        ProviderError::InvalidConfig(format!(
            "store {} has no spec.provider.vault block",
            store.name
        ))
    })
}

fn digest(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha3_256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().to_vec()
}

/// Whether a ClusterSecretStore reads a credential from the namespace using it (no namespace
/// on its references): then it cannot be used, nor validated, without one.
fn is_referent(spec: &VaultSpec) -> bool {
    let Some(auth) = &spec.auth else { return false };
    let unset = |s: Option<&esox_api::meta::SecretKeySelector>| {
        s.is_some_and(|s| s.namespace.as_deref().is_none_or(str::is_empty))
    };
    unset(auth.token_secret_ref.as_ref())
        || auth.app_role.as_ref().is_some_and(|a| {
            unset(Some(&a.secret_ref)) || (a.role_id.is_empty() && unset(a.role_ref.as_ref()))
        })
        || auth
            .user_pass
            .as_ref()
            .is_some_and(|u| unset(u.secret_ref.as_ref()))
        || auth
            .ldap
            .as_ref()
            .is_some_and(|l| unset(l.secret_ref.as_ref()))
        || auth.jwt.as_ref().is_some_and(|j| {
            unset(j.secret_ref.as_ref())
                || j.kubernetes_service_account_token
                    .as_ref()
                    .is_some_and(|k| {
                        k.service_account_ref
                            .namespace
                            .as_deref()
                            .is_none_or(str::is_empty)
                    })
        })
        || auth.kubernetes.as_ref().is_some_and(|k| {
            unset(k.secret_ref.as_ref())
                || k.service_account_ref
                    .as_ref()
                    .is_some_and(|s| s.namespace.as_deref().is_none_or(str::is_empty))
        })
        || auth
            .cert
            .as_ref()
            .is_some_and(|c| unset(c.client_cert.as_ref()) || unset(c.secret_ref.as_ref()))
}

impl VaultProvider {
    /// The client of `store` used from `ctx`, as its concrete type: the VaultDynamicSecret
    /// generator calls other Vault paths through [`VaultClient::logical`].
    pub async fn client(
        &self,
        store: &StoreInfo,
        ctx: &ClientContext,
    ) -> Result<VaultClient, ProviderError> {
        let spec = spec_of(store)?;
        let scope = Scope::new(store, ctx);
        let kv = Kv::new(
            spec.path.as_deref(),
            spec.version == VaultKvStoreVersion::V2,
        );
        let cas_required = spec.check_and_set.as_ref().is_some_and(|c| c.required);
        if store.kind == StoreKind::ClusterSecretStore
            && scope.consuming.is_none()
            && is_referent(spec)
        {
            return Ok(VaultClient {
                session: None,
                kv,
                cas_required,
            });
        }
        let session = self.session_for(store, spec, &scope, ctx).await?;
        Ok(VaultClient {
            session: Some(session),
            kv,
            cas_required,
        })
    }

    async fn session_for(
        &self,
        store: &StoreInfo,
        spec: &VaultSpec,
        scope: &Scope,
        ctx: &ClientContext,
    ) -> Result<Arc<Session>, ProviderError> {
        let spec_json = serde_json::to_vec(spec)
            .map_err(|e| ProviderError::Other(format!("cannot encode the store spec: {e}")))?;
        let kind: &[u8] = if scope.is_cluster_store() { b"C" } else { b"N" };
        let resolve_key = digest(&[
            kind,
            scope.consuming.as_deref().unwrap_or_default().as_bytes(),
            &spec_json,
        ]);
        let now = Instant::now();
        if let Some((at, session)) = lock(&self.resolved).get(&resolve_key)
            && now.duration_since(*at) < RESOLVE_TTL
        {
            return Ok(session.clone());
        }
        let ca = CaSource {
            ca_bundle: spec.ca_bundle.as_ref().map(|b| b.0.as_slice()),
            ca_provider: spec.ca_provider.as_ref(),
            field: "spec.provider.vault",
        }
        .resolve(scope, ctx)
        .await?;
        let resolved = auth::resolve(spec, scope, ctx).await?;
        let identity = match client_identity(spec, scope, ctx).await? {
            Some(identity) => Some(identity),
            None => resolved.tls_identity.clone(),
        };
        // Everything that shapes the session, minus the store's identity: two stores with the
        // same server and credentials share one login.
        let mut settings = spec.clone();
        settings.path = None;
        settings.version = VaultKvStoreVersion::V2;
        settings.check_and_set = None;
        let settings_json = serde_json::to_vec(&settings)
            .map_err(|e| ProviderError::Other(format!("cannot encode the store spec: {e}")))?;
        let identity_digest = identity
            .as_ref()
            .map(|(c, k)| digest(&[c, auth::bytes(k)]))
            .unwrap_or_default();
        let session_key = digest(&[
            &settings_json,
            ca.as_deref().unwrap_or_default(),
            &identity_digest,
            &resolved.fingerprint,
        ]);
        let existing = lock(&self.sessions)
            .get(&session_key)
            .map(|(_, s)| s.clone());
        let session = match existing {
            Some(s) => s,
            None => {
                let http = http::VaultHttp::new(http::HttpConfig {
                    server: spec.server.clone(),
                    ca_pem: ca,
                    client_identity: identity,
                    headers: spec
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    namespace: spec.namespace.clone(),
                    read_your_writes: spec.read_your_writes,
                    forward_inconsistent: spec.forward_inconsistent,
                })?;
                let login_namespace = spec
                    .auth
                    .as_ref()
                    .and_then(|a| a.namespace.clone())
                    .filter(|n| !n.is_empty())
                    .or_else(|| spec.namespace.clone());
                Arc::new(Session::new(
                    http,
                    resolved.method,
                    login_namespace,
                    ctx.calls().clone(),
                ))
            }
        };
        insert(
            &self.sessions,
            session_key,
            session.clone(),
            now,
            SESSION_IDLE,
        );
        insert(
            &self.resolved,
            resolve_key,
            session.clone(),
            now,
            RESOLVE_TTL,
        );
        tracing::trace!(store = %store.name, "vault session ready");
        Ok(session)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn insert(map: &SessionMap, key: Vec<u8>, session: Arc<Session>, now: Instant, keep: Duration) {
    let mut map = lock(map);
    map.retain(|_, (at, _)| now.duration_since(*at) < keep);
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, (now, session));
}

/// The mTLS identity of `spec.tls`, when set.
async fn client_identity(
    spec: &VaultSpec,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<Option<(Vec<u8>, SecretString)>, ProviderError> {
    let Some(tls) = &spec.client_tls else {
        return Ok(None);
    };
    match (&tls.cert_secret_ref, &tls.key_secret_ref) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => {
            let mut cert = cert.clone();
            if cert.key.is_empty() {
                "tls.crt".clone_into(&mut cert.key);
            }
            let mut key = key.clone();
            if key.key.is_empty() {
                "tls.key".clone_into(&mut key.key);
            }
            let cert_field = "spec.provider.vault.tls.certSecretRef";
            let ns = scope.namespace_for(cert.namespace.as_deref(), cert_field)?;
            let cert_pem = crate::auth::secret_key(ctx, &ns, &cert.name, &cert.key, cert_field).await?;
            let key_pem =
                auth::secret_value(&key, scope, ctx, "spec.provider.vault.tls.keySecretRef").await?;
            Ok(Some((cert_pem, key_pem)))
        }
        _ => Err(ProviderError::InvalidConfig(
            "spec.provider.vault.tls: when provided, both certSecretRef and keySecretRef should be provided".into(),
        )),
    }
}

#[async_trait]
impl Provider for VaultProvider {
    fn key(&self) -> &'static str {
        "vault"
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ReadWrite
    }

    fn validate_store(&self, store: &StoreInfo) -> Result<Vec<String>, ProviderError> {
        let spec = spec_of(store)?;
        if spec.server.is_empty() {
            return Err(ProviderError::InvalidConfig(
                "spec.provider.vault.server is empty: set the Vault address, such as https://vault.example.com:8200".into(),
            ));
        }
        if spec.check_and_set.as_ref().is_some_and(|c| c.required)
            && spec.version == VaultKvStoreVersion::V1
        {
            return Err(ProviderError::InvalidConfig(
                "checkAndSet is not supported with Vault KV version v1: remove spec.provider.vault.checkAndSet or use a KV v2 mount".into(),
            ));
        }
        if let Some(auth) = &spec.auth {
            if let Some(app_role) = &auth.app_role
                && app_role.role_id.is_empty()
                && app_role.role_ref.is_none()
            {
                return Err(ProviderError::InvalidConfig(
                    "spec.provider.vault.auth.appRole: set roleId, or roleRef naming the Secret key that holds the role ID".into(),
                ));
            }
            let methods = auth::configured_methods(auth);
            if methods.len() > 1 {
                return Err(ProviderError::InvalidConfig(format!(
                    "spec.provider.vault.auth sets several login methods ({}): keep exactly one",
                    methods.join(", ")
                )));
            }
        }
        if let Some(tls) = &spec.client_tls
            && tls.cert_secret_ref.is_some() != tls.key_secret_ref.is_some()
        {
            return Err(ProviderError::InvalidConfig(
                "spec.provider.vault.tls: when provided, both certSecretRef and keySecretRef should be provided".into(),
            ));
        }
        Ok(Vec::new())
    }

    async fn new_client(
        &self,
        store: &StoreInfo,
        ctx: &ClientContext,
    ) -> Result<Box<dyn SecretsClient>, ProviderError> {
        Ok(Box::new(self.client(store, ctx).await?))
    }
}
