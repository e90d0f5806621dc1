//! `ValidateCustomResourceDefinition` for an `apiextensions.k8s.io/v1` CRD on create
//! (`pkg/apis/apiextensions/validation/validation.go`), on the JSON form.

use serde_json::Value;

use crate::ValidateOptions;
use crate::cel_check::{self, CostTotals, STATIC_ESTIMATED_CRD_COST_LIMIT};
use crate::error::{FieldError, FieldErrorKind, quote};
use crate::path;
use crate::structural;

/// `printerColumnDatatypes`.
const PRINTER_COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];
/// `customResourceColumnDefinitionFormats`.
const PRINTER_COLUMN_FORMATS: &[&str] = &[
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
];
/// `MaxSelectableFields`.
const MAX_SELECTABLE_FIELDS: usize = 8;
/// Fields allowed at the schema root when the status subresource is on (`allowedFieldsAtRootSchema`).
const ALLOWED_AT_ROOT_WITH_STATUS: &[&str] = &[
    "description",
    "type",
    "format",
    "title",
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
    "required",
    "items",
    "properties",
    "externalDocs",
    "example",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
];

const TOP_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];
const SPEC_FIELDS: &[&str] = &[
    "group",
    "names",
    "scope",
    "versions",
    "conversion",
    "preserveUnknownFields",
];
const NAMES_FIELDS: &[&str] = &[
    "plural",
    "singular",
    "shortNames",
    "kind",
    "listKind",
    "categories",
];
const VERSION_FIELDS: &[&str] = &[
    "name",
    "served",
    "storage",
    "deprecated",
    "deprecationWarning",
    "schema",
    "subresources",
    "additionalPrinterColumns",
    "selectableFields",
];

/// Keys the v1 types do not have: a strict-validating server refuses them, a lax one drops them.
fn unknown_fields(obj: &Value, at: &str, known: &[&str], errors: &mut Vec<FieldError>) {
    let Some(map) = obj.as_object() else { return };
    for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            at,
            None,
            format!("unknown field {}", quote(key)),
        ));
    }
}

/// Validates a whole CRD for the oldest supported server (`ValidateOptions::default()`).
pub fn validate_crd(crd: &Value) -> Result<(), Vec<FieldError>> {
    validate_crd_with(crd, &ValidateOptions::default())
}

