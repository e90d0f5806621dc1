//! Login methods ESO has and esox does not build yet.

use crate::ProviderError;

/// The error for `spec.provider.vault.auth.<method>` when the method is not built.
pub(crate) fn error(method: &str) -> ProviderError {
    ProviderError::InvalidConfig(format!(
        "spec.provider.vault.auth.{method}: this login method is not built into this version of esox yet; use tokenSecretRef, appRole, userPass, kubernetes, jwt or cert"
    ))
}
