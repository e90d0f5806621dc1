//! `CompiledSchema` on custom resources: pruning, defaulting, OpenAPI validation, list types and
//! CEL rules with `self`/`oldSelf`, with messages as the API server prints them.

mod common;

use common::{external_secret_schema, root_with_spec};
use esox_schema::{CompiledSchema, FieldErrorKind, SchemaError};
use serde_json::{Value, json};

fn es_schema() -> CompiledSchema {
    CompiledSchema::compile(&external_secret_schema()).expect("fixture schema compiles")
}

fn external_secret(spec: Value) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
           "metadata": {"name": "db", "namespace": "default", "labels": {"app": "db"}}, "spec": spec})
}

fn error_lines(schema: &CompiledSchema, obj: &Value, old: Option<&Value>) -> Vec<String> {
    schema
        .validate(obj, old)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn realistic_external_secret_is_pruned_defaulted_and_valid() {
    let schema = es_schema();
    let mut obj = external_secret(json!({
        "secretStoreRef": {"name": "vault"},
        "data": [{"secretKey": "password", "remoteRef": {"key": "db/creds", "property": "password", "bogus": 1}}],
        "unknownField": true
    }));
    schema.admit(&mut obj, None).expect("valid");
    let spec = &obj["spec"];
    assert_eq!(spec.get("unknownField"), None, "unknown spec field pruned");
    assert_eq!(
        spec["data"][0]["remoteRef"].get("bogus"),
        None,
        "unknown nested field pruned"
    );
    assert_eq!(spec["refreshInterval"], "1h");
    assert_eq!(spec["secretStoreRef"]["kind"], "SecretStore");
    assert_eq!(
        spec["target"],
        json!({"creationPolicy": "Owner", "deletionPolicy": "Retain"})
    );
    assert_eq!(
        spec["data"][0]["remoteRef"]["conversionStrategy"],
        "Default"
    );
    assert_eq!(spec["data"][0]["remoteRef"]["decodingStrategy"], "None");
    assert_eq!(spec["data"][0]["remoteRef"]["metadataPolicy"], "None");
    assert_eq!(
        obj["metadata"]["labels"]["app"], "db",
        "metadata is not pruned by the schema"
    );
    assert_eq!(obj["apiVersion"], "external-secrets.io/v1");
}

#[test]
fn preserve_unknown_fields_keeps_the_template_verbatim() {
    let schema = es_schema();
    let template = json!({"type": "Opaque", "data": {"url": "{{ .host }}"}, "engineVersion": "v2"});
    let mut obj = external_secret(
        json!({"secretStoreRef": {"name": "vault"}, "dataFrom": [{"extract": {"key": "k"}}], "target": {"template": template}}),
    );
    schema.prune(&mut obj);
    assert_eq!(obj["spec"]["target"]["template"], template);
}

#[test]
fn defaults_replace_null_in_non_nullable_fields_and_keep_nullable_nulls() {
    let schema = es_schema();
    let mut obj = external_secret(
        json!({"refreshInterval": null, "secretStoreRef": {"name": "v", "kind": null}, "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}),
    );
    obj["status"] = json!({"refreshTime": null, "syncedResourceVersion": null});
    schema.apply_defaults(&mut obj);
    assert_eq!(obj["spec"]["refreshInterval"], "1h");
    assert_eq!(obj["spec"]["secretStoreRef"]["kind"], "SecretStore");
    assert_eq!(
        obj["status"]["refreshTime"],
        Value::Null,
        "nullable null kept"
    );
    assert_eq!(
        obj["status"].get("syncedResourceVersion"),
        None,
        "non-nullable null without default dropped"
    );
}

#[test]
fn defaults_do_not_override_present_values() {
    let schema = es_schema();
    let mut obj = external_secret(
        json!({"refreshInterval": "5m", "secretStoreRef": {"name": "v", "kind": "ClusterSecretStore"}, "dataFrom": [{"extract": {"key": "k"}}]}),
    );
    schema.apply_defaults(&mut obj);
    assert_eq!(obj["spec"]["refreshInterval"], "5m");
    assert_eq!(obj["spec"]["secretStoreRef"]["kind"], "ClusterSecretStore");
}

#[test]
fn openapi_errors_print_like_the_api_server() {
    let schema = es_schema();
    let mut obj = external_secret(json!({
        "refreshInterval": 5,
        "secretStoreRef": {"kind": "Vault"},
        "data": [{"secretKey": "", "remoteRef": {"key": "k"}}, {"remoteRef": {"key": "k2"}}]
    }));
    schema.apply_defaults(&mut obj);
    let mut errors = error_lines(&schema, &obj, None);
    errors.sort();
    assert_eq!(
        errors,
        vec![
            "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            "spec.data[0].secretKey: Invalid value: \"\": spec.data[0].secretKey in body should be at least 1 chars long",
            "spec.data[1].secretKey: Required value",
            "spec.refreshInterval: Invalid value: \"integer\": spec.refreshInterval in body must be of type string: \"integer\"",
            "spec.secretStoreRef.kind: Unsupported value: \"Vault\": supported values: \"SecretStore\", \"ClusterSecretStore\"",
            "spec.secretStoreRef.name: Required value",
        ]
    );
    let found = schema.validate(&obj, None);
    let reasons: Vec<&str> = found.iter().map(|e| e.kind.reason()).collect();
    assert!(reasons.contains(&"FieldValueRequired"));
    assert!(reasons.contains(&"FieldValueNotSupported"));
    assert!(reasons.contains(&"FieldValueTypeInvalid"));
    assert!(reasons.contains(&"FieldValueInvalid"));
}

#[test]
fn cel_rules_run_alongside_non_blocking_schema_errors() {
    let schema = es_schema();
    let obj = external_secret(
        json!({"secretStoreRef": {"name": "v"}, "data": [{"secretKey": "", "remoteRef": {"key": "k"}}]}),
    );
    assert_eq!(
        error_lines(&schema, &obj, None),
        vec![
            "spec.data[0].secretKey: Invalid value: \"\": spec.data[0].secretKey in body should be at least 1 chars long",
            "spec.data[0]: Invalid value: \"object\": secretKey must be a valid Secret data key",
        ]
    );
}

#[test]
fn lengths_count_code_points_and_limits_print_too_long_and_too_many() {
    let schema = CompiledSchema::compile(&root_with_spec(json!({"type": "object", "properties": {
        "s": {"type": "string", "maxLength": 3},
        "l": {"type": "array", "maxItems": 1, "minItems": 1, "items": {"type": "integer"}}
    }})))
    .unwrap();
    assert_eq!(
        error_lines(&schema, &json!({"spec": {"s": "äöü", "l": [1]}}), None),
        Vec::<String>::new()
    );
    let errors = schema.validate(&json!({"spec": {"s": "äöüß", "l": [1, 2]}}), None);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        shown.contains(&"spec.s: Too long: may not be more than 3 bytes".to_string()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"spec.l: Too many: 2: must have at most 1 items".to_string()),
        "{shown:?}"
    );
    let kinds: Vec<FieldErrorKind> = errors.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&FieldErrorKind::TooLong) && kinds.contains(&FieldErrorKind::TooMany));
    let empty = error_lines(&schema, &json!({"spec": {"l": []}}), None);
    assert_eq!(
        empty,
        vec!["spec.l: Invalid value: []: spec.l in body should have at least 1 items".to_string()]
    );
}

