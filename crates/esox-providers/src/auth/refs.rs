//! Resolving a store's references (credential Secrets, CA ConfigMaps, ServiceAccounts)
//! with esox's own client, following ESO's namespace rules
//! (`runtime/esutils/resolvers/secret_ref.go`): a namespaced SecretStore always reads from
//! the namespace of the object using it; a ClusterSecretStore reads from the selector's
//! namespace, or, when the selector has none ("referent" auth), from the consuming namespace.

use esox_api::v1::StoreKind;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;

use crate::kube_errors as errors;
use crate::{ClientContext, ProviderError, StoreInfo};

/// Where the store's references resolve.
#[derive(Clone, Debug)]
pub struct Scope {
    pub kind: StoreKind,
    /// The namespace of the object using the store; for a SecretStore validated on its own,
    /// the store's namespace.
    pub consuming: Option<String>,
}

impl Scope {
    pub fn new(store: &StoreInfo, ctx: &ClientContext) -> Self {
        let consuming = match store.kind {
            StoreKind::SecretStore => ctx.namespace.clone().or_else(|| store.namespace.clone()),
            StoreKind::ClusterSecretStore => ctx.namespace.clone(),
        };
        Self {
            kind: store.kind,
            consuming,
        }
    }

    pub fn is_cluster_store(&self) -> bool {
        self.kind == StoreKind::ClusterSecretStore
    }

    /// The namespace a selector with `explicit` namespace resolves in; `field` names the
    /// selector in errors.
    pub fn namespace_for(
        &self,
        explicit: Option<&str>,
        field: &str,
    ) -> Result<String, ProviderError> {
        let ns = match self.kind {
            // ESO ignores a SecretStore selector's namespace; the webhook rejects a different one.
            StoreKind::SecretStore => self.consuming.clone(),
            StoreKind::ClusterSecretStore => explicit
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .or_else(|| self.consuming.clone()),
        };
        ns.ok_or_else(|| {
            ProviderError::InvalidConfig(format!(
                "{field} has no namespace and the ClusterSecretStore is not being used from a namespace: set {field}.namespace"
            ))
        })
    }
}

/// Reads `data[key]` of Secret `namespace/name` with esox's client.
pub async fn secret_key(
    ctx: &ClientContext,
    namespace: &str,
    name: &str,
    key: &str,
    field: &str,
) -> Result<Vec<u8>, ProviderError> {
    if name.is_empty() {
        return Err(ProviderError::InvalidConfig(format!(
            "{field}.name is empty: name the Secret that holds the value"
        )));
    }
    if key.is_empty() {
        return Err(ProviderError::InvalidConfig(format!(
            "{field}.key is empty: name the key of Secret {namespace}/{name} that holds the value"
        )));
    }
    let api: Api<Secret> = Api::namespaced(ctx.kube().clone(), namespace);
    let secret = api.get(name).await.map_err(|e| {
        errors::api_error(
            e,
            ctx.own_server(),
            &format!("{field}: cannot get Kubernetes secret {namespace}/{name}"),
        )
    })?;
    let data = secret.data.unwrap_or_default();
    match data.get(key) {
        Some(v) => Ok(v.0.clone()),
        None => Err(ProviderError::InvalidConfig(format!(
            "{field}: secret {namespace}/{name} has no key {key}"
        ))),
    }
}

/// Reads `data[key]` (or `binaryData[key]`) of ConfigMap `namespace/name`.
pub async fn config_map_key(
    ctx: &ClientContext,
    namespace: &str,
    name: &str,
    key: &str,
    field: &str,
) -> Result<Vec<u8>, ProviderError> {
    let api: Api<ConfigMap> = Api::namespaced(ctx.kube().clone(), namespace);
    let cm = api.get(name).await.map_err(|e| {
        errors::api_error(
            e,
            ctx.own_server(),
            &format!("{field}: cannot get configmap {namespace}/{name}"),
        )
    })?;
    if let Some(v) = cm.data.as_ref().and_then(|d| d.get(key)) {
        return Ok(v.clone().into_bytes());
    }
    if let Some(v) = cm.binary_data.as_ref().and_then(|d| d.get(key)) {
        return Ok(v.0.clone());
    }
    Err(ProviderError::InvalidConfig(format!(
        "{field}: configmap {namespace}/{name} has no key {key}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(kind: StoreKind, consuming: Option<&str>) -> Scope {
        Scope {
            kind,
            consuming: consuming.map(str::to_owned),
        }
    }

    #[test]
    fn secret_store_always_uses_the_consuming_namespace() {
        let s = scope(StoreKind::SecretStore, Some("app"));
        assert_eq!(s.namespace_for(Some("other"), "f").expect("ns"), "app");
        assert_eq!(s.namespace_for(None, "f").expect("ns"), "app");
    }

    #[test]
    fn cluster_store_prefers_the_selector_namespace() {
        let s = scope(StoreKind::ClusterSecretStore, Some("app"));
        assert_eq!(s.namespace_for(Some("creds"), "f").expect("ns"), "creds");
        assert_eq!(s.namespace_for(None, "f").expect("ns"), "app");
        let unbound = scope(StoreKind::ClusterSecretStore, None);
        let err = unbound
            .namespace_for(None, "spec.provider.kubernetes.auth.serviceAccount")
            .expect_err("no namespace");
        assert!(
            err.to_string()
                .contains("set spec.provider.kubernetes.auth.serviceAccount.namespace")
        );
    }
}
