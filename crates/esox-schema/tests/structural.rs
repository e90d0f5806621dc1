//! `check_structural`: one schema refused and one accepted per rule, with the server's messages.

mod common;

use common::{lines, root_with_spec};
use esox_schema::check_structural;
use serde_json::{Value, json};

fn errors(schema: Value) -> Vec<String> {
    lines(check_structural(&schema))
}

fn assert_ok(schema: Value) {
    assert_eq!(errors(schema), Vec::<String>::new());
}

fn assert_refused(schema: Value, expected: &str) {
    let found = errors(schema);
    assert!(
        found.iter().any(|e| e == expected),
        "expected {expected:?} in {found:#?}"
    );
}

#[test]
fn every_node_needs_a_type() {
    assert_refused(
        json!({"properties": {}}),
        "type: Required value: must not be empty at the root",
    );
    assert_refused(
        root_with_spec(json!({"properties": {"a": {"type": "string"}}})),
        "properties[spec].type: Required value: must not be empty for specified object fields",
    );
    assert_refused(
        root_with_spec(json!({"type": "array", "items": {}})),
        "properties[spec].items.type: Required value: must not be empty for specified array items",
    );
    assert_ok(root_with_spec(
        json!({"type": "object", "properties": {"a": {"type": "string"}}}),
    ));
}

#[test]
fn type_may_be_empty_with_int_or_string_or_preserve_unknown_fields() {
    assert_ok(root_with_spec(json!({"x-kubernetes-int-or-string": true})));
    assert_ok(root_with_spec(
        json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}),
    ));
    assert_ok(root_with_spec(
        json!({"x-kubernetes-int-or-string": true, "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9]+%?$"}]}),
    ));
    assert_ok(root_with_spec(
        json!({"x-kubernetes-preserve-unknown-fields": true}),
    ));
}

#[test]
fn root_must_be_object_without_additional_properties() {
    assert_refused(
        json!({"type": "string"}),
        "type: Invalid value: \"string\": must be object at the root",
    );
    assert_refused(
        json!({"type": "object", "additionalProperties": {"type": "string"}}),
        "additionalProperties: Forbidden: must not be used at the root",
    );
}

#[test]
fn type_must_be_an_openapi_type_and_never_null() {
    assert_refused(
        root_with_spec(json!({"type": "duration"})),
        "properties[spec].type: Unsupported value: \"duration\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\"",
    );
    assert_refused(
        root_with_spec(json!({"type": "null"})),
        "properties[spec].type: Forbidden: type cannot be set to null, use nullable as an alternative",
    );
    assert_ok(root_with_spec(json!({"type": "string", "nullable": true})));
}

#[test]
fn additional_properties_and_properties_are_exclusive() {
    assert_refused(
        root_with_spec(
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}),
        ),
        "properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
    );
    assert_ok(root_with_spec(
        json!({"type": "object", "additionalProperties": {"type": "string"}}),
    ));
}

#[test]
fn root_metadata_may_only_restrict_name_and_generate_name() {
    assert_refused(
        json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}}),
        "properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified",
    );
    assert_ok(
        json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 63}}}}}),
    );
    assert_refused(
        json!({"type": "object", "properties": {"metadata": {"type": "string"}}}),
        "properties[metadata].type: Invalid value: \"string\": must be object",
    );
}

#[test]
fn junctors_are_value_validation_only() {
    let base = |junctor: Value| {
        root_with_spec(
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "anyOf": [junctor]}),
        )
    };
    assert_refused(
        base(json!({"type": "object"})),
        "properties[spec].anyOf[0].type: Forbidden: must be empty to be structural",
    );
    assert_refused(
        base(json!({"default": {}})),
        "properties[spec].anyOf[0].default: Forbidden: must be undefined to be structural",
    );
    assert_refused(
        base(json!({"nullable": true})),
        "properties[spec].anyOf[0].nullable: Forbidden: must be false to be structural",
    );
    assert_refused(
        base(json!({"description": "x", "required": ["a"]})),
        "properties[spec].anyOf[0].description: Forbidden: must be empty to be structural",
    );
    assert_refused(
        base(json!({"additionalProperties": {"type": "string"}})),
        "properties[spec].anyOf[0].additionalProperties: Forbidden: must be undefined to be structural",
    );
    assert_refused(
        base(json!({"x-kubernetes-validations": [{"rule": "true"}]})),
        "properties[spec].anyOf[0].x-kubernetes-validations: Forbidden: must be empty to be structural",
    );
    assert_ok(base(
        json!({"required": ["a"], "properties": {"a": {"minLength": 2}}}),
    ));
}

