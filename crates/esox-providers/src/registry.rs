//! The providers built into this binary, and which one serves a store's `spec.provider`.
//!
//! Adding a provider is one module and one line in [`PROVIDERS`] (plus its cargo feature):
//! every other answer (the provider for a store, the "not built" message and its list of
//! supported keys) comes from this table.

use crate::{LocalCluster, Provider, ProviderError};

/// One built-in provider: its key in `spec.provider`, and how a runtime builds it (with the
/// cluster esox itself talks to, which only some providers use).
pub struct Registration {
    pub key: &'static str,
    pub build: fn(&LocalCluster) -> Box<dyn Provider>,
}

impl Registration {
    pub const fn new(key: &'static str, build: fn(&LocalCluster) -> Box<dyn Provider>) -> Self {
        Self { key, build }
    }
}

/// Providers built into this binary, in the order error messages list them.
pub const PROVIDERS: &[Registration] = &[
    #[cfg(feature = "kubernetes")]
    Registration::new("kubernetes", crate::kubernetes::register),
    #[cfg(feature = "fake")]
    Registration::new("fake", crate::fake::register),
    #[cfg(feature = "vault")]
    Registration::new("vault", crate::vault::register),
    #[cfg(feature = "webhook")]
    Registration::new("webhook", crate::webhook::register),
];

/// Keys of [`PROVIDERS`].
pub fn built_in() -> Vec<&'static str> {
    PROVIDERS.iter().map(|r| r.key).collect()
}

/// The key of the provider `spec.provider` selects, whether built in or not.
pub(crate) fn selected_key(
    spec: &esox_api::v1::SecretStoreSpec,
) -> Result<&'static str, ProviderError> {
    spec.provider
        .configured()
        .map(|config| config.key())
        .map_err(|e| ProviderError::InvalidConfig(e.to_string()))
}

/// The answer for a provider ESO has and this binary does not.
pub(crate) fn not_built(key: &str) -> ProviderError {
    let supported = if PROVIDERS.is_empty() {
        "none (enable the kubernetes or fake cargo feature)".to_owned()
    } else {
        built_in().join(", ")
    };
    ProviderError::InvalidConfig(format!(
        "the {key} provider is not built into this version of esox yet; supported now: {supported}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProviderRuntime;
    use esox_api::v1::SecretStoreSpec;

    fn runtime() -> ProviderRuntime {
        let config = kube::Config::new("https://127.0.0.1:9".parse().expect("uri"));
        ProviderRuntime::new(
            kube::Client::try_from(config).expect("client"),
            LocalCluster {
                url: "https://127.0.0.1:9".into(),
                ca_pem: None,
            },
        )
    }

    fn spec(yaml_provider: serde_json::Value) -> SecretStoreSpec {
        serde_json::from_value(serde_json::json!({ "provider": yaml_provider }))
            .expect("valid store spec")
    }

    fn err_of(rt: &ProviderRuntime, spec: &SecretStoreSpec) -> String {
        match rt.provider_for(spec) {
            Ok(p) => panic!("expected an error, got provider {}", p.key()),
            Err(e) => e.to_string(),
        }
    }

    #[tokio::test]
    async fn every_registration_builds_the_provider_of_its_key() {
        let rt = runtime();
        for r in PROVIDERS {
            let p = rt.provider(r.key).expect("registered provider is built");
            assert_eq!(p.key(), r.key);
        }
        assert!(rt.provider("doppler").is_none());
    }

    #[cfg(feature = "kubernetes")]
    #[tokio::test]
    async fn kubernetes_maps_to_its_provider() {
        let s = spec(serde_json::json!({"kubernetes": {"remoteNamespace": "foo"}}));
        let p = runtime().provider_for(&s).map(|p| p.key());
        assert_eq!(p.expect("kubernetes is built in"), "kubernetes");
    }

    #[cfg(feature = "fake")]
    #[tokio::test]
    async fn fake_maps_to_its_provider() {
        let s = spec(serde_json::json!({"fake": {"data": []}}));
        let p = runtime().provider_for(&s).map(|p| p.key());
        assert_eq!(p.expect("fake is built in"), "fake");
    }

    #[cfg(feature = "vault")]
    #[tokio::test]
    async fn vault_maps_to_its_provider() {
        let s = spec(serde_json::json!({"vault": {"server": "https://vault:8200"}}));
        let p = runtime().provider_for(&s).map(|p| p.key());
        assert_eq!(p.expect("vault is built in"), "vault");
        let message = not_built("aws").to_string();
        assert!(
            message.contains("supported now: ") && message.contains("vault"),
            "{message}"
        );
    }

    /// Every provider esox-api has types for is either in the table or answered with the
    /// table's list: adding a provider to the table needs no change here.
    #[tokio::test]
    async fn typed_providers_outside_the_table_say_what_is_supported() {
        let rt = runtime();
        let built = built_in();
        let supported = if built.is_empty() {
            "none (enable the kubernetes or fake cargo feature)".to_owned()
        } else {
            built.join(", ")
        };
        for key in esox_api::v1::SUPPORTED_PROVIDERS {
            if built.contains(key) {
                continue;
            }
            assert!(rt.provider(key).is_none(), "{key}");
            assert_eq!(
                not_built(key).to_string(),
                format!(
                    "the {key} provider is not built into this version of esox yet; supported now: {supported}"
                )
            );
        }
        for (key, body) in [
            (
                "aws",
                serde_json::json!({"service": "SecretsManager", "region": "eu-west-1"}),
            ),
            ("vault", serde_json::json!({"server": "https://vault:8200"})),
            (
                "webhook",
                serde_json::json!({"url": "https://example.invalid"}),
            ),
            ("gcpsm", serde_json::json!({"projectID": "p"})),
            (
                "azurekv",
                serde_json::json!({"vaultUrl": "https://v.vault.azure.net"}),
            ),
        ] {
            let s: SecretStoreSpec =
                serde_json::from_value(serde_json::json!({"provider": {key: body}}))
                    .unwrap_or_else(|e| panic!("{key} spec: {e}"));
            if built.contains(&key) {
                assert_eq!(rt.provider_for(&s).map(|p| p.key()).ok(), Some(key));
                continue;
            }
            assert_eq!(err_of(&rt, &s), not_built(key).to_string());
            assert!(matches!(
                rt.provider_for(&s),
                Err(ProviderError::InvalidConfig(_))
            ));
        }
    }

    #[tokio::test]
    async fn eso_only_and_bad_selections_use_the_selection_message() {
        let rt = runtime();
        let s = spec(serde_json::json!({"doppler": {"auth": {}}}));
        assert_eq!(
            err_of(&rt, &s),
            esox_api::v1::ProviderSelectionError::Unsupported("doppler").to_string()
        );
        let s = spec(serde_json::json!({}));
        assert_eq!(
            err_of(&rt, &s),
            esox_api::v1::ProviderSelectionError::None.to_string()
        );
        let s = spec(serde_json::json!({"fake": {"data": []}, "doppler": {}}));
        assert!(
            err_of(&rt, &s).contains("several providers (fake, doppler)"),
            "{}",
            err_of(&rt, &s)
        );
    }
}
