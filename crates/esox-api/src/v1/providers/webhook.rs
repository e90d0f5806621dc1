//! The webhook provider block (`spec.provider.webhook`): secrets fetched from a plain HTTP
//! API, field for field as ESO v2.9.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{Base64Bytes, GO_DURATION, SecretKeySelector};
use crate::v1::common::CaProvider;

/// Fetches secrets by calling an HTTP endpoint. `url`, `headers` and `body` are templates
/// that see the remote reference and the values of `secrets`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookProvider {
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
    /// How the value is taken out of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<WebhookResult>,
    /// Secret keys made available to the templates, each under its `name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<WebhookSecret>,
    /// PEM CA certificates trusted for an `https` URL, base64-encoded in the manifest. The
    /// system roots are used when neither this nor `caProvider` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<Base64Bytes>,
    /// A Secret or ConfigMap holding the CA certificates trusted for the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_provider: Option<WebhookCaProvider>,
}

// Headers often carry credentials, so Debug shows only their names.
impl std::fmt::Debug for WebhookProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookProvider")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .field("auth", &self.auth)
            .field("body_len", &self.body.len())
            .field("timeout", &self.timeout)
            .field("result", &self.result)
            .field("secrets", &self.secrets)
            .field("ca_bundle", &self.ca_bundle)
            .field("ca_provider", &self.ca_provider)
            .finish()
    }
}

/// Location of the webhook's CA certificates; the same shape as every store's `caProvider`.
pub type WebhookCaProvider = CaProvider;

/// Authentication protocol of the webhook; exactly one field.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct AuthorizationProtocol {
    /// NTLM authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntlm: Option<NtlmProtocol>,
}

/// NTLM credentials kept in Secrets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NtlmProtocol {
    /// Secret key holding the user name.
    #[serde(rename = "usernameSecret")]
    pub user_name: SecretKeySelector,
    /// Secret key holding the password.
    #[serde(rename = "passwordSecret")]
    pub password: SecretKeySelector,
}

/// Extraction of the value from the response body.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookResult {
    /// JSONPath applied to the JSON response; the whole body when empty.
    #[serde(default, rename = "jsonPath", skip_serializing_if = "String::is_empty")]
    pub json_path: String,
}

/// A Secret key passed to the request templates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSecret {
    /// Name under which the templates see the value.
    pub name: String,
    /// Secret key holding the value.
    pub secret_ref: SecretKeySelector,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::providers::vault::tests::admit_provider;

    #[test]
    fn schema_admits_the_manifest_unchanged() {
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(admit_provider("webhook", MANIFEST).unwrap(), expected);
    }

    #[test]
    fn schema_rejects_an_empty_auth_block() {
        let err = admit_provider("webhook", "url: u\nauth: {}\n").unwrap_err();
        assert!(err.contains("auth"), "{err}");
    }
    use crate::v1::common::CaProviderType;

    const MANIFEST: &str = r#"
url: "http://127.0.0.1:8080/api/v1/secrets/{{ .remoteRef.key }}"
method: POST
headers:
  Content-Type: application/json
  Authorization: "Basic {{ print .auth.token }}"
body: '{"version": "{{ .remoteRef.version }}"}'
timeout: 5s
result:
  jsonPath: $.data.value
secrets:
  - name: auth
    secretRef:
      name: webhook-credentials
      key: token
caBundle: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
caProvider:
  type: Secret
  name: webhook-ca
  key: ca.crt
  namespace: esox
auth:
  ntlm:
    usernameSecret:
      name: ntlm
      key: username
    passwordSecret:
      name: ntlm
      key: password
"#;

    #[test]
    fn full_manifest_round_trips() {
        let typed: WebhookProvider = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(typed.result.as_ref().unwrap().json_path, "$.data.value");
        assert_eq!(
            typed.ca_provider.as_ref().unwrap().type_,
            CaProviderType::Secret
        );
        assert_eq!(typed.auth.unwrap().ntlm.unwrap().password.key, "password");
    }

    #[test]
    fn minimal_manifest_round_trips() {
        let yaml = "url: http://127.0.0.1:8080/{{ .remoteRef.key }}\n";
        let typed: WebhookProvider = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(typed.method, "");
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            serde_json::json!({"url": "http://127.0.0.1:8080/{{ .remoteRef.key }}"})
        );
    }

    #[test]
    fn unknown_field_is_rejected_by_name() {
        let err = serde_saphyr::from_str::<WebhookProvider>("url: u\nresult:\n  jsonpath: $.x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("jsonpath"), "{err}");
        let err = serde_saphyr::from_str::<WebhookProvider>("url: u\nauth:\n  basic: {}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("basic"), "{err}");
    }

    #[test]
    fn malformed_ca_bundle_is_rejected() {
        assert!(serde_saphyr::from_str::<WebhookProvider>("url: u\ncaBundle: '%%%'\n").is_err());
    }

    #[test]
    fn debug_hides_header_values_and_body() {
        let typed: WebhookProvider = serde_saphyr::from_str(MANIFEST).unwrap();
        let shown = format!("{typed:?}");
        assert!(shown.contains("Authorization"), "{shown}");
        assert!(!shown.contains("Basic"), "{shown}");
        assert!(!shown.contains("remoteRef.version"), "{shown}");
    }
}
