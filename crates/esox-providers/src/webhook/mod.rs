//! The webhook provider (`spec.provider.webhook`) and the request code of ESO's `Webhook`
//! generator: secrets read from, and pushed to, an HTTP endpoint described by templates.
//!
//! As in ESO v2.9: reads (`data`, `dataFrom.extract`), pushes and deletes; no `find`. The
//! templates see `.remoteRef` and every key of each `secrets` Secret, which must carry the
//! label `external-secrets.io/type: webhook`.

mod jsonpath;
mod request;

use std::time::Duration;

use async_trait::async_trait;
use esox_api::v1::providers::webhook::WebhookProvider;
use esox_api::v1::{Capabilities, ExternalSecretFind, RemoteRef, StoreKind};
use esox_core::SecretData;

pub use request::{Remote, SecretScope, Webhook, key_map, single_value};

use crate::auth::Scope;
use crate::{
    ClientContext, LocalSecret, Provider, ProviderError, PushEntry, SecretsClient, StoreInfo,
    ValidationResult,
};

const FIELD: &str = "spec.provider.webhook";
/// ESO's deadline for the store check's TCP connection.
const VALIDATE_TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) fn register(_: &crate::LocalCluster) -> Box<dyn Provider> {
    Box::new(WebhookStoreProvider)
}

/// The `webhook` provider.
pub struct WebhookStoreProvider;

fn spec_of(store: &StoreInfo) -> Result<&WebhookProvider, ProviderError> {
    store.spec.provider.webhook.as_ref().ok_or_else(|| {
        ProviderError::InvalidConfig(format!("store {} has no {FIELD} block", store.name))
    })
}

#[async_trait]
impl Provider for WebhookStoreProvider {
    fn key(&self) -> &'static str {
        "webhook"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ReadWrite
    }

    /// ESO checks nothing statically; neither does esox (the client reports bad settings).
    fn validate_store(&self, store: &StoreInfo) -> Result<Vec<String>, ProviderError> {
        spec_of(store).map(|_| Vec::new())
    }

    async fn new_client(
        &self,
        store: &StoreInfo,
        ctx: &ClientContext,
    ) -> Result<Box<dyn SecretsClient>, ProviderError> {
        let spec = spec_of(store)?.clone();
        let ca_scope = Scope::new(store, ctx);
        let namespace = ca_scope.consuming.clone().unwrap_or_default();
        let scope = match store.kind {
            StoreKind::ClusterSecretStore => SecretScope::Cluster,
            StoreKind::SecretStore => SecretScope::Namespace(namespace.clone()),
        };
        let url = spec.url.clone();
        let webhook = Webhook::new(
            spec,
            ctx.clone(),
            scope,
            namespace,
            FIELD.to_owned(),
            &ca_scope,
        )
        .await?;
        Ok(Box::new(WebhookClient { webhook, url }))
    }
}

/// A webhook store's client.
pub struct WebhookClient {
    webhook: Webhook,
    /// The URL template as written, for the store check.
    url: String,
}

fn read_ref(r: &RemoteRef) -> Remote<'_> {
    Remote::Read {
        key: &r.key,
        version: r.version.as_deref().unwrap_or_default(),
        property: r.property.as_deref().unwrap_or_default(),
    }
}

#[async_trait]
impl SecretsClient for WebhookClient {
    async fn get_secret(&self, r: &RemoteRef) -> Result<Vec<u8>, ProviderError> {
        let remote = read_ref(r);
        let body = self.webhook.call(&remote).await?;
        let path = self.webhook.templated_json_path(&remote).await?;
        request::single_value(&body, &path)
    }

    async fn get_secret_map(&self, r: &RemoteRef) -> Result<SecretData, ProviderError> {
        let remote = read_ref(r);
        let path = self.webhook.templated_json_path(&remote).await?;
        let body = self.webhook.call(&remote).await?;
        request::key_map(&body, &path)
    }

    async fn get_all_secrets(
        &self,
        _find: &ExternalSecretFind,
    ) -> Result<SecretData, ProviderError> {
        Err(ProviderError::InvalidConfig(
            "not implemented: the webhook provider cannot find secrets (dataFrom.find); \
             use data or dataFrom.extract"
                .to_owned(),
        ))
    }

