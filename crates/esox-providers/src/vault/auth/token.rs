//! `auth.tokenSecretRef`: a static token kept in a Secret.

use async_trait::async_trait;
use esox_api::v1::providers::vault::VaultAuth;
use secrecy::SecretString;

use super::{LoginMethod, LoginToken, Resolved, bytes, fingerprint, secret_value};
use crate::auth::Scope;
use crate::vault::http::VaultHttp;
use crate::{ClientContext, ProviderError};

const FIELD: &str = "spec.provider.vault.auth.tokenSecretRef";

struct StaticToken(SecretString);

#[async_trait]
impl LoginMethod for StaticToken {
    fn name(&self) -> &'static str {
        "tokenSecretRef"
    }

    async fn login(&self, _: &VaultHttp, _: Option<&str>) -> Result<LoginToken, ProviderError> {
        Ok(LoginToken {
            token: self.0.clone(),
            lease: None,
            renewable: false,
        })
    }

    fn is_static(&self) -> bool {
        true
    }
}

pub(super) async fn resolve(
    auth: &VaultAuth,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<Resolved, ProviderError> {
    let Some(selector) = &auth.token_secret_ref else {
        return Err(ProviderError::InvalidConfig(format!("{FIELD} is missing")));
    };
    let token = secret_value(selector, scope, ctx, FIELD).await?;
    let fingerprint = fingerprint("token", &[bytes(&token)]);
    Ok(Resolved::new(
        std::sync::Arc::new(StaticToken(token)),
        fingerprint,
    ))
}