#[test]
fn numbers_patterns_formats_and_nullable() {
    let schema = CompiledSchema::compile(&root_with_spec(json!({"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 10, "multipleOf": 2},
        "x": {"type": "number", "exclusiveMinimum": true, "minimum": 0},
        "p": {"type": "string", "pattern": "^[a-z]+$"},
        "t": {"type": "string", "format": "date-time"},
        "u": {"type": "string", "nullable": true},
        "v": {"type": "string"}
    }})))
    .unwrap();
    let ok = json!({"spec": {"n": 4, "x": 0.5, "p": "abc", "t": "2024-05-01T10:00:00Z", "u": null, "v": "s"}});
    assert_eq!(error_lines(&schema, &ok, None), Vec::<String>::new());
    let bad = json!({"spec": {"n": 11, "x": 0, "p": "ABC", "t": "yesterday", "v": null}});
    let mut errors = error_lines(&schema, &bad, None);
    errors.sort();
    assert_eq!(
        errors,
        vec![
            "spec.n: Invalid value: 11: spec.n in body should be a multiple of 2",
            "spec.n: Invalid value: 11: spec.n in body should be less than or equal to 10",
            "spec.p: Invalid value: \"ABC\": spec.p in body should match '^[a-z]+$'",
            "spec.t: Invalid value: \"yesterday\": spec.t in body must be of type date-time: \"yesterday\"",
            "spec.v: Invalid value: \"null\": spec.v in body must be of type string: \"null\"",
            "spec.x: Invalid value: 0: spec.x in body should be greater than 0",
        ]
    );
    // 1.5 is a number, not an integer.
    assert_eq!(
        error_lines(&schema, &json!({"spec": {"n": 1.5}}), None),
        vec![
            "spec.n: Invalid value: \"number\": spec.n in body must be of type integer: \"number\""
                .to_string()
        ]
    );
}

