//! PKCS#12 decoding for ESO's `pkcs12key`, `pkcs12keyPass`, `pkcs12cert`,
//! `pkcs12certPass`: MAC check (SHA-1/SHA-256, RFC 7292 key derivation),
//! PBES2 (PBKDF2 + AES-CBC) and the legacy PKCS#12 PBE schemes (3DES, RC2).
//! Encoding (`pemToPkcs12` and friends) follows go-pkcs12's Modern profile:
//! PBES2 (PBKDF2-HMAC-SHA256, 2048 iterations, AES-256-CBC) for certificate
//! and key bags, an HMAC-SHA-256 MAC, and the leaf's SHA-1 as localKeyId.

use hmac::Mac;

use super::der::{Tlv, children, octets, read, seq, write};
use super::pem::{encode_der, order_chain};
use super::{Registry, Ty, s};
use crate::gostr;
use crate::value::Value;

const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const OID_ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
const OID_KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x01,
];
const OID_SHROUDED_KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02,
];
const OID_CERT_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x03,
];
const OID_X509_CERT: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x16, 0x01];
const OID_PBE_3DES: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x03];
const OID_PBE_RC2_128: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x05];
const OID_PBE_RC2_40: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x06];
const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
const OID_PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const OID_HMAC_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x07];
const OID_HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
const OID_AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
const OID_AES192_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16];
const OID_AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
const OID_SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

type E = String;

fn bad(what: &str) -> E {
    format!("pkcs12: {what}")
}

fn int_of(t: &Tlv<'_>) -> Result<u64, E> {
    if t.tag != 0x02 || t.content.is_empty() || t.content.len() > 8 {
        return Err(bad("bad integer"));
    }
    Ok(t.content.iter().fold(0u64, |a, b| (a << 8) | *b as u64))
}

#[derive(Clone, Copy)]
enum Hash {
    Sha1,
    Sha256,
}

impl Hash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Hash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }
    fn out_len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 => 32,
        }
    }
}

/// RFC 7292 appendix B.2 key derivation (block size 64 for SHA-1 and SHA-256).
fn kdf(h: Hash, pw: &[u8], salt: &[u8], id: u8, iterations: u64, n: usize) -> Vec<u8> {
    let v = 64usize;
    let fill = |x: &[u8]| -> Vec<u8> {
        if x.is_empty() {
            return Vec::new();
        }
        let len = v * x.len().div_ceil(v);
        x.iter().cycle().take(len).copied().collect()
    };
    let mut i_buf = fill(salt);
    i_buf.extend(fill(pw));
    let d = vec![id; v];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut a = h.digest(&[d.as_slice(), i_buf.as_slice()].concat());
        for _ in 1..iterations {
            a = h.digest(&a);
        }
        out.extend_from_slice(&a);
        if out.len() >= n {
            break;
        }
        let b: Vec<u8> = a.iter().cycle().take(v).copied().collect();
        for chunk in i_buf.chunks_mut(v) {
            // chunk = (chunk + b + 1) mod 2^(8v)
            let mut carry = 1u16;
            for k in (0..chunk.len()).rev() {
                let sum = chunk[k] as u16 + b[k] as u16 + carry;
                chunk[k] = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(n);
    out
}

fn bmp_password(pw: &str) -> Vec<u8> {
    let mut v: Vec<u8> = pw.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    v.extend_from_slice(&[0, 0]);
    v
}

fn unpad(mut b: Vec<u8>, block: usize) -> Result<Vec<u8>, E> {
    let n = *b
        .last()
        .ok_or_else(|| bad("decryption password incorrect"))? as usize;
    if n == 0 || n > block || n > b.len() || !b[b.len() - n..].iter().all(|x| *x as usize == n) {
        return Err(bad("decryption password incorrect"));
    }
    b.truncate(b.len() - n);
    Ok(b)
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>, E>
where
    C: aes::cipher::BlockDecryptMut + aes::cipher::BlockCipher + aes::cipher::KeyInit,
{
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};
    let block = <C as aes::cipher::BlockSizeUser>::block_size();
    if data.is_empty() || !data.len().is_multiple_of(block) {
        return Err(bad("invalid encrypted data length"));
    }
    let mut buf = data.to_vec();
    let dec =
        cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| bad("bad key or IV length"))?;
    dec.decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| bad("decryption failed"))?;
    unpad(buf, block)
}

