//! ESO's `MFA` generator: an RFC 6238 TOTP code from a base32 seed.
//!
//! The seed is read from a Secret by the caller; this module is the pure computation, so it
//! can be checked against the RFC's test vectors at fixed times.

use esox_api::generators::MfaSpec;
use esox_core::SecretData;
use hmac::{Hmac, Mac};

use crate::GeneratorError;

const DEFAULT_LENGTH: i64 = 6;
const DEFAULT_PERIOD: i64 = 30;
/// ESO pads the code to any length; beyond this the value is only leading zeros, and a huge
/// length would only make a huge string.
const MAX_LENGTH: i64 = 100;

/// The code (`token`) and the seconds it stays valid (`timeLeft`) for `spec` at `now`
/// (Unix seconds; `spec.when` replaces it when set).
pub fn mfa(spec: &MfaSpec, seed: &[u8], now: i64) -> Result<SecretData, GeneratorError> {
    // ESO applies length and timePeriod only when positive.
    let length = if spec.length > 0 {
        spec.length
    } else {
        DEFAULT_LENGTH
    };
    if length > MAX_LENGTH {
        return Err(GeneratorError::Invalid(format!(
            "spec.length {length} is too long: use at most {MAX_LENGTH} digits (6 or 8 are usual)"
        )));
    }
    let period = if spec.time_period > 0 {
        spec.time_period
    } else {
        DEFAULT_PERIOD
    };
    let when = spec.when.as_ref().map_or(now, |t| t.0.as_second());
    let key = decode_seed(seed)?;
    let counter = when.div_euclid(period) as u64;
    let value = hotp_value(&spec.algorithm, &key, counter)?;
    // Go's `%` truncates, so a time before 1970 gives more than a period, as in ESO.
    let time_left = period - when % period;
    let token = code_digits(value, length);
    Ok(SecretData::from([
        ("token".to_owned(), token.into_bytes()),
        ("timeLeft".to_owned(), time_left.to_string().into_bytes()),
    ]))
}

