//! Vault login methods. Each method is one file with a `resolve` function that reads the
//! method's credentials (Secrets, ServiceAccount tokens) and returns a [`LoginMethod`]; the
//! [`resolve`] dispatcher below picks the one the store configures. Adding a method is a file
//! and one line in [`resolve`].

mod approle;
mod cert;
mod jwt;
mod jwt_login;
mod kubernetes;
mod not_built;
mod sa_token;
mod token;
mod userpass;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use esox_api::v1::providers::vault::{VaultAuth, VaultProvider as VaultSpec};
use http::Method;
use secrecy::{ExposeSecret as _, SecretString};
use sha3::{Digest as _, Sha3_256};

use super::errors;
use super::http::{Request, VaultHttp};
use crate::auth::Scope;
use crate::{ClientContext, ProviderError};

/// A token a login returned.
pub(crate) struct LoginToken {
    pub token: SecretString,
    /// `auth.lease_duration`; `None` for a token that does not expire (or whose TTL is unknown).
    pub lease: Option<Duration>,
    /// `auth.renewable`.
    pub renewable: bool,
}

/// One way of obtaining a Vault token.
#[async_trait]
pub(crate) trait LoginMethod: Send + Sync {
    /// The method's field name under `spec.provider.vault.auth`, for messages (`appRole`).
    fn name(&self) -> &'static str;
    /// Obtains a token. `namespace` is the namespace to log in to (`auth.namespace`, else the
    /// provider's `namespace`).
    async fn login(
        &self,
        http: &VaultHttp,
        namespace: Option<&str>,
    ) -> Result<LoginToken, ProviderError>;
    /// A static token: "logging in" again yields the same token, so a token Vault refuses is
    /// reported instead of retried.
    fn is_static(&self) -> bool {
        false
    }
}

/// The login method of a store, with a digest of its credentials: stores whose digests (and
/// server settings) agree share one session, so one login serves them all.
pub(crate) struct Resolved {
    pub method: Arc<dyn LoginMethod>,
    pub fingerprint: Vec<u8>,
    /// A TLS client identity (PEM chain, PEM key) the method needs on every connection (the
    /// `cert` method logs in with the connection's client certificate); `spec.tls` wins.
    pub tls_identity: Option<(Vec<u8>, SecretString)>,
}

impl Resolved {
    pub fn new(method: Arc<dyn LoginMethod>, fingerprint: Vec<u8>) -> Self {
        Self {
            method,
            fingerprint,
            tls_identity: None,
        }
    }
}

const AUTH: &str = "spec.provider.vault.auth";

