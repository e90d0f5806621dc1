//! OpenAPI value validation with the API server's semantics (kube-openapi's validator as the
//! apiextensions server drives it): types, nullable, enum, formats, lengths, bounds, required,
//! junctors, and the `x-kubernetes-list-type` uniqueness of `pkg/apiserver/schema/listtype`.
//! Messages follow kube-openapi's ("spec.x in body should be at least 3 chars long").

use std::collections::{BTreeMap, HashMap};

use regex::Regex;
use serde_json::Value;

use crate::error::{FieldError, FieldErrorKind, quote, render_value};
use crate::formats;
use crate::node::{Additional, Node};
use crate::path;

/// Compiled `pattern` regexes of one schema, keyed by their source.
#[derive(Debug, Default)]
pub(crate) struct Patterns(HashMap<String, Regex>);

impl Patterns {
    /// Compiles every pattern in `node`; the first bad one is returned as `(pattern, error)`.
    pub(crate) fn collect(node: &Node) -> Result<Self, (String, String)> {
        let mut patterns = Patterns::default();
        let mut result = Ok(());
        walk(node, &mut |n| {
            if let Some(p) = &n.pattern
                && result.is_ok()
                && !patterns.0.contains_key(p)
            {
                match compile_pattern(p) {
                    Ok(re) => {
                        patterns.0.insert(p.clone(), re);
                    }
                    Err(e) => result = Err((p.clone(), e)),
                }
            }
        });
        result.map(|()| patterns)
    }
}

/// Visits `node` and every schema below it, junctors included.
pub(crate) fn walk(node: &Node, f: &mut dyn FnMut(&Node)) {
    f(node);
    for sub in node.properties.values() {
        walk(sub, f);
    }
    if let Some(Additional::Schema(sub)) = &node.additional {
        walk(sub, f);
    }
    if let Some(sub) = &node.items {
        walk(sub, f);
    }
    for sub in node.all_of.iter().chain(&node.any_of).chain(&node.one_of) {
        walk(sub, f);
    }
    if let Some(sub) = &node.not {
        walk(sub, f);
    }
}

/// Patterns are Go RE2 syntax on the server; the `regex` crate accepts the same core syntax.
pub(crate) fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

/// The JSON type name kube-openapi reports for a value.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn body_path(at: &str) -> &str {
    if at.is_empty() { "body" } else { at }
}

