//! Shared helpers for the integration tests.
#![allow(dead_code)]

use serde_json::Value;

/// The ESO-like ExternalSecret CRD fixture, as JSON.
pub fn external_secret_crd() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/externalsecret-crd.yaml"
    ))
    .expect("fixture readable");
    serde_saphyr::from_str(&text).expect("fixture is YAML")
}

/// The fixture's v1 `openAPIV3Schema`.
pub fn external_secret_schema() -> Value {
    external_secret_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Error lines of a result, or an empty list when it passed.
pub fn lines(result: Result<(), Vec<esox_schema::FieldError>>) -> Vec<String> {
    match result {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// A root object schema with the given `spec` schema.
pub fn root_with_spec(spec: Value) -> Value {
    serde_json::json!({"type": "object", "properties": {"spec": spec}})
}
