//! Server-side apply and `managedFields` bookkeeping (see "Server-Side Apply" in the docs).
//! Field sets are sets of paths to leaves; lists are atomic (owned as a whole), which is what
//! the real server does for lists without a `listType=map` merge key.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

pub type Path = Vec<String>;
pub type FieldSet = BTreeSet<Path>;

/// Metadata fields the server owns; they never appear in a manager's field set.
const SERVER_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The leaves of `obj` as paths. `status_only` selects the status subresource's fields.
pub fn field_set(obj: &Value, status_only: bool) -> FieldSet {
    let mut out = FieldSet::new();
    if let Value::Object(m) = obj {
        for (k, v) in m {
            if k == "apiVersion" || k == "kind" {
                continue;
            }
            if (k == "status") != status_only {
                continue;
            }
            if k == "metadata" {
                if let Value::Object(mm) = v {
                    for (mk, mv) in mm {
                        if !SERVER_META.contains(&mk.as_str()) {
                            collect(&mut out, vec!["metadata".into(), mk.clone()], mv);
                        }
                    }
                }
                continue;
            }
            collect(&mut out, vec![k.clone()], v);
        }
    }
    out
}

fn collect(out: &mut FieldSet, path: Path, v: &Value) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                let mut p = path.clone();
                p.push(k.clone());
                collect(out, p, c);
            }
        }
        _ => {
            out.insert(path);
        }
    }
}

pub fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path {
        cur = cur.get(seg)?;
    }
    Some(cur)
}

fn remove_at(obj: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for seg in parents {
        match cur.get_mut(seg) {
            Some(c) => cur = c,
            None => return,
        }
    }
    if let Value::Object(m) = cur {
        m.remove(last);
    }
}

fn set_at(obj: &mut Value, path: &[String], v: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for seg in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else { return };
        cur = m
            .entry(seg.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    if let Value::Object(m) = cur {
        m.insert(last.clone(), v);
    }
}

/// Whether two paths overlap (equal, or one is inside the other).
fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// `fieldsV1` JSON for a field set.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cur = &mut root;
        for seg in path {
            let e = cur
                .entry(format!("f:{seg}"))
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(m) = e else { break };
            cur = m;
        }
    }
    Value::Object(root)
}

/// Field set from `fieldsV1` JSON (keys other than `f:` ones make their parent a leaf).
pub fn from_fields_v1(v: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    walk_v1(v, &mut Vec::new(), &mut out);
    out
}

