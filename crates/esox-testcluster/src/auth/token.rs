//! ServiceAccount tokens: JWTs signed with a per-cluster HMAC key. Clients treat the token as an
//! opaque bearer string, so the algorithm does not matter to them; the claims follow the real
//! formats (bound tokens from TokenRequest, legacy tokens from token Secrets).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde_json::{Value, json};

/// Issuer written into bound tokens.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

pub struct TokenSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner { .. }")
    }
}

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    pub namespace: String,
    pub service_account: String,
    pub sa_uid: String,
    /// For legacy tokens: the Secret that must still exist.
    pub secret: Option<String>,
}

impl TokenSigner {
    pub fn new() -> Self {
        let secret = crate::util::random_bytes::<32>();
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
        let input = format!("{header}.{body}");
        let sig = hmac::sign(&self.key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    /// A bound token as TokenRequest issues it.
    pub fn issue_bound(
        &self,
        ns: &str,
        sa: &str,
        sa_uid: &str,
        audiences: &[String],
        now: i64,
        ttl: i64,
    ) -> String {
        self.sign(&json!({
            "aud": audiences,
            "exp": now + ttl,
            "iat": now,
            "nbf": now,
            "iss": ISSUER,
            "sub": format!("system:serviceaccount:{ns}:{sa}"),
            "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": sa, "uid": sa_uid}},
        }))
    }

    /// A non-expiring token as the token controller writes into Secrets.
    pub fn issue_legacy(&self, ns: &str, sa: &str, sa_uid: &str, secret: &str) -> String {
        self.sign(&json!({
            "iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": ns,
            "kubernetes.io/serviceaccount/secret.name": secret,
            "kubernetes.io/serviceaccount/service-account.name": sa,
            "kubernetes.io/serviceaccount/service-account.uid": sa_uid,
            "sub": format!("system:serviceaccount:{ns}:{sa}"),
        }))
    }

    /// Checks signature and expiry; the caller checks that the account (and Secret) still exist.
    pub fn verify(&self, token: &str, now: i64) -> Option<TokenSubject> {
        let (input, sig) = token.rsplit_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        hmac::verify(&self.key, input.as_bytes(), &sig).ok()?;
        let (_, body) = input.split_once('.')?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        if let Some(exp) = claims.get("exp").and_then(Value::as_i64)
            && now >= exp
        {
            return None;
        }
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        if let Some(k) = claims.get("kubernetes.io") {
            return Some(TokenSubject {
                namespace: s(k.get("namespace"))?,
                service_account: s(k.pointer("/serviceaccount/name"))?,
                sa_uid: s(k.pointer("/serviceaccount/uid"))?,
                secret: None,
            });
        }
        Some(TokenSubject {
            namespace: s(claims.get("kubernetes.io/serviceaccount/namespace"))?,
            service_account: s(claims.get("kubernetes.io/serviceaccount/service-account.name"))?,
            sa_uid: s(claims.get("kubernetes.io/serviceaccount/service-account.uid"))?,
            secret: Some(s(claims.get("kubernetes.io/serviceaccount/secret.name"))?),
        })
    }
}

impl Default for TokenSigner {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_tokens_verify_until_expiry() {
        let s = TokenSigner::new();
        let t = s.issue_bound("foo", "sa", "u1", &["api".into()], 1000, 3600);
        let sub = s.verify(&t, 1001).expect("valid");
        assert_eq!(
            (sub.namespace.as_str(), sub.service_account.as_str()),
            ("foo", "sa")
        );
        assert!(s.verify(&t, 4600).is_none(), "expired");
        assert!(TokenSigner::new().verify(&t, 1001).is_none(), "other key");
        let mut tampered = t.clone();
        tampered.insert(tampered.len() / 2, 'x');
        assert!(s.verify(&tampered, 1001).is_none());
    }

    #[test]
    fn legacy_tokens_name_their_secret() {
        let s = TokenSigner::new();
        let t = s.issue_legacy("foo", "sa", "u1", "tok");
        assert_eq!(
            s.verify(&t, i64::MAX - 1).and_then(|x| x.secret).as_deref(),
            Some("tok")
        );
    }
}
