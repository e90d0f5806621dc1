//! The typed view of an OpenAPI v3 schema node that defaulting, pruning and validation walk.
//! Parsing checks keyword shapes; the structural rules themselves live in `structural`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::SchemaError;
use crate::path;

/// `additionalProperties`: a boolean or a schema.
#[derive(Debug, Clone)]
pub(crate) enum Additional {
    Allowed(bool),
    Schema(Box<Node>),
}

/// One `x-kubernetes-validations` entry.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub rule: String,
    pub message: Option<String>,
    pub message_expression: Option<String>,
    pub reason: Option<String>,
    pub field_path: Option<String>,
    pub optional_old_self: Option<bool>,
    /// Keys other than rule/message (their names), for the 1.24 field check.
    pub extra_keys: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub ty: Option<String>,
    pub format: Option<String>,
    pub nullable: bool,
    /// `description` / `title` are set (non-empty); both are forbidden inside junctors.
    pub has_description: bool,
    pub has_title: bool,
    pub properties: BTreeMap<String, Node>,
    pub additional: Option<Additional>,
    pub items: Option<Box<Node>>,
    pub required: Vec<String>,
    pub enum_values: Option<Vec<Value>>,
    pub default: Option<Value>,
    pub pattern: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: bool,
    pub exclusive_maximum: bool,
    pub multiple_of: Option<f64>,
    pub unique_items: bool,
    pub all_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub one_of: Vec<Node>,
    pub not: Option<Box<Node>>,
    pub preserve_unknown: bool,
    pub embedded: bool,
    pub int_or_string: bool,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    pub map_type: Option<String>,
    pub rules: Vec<Rule>,
}

impl Node {
    /// Parses `value` found at `at` (a path used only in error messages).
    pub(crate) fn parse(value: &Value, at: &str) -> Result<Node, SchemaError> {
        let obj = value
            .as_object()
            .ok_or_else(|| malformed(at, "a schema must be a JSON object"))?;
        let mut node = Node {
            ty: opt_str(obj, "type", at)?,
            format: opt_str(obj, "format", at)?,
            nullable: opt_bool(obj, "nullable", at)?.unwrap_or(false),
            has_description: opt_str(obj, "description", at)?.is_some_and(|d| !d.is_empty()),
            has_title: opt_str(obj, "title", at)?.is_some_and(|d| !d.is_empty()),
            required: str_list(obj, "required", at)?,
            enum_values: match obj.get("enum") {
                None | Some(Value::Null) => None,
                Some(Value::Array(values)) => Some(values.clone()),
                Some(_) => return Err(malformed(&path::child(at, "enum"), "must be a list")),
            },
            default: obj.get("default").cloned(),
            pattern: opt_str(obj, "pattern", at)?,
            min_length: opt_u64(obj, "minLength", at)?,
            max_length: opt_u64(obj, "maxLength", at)?,
            min_items: opt_u64(obj, "minItems", at)?,
            max_items: opt_u64(obj, "maxItems", at)?,
            min_properties: opt_u64(obj, "minProperties", at)?,
            max_properties: opt_u64(obj, "maxProperties", at)?,
            minimum: opt_f64(obj, "minimum", at)?,
            maximum: opt_f64(obj, "maximum", at)?,
            exclusive_minimum: opt_bool(obj, "exclusiveMinimum", at)?.unwrap_or(false),
            exclusive_maximum: opt_bool(obj, "exclusiveMaximum", at)?.unwrap_or(false),
            multiple_of: opt_f64(obj, "multipleOf", at)?,
            unique_items: opt_bool(obj, "uniqueItems", at)?.unwrap_or(false),
            preserve_unknown: opt_bool(obj, "x-kubernetes-preserve-unknown-fields", at)?
                .unwrap_or(false),
            embedded: opt_bool(obj, "x-kubernetes-embedded-resource", at)?.unwrap_or(false),
            int_or_string: opt_bool(obj, "x-kubernetes-int-or-string", at)?.unwrap_or(false),
            list_type: opt_str(obj, "x-kubernetes-list-type", at)?,
            list_map_keys: str_list(obj, "x-kubernetes-list-map-keys", at)?,
            map_type: opt_str(obj, "x-kubernetes-map-type", at)?,
            ..Node::default()
        };
        if let Some(props) = obj.get("properties") {
            let props = props
                .as_object()
                .ok_or_else(|| malformed(&path::child(at, "properties"), "must be an object"))?;
            for (name, sub) in props {
                let sub_at = path::key(&path::child(at, "properties"), name);
                node.properties
                    .insert(name.clone(), Node::parse(sub, &sub_at)?);
            }
        }
        node.additional = match obj.get("additionalProperties") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(Additional::Allowed(*b)),
            Some(sub) => Some(Additional::Schema(Box::new(Node::parse(
                sub,
                &path::child(at, "additionalProperties"),
            )?))),
        };
        node.items = match obj.get("items") {
            None | Some(Value::Null) => None,
            // A list of schemas is refused by the CRD checks; keep the first for walking.
            Some(Value::Array(list)) => match list.first() {
                Some(first) => Some(Box::new(Node::parse(
                    first,
                    &path::index(&path::child(at, "items"), 0),
                )?)),
                None => None,
            },
            Some(sub) => Some(Box::new(Node::parse(sub, &path::child(at, "items"))?)),
        };
        node.all_of = node_list(obj, "allOf", at)?;
        node.any_of = node_list(obj, "anyOf", at)?;
        node.one_of = node_list(obj, "oneOf", at)?;
        node.not = match obj.get("not") {
            None | Some(Value::Null) => None,
            Some(sub) => Some(Box::new(Node::parse(sub, &path::child(at, "not"))?)),
        };
        node.rules = parse_rules(obj, at)?;
        Ok(node)
    }

    /// The schema that applies to an object's value under `key`, if any.
    pub(crate) fn property_schema(&self, key: &str) -> Option<&Node> {
        if let Some(node) = self.properties.get(key) {
            return Some(node);
        }
        match &self.additional {
            Some(Additional::Schema(node)) => Some(node),
            _ => None,
        }
    }

    /// The type name as CEL error values print it.
    pub(crate) fn type_name(&self) -> &str {
        self.ty.as_deref().unwrap_or("")
    }
}

