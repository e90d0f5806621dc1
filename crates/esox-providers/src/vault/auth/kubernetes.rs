//! `auth.kubernetes`: a ServiceAccount token exchanged for a Vault token at the Kubernetes
//! auth mount (Vault checks it with the cluster's TokenReview API).
//!
//! The token is part of the session's fingerprint, so a rotated token (a new TokenRequest
//! token, an edited Secret) leads to a fresh login within the provider's resolve interval.

use esox_api::v1::providers::vault::VaultAuth;

use super::jwt_login::{JwtLogin, mount_or};
use super::{Resolved, bytes, fingerprint, sa_token, secret_value};
use crate::auth::Scope;
use crate::{ClientContext, ProviderError};

const FIELD: &str = "spec.provider.vault.auth.kubernetes";

pub(super) async fn resolve(
    auth: &VaultAuth,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<Resolved, ProviderError> {
    let Some(spec) = &auth.kubernetes else {
        return Err(ProviderError::InvalidConfig(format!("{FIELD} is missing")));
    };
    if spec.role.trim().is_empty() {
        return Err(ProviderError::InvalidConfig(format!(
            "{FIELD}.role is empty: name the Vault role bound to the service account"
        )));
    }
    // ESO's order: serviceAccountRef, then secretRef, then the pod's own token. ESO does not
    // add audiences here: the token carries the API server's default audience, which is what
    // a Vault role without `audience` expects.
    let jwt = if let Some(sa) = &spec.service_account_ref {
        sa_token::requested(sa, &[], scope, ctx, &format!("{FIELD}.serviceAccountRef")).await?
    } else if let Some(secret_ref) = &spec.secret_ref {
        let mut selector = secret_ref.clone();
        if selector.key.is_empty() {
            "token".clone_into(&mut selector.key);
        }
        secret_value(&selector, scope, ctx, &format!("{FIELD}.secretRef")).await?
    } else {
        sa_token::mounted(FIELD)?
    };
    let mount = mount_or(&spec.path, "kubernetes");
    let role = spec.role.trim().to_owned();
    let fingerprint = fingerprint(
        "kubernetes",
        &[mount.as_bytes(), role.as_bytes(), bytes(&jwt)],
    );
    Ok(Resolved::new(
        std::sync::Arc::new(JwtLogin {
            name: "kubernetes",
            mount,
            role,
            jwt,
        }),
        fingerprint,
    ))
}
