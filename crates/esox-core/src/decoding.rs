//! ESO's `decodingStrategy` (`runtime/decoding/decoding.go`).
//!
//! Go's base64 decoders are used in their default (non-strict) mode: padding is required,
//! `\r` and `\n` anywhere are skipped, any other whitespace is an error, and non-zero
//! trailing bits in the last quantum are accepted. The engines below reproduce that.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::SecretData;

const GO_DECODE_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_allow_trailing_bits(true)
    .with_decode_padding_mode(DecodePaddingMode::RequireCanonical);

const GO_STD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, GO_DECODE_CONFIG);
const GO_URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, GO_DECODE_CONFIG);

/// `decodingStrategy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecodingStrategy {
    /// Values are used as fetched (also the meaning of an omitted field).
    #[default]
    None,
    /// Standard alphabet with padding.
    Base64,
    /// URL alphabet with padding.
    Base64Url,
    /// Standard, else URL, else the raw value.
    Auto,
}

impl DecodingStrategy {
    /// Parses the API value (`""` means omitted, i.e. `None`).
    pub fn parse(value: &str) -> Result<Self, DecodeError> {
        match value {
            "" | "None" => Ok(Self::None),
            "Base64" => Ok(Self::Base64),
            "Base64URL" => Ok(Self::Base64Url),
            "Auto" => Ok(Self::Auto),
            other => Err(DecodeError::Unsupported(other.to_owned())),
        }
    }

    /// The API spelling, used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Base64 => "Base64",
            Self::Base64Url => "Base64URL",
            Self::Auto => "Auto",
        }
    }
}

/// Decoding failures. They never include the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a strategy ESO knows.
    #[error("decoding strategy {0} is not supported: use one of None, Base64, Base64URL, Auto")]
    Unsupported(String),
    /// The value is not valid for the chosen alphabet.
    #[error(
        "illegal base64 data for decodingStrategy {strategy} ({alphabet} alphabet, padding required); use decodingStrategy Auto or None if the value is not encoded"
    )]
    Invalid {
        /// `Base64` or `Base64URL`.
        strategy: &'static str,
        /// `standard` or `URL-safe`.
        alphabet: &'static str,
    },
    /// A value in a map failed to decode.
    #[error("failure decoding key {key}: {source}")]
    Key {
        /// The map key (a name, not a value).
        key: String,
        /// The underlying failure.
        #[source]
        source: Box<DecodeError>,
    },
}

fn decode_go(engine: &GeneralPurpose, input: &[u8]) -> Option<Vec<u8>> {
    // Go's decoder skips CR and LF wherever they occur, including inside padding.
    let cleaned: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    engine.decode(cleaned).ok()
}

/// ESO's `Decode`.
pub fn decode(strategy: DecodingStrategy, input: &[u8]) -> Result<Vec<u8>, DecodeError> {
    match strategy {
        DecodingStrategy::None => Ok(input.to_vec()),
        DecodingStrategy::Base64 => decode_go(&GO_STD, input).ok_or(DecodeError::Invalid {
            strategy: "Base64",
            alphabet: "standard",
        }),
        DecodingStrategy::Base64Url => decode_go(&GO_URL, input).ok_or(DecodeError::Invalid {
            strategy: "Base64URL",
            alphabet: "URL-safe",
        }),
        DecodingStrategy::Auto => Ok(decode_go(&GO_STD, input)
            .or_else(|| decode_go(&GO_URL, input))
            .unwrap_or_else(|| input.to_vec())),
    }
}

/// ESO's `DecodeMap`: decodes every value, naming the first key that fails.
pub fn decode_map(strategy: DecodingStrategy, data: SecretData) -> Result<SecretData, DecodeError> {
    if strategy == DecodingStrategy::None {
        return Ok(data);
    }
    data.into_iter()
        .map(|(k, v)| match decode(strategy, &v) {
            Ok(decoded) => Ok((k, decoded)),
            Err(e) => Err(DecodeError::Key {
                key: k,
                source: Box::new(e),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_requires_padding() {
        assert_eq!(
            decode(DecodingStrategy::Base64, b"YmFy").expect("ok"),
            b"bar"
        );
        assert_eq!(decode(DecodingStrategy::Base64, b"YQ==").expect("ok"), b"a");
        assert!(decode(DecodingStrategy::Base64, b"YQ").is_err());
        assert!(decode(DecodingStrategy::Base64, b"YQ=").is_err());
        assert_eq!(decode(DecodingStrategy::Base64, b"").expect("ok"), b"");
    }

    #[test]
    fn newlines_are_skipped_other_whitespace_is_not() {
        assert_eq!(
            decode(DecodingStrategy::Base64, b"Ym\r\nFy\n").expect("ok"),
            b"bar"
        );
        assert_eq!(
            decode(DecodingStrategy::Base64, b"YQ=\n=").expect("ok"),
            b"a"
        );
        assert!(decode(DecodingStrategy::Base64, b"Ym Fy").is_err());
        assert!(decode(DecodingStrategy::Base64, b"Ym\tFy").is_err());
    }

    #[test]
    fn trailing_bits_are_tolerated_like_go_non_strict() {
        // "YR==": the low 4 bits of 'R' are non-zero; Go's non-strict decoder ignores them.
        assert_eq!(decode(DecodingStrategy::Base64, b"YR==").expect("ok"), b"a");
    }

    #[test]
    fn alphabets_are_distinct() {
        // 0xfb 0xff encodes as "+/8=" (std) and "-_8=" (URL).
        assert_eq!(
            decode(DecodingStrategy::Base64, b"+/8=").expect("ok"),
            [0xfb, 0xff]
        );
        assert!(decode(DecodingStrategy::Base64, b"-_8=").is_err());
        assert_eq!(
            decode(DecodingStrategy::Base64Url, b"-_8=").expect("ok"),
            [0xfb, 0xff]
        );
        assert!(decode(DecodingStrategy::Base64Url, b"+/8=").is_err());
        assert!(decode(DecodingStrategy::Base64Url, b"-_8").is_err());
    }

    #[test]
    fn auto_falls_back_to_url_then_raw() {
        assert_eq!(decode(DecodingStrategy::Auto, b"YmFy").expect("ok"), b"bar");
        assert_eq!(
            decode(DecodingStrategy::Auto, b"-_8=").expect("ok"),
            [0xfb, 0xff]
        );
        assert_eq!(
            decode(DecodingStrategy::Auto, b"not base64!").expect("ok"),
            b"not base64!"
        );
        // "abc" is unpadded, so it is kept verbatim rather than decoded.
        assert_eq!(decode(DecodingStrategy::Auto, b"abc").expect("ok"), b"abc");
    }

    #[test]
    fn map_errors_name_the_key_not_the_value() {
        let data = SecretData::from([
            ("good".to_owned(), b"YmFy".to_vec()),
            ("bad".to_owned(), b"s3cr3t!".to_vec()),
        ]);
        let err = decode_map(DecodingStrategy::Base64, data).expect_err("bad value");
        let text = err.to_string();
        assert!(text.starts_with("failure decoding key bad:"), "{text}");
        assert!(!text.contains("s3cr3t"));
    }

    #[test]
    fn parse_values() {
        assert_eq!(
            DecodingStrategy::parse("").expect("ok"),
            DecodingStrategy::None
        );
        assert_eq!(
            DecodingStrategy::parse("Base64URL").expect("ok"),
            DecodingStrategy::Base64Url
        );
        assert!(DecodingStrategy::parse("base64").is_err());
    }
}
