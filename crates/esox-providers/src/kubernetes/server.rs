//! Which API server a store talks to, and which CA verifies it.

use esox_api::v1::providers::kubernetes::KubernetesServer;

use crate::auth::{CaSource, Scope};
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

/// The store's own CA, if it names one.
pub(crate) async fn store_ca(
    server: &KubernetesServer,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<Option<Vec<u8>>, ProviderError> {
    CaSource {
        ca_bundle: server.ca_bundle.as_ref().map(|b| b.0.as_slice()),
        ca_provider: server.ca_provider.as_ref(),
        field: "spec.provider.kubernetes.server",
    }
    .resolve(scope, ctx)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
