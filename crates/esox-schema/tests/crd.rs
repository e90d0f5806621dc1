//! `validate_crd`: the realistic fixture passes, and each CRD-level rule refuses a broken copy.

mod common;

use common::{external_secret_crd, lines};
use esox_schema::{ValidateOptions, validate_crd, validate_crd_with};
use serde_json::{Value, json};

fn with(mut crd: Value, pointer: &str, value: Value) -> Value {
    *crd.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} exists")) = value;
    crd
}

fn errors_of(crd: &Value) -> Vec<String> {
    lines(validate_crd(crd))
}

#[test]
fn fixture_crd_is_valid_for_1_24_and_latest() {
    let crd = external_secret_crd();
    assert_eq!(errors_of(&crd), Vec::<String>::new());
    let latest = ValidateOptions {
        kubernetes_minor: 34,
        ..ValidateOptions::default()
    };
    assert_eq!(
        lines(validate_crd_with(&crd, &latest)),
        Vec::<String>::new()
    );
}

#[test]
fn name_must_be_plural_dot_group() {
    let crd = with(
        external_secret_crd(),
        "/metadata/name",
        json!("secrets.external-secrets.io"),
    );
    let errors = errors_of(&crd);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("metadata.name: Invalid value: \"secrets.external-secrets.io\": must be spec.names.plural+\".\"+spec.group"), "{errors:?}");
}

#[test]
fn group_needs_a_dot_and_scope_is_enumerated() {
    let crd = with(
        external_secret_crd(),
        "/spec/group",
        json!("externalsecrets"),
    );
    let crd = with(
        crd,
        "/metadata/name",
        json!("externalsecrets.externalsecrets"),
    );
    let crd = with(crd, "/spec/scope", json!("Global"));
    let errors = errors_of(&crd);
    assert!(errors.contains(&"spec.group: Invalid value: \"externalsecrets\": should be a domain with at least one dot".to_string()), "{errors:?}");
    assert!(errors.contains(&"spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"".to_string()), "{errors:?}");
}

#[test]
fn names_are_dns_labels_and_kind_differs_from_list_kind() {
    let crd = with(
        external_secret_crd(),
        "/spec/names/listKind",
        json!("ExternalSecret"),
    );
    let crd = with(crd, "/spec/names/shortNames", json!(["ES"]));
    let errors = errors_of(&crd);
    assert!(errors.iter().any(|e| e == "spec.names.listKind: Invalid value: \"ExternalSecret\": kind and listKind may not be the same"), "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e
                .starts_with("spec.names.shortNames[0]: Invalid value: \"ES\": a DNS-1035 label")),
        "{errors:?}"
    );
}

#[test]
fn exactly_one_storage_version_and_unique_names() {
    let mut crd = external_secret_crd();
    let v1 = crd["spec"]["versions"][0].clone();
    let mut v2 = v1.clone();
    v2["name"] = json!("v1");
    crd["spec"]["versions"] = json!([v1, v2]);
    let errors = errors_of(&crd);
    assert!(
        errors
            .iter()
            .any(|e| e.ends_with("must have exactly one version marked as storage version")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.ends_with("must contain unique version names")),
        "{errors:?}"
    );

    let crd = with(
        external_secret_crd(),
        "/spec/versions/0/storage",
        json!(false),
    );
    assert!(
        errors_of(&crd)
            .iter()
            .any(|e| e.ends_with("must have exactly one version marked as storage version"))
    );
}

#[test]
fn a_version_must_be_served_and_have_a_schema() {
    let crd = with(
        external_secret_crd(),
        "/spec/versions/0/served",
        json!(false),
    );
    assert!(
        errors_of(&crd)
            .iter()
            .any(|e| e.ends_with("must have at least one version marked as served"))
    );
    let mut crd = external_secret_crd();
    crd["spec"]["versions"][0]
        .as_object_mut()
        .unwrap()
        .remove("schema");
    assert_eq!(
        errors_of(&crd),
        vec!["spec.versions[0].schema.openAPIV3Schema: Required value".to_string()]
    );
}

#[test]
fn printer_columns_need_a_simple_json_path_and_known_type() {
    let crd = with(
        external_secret_crd(),
        "/spec/versions/0/additionalPrinterColumns/0/jsonPath",
        json!("spec.secretStoreRef.name"),
    );
    let crd = with(
        crd,
        "/spec/versions/0/additionalPrinterColumns/1/type",
        json!("duration"),
    );
    let errors = errors_of(&crd);
    assert!(errors.contains(&"spec.versions[0].additionalPrinterColumns[0].JSONPath: Invalid value: \"spec.secretStoreRef.name\": must be a simple json path starting with .".to_string()), "{errors:?}");
    assert!(errors.contains(&"spec.versions[0].additionalPrinterColumns[1].type: Invalid value: \"duration\": must be one of boolean,date,integer,number,string".to_string()), "{errors:?}");
}

#[test]
fn scale_subresource_paths_must_be_under_spec_and_status() {
    let crd = with(
        external_secret_crd(),
        "/spec/versions/0/subresources",
        json!({"status": {}, "scale": {"specReplicasPath": ".status.replicas", "statusReplicasPath": ".status.replicas"}}),
    );
    let errors = errors_of(&crd);
    assert_eq!(errors, vec!["spec.versions[0].subresources.scale.specReplicasPath: Invalid value: \".status.replicas\": should be a json path under .spec".to_string()]);
    let ok = with(
        external_secret_crd(),
        "/spec/versions/0/subresources",
        json!({"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}}),
    );
    assert_eq!(errors_of(&ok), Vec::<String>::new());
}

#[test]
fn status_subresource_restricts_root_schema_fields() {
    let mut crd = external_secret_crd();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["minProperties"] = json!(1);
    let errors = errors_of(&crd);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("fields are allowed at the root of the schema if the status subresource is enabled (found minProperties)"), "{errors:?}");
    // Without the status subresource the same root keyword is fine.
    crd["spec"]["versions"][0]["subresources"] = json!({});
    assert_eq!(errors_of(&crd), Vec::<String>::new());
}

#[test]
fn selectable_fields_depend_on_the_target_version() {
    let crd = with(
        external_secret_crd(),
        "/spec/versions/0/additionalPrinterColumns",
        json!([]),
    );
    let mut crd = crd;
    crd["spec"]["versions"][0]["selectableFields"] =
        json!([{"jsonPath": ".spec.secretStoreRef.name"}]);
    let errors = errors_of(&crd);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("spec.versions[0].selectableFields: Forbidden: selectableFields are not supported by Kubernetes 1.24"), "{errors:?}");
    let v132 = ValidateOptions {
        kubernetes_minor: 32,
        ..ValidateOptions::default()
    };
    assert_eq!(lines(validate_crd_with(&crd, &v132)), Vec::<String>::new());
    let gated = ValidateOptions {
        allow_selectable_fields: true,
        ..ValidateOptions::default()
    };
    assert_eq!(lines(validate_crd_with(&crd, &gated)), Vec::<String>::new());

    crd["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.data"}, {"jsonPath": ".spec.nope"}, {"jsonPath": ".metadata.name"}]);
    let errors = lines(validate_crd_with(&crd, &v132));
    assert!(errors.iter().any(|e| e.starts_with("spec.versions[0].selectableFields[0].jsonPath: Invalid value: \".spec.data\": must point to a field of type string, boolean or integer")), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with("spec.versions[0].selectableFields[1].jsonPath: Invalid value: \".spec.nope\": is an invalid path")), "{errors:?}");
}

