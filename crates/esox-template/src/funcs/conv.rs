//! Sprig's loose conversions (spf13/cast and `strval`), errors ignored as Sprig does.

use crate::printf::sprintf;
use crate::value::Value;

/// Sprig's `strval`: strings as they are, Stringers, otherwise `%v`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Semver(s) => s.canonical(),
        other => sprintf("%v", std::slice::from_ref(other)),
    }
}

/// spf13/cast 1.10's `trimDecimal`: a string that is only a signed decimal number loses its
/// fraction (`"3.5"` → `"3"`, `"-.5"` → `"-0"`, `"."` → `"0"`) before integer parsing; any other
/// string is parsed as it is (and then fails unless it is an integer literal).
fn trim_decimal(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('.') {
        return s.into();
    }
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-' | b'+') => s.split_at(1),
        _ => ("", s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let decimal =
        int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit());
    if !decimal {
        return s.into();
    }
    if int.is_empty() {
        return format!("{sign}0").into();
    }
    format!("{sign}{int}").into()
}

/// strconv.ParseInt(s, 0, 64).
pub fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(r) = lower.strip_prefix("0x") {
        (16, r.to_string(), true)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (8, r.to_string(), true)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (2, r.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.contains('_') {
        // Underscores only between digits and only with a base prefix.
        if !prefixed || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
            return None;
        }
    }
    let digits = digits.replace('_', "");
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let mag = u64::from_str_radix(&digits, radix).ok()?;
    if neg {
        if mag > i64::MAX as u64 + 1 {
            return None;
        }
        Some((mag as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(mag).ok()
    }
}

/// strconv.ParseFloat(s, 64).
pub fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("0x") || t.contains('_') {
        return None;
    }
    if !matches!(lower.as_str(), "inf" | "infinity" | "nan")
        && !lower
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
    {
        return None;
    }
    // Go reports out-of-range values as errors (cast then yields 0).
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() || matches!(lower.as_str(), "inf" | "infinity"))
}

/// cast.ToInt64 (spf13/cast 1.10) with the error ignored.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i, _) => *i,
        Value::Float(f) => f64_to_i64(*f),
        Value::Str(s) => parse_int_base0(&trim_decimal(s)).unwrap_or(0),
        Value::Bool(b) => i64::from(*b),
        // cast resolves named integer types such as time.Duration to their value.
        Value::Duration(d) => *d,
        _ => 0,
    }
}

/// Go's float64 → int64 conversion (implementation-defined out of range; amd64 gives MinInt64).
pub fn f64_to_i64(f: f64) -> i64 {
    // 2^63 bounds the representable range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-LIMIT..LIMIT).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// cast.ToFloat64 with the error ignored.
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i, _) => *i as f64,
        Value::Float(f) => *f,
        Value::Str(s) => parse_float(s).unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Duration(d) => *d as f64,
        _ => 0.0,
    }
}

/// strconv.Atoi, keeping the clamped value on overflow as Sprig's `atoi` does.
pub fn atoi(s: &str) -> i64 {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    match body.parse::<u64>() {
        Ok(m) if !neg && m <= i64::MAX as u64 => m as i64,
        Ok(m) if neg && m <= i64::MAX as u64 + 1 => (m as i128).wrapping_neg() as i64,
        _ => {
            if neg {
                i64::MIN
            } else {
                i64::MAX
            }
        }
    }
}

/// Sprig's `empty`.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Str(s) => s.is_empty(),
        Value::List(l, _) => l.is_empty(),
        Value::Map(m, _) => m.is_empty(),
        Value::Bool(b) => !b,
        Value::Int(i, _) => *i == 0,
        Value::Float(f) => *f == 0.0,
        Value::Duration(d) => *d == 0,
        Value::Time(_) => false,
        Value::Semver(_) | Value::Cert(_) => false,
    }
}

/// Items of a slice value (Sprig's reflection over slices), or None.
pub fn list_items(v: &Value) -> Option<&[Value]> {
    match v {
        Value::List(l, _) => Some(l.as_slice()),
        _ => None,
    }
}
