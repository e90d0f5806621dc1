//! `auth.appRole`: a role ID (inline or from a Secret) and a secret ID from a Secret.

use async_trait::async_trait;
use esox_api::v1::providers::vault::VaultAuth;
use secrecy::{ExposeSecret as _, SecretString};

use super::{LoginMethod, LoginToken, Resolved, bytes, fingerprint, login_request, secret_value};
use crate::auth::Scope;
use crate::vault::http::{VaultHttp, escape_path};
use crate::{ClientContext, ProviderError};

const FIELD: &str = "spec.provider.vault.auth.appRole";

struct AppRole {
    path: String,
    role_id: String,
    secret_id: SecretString,
}

#[async_trait]
impl LoginMethod for AppRole {
    fn name(&self) -> &'static str {
        "appRole"
    }

    async fn login(
        &self,
        http: &VaultHttp,
        namespace: Option<&str>,
    ) -> Result<LoginToken, ProviderError> {
        let body = serde_json::json!({
            "role_id": self.role_id,
            "secret_id": self.secret_id.expose_secret(),
        });
        login_request(
            http,
            namespace,
            self.name(),
            &format!("{}/login", escape_path(self.path.trim_matches('/'))),
            body,
        )
        .await
    }
}

pub(super) async fn resolve(
    auth: &VaultAuth,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<Resolved, ProviderError> {
    let Some(spec) = &auth.app_role else {
        return Err(ProviderError::InvalidConfig(format!("{FIELD} is missing")));
    };
    // The inline roleId wins over roleRef, as in ESO.
    let role_id = if !spec.role_id.is_empty() {
        spec.role_id.clone()
    } else if let Some(role_ref) = &spec.role_ref {
        let field = format!("{FIELD}.roleRef");
        secret_value(role_ref, scope, ctx, &field)
            .await?
            .expose_secret()
            .to_owned()
    } else {
        return Err(ProviderError::InvalidConfig(format!(
            "{FIELD}: set roleId, or roleRef naming the Secret key that holds the role ID"
        )));
    };
    let secret_id =
        secret_value(&spec.secret_ref, scope, ctx, &format!("{FIELD}.secretRef")).await?;
    let path = if spec.path.trim_matches('/').is_empty() {
        "approle".to_owned()
    } else {
        spec.path.clone()
    };
    let fingerprint = fingerprint(
        "approle",
        &[path.as_bytes(), role_id.as_bytes(), bytes(&secret_id)],
    );
    Ok(Resolved::new(
        std::sync::Arc::new(AppRole {
            path,
            role_id,
            secret_id,
        }),
        fingerprint,
    ))
}