/// Iteration counts come from the input; a crafted file could ask for billions of hash rounds.
/// OpenSSL writes 2,048 (10,000 with newer defaults); a hundred times that is still accepted.
const MAX_KDF_ITERATIONS: u64 = 1_000_000;

fn iterations(t: &Tlv<'_>) -> Result<u64, E> {
    let n = int_of(t)?;
    if n > MAX_KDF_ITERATIONS {
        return Err(bad(&format!(
            "iteration count exceeds the limit of {MAX_KDF_ITERATIONS}"
        )));
    }
    Ok(n)
}

fn pbe_params(params: &[u8]) -> Result<(Vec<u8>, u64), E> {
    let (p, _) = read(params)?;
    let f = children(p.content)?;
    if f.len() < 2 || f[0].tag != 0x04 {
        return Err(bad("bad PBE parameters"));
    }
    Ok((f[0].content.to_vec(), iterations(&f[1])?))
}

fn decrypt(alg: &Tlv<'_>, data: &[u8], pw: &str) -> Result<Vec<u8>, E> {
    let f = children(alg.content)?;
    let oid = f.first().ok_or_else(|| bad("empty algorithm"))?.content;
    let params = f.get(1).map(|t| t.raw).unwrap_or(&[]);
    let bmp = bmp_password(pw);
    if oid == OID_PBE_3DES {
        let (salt, it) = pbe_params(params)?;
        let key = kdf(Hash::Sha1, &bmp, &salt, 1, it, 24);
        let iv = kdf(Hash::Sha1, &bmp, &salt, 2, it, 8);
        return cbc_decrypt::<des::TdesEde3>(&key, &iv, data);
    }
    if oid == OID_PBE_RC2_40 || oid == OID_PBE_RC2_128 {
        use aes::cipher::{BlockDecryptMut, InnerIvInit, block_padding::NoPadding};
        let (salt, it) = pbe_params(params)?;
        let bits = if oid == OID_PBE_RC2_40 { 40 } else { 128 };
        let key = kdf(Hash::Sha1, &bmp, &salt, 1, it, bits / 8);
        let iv = kdf(Hash::Sha1, &bmp, &salt, 2, it, 8);
        if data.is_empty() || !data.len().is_multiple_of(8) {
            return Err(bad("invalid encrypted data length"));
        }
        let cipher = rc2::Rc2::new_with_eff_key_len(&key, bits);
        let mut buf = data.to_vec();
        let iv_arr = aes::cipher::generic_array::GenericArray::clone_from_slice(&iv);
        let dec = cbc::Decryptor::<rc2::Rc2>::inner_iv_init(cipher, &iv_arr);
        dec.decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| bad("decryption failed"))?;
        return unpad(buf, 8);
    }
    if oid == OID_PBES2 {
        let (p, _) = read(params)?;
        let parts = children(p.content)?;
        let (Some(kdf_alg), Some(enc_alg)) = (parts.first(), parts.get(1)) else {
            return Err(bad("bad PBES2 parameters"));
        };
        let kf = children(kdf_alg.content)?;
        if kf.first().map(|t| t.content) != Some(OID_PBKDF2) {
            return Err(bad("unsupported PBES2 key derivation"));
        }
        let (kp, _) = read(kf.get(1).map(|t| t.raw).unwrap_or(&[]))?;
        let kpf = children(kp.content)?;
        if kpf.len() < 2 || kpf[0].tag != 0x04 {
            return Err(bad("bad PBKDF2 parameters"));
        }
        let salt = kpf[0].content;
        let it = iterations(&kpf[1])? as u32;
        let mut prf = OID_HMAC_SHA1;
        for t in &kpf[2..] {
            if t.tag == 0x30 {
                let pf = children(t.content)?;
                prf = pf.first().map(|x| x.content).unwrap_or(OID_HMAC_SHA1);
            }
        }
        let ef = children(enc_alg.content)?;
        let enc_oid = ef.first().ok_or_else(|| bad("bad cipher"))?.content;
        let iv = ef
            .get(1)
            .filter(|t| t.tag == 0x04)
            .ok_or_else(|| bad("bad cipher IV"))?
            .content;
        let key_len = match enc_oid {
            o if o == OID_AES128_CBC => 16,
            o if o == OID_AES192_CBC => 24,
            o if o == OID_AES256_CBC => 32,
            _ => return Err(bad("unsupported PBES2 cipher")),
        };
        let mut key = vec![0u8; key_len];
        // PBES2 in PKCS#12 takes the password as UTF-8.
        match prf {
            p if p == OID_HMAC_SHA256 => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw.as_bytes(), salt, it, &mut key)
            }
            p if p == OID_HMAC_SHA1 => {
                pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw.as_bytes(), salt, it, &mut key)
            }
            _ => return Err(bad("unsupported PBKDF2 PRF")),
        }
        return match key_len {
            16 => cbc_decrypt::<aes::Aes128>(&key, iv, data),
            24 => cbc_decrypt::<aes::Aes192>(&key, iv, data),
            _ => cbc_decrypt::<aes::Aes256>(&key, iv, data),
        };
    }
    Err(bad("unsupported encryption algorithm"))
}