/// The configured method of `spec.auth`, its credentials read through `ctx`.
pub(crate) async fn resolve(
    spec: &VaultSpec,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<Resolved, ProviderError> {
    let auth = spec.auth.as_ref().ok_or_else(|| {
        ProviderError::InvalidConfig(format!(
            "{AUTH} is missing: configure one login method (tokenSecretRef, appRole, userPass, ...)"
        ))
    })?;
    let configured = configured_methods(auth);
    match configured.as_slice() {
        [] => Err(ProviderError::InvalidConfig(format!(
            "{AUTH} names no login method: set one of tokenSecretRef, appRole, kubernetes, jwt, cert, userPass, ldap, iam, gcp"
        ))),
        ["tokenSecretRef"] => token::resolve(auth, scope, ctx).await,
        ["appRole"] => approle::resolve(auth, scope, ctx).await,
        ["userPass"] => userpass::resolve(auth, scope, ctx).await,
        ["kubernetes"] => kubernetes::resolve(auth, scope, ctx).await,
        ["jwt"] => jwt::resolve(auth, scope, ctx).await,
        ["cert"] => cert::resolve(auth, scope, ctx).await,
        [one] => Err(not_built::error(one)),
        many => Err(ProviderError::InvalidConfig(format!(
            "{AUTH} sets several login methods ({}): keep exactly one",
            many.join(", ")
        ))),
    }
}

/// Field names of the methods `auth` sets, in the CRD's order.
pub(crate) fn configured_methods(auth: &VaultAuth) -> Vec<&'static str> {
    [
        ("tokenSecretRef", auth.token_secret_ref.is_some()),
        ("appRole", auth.app_role.is_some()),
        ("kubernetes", auth.kubernetes.is_some()),
        ("ldap", auth.ldap.is_some()),
        ("jwt", auth.jwt.is_some()),
        ("cert", auth.cert.is_some()),
        ("iam", auth.iam.is_some()),
        ("userPass", auth.user_pass.is_some()),
        ("gcp", auth.gcp.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| name)
    .collect()
}

/// A digest of a method's name and credential parts; never stored with the parts themselves.
pub(crate) fn fingerprint(method: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut hasher = Sha3_256::new();
    hasher.update(method.as_bytes());
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().to_vec()
}

/// A Secret value that must be text (a password, a token), at `field`.
pub(crate) fn text(bytes: Vec<u8>, field: &str) -> Result<SecretString, ProviderError> {
    let s = String::from_utf8(bytes).map_err(|_| {
        ProviderError::InvalidConfig(format!(
            "{field}: the Secret value is not UTF-8 text: store it as plain text"
        ))
    })?;
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(ProviderError::InvalidConfig(format!(
            "{field}: the Secret value is empty"
        )));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

/// `POST auth/<path>` (`path` already escaped) with `body`; the token of the answer. `method`
/// names the method in messages.
pub(crate) async fn login_request(
    http: &VaultHttp,
    namespace: Option<&str>,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> Result<LoginToken, ProviderError> {
    let path = format!("auth/{}", path.trim_matches('/'));
    let what = format!("{AUTH}.{method}: login at {path} failed");
    let resp = http
        .send(
            Request::new(Method::POST, path.clone())
                .json(body)
                .namespace(namespace),
        )
        .await
        .map_err(|e| errors::transport(http.server(), &what, e))?;
    if !resp.status.is_success() {
        let mut err = errors::status(
            &errors::Context {
                server: http.server(),
                what: &what,
                path: &path,
                capability: "update",
            },
            &resp,
        );
        // Vault answers bad credentials with 400 or 403; both mean "fix the credentials".
        if matches!(resp.status.as_u16(), 400 | 403) {
            let said = resp.errors();
            err = ProviderError::Forbidden {
                message: format!(
                    "{what}: Vault at {} refused the credentials ({}{}): check the role and the credentials the store refers to{}",
                    http.server(),
                    resp.status.as_u16(),
                    if said.is_empty() {
                        String::new()
                    } else {
                        format!(": {said}")
                    },
                    namespace
                        .map(|n| format!(" (and that the method is enabled in namespace {n})"))
                        .unwrap_or_default()
                ),
                source: Some(Box::new(err)),
            };
        }
        return Err(err);
    }
    parse_auth(&resp.json(), &what)
}

/// The `auth` block of a login or renewal answer.
pub(crate) fn parse_auth(
    json: &serde_json::Value,
    what: &str,
) -> Result<LoginToken, ProviderError> {
    let auth = json
        .get("auth")
        .filter(|a| a.is_object())
        .ok_or_else(|| ProviderError::Other(format!("{what}: the answer has no auth block")))?;
    let token = auth
        .get("client_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ProviderError::Other(format!("{what}: the answer has no client token")))?;
    let lease = auth
        .get("lease_duration")
        .and_then(|d| d.as_u64())
        .filter(|d| *d > 0)
        .map(Duration::from_secs);
    let renewable = auth
        .get("renewable")
        .and_then(|r| r.as_bool())
        .unwrap_or(false);
    Ok(LoginToken {
        token: SecretString::from(token.to_owned()),
        lease,
        renewable,
    })
}

/// Reads the Secret `selector` names, in the namespace ESO's rules give it.
pub(crate) async fn secret_value(
    selector: &esox_api::meta::SecretKeySelector,
    scope: &Scope,
    ctx: &ClientContext,
    field: &str,
) -> Result<SecretString, ProviderError> {
    let ns = scope.namespace_for(selector.namespace.as_deref(), field)?;
    let bytes = crate::auth::secret_key(ctx, &ns, &selector.name, &selector.key, field).await?;
    text(bytes, field)
}

/// The bytes of a secret string, for [`fingerprint`].
pub(crate) fn bytes(s: &SecretString) -> &[u8] {
    s.expose_secret().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_answers_are_parsed() {
        let json = serde_json::json!({"auth": {"client_token": "s.abc", "lease_duration": 60, "renewable": true}});
        let t = parse_auth(&json, "login").expect("auth");
        assert_eq!(t.token.expose_secret(), "s.abc");
        assert_eq!(t.lease, Some(Duration::from_secs(60)));
        assert!(t.renewable);
        let root = serde_json::json!({"auth": {"client_token": "s.abc", "lease_duration": 0}});
        assert_eq!(parse_auth(&root, "login").expect("auth").lease, None);
        let err = parse_auth(&serde_json::json!({"data": {}}), "login x")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("login x: the answer has no auth block")
        );
    }

    #[test]
    fn fingerprints_separate_methods_and_parts() {
        assert_ne!(fingerprint("a", &[b"xy"]), fingerprint("b", &[b"xy"]));
        assert_ne!(fingerprint("a", &[b"x", b"y"]), fingerprint("a", &[b"xy"]));
        assert_eq!(fingerprint("a", &[b"x"]), fingerprint("a", &[b"x"]));
    }

    #[test]
    fn methods_are_listed_in_crd_order() {
        let auth: VaultAuth = serde_json::from_value(serde_json::json!({
            "userPass": {"username": "u"},
            "tokenSecretRef": {"name": "t", "key": "k"}
        }))
        .expect("auth");
        assert_eq!(configured_methods(&auth), ["tokenSecretRef", "userPass"]);
    }
}
