//! Secret-store providers behind one trait, mirroring ESO's `Provider` / `SecretsClient`
//! interfaces (`apis/externalsecrets/v1/provider.go`). Each provider sits behind a cargo feature.

pub mod auth;
#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(any(feature = "fake", feature = "kubernetes", feature = "vault"))]
mod convert;
pub mod dynamic_secret;
pub mod error;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "webhook")]
pub mod http;
mod kube_errors;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
pub mod metrics;
pub mod registry;
pub mod relisting_watcher;
mod runtime;
#[cfg(feature = "vault")]
pub mod vault;
pub mod watch_backoff;
#[cfg(feature = "webhook")]
pub mod webhook;

use async_trait::async_trait;
use esox_api::v1::{Capabilities, ExternalSecretFind, RemoteRef, StoreKind};
use esox_api::v1alpha1::PushSecretRemoteRef;
use esox_core::{SecretData, StringMap};

pub use error::ProviderError;
pub use runtime::{ClientContext, ProviderRuntime};

/// Outcome of validating a store's connection and permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidationResult {
    /// The client is configured correctly and can be used.
    Ready,
    /// The client can be used but its permissions could not be checked.
    Unknown,
}

/// The store a client is built for.
#[derive(Clone, Debug)]
pub struct StoreInfo {
    pub kind: StoreKind,
    pub name: String,
    /// Namespace of a SecretStore; `None` for a ClusterSecretStore.
    pub namespace: Option<String>,
    pub spec: esox_api::v1::SecretStoreSpec,
}

/// Address and CA of the API server esox itself uses.
#[derive(Clone, Debug)]
pub struct LocalCluster {
    pub url: String,
    /// PEM CA bundle of that server, if known (the store's own CA still takes precedence).
    pub ca_pem: Option<Vec<u8>>,
}

/// A local Secret to push, after templating (in memory only).
#[derive(Clone, Default)]
pub struct LocalSecret {
    pub name: String,
    pub namespace: String,
    pub type_: String,
    pub data: SecretData,
    pub labels: StringMap,
    pub annotations: StringMap,
}

impl std::fmt::Debug for LocalSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSecret")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("type", &self.type_)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One entry of a PushSecret, resolved: which local key (none = whole Secret) goes where.
#[derive(Clone, Debug, Default)]
pub struct PushEntry {
    pub secret_key: Option<String>,
    pub remote_ref: PushSecretRemoteRef,
    /// Provider-specific metadata (`data[].metadata`), as written.
    pub metadata: Option<serde_json::Value>,
    /// The caller never pushed this entry before (it is not in `status.syncedPushSecrets`), so
    /// its remote secret most likely does not exist yet: a provider may try to create it before
    /// reading it. A hint only: the result must be the same either way.
    pub never_pushed: bool,
    /// Identity of the pushing object (`<namespace>/<name>` of the PushSecret). A provider that
    /// can mark what it creates records it there, and deletes a whole remote secret only when
    /// it carries this mark: a secret someone else created is never removed.
    pub owner: Option<String>,
}

/// A change to a remote secret, for event-driven refreshes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RemoteChange {
    /// Remote key (for Kubernetes: the Secret's name) that changed, appeared or disappeared.
    pub key: String,
    /// Its version now (for Kubernetes: the Secret's resourceVersion); `None` when it is gone.
    pub version: Option<String>,
}

/// What a provider's watch reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RemoteEvent {
    /// A remote secret changed, appeared or disappeared. After a re-list (the watch resumed
    /// after an outage) only what differs from before is reported.
    Changed(RemoteChange),
    /// The watch has listed every remote secret (when it starts, and again after each
    /// re-list): the versions it reported are now the present ones, and a key it never
    /// reported does not exist.
    Listed,
}

/// Reads and writes one store. ESO's `SecretsClient`.
#[async_trait]
pub trait SecretsClient: Send + Sync {
    /// One value (`data[].remoteRef`).
    async fn get_secret(&self, r: &RemoteRef) -> Result<Vec<u8>, ProviderError>;
    /// One remote secret as many keys (`dataFrom[].extract`).
    async fn get_secret_map(&self, r: &RemoteRef) -> Result<SecretData, ProviderError>;
    /// Many remote secrets (`dataFrom[].find`), keyed by remote name.
    async fn get_all_secrets(&self, find: &ExternalSecretFind)
    -> Result<SecretData, ProviderError>;
    /// Writes one PushSecret entry.
    async fn push_secret(
        &self,
        secret: &LocalSecret,
        entry: &PushEntry,
    ) -> Result<(), ProviderError>;
    /// Removes what a PushSecret entry wrote, where that entry wrote it (its metadata may name
    /// another location than the store's default); a missing remote secret is success. A whole
    /// remote secret is removed only when `entry.owner` created it.
    async fn delete_secret(&self, entry: &PushEntry) -> Result<(), ProviderError>;
    /// Whether the remote secret (or its property) exists, where `entry` would write it.
    async fn secret_exists(&self, entry: &PushEntry) -> Result<bool, ProviderError>;
    /// Checks connection and permissions.
    async fn validate(&self) -> Result<ValidationResult, ProviderError>;
    /// [`validate`](Self::validate), plus why the result is `Unknown` when the provider knows
    /// (ESO puts that reason in the store's `ValidationUnknown` Warning event).
    async fn validate_with_reason(
        &self,
    ) -> Result<(ValidationResult, Option<String>), ProviderError> {
        self.validate().await.map(|r| (r, None))
    }
    /// A stream of changes to remote secrets, when the provider can watch (beyond ESO: lets
    /// ExternalSecrets refresh within a second instead of at the next `refreshInterval`).
    /// `None` when the provider cannot watch.
    fn watch(&self) -> Option<futures::stream::BoxStream<'static, RemoteEvent>> {
        None
    }
    /// A stable identity of the remote location (server URL + namespace for Kubernetes), so the
    /// controller can share one watch between every store pointing at the same place.
    fn watch_key(&self) -> Option<String> {
        None
    }
    /// When set, reads of two clients with the same key are interchangeable: same location, same
    /// server configuration and same credentials (so a result obtained by one may be handed to
    /// the other without widening what either may read). The controller uses it to share one
    /// read between the ExternalSecrets of a source that just changed. It starts with
    /// [`watch_key`](Self::watch_key), whose changes invalidate the shared reads.
    fn read_share_key(&self) -> Option<String> {
        None
    }
}

/// Builds clients for one provider key. ESO's `Provider`.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Key of the provider in `spec.provider`.
    fn key(&self) -> &'static str;
    fn capabilities(&self) -> Capabilities;
    /// Static checks of the store spec, as ESO's admission webhook does; returns warnings.
    fn validate_store(&self, store: &StoreInfo) -> Result<Vec<String>, ProviderError>;
    /// A client for the store, with credentials resolved through `ctx`.
    async fn new_client(
        &self,
        store: &StoreInfo,
        ctx: &ClientContext,
    ) -> Result<Box<dyn SecretsClient>, ProviderError>;
    /// The provider as its concrete type, for callers that need more than a client (the Vault
    /// generator uses the Vault provider's sessions).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}
