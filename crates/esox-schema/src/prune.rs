//! Structural pruning (`pkg/apiserver/schema/pruning`): fields the schema does not specify are
//! dropped, except below `x-kubernetes-preserve-unknown-fields: true`, and `apiVersion`, `kind`
//! and `metadata` of the object root and of embedded resources are kept.

use serde_json::Value;

use crate::node::{Additional, Node};

/// Prunes `value` in place. `is_resource_root` keeps the type and object meta fields.
pub(crate) fn prune(node: &Node, value: &mut Value, is_resource_root: bool) {
    match value {
        Value::Object(map) => {
            let keep_meta = is_resource_root || node.embedded;
            let additional = match &node.additional {
                Some(Additional::Schema(sub)) => Some(Some(sub.as_ref())),
                Some(Additional::Allowed(true)) => Some(None),
                _ => None,
            };
            map.retain(|k, _| {
                node.properties.contains_key(k)
                    || node.preserve_unknown
                    || additional.is_some()
                    || (keep_meta && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
            });
            for (k, v) in map.iter_mut() {
                // Object meta is pruned with ObjectMeta semantics by the server, not by the schema
                // (which may only restrict name and generateName).
                if keep_meta && k == "metadata" {
                    continue;
                }
                if let Some(sub) = node.properties.get(k) {
                    prune(sub, v, false);
                } else if let Some(Some(sub)) = additional {
                    prune(sub, v, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = &node.items {
                for item in items.iter_mut() {
                    prune(sub, item, false);
                }
            }
        }
        _ => {}
    }
}
