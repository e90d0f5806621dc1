//! The `MFA` generator kind: an RFC 6238 time-based one-time password from a seed kept in a
//! Secret.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::SecretKeySelector;

/// Settings of the TOTP generator.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "MFA",
    root = "Mfa",
    namespaced,
    category = "external-secrets",
    category = "external-secrets-generators",
    derive = "PartialEq",
    doc = "Generates an RFC 6238 TOTP code (`token`) and its remaining seconds (`timeLeft`) \
           from a base32 seed kept in a Secret."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaSpec {
    /// Secret key holding the base32 seed, in the generator's namespace.
    pub secret: SecretKeySelector,
    /// Digits of the code; 6 when unset or 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(schema_with = "go_int")]
    pub length: i64,
    /// Seconds a code stays valid; 30 when unset or 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(schema_with = "go_int")]
    pub time_period: i64,
    /// HMAC hash: `sha1` (default), `sha256`, `sha512` (also `sha384`, `sha512_256`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub algorithm: String,
    /// Fixed time the code is computed for; now when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Time>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
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
kind: MFA
metadata:
  name: totp
  namespace: team-a
spec:
  secret:
    name: totp-seed
    key: seed
  length: 8
  timePeriod: 60
  algorithm: sha256
  when: "2033-05-18T03:33:20Z"
"#;

    #[test]
    fn manifest_round_trips() {
        let typed: Mfa = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(typed.spec.length, 8);
        assert_eq!(typed.spec.when.unwrap().0.as_second(), 2_000_000_000);
    }

    #[test]
    fn secret_is_required_and_unknown_fields_are_named() {
        let err = serde_saphyr::from_str::<MfaSpec>("length: 6\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("secret"), "{err}");
        let err = serde_saphyr::from_str::<MfaSpec>("secret: {name: s, key: k}\ndigits: 6\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("digits"), "{err}");
    }
}
