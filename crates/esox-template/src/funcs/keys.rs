//! ESO's key helpers: `jwkPublicKeyPem`, `jwkPrivateKeyPem` (JWK → PKIX /
//! PKCS#8 PEM, as Go's x509.MarshalPKIXPublicKey / MarshalPKCS8PrivateKey
//! lay them out) and `rsaDecrypt` (RSA-OAEP).

use base64::Engine;

use super::der::{NULL, bits, octets, oid, seq, uint, write};
use super::pem::{decode, encode_der};
use super::{Registry, Ty, s};
use crate::gostr;
use crate::value::Value;

const RSA_OID: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
const EC_OID: &[u64] = &[1, 2, 840, 10045, 2, 1];
const ED25519_OID: &[u64] = &[1, 3, 101, 112];

fn b64url(m: &serde_json::Map<String, serde_json::Value>, k: &str) -> Result<Vec<u8>, String> {
    let v = m
        .get(k)
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("jwk: required field {k:?} is missing"))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.trim_end_matches('='))
        .map_err(|_| format!("jwk: field {k:?} is not base64url"))
}

fn curve(name: &str) -> Result<(&'static [u64], usize), String> {
    match name {
        "P-256" => Ok((&[1, 2, 840, 10045, 3, 1, 7], 32)),
        "P-384" => Ok((&[1, 3, 132, 0, 34], 48)),
        "P-521" => Ok((&[1, 3, 132, 0, 35], 66)),
        other => Err(format!("jwk: unsupported curve {other:?}")),
    }
}

fn pad(b: &[u8], n: usize) -> Result<Vec<u8>, String> {
    let skip = b.iter().take_while(|x| **x == 0).count();
    let b = &b[skip..];
    if b.len() > n {
        return Err("jwk: coordinate longer than the curve size".into());
    }
    let mut v = vec![0u8; n - b.len()];
    v.extend_from_slice(b);
    Ok(v)
}

struct Jwk {
    public_der: Vec<u8>,
    private_der: Option<Vec<u8>>,
}

fn parse_jwk(js: &str) -> Result<Jwk, String> {
    let v: serde_json::Value =
        serde_json::from_str(js).map_err(|e| format!("jwk: invalid JSON: {e}"))?;
    let m = v.as_object().ok_or("jwk: not a JSON object")?;
    match m.get("kty").and_then(|k| k.as_str()) {
        Some("RSA") => rsa_jwk(m),
        Some("EC") => {
            let (curve_oid, size) = curve(m.get("crv").and_then(|c| c.as_str()).unwrap_or(""))?;
            let x = pad(&b64url(m, "x")?, size)?;
            let y = pad(&b64url(m, "y")?, size)?;
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let alg = seq(&[oid(EC_OID), oid(curve_oid)]);
            let public_der = seq(&[alg.clone(), bits(&point)]);
            let private_der = match m.get("d") {
                None => None,
                Some(_) => {
                    let d = pad(&b64url(m, "d")?, size)?;
                    // SEC 1 ECPrivateKey without the curve parameters, as Go writes it inside PKCS#8.
                    let ec = seq(&[write(0x02, &[1]), octets(&d), write(0xa1, &bits(&point))]);
                    Some(seq(&[write(0x02, &[0]), alg, octets(&ec)]))
                }
            };
            Ok(Jwk {
                public_der,
                private_der,
            })
        }
        Some("OKP") => {
            if m.get("crv").and_then(|c| c.as_str()) != Some("Ed25519") {
                return Err("jwk: unsupported OKP curve".into());
            }
            let x = b64url(m, "x")?;
            if x.len() != 32 {
                return Err("jwk: bad Ed25519 public key length".into());
            }
            let alg = seq(&[oid(ED25519_OID)]);
            let public_der = seq(&[alg.clone(), bits(&x)]);
            let private_der = match m.get("d") {
                None => None,
                Some(_) => {
                    let d = b64url(m, "d")?;
                    if d.len() != 32 {
                        return Err("jwk: bad Ed25519 private key length".into());
                    }
                    Some(seq(&[write(0x02, &[0]), alg, octets(&octets(&d))]))
                }
            };
            Ok(Jwk {
                public_der,
                private_der,
            })
        }
        Some(other) => Err(format!("jwk: unsupported key type {other:?}")),
        None => Err("jwk: required field \"kty\" is missing".into()),
    }
}

