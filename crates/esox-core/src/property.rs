//! Read semantics of ESO's Kubernetes provider (`providers/v1/kubernetes/client.go`):
//! what `data[].remoteRef`, `dataFrom[].extract` and `dataFrom[].find.name` return for a
//! Secret, including its `property` (gjson path) lookups and `metadataPolicy: Fetch`.
//!
//! The provider in esox-providers does the API reads and calls these functions.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use crate::go_json::{self, HtmlEscape};
use crate::keys::{self, ConversionStrategy, KeyError};
use crate::{SecretData, StringMap, go_regex};

const META_LABELS: &str = "labels";
const META_ANNOTATIONS: &str = "annotations";

/// The parts of a remote Secret that reads look at. Empty label/annotation maps stand
/// for absent ones (the API server never returns an empty map), which Go encodes as `null`.
#[derive(Clone, Copy)]
pub struct SecretView<'a> {
    /// `metadata.name`, used in error messages.
    pub name: &'a str,
    /// `data`.
    pub data: &'a SecretData,
    /// `metadata.labels`.
    pub labels: &'a StringMap,
    /// `metadata.annotations`.
    pub annotations: &'a StringMap,
}

impl std::fmt::Debug for SecretView<'_> {
    // Data values are secret: show only key names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretView")
            .field("name", &self.name)
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field("labels", self.labels)
            .field("annotations", self.annotations)
            .finish()
    }
}

/// Lookup failures. They name properties and Secrets, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertyError {
    /// `data[].remoteRef.property` not found in the data.
    #[error("property {property} does not exist in data of secret {}", keys::go_quote(.secret))]
    NotInData {
        /// The property path.
        property: String,
        /// The Secret name.
        secret: String,
    },
    /// `data[].remoteRef.property` not found with `metadataPolicy: Fetch`.
    #[error("property {property} does not exist in metadata of secret {}", keys::go_quote(.secret))]
    NotInMetadata {
        /// The property path.
        property: String,
        /// The Secret name.
        secret: String,
    },
    /// `dataFrom.extract.property` not found.
    #[error("property {property} does not exist in key {secret}")]
    NotInKey {
        /// The property path.
        property: String,
        /// The Secret name (`remoteRef.key`).
        secret: String,
    },
    /// The selected value is not base64 (cannot happen for real Secret data; ESO still checks).
    #[error("illegal base64 data in property {property} of key {secret}")]
    Base64 {
        /// The property path.
        property: String,
        /// The Secret name.
        secret: String,
    },
    /// The value selected by `dataFrom.extract.property` is not a JSON object.
    #[error("failed to unmarshal secret: invalid JSON format")]
    InvalidJson,
    /// The path uses a gjson modifier that Go gjson has and the gjson crate lacks.
    #[error(
        "property {property} uses the gjson modifier {modifier}, which esox does not support; select the value with a plain path instead"
    )]
    UnsupportedModifier {
        /// The property path.
        property: String,
        /// The modifier found.
        modifier: &'static str,
    },
    /// `find.name.regexp` does not compile.
    #[error("could not compile find.name.regexp [{}]: {}", .0.pattern, .0.reason)]
    FindRegexp(go_regex::GoRegexError),
    /// Key conversion of `find` results failed.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// Modifiers of Go gjson v1.18 (used by ESO) that the gjson crate does not implement.
const UNSUPPORTED_MODIFIERS: &[&str] =
    &["@keys", "@values", "@tostr", "@fromstr", "@dig", "@group"];

fn unsupported_modifier(property: &str) -> Option<&'static str> {
    UNSUPPORTED_MODIFIERS
        .iter()
        .copied()
        .find(|m| property.contains(m))
}

/// Work a wildcard path may take over one document, in string-position combinations (about
/// 25 ms). Go's gjson stops matching a key against a wildcard after 10,000 comparisons and
/// calls it no match (`match.MatchLimit`); the gjson crate matches by backtracking without a
/// bound, which takes time exponential in the number of wildcards (`a*a*a*a*a*b` over one
/// 253-character key: 24 s), so a tenant's property could hold a worker for minutes.
const MAX_WILDCARD_WORK: f64 = 1e7;

