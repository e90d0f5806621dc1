//! The `SSHKey` generator kind.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the SSH key pair generator.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "SSHKey",
    root = "SshKey",
    namespaced,
    category = "external-secrets",
    category = "external-secrets-generators",
    derive = "PartialEq",
    doc = "Generates an SSH key pair (private and public key)."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SshKeySpec {
    /// Algorithm of the key pair.
    #[serde(default)]
    pub key_type: SshKeyType,
    /// Key size in bits: 2048, 3072 or 4096 for RSA (2048 when unset), 256, 384 or 521 for
    /// ECDSA (256 when unset). Not used for Ed25519.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 256, max = 8192))]
    #[schemars(schema_with = "go_int")]
    pub key_size: Option<i64>,
    /// Comment written after the public key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
}

/// Algorithm of an SSH key pair.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SshKeyType {
    #[default]
    Rsa,
    Ecdsa,
    Ed25519,
}

/// Schema of a Go `int`: an integer with no declared width.
fn go_int(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "integer" })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: SSHKey
metadata:
  name: deploy-key
  namespace: team-a
spec:
  keyType: ecdsa
  keySize: 384
  comment: deploy@example.com
"#;

    #[test]
    fn manifest_round_trips() {
        let typed: SshKey = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(typed.spec.key_type, SshKeyType::Ecdsa);
    }

    #[test]
    fn key_type_defaults_to_rsa() {
        let spec: SshKeySpec = serde_saphyr::from_str("comment: c\n").unwrap();
        assert_eq!(spec.key_type, SshKeyType::Rsa);
        assert_eq!(spec.key_size, None);
    }

    #[test]
    fn unknown_field_is_rejected_by_name() {
        let err = serde_saphyr::from_str::<SshKeySpec>("keyType: rsa\nbits: 4096\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bits"), "{err}");
    }

    #[test]
    fn unknown_key_type_is_rejected() {
        let err = serde_saphyr::from_str::<SshKeySpec>("keyType: dsa\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("dsa"), "{err}");
    }
}
