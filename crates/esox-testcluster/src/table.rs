//! Server-side printing (`Accept: application/json;as=Table`), which `kubectl get` asks for:
//! Name and Age for every kind, plus a CRD version's `additionalPrinterColumns`, evaluated with
//! the JSONPath subset CRDs use (`.a.b`, `[n]`, `[*]`, `[?(@.k=="v")]`).

use serde_json::{Value, json};

use crate::resources::ResourceInfo;
use crate::util::{meta_str, name_of};

/// `kubectl`'s short age: 45s, 12m, 5h, 3d.
pub(crate) fn age(timestamp: &str) -> String {
    let Ok(ts) = timestamp.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let secs = (jiff::Timestamp::now().as_second() - ts.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 3 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Evaluates a printer-column JSONPath; all matches, in order.
pub(crate) fn json_path<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![obj];
    let mut rest = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('$');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            current = current.into_iter().filter_map(|v| v.get(key)).collect();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Vec::new();
            };
            let sel = &r[..end];
            rest = &r[end + 1..];
            current = current.into_iter().flat_map(|v| select(v, sel)).collect();
        } else {
            return Vec::new();
        }
    }
    current
}

fn select<'a>(v: &'a Value, sel: &str) -> Vec<&'a Value> {
    let Some(items) = v.as_array() else {
        return Vec::new();
    };
    if sel == "*" {
        return items.iter().collect();
    }
    if let Ok(i) = sel.parse::<i64>() {
        let idx = if i < 0 { items.len() as i64 + i } else { i };
        return usize::try_from(idx)
            .ok()
            .and_then(|i| items.get(i))
            .into_iter()
            .collect();
    }
    // ?(@.field=="value")
    let Some(filter) = sel.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) else {
        return Vec::new();
    };
    let Some((field, want)) = filter.split_once("==") else {
        return Vec::new();
    };
    let want = want.trim().trim_matches(|c| c == '"' || c == '\'');
    items
        .iter()
        .filter(|it| {
            json_path(it, &format!(".{}", field.trim()))
                .first()
                .is_some_and(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                        == want
                })
        })
        .collect()
}

fn cell(v: Option<&Value>, ty: &str) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) if ty == "date" => json!(age(s)),
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v.clone(),
        Some(other) => json!(other.to_string()),
    }
}

pub(crate) fn table(info: &ResourceInfo, items: &[Value], list_meta: Value) -> Value {
    let mut columns = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority": 0}),
    ];
    let printer: Vec<Value> = info.printer_columns.clone();
    if printer.is_empty() {
        columns.push(json!({"name": "Age", "type": "date", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0}));
    }
    for c in &printer {
        columns.push(json!({
            "name": c.get("name").cloned().unwrap_or(json!("")),
            "type": c.get("type").cloned().unwrap_or(json!("string")),
            "format": c.get("format").cloned().unwrap_or(json!("")),
            "description": c.get("description").cloned().unwrap_or(json!("")),
            "priority": c.get("priority").cloned().unwrap_or(json!(0)),
        }));
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut cells = vec![json!(name_of(o))];
            if printer.is_empty() {
                cells.push(json!(age(meta_str(o, "creationTimestamp").unwrap_or(""))));
            }
            for c in &printer {
                let path = c.get("jsonPath").and_then(Value::as_str).unwrap_or("");
                let ty = c.get("type").and_then(Value::as_str).unwrap_or("string");
                cells.push(cell(json_path(o, path).first().copied(), ty));
            }
            json!({"cells": cells, "object": crate::handlers::objects::as_metadata(o)})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_subset_used_by_printer_columns() {
        let o = json!({"spec": {"store": {"name": "vault"}}, "status": {"conditions": [
            {"type": "Other", "status": "False"}, {"type": "Ready", "status": "True", "reason": "SecretSynced"}]}});
        assert_eq!(json_path(&o, ".spec.store.name"), [&json!("vault")]);
        assert_eq!(
            json_path(&o, ".status.conditions[?(@.type==\"Ready\")].reason"),
            [&json!("SecretSynced")]
        );
        assert_eq!(
            json_path(&o, ".status.conditions[0].type"),
            [&json!("Other")]
        );
        assert_eq!(json_path(&o, ".status.conditions[*].status").len(), 2);
        assert!(json_path(&o, ".missing.x").is_empty());
    }

    #[test]
    fn ages_read_like_kubectl() {
        let t = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(300))
            .expect("time");
        assert_eq!(age(&t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()), "5m");
    }
}
