//! JSON encoding that matches Go's `encoding/json` byte for byte.
//!
//! ESO produces JSON with Go's encoder (sorted map keys, `\u2028`/`\u2029` escaped, invalid
//! UTF-8 replaced by `\ufffd`, floats in Go's shortest form), either with HTML escaping
//! (`json.Marshal`) or without it (`esutils.JSONMarshal`, which calls `SetEscapeHTML(false)`).
//! serde_json differs on several of these points, so the encoder is written out here.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

/// Whether `<`, `>` and `&` are escaped as `\u003c`, `\u003e`, `\u0026` (Go's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HtmlEscape {
    /// `json.Marshal`.
    On,
    /// `esutils.JSONMarshal` (`SetEscapeHTML(false)`).
    Off,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as a JSON string the way Go encodes `string(bytes)`.
pub fn push_string_bytes(out: &mut String, bytes: &[u8], html: HtmlEscape) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(out, c, html);
        }
        // Go replaces every invalid byte with the escape sequence, not the raw U+FFFD.
        for _ in chunk.invalid() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
}

/// Appends `s` as a JSON string the way Go encodes it.
pub fn push_string(out: &mut String, s: &str, html: HtmlEscape) {
    push_string_bytes(out, s.as_bytes(), html);
}

fn push_char(out: &mut String, c: char, html: HtmlEscape) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // Short forms since Go 1.22, which ESO v2.9 is built with.
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '<' | '>' | '&' if html == HtmlEscape::On => push_u_escape(out, c as u32),
        '\u{2028}' | '\u{2029}' => push_u_escape(out, c as u32),
        c if (c as u32) < 0x20 => push_u_escape(out, c as u32),
        c => out.push(c),
    }
}

fn push_u_escape(out: &mut String, code: u32) {
    out.push_str("\\u");
    for shift in [12u32, 8, 4, 0] {
        out.push(HEX[((code >> shift) & 0xf) as usize] as char);
    }
}

/// Go's `json.Marshal` of a `map[string]string`; `None` is a nil map (`null`).
pub fn string_map(map: Option<&BTreeMap<String, String>>, html: HtmlEscape) -> String {
    let Some(map) = map else {
        return "null".to_owned();
    };
    let mut out = String::from("{");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, k, html);
        out.push(':');
        push_string(&mut out, v, html);
    }
    out.push('}');
    out
}

/// Go's JSON of `map[string]string` built from secret data with `string(value)`.
pub fn bytes_map_as_strings(map: &BTreeMap<String, Vec<u8>>, html: HtmlEscape) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, k, html);
        out.push(':');
        push_string_bytes(&mut out, v, html);
    }
    out.push('}');
    out
}

/// Go's JSON of `map[string][]byte`: values become standard base64 strings.
pub fn bytes_map_as_base64(map: &BTreeMap<String, Vec<u8>>, html: HtmlEscape) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, k, html);
        out.push(':');
        out.push('"');
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(v));
        out.push('"');
    }
    out.push('}');
    out
}

/// Go's JSON of a value decoded into `any` (numbers are `float64`, objects sorted by key).
pub fn value(v: &Value, html: HtmlEscape) -> String {
    let mut out = String::new();
    push_value(&mut out, v, html);
    out
}

fn push_value(out: &mut String, v: &Value, html: HtmlEscape) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&format_float_json(n.as_f64().unwrap_or(f64::NAN))),
        Value::String(s) => push_string(out, s, html),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_value(out, item, html);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // serde_json::Map is a BTreeMap here (preserve_order is off), so keys come sorted
            // by bytes, like Go's encoder sorts map keys.
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_string(out, k, html);
                out.push(':');
                push_value(out, item, html);
            }
            out.push('}');
        }
    }
}

/// Go's `encoding/json` float64 format: shortest digits, `%f` style unless the magnitude
/// is below 1e-6 or at least 1e21, then `%e` with a two-digit-or-more exponent cleaned of
/// a leading zero (`1e-07` becomes `1e-7`, `1e+21` stays).
pub fn format_float_json(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => {
                if let Some(neg) = exp.strip_prefix('-') {
                    format!("{mantissa}e-{neg}")
                } else if exp.len() < 2 {
                    format!("{mantissa}e+0{exp}")
                } else {
                    format!("{mantissa}e+{exp}")
                }
            }
            None => s,
        }
    } else {
        format_float_f(f)
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent.
pub fn format_float_f(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    format!("{f}")
}

/// Decodes JSON like Go's `json.Unmarshal` into `any`: invalid UTF-8 inside strings becomes
/// U+FFFD. Errors never carry the input, which may be secret.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonSyntaxError> {
    let text = String::from_utf8_lossy(bytes);
    serde_json::from_str(&text).map_err(|e| JsonSyntaxError {
        line: e.line(),
        column: e.column(),
    })
}

