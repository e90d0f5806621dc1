//! Sprig's dict functions and JSON (de)serialisation.

use std::collections::BTreeMap;

use super::conv::strval;
use super::lists::deep_copy;
use super::{Registry, Ty, s};
use crate::value::{Elem, MapRef, Value};

fn map_of(v: &Value) -> MapRef {
    match v {
        Value::Map(m, _) => m.clone(),
        _ => MapRef::default(),
    }
}

fn go_empty_for_merge(v: &Value) -> bool {
    super::conv::is_empty(v)
}

fn merge_into(dst: &MapRef, src: &MapRef, overwrite: bool) -> Result<(), String> {
    if dst.ptr_eq(src) {
        return Ok(());
    }
    let cycle = |v: &Value| -> Result<(), String> {
        if crate::value::reaches(v, dst) {
            return Err("a dict cannot contain itself (the merge would make a cycle)".into());
        }
        Ok(())
    };
    for (k, sv) in src.entries() {
        let existing = dst.get(&k);
        match existing {
            None => {
                cycle(&sv)?;
                dst.write().insert(k, sv);
            }
            Some(Value::Map(dm, Elem::Any)) if matches!(sv, Value::Map(_, Elem::Any)) => {
                if let Value::Map(sm, _) = &sv {
                    merge_into(&dm, sm, overwrite)?;
                }
            }
            Some(dv) => {
                let replace = if overwrite {
                    !go_empty_for_merge(&sv)
                } else {
                    go_empty_for_merge(&dv)
                };
                if replace {
                    cycle(&sv)?;
                    dst.write().insert(k, sv);
                }
            }
        }
    }
    Ok(())
}

/// encoding/json.Marshal for template values.
pub fn to_json(v: &Value, escape_html: bool, indent: Option<&str>) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, escape_html, indent, 0)?;
    Ok(out)
}

fn json_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        if crate::gostr::escaped_byte(c).is_some() {
            out.push_str("\\ufffd");
            continue;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            crate::printf::format_float(f, 'g', None)
        ));
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let mut s = crate::printf::format_float(f, 'e', None);
        // Go writes e-7 rather than e-07.
        let b = s.as_bytes();
        let n = b.len();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
        return Ok(s);
    }
    Ok(crate::printf::format_float(f, 'f', None))
}

fn newline(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn write_json(
    out: &mut String,
    v: &Value,
    h: bool,
    ind: Option<&str>,
    depth: usize,
) -> Result<(), String> {
    if depth > 1000 {
        return Err("json: nesting too deep".into());
    }
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i, _) => out.push_str(&i.to_string()),
        Value::Duration(d) => out.push_str(&d.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::Str(s) => json_string(out, s, h),
        Value::Semver(sv) => json_string(out, &sv.canonical(), h),
        // encoding/json writes the struct's exported fields, Cert then Key (also key order).
        Value::Cert(c) => {
            let fields = Value::map(
                [
                    ("Cert".to_string(), Value::Str(c.cert.clone())),
                    ("Key".to_string(), Value::Str(c.key.clone())),
                ]
                .into_iter()
                .collect(),
            );
            write_json(out, &fields, h, ind, depth)?;
        }
        Value::Time(t) => json_string(out, &super::dates::rfc3339_nano(t), h),
        Value::List(..) if v.is_nil_list() => out.push_str("null"),
        Value::List(l, _) => {
            if l.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, ind, depth + 1);
                write_json(out, x, h, ind, depth + 1)?;
            }
            newline(out, ind, depth);
            out.push(']');
        }
        Value::Map(m, _) => {
            let e = m.entries();
            if e.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, x)) in e.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, ind, depth + 1);
                json_string(out, k, h);
                out.push(':');
                if ind.is_some() {
                    out.push(' ');
                }
                write_json(out, x, h, ind, depth + 1)?;
            }
            newline(out, ind, depth);
            out.push('}');
        }
    }
    Ok(())
}

/// JSON document to template values the way encoding/json fills an interface{}.
pub fn from_serde(j: serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(a) => Value::list(a.into_iter().map(from_serde).collect()),
        serde_json::Value::Object(o) => {
            Value::map(o.into_iter().map(|(k, v)| (k, from_serde(v))).collect())
        }
    }
}

/// How deep `fromJson` input may nest: serde_json's own recursion limit (Go's encoding/json
/// allows 10,000). It also bounds the recursion of [`from_serde`].
pub const MAX_JSON_DEPTH: usize = 128;

pub fn from_json(s: &str) -> Result<Value, String> {
    serde_json::from_str::<serde_json::Value>(s)
        .map(from_serde)
        .map_err(|e| {
            if e.to_string().starts_with("recursion limit exceeded") {
                format!(
                    "invalid JSON: it nests more than {MAX_JSON_DEPTH} levels deep (line {}, column {})",
                    e.line(),
                    e.column()
                )
            } else {
                format!("invalid JSON: {e}")
            }
        })
}