/// The 31-bit dynamic truncation of RFC 4226 section 5.3 for `counter`.
fn hotp_value(algorithm: &str, key: &[u8], counter: u64) -> Result<u32, GeneratorError> {
    let message = counter.to_be_bytes();
    let sum = match algorithm {
        "" | "sha1" => mac::<Hmac<sha1::Sha1>>(key, &message),
        "sha256" => mac::<Hmac<sha2::Sha256>>(key, &message),
        "sha384" => mac::<Hmac<sha2::Sha384>>(key, &message),
        "sha512" => mac::<Hmac<sha2::Sha512>>(key, &message),
        "sha512_256" => mac::<Hmac<sha2::Sha512_256>>(key, &message),
        other => {
            return Err(GeneratorError::Invalid(format!(
                "spec.algorithm {other:?} is not a supported hash: use sha1, sha256 or sha512"
            )));
        }
    };
    let offset = usize::from(sum.last().copied().unwrap_or(0) & 0x0f);
    let bytes: [u8; 4] = sum
        .get(offset..offset + 4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| GeneratorError::Invalid("HMAC output too short".to_owned()))?;
    Ok(u32::from_be_bytes(bytes) & 0x7fff_ffff)
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail; an empty MAC is refused above.
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// `value mod 10^length`, zero-padded to `length` digits. Past 9 digits the modulus exceeds
/// any 31-bit value (and in Go overflows to the same effect), so the value is kept whole.
fn code_digits(value: u32, length: i64) -> String {
    let width = usize::try_from(length).unwrap_or(6);
    let reduced = match u32::try_from(length) {
        Ok(l) if l < 10 => value % 10u32.pow(l),
        _ => value,
    };
    format!("{reduced:0width$}")
}

/// The seed as ESO reads it: spaces removed, upper-cased, base32 without padding (Go's
/// decoder skips line breaks). The error never repeats the seed.
fn decode_seed(seed: &[u8]) -> Result<Vec<u8>, GeneratorError> {
    let symbols: Vec<u8> = seed
        .iter()
        .filter(|b| !matches!(b, b' ' | b'\r' | b'\n'))
        .map(u8::to_ascii_uppercase)
        .collect();
    let bad = || {
        GeneratorError::Invalid(
            "the seed in spec.secret is not base32 without padding (A-Z, 2-7): check the Secret's value"
                .to_owned(),
        )
    };
    if matches!(symbols.len() % 8, 1 | 3 | 6) {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(symbols.len() * 5 / 8);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for s in symbols {
        let v = match s {
            b'A'..=b'Z' => s - b'A',
            b'2'..=b'7' => s - b'2' + 26,
            _ => return Err(bad()),
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base32;

    fn spec(algorithm: &str, length: i64) -> MfaSpec {
        MfaSpec {
            algorithm: algorithm.to_owned(),
            length,
            ..MfaSpec::default()
        }
    }

    fn token(out: &SecretData) -> String {
        String::from_utf8(out["token"].clone()).unwrap()
    }

    /// RFC 6238 appendix B: the seeds are the ASCII digits repeated to the hash's size, the
    /// period 30 s, 8 digits.
    #[test]
    fn rfc6238_appendix_b_vectors() {
        let seed20 = b"12345678901234567890".to_vec();
        let seed32 = b"12345678901234567890123456789012".to_vec();
        let seed64 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let table: [(i64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (time, sha1, sha256, sha512) in table {
            for (algo, seed, want) in [
                ("sha1", &seed20, sha1),
                ("sha256", &seed32, sha256),
                ("sha512", &seed64, sha512),
            ] {
                let b32 = base32::encode(seed).trim_end_matches('=').to_owned();
                let out = mfa(&spec(algo, 8), b32.as_bytes(), time).unwrap();
                assert_eq!(token(&out), want, "{algo} at {time}");
            }
        }
    }

    #[test]
    fn defaults_time_left_and_when() {
        let seed = base32::encode(b"12345678901234567890");
        let seed = seed.trim_end_matches('=');
        // 6 digits are the low 6 of the 8-digit RFC value; unset algorithm is SHA-1.
        let out = mfa(&MfaSpec::default(), seed.as_bytes(), 59).unwrap();
        assert_eq!(token(&out), "287082");
        assert_eq!(out["timeLeft"], b"1");
        let out = mfa(&MfaSpec::default(), seed.as_bytes(), 61).unwrap();
        assert_eq!(out["timeLeft"], b"29");
        // `when` wins over now; spaces, lower case and a trailing newline are accepted.
        let mut pinned = spec("", 8);
        pinned.when = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2033-05-18T03:33:20Z".parse().unwrap(),
        ));
        let messy = format!("{} \n", seed.to_lowercase());
        let out = mfa(&pinned, messy.as_bytes(), 59).unwrap();
        assert_eq!(token(&out), "69279037");
        // A longer period counts fewer steps: at t=59 with 60 s it is step 0, not 1.
        let mut minute = spec("sha1", 8);
        minute.time_period = 60;
        let at_59 = mfa(&minute, seed.as_bytes(), 59).unwrap();
        let at_0 = mfa(&spec("sha1", 8), seed.as_bytes(), 0).unwrap();
        assert_eq!(token(&at_59), token(&at_0));
        assert_eq!(at_59["timeLeft"], b"1");
    }

    #[test]
    fn long_codes_keep_the_whole_value_zero_padded() {
        let seed = base32::encode(b"12345678901234567890");
        let out = mfa(&spec("sha1", 12), seed.trim_end_matches('=').as_bytes(), 59).unwrap();
        // 0x5ef7...: the full 31-bit value at t=59 is 1094287082.
        assert_eq!(token(&out), "001094287082");
        let err = mfa(&spec("sha1", 101), b"AAAA", 0).unwrap_err().to_string();
        assert!(err.contains("spec.length"), "{err}");
    }

    #[test]
    fn bad_seed_and_algorithm_are_named_without_the_seed() {
        let err = mfa(&MfaSpec::default(), b"SECRET!!", 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spec.secret") && !err.contains("SECRET!!"),
            "{err}"
        );
        // Padding is refused, as Go's NoPadding decoder does.
        assert!(mfa(&MfaSpec::default(), b"MFRGG===", 0).is_err());
        let err = mfa(&spec("md5", 6), b"MFRGG", 0).unwrap_err().to_string();
        assert!(err.contains("spec.algorithm \"md5\""), "{err}");
    }
}