#[test]
fn junctors_validate_the_same_value() {
    let schema = CompiledSchema::compile(&root_with_spec(json!({"type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
        "not": {"required": ["c"]}
    })))
    .unwrap();
    assert_eq!(
        error_lines(&schema, &json!({"spec": {"a": "x"}}), None),
        Vec::<String>::new()
    );
    assert_eq!(
        error_lines(&schema, &json!({"spec": {"a": "x", "b": "y"}}), None),
        vec!["spec: Invalid value: \"object\": spec in body must validate one and only one schema (oneOf)".to_string()]
    );
    let any = CompiledSchema::compile(&root_with_spec(json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}], "allOf": [{"pattern": "^[0-9]+%$"}]}))).unwrap();
    assert_eq!(
        error_lines(&any, &json!({"spec": "50%"}), None),
        Vec::<String>::new()
    );
    assert_eq!(
        error_lines(&any, &json!({"spec": 3}), None),
        Vec::<String>::new()
    );
    assert_eq!(
        error_lines(&any, &json!({"spec": true}), None),
        vec!["spec: Invalid value: \"boolean\": spec in body must be of type integer,string: \"boolean\"".to_string()]
    );
    assert_eq!(
        error_lines(&any, &json!({"spec": "half"}), None),
        vec!["spec: Invalid value: \"half\": spec in body should match '^[0-9]+%$'".to_string()]
    );
}

#[test]
fn list_type_set_and_map_uniqueness() {
    let schema = es_schema();
    let mut obj = external_secret(
        json!({"secretStoreRef": {"name": "v"}, "dataFrom": [{"extract": {"key": "k"}}]}),
    );
    obj["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}, {"type": "Ready", "status": "False"}]});
    assert_eq!(
        error_lines(&schema, &obj, None),
        vec!["status.conditions[1]: Duplicate value: {\"type\":\"Ready\"}".to_string()]
    );
    let set = CompiledSchema::compile(&root_with_spec(
        json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}),
    ))
    .unwrap();
    assert_eq!(
        error_lines(&set, &json!({"spec": ["a", "b", "a"]}), None),
        vec!["spec[2]: Duplicate value: \"a\"".to_string()]
    );
    assert_eq!(
        error_lines(&set, &json!({"spec": ["a", "b"]}), None),
        Vec::<String>::new()
    );
}

#[test]
fn cel_rule_message_or_failed_rule_at_the_node_path() {
    let schema = es_schema();
    let obj = external_secret(json!({"secretStoreRef": {"name": "v"}}));
    let errors = schema.validate(&obj, None);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].to_string(),
        "spec: Invalid value: \"object\": either data or dataFrom should be specified"
    );
    assert_eq!(errors[0].kind.reason(), "FieldValueInvalid");

    let plain = CompiledSchema::compile(&root_with_spec(json!({"type": "object", "properties": {"n": {"type": "integer"}}, "x-kubernetes-validations": [{"rule": "self.n > 2"}]}))).unwrap();
    assert_eq!(
        error_lines(&plain, &json!({"spec": {"n": 1}}), None),
        vec!["spec: Invalid value: \"object\": failed rule: self.n > 2".to_string()]
    );
    // Absent field: the evaluation error is reported, as the server reports "no such key".
    let missing = error_lines(&plain, &json!({"spec": {}}), None);
    assert_eq!(
        missing,
        vec![
            "spec: Invalid value: \"object\": no such key: n evaluating rule: self.n > 2"
                .to_string()
        ]
    );
    let indexed = CompiledSchema::compile(&root_with_spec(json!({"type": "array", "maxItems": 5, "items": {"type": "integer"}, "x-kubernetes-validations": [{"rule": "self[2] > 0"}]}))).unwrap();
    assert_eq!(
        error_lines(&indexed, &json!({"spec": [1]}), None),
        vec![
            "spec: Invalid value: \"array\": index out of bounds: 2 evaluating rule: self[2] > 0"
                .to_string()
        ]
    );
}

#[test]
fn cel_scalar_nodes_show_their_value_and_reason_and_field_path_apply() {
    let schema = CompiledSchema::compile(&root_with_spec(json!({"type": "object",
        "properties": {"port": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= 1024", "message": "must be unprivileged"}]},
                       "a": {"type": "string"}},
        "x-kubernetes-validations": [{"rule": "has(self.a)", "message": "a is required", "reason": "FieldValueRequired", "fieldPath": ".a"}]
    }))).unwrap();
    let errors = schema.validate(&json!({"spec": {"port": 80}}), None);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        shown.contains(&"spec.port: Invalid value: 80: must be unprivileged".to_string()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"spec.a: Required value: a is required".to_string()),
        "{shown:?}"
    );
}