pub fn register(r: &mut Registry) {
    use Ty::*;
    r.add("dict", &[], Some(Any), |a| {
        let mut m = BTreeMap::new();
        for pair in a.chunks(2) {
            let k = strval(&pair[0]);
            m.insert(k, pair.get(1).cloned().unwrap_or_else(|| Value::str("")));
        }
        Ok(Value::map(m))
    });
    r.add("get", &[MapAny, Str], None, |a| {
        Ok(map_of(&a[0]).get(s(a, 1)).unwrap_or_else(|| Value::str("")))
    });
    r.add("set", &[MapAny, Str, Any], None, |a| {
        let m = map_of(&a[0]);
        // Go lets a dict hold itself, and then overflows its stack printing it.
        if crate::value::reaches(&a[2], &m) {
            return Err("a dict cannot contain itself (the value holds the dict)".into());
        }
        m.write().insert(s(a, 1).to_string(), a[2].clone());
        Ok(Value::Map(m, Elem::Any))
    });
    r.add("unset", &[MapAny, Str], None, |a| {
        let m = map_of(&a[0]);
        m.write().remove(s(a, 1));
        Ok(Value::Map(m, Elem::Any))
    });
    r.add("hasKey", &[MapAny, Str], None, |a| {
        Ok(Value::Bool(map_of(&a[0]).get(s(a, 1)).is_some()))
    });
    r.add("pluck", &[Str], Some(MapAny), |a| {
        Ok(Value::list(
            a[1..]
                .iter()
                .filter_map(|d| map_of(d).get(s(a, 0)))
                .collect(),
        ))
    });
    r.add("keys", &[], Some(MapAny), |a| {
        // Go's map order is random; sorted keys are one of the possible orders.
        Ok(Value::str_list(
            a.iter()
                .flat_map(|d| map_of(d).entries().into_iter().map(|(k, _)| k))
                .collect(),
        ))
    });
    r.add("pick", &[MapAny], Some(Str), |a| {
        let m = map_of(&a[0]);
        Ok(Value::map(
            a[1..]
                .iter()
                .filter_map(|k| {
                    m.get(s(std::slice::from_ref(k), 0))
                        .map(|v| (s(std::slice::from_ref(k), 0).to_string(), v))
                })
                .collect(),
        ))
    });
    r.add("omit", &[MapAny], Some(Str), |a| {
        let omit: Vec<&str> = a[1..].iter().filter_map(Value::as_str).collect();
        Ok(Value::map(
            map_of(&a[0])
                .entries()
                .into_iter()
                .filter(|(k, _)| !omit.contains(&k.as_str()))
                .collect(),
        ))
    });
    let merge: super::FuncImpl = |a| {
        let dst = map_of(&a[0]);
        for src in &a[1..] {
            merge_into(&dst, &map_of(src), false)?;
        }
        Ok(Value::Map(dst, Elem::Any))
    };
    r.add("merge", &[MapAny], Some(MapAny), merge);
    r.add("mustMerge", &[MapAny], Some(MapAny), merge);
    let merge_ow: super::FuncImpl = |a| {
        let dst = map_of(&a[0]);
        for src in &a[1..] {
            merge_into(&dst, &map_of(src), true)?;
        }
        Ok(Value::Map(dst, Elem::Any))
    };
    r.add("mergeOverwrite", &[MapAny], Some(MapAny), merge_ow);
    r.add("mustMergeOverwrite", &[MapAny], Some(MapAny), merge_ow);
    r.add("values", &[MapAny], None, |a| {
        Ok(Value::list(
            map_of(&a[0])
                .entries()
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
        ))
    });
    r.add("dig", &[], Some(Any), |a| {
        if a.len() < 3 {
            return Err("dig needs at least three arguments".into());
        }
        let Value::Map(mut m, Elem::Any) = a[a.len() - 1].clone() else {
            return Err(
                "interface conversion: the last argument of dig must be map[string]interface {}"
                    .into(),
            );
        };
        let def = &a[a.len() - 2];
        let keys = &a[..a.len() - 2];
        for (i, k) in keys.iter().enumerate() {
            let Value::Str(k) = k else {
                return Err("interface conversion: dig keys must be strings".into());
            };
            let Some(step) = m.get(k) else {
                return Ok(def.clone());
            };
            if i + 1 == keys.len() {
                return Ok(step);
            }
            match step {
                Value::Map(next, Elem::Any) => m = next,
                _ => {
                    return Err(
                        "interface conversion: dig step is not map[string]interface {}".into(),
                    );
                }
            }
        }
        Ok(def.clone())
    });
    r.add("toJson", &[Any], None, |a| {
        Ok(Value::str(to_json(&a[0], true, None).unwrap_or_default()))
    });
    r.add("mustToJson", &[Any], None, |a| {
        to_json(&a[0], true, None).map(Value::str)
    });
    r.add("toPrettyJson", &[Any], None, |a| {
        Ok(Value::str(
            to_json(&a[0], true, Some("  ")).unwrap_or_default(),
        ))
    });
    r.add("mustToPrettyJson", &[Any], None, |a| {
        to_json(&a[0], true, Some("  ")).map(Value::str)
    });
    let raw: super::FuncImpl = |a| to_json(&a[0], false, None).map(Value::str);
    r.add("toRawJson", &[Any], None, raw);
    r.add("mustToRawJson", &[Any], None, raw);
    r.add("fromJson", &[Str], None, |a| {
        Ok(from_json(s(a, 0)).unwrap_or(Value::Nil))
    });
    r.add("mustFromJson", &[Str], None, |a| from_json(s(a, 0)));
    let _ = deep_copy;
}
