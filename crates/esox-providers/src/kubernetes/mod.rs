//! ESO's Kubernetes provider (`providers/v1/kubernetes`): the Secrets of one namespace of a
//! Kubernetes API server, this cluster's or another one's.
//!
//! The read and write semantics live in esox-core (`property`, `push_merge`); this module does
//! the I/O: resolving the connection (server, CA, credentials), the API calls, validation
//! through SelfSubjectRulesReview / SelfSubjectAccessReview, and a watch on the namespace.
//!
//! Where esox differs from ESO, on purpose:
//! - a store without `server` or `server.url`, or with one of the `kubernetes.default[.svc[...]]`
//!   names, talks to the cluster esox uses ([`crate::LocalCluster`]), with that cluster's CA
//!   when the store names none (so the "no CA" warning is only given for other servers);
//! - ServiceAccount tokens are cached per (issuer, namespace, name, audiences) and renewed
//!   when less than a third of their lifetime is left, instead of one TokenRequest per client;
//! - request clients are shared between connections with identical server, CA and
//!   credentials, so reconciles reuse HTTPS connections;
//! - a kubeconfig from `authRef` may not use exec or auth-provider plugins, files on esox's
//!   host, or `insecure-skip-tls-verify`;
//! - [`crate::SecretsClient::watch`] streams the names of changed Secrets.

mod client;
mod connect;
mod connection_cache;
mod referent;
mod server;
mod store_checks;
mod validate;
mod watch;

use std::sync::Arc;

use async_trait::async_trait;
use esox_api::v1::providers::kubernetes::KubernetesProvider as KubernetesSpec;
use esox_api::v1::{Capabilities, StoreKind};

pub use client::KubernetesClient;
pub use server::is_local_alias;
pub use store_checks::WARN_NO_CA;

use crate::auth::Scope;
use crate::{ClientContext, LocalCluster, Provider, ProviderError, SecretsClient, StoreInfo};
use connect::ClientCache;
use connection_cache::{ConnectionCache, ConnectionKey};

/// The `kubernetes` provider. Each instance has its own caches of resolved connections and
/// request clients; the runtime that built it drops them with it.
pub struct KubernetesProvider {
    /// The API server esox talks to, which `kubernetes.default` designates.
    local: Arc<LocalCluster>,
    connections: Arc<ConnectionCache>,
    clients: Arc<ClientCache>,
}

impl KubernetesProvider {
    /// A provider for an esox that talks to `local`.
    pub fn new(local: LocalCluster) -> Self {
        Self {
            local: Arc::new(local),
            connections: Arc::default(),
            clients: Arc::default(),
        }
    }
}

/// The registry's constructor.
pub(crate) fn register(local: &LocalCluster) -> Box<dyn Provider> {
    Box::new(KubernetesProvider::new(local.clone()))
}

fn spec_of(store: &StoreInfo) -> Result<&KubernetesSpec, ProviderError> {
    store.spec.provider.kubernetes.as_ref().ok_or_else(|| {
        ProviderError::InvalidConfig(format!(
            "store {} has no spec.provider.kubernetes block",
            store.name
        ))
    })
}

impl KubernetesProvider {
    async fn client_for(
        &self,
        store: &StoreInfo,
        ctx: &ClientContext,
    ) -> Result<KubernetesClient, ProviderError> {
        let spec = spec_of(store)?;
        let scope = Scope::new(store, ctx);
        let referent = spec.auth_ref.is_none() && referent::is_referent(spec.auth.as_ref());
        let mut client = KubernetesClient {
            remote: None,
            remote_namespace: spec.remote_namespace.clone(),
            store_kind: store.kind,
            referent,
            ctx: ctx.clone(),
        };
        if store.kind == StoreKind::ClusterSecretStore && referent && scope.consuming.is_none() {
            // ESO returns a client without credentials here, so that validating the store
            // itself succeeds; using it for reads or writes needs a namespace.
            return Ok(client);
        }
        let key = ConnectionKey::new(spec, &scope, &self.local);
        let connection = self
            .connections
            .get_or_resolve(
                key.clone(),
                connect::connect(spec, &scope, ctx, &self.local),
            )
            .await?;
        let kube_client = connection.request_client(&self.clients)?;
        client.remote = Some(client::Remote {
            client: kube_client,
            connection,
            connection_key: key,
            connections: self.connections.clone(),
        });
        Ok(client)
    }
}

#[async_trait]
impl Provider for KubernetesProvider {
    fn key(&self) -> &'static str {
        "kubernetes"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ReadWrite
    }

    fn validate_store(&self, store: &StoreInfo) -> Result<Vec<String>, ProviderError> {
        store_checks::validate(store, spec_of(store)?)
    }

    async fn new_client(
        &self,
        store: &StoreInfo,
        ctx: &ClientContext,
    ) -> Result<Box<dyn SecretsClient>, ProviderError> {
        let client = self.client_for(store, ctx).await?;
        Ok(Box::new(client))
    }
}