#[test]
fn cel_macros_and_functions_commonly_used_in_crds() {
    let schema = CompiledSchema::compile(&root_with_spec(json!({"type": "object",
        "properties": {
            "names": {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 20}},
            "mode": {"type": "string", "maxLength": 10},
            "labels": {"type": "object", "maxProperties": 5, "additionalProperties": {"type": "string", "maxLength": 10}},
            "ratio": {"type": "number"},
            "count": {"type": "integer"}
        },
        "x-kubernetes-validations": [
            {"rule": "self.names.all(n, n.startsWith('x') && n.endsWith('z'))", "message": "all"},
            {"rule": "self.names.exists(n, n.contains('mid'))", "message": "exists"},
            {"rule": "self.names.exists_one(n, n == 'xmidz')", "message": "exists_one"},
            {"rule": "self.mode in ['a', 'b']", "message": "in"},
            {"rule": "size(self.names) <= 3 ? true : self.mode == 'b'", "message": "ternary"},
            {"rule": "self.names.map(n, size(n)).all(s, s >= 3) && self.names.filter(n, n.size() > 4).size() >= 1", "message": "map-filter"},
            {"rule": "'team' in self.labels && self.labels.all(k, k.matches('^[a-z]+$'))", "message": "map-keys"},
            {"rule": "{'a': 1, 'b': 2}[self.mode] >= 1", "message": "map-literal"},
            {"rule": "self.ratio * 2.0 <= 1.0 && self.count * 2 == 4", "message": "numbers"}
        ]
    }))).unwrap();
    let ok = json!({"spec": {"names": ["xaz", "xmidz"], "mode": "a", "labels": {"team": "x"}, "ratio": 0, "count": 2}});
    assert_eq!(error_lines(&schema, &ok, None), Vec::<String>::new());
    let bad = json!({"spec": {"names": ["ya", "xmidz", "xmidz", "q", "xyz"], "mode": "c", "labels": {"Team": "x"}, "ratio": 1, "count": 3}});
    let messages: Vec<String> = schema
        .validate(&bad, None)
        .into_iter()
        .map(|e| e.message)
        .collect();
    for m in [
        "all",
        "exists_one",
        "in",
        "ternary",
        "map-filter",
        "map-keys",
        "numbers",
    ] {
        assert!(
            messages.iter().any(|x| x == m),
            "rule {m} should fail: {messages:?}"
        );
    }
    assert!(!messages.iter().any(|x| x == "exists"), "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|x| x.contains("evaluating rule: map-literal")),
        "missing key in a map literal is an evaluation error: {messages:?}"
    );
}

#[test]
fn transition_rules_use_old_self_and_are_skipped_on_create() {
    let schema = es_schema();
    let old = external_secret(
        json!({"secretStoreRef": {"name": "v"}, "dataFrom": [{"extract": {"key": "k"}}], "target": {"name": "a"}}),
    );
    let renamed = external_secret(
        json!({"secretStoreRef": {"name": "v"}, "dataFrom": [{"extract": {"key": "k"}}], "target": {"name": "b"}}),
    );
    assert_eq!(
        error_lines(&schema, &renamed, None),
        Vec::<String>::new(),
        "no old object: transition rule skipped"
    );
    assert_eq!(
        error_lines(&schema, &renamed, Some(&old)),
        vec!["spec.target: Invalid value: \"object\": target.name is immutable".to_string()]
    );
    assert_eq!(error_lines(&schema, &old, Some(&old)), Vec::<String>::new());
}

