//! The apiextensions rules a CRD's `openAPIV3Schema` must satisfy before the API server accepts
//! it: the structural-schema invariants (`pkg/apiserver/schema/validation.go`), the per-node
//! CRD checks (`ValidateCustomResourceDefinitionOpenAPISchema` and `specStandardValidatorV3` in
//! `pkg/apis/apiextensions/validation/validation.go`), defaults (`pkg/apiserver/schema/defaulting`)
//! and the `x-kubernetes-validations` compile and cost checks (see `cel_check`).

use serde_json::Value;

use crate::ValidateOptions;
use crate::cel_check::{self, CelContext, CostTotals};
use crate::defaults;
use crate::error::{FieldError, FieldErrorKind, quote};
use crate::node::{Additional, Node};
use crate::path;

/// The JSON keys of `JSONSchemaProps` (apiextensions v1); anything else is an unknown field that
/// a strict-validating API server rejects.
const KNOWN_KEYWORDS: &[&str] = &[
    "id",
    "$schema",
    "$ref",
    "description",
    "type",
    "format",
    "title",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "properties",
    "additionalProperties",
    "patternProperties",
    "dependencies",
    "additionalItems",
    "definitions",
    "externalDocs",
    "example",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

/// `openapiV3Types` in validation.go.
const OPENAPI_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

const META_FIELDS: &[&str] = &["apiVersion", "kind", "metadata"];

/// Checks that `schema` is a structural schema the API server accepts as a CRD version's
/// `openAPIV3Schema`: structural invariants, forbidden keywords, list/map extensions, defaults
/// (pruned and valid) and CEL rules (compile, fields, cost), for the oldest supported server
/// (`ValidateOptions::default()`). Paths are relative to the schema (`properties[spec].type`).
pub fn check_structural(schema: &Value) -> Result<(), Vec<FieldError>> {
    check_structural_with(schema, &ValidateOptions::default())
}

/// [`check_structural`] for a chosen target API server.
pub fn check_structural_with(
    schema: &Value,
    opts: &ValidateOptions,
) -> Result<(), Vec<FieldError>> {
    let mut totals = CostTotals::default();
    let errors = check_schema(schema, "", opts, &mut totals);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// All schema errors, with paths under `prefix` (e.g. `spec.versions[0].schema.openAPIV3Schema`).
/// CEL rule costs are added to `totals` so the caller can apply the per-CRD limit.
pub(crate) fn check_schema(
    schema: &Value,
    prefix: &str,
    opts: &ValidateOptions,
    totals: &mut CostTotals,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    raw_keywords(schema, prefix, &mut errors);
    check_preserve_false(schema, prefix, &mut errors);
    let node = match Node::parse(schema, "") {
        Ok(node) => node,
        Err(e) => {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                prefix,
                None,
                e.to_string(),
            ));
            return errors;
        }
    };
    if node.nullable {
        errors.push(FieldError::forbidden(
            path::child(prefix, "nullable"),
            "nullable cannot be true at the root",
        ));
    }
    let mut structural = Vec::new();
    invariants(&node, Level::Root, prefix, &mut structural);
    completeness(&node, prefix, &mut structural);
    let structural_ok = structural.is_empty();
    errors.extend(structural);

    let mut crd_errors = Vec::new();
    crd_node_checks(
        &node,
        prefix,
        Ctx {
            root: true,
            ..Ctx::default()
        },
        &mut crd_errors,
    );
    let crd_ok = crd_errors.is_empty();
    errors.extend(crd_errors);

    // The server only goes on to defaults and CEL once the schema is structural.
    if structural_ok {
        let default_errors = defaults::check_defaults(&node, prefix, opts);
        let defaults_ok = default_errors.is_empty();
        errors.extend(default_errors);
        if defaults_ok && crd_ok {
            errors.extend(cel_check::check_all_rules(
                &node,
                prefix,
                opts,
                &CelContext::root(),
                totals,
            ));
        }
    }
    errors.sort_by_key(|e| e.to_string());
    errors.dedup();
    errors
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

/// Walks the raw JSON for keywords the typed model drops: unknown keys and the unsupported
/// JSON-Schema features `specStandardValidatorV3.validate` forbids.
fn raw_keywords(schema: &Value, at: &str, errors: &mut Vec<FieldError>) {
    let Some(obj) = schema.as_object() else {
        return;
    };
    for key in obj.keys() {
        if !KNOWN_KEYWORDS.contains(&key.as_str()) {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                at,
                None,
                format!("unknown field {}", quote(key)),
            ));
        }
    }
    let forbidden: &[(&str, &str)] = &[
        ("id", "id is not supported"),
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ];
    for (key, message) in forbidden {
        if obj.get(*key).is_some_and(|v| !v.is_null() && v != "") {
            errors.push(FieldError::forbidden(path::child(at, key), *message));
        }
    }
    if obj.get("type").and_then(Value::as_str) == Some("null") {
        errors.push(FieldError::forbidden(
            path::child(at, "type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if obj.get("items").is_some_and(Value::is_array) {
        errors.push(FieldError::forbidden(
            path::child(at, "items"),
            "items must be a schema object and not an array",
        ));
    }
    let singles = ["items", "additionalProperties", "not"];
    for key in singles {
        if let Some(sub) = obj.get(key).filter(|v| v.is_object()) {
            raw_keywords(sub, &path::child(at, key), errors);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = obj.get(key) {
            for (i, sub) in list.iter().enumerate() {
                raw_keywords(sub, &path::index(&path::child(at, key), i), errors);
            }
        }
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, sub) in props {
            raw_keywords(
                sub,
                &path::key(&path::child(at, "properties"), name),
                errors,
            );
        }
    }
}

/// `validateStructuralInvariants` and its helpers.
fn invariants(node: &Node, level: Level, at: &str, errors: &mut Vec<FieldError>) {
    let type_path = path::child(at, "type");
    if node.ty.as_deref() == Some("array") && node.items.is_none() {
        errors.push(FieldError::required(
            path::child(at, "items"),
            "must be specified",
        ));
    }
    if let Some(items) = &node.items {
        invariants(items, Level::Item, &path::child(at, "items"), errors);
    }
    for (name, sub) in &node.properties {
        invariants(
            sub,
            Level::Field,
            &path::key(&path::child(at, "properties"), name),
            errors,
        );
    }
    if let Some(additional) = &node.additional {
        if level == Level::Root {
            errors.push(FieldError::forbidden(
                path::child(at, "additionalProperties"),
                "must not be used at the root",
            ));
        }
        if let Additional::Schema(sub) = additional {
            invariants(
                sub,
                Level::Field,
                &path::child(at, "additionalProperties"),
                errors,
            );
        }
    }
    if node.int_or_string && node.preserve_unknown {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            path::child(at, "x-kubernetes-preserve-unknown-fields"),
            Some("true".into()),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if node.int_or_string && node.embedded {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            path::child(at, "x-kubernetes-embedded-resource"),
            Some("true".into()),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let skip_any_of = is_int_or_string_any_of(&node.any_of);
    let skip_first_all_of_any_of = node
        .all_of
        .first()
        .is_some_and(|first| is_int_or_string_any_of(&first.any_of));
    value_validation(node, skip_any_of, skip_first_all_of_any_of, at, errors);

    let ty = node.ty.as_deref().unwrap_or("");
    if node.embedded && ty != "object" {
        if ty.is_empty() {
            errors.push(FieldError::required(
                type_path.clone(),
                "must be object if x-kubernetes-embedded-resource is true",
            ));
        } else {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                type_path.clone(),
                Some(quote(ty)),
                "must be object if x-kubernetes-embedded-resource is true",
            ));
        }
    } else if ty.is_empty() && !node.int_or_string && !node.preserve_unknown {
        let message = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errors.push(FieldError::required(type_path.clone(), message));
    }
    if node.embedded && node.additional.is_some() {
        errors.push(FieldError::forbidden(
            path::child(at, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if level == Level::Root && !ty.is_empty() && ty != "object" {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            type_path,
            Some(quote(ty)),
            "must be object at the root",
        ));
    }
    let check_metadata = level == Level::Root || node.embedded;
    let props_path = path::child(at, "properties");
    for key in ["kind", "apiVersion"] {
        if let Some(sub) = node.properties.get(key).filter(|_| check_metadata)
            && sub.ty.as_deref() != Some("string")
        {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                path::child(&path::key(&props_path, key), "type"),
                Some(quote(sub.type_name())),
                "must be string",
            ));
        }
    }
    if let Some(meta) = node.properties.get("metadata") {
        let meta_path = path::key(&props_path, "metadata");
        if check_metadata && meta.ty.as_deref() != Some("object") {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                path::child(&meta_path, "type"),
                Some(quote(meta.type_name())),
                "must be object",
            ));
        }
        if level == Level::Root && !metadata_is_name_only(meta) {
            errors.push(FieldError::forbidden(
                meta_path,
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }
    if node.embedded && !node.preserve_unknown && node.properties.is_empty() {
        errors.push(FieldError::required(
            props_path,
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// Root `metadata` may restrict only `name` and `generateName` (the server ignores its `type`
/// and `default` here; defaults are refused separately).
fn metadata_is_name_only(meta: &Node) -> bool {
    let only_names = meta
        .properties
        .keys()
        .all(|k| k == "name" || k == "generateName");
    let stripped = Node {
        ty: None,
        default: None,
        properties: Default::default(),
        ..meta.clone()
    };
    only_names && is_empty_node(&stripped)
}

fn is_empty_node(n: &Node) -> bool {
    n.ty.is_none()
        && !n.has_description
        && !n.has_title
        && n.format.is_none()
        && !n.nullable
        && n.properties.is_empty()
        && n.additional.is_none()
        && n.items.is_none()
        && n.required.is_empty()
        && n.enum_values.is_none()
        && n.default.is_none()
        && n.pattern.is_none()
        && n.min_length.is_none()
        && n.max_length.is_none()
        && n.min_items.is_none()
        && n.max_items.is_none()
        && n.min_properties.is_none()
        && n.max_properties.is_none()
        && n.minimum.is_none()
        && n.maximum.is_none()
        && !n.exclusive_minimum
        && !n.exclusive_maximum
        && n.multiple_of.is_none()
        && !n.unique_items
        && n.all_of.is_empty()
        && n.any_of.is_empty()
        && n.one_of.is_empty()
        && n.not.is_none()
        && !n.preserve_unknown
        && !n.embedded
        && !n.int_or_string
        && n.list_type.is_none()
        && n.list_map_keys.is_empty()
        && n.map_type.is_none()
        && n.rules.is_empty()
}

/// `anyOf: [{type: integer}, {type: string}]` exactly, the int-or-string exception.
fn is_int_or_string_any_of(any_of: &[Node]) -> bool {
    let only_type = |n: &Node, ty: &str| {
        n.ty.as_deref() == Some(ty)
            && is_empty_node(&Node {
                ty: None,
                ..n.clone()
            })
    };
    any_of.len() == 2 && only_type(&any_of[0], "integer") && only_type(&any_of[1], "string")
}

/// `validateValueValidation`: what is allowed inside the logical junctors.
fn value_validation(
    node: &Node,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    at: &str,
    errors: &mut Vec<FieldError>,
) {
    if !skip_any_of {
        for (i, sub) in node.any_of.iter().enumerate() {
            nested(
                sub,
                false,
                &path::index(&path::child(at, "anyOf"), i),
                errors,
            );
        }
    }
    for (i, sub) in node.all_of.iter().enumerate() {
        nested(
            sub,
            skip_first_all_of_any_of && i == 0,
            &path::index(&path::child(at, "allOf"), i),
            errors,
        );
    }
    for (i, sub) in node.one_of.iter().enumerate() {
        nested(
            sub,
            false,
            &path::index(&path::child(at, "oneOf"), i),
            errors,
        );
    }
    if let Some(sub) = &node.not {
        nested(sub, false, &path::child(at, "not"), errors);
    }
    if let Some(pattern) = &node.pattern
        && let Err(e) = crate::validate::compile_pattern(pattern)
    {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            path::child(at, "pattern"),
            Some(quote(pattern)),
            format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
}

/// `validateNestedValueValidation`.
fn nested(node: &Node, skip_any_of: bool, at: &str, errors: &mut Vec<FieldError>) {
    value_validation(node, skip_any_of, false, at, errors);
    if let Some(items) = &node.items {
        nested(items, false, &path::child(at, "items"), errors);
    }
    for (name, sub) in &node.properties {
        nested(
            sub,
            false,
            &path::key(&path::child(at, "properties"), name),
            errors,
        );
    }
    let forbid = |errors: &mut Vec<FieldError>, key: &str, message: &str| {
        errors.push(FieldError::forbidden(path::child(at, key), message));
    };
    if node.ty.is_some() {
        forbid(errors, "type", "must be empty to be structural");
    }
    if node.additional.is_some() {
        forbid(
            errors,
            "additionalProperties",
            "must be undefined to be structural",
        );
    }
    if node.default.is_some() {
        forbid(errors, "default", "must be undefined to be structural");
    }
    if node.has_title {
        forbid(errors, "title", "must be empty to be structural");
    }
    if node.has_description {
        forbid(errors, "description", "must be empty to be structural");
    }
    if node.nullable {
        forbid(errors, "nullable", "must be false to be structural");
    }
    if node.preserve_unknown {
        forbid(
            errors,
            "x-kubernetes-preserve-unknown-fields",
            "must be false to be structural",
        );
    }
    if node.embedded {
        forbid(
            errors,
            "x-kubernetes-embedded-resource",
            "must be false to be structural",
        );
    }
    if node.int_or_string {
        forbid(
            errors,
            "x-kubernetes-int-or-string",
            "must be false to be structural",
        );
    }
    if !node.list_map_keys.is_empty() {
        forbid(
            errors,
            "x-kubernetes-list-map-keys",
            "must be empty to be structural",
        );
    }
    if node.list_type.is_some() {
        forbid(
            errors,
            "x-kubernetes-list-type",
            "must be undefined to be structural",
        );
    }
    if node.map_type.is_some() {
        forbid(
            errors,
            "x-kubernetes-map-type",
            "must be undefined to be structural",
        );
    }
    if !node.rules.is_empty() {
        forbid(
            errors,
            "x-kubernetes-validations",
            "must be empty to be structural",
        );
    }
    if node.properties.contains_key("metadata") {
        errors.push(FieldError::forbidden(
            path::key(&path::child(at, "properties"), "metadata"),
            "must not be specified in a nested context",
        ));
    }
}

/// `validateStructuralCompleteness` (`pkg/apiserver/schema/complete.go`): every property or
/// `items` that a junctor of the root mentions must also be specified in the structural part.
/// Like the server, only the root's junctors (and the junctors nested in them) are checked.
fn completeness(root: &Node, at: &str, errors: &mut Vec<FieldError>) {
    junctor_completeness(root, Some(root), at, at, errors);
}

fn junctor_completeness(
    v: &Node,
    s: Option<&Node>,
    s_path: &str,
    v_path: &str,
    errors: &mut Vec<FieldError>,
) {
    let Some(s) = s else {
        errors.push(FieldError::required(
            s_path,
            format!("because it is defined in {v_path}"),
        ));
        return;
    };
    if let Some(not) = &v.not {
        nested_completeness(not, Some(s), s_path, &path::child(v_path, "not"), errors);
    }
    for (key, list) in [
        ("allOf", &v.all_of),
        ("anyOf", &v.any_of),
        ("oneOf", &v.one_of),
    ] {
        for (i, sub) in list.iter().enumerate() {
            nested_completeness(
                sub,
                Some(s),
                s_path,
                &path::index(&path::child(v_path, key), i),
                errors,
            );
        }
    }
}

fn nested_completeness(
    v: &Node,
    s: Option<&Node>,
    s_path: &str,
    v_path: &str,
    errors: &mut Vec<FieldError>,
) {
    let Some(s) = s else {
        errors.push(FieldError::required(
            s_path,
            format!("because it is defined in {v_path}"),
        ));
        return;
    };
    junctor_completeness(v, Some(s), s_path, v_path, errors);
    if let Some(items) = &v.items {
        nested_completeness(
            items,
            s.items.as_deref(),
            &path::child(s_path, "items"),
            &path::child(v_path, "items"),
            errors,
        );
    }
    for (name, sub) in &v.properties {
        let s_sub_path = path::key(&path::child(s_path, "properties"), name);
        let v_sub_path = path::key(&path::child(v_path, "properties"), name);
        match s.properties.get(name) {
            Some(s_sub) => nested_completeness(sub, Some(s_sub), &s_sub_path, &v_sub_path, errors),
            None => errors.push(FieldError::required(
                s_sub_path,
                format!("because it is defined in {v_sub_path}"),
            )),
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Ctx {
    root: bool,
    inside_resource_meta: bool,
    /// `Some(reason)` when defaults are refused below this point (top-level metadata etc.).
    defaults_forbidden: Option<&'static str>,
}

/// The per-node checks of `ValidateCustomResourceDefinitionOpenAPISchema` other than CEL.
fn crd_node_checks(node: &Node, at: &str, ctx: Ctx, errors: &mut Vec<FieldError>) {
    let ty = node.ty.as_deref().unwrap_or("");
    if !ty.is_empty() && ty != "null" && !OPENAPI_TYPES.contains(&ty) {
        errors.push(FieldError::not_supported(
            path::child(at, "type"),
            &Value::String(ty.to_string()),
            &OPENAPI_TYPES.iter().map(|t| quote(t)).collect::<Vec<_>>(),
        ));
    }
    if node.default.is_some()
        && let Some(reason) = ctx.defaults_forbidden
    {
        errors.push(FieldError::forbidden(
            path::child(at, "default"),
            format!("must not be set {reason}"),
        ));
    }
    if ctx.inside_resource_meta && node.embedded {
        errors.push(FieldError::forbidden(
            path::child(at, "x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
    if node.unique_items {
        errors.push(FieldError::forbidden(
            path::child(at, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if let Some(additional) = &node.additional {
        let has_schema = matches!(additional, Additional::Schema(_));
        if !node.properties.is_empty()
            && (has_schema || matches!(additional, Additional::Allowed(false)))
        {
            errors.push(FieldError::forbidden(
                path::child(at, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        if let Additional::Schema(sub) = additional {
            let mut sub_ctx = Ctx { root: false, ..ctx };
            if ctx.inside_resource_meta {
                sub_ctx.defaults_forbidden =
                    Some("inside additionalProperties applying to object metadata");
            }
            crd_node_checks(
                sub,
                &path::child(at, "additionalProperties"),
                sub_ctx,
                errors,
            );
        }
    }
    for (name, sub) in &node.properties {
        let mut sub_ctx = Ctx { root: false, ..ctx };
        if (ctx.root || node.embedded) && META_FIELDS.contains(&name.as_str()) {
            sub_ctx.inside_resource_meta = true;
            if ctx.root {
                sub_ctx.defaults_forbidden = Some(match name.as_str() {
                    "metadata" => "in top-level metadata",
                    "kind" => "in top-level kind",
                    _ => "in top-level apiVersion",
                });
            }
        }
        crd_node_checks(
            sub,
            &path::key(&path::child(at, "properties"), name),
            sub_ctx,
            errors,
        );
    }
    let junctor_ctx = Ctx { root: false, ..ctx };
    if let Some(sub) = &node.not {
        crd_node_checks(sub, &path::child(at, "not"), junctor_ctx, errors);
    }
    for (key, list) in [
        ("allOf", &node.all_of),
        ("oneOf", &node.one_of),
        ("anyOf", &node.any_of),
    ] {
        for (i, sub) in list.iter().enumerate() {
            crd_node_checks(
                sub,
                &path::index(&path::child(at, key), i),
                junctor_ctx,
                errors,
            );
        }
    }
    if let Some(items) = &node.items {
        crd_node_checks(
            items,
            &path::child(at, "items"),
            Ctx { root: false, ..ctx },
            errors,
        );
    }
    extension_checks(node, at, errors);
}

/// `x-kubernetes-*` rules on one node.
fn extension_checks(node: &Node, at: &str, errors: &mut Vec<FieldError>) {
    let ty = node.ty.as_deref().unwrap_or("");
    let type_path = path::child(at, "type");
    let invalid = |p: String, v: &str, m: &str| {
        FieldError::new(FieldErrorKind::Invalid, p, Some(quote(v)), m)
    };
    // `x-kubernetes-preserve-unknown-fields: false` is refused: it must be true or absent.
    // The typed model cannot tell false from absent, so this is checked on the raw value by
    // `check_preserve_false` instead.
    if let Some(map_type) = &node.map_type {
        if ty != "object" {
            if ty.is_empty() {
                errors.push(FieldError::required(
                    type_path.clone(),
                    "must be object if x-kubernetes-map-type is specified",
                ));
            } else {
                errors.push(invalid(
                    type_path.clone(),
                    ty,
                    "must be object if x-kubernetes-map-type is specified",
                ));
            }
        }
        if map_type != "atomic" && map_type != "granular" {
            errors.push(FieldError::not_supported(
                path::child(at, "x-kubernetes-map-type"),
                &Value::String(map_type.clone()),
                &[quote("atomic"), quote("granular")],
            ));
        }
    }
    if let Some(list_type) = &node.list_type {
        if ty != "array" {
            if ty.is_empty() {
                errors.push(FieldError::required(
                    type_path.clone(),
                    "must be array if x-kubernetes-list-type is specified",
                ));
            } else {
                errors.push(invalid(
                    type_path.clone(),
                    ty,
                    "must be array if x-kubernetes-list-type is specified",
                ));
            }
        } else if list_type == "set"
            && let Some(items) = &node.items
        {
            match items.ty.as_deref() {
                Some("array") if items.list_type.as_deref().is_some_and(|t| t != "atomic") => {
                    errors.push(invalid(
                        path::child(&path::child(at, "items"), "x-kubernetes-list-type"),
                        items.list_type.as_deref().unwrap_or(""),
                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                    ));
                }
                Some("object") if items.map_type.as_deref() != Some("atomic") => {
                    errors.push(invalid(
                        path::child(&path::child(at, "items"), "x-kubernetes-map-type"),
                        items.map_type.as_deref().unwrap_or(""),
                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                    ));
                }
                _ => {}
            }
        }
        if !["atomic", "set", "map"].contains(&list_type.as_str()) {
            errors.push(FieldError::not_supported(
                path::child(at, "x-kubernetes-list-type"),
                &Value::String(list_type.clone()),
                &[quote("atomic"), quote("map"), quote("set")],
            ));
        }
    }
    let list_type_path = path::child(at, "x-kubernetes-list-type");
    let keys_path = path::child(at, "x-kubernetes-list-map-keys");
    if !node.list_map_keys.is_empty() {
        match node.list_type.as_deref() {
            None => errors.push(FieldError::required(
                list_type_path.clone(),
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
            Some("map") => {}
            Some(other) => errors.push(invalid(
                list_type_path.clone(),
                other,
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
        }
    }
    let keys_value = Value::from(node.list_map_keys.clone());
    if node.list_type.as_deref() == Some("map") {
        if node.list_map_keys.is_empty() {
            errors.push(FieldError::required(
                keys_path.clone(),
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        match &node.items {
            None => errors.push(FieldError::required(
                path::child(at, "items"),
                "must have a schema if x-kubernetes-list-type is map",
            )),
            Some(items) if items.ty.as_deref() != Some("object") => errors.push(invalid(
                path::child(&path::child(at, "items"), "type"),
                items.type_name(),
                "must be object if parent array's x-kubernetes-list-type is map",
            )),
            Some(items) => {
                let mut seen = std::collections::BTreeSet::new();
                for k in &node.list_map_keys {
                    match items.properties.get(k) {
                        Some(p) if matches!(p.ty.as_deref(), Some("array" | "object")) => errors.push(invalid(
                            path::child(&path::key(&path::child(&path::child(at, "items"), "properties"), k), "type"),
                            items.type_name(),
                            "must be a scalar type if parent array's x-kubernetes-list-type is map",
                        )),
                        Some(_) => {}
                        None => errors.push(FieldError::invalid(keys_path.clone(), &keys_value, "entries must all be names of item properties")),
                    }
                    if !seen.insert(k) {
                        errors.push(FieldError::invalid(
                            keys_path.clone(),
                            &keys_value,
                            "must not contain duplicate entries",
                        ));
                    }
                }
            }
        }
    }
    // validateMapListKeysMapSet (required since 1.24's requireMapListKeysMapSetValidation).
    if let (Some(list_type @ ("set" | "map")), Some(items)) =
        (node.list_type.as_deref(), &node.items)
    {
        let items_path = path::child(at, "items");
        if items.nullable {
            errors.push(FieldError::forbidden(
                path::child(&items_path, "nullable"),
                format!("cannot be nullable when x-kubernetes-list-type is {list_type}"),
            ));
        }
        if list_type == "map" {
            for k in &node.list_map_keys {
                let Some(p) = items.properties.get(k) else {
                    continue;
                };
                let key_path = path::key(&path::child(&items_path, "properties"), k);
                if !items.required.contains(k) && p.default.is_none() {
                    errors.push(FieldError::required(
                        path::child(&key_path, "default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                    ));
                }
                if p.nullable {
                    errors.push(FieldError::forbidden(
                        path::child(&key_path, "nullable"),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    ));
                }
            }
        }
    }
}

/// `x-kubernetes-preserve-unknown-fields: false` anywhere in the raw schema ("must be true or
/// undefined").
pub(crate) fn check_preserve_false(schema: &Value, at: &str, errors: &mut Vec<FieldError>) {
    let Some(obj) = schema.as_object() else {
        return;
    };
    if obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            path::child(at, "x-kubernetes-preserve-unknown-fields"),
            Some("false".into()),
            "must be true or undefined",
        ));
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = obj.get(key) {
            check_preserve_false(sub, &path::child(at, key), errors);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = obj.get(key) {
            for (i, sub) in list.iter().enumerate() {
                check_preserve_false(sub, &path::index(&path::child(at, key), i), errors);
            }
        }
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, sub) in props {
            check_preserve_false(
                sub,
                &path::key(&path::child(at, "properties"), name),
                errors,
            );
        }
    }
}