/// Whether matching the wildcards of `path` against every string of `json` could exceed
/// [`MAX_WILDCARD_WORK`]: a component with `w` wildcards costs about C(len, w) per key.
fn wildcard_work_exceeds_limit(json: &str, path: &str) -> bool {
    let mut wildcards = 0u32;
    let mut most = 0u32;
    let mut escaped = false;
    for c in path.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '*' | '?' => {
                wildcards += 1;
                most = most.max(wildcards);
            }
            '.' | '|' => wildcards = 0,
            _ => {}
        }
    }
    if most < 2 {
        return false;
    }
    let combinations = |len: usize| -> f64 {
        (0..most).fold(1.0, |acc, i| {
            acc * (len as f64 - f64::from(i)).max(0.0) / f64::from(i + 1)
        })
    };
    let mut work = 0.0;
    let (mut in_string, mut escape, mut len) = (false, false, 0usize);
    for b in json.bytes() {
        if !in_string {
            in_string = b == b'"';
            len = 0;
            continue;
        }
        match b {
            _ if escape => escape = false,
            b'\\' => escape = true,
            b'"' => {
                in_string = false;
                work += combinations(len);
                if work > MAX_WILDCARD_WORK {
                    return true;
                }
                continue;
            }
            _ => {}
        }
        len += 1;
    }
    false
}

/// Go gjson's `Result.String()` for `gjson.Get(json, path)`, or `None` when the path
/// does not exist.
pub fn gjson_get_string(json: &str, path: &str) -> Option<String> {
    if wildcard_work_exceeds_limit(json, path) {
        return None;
    }
    let v = gjson::get(json, path);
    if !v.exists() {
        return None;
    }
    if v.kind() == gjson::Kind::Number {
        // Go gjson returns the raw text only for plain integers; anything with a fraction or
        // an exponent is re-formatted with FormatFloat('f', -1) (so `1.50` reads as `1.5`).
        let raw = v.json();
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            return Some(raw.to_owned());
        }
        let num: f64 = raw.parse().unwrap_or(0.0);
        return Some(go_json::format_float_f(num));
    }
    Some(v.str().to_owned())
}

/// `GetSecret` for an already-read Secret: the value of `data[].remoteRef`.
pub fn get_secret_value(
    secret: SecretView<'_>,
    property: Option<&str>,
    metadata_policy_fetch: bool,
) -> Result<Vec<u8>, PropertyError> {
    let property = property.unwrap_or("");
    if property.is_empty() {
        if metadata_policy_fetch {
            return Ok(metadata_json(secret).into_bytes());
        }
        return Ok(go_json::bytes_map_as_strings(secret.data, HtmlEscape::Off).into_bytes());
    }
    if metadata_policy_fetch {
        return from_metadata(secret, property)
            .ok_or_else(|| not_found(property, secret.name, true));
    }
    from_data(secret.data, property).ok_or_else(|| not_found(property, secret.name, false))
}

fn not_found(property: &str, secret: &str, metadata: bool) -> PropertyError {
    if let Some(modifier) = unsupported_modifier(property) {
        return PropertyError::UnsupportedModifier {
            property: property.to_owned(),
            modifier,
        };
    }
    if metadata {
        PropertyError::NotInMetadata {
            property: property.to_owned(),
            secret: secret.to_owned(),
        }
    } else {
        PropertyError::NotInData {
            property: property.to_owned(),
            secret: secret.to_owned(),
        }
    }
}

fn optional(map: &StringMap) -> Option<&StringMap> {
    (!map.is_empty()).then_some(map)
}

fn metadata_json(secret: SecretView<'_>) -> String {
    format!(
        "{{\"{META_ANNOTATIONS}\":{},\"{META_LABELS}\":{}}}",
        go_json::string_map(optional(secret.annotations), HtmlEscape::Off),
        go_json::string_map(optional(secret.labels), HtmlEscape::Off)
    )
}

fn from_data(data: &SecretData, property: &str) -> Option<Vec<u8>> {
    // A key containing dots (file.png) wins over a gjson path.
    if let Some(v) = data.get(property) {
        return Some(v.clone());
    }
    let idx = property.find('.')?;
    if idx == 0 || idx == property.len() - 1 {
        return None;
    }
    let value = data.get(&property[..idx])?;
    let json = String::from_utf8_lossy(value);
    gjson_get_string(&json, &property[idx + 1..]).map(String::into_bytes)
}