/// Go's `%v` for a float64: no trailing `.0` on whole numbers.
pub(crate) fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Whether `value` has the schema type `ty` (`integer` is a JSON number without fraction).
pub(crate) fn type_matches(node: &Node, value: &Value) -> bool {
    if node.int_or_string {
        return value.is_string() || value.is_i64() || value.is_u64();
    }
    match node.ty.as_deref() {
        None | Some("") => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("boolean") => value.is_boolean(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some(_) => true,
    }
}

/// Validates `value` against `node` (OpenAPI keywords only; CEL runs separately).
pub(crate) fn validate_value(
    node: &Node,
    value: &Value,
    at: &str,
    patterns: &Patterns,
    errors: &mut Vec<FieldError>,
) {
    if value.is_null() {
        if node.nullable || (node.ty.is_none() && !node.int_or_string) {
            return;
        }
        let ty = if node.int_or_string {
            "integer,string"
        } else {
            node.type_name()
        };
        errors.push(type_error(at, ty, value));
        return;
    }
    if !type_matches(node, value) {
        let ty = if node.int_or_string {
            "integer,string"
        } else {
            node.type_name()
        };
        errors.push(type_error(at, ty, value));
        return;
    }
    keywords(node, value, at, patterns, errors);
    match value {
        Value::Object(map) => {
            for req in &node.required {
                if !map.contains_key(req) {
                    errors.push(FieldError::required(path::child(at, req), ""));
                }
            }
            for (k, v) in map {
                if let Some(sub) = node.properties.get(k) {
                    validate_value(sub, v, &path::child(at, k), patterns, errors);
                } else if let Some(Additional::Schema(sub)) = &node.additional {
                    validate_value(sub, v, &path::key(at, k), patterns, errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = &node.items {
                for (i, v) in items.iter().enumerate() {
                    validate_value(sub, v, &path::index(at, i), patterns, errors);
                }
            }
            list_type_uniqueness(node, items, at, errors);
        }
        _ => {}
    }
}

fn type_error(at: &str, ty: &str, value: &Value) -> FieldError {
    let actual = json_type(value);
    FieldError::new(
        FieldErrorKind::TypeInvalid,
        at,
        Some(quote(actual)),
        format!(
            "{} in body must be of type {ty}: {}",
            body_path(at),
            quote(actual)
        ),
    )
}

/// The keywords that apply to `value` itself, junctors included.
fn keywords(
    node: &Node,
    value: &Value,
    at: &str,
    patterns: &Patterns,
    errors: &mut Vec<FieldError>,
) {
    let in_body = body_path(at);
    if let Some(allowed) = &node.enum_values
        && !allowed.iter().any(|a| a == value)
    {
        let supported: Vec<String> = allowed.iter().map(render_value).collect();
        errors.push(FieldError::not_supported(at, value, &supported));
    }
    match value {
        Value::String(s) => {
            let chars = s.chars().count() as u64;
            if let Some(max) = node.max_length.filter(|m| chars > *m) {
                errors.push(FieldError::too_long(at, max));
            }
            if let Some(min) = node.min_length.filter(|m| chars < *m) {
                errors.push(FieldError::invalid(
                    at,
                    value,
                    format!("{in_body} in body should be at least {min} chars long"),
                ));
            }
            if let Some(p) = &node.pattern
                && patterns.0.get(p).is_some_and(|re| !re.is_match(s))
            {
                errors.push(FieldError::invalid(
                    at,
                    value,
                    format!("{in_body} in body should match '{p}'"),
                ));
            }
            if let Some(format) = &node.format
                && formats::check(format, s) == Some(false)
            {
                errors.push(FieldError::invalid(
                    at,
                    value,
                    format!("{in_body} in body must be of type {format}: {}", quote(s)),
                ));
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = node.minimum
                && ((node.exclusive_minimum && x <= min) || x < min)
            {
                let op = if node.exclusive_minimum {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                errors.push(FieldError::invalid(
                    at,
                    value,
                    format!("{in_body} in body should be {op} {}", fmt_num(min)),
                ));
            }
            if let Some(max) = node.maximum
                && ((node.exclusive_maximum && x >= max) || x > max)
            {
                let op = if node.exclusive_maximum {
                    "less than"
                } else {
                    "less than or equal to"
                };
                errors.push(FieldError::invalid(
                    at,
                    value,
                    format!("{in_body} in body should be {op} {}", fmt_num(max)),
                ));
            }
            if let Some(m) = node.multiple_of.filter(|m| *m > 0.0) {
                let q = x / m;
                if (q - q.round()).abs() > 1e-9 {
                    errors.push(FieldError::invalid(
                        at,
                        value,
                        format!("{in_body} in body should be a multiple of {}", fmt_num(m)),
                    ));
                }
            }
        }
        Value::Array(items) => {
            let n = items.len() as u64;
            if let Some(max) = node.max_items.filter(|m| n > *m) {
                errors.push(FieldError::too_many(at, items.len(), max));
            }
            if let Some(min) = node.min_items.filter(|m| n < *m) {
                errors.push(FieldError::invalid(
                    at,
                    value,
                    format!("{in_body} in body should have at least {min} items"),
                ));
            }
            if node.unique_items {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        errors.push(FieldError::duplicate(path::index(at, i), item));
                    }
                }
            }
        }
        Value::Object(map) => {
            let n = map.len() as u64;
            if let Some(max) = node.max_properties.filter(|m| n > *m) {
                errors.push(FieldError::too_many(at, map.len(), max));
            }
            if let Some(min) = node.min_properties.filter(|m| n < *m) {
                errors.push(FieldError::invalid_type_name(
                    at,
                    "object",
                    format!("{in_body} in body should have at least {min} properties"),
                ));
            }
        }
        _ => {}
    }
    // Junctors apply value validations to the same value (their own properties/items included).
    for sub in &node.all_of {
        nested(sub, value, at, patterns, errors);
    }
    if !node.any_of.is_empty()
        && !node
            .any_of
            .iter()
            .any(|sub| nested_ok(sub, value, at, patterns))
    {
        errors.push(FieldError::invalid_type_name(
            at,
            json_type(value),
            format!("{in_body} in body must validate at least one schema (anyOf)"),
        ));
    }
    if !node.one_of.is_empty() {
        let matching = node
            .one_of
            .iter()
            .filter(|sub| nested_ok(sub, value, at, patterns))
            .count();
        if matching != 1 {
            errors.push(FieldError::invalid_type_name(
                at,
                json_type(value),
                format!("{in_body} in body must validate one and only one schema (oneOf)"),
            ));
        }
    }
    if let Some(sub) = &node.not
        && nested_ok(sub, value, at, patterns)
    {
        errors.push(FieldError::invalid_type_name(
            at,
            json_type(value),
            format!("{in_body} in body must not validate the schema (not)"),
        ));
    }
}

fn nested_ok(node: &Node, value: &Value, at: &str, patterns: &Patterns) -> bool {
    let mut errors = Vec::new();
    nested(node, value, at, patterns, &mut errors);
    errors.is_empty()
}

/// A junctor's schema applied to a value: a `type` there (only in the int-or-string pattern)
/// is checked, and its properties/items recurse in the same way.
fn nested(node: &Node, value: &Value, at: &str, patterns: &Patterns, errors: &mut Vec<FieldError>) {
    if node.ty.is_some() && !type_matches(node, value) {
        errors.push(type_error(at, node.type_name(), value));
        return;
    }
    keywords(node, value, at, patterns, errors);
    match value {
        Value::Object(map) => {
            for req in &node.required {
                if !map.contains_key(req) {
                    errors.push(FieldError::required(path::child(at, req), ""));
                }
            }
            for (k, sub) in &node.properties {
                if let Some(v) = map.get(k) {
                    nested(sub, v, &path::child(at, k), patterns, errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = &node.items {
                for (i, v) in items.iter().enumerate() {
                    nested(sub, v, &path::index(at, i), patterns, errors);
                }
            }
        }
        _ => {}
    }
}

/// `x-kubernetes-list-type: set` items must be unique; `map` items must be unique by their
/// `x-kubernetes-list-map-keys` (absent keys fall back to the key's default, as the server does).
fn list_type_uniqueness(node: &Node, items: &[Value], at: &str, errors: &mut Vec<FieldError>) {
    match node.list_type.as_deref() {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    errors.push(FieldError::duplicate(path::index(at, i), item));
                }
            }
        }
        Some("map") => {
            let mut seen: Vec<BTreeMap<&str, Value>> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Some(key) = map_list_key(node, item) else {
                    continue;
                };
                if seen.contains(&key) {
                    let shown: serde_json::Map<String, Value> = key
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect();
                    errors.push(FieldError::duplicate(
                        path::index(at, i),
                        &Value::Object(shown),
                    ));
                }
                seen.push(key);
            }
        }
        _ => {}
    }
}

/// The key tuple of a map-list item, `None` when it is not an object.
pub(crate) fn map_list_key<'n>(node: &'n Node, item: &Value) -> Option<BTreeMap<&'n str, Value>> {
    let obj = item.as_object()?;
    let items = node.items.as_deref();
    Some(
        node.list_map_keys
            .iter()
            .map(|k| {
                let v = obj.get(k).cloned().or_else(|| {
                    items
                        .and_then(|i| i.properties.get(k))
                        .and_then(|p| p.default.clone())
                });
                (k.as_str(), v.unwrap_or(Value::Null))
            })
            .collect(),
    )
}
