//! text/template's builtin functions that need more than a plain signature.

use crate::printf::{is_print, sprint};
use crate::value::Value;

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(..) | Value::Duration(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => Kind::Other,
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i, _) => *i,
        Value::Duration(d) => *d,
        _ => 0,
    }
}

pub fn eq(a: &Value, rest: &[Value]) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = kind(a);
    for b in rest {
        let k2 = kind(b);
        let truth = if k1 != k2 {
            if k1 != Kind::Invalid && k2 != Kind::Invalid {
                return Err("incompatible types for comparison".into());
            }
            false
        } else {
            match (a, b) {
                (Value::Nil, Value::Nil) => true,
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                _ if k1 == Kind::Int => int_of(a) == int_of(b),
                (Value::List(..) | Value::Map(..), _) | (_, Value::List(..) | Value::Map(..)) => {
                    return Err(format!("non-comparable type {}", a.type_name()));
                }
                (Value::Semver(x), Value::Semver(y)) => std::sync::Arc::ptr_eq(x, y),
                (Value::Time(x), Value::Time(y)) => x == y,
                _ => return Err("incompatible types for comparison".into()),
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

pub fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let (k1, k2) = (kind(a), kind(b));
    if k1 != k2 {
        return Err("incompatible types for comparison".into());
    }
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x.as_bytes() < y.as_bytes()),
        _ if k1 == Kind::Int => Ok(int_of(a) < int_of(b)),
        _ => Err("invalid type for comparison".into()),
    }
}

pub fn le(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(lt(a, b)? || eq(a, std::slice::from_ref(b))?)
}

pub fn len(v: &Value) -> Result<Value, String> {
    match v {
        Value::Str(s) => Ok(Value::int(crate::gostr::byte_len(s) as i64)),
        Value::List(l, _) => Ok(Value::int(l.len() as i64)),
        Value::Map(m, _) => Ok(Value::int(m.len() as i64)),
        Value::Nil => Err("len of nil pointer".into()),
        other => Err(format!("len of type {}", other.type_name())),
    }
}

fn index_arg(i: &Value, len: usize) -> Result<usize, String> {
    let x = match i {
        Value::Int(n, _) => *n,
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x as u64 >= len as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

pub fn index(item: &Value, idx: &[Value]) -> Result<Value, String> {
    if let Value::Nil = item {
        return Err("index of untyped nil".into());
    }
    let mut cur = item.clone();
    for i in idx {
        cur = match &cur {
            Value::List(l, _) => l[index_arg(i, l.len())?].clone(),
            Value::Str(s) => {
                let b = crate::gostr::to_bytes(s);
                Value::Int(
                    b[index_arg(i, b.len())?] as i64,
                    crate::value::IntKind::Uint8,
                )
            }
            Value::Map(m, elem) => {
                let key = match i {
                    Value::Str(k) => k.clone(),
                    Value::Nil => return Err("value is nil; should be of type string".into()),
                    other => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                };
                match m.get(key.as_ref()) {
                    Some(v) => v,
                    None if *elem == crate::value::Elem::Str => Value::str(""),
                    None => Value::Nil,
                }
            }
            Value::Nil => return Err("index of nil pointer".into()),
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(cur)
}

pub fn eval_args(args: &[Value]) -> String {
    if let [Value::Str(s)] = args {
        return s.to_string();
    }
    // text/template's printableValue shows a missing value as <no value>.
    let args: Vec<Value> = args
        .iter()
        .map(|a| {
            if let Value::Nil = a {
                Value::str("<no value>")
            } else {
                a.clone()
            }
        })
        .collect();
    sprint(&args)
}

pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x80 => {
                if (c as u32) < 0x20 || c as u32 == 0x7f {
                    out.push_str(&format!("\\u{:04X}", c as u32));
                } else {
                    out.push(c);
                }
            }
            c if is_print(c) || crate::gostr::escaped_byte(c).is_some() => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// url.QueryEscape.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in crate::gostr::to_bytes(s).iter().copied() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
