//! `auth.userPass`: a user name and a password from a Secret.

use async_trait::async_trait;
use esox_api::v1::providers::vault::VaultAuth;
use secrecy::{ExposeSecret as _, SecretString};

use super::{LoginMethod, LoginToken, Resolved, bytes, fingerprint, login_request, secret_value};
use crate::auth::Scope;
use crate::vault::http::{VaultHttp, escape_path};
use crate::{ClientContext, ProviderError};

const FIELD: &str = "spec.provider.vault.auth.userPass";

struct UserPass {
    path: String,
    username: String,
    password: SecretString,
}

#[async_trait]
impl LoginMethod for UserPass {
    fn name(&self) -> &'static str {
        "userPass"
    }

    async fn login(
        &self,
        http: &VaultHttp,
        namespace: Option<&str>,
    ) -> Result<LoginToken, ProviderError> {
        let body = serde_json::json!({ "password": self.password.expose_secret() });
        // The user name is a path segment: escape it so a `/` in it cannot reach another route.
        let user = escape_path(&self.username).replace('/', "%2F");
        login_request(
            http,
            namespace,
            self.name(),
            &format!("{}/login/{user}", escape_path(self.path.trim_matches('/'))),
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
    let Some(spec) = &auth.user_pass else {
        return Err(ProviderError::InvalidConfig(format!("{FIELD} is missing")));
    };
    if spec.username.is_empty() {
        return Err(ProviderError::InvalidConfig(format!(
            "{FIELD}.username is empty: name the Vault user"
        )));
    }
    let Some(secret_ref) = &spec.secret_ref else {
        return Err(ProviderError::InvalidConfig(format!(
            "{FIELD}.secretRef is missing: name the Secret key that holds the password"
        )));
    };
    let password = secret_value(secret_ref, scope, ctx, &format!("{FIELD}.secretRef")).await?;
    let path = if spec.path.trim_matches('/').is_empty() {
        "userpass".to_owned()
    } else {
        spec.path.clone()
    };
    let fingerprint = fingerprint(
        "userpass",
        &[path.as_bytes(), spec.username.as_bytes(), bytes(&password)],
    );
    Ok(Resolved::new(
        std::sync::Arc::new(UserPass {
            path,
            username: spec.username.clone(),
            password,
        }),
        fingerprint,
    ))
}