#[test]
fn root_junctors_may_only_mention_specified_fields() {
    let root = |junctor: Value| json!({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}, "not": junctor});
    assert_refused(
        root(json!({"properties": {"b": {"minLength": 1}}})),
        "properties[b]: Required value: because it is defined in not.properties[b]",
    );
    assert_refused(
        json!({"type": "object", "properties": {"a": {"type": "string"}}, "anyOf": [{"items": {"minLength": 1}}]}),
        "items: Required value: because it is defined in anyOf[0].items",
    );
    assert_ok(root(
        json!({"properties": {"a": {"items": {"minLength": 1}}}}),
    ));
}

#[test]
fn forbidden_json_schema_features() {
    let cases = [
        (
            json!({"$ref": "#/definitions/x"}),
            "properties[spec].$ref: Forbidden: $ref is not supported",
        ),
        (
            json!({"definitions": {"x": {"type": "string"}}}),
            "properties[spec].definitions: Forbidden: definitions is not supported",
        ),
        (
            json!({"id": "x"}),
            "properties[spec].id: Forbidden: id is not supported",
        ),
        (
            json!({"patternProperties": {"^a": {"type": "string"}}}),
            "properties[spec].patternProperties: Forbidden: patternProperties is not supported",
        ),
        (
            json!({"dependencies": {"a": ["b"]}}),
            "properties[spec].dependencies: Forbidden: dependencies is not supported",
        ),
        (
            json!({"additionalItems": false}),
            "properties[spec].additionalItems: Forbidden: additionalItems is not supported",
        ),
    ];
    for (extra, expected) in cases {
        let mut spec = json!({"type": "object"});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        assert_refused(root_with_spec(spec), expected);
    }
    assert_refused(
        root_with_spec(json!({"type": "array", "uniqueItems": true, "items": {"type": "string"}})),
        "properties[spec].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
    );
    assert_refused(
        root_with_spec(json!({"type": "array", "items": [{"type": "string"}]})),
        "properties[spec].items: Forbidden: items must be a schema object and not an array",
    );
    assert_refused(
        root_with_spec(json!({"type": "string", "minimun": 1})),
        "properties[spec]: Invalid value: unknown field \"minimun\"",
    );
}

#[test]
fn arrays_need_items() {
    assert_refused(
        root_with_spec(json!({"type": "array"})),
        "properties[spec].items: Required value: must be specified",
    );
}

#[test]
fn int_or_string_excludes_preserve_and_embedded() {
    assert_refused(
        root_with_spec(
            json!({"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true}),
        ),
        "properties[spec].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true",
    );
    assert_refused(
        root_with_spec(
            json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "boolean"}]}),
        ),
        "properties[spec].anyOf[0].type: Forbidden: must be empty to be structural",
    );
}