fn verify_mac(mac_data: &Tlv<'_>, content: &[u8], pw: &str) -> Result<(), E> {
    let f = children(mac_data.content)?;
    let digest_info = children(f.first().ok_or_else(|| bad("bad MAC"))?.content)?;
    let alg = children(digest_info.first().ok_or_else(|| bad("bad MAC"))?.content)?;
    let hash = match alg.first().map(|t| t.content) {
        Some(o) if o == OID_SHA1 => Hash::Sha1,
        Some(o) if o == OID_SHA256 => Hash::Sha256,
        _ => return Err(bad("unsupported MAC algorithm")),
    };
    let expected = digest_info.get(1).ok_or_else(|| bad("bad MAC"))?.content;
    let salt = f.get(1).ok_or_else(|| bad("bad MAC salt"))?.content;
    let it = match f.get(2) {
        Some(t) => iterations(t)?,
        None => 1,
    };
    let check = |pw_bytes: &[u8]| -> bool {
        let key = kdf(hash, pw_bytes, salt, 3, it, hash.out_len());
        match hash {
            Hash::Sha1 => hmac::Hmac::<sha1::Sha1>::new_from_slice(&key).map(|mut m| {
                m.update(content);
                m.verify_slice(expected).is_ok()
            }),
            Hash::Sha256 => hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).map(|mut m| {
                m.update(content);
                m.verify_slice(expected).is_ok()
            }),
        }
        .unwrap_or(false)
    };
    // Some encoders MAC the empty password as no bytes at all.
    if check(&bmp_password(pw)) || (pw.is_empty() && check(&[])) {
        Ok(())
    } else {
        Err(bad("decryption password incorrect"))
    }
}

/// The content of an `[0] EXPLICIT` wrapper.
fn explicit0<'a>(t: &Tlv<'a>) -> Result<Tlv<'a>, E> {
    if t.tag != 0xa0 {
        return Err(bad("expected [0]"));
    }
    Ok(read(t.content)?.0)
}

struct Decoded {
    key: Option<Vec<u8>>,
    certs: Vec<Vec<u8>>,
}

fn safe_bags(der: &[u8], pw: &str, out: &mut Decoded) -> Result<(), E> {
    let (bags, _) = read(der)?;
    for bag in children(bags.content)? {
        let f = children(bag.content)?;
        let (Some(id), Some(val)) = (f.first(), f.get(1)) else {
            continue;
        };
        let value = explicit0(val)?;
        if id.content == OID_CERT_BAG {
            let cf = children(value.content)?;
            if cf.first().map(|t| t.content) != Some(OID_X509_CERT) {
                continue;
            }
            let inner = explicit0(cf.get(1).ok_or_else(|| bad("bad cert bag"))?)?;
            out.certs.push(inner.content.to_vec());
        } else if id.content == OID_SHROUDED_KEY_BAG || id.content == OID_KEY_BAG {
            if out.key.is_some() {
                return Err(bad("expected exactly one key bag"));
            }
            let pkcs8 = if id.content == OID_KEY_BAG {
                value.raw.to_vec()
            } else {
                let kf = children(value.content)?;
                let (Some(alg), Some(data)) = (kf.first(), kf.get(1)) else {
                    return Err(bad("bad key bag"));
                };
                decrypt(alg, data.content, pw)?
            };
            out.key = Some(normalize_pkcs8(&pkcs8)?);
        }
    }
    Ok(())
}

