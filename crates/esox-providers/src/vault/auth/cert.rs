//! `auth.cert`: TLS client-certificate login. The certificate and key become the client
//! identity of the store's HTTP connection, and the login itself sends only the optional role
//! name.

use async_trait::async_trait;
use esox_api::v1::providers::vault::{VaultAuth, VaultCertAuth};
use secrecy::SecretString;

use super::jwt_login::mount_or;
use super::{LoginMethod, LoginToken, Resolved, bytes, fingerprint, login_request, secret_value};
use crate::auth::Scope;
use crate::vault::http::{VaultHttp, escape_path};
use crate::{ClientContext, ProviderError};

const FIELD: &str = "spec.provider.vault.auth.cert";

struct CertLogin {
    mount: String,
    role: String,
}

#[async_trait]
impl LoginMethod for CertLogin {
    fn name(&self) -> &'static str {
        "cert"
    }

    async fn login(
        &self,
        http: &VaultHttp,
        namespace: Option<&str>,
    ) -> Result<LoginToken, ProviderError> {
        // Without a role Vault tries every role whose certificate matches.
        let body = if self.role.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::json!({ "name": self.role })
        };
        login_request(
            http,
            namespace,
            self.name(),
            &format!("{}/login", escape_path(&self.mount)),
            body,
        )
        .await
    }
}

async fn read(
    spec: &VaultCertAuth,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<(Vec<u8>, SecretString), ProviderError> {
    let cert_ref = spec.client_cert.as_ref().ok_or_else(|| {
        ProviderError::InvalidConfig(format!(
            "{FIELD}.clientCert is missing: name the Secret key that holds the PEM client certificate"
        ))
    })?;
    let key_ref = spec.secret_ref.as_ref().ok_or_else(|| {
        ProviderError::InvalidConfig(format!(
            "{FIELD}.secretRef is missing: name the Secret key that holds the PEM private key of the client certificate"
        ))
    })?;
    let cert_field = format!("{FIELD}.clientCert");
    let ns = scope.namespace_for(cert_ref.namespace.as_deref(), &cert_field)?;
    let cert =
        crate::auth::secret_key(ctx, &ns, &cert_ref.name, &cert_ref.key, &cert_field).await?;
    if !String::from_utf8_lossy(&cert).contains("-----BEGIN CERTIFICATE-----") {
        return Err(ProviderError::InvalidConfig(format!(
            "{cert_field}: Secret {ns}/{} key {} holds no PEM certificate: store the certificate as PEM",
            cert_ref.name, cert_ref.key
        )));
    }
    let key = secret_value(key_ref, scope, ctx, &format!("{FIELD}.secretRef")).await?;
    Ok((cert, key))
}

pub(super) async fn resolve(
    auth: &VaultAuth,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<Resolved, ProviderError> {
    let Some(spec) = &auth.cert else {
        return Err(ProviderError::InvalidConfig(format!("{FIELD} is missing")));
    };
    let (cert, key) = read(spec, scope, ctx).await?;
    let mount = mount_or(&spec.path, "cert");
    let role = spec.vault_role.trim().to_owned();
    Ok(Resolved {
        fingerprint: fingerprint(
            "cert",
            &[mount.as_bytes(), role.as_bytes(), &cert, bytes(&key)],
        ),
        method: std::sync::Arc::new(CertLogin { mount, role }),
        tls_identity: Some((cert, key)),
    })
}
