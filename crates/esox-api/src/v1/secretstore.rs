//! SecretStore and ClusterSecretStore: how to reach a secret store.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::DNS_LABEL;
use crate::schema_ext::{FreeForm, cel};
use crate::v1::externalsecret::Condition;
use crate::v1::providers::{
    aws::AwsProvider, azurekv::AzureKvProvider, fake::FakeProvider, gcpsm::GcpsmProvider,
    kubernetes::KubernetesProvider, vault::VaultProvider, webhook::WebhookProvider,
};

/// Desired state of a SecretStore or ClusterSecretStore (the two kinds share it, as in ESO).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    derive = "PartialEq",
    version = "v1",
    kind = "SecretStore",
    namespaced,
    status = "SecretStoreStatus",
    shortname = "ss",
    category = "external-secrets",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "AGE", "type": "date"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "name": "Status", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.capabilities", "name": "Capabilities", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreSpec {
    /// Controller class; a controller only serves stores of its class (or with no class).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub controller: String,
    pub provider: SecretStoreProvider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_settings: Option<RetrySettings>,
    /// How often the store is validated again: seconds, or a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<IntOrString>,
    /// ClusterSecretStore only: the namespaces allowed to use the store (entries are ORed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ClusterSecretStoreCondition>,
}

/// The cluster-scoped twin of [`SecretStore`], with the same spec.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    derive = "PartialEq",
    version = "v1",
    kind = "ClusterSecretStore",
    status = "SecretStoreStatus",
    shortname = "css",
    category = "external-secrets",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "AGE", "type": "date"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "name": "Status", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.capabilities", "name": "Capabilities", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSecretStoreSpec {
    #[serde(flatten)]
    pub store: SecretStoreSpec,
}

/// Which namespaces may use a ClusterSecretStore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSecretStoreCondition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1, max = 63), regex(pattern = DNS_LABEL)))]
    pub namespaces: Vec<String>,
    /// Unanchored regular expressions matched against namespace names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_regexes: Vec<String>,
}

/// Retry tuning for providers that use it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrySettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<String>,
}

/// What a store can do.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Capabilities {
    ReadOnly,
    WriteOnly,
    ReadWrite,
}

/// Observed state of a store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
}

macro_rules! providers {
    (
        supported { $( $field:ident : $ty:ty = $key:literal ),* $(,)? }
        unsupported { $( $ufield:ident = $ukey:literal ),* $(,)? }
    ) => {
        /// The provider block of a store: exactly one key.
        ///
        /// Every key ESO knows is accepted so that ESO manifests apply unchanged; the ones esox does
        /// not implement are kept as written and reported as unsupported when the store is validated.
        #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[schemars(extend("x-kubernetes-validations" = [
            cel(concat!("[", $( "has(self.", $key, "), ", )* $( "has(self.", $ukey, "), ", )* "false].exists_one(x, x)"),
                "spec.provider must configure exactly one provider, for example kubernetes:, vault: or aws:"),
        ]))]
        pub struct SecretStoreProvider {
            $(
                #[serde(rename = $key, default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            $(
                #[doc = concat!("`", $ukey, "`: accepted for compatibility, not implemented by esox.")]
                #[serde(rename = $ukey, default, skip_serializing_if = "Option::is_none")]
                pub $ufield: Option<FreeForm>,
            )*
        }

        /// Provider keys esox implements.
        pub const SUPPORTED_PROVIDERS: &[&str] = &[$( $key ),*];
        /// Provider keys ESO knows that esox accepts but does not implement.
        pub const UNSUPPORTED_PROVIDERS: &[&str] = &[$( $ukey ),*];

        impl SecretStoreProvider {
            /// Names of the configured provider keys, in declaration order.
            pub fn configured_keys(&self) -> Vec<&'static str> {
                let mut keys = Vec::new();
                $( if self.$field.is_some() { keys.push($key); } )*
                $( if self.$ufield.is_some() { keys.push($ukey); } )*
                keys
            }

            /// The one configured provider, or an error that says what to fix.
            pub fn configured(&self) -> Result<ProviderConfig<'_>, ProviderSelectionError> {
                let keys = self.configured_keys();
                match keys.as_slice() {
                    [] => Err(ProviderSelectionError::None),
                    [_] => {
                        $( if let Some(p) = &self.$field { return Ok(ProviderConfig::from(p)); } )*
                        Err(ProviderSelectionError::Unsupported(keys[0]))
                    }
                    _ => Err(ProviderSelectionError::Several(keys.join(", "))),
                }
            }
        }
    };
}

