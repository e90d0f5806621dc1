//! The Kubernetes provider: Secrets of a namespace, in this cluster or another one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{DNS_LABEL, SecretKeySelector, ServiceAccountSelector};
use crate::v1::common::CaProvider;

/// Reads and writes the Secrets of one namespace of a Kubernetes API server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesProvider {
    /// API server to talk to; the cluster esox runs against when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<KubernetesServer>,
    /// Credentials; exactly one method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<KubernetesAuth>,
    /// A kubeconfig kept in a Secret; replaces `server` and `auth` entirely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_ref: Option<SecretKeySelector>,
    /// Namespace whose Secrets are read and written.
    #[serde(default = "default_remote_namespace")]
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    pub remote_namespace: String,
}

fn default_remote_namespace() -> String {
    "default".to_owned()
}

/// Address and CA of the API server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesServer {
    /// URL of the API server; `kubernetes.default` means the cluster esox itself talks to.
    #[serde(default = "default_server_url")]
    pub url: String,
    /// PEM CA bundle, base64-encoded in the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<crate::meta::Base64Bytes>,
    /// A Secret or ConfigMap holding the CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_provider: Option<CaProvider>,
}

impl Default for KubernetesServer {
    fn default() -> Self {
        Self {
            url: default_server_url(),
            ca_bundle: None,
            ca_provider: None,
        }
    }
}

fn default_server_url() -> String {
    "kubernetes.default".to_owned()
}

/// Exactly one way to authenticate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct KubernetesAuth {
    /// Client certificate and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<CertAuth>,
    /// A static bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenAuth>,
    /// A ServiceAccount whose short-lived token is requested through the TokenRequest API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccountSelector>,
}

/// Client-certificate authentication.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertAuth {
    pub client_cert: SecretKeySelector,
    pub client_key: SecretKeySelector,
}

/// Bearer-token authentication.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenAuth {
    pub bearer_token: SecretKeySelector,
}
