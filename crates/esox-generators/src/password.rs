//! The Password generator, with the semantics of ESO's generator on top of
//! `sethvargo/go-password`: a fixed number of digits and symbols, letters for the rest, each
//! character inserted at a random position of the password built so far.

use base64::Engine as _;
use esox_api::generators::{PasswordEncoding, PasswordSpec};
use esox_core::SecretData;
use rand::Rng;
use rand::rngs::OsRng;

use crate::GeneratorError;

const DEFAULT_LENGTH: i64 = 24;
/// go-password's (and ESO's) default symbol set.
pub const DEFAULT_SYMBOL_CHARACTERS: &str = "~!@#$%^&*()_+`-={}|[]\\:\"<>?,./";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";

/// go-password's error texts, which ESO passes through unchanged.
const ERR_EXCEEDS_TOTAL: &str = "number of digits and symbols must be less than total length";
const ERR_LETTERS: &str = "number of letters exceeds available letters and repeats are not allowed";
const ERR_DIGITS: &str = "number of digits exceeds available digits and repeats are not allowed";
const ERR_SYMBOLS: &str = "number of symbols exceeds available symbols and repeats are not allowed";
const ERR_SECRET_KEYS: &str = "secretKeys must be non-empty and unique";

/// The effective settings after ESO's defaulting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordConfig {
    pub length: usize,
    pub digits: usize,
    pub symbols: usize,
    pub symbol_characters: Vec<char>,
    pub no_upper: bool,
    pub allow_repeat: bool,
}

impl PasswordConfig {
    /// ESO's defaulting: a length of zero or less means 24; digits and symbols default to
    /// a quarter of the length, rounded down; an empty symbol set means the default one.
    pub fn from_spec(spec: &PasswordSpec) -> Result<Self, GeneratorError> {
        let length = if spec.length > 0 {
            spec.length
        } else {
            DEFAULT_LENGTH
        };
        let quarter = length / 4;
        let count = |value: Option<i64>, field: &str| -> Result<usize, GeneratorError> {
            let v = value.unwrap_or(quarter);
            usize::try_from(v).map_err(|_| {
                GeneratorError::Invalid(format!("spec.{field} is {v}: it must be zero or more"))
            })
        };
        let symbols_text = match spec.symbol_characters.as_deref() {
            None | Some("") => DEFAULT_SYMBOL_CHARACTERS,
            Some(s) => s,
        };
        let mut symbol_characters: Vec<char> = symbols_text.chars().collect();
        // A repeated symbol would only skew the draw; go-password's set is a plain string.
        let mut seen = std::collections::BTreeSet::new();
        symbol_characters.retain(|c| seen.insert(*c));
        Ok(Self {
            length: usize::try_from(length).unwrap_or(usize::MAX),
            digits: count(spec.digits, "digits")?,
            symbols: count(spec.symbols, "symbols")?,
            symbol_characters,
            no_upper: spec.no_upper,
            allow_repeat: spec.allow_repeat,
        })
    }

    /// One password.
    pub fn generate(&self) -> Result<String, GeneratorError> {
        let invalid = |m: &str| GeneratorError::Invalid(m.to_owned());
        let letters: Vec<char> = if self.no_upper {
            LOWER.chars().collect()
        } else {
            LOWER.chars().chain(UPPER.chars()).collect()
        };
        let digits: Vec<char> = DIGITS.chars().collect();
        let letter_count = self
            .length
            .checked_sub(self.digits)
            .and_then(|rest| rest.checked_sub(self.symbols))
            .ok_or_else(|| invalid(ERR_EXCEEDS_TOTAL))?;
        if !self.allow_repeat {
            if letter_count > letters.len() {
                return Err(invalid(ERR_LETTERS));
            }
            if self.digits > digits.len() {
                return Err(invalid(ERR_DIGITS));
            }
            if self.symbols > self.symbol_characters.len() {
                return Err(invalid(ERR_SYMBOLS));
            }
        }
        let mut out: Vec<char> = Vec::with_capacity(self.length);
        for (set, count, err) in [
            (&letters, letter_count, ERR_LETTERS),
            (&digits, self.digits, ERR_DIGITS),
            (&self.symbol_characters, self.symbols, ERR_SYMBOLS),
        ] {
            for _ in 0..count {
                let c = if self.allow_repeat {
                    set[OsRng.gen_range(0..set.len())]
                } else {
                    // Drawing from what is still unused is go-password's retry-until-new,
                    // without looping forever when a custom symbol set overlaps the letters.
                    let unused: Vec<char> =
                        set.iter().copied().filter(|c| !out.contains(c)).collect();
                    if unused.is_empty() {
                        return Err(invalid(err));
                    }
                    unused[OsRng.gen_range(0..unused.len())]
                };
                let at = OsRng.gen_range(0..=out.len());
                out.insert(at, c);
            }
        }
        Ok(out.into_iter().collect())
    }
}