/// Validates a whole CRD as the target API server does on create.
pub fn validate_crd_with(crd: &Value, opts: &ValidateOptions) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if crd.get("apiVersion").and_then(Value::as_str) != Some("apiextensions.k8s.io/v1") {
        errors.push(FieldError::invalid(
            "apiVersion",
            crd.get("apiVersion").unwrap_or(&Value::Null),
            "must be apiextensions.k8s.io/v1",
        ));
    }
    if crd.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
        errors.push(FieldError::invalid(
            "kind",
            crd.get("kind").unwrap_or(&Value::Null),
            "must be CustomResourceDefinition",
        ));
    }
    let empty = Value::Object(Default::default());
    let spec = crd.get("spec").unwrap_or(&empty);
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let names = spec.get("names").unwrap_or(&empty);
    let group = s(spec, "group");
    let plural = s(names, "plural");

    // metadata.name
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        let mut problems = dns1123_subdomain(name);
        if name != format!("{plural}.{group}") {
            problems.push("must be spec.names.plural+\".\"+spec.group".to_string());
        }
        if !problems.is_empty() {
            errors.push(FieldError::invalid(
                "metadata.name",
                &Value::String(name.into()),
                problems.join(", "),
            ));
        }
    }

    // group
    if group.is_empty() {
        errors.push(FieldError::required("spec.group", ""));
    } else {
        let problems = dns1123_subdomain(&group);
        if !problems.is_empty() {
            errors.push(FieldError::invalid(
                "spec.group",
                &Value::String(group.clone()),
                problems.join(","),
            ));
        } else if !group.contains('.') {
            errors.push(FieldError::invalid(
                "spec.group",
                &Value::String(group.clone()),
                "should be a domain with at least one dot",
            ));
        }
    }

    // scope
    match spec.get("scope").and_then(Value::as_str) {
        None | Some("") => errors.push(FieldError::required("spec.scope", "")),
        Some("Cluster" | "Namespaced") => {}
        Some(other) => errors.push(FieldError::not_supported(
            "spec.scope",
            &Value::String(other.into()),
            &[quote("Cluster"), quote("Namespaced")],
        )),
    }

    names_checks(names, &mut errors);

    if spec.get("preserveUnknownFields") == Some(&Value::Bool(true)) {
        errors.push(FieldError::invalid(
            "spec.preserveUnknownFields",
            &Value::Bool(true),
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ));
    }
    if let Some(conversion) = spec.get("conversion") {
        match conversion.get("strategy").and_then(Value::as_str) {
            None | Some("None") => {}
            Some("Webhook") => {
                if conversion.get("webhook").is_none() {
                    errors.push(FieldError::required(
                        "spec.conversion.webhook",
                        "required when strategy is set to Webhook",
                    ));
                }
            }
            Some(other) => errors.push(FieldError::not_supported(
                "spec.conversion.strategy",
                &Value::String(other.into()),
                &[quote("None"), quote("Webhook")],
            )),
        }
    }

    unknown_fields(crd, "", TOP_FIELDS, &mut errors);
    unknown_fields(spec, "spec", SPEC_FIELDS, &mut errors);
    unknown_fields(names, "spec.names", NAMES_FIELDS, &mut errors);
    if let Some(versions) = spec.get("versions").and_then(Value::as_array) {
        for (i, v) in versions.iter().enumerate() {
            unknown_fields(
                v,
                &path::index("spec.versions", i),
                VERSION_FIELDS,
                &mut errors,
            );
        }
    }
    versions_checks(spec, opts, &mut errors);

    errors.sort_by_key(|e| e.to_string());
    errors.dedup();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn names_checks(names: &Value, errors: &mut Vec<FieldError>) {
    let get = |k: &str| names.get(k).and_then(Value::as_str).unwrap_or("");
    for key in ["plural", "singular", "kind", "listKind"] {
        let v = get(key);
        let at = format!("spec.names.{key}");
        if v.is_empty() {
            // `singular` and `listKind` are defaulted by the server from plural/kind.
            if key == "plural" || key == "kind" {
                errors.push(FieldError::required(at, ""));
            }
            continue;
        }
        let lowered = v.to_lowercase();
        let problems = dns1035_label(if key == "kind" || key == "listKind" {
            &lowered
        } else {
            v
        });
        if !problems.is_empty() {
            let prefix = if key == "kind" || key == "listKind" {
                "may have mixed case, but should otherwise match: "
            } else {
                ""
            };
            errors.push(FieldError::invalid(
                at,
                &Value::String(v.into()),
                format!("{prefix}{}", problems.join(",")),
            ));
        }
    }
    if !get("kind").is_empty() && get("kind") == get("listKind") {
        errors.push(FieldError::invalid(
            "spec.names.listKind",
            &Value::String(get("listKind").into()),
            "kind and listKind may not be the same",
        ));
    }
    for key in ["shortNames", "categories"] {
        if let Some(list) = names.get(key).and_then(Value::as_array) {
            for (i, v) in list.iter().enumerate() {
                let text = v.as_str().unwrap_or("");
                let problems = dns1035_label(text);
                if !problems.is_empty() {
                    errors.push(FieldError::invalid(
                        format!("spec.names.{key}[{i}]"),
                        v,
                        problems.join(","),
                    ));
                }
            }
        }
    }
}