#[test]
fn transition_rules_in_map_lists_correlate_by_key() {
    let schema = CompiledSchema::compile(&root_with_spec(json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 10}, "size": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.size >= oldSelf.size", "message": "size may not shrink"}]}}))).unwrap();
    let old = json!({"spec": [{"name": "a", "size": 5}, {"name": "b", "size": 1}]});
    let new = json!({"spec": [{"name": "b", "size": 2}, {"name": "a", "size": 4}, {"name": "c", "size": 0}]});
    assert_eq!(
        error_lines(&schema, &new, Some(&old)),
        vec!["spec[1]: Invalid value: \"object\": size may not shrink".to_string()]
    );
}

#[test]
fn compile_refuses_non_structural_schemas_and_bad_patterns() {
    match CompiledSchema::compile(&root_with_spec(json!({"properties": {}}))) {
        Err(SchemaError::Invalid(errors)) => assert_eq!(
            errors[0].to_string(),
            "properties[spec].type: Required value: must not be empty for specified object fields"
        ),
        other => panic!("expected Invalid, got {other:?}"),
    }
    match CompiledSchema::compile(&root_with_spec(json!({"type": "string", "pattern": "(["}))) {
        Err(SchemaError::Invalid(errors)) => assert!(
            errors[0].to_string().starts_with("properties[spec].pattern: Invalid value: \"([\": must be a valid regular expression"),
            "{errors:?}"
        ),
        other => panic!("expected Invalid, got {other:?}"),
    }
    match CompiledSchema::compile(&root_with_spec(
        json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.x +"}]}),
    )) {
        Err(e @ SchemaError::Invalid(_)) => assert!(
            e.to_string().contains(
                "x-kubernetes-validations[0].rule: Invalid value: \"self.x +\": compilation failed"
            ),
            "{e}"
        ),
        other => panic!("expected Invalid, got {other:?}"),
    }
    match CompiledSchema::compile(&json!({"type": 5})) {
        Err(e @ SchemaError::Malformed { .. }) => {
            assert_eq!(e.to_string(), "type: must be a string")
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn optional_old_self_rules_run_on_create_with_an_empty_optional() {
    let schema = CompiledSchema::compile(&root_with_spec(json!({"type": "object", "properties": {"replicas": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "!oldSelf.hasValue() || self.replicas >= oldSelf.value().replicas", "optionalOldSelf": true, "message": "replicas may not decrease"},
                                     {"rule": "oldSelf.hasValue() || self.replicas <= 10", "optionalOldSelf": true, "message": "at most 10 replicas on create"}]}))).unwrap();
    assert_eq!(
        error_lines(&schema, &json!({"spec": {"replicas": 11}}), None),
        vec!["spec: Invalid value: \"object\": at most 10 replicas on create".to_string()]
    );
    let old = json!({"spec": {"replicas": 12}});
    assert_eq!(
        error_lines(&schema, &json!({"spec": {"replicas": 11}}), Some(&old)),
        vec!["spec: Invalid value: \"object\": replicas may not decrease".to_string()]
    );
}

#[test]
fn reserved_and_dashed_property_names_are_escaped_in_cel() {
    let schema = CompiledSchema::compile(&root_with_spec(json!({"type": "object",
        "properties": {"namespace": {"type": "string", "maxLength": 63}, "x-name": {"type": "string", "maxLength": 63}},
        "x-kubernetes-validations": [{"rule": "!has(self.__namespace__) || self.__namespace__ == self.x__dash__name", "message": "namespace must equal x-name"}]
    }))).unwrap();
    assert_eq!(
        error_lines(
            &schema,
            &json!({"spec": {"namespace": "a", "x-name": "a"}}),
            None
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        error_lines(
            &schema,
            &json!({"spec": {"namespace": "a", "x-name": "b"}}),
            None
        ),
        vec!["spec: Invalid value: \"object\": namespace must equal x-name".to_string()]
    );
    // The unescaped name is not a declared CEL field.
    let unescaped = root_with_spec(
        json!({"type": "object", "properties": {"x-name": {"type": "string"}},
        "x-kubernetes-validations": [{"rule": "has(self.x__dash__name) || has(self.xname)"}]}),
    );
    let errors = common::lines(esox_schema::check_structural(&unescaped));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].ends_with("undefined field 'xname'"), "{errors:?}");
}

#[test]
fn matches_with_a_bad_runtime_pattern_is_an_evaluation_error() {
    let schema = CompiledSchema::compile(&root_with_spec(json!({"type": "object",
        "properties": {"s": {"type": "string", "maxLength": 10}, "re": {"type": "string", "maxLength": 10}},
        "x-kubernetes-validations": [{"rule": "self.s.matches(self.re)", "message": "s must match re"}]}))).unwrap();
    assert_eq!(
        error_lines(&schema, &json!({"spec": {"s": "abc", "re": "^a"}}), None),
        Vec::<String>::new()
    );
    assert_eq!(
        error_lines(&schema, &json!({"spec": {"s": "abc", "re": "^z"}}), None),
        vec!["spec: Invalid value: \"object\": s must match re".to_string()]
    );
    let bad = error_lines(&schema, &json!({"spec": {"s": "abc", "re": "("}}), None);
    assert_eq!(bad.len(), 1);
    assert!(
        bad[0].contains("invalid regular expression \"(\"")
            && bad[0].ends_with("evaluating rule: s must match re"),
        "{bad:?}"
    );
}
