//! Go strings are byte strings; Rust strings are UTF-8. Bytes that are not
//! valid UTF-8 (a base64-decoded keystore, an RSA ciphertext) are carried
//! inside Rust strings as characters U+10FF00 + byte (a "surrogate escape"),
//! and turned back into the original bytes on output and wherever Go works
//! on bytes (`len`, `b64enc`, hashes, `%x`, slicing).

use std::borrow::Cow;

const BASE: u32 = 0x10FF00;

/// The escape character for a raw byte.
pub fn escape_char(b: u8) -> char {
    char::from_u32(BASE + b as u32).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// The raw byte an escape character stands for.
pub fn escaped_byte(c: char) -> Option<u8> {
    let u = c as u32;
    if (BASE..=BASE + 0xFF).contains(&u) {
        Some((u - BASE) as u8)
    } else {
        None
    }
}

/// Go string bytes to the internal representation (lossless).
pub fn from_bytes(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                push_valid(&mut out, s);
                return out;
            }
            Err(e) => {
                let (good, rest) = b.split_at(e.valid_up_to());
                push_valid(&mut out, std::str::from_utf8(good).unwrap_or_default());
                let bad = e.error_len().unwrap_or(rest.len()).max(1);
                for x in &rest[..bad] {
                    out.push(escape_char(*x));
                }
                b = &rest[bad..];
            }
        }
    }
}

fn push_valid(out: &mut String, s: &str) {
    for c in s.chars() {
        // A genuine character of the escape range is escaped byte by byte,
        // so that the mapping stays reversible.
        if escaped_byte(c).is_some() {
            let mut buf = [0u8; 4];
            for x in c.encode_utf8(&mut buf).bytes() {
                out.push(escape_char(x));
            }
        } else {
            out.push(c);
        }
    }
}

/// Whether `s` carries escaped raw bytes.
pub fn has_escapes(s: &str) -> bool {
    // Every escape character is encoded as F4 8F BC..BF xx.
    s.as_bytes()
        .windows(2)
        .any(|w| w[0] == 0xF4 && w[1] == 0x8F)
        && s.chars().any(|c| escaped_byte(c).is_some())
}

/// The Go bytes of an internal string.
pub fn to_bytes(s: &str) -> Cow<'_, [u8]> {
    if !has_escapes(s) {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match escaped_byte(c) {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Cow::Owned(out)
}

/// Go's `len` of a string: its byte count.
pub fn byte_len(s: &str) -> usize {
    if has_escapes(s) {
        to_bytes(s).len()
    } else {
        s.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_arbitrary_bytes() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            b"plain".to_vec(),
            vec![0xff, 0x00, 0x80, b'a'],
            "héllo".as_bytes().to_vec(),
            "\u{10FF41}".as_bytes().to_vec(),
            vec![0xF4, 0x8F, 0xBD],
            (0u8..=255).collect(),
        ];
        for c in cases {
            let s = from_bytes(&c);
            assert_eq!(to_bytes(&s).as_ref(), c.as_slice());
            assert_eq!(byte_len(&s), c.len());
        }
    }

    #[test]
    fn valid_utf8_is_kept_as_is() {
        assert_eq!(from_bytes("héllo wörld".as_bytes()), "héllo wörld");
        assert!(!has_escapes("héllo"));
    }
}
