//! Sprig's list functions.

use std::sync::Arc;

use super::conv::{is_empty, strval, to_int64};
use super::{Registry, Ty, int, s};
use crate::value::{Elem, Value};

type R = Result<Value, String>;

fn items<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], String> {
    match v {
        Value::List(l, _) => Ok(l.as_slice()),
        Value::Nil => Err(format!(
            "{what}: runtime error: invalid memory address or nil pointer dereference"
        )),
        other => Err(format!("Cannot {what} on type {}", other.kind_name())),
    }
}

fn any_list(v: Vec<Value>) -> R {
    Ok(Value::List(Arc::new(v), Elem::Any))
}

/// reflect.DeepEqual for template values.
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x, k1), Value::Int(y, k2)) => k1 == k2 && x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Duration(x), Value::Duration(y)) => x == y,
        (Value::List(..), Value::List(..)) if a.is_nil_list() != b.is_nil_list() => false,
        (Value::List(x, e1), Value::List(y, e2)) => {
            e1 == e2 && x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Map(x, e1), Value::Map(y, e2)) => {
            if e1 != e2 {
                return false;
            }
            if x.ptr_eq(y) {
                return true;
            }
            let (xe, ye) = (x.entries(), y.entries());
            xe.len() == ye.len()
                && xe
                    .iter()
                    .zip(ye.iter())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && deep_equal(v1, v2))
        }
        (Value::Semver(x), Value::Semver(y)) => x == y,
        (Value::Time(x), Value::Time(y)) => x == y,
        _ => false,
    }
}

pub fn deep_copy(v: &Value) -> Value {
    match v {
        Value::List(l, e) => Value::List(Arc::new(l.iter().map(deep_copy).collect()), *e),
        Value::Map(m, e) => Value::Map(
            crate::value::MapRef::new(
                m.entries()
                    .into_iter()
                    .map(|(k, v)| (k, deep_copy(&v)))
                    .collect(),
            ),
            *e,
        ),
        other => other.clone(),
    }
}

/// Sprig's `strslice`.
pub fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l, _) => l
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(strval)
            .collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

/// strings.Split semantics.
pub fn go_split(orig: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<String> = orig.chars().map(String::from).collect();
        if n > 0 && (n as usize) < chars.len() {
            let mut v: Vec<String> = chars[..n as usize - 1].to_vec();
            let used: usize = v.iter().map(String::len).sum();
            v.push(orig[used..].to_string());
            return v;
        }
        return chars;
    }
    if n < 0 {
        orig.split(sep).map(String::from).collect()
    } else {
        orig.splitn(n as usize, sep).map(String::from).collect()
    }
}

fn split_map(parts: Vec<String>) -> Value {
    let m = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::str(p)))
        .collect();
    Value::Map(crate::value::MapRef::new(m), Elem::Str)
}

fn slice_bounds(len: usize, a: &[Value]) -> Result<(usize, usize), String> {
    let start = a.get(1).map(to_int64).unwrap_or(0);
    let end = if a.len() < 3 {
        len as i64
    } else {
        to_int64(&a[2])
    };
    if start < 0 || end < start || end > len as i64 {
        return Err(format!(
            "reflect: slice index out of bounds [{start}:{end}] with length {len}"
        ));
    }
    Ok((start as usize, end as usize))
}