#[test]
fn preserve_unknown_fields_must_be_true_or_absent() {
    assert_refused(
        root_with_spec(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": false})),
        "properties[spec].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined",
    );
}

#[test]
fn embedded_resource_rules() {
    assert_refused(
        root_with_spec(
            json!({"x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}),
        ),
        "properties[spec].type: Required value: must be object if x-kubernetes-embedded-resource is true",
    );
    assert_refused(
        root_with_spec(json!({"type": "object", "x-kubernetes-embedded-resource": true})),
        "properties[spec].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
    );
    assert_refused(
        root_with_spec(
            json!({"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"kind": {"type": "integer"}}}),
        ),
        "properties[spec].properties[kind].type: Invalid value: \"integer\": must be string",
    );
    assert_refused(
        json!({"type": "object", "properties": {"metadata": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}}),
        "properties[metadata].x-kubernetes-embedded-resource: Forbidden: must not be used inside of resource meta",
    );
    assert_ok(root_with_spec(
        json!({"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}),
    ));
}

#[test]
fn list_type_rules() {
    assert_refused(
        root_with_spec(json!({"type": "object", "x-kubernetes-list-type": "set"})),
        "properties[spec].type: Invalid value: \"object\": must be array if x-kubernetes-list-type is specified",
    );
    assert_refused(
        root_with_spec(
            json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "bag"}),
        ),
        "properties[spec].x-kubernetes-list-type: Unsupported value: \"bag\": supported values: \"atomic\", \"map\", \"set\"",
    );
    assert_refused(
        root_with_spec(
            json!({"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}, "x-kubernetes-list-type": "map"}),
        ),
        "properties[spec].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map",
    );
    assert_refused(
        root_with_spec(
            json!({"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}),
        ),
        "properties[spec].items.properties[name].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
    );
    assert_refused(
        root_with_spec(
            json!({"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]}),
        ),
        "properties[spec].x-kubernetes-list-map-keys: Invalid value: [\"id\"]: entries must all be names of item properties",
    );
    assert_refused(
        root_with_spec(
            json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic", "x-kubernetes-list-map-keys": ["a"]}),
        ),
        "properties[spec].x-kubernetes-list-type: Invalid value: \"atomic\": must be map if x-kubernetes-list-map-keys is non-empty",
    );
    assert_refused(
        root_with_spec(
            json!({"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}, "x-kubernetes-list-type": "set"}),
        ),
        "properties[spec].items.x-kubernetes-map-type: Invalid value: \"\": must be atomic as item of a list with x-kubernetes-list-type=set",
    );
    assert_refused(
        root_with_spec(
            json!({"type": "array", "items": {"type": "string", "nullable": true}, "x-kubernetes-list-type": "set"}),
        ),
        "properties[spec].items.nullable: Forbidden: cannot be nullable when x-kubernetes-list-type is set",
    );
    assert_ok(root_with_spec(
        json!({"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}),
    ));
    assert_ok(root_with_spec(
        json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}),
    ));
}

#[test]
fn map_type_rules() {
    assert_refused(
        root_with_spec(json!({"type": "string", "x-kubernetes-map-type": "atomic"})),
        "properties[spec].type: Invalid value: \"string\": must be object if x-kubernetes-map-type is specified",
    );
    assert_refused(
        root_with_spec(json!({"type": "object", "x-kubernetes-map-type": "merge"})),
        "properties[spec].x-kubernetes-map-type: Unsupported value: \"merge\": supported values: \"atomic\", \"granular\"",
    );
    assert_ok(root_with_spec(
        json!({"type": "object", "x-kubernetes-map-type": "granular"}),
    ));
}

#[test]
fn patterns_must_compile() {
    let found = errors(root_with_spec(json!({"type": "string", "pattern": "^(a"})));
    assert!(found.iter().any(|e| e.starts_with("properties[spec].pattern: Invalid value: \"^(a\": must be a valid regular expression, but isn't:")), "{found:?}");
    assert_ok(root_with_spec(
        json!({"type": "string", "pattern": "^[a-z]+$"}),
    ));
}

#[test]
fn defaults_must_be_pruned_valid_and_not_in_metadata() {
    assert_refused(
        root_with_spec(
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "x", "b": 1}}),
        ),
        "properties[spec].default: Invalid value: {\"a\":\"x\",\"b\":1}: must not have unknown fields",
    );
    assert_refused(
        root_with_spec(
            json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "default": 0}}}),
        ),
        "properties[spec].properties[n].default: Invalid value: 0: properties[spec].properties[n].default in body should be greater than or equal to 1",
    );
    assert_refused(
        root_with_spec(json!({"type": "string", "enum": ["a", "b"], "default": "c"})),
        "properties[spec].default: Unsupported value: \"c\": supported values: \"a\", \"b\"",
    );
    assert_refused(
        json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "default": "x"}}}}}),
        "properties[metadata].properties[name].default: Forbidden: must not be set in top-level metadata",
    );
    assert_refused(
        root_with_spec(
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "x"}, "x-kubernetes-validations": [{"rule": "self.a == 'y'", "message": "a must be y"}]}),
        ),
        "properties[spec].default: Invalid value: \"object\": a must be y",
    );
    assert_ok(root_with_spec(
        json!({"type": "object", "properties": {"a": {"type": "string", "default": "x"}}, "default": {}}),
    ));
}

