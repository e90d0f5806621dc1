//! Maps a store's `spec.provider` to the provider that serves it.

use crate::{Provider, ProviderError};

/// Provider keys built into this binary, in the order error messages list them.
pub const BUILT_IN: &[&str] = &[
    #[cfg(feature = "kubernetes")]
    "kubernetes",
    #[cfg(feature = "fake")]
    "fake",
];

/// The provider configured in `spec.provider`, or an error that says what to change.
pub fn provider_for(
    spec: &esox_api::v1::SecretStoreSpec,
) -> Result<&'static dyn Provider, ProviderError> {
    let config = spec
        .provider
        .configured()
        .map_err(|e| ProviderError::InvalidConfig(e.to_string()))?;
    match config {
        #[cfg(feature = "kubernetes")]
        esox_api::v1::ProviderConfig::Kubernetes(_) => Ok(&crate::kubernetes::KUBERNETES),
        #[cfg(feature = "fake")]
        esox_api::v1::ProviderConfig::Fake(_) => Ok(&crate::fake::FAKE),
        #[allow(unreachable_patterns)]
        other => Err(not_built(other.key())),
    }
}

fn not_built(key: &str) -> ProviderError {
    let supported = if BUILT_IN.is_empty() {
        "none (enable the kubernetes or fake cargo feature)".to_owned()
    } else {
        BUILT_IN.join(", ")
    };
    ProviderError::InvalidConfig(format!(
        "the {key} provider is not built into this version of esox yet; supported now: {supported}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use esox_api::v1::SecretStoreSpec;

    fn spec(yaml_provider: serde_json::Value) -> SecretStoreSpec {
        serde_json::from_value(serde_json::json!({ "provider": yaml_provider }))
            .expect("valid store spec")
    }

    fn err_of(spec: &SecretStoreSpec) -> String {
        match provider_for(spec) {
            Ok(p) => panic!("expected an error, got provider {}", p.key()),
            Err(e) => e.to_string(),
        }
    }

    #[cfg(feature = "kubernetes")]
    #[test]
    fn kubernetes_maps_to_its_provider() {
        let s = spec(serde_json::json!({"kubernetes": {"remoteNamespace": "foo"}}));
        let p = provider_for(&s).expect("kubernetes is built in");
        assert_eq!(p.key(), "kubernetes");
    }

    #[cfg(feature = "fake")]
    #[test]
    fn fake_maps_to_its_provider() {
        let s = spec(serde_json::json!({"fake": {"data": []}}));
        let p = provider_for(&s).expect("fake is built in");
        assert_eq!(p.key(), "fake");
    }

    #[cfg(all(feature = "kubernetes", feature = "fake"))]
    #[test]
    fn known_but_unimplemented_providers_say_what_is_supported() {
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
            let e = err_of(&s);
            assert_eq!(
                e,
                format!(
                    "the {key} provider is not built into this version of esox yet; supported now: kubernetes, fake"
                )
            );
            assert!(matches!(
                provider_for(&s),
                Err(ProviderError::InvalidConfig(_))
            ));
        }
    }

    #[test]
    fn eso_only_and_bad_selections_use_the_selection_message() {
        let s = spec(serde_json::json!({"doppler": {"auth": {}}}));
        assert_eq!(
            err_of(&s),
            esox_api::v1::ProviderSelectionError::Unsupported("doppler").to_string()
        );
        let s = spec(serde_json::json!({}));
        assert_eq!(
            err_of(&s),
            esox_api::v1::ProviderSelectionError::None.to_string()
        );
        let s = spec(serde_json::json!({"fake": {"data": []}, "doppler": {}}));
        assert!(
            err_of(&s).contains("several providers (fake, doppler)"),
            "{}",
            err_of(&s)
        );
    }
}