pub fn register(r: &mut Registry) {
    use Ty::*;
    r.add("list", &[], Some(Any), |a| any_list(a.to_vec()));
    r.add("tuple", &[], Some(Any), |a| any_list(a.to_vec()));
    let push: super::FuncImpl = |a| {
        let mut v = items(&a[0], "push")?.to_vec();
        v.push(a[1].clone());
        any_list(v)
    };
    for n in ["append", "push", "mustAppend", "mustPush"] {
        r.add(n, &[Any, Any], None, push);
    }
    let prepend: super::FuncImpl = |a| {
        let mut v = vec![a[1].clone()];
        v.extend_from_slice(items(&a[0], "prepend")?);
        any_list(v)
    };
    r.add("prepend", &[Any, Any], None, prepend);
    r.add("mustPrepend", &[Any, Any], None, prepend);
    let first: super::FuncImpl = |a| {
        Ok(items(&a[0], "find first")?
            .first()
            .cloned()
            .unwrap_or(Value::Nil))
    };
    r.add("first", &[Any], None, first);
    r.add("mustFirst", &[Any], None, first);
    let last: super::FuncImpl = |a| {
        Ok(items(&a[0], "find last")?
            .last()
            .cloned()
            .unwrap_or(Value::Nil))
    };
    r.add("last", &[Any], None, last);
    r.add("mustLast", &[Any], None, last);
    let rest: super::FuncImpl = |a| {
        let l = items(&a[0], "find rest")?;
        if l.is_empty() {
            return Ok(Value::nil_list(Elem::Any));
        }
        any_list(l[1..].to_vec())
    };
    r.add("rest", &[Any], None, rest);
    r.add("mustRest", &[Any], None, rest);
    let initial: super::FuncImpl = |a| {
        let l = items(&a[0], "find initial")?;
        if l.is_empty() {
            return Ok(Value::nil_list(Elem::Any));
        }
        any_list(l[..l.len() - 1].to_vec())
    };
    r.add("initial", &[Any], None, initial);
    r.add("mustInitial", &[Any], None, initial);
    let reverse: super::FuncImpl =
        |a| any_list(items(&a[0], "reverse")?.iter().rev().cloned().collect());
    r.add("reverse", &[Any], None, reverse);
    r.add("mustReverse", &[Any], None, reverse);
    let compact: super::FuncImpl = |a| {
        any_list(
            items(&a[0], "compact")?
                .iter()
                .filter(|v| !is_empty(v))
                .cloned()
                .collect(),
        )
    };
    r.add("compact", &[Any], None, compact);
    r.add("mustCompact", &[Any], None, compact);
    let uniq: super::FuncImpl = |a| {
        let mut out: Vec<Value> = Vec::new();
        for v in items(&a[0], "uniq")? {
            if !out.iter().any(|o| deep_equal(v, o)) {
                out.push(v.clone());
            }
        }
        any_list(out)
    };
    r.add("uniq", &[Any], None, uniq);
    r.add("mustUniq", &[Any], None, uniq);
    let without: super::FuncImpl = |a| {
        let omit = &a[1..];
        any_list(
            items(&a[0], "without")?
                .iter()
                .filter(|v| !omit.iter().any(|o| deep_equal(v, o)))
                .cloned()
                .collect(),
        )
    };
    r.add("without", &[Any], Some(Any), without);
    r.add("mustWithout", &[Any], Some(Any), without);
    let has: super::FuncImpl = |a| {
        if let Value::Nil = a[1] {
            return Ok(Value::Bool(false));
        }
        Ok(Value::Bool(
            items(&a[1], "find has")?
                .iter()
                .any(|v| deep_equal(&a[0], v)),
        ))
    };
    r.add("has", &[Any, Any], None, has);
    r.add("mustHas", &[Any, Any], None, has);
    let slice: super::FuncImpl = |a| match &a[0] {
        Value::List(l, e) => {
            if l.is_empty() {
                return Ok(Value::Nil);
            }
            let (s0, e0) = slice_bounds(l.len(), a)?;
            Ok(Value::List(Arc::new(l[s0..e0].to_vec()), *e))
        }
        other => Err(format!(
            "list should be type of slice or array but {}",
            other.kind_name()
        )),
    };
    r.add("slice", &[Any], Some(Any), slice);
    r.add("mustSlice", &[Any], Some(Any), slice);
    r.add("concat", &[], Some(Any), |a| {
        let mut out = Vec::new();
        for l in a {
            match l {
                Value::List(x, _) => out.extend(x.iter().cloned()),
                other => return Err(format!("Cannot concat type {} as list", other.kind_name())),
            }
        }
        if out.is_empty() {
            return Ok(Value::nil_list(Elem::Any));
        }
        any_list(out)
    });
    let chunk: super::FuncImpl = |a| {
        let size = int(a, 0);
        let l = items(&a[1], "chunk")?;
        // Sprig computes the chunk count in floating point; follow it exactly,
        // including what happens with zero or negative sizes.
        let n = l.len() as f64;
        let cs = super::conv::f64_to_i64(((n - 1.0) / size as f64).floor() + 1.0);
        if !(0..=l.len() as i64 + 1).contains(&cs) {
            return Err("runtime error: makeslice: len out of range".into());
        }
        let mut chunks = Vec::with_capacity(cs as usize);
        for i in 0..cs {
            let mut clen = size;
            if i == cs - 1 {
                clen = super::conv::f64_to_i64((n % size as f64).floor());
                if clen == 0 {
                    clen = size;
                }
            }
            if clen < 0 {
                return Err("runtime error: makeslice: len out of range".into());
            }
            let mut c = Vec::with_capacity(clen as usize);
            for j in 0..clen {
                let ix = i * size + j;
                let item = usize::try_from(ix)
                    .ok()
                    .and_then(|ix| l.get(ix))
                    .ok_or("reflect: slice index out of range")?;
                c.push(item.clone());
            }
            chunks.push(Value::List(Arc::new(c), Elem::Any));
        }
        Ok(Value::List(Arc::new(chunks), Elem::ListAny))
    };
    r.add("chunk", &[Int, Any], None, chunk);
    r.add("mustChunk", &[Int, Any], None, chunk);
    r.add("sortAlpha", &[Any], None, |a| {
        let mut v = match &a[0] {
            Value::List(..) => strslice(&a[0]),
            other => vec![strval(other)],
        };
        v.sort();
        Ok(Value::str_list(v))
    });
    r.add("join", &[Str, Any], None, |a| {
        Ok(Value::str(strslice(&a[1]).join(s(a, 0))))
    });
    r.add("toStrings", &[Any], None, |a| {
        Ok(Value::str_list(strslice(&a[0])))
    });
    r.add("splitList", &[Str, Str], None, |a| {
        Ok(Value::str_list(go_split(s(a, 1), s(a, 0), -1)))
    });
    r.add("split", &[Str, Str], None, |a| {
        Ok(split_map(go_split(s(a, 1), s(a, 0), -1)))
    });
    r.add("splitn", &[Str, Int, Str], None, |a| {
        Ok(split_map(go_split(s(a, 2), s(a, 0), int(a, 1))))
    });
    r.add("default", &[Any], Some(Any), |a| {
        if a.len() < 2 || is_empty(&a[1]) {
            return Ok(a[0].clone());
        }
        Ok(a[1].clone())
    });
    r.add("empty", &[Any], None, |a| Ok(Value::Bool(is_empty(&a[0]))));
    r.add("coalesce", &[], Some(Any), |a| {
        Ok(a.iter()
            .find(|v| !is_empty(v))
            .cloned()
            .unwrap_or(Value::Nil))
    });
    r.add("all", &[], Some(Any), |a| {
        Ok(Value::Bool(a.iter().all(|v| !is_empty(v))))
    });
    r.add("any", &[], Some(Any), |a| {
        Ok(Value::Bool(a.iter().any(|v| !is_empty(v))))
    });
    r.add("ternary", &[Any, Any, Bool], None, |a| {
        Ok(if matches!(a[2], Value::Bool(true)) {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    r.add("deepCopy", &[Any], None, |a| Ok(deep_copy(&a[0])));
    r.add("mustDeepCopy", &[Any], None, |a| Ok(deep_copy(&a[0])));
    r.add("deepEqual", &[Any, Any], None, |a| {
        Ok(Value::Bool(deep_equal(&a[0], &a[1])))
    });
}
