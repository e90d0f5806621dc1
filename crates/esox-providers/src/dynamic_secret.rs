//! Generators that call a provider's server (ESO's VaultDynamicSecret), for the controller's
//! generator dispatch; present whether or not the provider is built.

use esox_api::generators::VaultDynamicSecretSpec;
use esox_core::SecretData;

use crate::{ProviderError, ProviderRuntime};

/// One generation of the VaultDynamicSecret `name` in `namespace`.
pub async fn vault(
    runtime: &ProviderRuntime,
    namespace: &str,
    name: &str,
    spec: &VaultDynamicSecretSpec,
) -> Result<SecretData, ProviderError> {
    #[cfg(feature = "vault")]
    {
        crate::vault::dynamic::generate(runtime, namespace, name, spec).await
    }
    #[cfg(not(feature = "vault"))]
    {
        let _unused = (runtime, namespace, name, spec);
        Err(ProviderError::InvalidConfig(
            "VaultDynamicSecret needs the vault provider, which this build of esox does not include: build esox-providers with the `vault` feature".into(),
        ))
    }
}