fn rsa_jwk(m: &serde_json::Map<String, serde_json::Value>) -> Result<Jwk, String> {
    use rsa::BigUint;
    let n = b64url(m, "n")?;
    let e = b64url(m, "e")?;
    let alg = seq(&[oid(RSA_OID), NULL.to_vec()]);
    let public_der = seq(&[alg.clone(), bits(&seq(&[uint(&n), uint(&e)]))]);
    let private_der = match m.get("d") {
        None => None,
        Some(_) => {
            let d = b64url(m, "d")?;
            let p = b64url(m, "p")?;
            let q = b64url(m, "q")?;
            // Go recomputes the CRT values from d, p and q (Precompute).
            let (bd, bp, bq) = (
                BigUint::from_bytes_be(&d),
                BigUint::from_bytes_be(&p),
                BigUint::from_bytes_be(&q),
            );
            let one = BigUint::from(1u8);
            if bp <= one || bq <= one {
                return Err("jwk: invalid RSA primes".into());
            }
            let dp = &bd % (&bp - &one);
            let dq = &bd % (&bq - &one);
            let qinv = mod_inverse(&bq, &bp).ok_or("jwk: invalid RSA primes")?;
            let pkcs1 = seq(&[
                write(0x02, &[0]),
                uint(&n),
                uint(&e),
                uint(&d),
                uint(&p),
                uint(&q),
                uint(&dp.to_bytes_be()),
                uint(&dq.to_bytes_be()),
                uint(&qinv.to_bytes_be()),
            ]);
            Some(seq(&[write(0x02, &[0]), alg, octets(&pkcs1)]))
        }
    };
    Ok(Jwk {
        public_der,
        private_der,
    })
}

fn mod_inverse(a: &rsa::BigUint, m: &rsa::BigUint) -> Option<rsa::BigUint> {
    // a^(-1) mod m for prime m: Fermat's little theorem.
    let two = rsa::BigUint::from(2u8);
    if *m < two {
        return None;
    }
    let r = a.modpow(&(m - &two), m);
    if (a * &r) % m == rsa::BigUint::from(1u8) {
        Some(r)
    } else {
        None
    }
}

fn rsa_decrypt(scheme: &str, hash: &str, input: &str, key: &str) -> Result<String, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    match scheme {
        "None" => Ok(input.to_string()),
        "RSA-OAEP" => {
            let raw = gostr::to_bytes(key);
            let (block, _) = decode(&raw);
            let block = block.ok_or("failed to decode PEM block")?;
            let k = rsa::RsaPrivateKey::from_pkcs1_der(&block.bytes)
                .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_der(&block.bytes))
                .map_err(|_| {
                    "could not parse private key: not an RSA key in PKCS#1 or PKCS#8 form"
                        .to_string()
                })?;
            let ct = gostr::to_bytes(input);
            let out = match hash {
                "SHA1" => k.decrypt(rsa::Oaep::new::<sha1::Sha1>(), &ct),
                "SHA512" => k.decrypt(rsa::Oaep::new::<sha2::Sha512>(), &ct),
                _ => k.decrypt(rsa::Oaep::new::<sha2::Sha256>(), &ct),
            }
            .map_err(|_| {
                "error decrypting data with RSA: crypto/rsa: decryption error".to_string()
            })?;
            Ok(gostr::from_bytes(&out))
        }
        // The scheme argument may be a fetched value: not echoed.
        _ => Err("decryption scheme is not supported (RSA-OAEP or None)".to_string()),
    }
}

pub fn register(r: &mut Registry) {
    r.add("jwkPublicKeyPem", &[Ty::Str], None, |a| {
        let k = parse_jwk(s(a, 0))?;
        Ok(Value::str(encode_der("PUBLIC KEY", &k.public_der)))
    });
    r.add("jwkPrivateKeyPem", &[Ty::Str], None, |a| {
        let k = parse_jwk(s(a, 0))?;
        let der = k.private_der.ok_or("jwk: not a private key")?;
        Ok(Value::str(encode_der("PRIVATE KEY", &der)))
    });
    r.add(
        "rsaDecrypt",
        &[Ty::Str, Ty::Str, Ty::Str, Ty::Str],
        None,
        |a| rsa_decrypt(s(a, 0), s(a, 1), s(a, 2), s(a, 3)).map(Value::str),
    );
}
