//! The `VaultDynamicSecret` generator kind: one call to any Vault path, through the same
//! connection and login settings as a Vault SecretStore.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::v1::RetrySettings;
use crate::v1::providers::vault::VaultProvider;

/// Settings of a call to Vault whose response becomes the generated values.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "VaultDynamicSecret",
    namespaced,
    category = "external-secrets",
    category = "external-secrets-generators",
    derive = "PartialEq",
    doc = "Calls a Vault path (a dynamic secrets engine, a token creation, a read) and returns \
           part of the response as the generated values."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultDynamicSecretSpec {
    /// Controller class that handles this generator; any controller when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub controller: String,
    /// HTTP method of the call: GET (the default), LIST, DELETE, or a write such as POST or
    /// PUT, which sends `parameters` as the body.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// Body of a write call (any method other than GET, LIST and DELETE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<AnyJson>,
    /// Query-string parameters of a GET call; each key may carry several values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub get_parameters: BTreeMap<String, Vec<String>>,
    /// Which part of the response is returned: `data` (Data), `auth` (Auth, e.g. for
    /// `auth/token/create`) or the whole response (Raw).
    #[serde(default)]
    pub result_type: VaultDynamicSecretResultType,
    /// Retries of failed HTTP calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_settings: Option<RetrySettings>,
    /// Address, TLS and login settings, as in a Vault SecretStore.
    pub provider: VaultProvider,
    /// Vault path of the call, such as `database/creds/app` (no `/v1/` prefix).
    pub path: String,
    /// Succeed with no values when Vault answers with no content.
    #[serde(default)]
    pub allow_empty_response: bool,
}

/// Which part of Vault's response the generator returns.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum VaultDynamicSecretResultType {
    #[default]
    Data,
    Auth,
    Raw,
}

/// Any JSON value, kept as written (ESO's `parameters` has no type in its schema).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(transparent)]
pub struct AnyJson(pub serde_json::Value);

// Request parameters may carry credentials (a password for a database role): Debug shows
// the top-level field names only.
impl std::fmt::Debug for AnyJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            serde_json::Value::Object(fields) => f
                .debug_struct("AnyJson")
                .field("field_names", &fields.keys().collect::<Vec<_>>())
                .finish(),
            _ => f.write_str("AnyJson(..)"),
        }
    }
}

impl JsonSchema for AnyJson {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AnyJson".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: VaultDynamicSecret
metadata:
  name: db-creds
  namespace: team-a
spec:
  method: POST
  path: pki/issue/example
  parameters:
    common_name: app.example.com
    ttl: 1h
  resultType: Raw
  retrySettings:
    maxRetries: 2
    retryInterval: 1s
  allowEmptyResponse: true
  provider:
    server: https://vault.example.com:8200
    auth:
      kubernetes:
        role: app
        serviceAccountRef:
          name: app
"#;

    #[test]
    fn manifest_round_trips() {
        let typed: VaultDynamicSecret = serde_saphyr::from_str(MANIFEST).unwrap();
        let mut expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        // Defaults the provider fills in when absent.
        expected["spec"]["provider"]["version"] = "v2".into();
        expected["spec"]["provider"]["auth"]["kubernetes"]["mountPath"] = "kubernetes".into();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(typed.spec.result_type, VaultDynamicSecretResultType::Raw);
        assert_eq!(
            typed.spec.parameters.unwrap().0["common_name"],
            "app.example.com"
        );
    }

    #[test]
    fn debug_shows_parameter_names_not_values() {
        let p = AnyJson(serde_json::json!({"password": "hunter2", "ttl": "1h"}));
        let shown = format!("{p:?}");
        assert!(
            shown.contains("password") && shown.contains("ttl"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn result_type_defaults_to_data_and_unknown_ones_are_refused() {
        let spec: VaultDynamicSecretSpec =
            serde_saphyr::from_str("path: x\nprovider: {server: http://v}\n").unwrap();
        assert_eq!(spec.result_type, VaultDynamicSecretResultType::Data);
        assert!(!spec.allow_empty_response);
        let err = serde_saphyr::from_str::<VaultDynamicSecretSpec>(
            "path: x\nresultType: Lease\nprovider: {server: http://v}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("Lease"), "{err}");
    }
}