fn malformed(at: &str, message: &str) -> SchemaError {
    SchemaError::Malformed {
        path: at.to_string(),
        message: message.to_string(),
    }
}

fn opt_str(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<String>, SchemaError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(malformed(&path::child(at, key), "must be a string")),
    }
}

fn opt_bool(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<bool>, SchemaError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(malformed(&path::child(at, key), "must be a boolean")),
    }
}

fn opt_u64(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<u64>, SchemaError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| malformed(&path::child(at, key), "must be a non-negative integer")),
    }
}

fn opt_f64(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<f64>, SchemaError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| malformed(&path::child(at, key), "must be a number")),
    }
}

fn str_list(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Vec<String>, SchemaError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| malformed(&path::child(at, key), "must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(malformed(
            &path::child(at, key),
            "must be a list of strings",
        )),
    }
}

fn node_list(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Vec<Node>, SchemaError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, v)| Node::parse(v, &path::index(&path::child(at, key), i)))
            .collect(),
        Some(_) => Err(malformed(
            &path::child(at, key),
            "must be a list of schemas",
        )),
    }
}

fn parse_rules(obj: &Map<String, Value>, at: &str) -> Result<Vec<Rule>, SchemaError> {
    let key = "x-kubernetes-validations";
    let list = match obj.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(malformed(&path::child(at, key), "must be a list of rules")),
    };
    let mut rules = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let entry_at = path::index(&path::child(at, key), i);
        let entry = entry
            .as_object()
            .ok_or_else(|| malformed(&entry_at, "must be an object"))?;
        rules.push(Rule {
            rule: opt_str(entry, "rule", &entry_at)?.unwrap_or_default(),
            message: opt_str(entry, "message", &entry_at)?,
            message_expression: opt_str(entry, "messageExpression", &entry_at)?,
            reason: opt_str(entry, "reason", &entry_at)?,
            field_path: opt_str(entry, "fieldPath", &entry_at)?,
            optional_old_self: opt_bool(entry, "optionalOldSelf", &entry_at)?,
            extra_keys: entry
                .keys()
                .filter(|k| k.as_str() != "rule" && k.as_str() != "message")
                .cloned()
                .collect(),
        });
    }
    Ok(rules)
}