/// A JSON document could not be parsed. Only the position is kept so that no secret
/// material leaks into messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at line {line} column {column}")]
pub struct JsonSyntaxError {
    /// 1-based line of the error.
    pub line: usize,
    /// 1-based column of the error.
    pub column: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go_without_html() {
        let mut s = String::new();
        push_string(
            &mut s,
            "a<b>&\"\\\n\r\t\u{8}\u{c}\u{1}\u{7f}\u{2028}é",
            HtmlEscape::Off,
        );
        // Go: control bytes as \u00XX except the short forms; DEL and non-ASCII verbatim;
        // U+2028 always escaped.
        assert_eq!(s, "\"a<b>&\\\"\\\\\\n\\r\\t\\b\\f\\u0001\u{7f}\\u2028é\"");
    }

    #[test]
    fn escapes_html_when_asked() {
        let mut s = String::new();
        push_string(&mut s, "<&>", HtmlEscape::On);
        assert_eq!(s, "\"\\u003c\\u0026\\u003e\"");
    }

    #[test]
    fn invalid_utf8_becomes_escaped_replacement_per_byte() {
        let mut s = String::new();
        push_string_bytes(&mut s, b"a\xff\xfeb", HtmlEscape::Off);
        assert_eq!(s, "\"a\\ufffd\\ufffdb\"");
    }

    #[test]
    fn nil_and_empty_string_maps() {
        assert_eq!(string_map(None, HtmlEscape::Off), "null");
        assert_eq!(string_map(Some(&BTreeMap::new()), HtmlEscape::Off), "{}");
        let m = BTreeMap::from([
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ]);
        assert_eq!(
            string_map(Some(&m), HtmlEscape::Off),
            r#"{"a":"1","b":"2"}"#
        );
    }

    #[test]
    fn base64_map() {
        let m = BTreeMap::from([("k".to_owned(), b"bar".to_vec())]);
        assert_eq!(bytes_map_as_base64(&m, HtmlEscape::Off), r#"{"k":"YmFy"}"#);
    }

    #[test]
    fn float_formats_follow_go() {
        // Derived from Go's floatEncoder: 'f' between 1e-6 and 1e21, 'e' outside with the
        // exponent's leading zero dropped for negative exponents.
        assert_eq!(format_float_json(1.0), "1");
        assert_eq!(format_float_json(1.5), "1.5");
        assert_eq!(format_float_json(-0.25), "-0.25");
        assert_eq!(format_float_json(1e20), "100000000000000000000");
        assert_eq!(format_float_json(1e21), "1e+21");
        assert_eq!(format_float_json(1.5e300), "1.5e+300");
        assert_eq!(format_float_json(1e-6), "0.000001");
        assert_eq!(format_float_json(1e-7), "1e-7");
        assert_eq!(format_float_json(1.25e-10), "1.25e-10");
        assert_eq!(format_float_json(0.0), "0");
        assert_eq!(
            format_float_json(12345678901234567890.0),
            "12345678901234567000"
        );
        assert_eq!(format_float_f(1e21), "1000000000000000000000");
        assert_eq!(format_float_f(1e-7), "0.0000001");
    }

    #[test]
    fn values_sorted_and_numbers_as_float64() {
        let v = parse(br#"{"z":[1,2.50,true,null],"a":{"y":"<x>","b":12345678901234567890}}"#)
            .expect("valid json");
        assert_eq!(
            value(&v, HtmlEscape::On),
            r#"{"a":{"b":12345678901234567000,"y":"\u003cx\u003e"},"z":[1,2.5,true,null]}"#
        );
    }

    #[test]
    fn parse_error_has_no_content() {
        let err = parse(b"{\"secret\": hunter2}").expect_err("invalid");
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(err.line, 1);
    }
}
