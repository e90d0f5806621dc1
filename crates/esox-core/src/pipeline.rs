//! The per-source processing ESO applies to fetched data before it is merged into the
//! target (`externalsecret_controller_secret.go`), with ESO's error wrapping:
//!
//! - `dataFrom.extract` / `dataFrom.find`: rewrite, or key conversion when there is no
//!   rewrite; key validation; decoding; the null-byte check;
//! - `dataFrom.sourceRef.generatorRef`: rewrite and key validation only;
//! - `data[]`: decoding and the null-byte check of one value.

use crate::SecretData;
use crate::decoding::{self, DecodeError, DecodingStrategy};
use crate::keys::{self, ConversionStrategy, KeyError, NullBytePolicy};
use crate::rewrite::{self, KeyTemplate, Rewrite, RewriteError};

/// Failures of the processing steps; none carries a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// A rewrite failed.
    #[error("error applying rewrite to keys: {0}")]
    Rewrite(#[source] RewriteError),
    /// Key conversion collided.
    #[error("error applying conversion strategy {strategy:?} to keys: {source}")]
    Convert {
        /// The strategy in effect.
        strategy: ConversionStrategy,
        /// The collision.
        #[source]
        source: KeyError,
    },
    /// A key is not valid for a Secret (the message carries ESO's TIP).
    #[error(transparent)]
    InvalidKeys(KeyError),
    /// A value did not decode.
    #[error("error applying decoding strategy {} to data: {source}", .strategy.as_str())]
    Decode {
        /// The strategy in effect.
        strategy: DecodingStrategy,
        /// What failed.
        #[source]
        source: DecodeError,
    },
    /// A value has NUL bytes under `nullBytePolicy: Fail`.
    #[error(transparent)]
    NullBytes(KeyError),
}

/// Options of a `dataFrom.extract` or `dataFrom.find` entry.
#[derive(Debug, Clone, Copy)]
pub struct MapOptions<'a> {
    /// `dataFrom[].rewrite`.
    pub rewrites: &'a [Rewrite],
    /// `conversionStrategy` (used only without rewrites).
    pub conversion: ConversionStrategy,
    /// `decodingStrategy`.
    pub decoding: DecodingStrategy,
    /// `nullBytePolicy`.
    pub null_bytes: NullBytePolicy,
}

/// Processes what `GetSecretMap` / `GetAllSecrets` returned.
pub fn process_provider_map(
    data: SecretData,
    options: MapOptions<'_>,
    templates: &dyn KeyTemplate,
) -> Result<SecretData, PipelineError> {
    let mut data =
        rewrite::rewrite_map(options.rewrites, data, templates).map_err(PipelineError::Rewrite)?;
    if options.rewrites.is_empty() {
        data = keys::convert_keys(options.conversion, data).map_err(|source| {
            PipelineError::Convert {
                strategy: options.conversion,
                source,
            }
        })?;
    }
    keys::validate_keys(&mut data).map_err(PipelineError::InvalidKeys)?;
    let data =
        decoding::decode_map(options.decoding, data).map_err(|source| PipelineError::Decode {
            strategy: options.decoding,
            source,
        })?;
    keys::check_null_bytes_map(options.null_bytes, &data).map_err(PipelineError::NullBytes)?;
    Ok(data)
}

/// Processes what a generator produced: rewrite, then key validation.
pub fn process_generated_map(
    data: SecretData,
    rewrites: &[Rewrite],
    templates: &dyn KeyTemplate,
) -> Result<SecretData, PipelineError> {
    let mut data =
        rewrite::rewrite_map(rewrites, data, templates).map_err(PipelineError::Rewrite)?;
    keys::validate_keys(&mut data).map_err(PipelineError::InvalidKeys)?;
    Ok(data)
}

