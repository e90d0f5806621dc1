//! An authenticated session with one Vault server: the token of one set of credentials,
//! shared by every client built for them, so reconciles do not log in again (ESO logs in
//! for every client it builds unless its client cache is turned on).
//!
//! The token's lease is remembered: once two thirds of it have passed the token is renewed
//! (`renew-self`), and when it cannot be renewed (not renewable, past its max TTL, refused)
//! the session logs in again. A request answered 403 with a token Vault no longer knows
//! (revoked, expired early) makes the session log in again once and the request is retried;
//! a static token is reported instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use secrecy::SecretString;

use super::auth::{LoginMethod, LoginToken, parse_auth};
use super::errors;
use super::http::{Request, Response, VaultHttp};
use crate::ProviderError;
use crate::metrics::ApiCalls;

/// ESO's provider label for Vault.
pub const PROVIDER_VAULT: &str = "HashiCorp/Vault";
/// ESO's call names for Vault.
pub const CALL_LOGIN: &str = "Login";
pub const CALL_LOOKUP_SELF: &str = "LookupSelf";
pub const CALL_READ_SECRET_DATA: &str = "ReadSecretData";
pub const CALL_WRITE_SECRET_DATA: &str = "WriteSecretData";
pub const CALL_DELETE_SECRET: &str = "DeleteSecret";
pub const CALL_LIST_SECRETS: &str = "ListSecrets";
/// Not counted by ESO (it does not renew); esox reports it with the same hook.
pub const CALL_RENEW_SELF: &str = "RenewSelf";
/// Calls outside the KV engine through [`super::VaultClient::logical`].
pub const CALL_LOGICAL: &str = "Logical";

/// A token handed to a request, with the generation it belongs to (to tell, after a 403,
/// whether another request already replaced it).
pub(crate) struct Token {
    pub secret: SecretString,
    generation: u64,
}

struct Held {
    token: SecretString,
    /// When to renew or replace the token; `None` for one that does not expire.
    renew_at: Option<Instant>,
    expires_at: Option<Instant>,
    renewable: bool,
    /// The lease the login granted: a renewal granting much less means the max TTL is near.
    login_lease: Option<Duration>,
}

impl Held {
    fn new(t: LoginToken, now: Instant) -> Self {
        Self {
            renew_at: t.lease.map(|l| now + l.mul_f64(2.0 / 3.0)),
            expires_at: t.lease.map(|l| now + l),
            renewable: t.renewable,
            login_lease: t.lease,
            token: t.token,
        }
    }
}

#[derive(Default)]
struct State {
    current: Option<Held>,
    generation: u64,
}

/// One server and one set of credentials.
pub(crate) struct Session {
    http: Arc<VaultHttp>,
    method: Arc<dyn LoginMethod>,
    /// `auth.namespace`, else the provider's `namespace`.
    login_namespace: Option<String>,
    /// Held while logging in, so concurrent requests wait for one login instead of each
    /// starting their own.
    state: tokio::sync::Mutex<State>,
    calls: ApiCalls,
}

impl Session {
    pub fn new(
        http: Arc<VaultHttp>,
        method: Arc<dyn LoginMethod>,
        login_namespace: Option<String>,
        calls: ApiCalls,
    ) -> Self {
        Self {
            http,
            method,
            login_namespace,
            state: tokio::sync::Mutex::default(),
            calls,
        }
    }

    pub fn http(&self) -> &VaultHttp {
        &self.http
    }

    pub fn calls(&self) -> &ApiCalls {
        &self.calls
    }

