//! Static checks of a Kubernetes store, as ESO's admission webhook runs them
//! (`esutils.ValidateKubernetesConnection`).

use esox_api::meta::SecretKeySelector;
use esox_api::v1::StoreKind;
use esox_api::v1::providers::kubernetes::KubernetesProvider as KubernetesSpec;

use crate::{ProviderError, StoreInfo};

/// ESO's warning for a store without a CA.
pub const WARN_NO_CA: &str =
    "No caBundle or caProvider specified; TLS connections will use system certificate roots.";

const NAMESPACE_NOT_ALLOWED: &str = "namespace should either be empty or match the namespace of the SecretStore for a namespaced SecretStore";

fn invalid(msg: String) -> ProviderError {
    ProviderError::InvalidConfig(msg)
}

/// Checks `spec` for `store`; returns warnings.
pub(crate) fn validate(
    store: &StoreInfo,
    spec: &KubernetesSpec,
) -> Result<Vec<String>, ProviderError> {
    let mut warnings = Vec::new();
    let server = spec.server.clone().unwrap_or_default();
    let has_ca =
        server.ca_bundle.as_ref().is_some_and(|b| !b.0.is_empty()) || server.ca_provider.is_some();
    // A store that talks to esox's own cluster falls back to that cluster's CA, so the
    // warning only matters for other servers.
    let local = super::server::is_local_alias(&server.url) || spec.server.is_none();
    if spec.auth_ref.is_none() && !has_ca && !local {
        warnings.push(WARN_NO_CA.to_owned());
    }
    super::server::require_tls(&server.url, "spec.provider.kubernetes.server.url")?;
    if let Some(sa) = spec.auth.as_ref().and_then(|a| a.service_account.as_ref())
        && !local
    {
        super::server::require_audience(sa, &server.url)?;
    }
    if spec.auth_ref.is_some() && spec.auth.is_some() {
        return Err(invalid(
            "authRef and inline auth cannot both be set: keep either spec.provider.kubernetes.auth or spec.provider.kubernetes.authRef".into(),
        ));
    }
    let cluster = store.kind == StoreKind::ClusterSecretStore;
    if let Some(ca) = &server.ca_provider {
        if cluster && ca.namespace.is_none() {
            return Err(invalid(
                "CAProvider.namespace must not be empty with ClusterSecretStore: set spec.provider.kubernetes.server.caProvider.namespace".into(),
            ));
        }
        if !cluster && ca.namespace.is_some() {
            return Err(invalid(
                "CAProvider.namespace must be empty with SecretStore: remove spec.provider.kubernetes.server.caProvider.namespace".into(),
            ));
        }
    }
    if let Some(auth) = &spec.auth {
        if let Some(cert) = &auth.cert {
            required(
                &cert.client_cert,
                "ClientCert",
                "spec.provider.kubernetes.auth.cert.clientCert",
            )?;
            selector_namespace(
                store,
                &cert.client_cert,
                "spec.provider.kubernetes.auth.cert.clientCert",
            )?;
            required(
                &cert.client_key,
                "ClientKey",
                "spec.provider.kubernetes.auth.cert.clientKey",
            )?;
            selector_namespace(
                store,
                &cert.client_key,
                "spec.provider.kubernetes.auth.cert.clientKey",
            )?;
        }
        if let Some(token) = &auth.token {
            required(
                &token.bearer_token,
                "BearerToken",
                "spec.provider.kubernetes.auth.token.bearerToken",
            )?;
            selector_namespace(
                store,
                &token.bearer_token,
                "spec.provider.kubernetes.auth.token.bearerToken",
            )?;
        }
        if let Some(sa) = &auth.service_account {
            // A ClusterSecretStore may leave it out (referent auth).
            if !cluster
                && sa
                    .namespace
                    .as_deref()
                    .is_some_and(|n| Some(n) != store.namespace.as_deref())
            {
                return Err(invalid(format!(
                    "spec.provider.kubernetes.auth.serviceAccount: {NAMESPACE_NOT_ALLOWED}"
                )));
            }
        }
    }
    if let Some(auth_ref) = &spec.auth_ref {
        required(auth_ref, "AuthRef", "spec.provider.kubernetes.authRef")?;
        selector_namespace(store, auth_ref, "spec.provider.kubernetes.authRef")?;
    }
    Ok(warnings)
}

