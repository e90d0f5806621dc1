//! The Azure Key Vault provider block (`spec.provider.azurekv`), field for field as ESO v2.9.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{SecretKeySelector, ServiceAccountSelector};

/// Reads and writes secrets, keys and certificates of one Azure Key Vault.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureKvProvider {
    /// How esox authenticates to Entra ID.
    #[serde(default)]
    pub auth_type: AzureAuthType,
    /// URL of the vault, such as `https://my-vault.vault.azure.net`.
    pub vault_url: String,
    /// Entra ID tenant. Needed for `ServicePrincipal`; optional for `WorkloadIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Azure cloud whose endpoints are used. `AzureStackCloud` takes its endpoints from
    /// `customCloudConfig`.
    #[serde(default)]
    pub environment_type: AzureEnvironmentType,
    /// Service principal credentials kept in Secrets. Needed for `ServicePrincipal`;
    /// optional for `WorkloadIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret_ref: Option<AzureKvAuth>,
    /// ServiceAccount federated with Entra ID, for `WorkloadIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
    /// Client ID of the managed identity to use when several are assigned to the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    /// Selects the azcore-based Azure SDK instead of the legacy one. Custom clouds need it.
    #[serde(default, rename = "useAzureSDK")]
    pub use_azure_sdk: bool,
    /// Endpoints of a non-standard cloud. Required for `AzureStackCloud`; also useful for
    /// Workload Identity on AKS in Azure China, whose OIDC issuer differs from the China
    /// cloud's default login endpoint. Needs `useAzureSDK: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_cloud_config: Option<AzureCustomCloudConfig>,
}

/// Authentication method for Azure.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AzureAuthType {
    /// A service principal: tenant ID, client ID and client secret or certificate.
    #[default]
    ServicePrincipal,
    /// The managed identity of the pod (aad-pod-identity).
    ManagedIdentity,
    /// A Kubernetes ServiceAccount federated with Entra ID.
    WorkloadIdentity,
}

/// Azure cloud whose login and vault endpoints are used.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AzureEnvironmentType {
    #[default]
    PublicCloud,
    #[serde(rename = "USGovernmentCloud")]
    UsGovernmentCloud,
    ChinaCloud,
    GermanCloud,
    /// Azure Stack Hub or Edge, with endpoints from `customCloudConfig`.
    AzureStackCloud,
}

/// Endpoints of a private or sovereign Azure cloud. Supported only with `useAzureSDK: true`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureCustomCloudConfig {
    /// Entra ID (Active Directory) login endpoint.
    pub active_directory_endpoint: String,
    /// Key Vault service endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault_endpoint: Option<String>,
    /// DNS suffix of vault URLs.
    #[serde(
        default,
        rename = "keyVaultDNSSuffix",
        skip_serializing_if = "Option::is_none"
    )]
    pub key_vault_dns_suffix: Option<String>,
    /// Azure Resource Manager endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_manager_endpoint: Option<String>,
}

/// Service principal or identity credentials kept in Secrets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureKvAuth {
    /// Secret key holding the client ID of the service principal or identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<SecretKeySelector>,
    /// Secret key holding the tenant ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<SecretKeySelector>,
    /// Secret key holding the client secret of the service principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretKeySelector>,
    /// Secret key holding the client certificate of the service principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<SecretKeySelector>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::providers::vault::tests::admit_provider;

    #[test]
    fn schema_admits_the_manifest_unchanged() {
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(admit_provider("azurekv", MANIFEST).unwrap(), expected);
    }

    #[test]
    fn schema_defaults_agree_with_serde_defaults() {
        let yaml = "vaultUrl: https://v.vault.azure.net\n";
        let typed: AzureKvProvider = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(
            admit_provider("azurekv", yaml).unwrap(),
            serde_json::to_value(&typed).unwrap()
        );
    }

    #[test]
    fn schema_rejects_an_unknown_auth_type() {
        let err = admit_provider("azurekv", "vaultUrl: u\nauthType: Password\n").unwrap_err();
        assert!(err.contains("authType"), "{err}");
    }

    const MANIFEST: &str = r#"
authType: WorkloadIdentity
vaultUrl: https://my-vault.vault.azure.net
tenantId: 5a02a20e-xxxx-xxxx-xxxx-0ad5b634c5d8
environmentType: AzureStackCloud
identityId: 0b6a6b3c-1111-2222-3333-444455556666
useAzureSDK: true
serviceAccountRef:
  name: workload-identity-sa
  namespace: team-a
authSecretRef:
  clientId:
    name: azure-secret-sp
    key: ClientID
  tenantId:
    name: azure-secret-sp
    key: TenantID
  clientSecret:
    name: azure-secret-sp
    key: ClientSecret
  clientCertificate:
    name: azure-secret-sp
    key: ClientCert
customCloudConfig:
  activeDirectoryEndpoint: https://login.example.local/
  keyVaultEndpoint: https://vault.example.local/
  keyVaultDNSSuffix: .vault.example.local
  resourceManagerEndpoint: https://management.example.local/
"#;

    #[test]
    fn full_manifest_round_trips() {
        let typed: AzureKvProvider = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(typed.auth_type, AzureAuthType::WorkloadIdentity);
        assert_eq!(
            typed.environment_type,
            AzureEnvironmentType::AzureStackCloud
        );
    }

    #[test]
    fn defaults_match_the_crd() {
        let typed: AzureKvProvider =
            serde_saphyr::from_str("vaultUrl: https://v.vault.azure.net\n").unwrap();
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            serde_json::json!({
                "authType": "ServicePrincipal",
                "vaultUrl": "https://v.vault.azure.net",
                "environmentType": "PublicCloud",
                "useAzureSDK": false,
            })
        );
    }

    #[test]
    fn us_government_cloud_keeps_its_spelling() {
        let typed: AzureKvProvider =
            serde_saphyr::from_str("vaultUrl: u\nenvironmentType: USGovernmentCloud\n").unwrap();
        assert_eq!(
            typed.environment_type,
            AzureEnvironmentType::UsGovernmentCloud
        );
        assert_eq!(
            serde_json::to_value(typed).unwrap()["environmentType"],
            "USGovernmentCloud"
        );
    }

    #[test]
    fn unknown_field_is_rejected_by_name() {
        let err = serde_saphyr::from_str::<AzureKvProvider>("vaultUrl: u\nvaultURL: u\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("vaultURL"), "{err}");
        let err = serde_saphyr::from_str::<AzureKvProvider>(
            "vaultUrl: u\nauthSecretRef:\n  clientID: {name: a}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("clientID"), "{err}");
    }

    #[test]
    fn vault_url_is_required() {
        let err = serde_saphyr::from_str::<AzureKvProvider>("authType: ManagedIdentity\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("vaultUrl"), "{err}");
    }
}