fn from_metadata(secret: SecretView<'_>, property: &str) -> Option<Vec<u8>> {
    let path: Vec<&str> = property.split('.').collect();
    let metadata = match path[0] {
        META_LABELS => secret.labels,
        META_ANNOTATIONS => secret.annotations,
        _ => return None,
    };
    if path.len() == 1 {
        return Some(go_json::string_map(optional(metadata), HtmlEscape::Off).into_bytes());
    }
    let value = metadata.get(path[1])?;
    if path.len() == 2 {
        return Some(value.clone().into_bytes());
    }
    // ESO joins the remaining segments without dots (a quirk kept for compatibility):
    // `labels.k.a.b` runs the gjson path `ab` on the label value.
    gjson_get_string(value, &path[2..].concat()).map(String::into_bytes)
}

/// `GetSecretMap` for an already-read Secret: what `dataFrom[].extract` returns.
pub fn get_secret_map(
    secret: SecretView<'_>,
    property: Option<&str>,
    metadata_policy_fetch: bool,
) -> Result<SecretData, PropertyError> {
    let base: SecretData = if metadata_policy_fetch {
        BTreeMap::from([
            (
                META_LABELS.to_owned(),
                go_json::string_map(optional(secret.labels), HtmlEscape::Off).into_bytes(),
            ),
            (
                META_ANNOTATIONS.to_owned(),
                go_json::string_map(optional(secret.annotations), HtmlEscape::Off).into_bytes(),
            ),
        ])
    } else {
        secret.data.clone()
    };
    match property.filter(|p| !p.is_empty()) {
        None => Ok(base),
        Some(property) => property_map(secret.name, property, &base),
    }
}

fn property_map(
    secret: &str,
    property: &str,
    base: &SecretData,
) -> Result<SecretData, PropertyError> {
    // ESO marshals map[string][]byte, so every value is a base64 string in this document.
    let json = go_json::bytes_map_as_base64(base, HtmlEscape::Off);
    if property.contains('.') {
        let literal = property.replace('.', "\\.");
        if let Some(map) = map_from_value(secret, property, &literal, &json)? {
            return Ok(map);
        }
    }
    map_from_value(secret, property, property, &json)?.ok_or_else(|| {
        match unsupported_modifier(property) {
            Some(modifier) => PropertyError::UnsupportedModifier {
                property: property.to_owned(),
                modifier,
            },
            None => PropertyError::NotInKey {
                property: property.to_owned(),
                secret: secret.to_owned(),
            },
        }
    })
}

fn map_from_value(
    secret: &str,
    property: &str,
    path: &str,
    json: &str,
) -> Result<Option<SecretData>, PropertyError> {
    let Some(encoded) = gjson_get_string(json, path) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .map_err(|_| PropertyError::Base64 {
            property: property.to_owned(),
            secret: secret.to_owned(),
        })?;
    let fields = match go_json::parse(&decoded) {
        Ok(Value::Object(fields)) => fields,
        // Go unmarshals `null` into a nil map: an empty, but existing, result.
        Ok(Value::Null) => serde_json::Map::new(),
        _ => return Err(PropertyError::InvalidJson),
    };
    Ok(Some(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), go_json::value(v, HtmlEscape::Off).into_bytes()))
            .collect(),
    ))
}

/// JSON of a Secret's data with string values, as `find` results carry it.
pub fn find_entry_value(data: &SecretData) -> Vec<u8> {
    go_json::bytes_map_as_strings(data, HtmlEscape::Off).into_bytes()
}

/// `GetAllSecrets` with `find.tags`: the API list was already filtered by label selector;
/// maps each Secret name to the JSON of its data, then converts the names.
pub fn find_result<'a>(
    secrets: impl IntoIterator<Item = (&'a str, &'a SecretData)>,
    conversion: ConversionStrategy,
) -> Result<SecretData, PropertyError> {
    let out: SecretData = secrets
        .into_iter()
        .map(|(name, data)| (name.to_owned(), find_entry_value(data)))
        .collect();
    Ok(keys::convert_keys(conversion, out)?)
}