#[test]
fn schema_errors_are_reported_under_the_version_path() {
    let crd = with(
        external_secret_crd(),
        "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/refreshInterval/type",
        json!("duration"),
    );
    let errors = errors_of(&crd);
    assert!(
        errors.iter().any(|e| e.starts_with("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[refreshInterval].type: Unsupported value: \"duration\"")),
        "{errors:?}"
    );
}

#[test]
fn rule_fields_newer_than_the_target_are_refused() {
    let mut crd = external_secret_crd();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"]
        [0]["messageExpression"] = json!("'missing data in ' + self.refreshInterval");
    let errors = errors_of(&crd);
    assert_eq!(
        errors,
        vec!["spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].messageExpression: Forbidden: not supported by Kubernetes 1.24 (added in 1.27); only rule and message are".to_string()]
    );
    let v128 = ValidateOptions {
        kubernetes_minor: 28,
        ..ValidateOptions::default()
    };
    assert_eq!(lines(validate_crd_with(&crd, &v128)), Vec::<String>::new());
}

#[test]
fn wrong_api_version_and_kind_are_reported() {
    let crd = with(
        external_secret_crd(),
        "/apiVersion",
        json!("apiextensions.k8s.io/v1beta1"),
    );
    assert_eq!(
        errors_of(&crd),
        vec!["apiVersion: Invalid value: \"apiextensions.k8s.io/v1beta1\": must be apiextensions.k8s.io/v1".to_string()]
    );
}

#[test]
fn crd_total_cost_limit_is_enforced() {
    // 40 rules each scanning a 1,000,000-character string (~100k cost) in a list of 40 items:
    // each ~4M (under the per-rule 10M limit) but together ~160M, over the 100M CRD limit.
    let rules: Vec<Value> = (0..40)
        .map(|i| json!({"rule": format!("self.s.contains('{i}')")}))
        .collect();
    let mut crd = external_secret_crd();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["items"] = json!({
        "type": "array", "maxItems": 40,
        "items": {"type": "object", "properties": {"s": {"type": "string", "maxLength": 1_000_000}}, "x-kubernetes-validations": rules}
    });
    let errors = errors_of(&crd);
    assert!(errors.iter().any(|e| e.starts_with("spec.versions[0].schema.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget")), "{errors:?}");
    assert!(
        !errors
            .iter()
            .any(|e| e.contains("estimated rule cost exceeds budget")),
        "{errors:?}"
    );
}

#[test]
fn unknown_crd_fields_are_reported() {
    let mut crd = external_secret_crd();
    crd["spec"]["version"] = json!("v1");
    crd["spec"]["versions"][0]["printerColumns"] = json!([]);
    let errors = errors_of(&crd);
    assert_eq!(
        errors,
        vec![
            "spec.versions[0]: Invalid value: unknown field \"printerColumns\"".to_string(),
            "spec: Invalid value: unknown field \"version\"".to_string(),
        ]
    );
}