    async fn push_secret(
        &self,
        secret: &LocalSecret,
        entry: &PushEntry,
    ) -> Result<(), ProviderError> {
        let remote_key = entry.remote_ref.remote_key.as_str();
        if remote_key.is_empty() {
            return Err(ProviderError::InvalidConfig(
                "remote key must be defined (data[].match.remoteRef.remoteKey)".to_owned(),
            ));
        }
        let value = match entry.secret_key.as_deref().filter(|k| !k.is_empty()) {
            Some(key) => secret.data.get(key).cloned().ok_or_else(|| {
                ProviderError::InvalidConfig(format!(
                    "failed to find secret key in secret with key: {key}"
                ))
            })?,
            // The whole Secret as a JSON object of strings (ESO's `esutils.JSONMarshal`).
            None => esox_core::go_json::bytes_map_as_strings(
                &secret.data,
                esox_core::go_json::HtmlEscape::Off,
            )
            .into_bytes(),
        };
        let remote = Remote::Push {
            remote_key,
            secret_key: entry.secret_key.as_deref(),
            value: &value,
        };
        self.webhook
            .call(&remote)
            .await
            .map(|_| ())
            .map_err(prefix_push)
    }

    async fn delete_secret(&self, entry: &PushEntry) -> Result<(), ProviderError> {
        let remote = Remote::Delete {
            remote_key: &entry.remote_ref.remote_key,
        };
        match self.webhook.call(&remote).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_no_secret() => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn secret_exists(&self, entry: &PushEntry) -> Result<bool, ProviderError> {
        let remote = Remote::Exists {
            remote_key: &entry.remote_ref.remote_key,
        };
        match self.webhook.call(&remote).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_no_secret() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// ESO's check: a TCP connection to the URL's host and port.
    async fn validate(&self) -> Result<ValidationResult, ProviderError> {
        self.validate_with_reason().await.map(|(r, _)| r)
    }

    async fn validate_with_reason(
        &self,
    ) -> Result<(ValidationResult, Option<String>), ProviderError> {
        let Some(address) = dial_address(&self.url) else {
            return Ok((
                ValidationResult::Unknown,
                Some(format!(
                    "{FIELD}.url: the host part is templated or missing, so it cannot be checked before a request"
                )),
            ));
        };
        match tokio::time::timeout(VALIDATE_TIMEOUT, tokio::net::TcpStream::connect(&address)).await
        {
            Ok(Ok(_)) => Ok((ValidationResult::Ready, None)),
            Ok(Err(e)) => Err(ProviderError::Unavailable {
                message: format!("error accessing external store: dial tcp {address}: {e}"),
                source: Some(Box::new(e)),
            }),
            Err(_) => Err(ProviderError::unavailable(format!(
                "error accessing external store: dial tcp {address}: no answer within {VALIDATE_TIMEOUT:?}"
            ))),
        }
    }
}

fn prefix_push(e: ProviderError) -> ProviderError {
    match e {
        ProviderError::Other(m) => {
            ProviderError::Other(format!("failed to push webhook data: {m}"))
        }
        other => other,
    }
}

/// `host:port` of the URL template, when its authority is written out. The port defaults
/// to the scheme's (ESO uses 443 for both schemes, so a plain-HTTP store on port 80 would
/// never be Ready there).
fn dial_address(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.is_empty() || authority.contains("{{") {
        return None;
    }
    let has_port = match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    };
    if has_port {
        return Some(authority.to_owned());
    }
    let port = if scheme.eq_ignore_ascii_case("http") {
        80
    } else {
        443
    };
    Some(format!("{authority}:{port}"))
}

/// Runs ESO's `Webhook` generator: one request without `.remoteRef`, its answer's JSON object
/// (at `result.jsonPath`, not templated) as keys. Secrets and the CA come from `namespace`.
pub async fn generate(
    spec: WebhookProvider,
    ctx: ClientContext,
    namespace: &str,
    field: &str,
) -> Result<SecretData, ProviderError> {
    let ca_scope = Scope {
        kind: StoreKind::SecretStore,
        consuming: Some(namespace.to_owned()),
    };
    let path = spec
        .result
        .as_ref()
        .map(|r| r.json_path.clone())
        .unwrap_or_default();
    let webhook = Webhook::new(
        spec,
        ctx,
        SecretScope::Namespace(namespace.to_owned()),
        namespace.to_owned(),
        field.to_owned(),
        &ca_scope,
    )
    .await?;
    let body = webhook.call(&Remote::None).await?;
    request::key_map(&body, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_address_uses_the_written_authority() {
        assert_eq!(
            dial_address("http://127.0.0.1:8080/{{ .remoteRef.key }}").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            dial_address("https://vault.example/v1").as_deref(),
            Some("vault.example:443")
        );
        assert_eq!(
            dial_address("http://user@svc.ns?x=1").as_deref(),
            Some("svc.ns:80")
        );
        assert_eq!(
            dial_address("https://[::1]/x").as_deref(),
            Some("[::1]:443")
        );
        assert_eq!(dial_address("https://{{ .auth.host }}/x"), None);
        assert_eq!(dial_address("/relative"), None);
    }
}
