//! ESO's hashes: SHA3-224 (hex) over Go's `fmt.Sprintf("%+v", value)`.
//!
//! Used for the `reconcile.external-secrets.io/data-hash` annotation, the
//! `reconcile.external-secrets.io/created-by` label, `status.syncedResourceVersion` and
//! the field-manager name. A Secret written by Go ESO must hash to the same string here,
//! otherwise esox would treat every adopted Secret as modified and rewrite it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha3::{Digest, Sha3_224};

/// Field-manager prefix ESO uses for ExternalSecret writes (`fieldOwnerTemplate`).
pub const FIELD_MANAGER_PREFIX: &str = "externalsecrets.external-secrets.io/";

/// Longest field-manager name ESO uses before switching to the hashed form.
pub const FIELD_MANAGER_MAX_LEN: usize = 63;

/// Lower-case hex of SHA3-224 over `bytes` (Go: `fmt.Sprintf("%x", sha3.Sum224(b))`).
pub fn sha3_224_hex(bytes: &[u8]) -> String {
    let digest = Sha3_224::digest(bytes);
    let mut out = String::with_capacity(56);
    for b in digest {
        // Writing into a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Go's `%+v` (and `%v`) of a `map[string][]byte`: `map[k1:[1 2] k2:[]]`, keys sorted
/// bytewise, each byte in decimal. A nil map and an empty map both print `map[]`, and so
/// do nil and empty byte slices (`[]`), so the distinction needs no representation here.
pub fn go_format_bytes_map(data: &BTreeMap<String, Vec<u8>>) -> String {
    let mut out = String::from("map[");
    for (i, (k, v)) in data.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push_str(":[");
        for (j, b) in v.iter().enumerate() {
            if j > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{b}");
        }
        out.push(']');
    }
    out.push(']');
    out
}

/// Go's `%+v` of a `map[string]string`: `map[k1:v1 k2:v2]`. Strings are printed raw
/// (`%v` quotes nothing and escapes nothing), so a value containing spaces or `:` is
/// ambiguous in the text, exactly as in Go.
pub fn go_format_string_map(map: &BTreeMap<String, String>) -> String {
    let mut out = String::from("map[");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push(':');
        out.push_str(v);
    }
    out.push(']');
    out
}

/// Go's `%v` of a value decoded by apimachinery's unstructured JSON decoder (what
/// `unstructured.Unstructured` holds): objects are `map[string]interface{}`, arrays
/// `[]interface{}`, integers `int64`, other numbers `float64`, null `<nil>`.
/// One input cannot be told apart after serde_json parsing: the integer literal `-0`
/// (Go: int64 `0`) reads as float `-0`; the API server never returns that literal.
pub fn go_format_unstructured(value: &serde_json::Value) -> String {
    let mut out = String::new();
    push_unstructured(&mut out, value);
    out
}

fn push_unstructured(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) => {
                let _ = write!(out, "{i}");
            }
            None => out.push_str(&go_format_float_v(n.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                push_unstructured(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                push_unstructured(out, v);
            }
            out.push(']');
        }
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): shortest digits, in
/// exponent form (`1e+06`, `1.5e-05`) when the decimal exponent is below -4 or at least 6.
pub fn go_format_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's {:e} gives the shortest round-trip digits: "d.ddde<exp>".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        format!("{f}")
    }
}

/// `ObjectHash` of a generic target's content (`.spec`, or `.data` when there is no
/// spec); `None` is Go's nil (`<nil>`).
pub fn unstructured_hash(value: Option<&serde_json::Value>) -> String {
    let text = value.map_or_else(|| "<nil>".to_owned(), go_format_unstructured);
    sha3_224_hex(text.as_bytes())
}

/// A generic target (`spec.target.manifest`) has nothing ESO can hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("generic target content does not have a spec or data field for content hashing")]
pub struct NoHashableContent;