/// Re-encodes a PKCS#8 key the way Go's x509.MarshalPKCS8PrivateKey lays it out.
fn normalize_pkcs8(der: &[u8]) -> Result<Vec<u8>, E> {
    let (p, _) = read(der).map_err(|_| bad("bad private key"))?;
    let f = children(p.content)?;
    let (Some(alg), Some(key)) = (f.get(1), f.get(2)) else {
        return Err(bad("bad private key"));
    };
    let af = children(alg.content)?;
    let oid = af.first().map(|t| t.content).unwrap_or(&[]);
    if oid == OID_RSA {
        let alg_der = seq(&[af[0].raw.to_vec(), super::der::NULL.to_vec()]);
        return Ok(seq(&[write(0x02, &[0]), alg_der, octets(key.content)]));
    }
    if oid == OID_EC {
        // Go writes ECPrivateKey without the curve parameters inside PKCS#8.
        let (ec, _) = read(key.content)?;
        let parts: Vec<Vec<u8>> = children(ec.content)?
            .iter()
            .filter(|t| t.tag != 0xa0)
            .map(|t| t.raw.to_vec())
            .collect();
        return Ok(seq(&[
            write(0x02, &[0]),
            alg.raw.to_vec(),
            octets(&seq(&parts)),
        ]));
    }
    Ok(seq(&[
        write(0x02, &[0]),
        alg.raw.to_vec(),
        octets(key.content),
    ]))
}

fn decode(p12: &[u8], pw: &str) -> Result<Decoded, E> {
    let (pfx, _) = read(p12).map_err(|_| bad("error reading P12 data: not DER"))?;
    let f = children(pfx.content)?;
    if f.len() < 2 || int_of(&f[0])? != 3 {
        return Err(bad("unsupported PFX version"));
    }
    let ci = children(f[1].content)?;
    if ci.first().map(|t| t.content) != Some(OID_DATA) {
        return Err(bad("only password-protected PFX is supported"));
    }
    let auth_safe = explicit0(ci.get(1).ok_or_else(|| bad("missing content"))?)?;
    if auth_safe.tag != 0x04 {
        return Err(bad("unsupported authenticated safe encoding"));
    }
    match f.get(2) {
        Some(mac) => verify_mac(mac, auth_safe.content, pw)?,
        None => return Err(bad("no MAC in data")),
    }
    let mut out = Decoded {
        key: None,
        certs: Vec::new(),
    };
    let (safes, _) = read(auth_safe.content)?;
    for info in children(safes.content)? {
        let cf = children(info.content)?;
        let (Some(kind), Some(body)) = (cf.first(), cf.get(1)) else {
            continue;
        };
        let body = explicit0(body)?;
        if kind.content == OID_DATA {
            safe_bags(body.content, pw, &mut out)?;
        } else if kind.content == OID_ENCRYPTED_DATA {
            let ef = children(body.content)?;
            let eci = children(ef.get(1).ok_or_else(|| bad("bad encrypted data"))?.content)?;
            let (Some(alg), Some(content)) = (eci.get(1), eci.get(2)) else {
                return Err(bad("bad encrypted data"));
            };
            let data = match content.tag {
                0x80 => content.content.to_vec(),
                0xa0 => children(content.content)?
                    .iter()
                    .flat_map(|c| c.content.to_vec())
                    .collect(),
                _ => return Err(bad("bad encrypted content")),
            };
            let plain = decrypt(alg, &data, pw)?;
            safe_bags(&plain, pw, &mut out)?;
        }
    }
    Ok(out)
}

fn input_bytes(input: &str) -> Vec<u8> {
    gostr::to_bytes(input).into_owned()
}

