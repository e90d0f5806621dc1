//! Helpers that put Kubernetes-specific extensions into generated schemas.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// One CEL validation rule. Only `rule` and `message` are used: Kubernetes 1.24 knows no other field.
pub fn cel(rule: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "rule": rule, "message": message })
}

/// A free-form JSON object: kept as written, never pruned (for provider-specific metadata and
/// for the store and generator kinds esox does not implement).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct FreeForm(pub serde_json::Value);

impl JsonSchema for FreeForm {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FreeForm".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        })
    }

    fn inline_schema() -> bool {
        true
    }
}
