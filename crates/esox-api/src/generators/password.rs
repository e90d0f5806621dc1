//! The `Password` generator kind.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the password generator.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Password",
    namespaced,
    category = "external-secrets",
    category = "external-secrets-generators",
    derive = "PartialEq",
    doc = "Generates a random password whose length and character classes are set in spec."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordSpec {
    /// Number of characters of the password.
    #[serde(default = "default_length")]
    #[schemars(schema_with = "go_int")]
    pub length: i64,
    /// Number of digits among them; a quarter of `length` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "go_int")]
    pub digits: Option<i64>,
    /// Number of symbols among them; a quarter of `length` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "go_int")]
    pub symbols: Option<i64>,
    /// Characters symbols are drawn from, replacing the built-in set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol_characters: Option<String>,
    /// Leaves out upper-case letters.
    #[serde(default)]
    pub no_upper: bool,
    /// Lets a character occur more than once.
    #[serde(default)]
    pub allow_repeat: bool,
    /// Output keys, each given its own password; a single `password` key when unset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1))]
    pub secret_keys: Vec<String>,
    /// Encoding applied to the generated password.
    #[serde(default)]
    pub encoding: PasswordEncoding,
}

fn default_length() -> i64 {
    24
}

/// Encoding of a generated password.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PasswordEncoding {
    /// Standard base64 with padding.
    Base64,
    /// URL-safe base64 with padding.
    Base64url,
    /// Standard base32.
    Base32,
    /// Lower-case hexadecimal.
    Hex,
    /// The password as generated.
    #[default]
    Raw,
}

impl Default for PasswordSpec {
    fn default() -> Self {
        Self {
            length: default_length(),
            digits: None,
            symbols: None,
            symbol_characters: None,
            no_upper: false,
            allow_repeat: false,
            secret_keys: Vec::new(),
            encoding: PasswordEncoding::Raw,
        }
    }
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
kind: Password
metadata:
  name: db-password
  namespace: team-a
spec:
  length: 42
  digits: 5
  symbols: 5
  symbolCharacters: "-_$@"
  noUpper: false
  allowRepeat: true
  secretKeys: [password, replica-password]
  encoding: base64url
"#;

    #[test]
    fn manifest_round_trips() {
        let typed: Password = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(typed.spec.encoding, PasswordEncoding::Base64url);
    }

    #[test]
    fn empty_spec_takes_the_crd_defaults() {
        let spec: PasswordSpec = serde_saphyr::from_str("{}").unwrap();
        assert_eq!(spec, PasswordSpec::default());
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            serde_json::json!({"length": 24, "noUpper": false, "allowRepeat": false, "encoding": "raw"})
        );
    }

    #[test]
    fn unknown_field_is_rejected_by_name() {
        let err = serde_saphyr::from_str::<PasswordSpec>("length: 8\nuppercase: false\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("uppercase"), "{err}");
    }

    #[test]
    fn unknown_encoding_is_rejected() {
        let err = serde_saphyr::from_str::<PasswordSpec>("encoding: base58\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("base58"), "{err}");
    }
}
