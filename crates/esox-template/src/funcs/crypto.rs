//! Sprig's crypto helpers that need no key generation: bcrypt, htpasswd,
//! derivePassword (Master Password), encryptAES/decryptAES, randBytes, uuidv4.

use super::{Registry, Ty, int, s};
use crate::gostr;
use crate::value::Value;

type R = Result<Value, String>;

fn bcrypt_hash(pw: &[u8]) -> String {
    if pw.len() > 72 {
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
            .into();
    }
    // Go's x/crypto/bcrypt writes the $2a$ prefix at cost 10.
    match bcrypt::hash_with_result(pw, 10) {
        Ok(h) => h.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

const MP_SEED: &str = "com.lyndir.masterpassword";

fn mp_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn mp_chars(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// The Master Password algorithm as Sprig implements it.
fn derive_password(counter: u32, kind: &str, password: &[u8], user: &[u8], site: &[u8]) -> String {
    use hmac::Mac;
    let Some(templates) = mp_templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = MP_SEED.as_bytes().to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user);
    let mut key = [0u8; 64];
    let params = match scrypt::Params::new(15, 8, 2, 64) {
        Ok(p) => p,
        Err(e) => return format!("failed to derive password: {e}"),
    };
    if let Err(e) = scrypt::scrypt(password, &salt, &params, &mut key) {
        return format!("failed to derive password: {e}");
    }
    let mut msg = MP_SEED.as_bytes().to_vec();
    msg.extend_from_slice(&(site.len() as u32).to_be_bytes());
    msg.extend_from_slice(site);
    msg.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
        return "failed to derive password: bad key".into();
    };
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let template = templates[seed[0] as usize % templates.len()].as_bytes();
    template
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let chars = mp_chars(*c);
            chars[seed[i + 1] as usize % chars.len()] as char
        })
        .collect()
}

fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let pw = gostr::to_bytes(password);
    let n = pw.len().min(32);
    key[..n].copy_from_slice(&pw[..n]);
    key
}

fn encrypt_aes(password: &str, plaintext: &str) -> Result<String, String> {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
    if plaintext.is_empty() {
        return Ok(String::new());
    }
    let mut content = gostr::to_bytes(plaintext).into_owned();
    let pad = 16 - content.len() % 16;
    content.extend(std::iter::repeat_n(pad as u8, pad));
    let iv = super::strings::random_bytes(16)?;
    let n = content.len();
    let enc = cbc::Encryptor::<aes::Aes256>::new_from_slices(&aes_key(password), &iv)
        .map_err(|e| e.to_string())?;
    enc.encrypt_padded_mut::<NoPadding>(&mut content, n)
        .map_err(|e| e.to_string())?;
    let mut out = iv;
    out.extend_from_slice(&content);
    Ok(super::encoding::b64_encode(&out))
}

fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, String> {
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let crypt = super::encoding::b64_decode(&gostr::to_bytes(crypt64))
        .map_err(|p| format!("illegal base64 data at input byte {p}"))?;
    if crypt.len() < 16 {
        return Err("runtime error: slice bounds out of range".into());
    }
    let (iv, body) = crypt.split_at(16);
    if body.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let mut buf = body.to_vec();
    let dec = cbc::Decryptor::<aes::Aes256>::new_from_slices(&aes_key(password), iv)
        .map_err(|e| e.to_string())?;
    dec.decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|e| e.to_string())?;
    // Sprig trusts the last byte as the padding length without checking it.
    let Some(last) = buf.last().copied() else {
        return Err("runtime error: index out of range [-1]".into());
    };
    let keep = buf
        .len()
        .checked_sub(last as usize)
        .ok_or("runtime error: slice bounds out of range")?;
    Ok(gostr::from_bytes(&buf[..keep]))
}

fn uuidv4() -> R {
    let mut b = super::strings::random_bytes(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = super::strings::hex(&b);
    Ok(Value::str(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )))
}

pub fn register(r: &mut Registry) {
    use Ty::*;
    r.add("bcrypt", &[Str], None, |a| {
        Ok(Value::str(bcrypt_hash(&gostr::to_bytes(s(a, 0)))))
    });
    r.add("htpasswd", &[Str, Str, HashAlgorithm], None, |a| {
        let user = s(a, 0);
        if user.contains(':') {
            return Ok(Value::str(format!("invalid username: {user}")));
        }
        let pw = gostr::to_bytes(s(a, 1));
        // Sprig: "sha" is the old `{SHA}` scheme (base64 of SHA-1), anything else bcrypt.
        if s(a, 2) == "sha" {
            use base64::Engine as _;
            use sha1::Digest as _;
            let sum = sha1::Sha1::digest(&pw);
            let b64 = base64::engine::general_purpose::STANDARD.encode(sum);
            return Ok(Value::str(format!("{user}:{{SHA}}{b64}")));
        }
        Ok(Value::str(format!("{user}:{}", bcrypt_hash(&pw))))
    });
    r.add("derivePassword", &[U32, Str, Str, Str, Str], None, |a| {
        let counter = u32::try_from(int(a, 0)).map_err(|_| "counter out of range".to_string())?;
        Ok(Value::str(derive_password(
            counter,
            s(a, 1),
            &gostr::to_bytes(s(a, 2)),
            &gostr::to_bytes(s(a, 3)),
            &gostr::to_bytes(s(a, 4)),
        )))
    });
    r.add("encryptAES", &[Str, Str], None, |a| {
        encrypt_aes(s(a, 0), s(a, 1)).map(Value::str)
    });
    r.add("decryptAES", &[Str, Str], None, |a| {
        decrypt_aes(s(a, 0), s(a, 1)).map(Value::str)
    });
    r.add("randBytes", &[Int], None, |a| {
        let n = usize::try_from(int(a, 0))
            .map_err(|_| "runtime error: makeslice: len out of range".to_string())?;
        if n > crate::exec::MAX_OUTPUT {
            return Err("randBytes: count exceeds the output limit".into());
        }
        Ok(Value::str(super::encoding::b64_encode(
            &super::strings::random_bytes(n)?,
        )))
    });
    r.add("uuidv4", &[], None, |_| uuidv4());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trip_and_go_layout() {
        let ct =
            encrypt_aes("secret-key", "hello world, this is longer than a block").expect("encrypt");
        let raw = super::super::encoding::b64_decode(ct.as_bytes()).expect("b64");
        assert_eq!(raw.len(), 16 + 48, "IV plus padded blocks");
        assert_eq!(
            decrypt_aes("secret-key", &ct).expect("decrypt"),
            "hello world, this is longer than a block"
        );
        assert_ne!(
            decrypt_aes("other-key", &ct).ok().as_deref(),
            Some("hello world, this is longer than a block")
        );
        assert_eq!(encrypt_aes("k", "").expect("empty"), "");
    }

    #[test]
    fn bcrypt_hash_verifies_and_uses_2a() {
        let h = bcrypt_hash(b"hunter2");
        assert!(h.starts_with("$2a$10$"), "{h}");
        assert!(bcrypt::verify("hunter2", &h).expect("verify"));
        assert!(!bcrypt::verify("hunter3", &h).expect("verify"));
    }

    #[test]
    fn uuid_has_version_and_variant() {
        let Value::Str(u) = uuidv4().expect("uuid") else {
            panic!("not a string")
        };
        let b = u.as_bytes();
        assert_eq!(u.len(), 36);
        assert_eq!(b[14], b'4');
        assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'));
    }
}