/// ESO's `genericTargetContentHash`: the hash of the object's `spec`, or of its `data`
/// when there is no (non-null) spec. `object` is the whole object as JSON.
pub fn generic_target_content_hash(
    object: &serde_json::Value,
) -> Result<String, NoHashableContent> {
    let field = |name: &str| object.get(name).filter(|v| !v.is_null());
    field("spec")
        .or_else(|| field("data"))
        .map(|content| unstructured_hash(Some(content)))
        .ok_or(NoHashableContent)
}

/// The `reconcile.external-secrets.io/data-hash` annotation value for Secret data
/// (`esutils.ObjectHash(secret.Data)`).
pub fn data_hash(data: &BTreeMap<String, Vec<u8>>) -> String {
    sha3_224_hex(go_format_bytes_map(data).as_bytes())
}

/// The `reconcile.external-secrets.io/created-by` label value:
/// `ObjectHash(fmt.Sprintf("%v/%v", namespace, name))`; `%+v` of a string is the string.
pub fn created_by_hash(namespace: &str, name: &str) -> String {
    sha3_224_hex(format!("{namespace}/{name}").as_bytes())
}

/// The text ESO hashes for `HashMeta`: `%+v` of the unexported struct
/// `struct{ annotations, labels map[string]string }`, which Go prints as
/// `{annotations:map[...] labels:map[...]}` (field names because of `+`, declaration
/// order, a nil map as `map[]`).
pub fn go_format_meta(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> String {
    format!(
        "{{annotations:{} labels:{}}}",
        go_format_string_map(annotations),
        go_format_string_map(labels)
    )
}

/// `status.syncedResourceVersion` for ExternalSecrets and PushSecrets
/// (`ctrlutil.GetResourceVersion`): `"<generation>-<HashMeta>"`.
pub fn synced_resource_version(
    generation: i64,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> String {
    format!(
        "{generation}-{}",
        sha3_224_hex(go_format_meta(labels, annotations).as_bytes())
    )
}

/// The field manager ESO uses when it writes a target Secret (`fqdnFor`): the plain form
/// when it fits in 63 bytes, otherwise `.../sha3/<sha3-224 hex of the ES name>`.
pub fn field_manager_name(es_name: &str) -> String {
    let plain = format!("{FIELD_MANAGER_PREFIX}{es_name}");
    if plain.len() > FIELD_MANAGER_MAX_LEN {
        format!(
            "{FIELD_MANAGER_PREFIX}sha3/{}",
            sha3_224_hex(es_name.as_bytes())
        )
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect()
    }

    fn strings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn sha3_224_known_answers() {
        // FIPS 202 test vectors for SHA3-224.
        assert_eq!(
            sha3_224_hex(b""),
            "6b4e03423667dbb73b6e15454f0eb1abd4597f9a1b078e3f5b5a6bc7"
        );
        assert_eq!(
            sha3_224_hex(b"abc"),
            "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf"
        );
    }

    #[test]
    fn eso_published_vectors() {
        // runtime/esutils/utils_test.go TestObjectHash ("map also works", "simple scalar").
        assert_eq!(
            data_hash(&data(&[("foo", b"value1"), ("bar", b"value2")])),
            "1bed8bcbcb4547ffe19a19cd47d9078e84aa6598266d86b99f992d64"
        );
        assert_eq!(
            sha3_224_hex(b"hello there"),
            "f78681ec611ebaeea0689bff6c7812a83ff98a7faba986d9af76c999"
        );
        // ObjectHash(nil) hashes "<nil>".
        assert_eq!(
            sha3_224_hex(b"<nil>"),
            "c461202a18e99215f121936fb2452e03843828e448a00a53f285a6fc"
        );
    }

    #[test]
    fn unstructured_text_matches_go_rules() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"b":{"n":null,"l":[1,"a b",true]},"a":1.5,"i":3,"f":1e6,"s":0.00001,"m":100000.0}"#,
        )
        .expect("valid");
        assert_eq!(
            go_format_unstructured(&v),
            "map[a:1.5 b:map[l:[1 a b true] n:<nil>] f:1e+06 i:3 m:100000 s:1e-05]"
        );
        assert_eq!(unstructured_hash(None), sha3_224_hex(b"<nil>"));
    }

    #[test]
    fn generic_target_hash_prefers_spec_then_data() {
        let with_spec = serde_json::json!({"kind": "X", "spec": {"a": "b"}, "data": {"c": "d"}});
        assert_eq!(
            generic_target_content_hash(&with_spec),
            Ok(sha3_224_hex(b"map[a:b]"))
        );
        let null_spec = serde_json::json!({"spec": null, "data": {"c": "d"}});
        assert_eq!(
            generic_target_content_hash(&null_spec),
            Ok(sha3_224_hex(b"map[c:d]"))
        );
        assert_eq!(
            generic_target_content_hash(&serde_json::json!({"kind": "X"})),
            Err(NoHashableContent)
        );
    }

    #[test]
    fn bytes_map_text_matches_go_rules() {
        // fmt prints maps as map[k:v ...] with keys sorted (internal/fmtsort) and []byte
        // under %v as a list of decimal bytes separated by single spaces.
        assert_eq!(go_format_bytes_map(&BTreeMap::new()), "map[]");
        assert_eq!(
            go_format_bytes_map(&data(&[("foo", b"bar")])),
            "map[foo:[98 97 114]]"
        );
        assert_eq!(
            go_format_bytes_map(&data(&[("z", b""), ("a", &[0, 255]), ("B", b" ")])),
            "map[B:[32] a:[0 255] z:[]]"
        );
    }

    #[test]
    fn data_hash_is_sha3_of_go_text() {
        // The empty map prints "map[]"; its hash must be SHA3-224("map[]"), not of "".
        assert_eq!(data_hash(&BTreeMap::new()), sha3_224_hex(b"map[]"));
        assert_ne!(data_hash(&BTreeMap::new()), sha3_224_hex(b""));
        assert_eq!(
            data_hash(&data(&[("foo", b"bar")])),
            sha3_224_hex(b"map[foo:[98 97 114]]")
        );
    }

    #[test]
    fn created_by_hashes_namespace_slash_name() {
        assert_eq!(
            created_by_hash("default", "es"),
            sha3_224_hex(b"default/es")
        );
        assert_ne!(created_by_hash("a", "b/c"), created_by_hash("a/b", "d"));
    }

    #[test]
    fn meta_text_matches_go_struct_printing() {
        // %+v of struct{annotations, labels map[string]string}: braces, "name:value" pairs
        // separated by one space, annotations first (declaration order), nil map -> map[].
        assert_eq!(
            go_format_meta(&BTreeMap::new(), &BTreeMap::new()),
            "{annotations:map[] labels:map[]}"
        );
        assert_eq!(
            go_format_meta(
                &strings(&[("app", "x"), ("a", "b c")]),
                &strings(&[("force-sync", "1")])
            ),
            "{annotations:map[force-sync:1] labels:map[a:b c app:x]}"
        );
    }

    #[test]
    fn synced_resource_version_has_generation_prefix() {
        let v = synced_resource_version(3, &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(
            v,
            format!("3-{}", sha3_224_hex(b"{annotations:map[] labels:map[]}"))
        );
        let changed = synced_resource_version(3, &BTreeMap::new(), &strings(&[("k", "v")]));
        assert_ne!(v, changed);
    }

    #[test]
    fn field_manager_switches_to_hash_past_63_bytes() {
        // The prefix is 36 bytes, so names up to 27 bytes keep the plain form.
        assert_eq!(FIELD_MANAGER_PREFIX.len(), 36);
        let short = "a".repeat(27);
        assert_eq!(
            field_manager_name(&short),
            format!("{FIELD_MANAGER_PREFIX}{short}")
        );
        let long = "a".repeat(28);
        assert_eq!(
            field_manager_name(&long),
            format!(
                "{FIELD_MANAGER_PREFIX}sha3/{}",
                sha3_224_hex(long.as_bytes())
            )
        );
    }
}