fn walk_v1(v: &Value, path: &mut Path, out: &mut FieldSet) {
    let Value::Object(m) = v else { return };
    let children: Vec<(&String, &Value)> = m.iter().filter(|(k, _)| k.starts_with("f:")).collect();
    if children.is_empty() || m.keys().any(|k| !k.starts_with("f:") && k != ".") {
        if !path.is_empty() {
            out.insert(path.clone());
        }
        return;
    }
    for (k, c) in children {
        path.push(k[2..].to_string());
        walk_v1(c, path, out);
        path.pop();
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub subresource: String,
    pub time: String,
    pub fields: FieldSet,
}

pub fn read_managed(obj: &Value) -> Vec<ManagedEntry> {
    let Some(list) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .map(|e| ManagedEntry {
            manager: e
                .get("manager")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            operation: e
                .get("operation")
                .and_then(Value::as_str)
                .unwrap_or("Update")
                .into(),
            api_version: e
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            subresource: e
                .get("subresource")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            time: e.get("time").and_then(Value::as_str).unwrap_or("").into(),
            fields: e.get("fieldsV1").map(from_fields_v1).unwrap_or_default(),
        })
        .collect()
}

pub fn write_managed(obj: &mut Value, entries: &[ManagedEntry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(Value::Object(m)) = obj.get_mut("metadata") {
        if list.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Who wrote, at which version, through which subresource.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: &'a str,
    pub time: &'a str,
}

/// Records a non-apply write: the manager takes the fields it changed; removed fields leave
/// every manager.
pub fn record_update(old: Option<&Value>, new: &mut Value, w: &Writer<'_>) {
    let status_only = w.subresource == "status";
    let mut entries = old.map(read_managed).unwrap_or_default();
    let old_set = old.map(|o| field_set(o, status_only)).unwrap_or_default();
    let new_set = field_set(new, status_only);
    let changed: FieldSet = new_set
        .iter()
        .filter(|p| old.is_none() || old.and_then(|o| value_at(o, p)) != value_at(new, p))
        .cloned()
        .collect();
    let removed: Vec<&Path> = old_set.iter().filter(|p| !new_set.contains(*p)).collect();
    for e in entries.iter_mut() {
        e.fields
            .retain(|p| !removed.iter().any(|r| overlaps(p, r)) || new_set.contains(p));
        e.fields.retain(|p| !changed.iter().any(|c| overlaps(p, c)));
    }
    if !changed.is_empty() {
        let pos = entries.iter().position(|e| {
            e.manager == w.manager && e.operation == "Update" && e.subresource == w.subresource
        });
        let entry = match pos {
            Some(i) => &mut entries[i],
            None => {
                entries.push(ManagedEntry {
                    manager: w.manager.into(),
                    operation: "Update".into(),
                    api_version: w.api_version.into(),
                    subresource: w.subresource.into(),
                    time: w.time.into(),
                    fields: FieldSet::new(),
                });
                let last = entries.len() - 1;
                &mut entries[last]
            }
        };
        entry.fields.extend(changed);
        entry.time = w.time.into();
    }
    write_managed(new, &entries);
}

/// A field owned by another manager that the apply would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub api_version: String,
    pub path: Path,
}

pub fn dotted(path: &Path) -> String {
    path.iter().map(|s| format!(".{s}")).collect()
}

/// Server-side apply of `config` onto `live` (None when the object does not exist yet).
/// Returns the new object with managedFields updated, or the conflicts.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    w: &Writer<'_>,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    let status_only = w.subresource == "status";
    let mut entries = live.map(read_managed).unwrap_or_default();
    let applied = field_set(config, status_only);
    let mut result = live.cloned().unwrap_or_else(|| json!({}));

    let mut conflicts = Vec::new();
    for e in entries.iter_mut() {
        if e.manager == w.manager && e.operation == "Apply" && e.subresource == w.subresource {
            continue;
        }
        let mut lost = Vec::new();
        for p in &e.fields {
            for a in &applied {
                if overlaps(p, a) {
                    let same = value_at(&result, a) == value_at(config, a)
                        && value_at(&result, p) == value_at(config, p);
                    if !same {
                        conflicts.push(Conflict {
                            manager: e.manager.clone(),
                            api_version: e.api_version.clone(),
                            path: p.clone(),
                        });
                        lost.push(p.clone());
                    }
                }
            }
        }
        if force {
            e.fields.retain(|p| !lost.contains(p));
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.dedup();
        return Err(conflicts);
    }

    // Fields this manager applied before but no longer does are removed when nobody else owns them.
    let own = entries.iter().position(|e| {
        e.manager == w.manager && e.operation == "Apply" && e.subresource == w.subresource
    });
    if let Some(i) = own {
        let previous = entries[i].fields.clone();
        for p in previous.iter().filter(|p| !applied.contains(*p)) {
            let owned_elsewhere = entries
                .iter()
                .enumerate()
                .any(|(j, e)| j != i && e.fields.iter().any(|q| overlaps(p, q)));
            if !owned_elsewhere && !applied.iter().any(|a| a.starts_with(p)) {
                remove_at(&mut result, p);
            }
        }
    }
    for p in &applied {
        if let Some(v) = value_at(config, p) {
            set_at(&mut result, p, v.clone());
        }
    }
    for k in ["apiVersion", "kind"] {
        if let Some(v) = config.get(k) {
            result[k] = v.clone();
        }
    }
    let entry = ManagedEntry {
        manager: w.manager.into(),
        operation: "Apply".into(),
        api_version: w.api_version.into(),
        subresource: w.subresource.into(),
        time: w.time.into(),
        fields: applied,
    };
    match own {
        Some(i) => entries[i] = entry,
        None => entries.push(entry),
    }
    if !result.get("metadata").is_some_and(Value::is_object) {
        result["metadata"] = json!({});
    }
    write_managed(&mut result, &entries);
    Ok(result)
}

/// Conflict message and causes as the real server words them.
pub fn conflict_message(conflicts: &[Conflict]) -> (String, Vec<Value>) {
    let mut by_manager: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for c in conflicts {
        by_manager
            .entry((c.manager.clone(), c.api_version.clone()))
            .or_default()
            .push(dotted(&c.path));
    }
    let n = conflicts.len();
    let mut msg = format!(
        "Apply failed with {n} conflict{}: ",
        if n == 1 { "" } else { "s" }
    );
    let parts: Vec<String> = by_manager
        .iter()
        .map(|((m, v), paths)| {
            if paths.len() == 1 {
                format!("conflict with \"{m}\" using {v}: {}", paths[0])
            } else {
                format!(
                    "conflicts with \"{m}\" using {v}:\n- {}",
                    paths.join("\n- ")
                )
            }
        })
        .collect();
    msg.push_str(&parts.join("\n"));
    let causes = conflicts
        .iter()
        .map(|c| {
            json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\" using {}", c.manager, c.api_version), "field": dotted(&c.path)})
        })
        .collect();
    (msg, causes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(m: &str) -> Writer<'_> {
        Writer {
            manager: m,
            api_version: "v1",
            subresource: "",
            time: "t",
        }
    }

    #[test]
    fn apply_creates_then_removes_dropped_fields() {
        let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1", "b": "2"}});
        let obj = apply(None, &cfg, &w("m"), false).expect("apply");
        assert_eq!(obj["data"], json!({"a": "1", "b": "2"}));
        let mf = &obj["metadata"]["managedFields"][0];
        assert_eq!(mf["operation"], "Apply");
        assert_eq!(mf["fieldsV1"], json!({"f:data": {"f:a": {}, "f:b": {}}}));
        let cfg2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}});
        let obj2 = apply(Some(&obj), &cfg2, &w("m"), false).expect("apply");
        assert_eq!(obj2["data"], json!({"a": "1"}));
    }

    #[test]
    fn conflict_unless_forced() {
        let mut live = json!({"metadata": {"name": "x"}, "data": {"a": "1"}});
        record_update(None, &mut live, &w("other"));
        let cfg = json!({"metadata": {"name": "x"}, "data": {"a": "2"}});
        let c = apply(Some(&live), &cfg, &w("m"), false).expect_err("conflict");
        let (msg, _) = conflict_message(&c);
        assert_eq!(
            msg,
            "Apply failed with 1 conflict: conflict with \"other\" using v1: .data.a"
        );
        let forced = apply(Some(&live), &cfg, &w("m"), true).expect("forced");
        assert_eq!(forced["data"]["a"], "2");
        let managers: Vec<&str> = forced["metadata"]["managedFields"]
            .as_array()
            .expect("mf")
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(managers, ["m"]);
        // Same value: shared ownership, no conflict.
        let same = json!({"metadata": {"name": "x"}, "data": {"a": "1"}});
        assert!(apply(Some(&live), &same, &w("m"), false).is_ok());
    }

    #[test]
    fn fields_v1_round_trip() {
        let set: FieldSet = [
            vec!["data".to_string(), "a".to_string()],
            vec!["metadata".into(), "labels".into(), "x".into()],
        ]
        .into();
        assert_eq!(from_fields_v1(&to_fields_v1(&set)), set);
    }
}
