//! ServiceAccount tokens for the Kubernetes and JWT login methods: requested through the
//! TokenRequest API (cached by the runtime, shared with the other providers), read from a
//! Secret, or esox's own mounted token.

use esox_api::meta::ServiceAccountSelector;
use secrecy::SecretString;

use super::text;
use crate::auth::{Scope, TokenKey};
use crate::vault::session::PROVIDER_VAULT;
use crate::{ClientContext, ProviderError};

/// Where a pod's own ServiceAccount token is mounted.
pub(crate) const MOUNTED_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// A token of `selector`'s ServiceAccount for `audiences` (the selector's own audiences
/// first). `field` names the selector in messages.
pub(crate) async fn requested(
    selector: &ServiceAccountSelector,
    extra_audiences: &[String],
    scope: &Scope,
    ctx: &ClientContext,
    field: &str,
) -> Result<SecretString, ProviderError> {
    if selector.name.is_empty() {
        return Err(ProviderError::InvalidConfig(format!(
            "{field}.name is empty: name the ServiceAccount whose token esox requests"
        )));
    }
    let namespace = scope.namespace_for(selector.namespace.as_deref(), field)?;
    let mut audiences = selector.audiences.clone();
    audiences.extend(extra_audiences.iter().cloned());
    let key = TokenKey {
        issuer: ctx.own_server().to_owned(),
        namespace,
        name: selector.name.clone(),
        audiences,
    };
    let token = ctx.tokens().token(ctx, &key, PROVIDER_VAULT).await?;
    Ok(SecretString::from(token))
}

/// esox's own token, as mounted in its pod.
pub(crate) fn mounted(field: &str) -> Result<SecretString, ProviderError> {
    let bytes = std::fs::read(MOUNTED_TOKEN).map_err(|e| {
        ProviderError::InvalidConfig(format!(
            "{field}: neither serviceAccountRef nor secretRef is set and esox's own service account token cannot be read from {MOUNTED_TOKEN} ({e}): set serviceAccountRef or secretRef"
        ))
    })?;
    text(bytes, field)
}
