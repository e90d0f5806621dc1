//! Structural defaulting (`pkg/apiserver/schema/defaulting`): absent fields get their schema
//! `default`, and `null` in a non-nullable field is replaced by its default or dropped. Also the
//! CRD-time check that every default is pruned and valid (`defaulting/validation.go`).

use serde_json::Value;

use crate::ValidateOptions;
use crate::cel_eval;
use crate::error::FieldError;
use crate::node::{Additional, Node};
use crate::path;
use crate::prune;
use crate::validate::{self, Patterns};

/// Applies defaults below `value` (which itself is governed by `node`).
pub(crate) fn apply(node: &Node, value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, sub) in &node.properties {
                match map.get_mut(name) {
                    None => {
                        if let Some(d) = &sub.default {
                            map.insert(name.clone(), d.clone());
                        }
                    }
                    Some(Value::Null) if !sub.nullable => match &sub.default {
                        Some(d) => {
                            map.insert(name.clone(), d.clone());
                        }
                        None => {
                            map.remove(name);
                        }
                    },
                    Some(_) => {}
                }
                if let Some(v) = map.get_mut(name) {
                    apply(sub, v);
                }
            }
            if let Some(Additional::Schema(sub)) = &node.additional {
                let keys: Vec<String> = map
                    .keys()
                    .filter(|k| !node.properties.contains_key(*k))
                    .cloned()
                    .collect();
                for k in keys {
                    if map.get(&k).is_some_and(Value::is_null) && !sub.nullable {
                        match &sub.default {
                            Some(d) => {
                                map.insert(k.clone(), d.clone());
                            }
                            None => {
                                map.remove(&k);
                            }
                        }
                    }
                    if let Some(v) = map.get_mut(&k) {
                        apply(sub, v);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = &node.items {
                for item in items.iter_mut() {
                    if item.is_null()
                        && !sub.nullable
                        && let Some(d) = &sub.default
                    {
                        *item = d.clone();
                    }
                    apply(sub, item);
                }
            }
        }
        _ => {}
    }
}

/// Every `default` must survive pruning unchanged and validate against its own node (OpenAPI
/// and CEL rules, with `oldSelf` bound to the default too, as the server evaluates it).
pub(crate) fn check_defaults(root: &Node, prefix: &str, opts: &ValidateOptions) -> Vec<FieldError> {
    let patterns = match Patterns::collect(root) {
        Ok(p) => p,
        // Bad patterns are reported by the structural checks.
        Err(_) => return Vec::new(),
    };
    let mut errors = Vec::new();
    check_node(root, prefix, true, false, &patterns, opts, &mut errors);
    errors
}

fn check_node(
    node: &Node,
    at: &str,
    is_root: bool,
    inside_meta: bool,
    patterns: &Patterns,
    opts: &ValidateOptions,
    errors: &mut Vec<FieldError>,
) {
    let inside_meta = inside_meta && !node.embedded;
    if let Some(default) = &node.default {
        let default_path = path::child(at, "default");
        if !inside_meta {
            let mut pruned = default.clone();
            prune::prune(node, &mut pruned, node.embedded);
            if &pruned != default {
                errors.push(FieldError::invalid(
                    default_path.clone(),
                    default,
                    "must not have unknown fields",
                ));
            }
        }
        let mut found = Vec::new();
        validate::validate_value(node, default, &default_path, patterns, &mut found);
        if found.is_empty() {
            cel_eval::validate_rules_deep(
                node,
                default,
                Some(default),
                &default_path,
                opts,
                &mut found,
            );
        }
        errors.extend(found);
    }
    if let Some(items) = &node.items {
        check_node(
            items,
            &path::child(at, "items"),
            false,
            inside_meta,
            patterns,
            opts,
            errors,
        );
    }
    for (name, sub) in &node.properties {
        let sub_meta = inside_meta
            || ((is_root || node.embedded)
                && matches!(name.as_str(), "metadata" | "apiVersion" | "kind"));
        check_node(
            sub,
            &path::key(&path::child(at, "properties"), name),
            false,
            sub_meta,
            patterns,
            opts,
            errors,
        );
    }
    if let Some(Additional::Schema(sub)) = &node.additional {
        check_node(
            sub,
            &path::child(at, "additionalProperties"),
            false,
            inside_meta,
            patterns,
            opts,
            errors,
        );
    }
}
