//! The `UUID` generator kind.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The UUID generator takes no settings.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "UUID",
    root = "Uuid",
    namespaced,
    category = "external-secrets",
    category = "external-secrets-generators",
    derive = "PartialEq",
    doc = "Generates a random UUID under the key `uuid`."
)]
#[serde(deny_unknown_fields)]
#[schemars(transform = open_object)]
pub struct UuidSpec {}

// deny_unknown_fields makes schemars emit `additionalProperties: false`, which the structural
// schema rewriter only strips from objects that have properties. ESO's schema is a bare
// object (the API server prunes whatever it is given), so keep it that way.
fn open_object(schema: &mut schemars::Schema) {
    schema.remove("additionalProperties");
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: UUID
metadata:
  name: request-id
  namespace: team-a
spec: {}
"#;

    #[test]
    fn manifest_round_trips() {
        let typed: Uuid = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(typed.metadata.name.as_deref(), Some("request-id"));
    }

    #[test]
    fn unknown_field_is_rejected_by_name() {
        let err = serde_saphyr::from_str::<UuidSpec>("version: 4\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("version"), "{err}");
    }
}