/// Processes one `data[]` value fetched for `secret_key`.
pub fn process_value(
    secret_key: &str,
    value: Vec<u8>,
    decoding: DecodingStrategy,
    null_bytes: NullBytePolicy,
) -> Result<Vec<u8>, PipelineError> {
    let value = if decoding == DecodingStrategy::None {
        value
    } else {
        decoding::decode(decoding, &value).map_err(|source| PipelineError::Decode {
            strategy: decoding,
            source,
        })?
    };
    keys::check_null_bytes(null_bytes, secret_key, &value).map_err(PipelineError::NullBytes)?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewrite::NoTemplateEngine;

    fn data(pairs: &[(&str, &[u8])]) -> SecretData {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect()
    }

    fn options(rewrites: &[Rewrite]) -> MapOptions<'_> {
        MapOptions {
            rewrites,
            conversion: ConversionStrategy::Default,
            decoding: DecodingStrategy::None,
            null_bytes: NullBytePolicy::Ignore,
        }
    }

    #[test]
    fn conversion_only_without_rewrites() {
        let out = process_provider_map(data(&[("a/b", b"1")]), options(&[]), &NoTemplateEngine)
            .expect("ok");
        assert!(out.contains_key("a_b"));
        // With a rewrite, keys are not converted, so an invalid key fails validation.
        let rw = [Rewrite::Regexp {
            source: "x".into(),
            target: "y".into(),
        }];
        let err = process_provider_map(data(&[("a/b", b"1")]), options(&rw), &NoTemplateEngine)
            .expect_err("invalid");
        assert!(err.to_string().starts_with(
            "invalid secret keys (TIP: use rewrite or conversionStrategy to change keys)"
        ));
    }

    #[test]
    fn empty_keys_are_dropped_and_values_decoded() {
        let opts = MapOptions {
            decoding: DecodingStrategy::Base64,
            ..options(&[])
        };
        let out =
            process_provider_map(data(&[("", b"x"), ("k", b"YmFy")]), opts, &NoTemplateEngine)
                .expect("ok");
        assert_eq!(out, data(&[("k", b"bar")]));
        let err =
            process_provider_map(data(&[("k", b"!!")]), opts, &NoTemplateEngine).expect_err("bad");
        assert!(err.to_string().starts_with(
            "error applying decoding strategy Base64 to data: failure decoding key k:"
        ));
    }

    #[test]
    fn errors_are_wrapped_like_eso() {
        let err = process_provider_map(
            data(&[("a/b", b"1"), ("a:b", b"2")]),
            options(&[]),
            &NoTemplateEngine,
        )
        .expect_err("collision");
        assert_eq!(
            err.to_string(),
            "error applying conversion strategy Default to keys: secret name collision during conversion: a_b"
        );
        let rw = [Rewrite::Regexp {
            source: "(".into(),
            target: String::new(),
        }];
        let err = process_generated_map(data(&[("a", b"1")]), &rw, &NoTemplateEngine)
            .expect_err("bad regexp");
        assert!(
            err.to_string()
                .starts_with("error applying rewrite to keys: failed rewrite operation[0]:")
        );
        let opts = MapOptions {
            null_bytes: NullBytePolicy::Fail,
            ..options(&[])
        };
        let err =
            process_provider_map(data(&[("k", b"\0")]), opts, &NoTemplateEngine).expect_err("nul");
        assert!(matches!(err, PipelineError::NullBytes(_)));
    }

    #[test]
    fn single_values() {
        assert_eq!(
            process_value(
                "k",
                b"YmFy".to_vec(),
                DecodingStrategy::Auto,
                NullBytePolicy::Fail
            )
            .expect("ok"),
            b"bar"
        );
        assert!(
            process_value(
                "k",
                b"AA==".to_vec(),
                DecodingStrategy::Base64,
                NullBytePolicy::Fail
            )
            .is_err()
        );
        assert_eq!(
            process_value(
                "k",
                b"AA==".to_vec(),
                DecodingStrategy::Base64,
                NullBytePolicy::Ignore
            )
            .expect("ok"),
            vec![0]
        );
    }
}