fn versions_checks(spec: &Value, opts: &ValidateOptions, errors: &mut Vec<FieldError>) {
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errors.push(FieldError::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    let omitted = Value::String("(versions)".into());
    let mut storage = 0;
    let mut served_any = false;
    let mut seen = Vec::new();
    for (i, version) in versions.iter().enumerate() {
        let at = path::index("spec.versions", i);
        let name = version.get("name").and_then(Value::as_str).unwrap_or("");
        if version.get("storage") == Some(&Value::Bool(true)) {
            storage += 1;
        }
        if version.get("served") == Some(&Value::Bool(true)) {
            served_any = true;
        }
        for flag in ["served", "storage"] {
            if !version.get(flag).is_some_and(Value::is_boolean) {
                errors.push(FieldError::required(path::child(&at, flag), ""));
            }
        }
        if seen.contains(&name) {
            errors.push(FieldError::invalid(
                "spec.versions",
                &omitted,
                "must contain unique version names",
            ));
        }
        seen.push(name);
        let problems = dns1035_label(name);
        if !problems.is_empty() {
            errors.push(FieldError::invalid(
                path::child(&at, "name"),
                &Value::String(name.into()),
                problems.join(","),
            ));
        }
        version_checks(version, &at, opts, errors);
    }
    if storage != 1 {
        errors.push(FieldError::invalid(
            "spec.versions",
            &omitted,
            "must have exactly one version marked as storage version",
        ));
    }
    if !served_any {
        errors.push(FieldError::invalid(
            "spec.versions",
            &omitted,
            "must have at least one version marked as served",
        ));
    }
}

fn version_checks(version: &Value, at: &str, opts: &ValidateOptions, errors: &mut Vec<FieldError>) {
    let status_enabled = version
        .pointer("/subresources/status")
        .is_some_and(|s| !s.is_null());
    let schema_at = path::child(&path::child(at, "schema"), "openAPIV3Schema");
    let schema = version.pointer("/schema/openAPIV3Schema");
    match schema {
        None | Some(Value::Null) => errors.push(FieldError::required(schema_at.clone(), "")),
        Some(schema) => {
            if status_enabled && let Some(obj) = schema.as_object() {
                if let Some(ty) = obj
                    .get("type")
                    .and_then(Value::as_str)
                    .filter(|t| *t != "object")
                {
                    errors.push(FieldError::invalid(
                            path::child(&schema_at, "type"),
                            &Value::String(ty.into()),
                            "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
                        ));
                }
                for key in obj.keys() {
                    if !ALLOWED_AT_ROOT_WITH_STATUS.contains(&key.as_str()) {
                        errors.push(FieldError::invalid_type_name(
                                schema_at.clone(),
                                "object",
                                format!("only [{}] fields are allowed at the root of the schema if the status subresource is enabled (found {key})", ALLOWED_AT_ROOT_WITH_STATUS.join(" ")),
                            ));
                    }
                }
            }
            let mut totals = CostTotals::default();
            let mut found = structural::check_schema(schema, &schema_at, opts, &mut totals);
            if totals.total > STATIC_ESTIMATED_CRD_COST_LIMIT {
                let mut most = totals.rules.clone();
                most.sort_by_key(|r| std::cmp::Reverse(r.1));
                for (rule_path, _) in most.iter().take(4) {
                    found.push(FieldError::forbidden(
                        rule_path.clone(),
                        "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
                    ));
                }
                found.push(FieldError::forbidden(
                    schema_at.clone(),
                    cel_check::cost_error_message(
                        "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
                        totals.total,
                        STATIC_ESTIMATED_CRD_COST_LIMIT,
                    ),
                ));
            }
            errors.extend(found);
        }
    }
    subresource_checks(version, at, errors);
    if let Some(columns) = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
    {
        for (i, col) in columns.iter().enumerate() {
            column_checks(
                col,
                &path::index(&path::child(at, "additionalPrinterColumns"), i),
                errors,
            );
        }
    }
    if let Some(fields) = version.get("selectableFields").and_then(Value::as_array) {
        let fields_at = path::child(at, "selectableFields");
        if opts.kubernetes_minor < 30 && !opts.allow_selectable_fields {
            errors.push(FieldError::forbidden(
                fields_at.clone(),
                format!(
                    "selectableFields are not supported by Kubernetes 1.{} (beta from 1.30, GA in 1.32)",
                    opts.kubernetes_minor
                ),
            ));
        }
        selectable_checks(fields, schema, &fields_at, errors);
    }
    if version
        .get("deprecationWarning")
        .and_then(Value::as_str)
        .is_some()
        && version.get("deprecated") != Some(&Value::Bool(true))
    {
        errors.push(FieldError::invalid(
            path::child(at, "deprecationWarning"),
            version.get("deprecationWarning").unwrap_or(&Value::Null),
            "can only be set for deprecated versions",
        ));
    }
}

fn subresource_checks(version: &Value, at: &str, errors: &mut Vec<FieldError>) {
    let Some(scale) = version
        .pointer("/subresources/scale")
        .filter(|s| !s.is_null())
    else {
        return;
    };
    let sub_at = path::child(at, "subresources");
    let checks = [
        (
            "specReplicasPath",
            true,
            &[".spec."][..],
            "should be a json path under .spec",
        ),
        (
            "statusReplicasPath",
            true,
            &[".status."][..],
            "should be a json path under .status",
        ),
        (
            "labelSelectorPath",
            false,
            &[".spec.", ".status."][..],
            "should be a json path under either .spec or .status",
        ),
    ];
    for (key, required, prefixes, message) in checks {
        let field_at = path::child(&sub_at, &format!("scale.{key}"));
        match scale.get(key).and_then(Value::as_str) {
            None | Some("") => {
                if required {
                    errors.push(FieldError::required(field_at, ""));
                }
            }
            Some(p) => {
                if let Some(e) = simple_json_path(p, &field_at) {
                    errors.push(e);
                } else if !prefixes.iter().any(|pre| p.starts_with(pre)) {
                    errors.push(FieldError::invalid(
                        field_at,
                        &Value::String(p.into()),
                        message,
                    ));
                }
            }
        }
    }
}

/// `validateSimpleJSONPath`.
fn simple_json_path(p: &str, at: &str) -> Option<FieldError> {
    if p.is_empty() {
        Some(FieldError::invalid(
            at,
            &Value::String(p.into()),
            "must not be empty",
        ))
    } else if !p.starts_with('.') {
        Some(FieldError::invalid(
            at,
            &Value::String(p.into()),
            "must be a simple json path starting with .",
        ))
    } else {
        None
    }
}

fn column_checks(col: &Value, at: &str, errors: &mut Vec<FieldError>) {
    let get = |k: &str| col.get(k).and_then(Value::as_str).unwrap_or("");
    if get("name").is_empty() {
        errors.push(FieldError::required(path::child(at, "name"), ""));
    }
    let types = format!("must be one of {}", PRINTER_COLUMN_TYPES.join(","));
    match get("type") {
        "" => errors.push(FieldError::required(path::child(at, "type"), types)),
        t if !PRINTER_COLUMN_TYPES.contains(&t) => errors.push(FieldError::invalid(
            path::child(at, "type"),
            &Value::String(t.into()),
            types,
        )),
        _ => {}
    }
    let format = get("format");
    if !format.is_empty() && !PRINTER_COLUMN_FORMATS.contains(&format) {
        errors.push(FieldError::invalid(
            path::child(at, "format"),
            &Value::String(format.into()),
            format!("must be one of {}", PRINTER_COLUMN_FORMATS.join(",")),
        ));
    }
    let json_path = get("jsonPath");
    if json_path.is_empty() {
        errors.push(FieldError::required(path::child(at, "JSONPath"), ""));
    } else if let Some(e) = simple_json_path(json_path, &path::child(at, "JSONPath")) {
        errors.push(e);
    }
}

/// `ValidateCustomResourceSelectableFields`: each path must name a string, boolean or integer
/// field the schema declares, outside metadata, without duplicates, at most 8.
fn selectable_checks(
    fields: &[Value],
    schema: Option<&Value>,
    at: &str,
    errors: &mut Vec<FieldError>,
) {
    let mut unique = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let f_at = path::child(&path::index(at, i), "jsonPath");
        let Some(p) = f
            .get("jsonPath")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        else {
            errors.push(FieldError::required(f_at, ""));
            continue;
        };
        let value = Value::String(p.into());
        let Some(target) = p.strip_prefix('.').and_then(|rest| {
            rest.split('.').try_fold(schema?, |node, segment| {
                node.pointer(&format!("/properties/{segment}"))
            })
        }) else {
            errors.push(FieldError::invalid(
                f_at,
                &value,
                "is an invalid path: does not refer to a field declared in the schema",
            ));
            continue;
        };
        if p.starts_with(".metadata") {
            errors.push(FieldError::invalid(
                f_at.clone(),
                &value,
                "must not point to fields in metadata",
            ));
        }
        if !matches!(
            target.get("type").and_then(Value::as_str),
            Some("string" | "boolean" | "integer")
        ) {
            errors.push(FieldError::invalid(
                f_at.clone(),
                &value,
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        if unique.contains(&p) {
            errors.push(FieldError::duplicate(f_at, &value));
        } else {
            unique.push(p);
        }
    }
    if unique.len() > MAX_SELECTABLE_FIELDS {
        errors.push(FieldError::new(
            FieldErrorKind::TooMany,
            at,
            None,
            format!(
                "{}: must have at most {MAX_SELECTABLE_FIELDS} items",
                unique.len()
            ),
        ));
    }
}

/// `IsDNS1123Subdomain` problems.
fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > 253 {
        problems.push("must be no more than 253 characters".to_string());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !s.split('.').all(label_ok) {
        problems.push(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                .to_string(),
        );
    }
    problems
}

/// `IsDNS1035Label` problems.
fn dns1035_label(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > 63 {
        problems.push("must be no more than 63 characters".to_string());
    }
    let ok = s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-');
    if !ok {
        problems.push(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
                .to_string(),
        );
    }
    problems
}
