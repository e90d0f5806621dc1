//! Strategic merge patch for the built-in kinds esox and kubectl write. Like a merge patch, but
//! lists that carry a merge key in the Kubernetes types are merged item by item, and the
//! `$patch`, `$retainKeys`, `$setElementOrder` and `$deleteFromPrimitiveList` directives apply.

use serde_json::{Map, Value};

/// How a list field merges.
enum ListStrategy {
    Replace,
    MergeKey(&'static str),
    /// A list of scalars merged as a set (finalizers).
    MergePrimitive,
}

fn strategy(field: &str) -> ListStrategy {
    match field {
        "ownerReferences" => ListStrategy::MergeKey("uid"),
        "finalizers" => ListStrategy::MergePrimitive,
        "secrets" | "imagePullSecrets" | "containers" | "initContainers" | "volumes" | "env"
        | "ports" | "volumeMounts" => ListStrategy::MergeKey("name"),
        "conditions" => ListStrategy::MergeKey("type"),
        _ => ListStrategy::Replace,
    }
}

pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<(), String> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut clean = p.clone();
        clean.remove("$patch");
        *target = Value::Object(clean);
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else {
        return Ok(());
    };
    if let Some(retain) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(del)) = (t.get_mut(field), v.as_array()) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match (v, strategy(k)) {
            (Value::Array(items), ListStrategy::MergeKey(key)) => {
                let cur = t
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !cur.is_array() {
                    *cur = Value::Array(Vec::new());
                }
                if let Value::Array(list) = cur {
                    merge_keyed(list, items, key)?;
                }
            }
            (Value::Array(items), ListStrategy::MergePrimitive) => {
                let cur = t
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = cur {
                    for it in items {
                        if !list.contains(it) {
                            list.push(it.clone());
                        }
                    }
                } else {
                    *cur = Value::Array(items.clone());
                }
            }
            (Value::Object(_), _) => {
                strategic_merge(t.entry(k.clone()).or_insert(Value::Null), v)?;
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(())
}

fn merge_keyed(list: &mut Vec<Value>, items: &[Value], key: &str) -> Result<(), String> {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *list = items
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .collect();
        return Ok(());
    }
    for item in items {
        let id = item
            .get(key)
            .ok_or_else(|| format!("list item lacks merge key {key:?}"))?;
        let pos = list.iter().position(|x| x.get(key) == Some(id));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = pos {
                list.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => strategic_merge(&mut list[i], item)?,
            None => list.push(item.clone()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owner_references_merge_by_uid_and_finalizers_union() {
        let mut t = json!({"metadata": {
            "finalizers": ["a"],
            "ownerReferences": [{"uid": "1", "name": "x"}]
        }, "data": {"k": "v"}});
        strategic_merge(
            &mut t,
            &json!({"metadata": {
                "finalizers": ["b"],
                "ownerReferences": [{"uid": "2", "name": "y"}, {"uid": "1", "$patch": "delete"}],
                "$setElementOrder/finalizers": ["a", "b"]
            }, "data": {"k": null, "j": "w"}}),
        )
        .expect("patch");
        assert_eq!(
            t,
            json!({"metadata": {"finalizers": ["a", "b"], "ownerReferences": [{"uid": "2", "name": "y"}]}, "data": {"j": "w"}})
        );
    }

    #[test]
    fn delete_from_primitive_list() {
        let mut t = json!({"metadata": {"finalizers": ["a", "b"]}});
        strategic_merge(
            &mut t,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        )
        .expect("patch");
        assert_eq!(t, json!({"metadata": {"finalizers": ["b"]}}));
    }
}