pub fn pkcs12_key(pass: &str, input: &str) -> Result<String, E> {
    let d = decode(&input_bytes(input), pass)
        .map_err(|e| format!("unable to decode pkcs12 with password: {e}"))?;
    if d.certs.is_empty() {
        return Err("unable to decode pkcs12 with password: pkcs12: certificate missing".into());
    }
    let key = d
        .key
        .ok_or("unable to decode pkcs12 with password: pkcs12: private key missing")?;
    Ok(encode_der("PRIVATE KEY", &key))
}

pub fn pkcs12_cert(pass: &str, input: &str) -> Result<String, E> {
    let d = decode(&input_bytes(input), pass)
        .map_err(|e| format!("unable to decode pkcs12 certificate with password: {e}"))?;
    if d.certs.is_empty() {
        return Err(
            "unable to decode pkcs12 certificate with password: pkcs12: certificate missing".into(),
        );
    }
    if d.key.is_none() {
        return Err(
            "unable to decode pkcs12 certificate with password: pkcs12: private key missing".into(),
        );
    }
    // Ordered leaf → root when the chain can be inferred, as received otherwise.
    Ok(match order_chain(&d.certs) {
        Ok(ordered) => ordered
            .iter()
            .map(|c| encode_der("CERTIFICATE", c))
            .collect(),
        Err(_) => d
            .certs
            .iter()
            .map(|c| encode_der("CERTIFICATE", c))
            .collect(),
    })
}

fn oid_der(body: &[u8]) -> Vec<u8> {
    write(0x06, body)
}

fn int_der(v: u64) -> Vec<u8> {
    super::der::uint(&v.to_be_bytes())
}

const OID_LOCAL_KEY_ID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x15];
const OID_JAVA_TRUSTED: &[u8] = &[
    0x60, 0x86, 0x48, 0x01, 0x86, 0xf9, 0x66, 0xad, 0xca, 0x7b, 0x01, 0x01,
];
const OID_ANY_EKU: &[u8] = &[0x55, 0x1d, 0x25, 0x00];
const ITERATIONS: u64 = 2048;

/// PBES2 encryption; returns the AlgorithmIdentifier and the ciphertext.
fn pbes2_encrypt(plain: &[u8], pw: &str) -> Result<(Vec<u8>, Vec<u8>), E> {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
    let salt = super::strings::random_bytes(16)?;
    let iv = super::strings::random_bytes(16)?;
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw.as_bytes(), &salt, ITERATIONS as u32, &mut key);
    let mut buf = plain.to_vec();
    let pad = 16 - buf.len() % 16;
    buf.extend(std::iter::repeat_n(pad as u8, pad));
    let n = buf.len();
    let enc =
        cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &iv).map_err(|_| bad("bad key"))?;
    enc.encrypt_padded_mut::<NoPadding>(&mut buf, n)
        .map_err(|_| bad("encryption failed"))?;
    let prf = seq(&[oid_der(OID_HMAC_SHA256), super::der::NULL.to_vec()]);
    let kdf = seq(&[
        oid_der(OID_PBKDF2),
        seq(&[octets(&salt), int_der(ITERATIONS), prf]),
    ]);
    let cipher = seq(&[oid_der(OID_AES256_CBC), octets(&iv)]);
    let alg = seq(&[oid_der(OID_PBES2), seq(&[kdf, cipher])]);
    Ok((alg, buf))
}

fn attributes(attrs: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    if attrs.is_empty() {
        return Vec::new();
    }
    let items: Vec<Vec<u8>> = attrs
        .iter()
        .map(|(oid, val)| seq(&[oid_der(oid), write(0x31, val)]))
        .collect();
    write(0x31, &items.concat())
}

fn cert_bag(der: &[u8], attrs: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    let value = seq(&[oid_der(OID_X509_CERT), write(0xa0, &octets(der))]);
    let mut parts = vec![oid_der(OID_CERT_BAG), write(0xa0, &value)];
    let a = attributes(attrs);
    if !a.is_empty() {
        parts.push(a);
    }
    seq(&parts)
}

