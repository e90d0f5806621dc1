//! Secret key handling: ESO's `ConvertKeys`, `ReverseKeys`, `ValidateKeys`
//! (`runtime/esutils/utils.go`) and the `nullBytePolicy` check
//! (`externalsecret_controller_secret.go`).
//!
//! Go decides what is a valid key character with `unicode.IsLetter` / `unicode.IsNumber`,
//! i.e. the Unicode general categories L* and N*, so `é` or `٣` are kept as they are. The
//! Rust `char::is_alphabetic` uses a different property, hence the `\p{L}` / `\p{N}` regexes.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::SecretData;

/// Longest key Kubernetes accepts in Secret data.
pub const MAX_KEY_LEN: usize = 253;

/// Prefix ESO puts in front of every key validation error (`errInvalidKeys`).
pub const INVALID_KEYS_TIP: &str =
    "invalid secret keys (TIP: use rewrite or conversionStrategy to change keys)";

static INVALID_CHAR: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r"[^\p{L}\p{N}\-._]"));
static UNICODE_ESCAPE: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r"_U([0-9a-fA-F]{4,5})_"));

/// `conversionStrategy` of `dataFrom.extract` / `dataFrom.find`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConversionStrategy {
    /// Every invalid character becomes `_` (also used when the field is empty).
    #[default]
    Default,
    /// Every invalid character becomes `_UXXXX_` (lower-case hex, at least 4 digits).
    Unicode,
}

impl ConversionStrategy {
    /// Parses the API value; the empty string means the field was omitted (`Default`).
    pub fn parse(value: &str) -> Result<Self, KeyError> {
        match value {
            "" | "Default" => Ok(Self::Default),
            "Unicode" => Ok(Self::Unicode),
            other => Err(KeyError::UnknownStrategy {
                field: "conversionStrategy",
                value: other.to_owned(),
                allowed: "Default, Unicode",
            }),
        }
    }
}

/// PushSecret `conversionStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReverseStrategy {
    /// Keys are used as they are.
    #[default]
    None,
    /// `_UXXXX_` sequences turn back into the character they encode.
    ReverseUnicode,
}

impl ReverseStrategy {
    /// Parses the API value; empty means `None`.
    pub fn parse(value: &str) -> Result<Self, KeyError> {
        match value {
            "" | "None" => Ok(Self::None),
            "ReverseUnicode" => Ok(Self::ReverseUnicode),
            other => Err(KeyError::UnknownStrategy {
                field: "conversionStrategy",
                value: other.to_owned(),
                allowed: "None, ReverseUnicode",
            }),
        }
    }
}

/// `nullBytePolicy` of `data[].remoteRef`, `dataFrom.extract` and `dataFrom.find`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NullBytePolicy {
    /// Binary values are fine (also the meaning of an omitted field).
    #[default]
    Ignore,
    /// A value containing a NUL byte is an error.
    Fail,
}

impl NullBytePolicy {
    /// Parses the API value; empty means `Ignore`.
    pub fn parse(value: &str) -> Result<Self, KeyError> {
        match value {
            "" | "Ignore" => Ok(Self::Ignore),
            "Fail" => Ok(Self::Fail),
            other => Err(KeyError::UnknownStrategy {
                field: "nullBytePolicy",
                value: other.to_owned(),
                allowed: "Ignore, Fail",
            }),
        }
    }
}

/// Errors about secret keys. They name keys (never values) so the user can fix them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Two source keys map to the same converted key.
    #[error("secret name collision during conversion: {0}")]
    Collision(String),
    /// A key is longer than Kubernetes allows (the key is truncated in the message).
    #[error(
        "{INVALID_KEYS_TIP}: key has length {len} but max is {MAX_KEY_LEN}: (following is truncated): {truncated}"
    )]
    TooLong {
        /// Length in bytes.
        len: usize,
        /// The first 253 bytes (cut at a character boundary).
        truncated: String,
    },
    /// A key has a character Kubernetes rejects.
    #[error(
        "{INVALID_KEYS_TIP}: key has invalid character {character}, only alphanumeric, '-', '.' and '_' are allowed: {key}"
    )]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// The whole key.
        key: String,
    },
    /// A value contains NUL bytes while `nullBytePolicy: Fail`.
    #[error(
        "fetched secret value for key {} contains null bytes; use a text-safe format such as PEM/base64 or leave nullBytePolicy unset for intentional binary data",
        go_quote(.0)
    )]
    NullByte(String),
    /// An enum field has a value this version does not know.
    #[error("unknown {field} {value:?}: use one of {allowed}")]
    UnknownStrategy {
        /// The API field.
        field: &'static str,
        /// The value found.
        value: String,
        /// The accepted values.
        allowed: &'static str,
    },
    /// The built-in Unicode tables failed to load (a build problem, not a user error).
    #[error("internal error: key character tables unavailable: {0}")]
    Internal(String),
}

fn invalid_char_regex() -> Result<&'static Regex, KeyError> {
    INVALID_CHAR
        .as_ref()
        .map_err(|e| KeyError::Internal(e.to_string()))
}

