//! The `Fake` generator kind: returns the same static data on every call, for tests.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Static data returned by the fake generator.
#[derive(CustomResource, Serialize, Deserialize, Clone, Default, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Fake",
    namespaced,
    category = "external-secrets",
    category = "external-secrets-generators",
    derive = "PartialEq",
    doc = "Returns the fixed key/value pairs of spec.data on every call; meant for tests."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FakeSpec {
    /// Controller class that handles this generator; any controller when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub controller: String,
    /// The key/value pairs returned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

// The values stand in for credentials and are often copied from real ones: show keys only.
impl std::fmt::Debug for FakeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSpec")
            .field("controller", &self.controller)
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: Fake
metadata:
  name: static-creds
  namespace: team-a
spec:
  controller: dev
  data:
    username: admin
    password: s3cr3t-from-fake
"#;

    #[test]
    fn manifest_round_trips() {
        let typed: Fake = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(typed.spec.data["username"], "admin");
    }

    #[test]
    fn unknown_field_is_rejected_by_name() {
        let err = serde_saphyr::from_str::<FakeSpec>("values:\n  a: b\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("values"), "{err}");
    }

    #[test]
    fn debug_hides_values() {
        let typed: Fake = serde_saphyr::from_str(MANIFEST).unwrap();
        let shown = format!("{typed:?}");
        assert!(shown.contains("password"), "{shown}");
        assert!(!shown.contains("s3cr3t-from-fake"), "{shown}");
    }
}