/// Runs the Password generator: one independent password per key of `spec.secretKeys`
/// (`password` when unset), encoded as `spec.encoding` says.
pub fn password(spec: &PasswordSpec) -> Result<SecretData, GeneratorError> {
    let config = PasswordConfig::from_spec(spec)?;
    let keys: Vec<&str> = if spec.secret_keys.is_empty() {
        vec!["password"]
    } else {
        spec.secret_keys.iter().map(String::as_str).collect()
    };
    let mut out = SecretData::new();
    for key in keys {
        if key.is_empty() || out.contains_key(key) {
            return Err(GeneratorError::Invalid(ERR_SECRET_KEYS.to_owned()));
        }
        let value = encode(config.generate()?.as_bytes(), spec.encoding);
        out.insert(key.to_owned(), value);
    }
    Ok(out)
}

fn encode(raw: &[u8], encoding: PasswordEncoding) -> Vec<u8> {
    match encoding {
        PasswordEncoding::Raw => raw.to_vec(),
        PasswordEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .encode(raw)
            .into_bytes(),
        PasswordEncoding::Base64url => base64::engine::general_purpose::URL_SAFE
            .encode(raw)
            .into_bytes(),
        PasswordEncoding::Base32 => crate::base32::encode(raw).into_bytes(),
        PasswordEncoding::Hex => raw
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(f: impl FnOnce(&mut PasswordSpec)) -> PasswordSpec {
        let mut s = PasswordSpec::default();
        f(&mut s);
        s
    }

    fn one(s: &PasswordSpec) -> String {
        String::from_utf8(password(s).unwrap()["password"].clone()).unwrap()
    }

    fn counts(p: &str, symbols: &str) -> (usize, usize, usize, usize) {
        let lower = p.chars().filter(|c| c.is_ascii_lowercase()).count();
        let upper = p.chars().filter(|c| c.is_ascii_uppercase()).count();
        let digits = p.chars().filter(|c| c.is_ascii_digit()).count();
        let syms = p.chars().filter(|c| symbols.contains(*c)).count();
        (lower, upper, digits, syms)
    }

    fn has_repeat(p: &str) -> bool {
        let mut seen = std::collections::BTreeSet::new();
        !p.chars().all(|c| seen.insert(c))
    }

    #[test]
    fn defaults_give_24_chars_with_6_digits_6_symbols_no_repeats() {
        let mut upper_seen = 0;
        for _ in 0..200 {
            let p = one(&PasswordSpec::default());
            assert_eq!(p.chars().count(), 24, "{p}");
            let (lower, upper, digits, syms) = counts(&p, DEFAULT_SYMBOL_CHARACTERS);
            assert_eq!(digits, 6, "{p}");
            assert_eq!(syms, 6, "{p}");
            assert_eq!(lower + upper, 12, "{p}");
            assert!(!has_repeat(&p), "{p}");
            upper_seen += upper;
        }
        assert!(upper_seen > 0);
    }

    #[test]
    fn quarter_is_rounded_down() {
        let s = spec(|s| s.length = 10);
        let p = one(&s);
        let (_, _, digits, syms) = counts(&p, DEFAULT_SYMBOL_CHARACTERS);
        assert_eq!((p.len(), digits, syms), (10, 2, 2));
        let config = PasswordConfig::from_spec(&spec(|s| s.length = 7)).unwrap();
        assert_eq!((config.digits, config.symbols), (1, 1));
    }

    #[test]
    fn zero_or_negative_length_means_default() {
        assert_eq!(one(&spec(|s| s.length = 0)).len(), 24);
        assert_eq!(one(&spec(|s| s.length = -3)).len(), 24);
    }

    #[test]
    fn explicit_counts_custom_symbols_and_no_upper() {
        let s = spec(|s| {
            s.length = 30;
            s.digits = Some(3);
            s.symbols = Some(4);
            s.symbol_characters = Some("-_$@".into());
            s.no_upper = true;
            s.allow_repeat = true;
        });
        for _ in 0..100 {
            let p = one(&s);
            let (lower, upper, digits, syms) = counts(&p, "-_$@");
            assert_eq!((lower, upper, digits, syms), (23, 0, 3, 4), "{p}");
        }
    }

    #[test]
    fn positions_are_shuffled() {
        // Digits and symbols are inserted at random positions, not appended.
        let s = spec(|s| s.allow_repeat = true);
        let first_digit_positions: std::collections::BTreeSet<usize> = (0..100)
            .map(|_| one(&s).find(|c: char| c.is_ascii_digit()).unwrap())
            .collect();
        assert!(first_digit_positions.len() > 3, "{first_digit_positions:?}");
        assert!(first_digit_positions.contains(&0));
    }

    #[test]
    fn allow_repeat_false_uses_each_set_fully_without_repeats() {
        // 52 letters + 10 digits + 4 symbols: every character exactly once.
        let s = spec(|s| {
            s.length = 66;
            s.digits = Some(10);
            s.symbols = Some(4);
            s.symbol_characters = Some("!#%&".into());
        });
        let p = one(&s);
        assert!(!has_repeat(&p), "{p}");
        assert_eq!(p.len(), 66);
    }

    #[test]
    fn allow_repeat_true_can_repeat() {
        let s = spec(|s| {
            s.length = 40;
            s.digits = Some(40);
            s.symbols = Some(0);
            s.allow_repeat = true;
        });
        let p = one(&s);
        assert!(
            p.chars().all(|c| c.is_ascii_digit()) && has_repeat(&p),
            "{p}"
        );
    }

    #[test]
    fn impossible_specs_fail_with_go_password_text() {
        let cases = [
            (
                spec(|s| {
                    s.length = 8;
                    s.digits = Some(5);
                    s.symbols = Some(4)
                }),
                ERR_EXCEEDS_TOTAL,
            ),
            (
                spec(|s| {
                    s.length = 60;
                    s.digits = Some(0);
                    s.symbols = Some(0)
                }),
                ERR_LETTERS,
            ),
            (
                spec(|s| {
                    s.length = 20;
                    s.digits = Some(11);
                    s.symbols = Some(0);
                    s.no_upper = true
                }),
                ERR_DIGITS,
            ),
            (
                spec(|s| {
                    s.length = 8;
                    s.digits = Some(0);
                    s.symbols = Some(3);
                    s.symbol_characters = Some("ab".into())
                }),
                ERR_SYMBOLS,
            ),
            (
                spec(|s| s.secret_keys = vec!["a".into(), "a".into()]),
                ERR_SECRET_KEYS,
            ),
            (
                spec(|s| s.secret_keys = vec![String::new()]),
                ERR_SECRET_KEYS,
            ),
        ];
        for (s, expected) in cases {
            assert_eq!(password(&s).unwrap_err().to_string(), expected, "{s:?}");
        }
        let err = password(&spec(|s| s.digits = Some(-1)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.digits"), "{err}");
        // Digits plus symbols equal to the length is allowed: no letters.
        let p = one(&spec(|s| {
            s.length = 4;
            s.digits = Some(2);
            s.symbols = Some(2)
        }));
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn overlapping_custom_symbols_do_not_hang() {
        // Symbols that are also letters compete for the no-repeat budget.
        let s = spec(|s| {
            s.length = 53;
            s.digits = Some(0);
            s.symbols = Some(1);
            s.symbol_characters = Some("a".into());
        });
        assert_eq!(password(&s).unwrap_err().to_string(), ERR_SYMBOLS);
    }

    #[test]
    fn secret_keys_get_independent_passwords() {
        let s = spec(|s| s.secret_keys = vec!["a".into(), "b".into(), "c".into()]);
        let out = password(&s).unwrap();
        assert_eq!(out.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_ne!(out["a"], out["b"]);
        assert!(out.values().all(|v| v.len() == 24));
    }

    #[test]
    fn encodings_decode_back_to_a_valid_password() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        for encoding in [
            PasswordEncoding::Base64,
            PasswordEncoding::Base64url,
            PasswordEncoding::Base32,
            PasswordEncoding::Hex,
            PasswordEncoding::Raw,
        ] {
            let s = spec(|s| s.encoding = encoding);
            let v = password(&s).unwrap()["password"].clone();
            let text = String::from_utf8(v.clone()).unwrap();
            let raw = match encoding {
                PasswordEncoding::Base64 => STANDARD.decode(&v).unwrap(),
                PasswordEncoding::Base64url => {
                    assert!(!text.contains('+') && !text.contains('/'), "{text}");
                    URL_SAFE.decode(&v).unwrap()
                }
                PasswordEncoding::Base32 => {
                    assert_eq!(text.len(), 40, "{text}");
                    decode_base32_with_coreutils(&text)
                }
                PasswordEncoding::Hex => {
                    assert_eq!(text, text.to_lowercase());
                    (0..text.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
                        .collect()
                }
                PasswordEncoding::Raw => v.clone(),
            };
            let p = String::from_utf8(raw).unwrap();
            let (_, _, digits, syms) = counts(&p, DEFAULT_SYMBOL_CHARACTERS);
            assert_eq!((p.len(), digits, syms), (24, 6, 6), "{encoding:?}: {p}");
        }
    }

    fn decode_base32_with_coreutils(text: &str) -> Vec<u8> {
        use std::io::Write;
        let mut child = std::process::Command::new("base32")
            .arg("-d")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        out.stdout
    }
}