fn required(sel: &SecretKeySelector, eso_name: &str, field: &str) -> Result<(), ProviderError> {
    if sel.name.is_empty() {
        return Err(invalid(format!(
            "{eso_name}.Name cannot be empty: set {field}.name"
        )));
    }
    if sel.key.is_empty() {
        return Err(invalid(format!(
            "{eso_name}.Key cannot be empty: set {field}.key"
        )));
    }
    Ok(())
}

/// ESO's `ValidateSecretSelector`.
fn selector_namespace(
    store: &StoreInfo,
    sel: &SecretKeySelector,
    field: &str,
) -> Result<(), ProviderError> {
    match store.kind {
        StoreKind::ClusterSecretStore if sel.namespace.is_none() => Err(invalid(format!(
            "cluster scope requires namespace: set {field}.namespace"
        ))),
        StoreKind::SecretStore
            if sel
                .namespace
                .as_deref()
                .is_some_and(|n| Some(n) != store.namespace.as_deref()) =>
        {
            Err(invalid(format!("{field}: {NAMESPACE_NOT_ALLOWED}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(kind: StoreKind, provider: serde_json::Value) -> (StoreInfo, KubernetesSpec) {
        let spec: esox_api::v1::SecretStoreSpec =
            serde_json::from_value(serde_json::json!({"provider": {"kubernetes": provider}}))
                .expect("store spec");
        let k = spec.provider.kubernetes.clone().expect("kubernetes block");
        let namespace = (kind == StoreKind::SecretStore).then(|| "app".to_owned());
        (
            StoreInfo {
                kind,
                name: "s".into(),
                namespace,
                spec,
            },
            k,
        )
    }

    fn check(kind: StoreKind, provider: serde_json::Value) -> Result<Vec<String>, String> {
        let (s, k) = store(kind, provider);
        validate(&s, &k).map_err(|e| e.to_string())
    }

    #[test]
    fn remote_server_without_ca_warns() {
        let w = check(
            StoreKind::SecretStore,
            serde_json::json!({"server": {"url": "https://10.0.0.1:6443"},
                "auth": {"token": {"bearerToken": {"name": "t", "key": "token"}}}}),
        )
        .expect("valid");
        assert_eq!(w, vec![WARN_NO_CA.to_owned()]);
        let w = check(
            StoreKind::SecretStore,
            serde_json::json!({"auth": {"serviceAccount": {"name": "sa"}}}),
        )
        .expect("valid");
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn ca_provider_namespace_rules() {
        let with_ns = serde_json::json!({"server": {"caProvider": {"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt", "namespace": "foo"}},
            "auth": {"serviceAccount": {"name": "sa", "namespace": "argocd"}}});
        check(StoreKind::ClusterSecretStore, with_ns.clone()).expect("the seed's CSS is valid");
        let e = check(StoreKind::SecretStore, with_ns).expect_err("ns on SecretStore");
        assert!(e.contains("must be empty with SecretStore"), "{e}");
        let without = serde_json::json!({"server": {"caProvider": {"type": "ConfigMap", "name": "c", "key": "ca.crt"}},
            "auth": {"serviceAccount": {"name": "sa"}}});
        let e = check(StoreKind::ClusterSecretStore, without).expect_err("CSS needs ns");
        assert!(
            e.contains("must not be empty with ClusterSecretStore"),
            "{e}"
        );
    }

    #[test]
    fn token_selector_rules() {
        let e = check(
            StoreKind::ClusterSecretStore,
            serde_json::json!({"auth": {"token": {"bearerToken": {"name": "t", "key": "token"}}}}),
        )
        .expect_err("CSS token needs ns");
        assert!(e.contains("cluster scope requires namespace"), "{e}");
        let e = check(
            StoreKind::SecretStore,
            serde_json::json!({"auth": {"token": {"bearerToken": {"name": "t", "key": "token", "namespace": "other"}}}}),
        )
        .expect_err("other ns");
        assert!(e.contains("should either be empty or match"), "{e}");
        let e = check(
            StoreKind::SecretStore,
            serde_json::json!({"auth": {"token": {"bearerToken": {"name": "t"}}}}),
        )
        .expect_err("no key");
        assert!(e.contains("BearerToken.Key cannot be empty"), "{e}");
    }

    #[test]
    fn service_account_may_be_referent_on_a_cluster_store_only() {
        check(
            StoreKind::ClusterSecretStore,
            serde_json::json!({"auth": {"serviceAccount": {"name": "sa"}}}),
        )
        .expect("referent CSS");
        check(
            StoreKind::SecretStore,
            serde_json::json!({"auth": {"serviceAccount": {"name": "sa", "namespace": "app"}}}),
        )
        .expect("own namespace");
        let e = check(
            StoreKind::SecretStore,
            serde_json::json!({"auth": {"serviceAccount": {"name": "sa", "namespace": "x"}}}),
        )
        .expect_err("foreign namespace");
        assert!(e.contains("serviceAccount"), "{e}");
    }

    #[test]
    fn cleartext_servers_are_refused_naming_the_field() {
        let e = check(
            StoreKind::SecretStore,
            serde_json::json!({"server": {"url": "http://10.0.0.1:8080", "caBundle": "eA=="},
                "auth": {"token": {"bearerToken": {"name": "t", "key": "token"}}}}),
        )
        .expect_err("http");
        assert!(e.contains("spec.provider.kubernetes.server.url"), "{e}");
        assert!(e.contains("https://"), "{e}");
        let e = check(
            StoreKind::SecretStore,
            serde_json::json!({"server": {"url": "HTTP://kubernetes.default.svc"},
                "auth": {"serviceAccount": {"name": "sa"}}}),
        )
        .expect_err("http, any case, even for the local names");
        assert!(e.contains("server.url"), "{e}");
        check(
            StoreKind::SecretStore,
            serde_json::json!({"server": {"url": "https://10.0.0.1:6443", "caBundle": "eA=="},
                "auth": {"token": {"bearerToken": {"name": "t", "key": "token"}}}}),
        )
        .expect("https is fine");
    }

    #[test]
    fn service_account_tokens_for_another_server_need_an_audience() {
        let e = check(
            StoreKind::SecretStore,
            serde_json::json!({"server": {"url": "https://10.0.0.1:6443", "caBundle": "eA=="},
                "auth": {"serviceAccount": {"name": "sa"}}}),
        )
        .expect_err("default audience to a remote server");
        assert!(
            e.contains("spec.provider.kubernetes.auth.serviceAccount.audiences"),
            "{e}"
        );
        check(
            StoreKind::SecretStore,
            serde_json::json!({"server": {"url": "https://10.0.0.1:6443", "caBundle": "eA=="},
                "auth": {"serviceAccount": {"name": "sa", "audiences": ["https://10.0.0.1:6443"]}}}),
        )
        .expect("explicit audience");
        for local in [
            serde_json::json!({"auth": {"serviceAccount": {"name": "sa"}}}),
            serde_json::json!({"server": {"url": "https://kubernetes.default.svc"},
                "auth": {"serviceAccount": {"name": "sa"}}}),
        ] {
            check(StoreKind::SecretStore, local).expect("own cluster: default audience");
        }
    }

    #[test]
    fn auth_and_auth_ref_are_exclusive() {
        let e = check(
            StoreKind::SecretStore,
            serde_json::json!({"authRef": {"name": "kc", "key": "config"},
                "auth": {"serviceAccount": {"name": "sa"}}}),
        )
        .expect_err("both");
        assert!(e.contains("cannot both be set"), "{e}");
    }
}