#[test]
fn cel_rules_must_compile_and_reference_declared_fields() {
    let with_rule = |rule: &str| {
        root_with_spec(
            json!({"type": "object", "properties": {"a": {"type": "string", "maxLength": 10}}, "x-kubernetes-validations": [{"rule": rule}]}),
        )
    };
    let found = errors(with_rule("self.a =="));
    assert!(found.iter().any(|e| e.starts_with("properties[spec].x-kubernetes-validations[0].rule: Invalid value: \"self.a ==\": compilation failed:")), "{found:?}");
    assert_refused(
        with_rule("self.b == 'x'"),
        "properties[spec].x-kubernetes-validations[0].rule: Invalid value: \"self.b == 'x'\": compilation failed: ERROR: <input>: undefined field 'b'",
    );
    assert_refused(
        with_rule("other.a == 'x'"),
        "properties[spec].x-kubernetes-validations[0].rule: Invalid value: \"other.a == 'x'\": compilation failed: ERROR: <input>: undeclared reference to 'other' (in container '')",
    );
    assert_refused(
        with_rule("self.a.frobnicate()"),
        "properties[spec].x-kubernetes-validations[0].rule: Invalid value: \"self.a.frobnicate()\": compilation failed: ERROR: <input>: undeclared reference to 'frobnicate' (in container '')",
    );
    assert_refused(
        with_rule("size(self.a)"),
        "properties[spec].x-kubernetes-validations[0].rule: Invalid value: \"size(self.a)\": compilation failed: ERROR: <input>: rule must evaluate to a bool",
    );
    assert_ok(with_rule(
        "has(self.a) && self.a.startsWith('x') && self.a.matches('^x[a-z]*$') && self.a.lowerAscii() == self.a",
    ));
}

#[test]
fn cel_rule_and_message_shape() {
    let with =
        |rule: Value| root_with_spec(json!({"type": "object", "x-kubernetes-validations": [rule]}));
    assert_refused(
        with(json!({"rule": "  "})),
        "properties[spec].x-kubernetes-validations[0].rule: Required value: rule is not specified",
    );
    assert_refused(
        with(json!({"rule": "true", "message": "  "})),
        "properties[spec].x-kubernetes-validations[0].message: Invalid value: \"  \": must be non-empty if specified",
    );
    assert_refused(
        with(json!({"rule": "true", "message": "a\nb"})),
        "properties[spec].x-kubernetes-validations[0].message: Invalid value: \"a\\nb\": must not contain line breaks",
    );
    assert_refused(
        with(json!({"rule": "true &&\ntrue"})),
        "properties[spec].x-kubernetes-validations[0].message: Required value: message must be specified if rule contains line breaks",
    );
    assert_ok(with(json!({"rule": "true &&\ntrue", "message": "always"})));
}

#[test]
fn old_self_only_where_old_values_correlate() {
    let list = |list_type: &str| {
        root_with_spec(
            json!({"type": "array", "x-kubernetes-list-type": list_type, "x-kubernetes-list-map-keys": if list_type == "map" { json!(["name"]) } else { Value::Null },
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 10}},
                "x-kubernetes-validations": [{"rule": "self.name == oldSelf.name"}]}}),
        )
    };
    assert_refused(
        list("atomic"),
        "properties[spec].items.x-kubernetes-validations[0].rule: Invalid value: \"self.name == oldSelf.name\": oldSelf cannot be used on the uncorrelatable portion of the schema within properties[spec]",
    );
    assert_ok(list("map"));
}
