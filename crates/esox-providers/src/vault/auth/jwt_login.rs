//! The login shared by the Kubernetes and JWT methods: `POST auth/<mount>/login` with a role
//! and a JWT.

use async_trait::async_trait;
use secrecy::{ExposeSecret as _, SecretString};

use super::{LoginMethod, LoginToken, login_request};
use crate::ProviderError;
use crate::vault::http::{VaultHttp, escape_path};

pub(crate) struct JwtLogin {
    /// The method's field name (`kubernetes`, `jwt`).
    pub name: &'static str,
    pub mount: String,
    pub role: String,
    pub jwt: SecretString,
}

#[async_trait]
impl LoginMethod for JwtLogin {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn login(
        &self,
        http: &VaultHttp,
        namespace: Option<&str>,
    ) -> Result<LoginToken, ProviderError> {
        let body = serde_json::json!({ "role": self.role, "jwt": self.jwt.expose_secret() });
        login_request(
            http,
            namespace,
            self.name,
            &format!("{}/login", escape_path(self.mount.trim_matches('/'))),
            body,
        )
        .await
    }
}

/// `path` when set, else `default` (ESO fills the default in the CRD; a store written
/// through the API as `""` still logs in at the default mount).
pub(crate) fn mount_or(path: &str, default: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        default.to_owned()
    } else {
        trimmed.to_owned()
    }
}
