//! What the providers of one esox instance share: esox's own client, the ServiceAccount token
//! cache, the API-call hook and the provider instances (each holding its own caches). The
//! controller's context owns one [`ProviderRuntime`]; two runtimes in one process (two runners
//! in a test binary) share nothing, so one's cached credentials never serve the other.

use std::sync::Arc;

use esox_api::v1::SecretStoreSpec;

use crate::auth::TokenCache;
use crate::metrics::{ApiCallObserver, ApiCalls};
use crate::{LocalCluster, Provider, ProviderError, registry};

/// The providers of one esox instance and what they share. Cheap to clone.
#[derive(Clone)]
pub struct ProviderRuntime(Arc<Inner>);

struct Inner {
    kube: kube::Client,
    own_server: String,
    calls: ApiCalls,
    tokens: TokenCache,
    providers: Vec<Box<dyn Provider>>,
}

impl ProviderRuntime {
    /// The providers of [`registry::PROVIDERS`], for an esox that talks to `local_cluster`
    /// through `kube`.
    pub fn new(kube: kube::Client, local_cluster: LocalCluster) -> Self {
        let providers = registry::PROVIDERS
            .iter()
            .map(|r| (r.build)(&local_cluster))
            .collect();
        Self(Arc::new(Inner {
            kube,
            own_server: local_cluster.url,
            calls: ApiCalls::default(),
            tokens: TokenCache::new(),
            providers,
        }))
    }

    /// The provider configured in `spec.provider`, or an error that says what to change.
    pub fn provider_for(&self, spec: &SecretStoreSpec) -> Result<&dyn Provider, ProviderError> {
        let key = registry::selected_key(spec)?;
        self.provider(key).ok_or_else(|| registry::not_built(key))
    }

    /// The provider registered under `key`, if this build has it.
    pub fn provider(&self, key: &str) -> Option<&dyn Provider> {
        self.0
            .providers
            .iter()
            .find(|p| p.key() == key)
            .map(|p| p.as_ref())
    }

    /// What a provider is given to build a client used from `namespace` (`None` when the
    /// store itself is validated).
    pub fn context(&self, namespace: Option<&str>) -> ClientContext {
        ClientContext {
            namespace: namespace.map(str::to_owned),
            runtime: self.clone(),
        }
    }

    /// Installs the observer of this runtime's provider API calls (`None` removes it).
    pub fn set_api_call_observer(&self, observer: Option<ApiCallObserver>) {
        self.0.calls.set_observer(observer);
    }
}

/// What a provider needs from the controller to build a client.
#[derive(Clone)]
pub struct ClientContext {
    /// Namespace of the object using the store (the ExternalSecret's or PushSecret's); `None`
    /// when the store itself is validated.
    pub namespace: Option<String>,
    runtime: ProviderRuntime,
}

impl ClientContext {
    /// esox's own client: reads credential Secrets and CA ConfigMaps, requests ServiceAccount
    /// tokens.
    pub fn kube(&self) -> &kube::Client {
        &self.runtime.0.kube
    }

    /// URL of the API server esox itself uses, for messages and as the tokens' issuer.
    pub fn own_server(&self) -> &str {
        &self.runtime.0.own_server
    }

    /// ServiceAccount tokens requested through esox's client, shared by every provider.
    pub fn tokens(&self) -> &TokenCache {
        &self.runtime.0.tokens
    }

    /// Where API calls are counted.
    pub fn calls(&self) -> &ApiCalls {
        &self.runtime.0.calls
    }
}
