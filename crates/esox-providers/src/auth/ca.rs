//! A store's CA: `caBundle` in the store, or `caProvider` naming a Secret or ConfigMap key (ESO's
//! `FetchCACertFromSource`), with ESO's namespace rules for the latter.

use base64::Engine as _;
use esox_api::v1::common::{CaProvider, CaProviderType};

use super::refs::{self, Scope};
use crate::{ClientContext, ProviderError};

/// Where a store's CA may come from, and the path of the block holding `caBundle` and
/// `caProvider` (for example `spec.provider.kubernetes.server`), which errors name.
#[derive(Clone, Copy, Debug)]
pub struct CaSource<'a> {
    pub ca_bundle: Option<&'a [u8]>,
    pub ca_provider: Option<&'a CaProvider>,
    pub field: &'a str,
}

impl CaSource<'_> {
    /// The PEM CA the store names, if any.
    pub async fn resolve(
        &self,
        scope: &Scope,
        ctx: &ClientContext,
    ) -> Result<Option<Vec<u8>>, ProviderError> {
        // caBundle wins over caProvider, as in ESO's FetchCACertFromSource.
        if let Some(bundle) = self.ca_bundle.filter(|b| !b.is_empty()) {
            return ca_bundle_pem(bundle, &format!("{}.caBundle", self.field)).map(Some);
        }
        let Some(provider) = self.ca_provider else {
            return Ok(None);
        };
        let field = format!("{}.caProvider", self.field);
        ca_from_provider(provider, scope, ctx, &field)
            .await
            .map(Some)
    }
}

/// DER certificates of a PEM bundle; an error when there are none.
pub fn pem_certificates(pem_bytes: &[u8], field: &str) -> Result<Vec<Vec<u8>>, ProviderError> {
    let blocks = pem::parse_many(pem_bytes).map_err(|e| {
        ProviderError::InvalidConfig(format!("{field} is not a valid PEM bundle: {e}"))
    })?;
    let certs: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
        .collect();
    if certs.is_empty() {
        return Err(ProviderError::InvalidConfig(format!(
            "{field} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(certs)
}

/// `caBundle` bytes (at `field`): PEM, or base64 of PEM (ESO accepts both).
pub fn ca_bundle_pem(bytes: &[u8], field: &str) -> Result<Vec<u8>, ProviderError> {
    if contains_pem(bytes) {
        return Ok(bytes.to_vec());
    }
    let compact: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    match base64::engine::general_purpose::STANDARD.decode(&compact) {
        Ok(decoded) if contains_pem(&decoded) => Ok(decoded),
        _ => Err(ProviderError::InvalidConfig(format!(
            "{field} is neither a PEM certificate nor base64 of one: \
             put the base64 encoding of the PEM bundle there"
        ))),
    }
}

fn contains_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

async fn ca_from_provider(
    provider: &CaProvider,
    scope: &Scope,
    ctx: &ClientContext,
    field: &str,
) -> Result<Vec<u8>, ProviderError> {
    let namespace = if scope.is_cluster_store() {
        provider.namespace.clone().ok_or_else(|| {
            ProviderError::InvalidConfig(format!(
                "missing namespace on caProvider: a ClusterSecretStore must set {field}.namespace"
            ))
        })?
    } else {
        let consuming = scope.namespace_for(None, field)?;
        if provider
            .namespace
            .as_deref()
            .is_some_and(|n| n != consuming)
        {
            return Err(ProviderError::InvalidConfig(format!(
                "{field}.namespace should either be empty or match the namespace of the SecretStore for a namespaced SecretStore"
            )));
        }
        consuming
    };
    if provider.key.is_empty() {
        return Err(ProviderError::InvalidConfig(format!(
            "{field}.key is empty: name the key that holds the PEM CA (for example ca.crt)"
        )));
    }
    match provider.type_ {
        CaProviderType::Secret => {
            refs::secret_key(ctx, &namespace, &provider.name, &provider.key, field).await
        }
        CaProviderType::ConfigMap => {
            refs::config_map_key(ctx, &namespace, &provider.name, &provider.key, field).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
    const BUNDLE: &str = "spec.provider.kubernetes.server.caBundle";

    #[test]
    fn ca_bundle_accepts_pem_and_base64_of_pem() {
        assert_eq!(
            ca_bundle_pem(PEM.as_bytes(), BUNDLE).expect("pem"),
            PEM.as_bytes()
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(PEM);
        assert_eq!(
            ca_bundle_pem(b64.as_bytes(), BUNDLE).expect("b64"),
            PEM.as_bytes()
        );
        let err = ca_bundle_pem(b"not a certificate", BUNDLE).expect_err("garbage");
        assert_eq!(
            err.to_string(),
            "spec.provider.kubernetes.server.caBundle is neither a PEM certificate nor base64 of one: put the base64 encoding of the PEM bundle there"
        );
    }

    #[test]
    fn pem_certificates_needs_a_certificate_block() {
        let der = pem_certificates(PEM.as_bytes(), "caBundle").expect("one cert");
        assert_eq!(der, vec![vec![0x30, 0x03, 0x02, 0x01, 0x00]]);
        let key = "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n";
        let err = pem_certificates(key.as_bytes(), "caBundle").expect_err("no cert");
        assert!(
            err.to_string().contains("holds no PEM certificate"),
            "{err}"
        );
    }
}
