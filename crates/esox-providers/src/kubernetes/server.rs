//! Which API server a store talks to, and which CA verifies it.

use base64::Engine as _;
use esox_api::v1::common::{CaProvider, CaProviderType};
use esox_api::v1::providers::kubernetes::KubernetesServer;

use super::refs::{self, Scope};
use crate::{ClientContext, ProviderError};

/// Names by which a store designates the cluster esox itself talks to.
const LOCAL_ALIASES: &[&str] = &[
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// Whether `url` designates esox's own cluster: empty, or one of the in-cluster service
/// names, with or without `https://` and `:443`.
pub fn is_local_alias(url: &str) -> bool {
    let host = url.trim();
    let host = host.strip_prefix("https://").unwrap_or(host);
    let host = host.strip_suffix('/').unwrap_or(host);
    let host = host.strip_suffix(":443").unwrap_or(host);
    host.is_empty() || LOCAL_ALIASES.contains(&host)
}

/// Refuses a cleartext server URL: credentials (tokens, client keys) would travel
/// unencrypted. Only an explicit `http://` is refused; other schemes fail when parsed.
pub(crate) fn require_tls(url: &str, field: &str) -> Result<(), ProviderError> {
    let url = url.trim();
    if url.len() >= 7 && url[..7].eq_ignore_ascii_case("http://") {
        return Err(ProviderError::InvalidConfig(format!(
            "{field} {url:?} uses http://, which would send the store's credentials unencrypted: use https:// (esox talks to API servers over verified TLS only)"
        )));
    }
    Ok(())
}

/// A ServiceAccount token requested with the default audience is accepted by esox's own
/// cluster: sent to another server, it would let that server act as the ServiceAccount here.
/// So a token for another server needs an explicit audience.
pub(crate) fn require_audience(
    sa: &esox_api::meta::ServiceAccountSelector,
    url: &str,
) -> Result<(), ProviderError> {
    if sa.audiences.iter().any(|a| !a.is_empty()) {
        return Ok(());
    }
    Err(ProviderError::InvalidConfig(format!(
        "spec.provider.kubernetes.auth.serviceAccount.audiences is empty while server.url {url:?} names another API server: a token with the default audience is valid at esox's own cluster, so esox does not send one elsewhere; set audiences to the audience that server accepts for this ServiceAccount's tokens"
    )))
}

/// DER certificates of a PEM bundle; an error when there are none.
pub(crate) fn pem_certificates(
    pem_bytes: &[u8],
    field: &str,
) -> Result<Vec<Vec<u8>>, ProviderError> {
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

/// `caBundle` bytes: PEM, or base64 of PEM (ESO accepts both).
pub(crate) fn ca_bundle_pem(bytes: &[u8]) -> Result<Vec<u8>, ProviderError> {
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
        _ => Err(ProviderError::InvalidConfig(
            "spec.provider.kubernetes.server.caBundle is neither a PEM certificate nor base64 of one: \
             put the base64 encoding of the PEM bundle there"
                .into(),
        )),
    }
}

fn contains_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// The store's own CA, if it names one.
pub(crate) async fn store_ca(
    server: &KubernetesServer,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<Option<Vec<u8>>, ProviderError> {
    // caBundle wins over caProvider, as in ESO's FetchCACertFromSource.
    if let Some(bundle) = server.ca_bundle.as_ref().filter(|b| !b.0.is_empty()) {
        return ca_bundle_pem(&bundle.0).map(Some);
    }
    let Some(provider) = &server.ca_provider else {
        return Ok(None);
    };
    ca_from_provider(provider, scope, ctx).await.map(Some)
}

async fn ca_from_provider(
    provider: &CaProvider,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<Vec<u8>, ProviderError> {
    const FIELD: &str = "spec.provider.kubernetes.server.caProvider";
    let namespace = if scope.is_cluster_store() {
        provider.namespace.clone().ok_or_else(|| {
            ProviderError::InvalidConfig(format!(
                "missing namespace on caProvider: a ClusterSecretStore must set {FIELD}.namespace"
            ))
        })?
    } else {
        let consuming = scope.namespace_for(None, FIELD)?;
        if provider
            .namespace
            .as_deref()
            .is_some_and(|n| n != consuming)
        {
            return Err(ProviderError::InvalidConfig(format!(
                "{FIELD}.namespace should either be empty or match the namespace of the SecretStore for a namespaced SecretStore"
            )));
        }
        consuming
    };
    if provider.key.is_empty() {
        return Err(ProviderError::InvalidConfig(format!(
            "{FIELD}.key is empty: name the key that holds the PEM CA (for example ca.crt)"
        )));
    }
    match provider.type_ {
        CaProviderType::Secret => {
            refs::secret_key(ctx, &namespace, &provider.name, &provider.key, FIELD).await
        }
        CaProviderType::ConfigMap => {
            refs::config_map_key(ctx, &namespace, &provider.name, &provider.key, FIELD).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";

    #[test]
    fn local_aliases() {
        for url in [
            "",
            "kubernetes.default",
            "https://kubernetes.default",
            "https://kubernetes.default:443",
            "kubernetes.default.svc",
            "https://kubernetes.default.svc:443/",
            "kubernetes.default.svc.cluster.local",
            "https://kubernetes.default.svc.cluster.local",
        ] {
            assert!(is_local_alias(url), "{url}");
        }
        for url in [
            "https://127.0.0.1:6443",
            "https://kubernetes.default:6443",
            "https://kubernetes.default.svc.cluster.remote",
            "http://kubernetes.default",
        ] {
            assert!(!is_local_alias(url), "{url}");
        }
    }

    #[test]
    fn ca_bundle_accepts_pem_and_base64_of_pem() {
        assert_eq!(ca_bundle_pem(PEM.as_bytes()).expect("pem"), PEM.as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(PEM);
        assert_eq!(ca_bundle_pem(b64.as_bytes()).expect("b64"), PEM.as_bytes());
        let err = ca_bundle_pem(b"not a certificate").expect_err("garbage");
        assert!(err.to_string().contains("caBundle is neither"), "{err}");
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