    /// A usable token: the held one, renewed or replaced when its time has come.
    pub async fn token(&self) -> Result<Token, ProviderError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(held) = &state.current {
            if held.renew_at.is_none_or(|t| now < t) {
                return Ok(Token {
                    secret: held.token.clone(),
                    generation: state.generation,
                });
            }
            if held.renewable && held.expires_at.is_none_or(|e| now < e) {
                match self.renew(&held.token).await {
                    Ok(lease) if long_enough(lease, held.login_lease) => {
                        let held = state.current.as_mut().ok_or_else(|| {
                            ProviderError::Other("the Vault session lost its token".into())
                        })?;
                        held.renew_at = lease.map(|l| now + l.mul_f64(2.0 / 3.0));
                        held.expires_at = lease.map(|l| now + l);
                        return Ok(Token {
                            secret: held.token.clone(),
                            generation: state.generation,
                        });
                    }
                    Ok(_) => tracing::debug!(
                        server = self.http.server(),
                        "the Vault token is near its max TTL; logging in again"
                    ),
                    Err(e) => tracing::debug!(
                        server = self.http.server(),
                        error = %e,
                        "renewing the Vault token failed; logging in again"
                    ),
                }
            }
        }
        let login = self.login().await?;
        state.generation += 1;
        state.current = Some(Held::new(login, Instant::now()));
        let held = state
            .current
            .as_ref()
            .ok_or_else(|| ProviderError::Other("the Vault session lost its token".into()))?;
        Ok(Token {
            secret: held.token.clone(),
            generation: state.generation,
        })
    }

    async fn login(&self) -> Result<LoginToken, ProviderError> {
        let result = self
            .method
            .login(&self.http, self.login_namespace.as_deref())
            .await;
        if !self.method.is_static() {
            self.calls
                .observe(PROVIDER_VAULT, CALL_LOGIN, result.is_ok());
            if result.is_ok() {
                tracing::debug!(
                    server = self.http.server(),
                    method = self.method.name(),
                    "logged in to Vault"
                );
            }
        }
        result
    }

    /// `renew-self`; the new lease.
    async fn renew(&self, token: &SecretString) -> Result<Option<Duration>, ProviderError> {
        let what = "cannot renew the Vault token";
        let resp = self
            .http
            .send(
                Request::new(Method::POST, "auth/token/renew-self")
                    .json(serde_json::json!({}))
                    .token(token)
                    .namespace(self.login_namespace.as_deref()),
            )
            .await
            .map_err(|e| errors::transport(self.http.server(), what, e));
        let ok = matches!(&resp, Ok(r) if r.status.is_success());
        self.calls.observe(PROVIDER_VAULT, CALL_RENEW_SELF, ok);
        let resp = resp?;
        if !resp.status.is_success() {
            return Err(errors::status(
                &errors::Context {
                    server: self.http.server(),
                    what,
                    path: "auth/token/renew-self",
                    capability: "update",
                },
                &resp,
            ));
        }
        // A renewal granting no lease is a token about to expire, not one that never does.
        Ok(Some(
            parse_auth(&resp.json(), what)?.lease.unwrap_or_default(),
        ))
    }

    /// `lookup-self` with `token`: whether Vault still knows it.
    pub async fn lookup_self(&self, token: &SecretString) -> Result<Response, ProviderError> {
        let what = "cannot look up the Vault token";
        let resp = self
            .http
            .send(
                Request::new(Method::GET, "auth/token/lookup-self")
                    .token(token)
                    .namespace(self.login_namespace.as_deref()),
            )
            .await
            .map_err(|e| errors::transport(self.http.server(), what, e));
        let ok = matches!(&resp, Ok(r) if r.status.is_success());
        self.calls.observe(PROVIDER_VAULT, CALL_LOOKUP_SELF, ok);
        resp
    }

    /// After a 403 with `token`: whether a new token is worth a retry. It is when the token
    /// is no longer valid (Vault's lookup-self refuses it) and the method can log in again;
    /// the session then forgets it. A valid token that was refused lacks a policy, which a
    /// new login would not change.
    pub async fn replace_refused(&self, token: &Token) -> bool {
        if self.method.is_static() {
            return false;
        }
        let mut state = self.state.lock().await;
        if state.generation != token.generation {
            // Another request already replaced it.
            return true;
        }
        match self.lookup_self(&token.secret).await {
            Ok(resp) if resp.status.is_success() => false,
            Ok(_) => {
                tracing::debug!(
                    server = self.http.server(),
                    "Vault no longer accepts the session's token; logging in again"
                );
                state.current = None;
                true
            }
            Err(_) => false,
        }
    }
}

/// Whether a renewed lease is worth keeping: not much shorter than the login's (which means
/// the token's max TTL is near and a fresh login is due).
fn long_enough(renewed: Option<Duration>, login: Option<Duration>) -> bool {
    match (renewed, login) {
        (None, _) => true,
        (Some(r), Some(l)) => r >= l / 3 && r >= Duration::from_secs(2),
        (Some(r), None) => r >= Duration::from_secs(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewals_near_the_max_ttl_are_replaced_by_a_login() {
        let hour = Some(Duration::from_secs(3600));
        assert!(long_enough(hour, hour));
        assert!(long_enough(Some(Duration::from_secs(1200)), hour));
        assert!(!long_enough(Some(Duration::from_secs(1199)), hour));
        assert!(!long_enough(Some(Duration::from_secs(1)), None));
        assert!(long_enough(None, hour));
    }
}
