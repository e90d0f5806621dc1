//! ServiceAccount tokens from the TokenRequest API, cached so that reconciles reuse a token
//! instead of issuing one each time (ESO requests a new one for every client it builds).
//! A token is renewed once less than a third of its lifetime is left. One cache per
//! [`crate::ProviderRuntime`], shared by all its providers.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;

use crate::kube_errors as errors;
use crate::metrics::CALL_CREATE_TOKEN;
use crate::{ClientContext, ProviderError};

/// Lifetime requested for tokens, as ESO does.
pub const EXPIRATION_SECONDS: i64 = 3600;

/// Which token: the issuing API server, the ServiceAccount and the audiences.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenKey {
    pub issuer: String,
    pub namespace: String,
    pub name: String,
    pub audiences: Vec<String>,
}

struct Cached {
    token: String,
    renew_at: Instant,
    expires_at: Instant,
}

/// Tokens by [`TokenKey`].
pub struct TokenCache {
    entries: Mutex<BTreeMap<TokenKey, Cached>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenCache {
    pub const fn new() -> Self {
        Self {
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    fn cached(&self, key: &TokenKey, now: Instant) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(key)
            .filter(|c| now < c.renew_at)
            .map(|c| c.token.clone())
    }

    fn store(&self, key: TokenKey, token: String, issued: Instant, lifetime: Duration) {
        let renew_at = issued + lifetime.mul_f64(2.0 / 3.0);
        let expires_at = issued + lifetime;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // Drop expired tokens, so the map does not grow with deleted stores.
        entries.retain(|_, c| c.expires_at > issued);
        entries.insert(
            key,
            Cached {
                token,
                renew_at,
                expires_at,
            },
        );
    }

    /// Forgets a token the API server no longer accepts.
    pub fn evict(&self, key: &TokenKey) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// A valid token for `key`, requested through esox's client when none is cached; the
    /// request is counted for `provider` (its metrics label, e.g. `Kubernetes`).
    pub async fn token(
        &self,
        ctx: &ClientContext,
        key: &TokenKey,
        provider: &'static str,
    ) -> Result<String, ProviderError> {
        if let Some(token) = self.cached(key, Instant::now()) {
            return Ok(token);
        }
        let issued = Instant::now();
        let api: Api<ServiceAccount> = Api::namespaced(ctx.kube().clone(), &key.namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: key.audiences.clone(),
                expiration_seconds: Some(EXPIRATION_SECONDS),
                ..Default::default()
            },
            ..Default::default()
        };
        let result = api
            .create_token_request(&key.name, &PostParams::default(), &request)
            .await;
        ctx.calls()
            .observe(provider, CALL_CREATE_TOKEN, result.is_ok());
        let response = result.map_err(|e| match &e {
            // esox's own RBAC, not the store's: the status must say which rule is missing (the
            // API server's message names the verb, the resource and esox's ServiceAccount).
            kube::Error::Api(status) if status.code == 403 => ProviderError::Other(format!(
                "cannot create a token for service account {}/{}: {}",
                key.namespace, key.name, status.message
            )),
            _ => errors::api_error(
                e,
                ctx.own_server(),
                &format!(
                    "cannot create a token for service account {}/{}",
                    key.namespace, key.name
                ),
            ),
        })?;
        let status = response.status.ok_or_else(|| {
            ProviderError::Other(format!(
                "the TokenRequest for service account {}/{} returned no token",
                key.namespace, key.name
            ))
        })?;
        let lifetime = lifetime_until(status.expiration_timestamp.0);
        tracing::debug!(
            namespace = %key.namespace,
            service_account = %key.name,
            lifetime_secs = lifetime.as_secs(),
            "requested a service account token"
        );
        self.store(key.clone(), status.token.clone(), issued, lifetime);
        Ok(status.token)
    }
}

/// Time left until `expires`, falling back to the requested lifetime when the server's
/// clock disagrees with ours so much that the answer makes no sense.
fn lifetime_until(expires: k8s_openapi::jiff::Timestamp) -> Duration {
    let requested = Duration::from_secs(EXPIRATION_SECONDS.unsigned_abs());
    let now = k8s_openapi::jiff::Timestamp::now();
    let secs = expires.as_second() - now.as_second();
    match u64::try_from(secs) {
        Ok(s) if s > 0 => Duration::from_secs(s),
        _ => requested,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> TokenKey {
        TokenKey {
            issuer: "https://127.0.0.1:1".into(),
            namespace: "ns".into(),
            name: name.into(),
            audiences: vec![],
        }
    }

    #[test]
    fn tokens_are_reused_until_two_thirds_of_their_lifetime() {
        let cache = TokenCache::new();
        let t0 = Instant::now();
        cache.store(key("sa"), "tok".into(), t0, Duration::from_secs(3600));
        assert_eq!(cache.cached(&key("sa"), t0).as_deref(), Some("tok"));
        assert_eq!(
            cache
                .cached(&key("sa"), t0 + Duration::from_secs(2399))
                .as_deref(),
            Some("tok")
        );
        assert_eq!(
            cache.cached(&key("sa"), t0 + Duration::from_secs(2401)),
            None
        );
        assert_eq!(cache.cached(&key("other"), t0), None);
    }

    #[test]
    fn audiences_are_part_of_the_key_and_evict_forgets() {
        let cache = TokenCache::new();
        let t0 = Instant::now();
        let mut with_aud = key("sa");
        with_aud.audiences = vec!["vault".into()];
        cache.store(
            with_aud.clone(),
            "aud-token".into(),
            t0,
            Duration::from_secs(3600),
        );
        assert_eq!(cache.cached(&key("sa"), t0), None);
        assert_eq!(cache.cached(&with_aud, t0).as_deref(), Some("aud-token"));
        cache.evict(&with_aud);
        assert_eq!(cache.cached(&with_aud, t0), None);
    }

    #[test]
    fn lifetime_follows_the_server_expiry() {
        let in_an_hour = k8s_openapi::jiff::Timestamp::now()
            + k8s_openapi::jiff::SignedDuration::from_secs(3600);
        let l = lifetime_until(in_an_hour);
        assert!(
            l <= Duration::from_secs(3600) && l >= Duration::from_secs(3590),
            "{l:?}"
        );
        let past =
            k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(10);
        assert_eq!(lifetime_until(past), Duration::from_secs(3600));
    }
}