fn encrypted_data(bags: &[Vec<u8>], pw: &str) -> Result<Vec<u8>, E> {
    let (alg, ct) = pbes2_encrypt(&seq(bags), pw)?;
    let eci = seq(&[oid_der(OID_DATA), alg, write(0x80, &ct)]);
    let ed = seq(&[int_der(0), eci]);
    Ok(seq(&[oid_der(OID_ENCRYPTED_DATA), write(0xa0, &ed)]))
}

fn pfx(safes: &[Vec<u8>], pw: &str) -> Result<Vec<u8>, E> {
    let auth_safe = seq(safes);
    let salt = super::strings::random_bytes(16)?;
    let key = kdf(Hash::Sha256, &bmp_password(pw), &salt, 3, ITERATIONS, 32);
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|_| bad("bad MAC key"))?;
    mac.update(&auth_safe);
    let digest = mac.finalize().into_bytes();
    let mac_data = seq(&[
        seq(&[
            seq(&[oid_der(OID_SHA256), super::der::NULL.to_vec()]),
            octets(&digest),
        ]),
        octets(&salt),
        int_der(ITERATIONS),
    ]);
    let content = seq(&[oid_der(OID_DATA), write(0xa0, &octets(&auth_safe))]);
    Ok(seq(&[int_der(3), content, mac_data]))
}

fn pem_blocks(input: &str) -> Vec<super::pem::Block> {
    let raw = gostr::to_bytes(input).into_owned();
    let mut out = Vec::new();
    let mut d: &[u8] = &raw;
    loop {
        let (b, rest) = super::pem::decode(d);
        d = rest;
        match b {
            Some(b) => out.push(b),
            None => return out,
        }
    }
}

/// A private key in any of the forms ESO accepts (PKCS#1, PKCS#8, SEC 1) as Go's PKCS#8.
fn key_to_pkcs8(der: &[u8]) -> Result<Vec<u8>, E> {
    let (k, _) = read(der).map_err(|_| "unable to parse private key type".to_string())?;
    let f = children(k.content).map_err(|_| "unable to parse private key type".to_string())?;
    match (f.first(), f.get(1)) {
        // PKCS#8: version, AlgorithmIdentifier, ...
        (Some(v), Some(alg)) if v.tag == 0x02 && alg.tag == 0x30 => normalize_pkcs8(der),
        // PKCS#1: version 0, modulus, ...
        (Some(v), Some(n)) if v.tag == 0x02 && n.tag == 0x02 && v.content == [0] => {
            let alg = seq(&[oid_der(OID_RSA), super::der::NULL.to_vec()]);
            Ok(seq(&[int_der(0), alg, octets(der)]))
        }
        // SEC 1: version 1, private key, [0] curve, [1] public key.
        (Some(v), Some(d)) if v.tag == 0x02 && v.content == [1] && d.tag == 0x04 => {
            let curve = f
                .iter()
                .find(|t| t.tag == 0xa0)
                .ok_or("unable to parse private key type")?;
            let (curve_oid, _) = read(curve.content)?;
            let alg = seq(&[oid_der(OID_EC), curve_oid.raw.to_vec()]);
            let inner: Vec<Vec<u8>> = f
                .iter()
                .filter(|t| t.tag != 0xa0)
                .map(|t| t.raw.to_vec())
                .collect();
            Ok(seq(&[int_der(0), alg, octets(&seq(&inner))]))
        }
        _ => Err("unable to parse private key type".into()),
    }
}

fn certs_key_to_pkcs12(cert: &[u8], key_pem: &str, cas: &[Vec<u8>], pw: &str) -> Result<String, E> {
    use sha1::Digest;
    super::der::parse_cert(cert)?;
    let key_block = pem_blocks(key_pem)
        .into_iter()
        .next()
        .ok_or("unable to parse private key type: no PEM block in the key")?;
    let pkcs8 = key_to_pkcs8(&key_block.bytes)?;
    let key_id = octets(&sha1::Sha1::digest(cert));
    let mut bags = vec![cert_bag(cert, &[(OID_LOCAL_KEY_ID, key_id.clone())])];
    for ca in cas {
        bags.push(cert_bag(ca, &[]));
    }
    let certs_safe = encrypted_data(&bags, pw)?;
    let (alg, ct) = pbes2_encrypt(&pkcs8, pw)?;
    let epki = seq(&[alg, octets(&ct)]);
    let mut key_bag = vec![oid_der(OID_SHROUDED_KEY_BAG), write(0xa0, &epki)];
    key_bag.push(attributes(&[(OID_LOCAL_KEY_ID, key_id)]));
    let key_safe = seq(&[
        oid_der(OID_DATA),
        write(0xa0, &octets(&seq(&[seq(&key_bag)]))),
    ]);
    Ok(super::encoding::b64_encode(&pfx(
        &[certs_safe, key_safe],
        pw,
    )?))
}

