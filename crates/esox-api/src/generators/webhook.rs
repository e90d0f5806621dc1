//! The `Webhook` generator kind: a value produced by calling an HTTP endpoint, with the same
//! request settings as the webhook provider.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{Base64Bytes, GO_DURATION, SecretKeySelector};
use crate::v1::common::CaProvider;
use crate::v1::providers::webhook::{
    AuthorizationProtocol, WebhookProvider, WebhookResult, WebhookSecret,
};

/// Settings of the webhook generator: one request whose JSON object answer becomes the keys.
#[derive(CustomResource, Serialize, Deserialize, Clone, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Webhook",
    namespaced,
    category = "external-secrets",
    category = "external-secrets-generators",
    derive = "PartialEq",
    doc = "Calls an HTTP endpoint and returns the keys of the JSON object it answers."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSpec {
    /// HTTP method; `GET` when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// URL template of the request.
    pub url: String,
    /// Header templates of the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Authentication protocol; exactly one when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthorizationProtocol>,
    /// Body template of the request.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Request timeout as a Go duration, such as `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = GO_DURATION))]
    pub timeout: Option<String>,
    /// How the object is taken out of the response.
    pub result: WebhookResult,
    /// Secrets made available to the templates, each under its `name` (all of its keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<GeneratorWebhookSecret>,
    /// PEM CA certificates trusted for an `https` URL, base64-encoded in the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<Base64Bytes>,
    /// A Secret or ConfigMap (in the generator's namespace) holding the trusted CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_provider: Option<CaProvider>,
}

/// A Secret passed to the request templates; it is read from the generator's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorWebhookSecret {
    /// Name under which the templates see the Secret's keys.
    pub name: String,
    /// The Secret (its `key` is not used to select: every key is passed, as in ESO).
    pub secret_ref: GeneratorSecretKeySelector,
}

/// A Secret and key in the generator's own namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorSecretKeySelector {
    /// Name of the Secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::meta::DNS_SUBDOMAIN))]
    pub name: String,
    /// Key inside the Secret's `data`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::meta::SECRET_KEY))]
    pub key: String,
}

impl WebhookSpec {
    /// The same settings in the provider's shape, which the request code works on.
    pub fn to_provider(&self) -> WebhookProvider {
        WebhookProvider {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            auth: self.auth.clone(),
            body: self.body.clone(),
            timeout: self.timeout.clone(),
            result: Some(self.result.clone()),
            secrets: self
                .secrets
                .iter()
                .map(|s| WebhookSecret {
                    name: s.name.clone(),
                    secret_ref: SecretKeySelector {
                        name: s.secret_ref.name.clone(),
                        namespace: None,
                        key: s.secret_ref.key.clone(),
                    },
                })
                .collect(),
            ca_bundle: self.ca_bundle.clone(),
            ca_provider: self.ca_provider.clone(),
        }
    }
}

// Headers and body often carry credentials: Debug goes through the provider shape, which
// shows only header names.
impl std::fmt::Debug for WebhookSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_provider().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: Webhook
metadata:
  name: api-token
  namespace: team-a
spec:
  method: POST
  url: "https://tokens.example/issue?team={{ .auth.team }}"
  headers:
    Authorization: "Bearer {{ .auth.token }}"
  body: '{"ttl": "1h"}'
  timeout: 5s
  result:
    jsonPath: $.credentials
  secrets:
    - name: auth
      secretRef:
        name: token-issuer
        key: token
  caProvider:
    type: ConfigMap
    name: issuer-ca
    key: ca.crt
"#;

    #[test]
    fn manifest_round_trips_and_converts() {
        let typed: Webhook = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        let provider = typed.spec.to_provider();
        assert_eq!(provider.result.unwrap().json_path, "$.credentials");
        assert_eq!(provider.secrets[0].secret_ref.name, "token-issuer");
        assert_eq!(provider.secrets[0].secret_ref.namespace, None);
        let shown = format!("{:?}", typed.spec);
        assert!(!shown.contains("Bearer"), "{shown}");
    }

    #[test]
    fn result_is_required_and_unknown_fields_are_named() {
        let err = serde_saphyr::from_str::<WebhookSpec>("url: u\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("result"), "{err}");
        let err = serde_saphyr::from_str::<WebhookSpec>("url: u\nresult: {}\nsecret: []\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("secret"), "{err}");
    }
}
