//! A hook through which the controller counts provider API calls
//! (`externalsecret_provider_api_calls_count{provider,call,status}` in ESO). The hook belongs to
//! a [`crate::ProviderRuntime`], so two runtimes in one process count apart.

use std::sync::{Arc, PoisonError, RwLock};

/// Receives `(provider, call, ok)` for every API call a provider makes, e.g.
/// `("Kubernetes", "GetSecret", true)`.
pub type ApiCallObserver = Arc<dyn Fn(&'static str, &'static str, bool) + Send + Sync>;

/// Where a runtime's providers report their API calls; cheap to clone (clones share the hook).
#[derive(Clone, Default)]
pub struct ApiCalls(Arc<RwLock<Option<ApiCallObserver>>>);

impl ApiCalls {
    /// Installs the observer (the last call wins; `None` removes it).
    pub fn set_observer(&self, observer: Option<ApiCallObserver>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = observer;
    }

    /// Reports one call to the observer, if any.
    pub fn observe(&self, provider: &'static str, call: &'static str, ok: bool) {
        let observer = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(observer) = observer {
            observer(provider, call, ok);
        }
    }
}

/// ESO's provider label for the Kubernetes provider.
pub const PROVIDER_KUBERNETES: &str = "Kubernetes";
/// ESO's call names for the Kubernetes provider.
pub const CALL_GET_SECRET: &str = "GetSecret";
pub const CALL_LIST_SECRETS: &str = "ListSecrets";
pub const CALL_CREATE_SECRET: &str = "CreateSecret";
pub const CALL_UPDATE_SECRET: &str = "UpdateSecret";
pub const CALL_DELETE_SECRET: &str = "DeleteSecret";
pub const CALL_CREATE_SSRR: &str = "CreateSelfSubjectRulesReview";
/// Not counted by ESO; esox reports them with the same hook.
pub const CALL_CREATE_SSAR: &str = "CreateSelfSubjectAccessReview";
pub const CALL_CREATE_TOKEN: &str = "CreateServiceAccountToken";