providers! {
    supported {
        aws: AwsProvider = "aws",
        azurekv: AzureKvProvider = "azurekv",
        vault: VaultProvider = "vault",
        gcpsm: GcpsmProvider = "gcpsm",
        webhook: WebhookProvider = "webhook",
        kubernetes: KubernetesProvider = "kubernetes",
        fake: FakeProvider = "fake",
    }
    unsupported {
        akeyless = "akeyless",
        bitwardensecretsmanager = "bitwardensecretsmanager",
        ovh = "ovh",
        oracle = "oracle",
        ibm = "ibm",
        yandexcertificatemanager = "yandexcertificatemanager",
        yandexlockbox = "yandexlockbox",
        github = "github",
        gitlab = "gitlab",
        onepassword = "onepassword",
        onepassword_sdk = "onepasswordSDK",
        crd = "crd",
        senhasegura = "senhasegura",
        scaleway = "scaleway",
        doppler = "doppler",
        previder = "previder",
        onboardbase = "onboardbase",
        keepersecurity = "keepersecurity",
        conjur = "conjur",
        delinea = "delinea",
        secretserver = "secretserver",
        chef = "chef",
        pulumi = "pulumi",
        fortanix = "fortanix",
        passworddepot = "passworddepot",
        passbolt = "passbolt",
        dvls = "dvls",
        infisical = "infisical",
        beyondtrust = "beyondtrust",
        beyondtrustworkloadcredentials = "beyondtrustworkloadcredentials",
        cloudrusm = "cloudrusm",
        volcengine = "volcengine",
        ngrok = "ngrok",
        barbican = "barbican",
        nebiusmysterybox = "nebiusmysterybox",
        open_bao = "openBao",
    }
}

/// A borrowed view of the configured provider.
#[derive(Clone, Copy, Debug)]
pub enum ProviderConfig<'a> {
    Aws(&'a AwsProvider),
    AzureKv(&'a AzureKvProvider),
    Vault(&'a VaultProvider),
    Gcpsm(&'a GcpsmProvider),
    Webhook(&'a WebhookProvider),
    Kubernetes(&'a KubernetesProvider),
    Fake(&'a FakeProvider),
}

macro_rules! provider_from {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $( impl<'a> From<&'a $ty> for ProviderConfig<'a> {
            fn from(p: &'a $ty) -> Self { ProviderConfig::$variant(p) }
        } )*
    };
}

provider_from! {
    AwsProvider => Aws,
    AzureKvProvider => AzureKv,
    VaultProvider => Vault,
    GcpsmProvider => Gcpsm,
    WebhookProvider => Webhook,
    KubernetesProvider => Kubernetes,
    FakeProvider => Fake,
}

impl ProviderConfig<'_> {
    /// The provider's key in `spec.provider`.
    pub fn key(&self) -> &'static str {
        match self {
            ProviderConfig::Aws(_) => "aws",
            ProviderConfig::AzureKv(_) => "azurekv",
            ProviderConfig::Vault(_) => "vault",
            ProviderConfig::Gcpsm(_) => "gcpsm",
            ProviderConfig::Webhook(_) => "webhook",
            ProviderConfig::Kubernetes(_) => "kubernetes",
            ProviderConfig::Fake(_) => "fake",
        }
    }
}

/// Why `spec.provider` does not name one usable provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderSelectionError {
    #[error("spec.provider is empty: configure exactly one provider, for example `kubernetes:`")]
    None,
    #[error("spec.provider configures several providers ({0}): keep exactly one")]
    Several(String),
    #[error(
        "spec.provider.{0} is an ESO provider that esox does not implement; supported providers: aws, azurekv, fake, gcpsm, kubernetes, vault, webhook"
    )]
    Unsupported(&'static str),
}