/// Converts one key (ESO's `convert`).
pub fn convert_key(strategy: ConversionStrategy, key: &str) -> Result<String, KeyError> {
    let re = invalid_char_regex()?;
    let converted = re.replace_all(key, |caps: &regex::Captures<'_>| {
        let c = caps[0].chars().next().unwrap_or('\u{fffd}');
        match strategy {
            ConversionStrategy::Default => "_".to_owned(),
            ConversionStrategy::Unicode => format!("_U{:04x}_", c as u32),
        }
    });
    Ok(converted.into_owned())
}

/// ESO's `ConvertKeys`: converts every key, erroring when two keys collide.
pub fn convert_keys(
    strategy: ConversionStrategy,
    data: SecretData,
) -> Result<SecretData, KeyError> {
    transform_keys(data, |k| convert_key(strategy, k))
}

/// Reverses one key (ESO's `ReverseKey`).
pub fn reverse_key(strategy: ReverseStrategy, key: &str) -> Result<String, KeyError> {
    match strategy {
        ReverseStrategy::None => Ok(key.to_owned()),
        ReverseStrategy::ReverseUnicode => {
            let re = UNICODE_ESCAPE
                .as_ref()
                .map_err(|e| KeyError::Internal(e.to_string()))?;
            let out = re.replace_all(key, |caps: &regex::Captures<'_>| {
                // 4-5 hex digits always parse; Go's %c prints U+FFFD for surrogates.
                let code = u32::from_str_radix(&caps[1], 16).unwrap_or(0xfffd);
                char::from_u32(code).unwrap_or('\u{fffd}').to_string()
            });
            Ok(out.into_owned())
        }
    }
}

/// ESO's `ReverseKeys` for PushSecret sources.
pub fn reverse_keys(strategy: ReverseStrategy, data: SecretData) -> Result<SecretData, KeyError> {
    transform_keys(data, |k| reverse_key(strategy, k))
}

fn transform_keys(
    data: SecretData,
    f: impl Fn(&str) -> Result<String, KeyError>,
) -> Result<SecretData, KeyError> {
    let mut out = BTreeMap::new();
    for (k, v) in data {
        let key = f(&k)?;
        if out.contains_key(&key) {
            return Err(KeyError::Collision(key));
        }
        out.insert(key, v);
    }
    Ok(out)
}

/// ESO's `ValidateKeys`: drops empty keys (they mean "absent upstream"), then checks each
/// key's length and characters. Keys are checked in sorted order so the reported key is
/// deterministic (Go reports whichever its map iteration hits first).
pub fn validate_keys(data: &mut SecretData) -> Result<(), KeyError> {
    if data.remove("").is_some() {
        tracing::debug!("dropped the empty key from the secret output");
    }
    let re = invalid_char_regex()?;
    for key in data.keys() {
        if key.len() > MAX_KEY_LEN {
            let mut cut = MAX_KEY_LEN;
            while !key.is_char_boundary(cut) {
                cut -= 1;
            }
            return Err(KeyError::TooLong {
                len: key.len(),
                truncated: key[..cut].to_owned(),
            });
        }
        if let Some(m) = re.find(key) {
            return Err(KeyError::InvalidCharacter {
                character: m.as_str().chars().next().unwrap_or('\u{fffd}'),
                key: key.clone(),
            });
        }
    }
    Ok(())
}

/// The `nullBytePolicy` check for one value stored under `key`.
pub fn check_null_bytes(policy: NullBytePolicy, key: &str, value: &[u8]) -> Result<(), KeyError> {
    if policy == NullBytePolicy::Fail && value.contains(&0) {
        return Err(KeyError::NullByte(key.to_owned()));
    }
    Ok(())
}

/// The `nullBytePolicy` check over a map (first offending key in sorted order, as ESO).
pub fn check_null_bytes_map(policy: NullBytePolicy, data: &SecretData) -> Result<(), KeyError> {
    for (k, v) in data {
        check_null_bytes(policy, k, v)?;
    }
    Ok(())
}

static PRINTABLE: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$"));