/// `GetAllSecrets` with `find.name.regexp`: keeps Secrets whose *name* matches the
/// unanchored Go regexp.
pub fn find_by_name<'a>(
    regexp: &str,
    secrets: impl IntoIterator<Item = (&'a str, &'a SecretData)>,
    conversion: ConversionStrategy,
) -> Result<SecretData, PropertyError> {
    let re = go_regex::compile(regexp).map_err(PropertyError::FindRegexp)?;
    find_result(
        secrets.into_iter().filter(|(name, _)| re.is_match(name)),
        conversion,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_regression_many_wildcards_end_promptly() {
        // Found by scripts/fuzz (gjson_property): a property of many wildcards over a long key
        // backtracked for seconds (24 s for five); Go's gjson gives up after 10,000 comparisons.
        let key = "a".repeat(253);
        let json = format!("{{\"{key}\":\"x\"}}");
        let started = std::time::Instant::now();
        for stars in 2..=12 {
            let path = format!("{}b", "a*".repeat(stars));
            assert_eq!(gjson_get_string(&json, &path), None, "{path}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // Wildcards that match within the bound still do.
        assert_eq!(gjson_get_string(&json, "a*a").as_deref(), Some("x"));
        assert_eq!(gjson_get_string(&json, "a*a*a").as_deref(), Some("x"));
        let short = r#"{"abcdef":"x","k":{"ab":1}}"#;
        assert_eq!(gjson_get_string(short, "a*c*e*").as_deref(), Some("x"));
        assert_eq!(gjson_get_string(short, "a?c*").as_deref(), Some("x"));
        assert_eq!(gjson_get_string(short, "k.a?").as_deref(), Some("1"));
        assert_eq!(gjson_get_string(short, r"a\*c*e*"), None);
    }

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    fn strings(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn text(v: Result<Vec<u8>, PropertyError>) -> String {
        String::from_utf8(v.expect("found")).expect("utf8")
    }

    const EMPTY: &StringMap = &BTreeMap::new();

    fn view<'a>(d: &'a SecretData, l: &'a StringMap, a: &'a StringMap) -> SecretView<'a> {
        SecretView {
            name: "src",
            data: d,
            labels: l,
            annotations: a,
        }
    }

    #[test]
    fn whole_secret_is_json_without_html_escaping() {
        let d = data(&[("b", "<&>"), ("a", "x\ny")]);
        assert_eq!(
            text(get_secret_value(view(&d, EMPTY, EMPTY), None, false)),
            r#"{"a":"x\ny","b":"<&>"}"#
        );
        let empty = SecretData::new();
        assert_eq!(
            text(get_secret_value(
                view(&empty, EMPTY, EMPTY),
                Some(""),
                false
            )),
            "{}"
        );
    }

    #[test]
    fn metadata_fetch_without_property() {
        let d = SecretData::new();
        let l = strings(&[("app", "x")]);
        assert_eq!(
            text(get_secret_value(view(&d, &l, EMPTY), None, true)),
            r#"{"annotations":null,"labels":{"app":"x"}}"#
        );
    }

    #[test]
    fn exact_key_wins_then_gjson_on_prefix() {
        let d = data(&[
            ("file.png", "raw"),
            (
                "foo",
                r#"{"huga":{"bar":"deep","n":1.50,"i":-3,"o":{"k":1}}}"#,
            ),
        ]);
        let v = view(&d, EMPTY, EMPTY);
        assert_eq!(text(get_secret_value(v, Some("file.png"), false)), "raw");
        assert_eq!(
            text(get_secret_value(v, Some("foo.huga.bar"), false)),
            "deep"
        );
        assert_eq!(text(get_secret_value(v, Some("foo.huga.n"), false)), "1.5");
        assert_eq!(text(get_secret_value(v, Some("foo.huga.i"), false)), "-3");
        assert_eq!(
            text(get_secret_value(v, Some("foo.huga.o"), false)),
            r#"{"k":1}"#
        );
        let err = get_secret_value(v, Some("foo.nope"), false).expect_err("missing");
        assert_eq!(
            err.to_string(),
            r#"property foo.nope does not exist in data of secret "src""#
        );
        // A leading or trailing dot never reaches gjson.
        assert!(get_secret_value(v, Some(".foo"), false).is_err());
        assert!(get_secret_value(v, Some("foo."), false).is_err());
    }

    #[test]
    fn metadata_fetch_with_property_and_join_quirk() {
        let d = SecretData::new();
        let l = strings(&[("app", "x")]);
        let a = strings(&[("cfg", r#"{"ab":"joined","a":{"b":"dotted"}}"#)]);
        let v = view(&d, &l, &a);
        assert_eq!(
            text(get_secret_value(v, Some("labels"), true)),
            r#"{"app":"x"}"#
        );
        assert_eq!(text(get_secret_value(v, Some("labels.app"), true)), "x");
        // annotations.cfg.a.b runs gjson path "ab", not "a.b".
        assert_eq!(
            text(get_secret_value(v, Some("annotations.cfg.a.b"), true)),
            "joined"
        );
        let err = get_secret_value(v, Some("spec"), true).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            r#"property spec does not exist in metadata of secret "src""#
        );
    }

    #[test]
    fn extract_without_property_returns_data_or_metadata() {
        let d = data(&[("a", "1")]);
        assert_eq!(
            get_secret_map(view(&d, EMPTY, EMPTY), None, false).expect("ok"),
            d
        );
        let l = strings(&[("k", "v")]);
        let m = get_secret_map(view(&d, &l, EMPTY), None, true).expect("ok");
        assert_eq!(
            m.get("labels").map(Vec::as_slice),
            Some(&br#"{"k":"v"}"#[..])
        );
        assert_eq!(m.get("annotations").map(Vec::as_slice), Some(&b"null"[..]));
    }

    #[test]
    fn extract_with_property_json_encodes_each_field() {
        // ESO test: {"dev":"\"seb\""} -- string values keep their quotes.
        let d = data(&[
            ("cfg", r#"{"dev":"seb","n":2.0,"o":{"z":1,"a":"<"}}"#),
            ("x.y", r#"{"k":"dotted-key"}"#),
        ]);
        let v = view(&d, EMPTY, EMPTY);
        let m = get_secret_map(v, Some("cfg"), false).expect("ok");
        let got: Vec<(String, String)> = m
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("dev".into(), "\"seb\"".into()),
                ("n".into(), "2".into()),
                ("o".into(), r#"{"a":"<","z":1}"#.into()),
            ]
        );
        // A dotted property first tries the literal key.
        let m = get_secret_map(v, Some("x.y"), false).expect("ok");
        assert_eq!(m.get("k").map(Vec::as_slice), Some(&br#""dotted-key""#[..]));
        let err = get_secret_map(v, Some("nope"), false).expect_err("missing");
        assert_eq!(err.to_string(), "property nope does not exist in key src");
    }

    #[test]
    fn extract_with_property_rejects_non_objects_without_leaking() {
        let d = data(&[("pw", "hunter2"), ("arr", "[1]"), ("nul", "null")]);
        let v = view(&d, EMPTY, EMPTY);
        let err = get_secret_map(v, Some("pw"), false).expect_err("not json");
        assert_eq!(err, PropertyError::InvalidJson);
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(
            get_secret_map(v, Some("arr"), false),
            Err(PropertyError::InvalidJson)
        );
        assert!(
            get_secret_map(v, Some("nul"), false)
                .expect("null is empty")
                .is_empty()
        );
    }

    #[test]
    fn find_by_name_matches_unanchored_and_converts_names() {
        let a = data(&[("k", "v")]);
        let b = data(&[("k", "<w>")]);
        let c = SecretData::new();
        let secrets = [("db-one", &a), ("my/db", &b), ("other", &c)];
        let out = find_by_name("db", secrets, ConversionStrategy::Default).expect("ok");
        let got: Vec<(String, String)> = out
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("db-one".into(), r#"{"k":"v"}"#.into()),
                ("my_db".into(), r#"{"k":"<w>"}"#.into()),
            ]
        );
        let err = find_by_name("(", secrets, ConversionStrategy::Default).expect_err("bad");
        assert!(
            err.to_string()
                .starts_with("could not compile find.name.regexp [(]")
        );
    }

    #[test]
    fn unsupported_modifiers_say_so() {
        let d = data(&[("cfg", r#"{"a":1}"#), ("x@keys", "literal")]);
        let v = view(&d, EMPTY, EMPTY);
        let err = get_secret_value(v, Some("cfg.@keys"), false).expect_err("unsupported");
        assert!(matches!(
            err,
            PropertyError::UnsupportedModifier {
                modifier: "@keys",
                ..
            }
        ));
        // A literal key wins before any path handling.
        assert_eq!(text(get_secret_value(v, Some("x@keys"), false)), "literal");
        let err = get_secret_map(v, Some("cfg|@values"), false).expect_err("unsupported");
        assert!(err.to_string().contains("@values"));
    }

    #[test]
    fn debug_hides_values() {
        let d = data(&[("k", "hunter2")]);
        let dbg = format!("{:?}", view(&d, EMPTY, EMPTY));
        assert!(dbg.contains("\"k\""));
        assert!(!dbg.contains("hunter2"));
    }
}