fn first_cert_and_rest(input: &str) -> Result<(Vec<u8>, Vec<Vec<u8>>), E> {
    let blocks = pem_blocks(input);
    let mut it = blocks.into_iter().map(|b| b.bytes);
    let first = it
        .next()
        .ok_or("x509: malformed certificate (no PEM block)")?;
    let rest: Vec<Vec<u8>> = it.collect();
    for c in &rest {
        super::der::parse_cert(c)?;
    }
    Ok((first, rest))
}

fn pem_to_pkcs12(cert: &str, key: &str, pw: &str, full: bool) -> Result<String, E> {
    let (leaf, rest) = first_cert_and_rest(cert)?;
    certs_key_to_pkcs12(&leaf, key, if full { &rest } else { &[] }, pw)
}

fn truststore(cert: &str, pw: &str) -> Result<String, E> {
    let blocks = pem_blocks(cert);
    let mut bags = Vec::new();
    for b in &blocks {
        super::der::parse_cert(&b.bytes)?;
        bags.push(cert_bag(
            &b.bytes,
            &[(OID_JAVA_TRUSTED, oid_der(OID_ANY_EKU))],
        ));
    }
    Ok(super::encoding::b64_encode(&pfx(
        &[encrypted_data(&bags, pw)?],
        pw,
    )?))
}

/// The DER private key (if any) and certificates of a PKCS#12 file.
pub type KeyAndCerts = (Option<Vec<u8>>, Vec<Vec<u8>>);

/// Certificates and key of a PKCS#12 file (for tests of the encoders).
pub fn decode_for_tests(p12: &[u8], pw: &str) -> Result<KeyAndCerts, E> {
    let d = decode(p12, pw)?;
    Ok((d.key, d.certs))
}

pub fn register(r: &mut Registry) {
    r.add("pemToPkcs12", &[Ty::Str, Ty::Str], None, |a| {
        pem_to_pkcs12(s(a, 0), s(a, 1), "", false).map(Value::str)
    });
    r.add("pemToPkcs12Pass", &[Ty::Str, Ty::Str, Ty::Str], None, |a| {
        pem_to_pkcs12(s(a, 0), s(a, 1), s(a, 2), false).map(Value::str)
    });
    r.add("fullPemToPkcs12", &[Ty::Str, Ty::Str], None, |a| {
        pem_to_pkcs12(s(a, 0), s(a, 1), "", true).map(Value::str)
    });
    r.add(
        "fullPemToPkcs12Pass",
        &[Ty::Str, Ty::Str, Ty::Str],
        None,
        |a| pem_to_pkcs12(s(a, 0), s(a, 1), s(a, 2), true).map(Value::str),
    );
    r.add("pemTruststoreToPKCS12", &[Ty::Str], None, |a| {
        truststore(s(a, 0), "").map(Value::str)
    });
    r.add(
        "pemTruststoreToPKCS12Pass",
        &[Ty::Str, Ty::Str],
        None,
        |a| truststore(s(a, 0), s(a, 1)).map(Value::str),
    );
    r.add("pkcs12key", &[Ty::Str], None, |a| {
        pkcs12_key("", s(a, 0)).map(Value::str)
    });
    r.add("pkcs12keyPass", &[Ty::Str, Ty::Str], None, |a| {
        pkcs12_key(s(a, 0), s(a, 1)).map(Value::str)
    });
    r.add("pkcs12cert", &[Ty::Str], None, |a| {
        pkcs12_cert("", s(a, 0)).map(Value::str)
    });
    r.add("pkcs12certPass", &[Ty::Str, Ty::Str], None, |a| {
        pkcs12_cert(s(a, 0), s(a, 1)).map(Value::str)
    });
}