/// Go's `%q` (`strconv.Quote`): printable runes (`unicode.IsPrint`) verbatim, the usual
/// short escapes, `\xNN` for other ASCII controls, `\uXXXX` / `\UXXXXXXXX` otherwise.
pub fn go_quote(s: &str) -> String {
    let printable = PRINTABLE.as_ref().ok();
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut buf = [0u8; 4];
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if printable.is_none_or(|re| re.is_match(c.encode_utf8(&mut buf))) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(keys: &[&str]) -> SecretData {
        keys.iter()
            .map(|k| ((*k).to_owned(), k.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn default_conversion_replaces_invalid_runes_with_underscore() {
        assert_eq!(
            convert_key(ConversionStrategy::Default, "a/b c:d").expect("ok"),
            "a_b_c_d"
        );
        // Letters and numbers of any script are valid (unicode.IsLetter / IsNumber).
        assert_eq!(
            convert_key(ConversionStrategy::Default, "été-٣.x_1").expect("ok"),
            "été-٣.x_1"
        );
        // U+00B2 SUPERSCRIPT TWO is category No, so a number for Go.
        assert_eq!(
            convert_key(ConversionStrategy::Default, "x²").expect("ok"),
            "x²"
        );
        // U+0345 is alphabetic in Rust's sense but category Mn, not a letter for Go.
        assert_eq!(
            convert_key(ConversionStrategy::Default, "a\u{345}").expect("ok"),
            "a_"
        );
        // One multi-byte rune becomes one underscore.
        assert_eq!(
            convert_key(ConversionStrategy::Default, "a😀b").expect("ok"),
            "a_b"
        );
    }

    #[test]
    fn unicode_conversion_uses_lowercase_hex_of_at_least_four_digits() {
        assert_eq!(
            convert_key(ConversionStrategy::Unicode, "a/b").expect("ok"),
            "a_U002f_b"
        );
        assert_eq!(
            convert_key(ConversionStrategy::Unicode, "😀").expect("ok"),
            "_U1f600_"
        );
        assert_eq!(
            convert_key(ConversionStrategy::Unicode, " ").expect("ok"),
            "_U0020_"
        );
    }

    #[test]
    fn collision_is_an_error_naming_the_key() {
        let err =
            convert_keys(ConversionStrategy::Default, map(&["a/b", "a:b"])).expect_err("collide");
        assert_eq!(err, KeyError::Collision("a_b".to_owned()));
        assert_eq!(
            err.to_string(),
            "secret name collision during conversion: a_b"
        );
    }

    #[test]
    fn reverse_unicode_round_trips() {
        let original = map(&["a/b", "x😀y", "plain"]);
        let converted = convert_keys(ConversionStrategy::Unicode, original.clone()).expect("ok");
        let back = reverse_keys(ReverseStrategy::ReverseUnicode, converted).expect("ok");
        assert_eq!(
            back.keys().collect::<Vec<_>>(),
            original.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            reverse_key(ReverseStrategy::None, "a_U002f_b").expect("ok"),
            "a_U002f_b"
        );
        // Surrogates print as U+FFFD like Go's %c; non-hex stays.
        assert_eq!(
            reverse_key(ReverseStrategy::ReverseUnicode, "_Ud800_").expect("ok"),
            "\u{fffd}"
        );
        assert_eq!(
            reverse_key(ReverseStrategy::ReverseUnicode, "_U00zz_").expect("ok"),
            "_U00zz_"
        );
        // Six hex digits do not match {4,5}.
        assert_eq!(
            reverse_key(ReverseStrategy::ReverseUnicode, "_U01f600_").expect("ok"),
            "_U01f600_"
        );
    }

    #[test]
    fn validate_drops_empty_key_and_accepts_unicode_letters() {
        let mut data = map(&["", "ok-key.1_x", "é"]);
        validate_keys(&mut data).expect("valid");
        assert_eq!(data.len(), 2);
        assert!(!data.contains_key(""));
    }

    #[test]
    fn validate_rejects_bad_characters_with_tip() {
        let mut data = map(&["good", "bad/key"]);
        let err = validate_keys(&mut data).expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "invalid secret keys (TIP: use rewrite or conversionStrategy to change keys): key has invalid character /, only alphanumeric, '-', '.' and '_' are allowed: bad/key"
        );
    }

    #[test]
    fn validate_rejects_long_keys() {
        let mut ok = map(&[&"a".repeat(253)]);
        validate_keys(&mut ok).expect("253 is fine");
        let long = "é".repeat(127); // 254 bytes
        let mut data = map(&[&long]);
        match validate_keys(&mut data) {
            Err(KeyError::TooLong { len, truncated }) => {
                assert_eq!(len, 254);
                assert_eq!(truncated.len(), 252);
            }
            other => panic!("expected TooLong, got {other:?}"),
        }
    }

    #[test]
    fn null_byte_policy() {
        check_null_bytes(NullBytePolicy::Ignore, "k", b"a\0b").expect("ignored");
        check_null_bytes(NullBytePolicy::Fail, "k", b"ab").expect("no NUL");
        let mut data = map(&["b", "a"]);
        data.insert("z".into(), b"\0".to_vec());
        data.insert("c".into(), b"x\0".to_vec());
        let err = check_null_bytes_map(NullBytePolicy::Fail, &data).expect_err("NUL");
        assert_eq!(err, KeyError::NullByte("c".to_owned()));
        assert!(
            err.to_string()
                .starts_with("fetched secret value for key \"c\" contains null bytes")
        );
    }

    #[test]
    fn parse_strategies() {
        assert_eq!(
            ConversionStrategy::parse("").expect("ok"),
            ConversionStrategy::Default
        );
        assert_eq!(
            ConversionStrategy::parse("Unicode").expect("ok"),
            ConversionStrategy::Unicode
        );
        assert!(ConversionStrategy::parse("unicode").is_err());
        assert_eq!(
            ReverseStrategy::parse("ReverseUnicode").expect("ok"),
            ReverseStrategy::ReverseUnicode
        );
        assert_eq!(
            NullBytePolicy::parse("Fail").expect("ok"),
            NullBytePolicy::Fail
        );
    }
}
