//! `auth.jwt`: a JWT from a Secret, or a ServiceAccount token requested for the purpose,
//! exchanged for a Vault token at the JWT/OIDC auth mount.

use esox_api::v1::providers::vault::VaultAuth;

use super::jwt_login::{JwtLogin, mount_or};
use super::{Resolved, bytes, fingerprint, sa_token, secret_value};
use crate::auth::Scope;
use crate::{ClientContext, ProviderError};

const FIELD: &str = "spec.provider.vault.auth.jwt";

pub(super) async fn resolve(
    auth: &VaultAuth,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<Resolved, ProviderError> {
    let Some(spec) = &auth.jwt else {
        return Err(ProviderError::InvalidConfig(format!("{FIELD} is missing")));
    };
    let jwt = if let Some(secret_ref) = &spec.secret_ref {
        secret_value(secret_ref, scope, ctx, &format!("{FIELD}.secretRef")).await?
    } else if let Some(sa) = &spec.kubernetes_service_account_token {
        // ESO adds `vault` when no audiences are given. `expirationSeconds` is not honoured:
        // tokens come from the runtime's shared cache, which requests one lifetime for all
        // and renews them before they expire.
        let extra = sa
            .audiences
            .clone()
            .unwrap_or_else(|| vec!["vault".to_owned()]);
        sa_token::requested(
            &sa.service_account_ref,
            &extra,
            scope,
            ctx,
            &format!("{FIELD}.kubernetesServiceAccountToken.serviceAccountRef"),
        )
        .await?
    } else {
        return Err(ProviderError::InvalidConfig(format!(
            "{FIELD}: neither secretRef nor kubernetesServiceAccountToken is set: name the Secret key that holds the JWT, or the service account whose token to use"
        )));
    };
    let mount = mount_or(&spec.path, "jwt");
    let role = spec.role.trim().to_owned();
    let fingerprint = fingerprint("jwt", &[mount.as_bytes(), role.as_bytes(), bytes(&jwt)]);
    Ok(Resolved::new(
        std::sync::Arc::new(JwtLogin {
            name: "jwt",
            mount,
            role,
            jwt,
        }),
        fingerprint,
    ))
}
