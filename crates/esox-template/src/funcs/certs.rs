//! Sprig's key and certificate generation: `genPrivateKey`, `genCA`, `genCAWithKey`,
//! `genSelfSignedCert`, `genSelfSignedCertWithKey`, `genSignedCert`, `genSignedCertWithKey`,
//! `buildCustomCert`.
//!
//! The certificates carry what Sprig's template asks Go's crypto/x509 for (random 128-bit serial,
//! subject CN, validity from now, key usages, server and client auth, basic constraints, IP and
//! DNS SANs) with Go's encoding choices (extension order and criticality, key identifiers,
//! string types), so that Go's parser sees the same structure in an esox certificate as in a
//! Go one; the differential tests compare both through Go. Keys and signatures come from the
//! RustCrypto crates; only the DER framing is written here.

use std::sync::Arc;

use rand_core::{OsRng, RngCore};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use sha2::Digest;

use super::der::{self, bits, octets, oid, seq, uint, write};
use super::encoding::b64_decode;
use super::pem;
use super::{Registry, Ty, int, s};
use crate::gostr;
use crate::value::{CertPair, Value};

type R = Result<Value, String>;

const OID_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
const OID_SHA256_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
const OID_EC: &[u64] = &[1, 2, 840, 10045, 2, 1];
const OID_P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const OID_P384: &[u64] = &[1, 3, 132, 0, 34];
const OID_ECDSA_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const OID_ECDSA_SHA384: &[u64] = &[1, 2, 840, 10045, 4, 3, 3];
const OID_ED25519: &[u64] = &[1, 3, 101, 112];

enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    Ed25519(ed25519_dalek::SigningKey),
}

fn rsa_key(bits: usize) -> Result<Key, String> {
    rsa::RsaPrivateKey::new(&mut OsRng, bits)
        .map(|k| Key::Rsa(Box::new(k)))
        .map_err(|e| format!("error generating rsa key: {e}"))
}

impl Key {
    fn generate(typ: &str) -> Result<Key, String> {
        Ok(match typ {
            "" | "rsa" => rsa_key(4096)?,
            "ecdsa" => Key::P256(p256::SecretKey::random(&mut OsRng)),
            "ed25519" => Key::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng)),
            _ => return Err(format!("Unknown type {typ}")),
        })
    }

    /// The subjectPublicKey bits and the SubjectPublicKeyInfo around them.
    fn public(&self) -> (Vec<u8>, Vec<u8>) {
        let (alg, key) = match self {
            Key::Rsa(k) => {
                let pkcs1 = seq(&[uint(&k.n().to_bytes_be()), uint(&k.e().to_bytes_be())]);
                (seq(&[oid(OID_RSA), der::NULL.to_vec()]), pkcs1)
            }
            Key::P256(k) => {
                let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                    &k.public_key(),
                    false,
                );
                (
                    seq(&[oid(OID_EC), oid(OID_P256)]),
                    point.as_bytes().to_vec(),
                )
            }
            Key::P384(k) => {
                let point = p384::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                    &k.public_key(),
                    false,
                );
                (
                    seq(&[oid(OID_EC), oid(OID_P384)]),
                    point.as_bytes().to_vec(),
                )
            }
            Key::Ed25519(k) => (
                seq(&[oid(OID_ED25519)]),
                k.verifying_key().to_bytes().to_vec(),
            ),
        };
        let spki = seq(&[alg, bits(&key)]);
        (key, spki)
    }

    /// The signature AlgorithmIdentifier Go picks for this key.
    fn signature_algorithm(&self) -> Vec<u8> {
        match self {
            Key::Rsa(_) => seq(&[oid(OID_SHA256_RSA), der::NULL.to_vec()]),
            Key::P256(_) => seq(&[oid(OID_ECDSA_SHA256)]),
            Key::P384(_) => seq(&[oid(OID_ECDSA_SHA384)]),
            Key::Ed25519(_) => seq(&[oid(OID_ED25519)]),
        }
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        use signature::{SignatureEncoding, Signer};
        let fail = |e: signature::Error| format!("x509: signing certificate: {e}");
        Ok(match self {
            Key::Rsa(k) => {
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
                signer.try_sign(msg).map_err(fail)?.to_vec()
            }
            Key::P256(k) => {
                let signer = p256::ecdsa::SigningKey::from(k);
                let sig: p256::ecdsa::Signature = signer.try_sign(msg).map_err(fail)?;
                sig.to_der().as_bytes().to_vec()
            }
            Key::P384(k) => {
                let signer = p384::ecdsa::SigningKey::from(k);
                let sig: p384::ecdsa::Signature = signer.try_sign(msg).map_err(fail)?;
                sig.to_der().as_bytes().to_vec()
            }
            Key::Ed25519(k) => k.try_sign(msg).map_err(fail)?.to_bytes().to_vec(),
        })
    }

    /// Sprig's pemBlockForKey: PKCS#1 for RSA, SEC 1 for ECDSA, PKCS#8 otherwise.
    fn to_pem(&self) -> Result<String, String> {
        let fail = |e: &dyn std::fmt::Display| format!("error pem-encoding key: {e}");
        Ok(match self {
            Key::Rsa(k) => {
                let doc = k.to_pkcs1_der().map_err(|e| fail(&e))?;
                pem::encode_der("RSA PRIVATE KEY", doc.as_bytes())
            }
            Key::P256(k) => {
                let (point, _) = self.public();
                pem::encode_der("EC PRIVATE KEY", &sec1(&k.to_bytes(), OID_P256, &point))
            }
            Key::P384(k) => {
                let (point, _) = self.public();
                pem::encode_der("EC PRIVATE KEY", &sec1(&k.to_bytes(), OID_P384, &point))
            }
            Key::Ed25519(k) => {
                // PKCS#8 version 1 without the public key, as Go's MarshalPKCS8PrivateKey writes.
                let der = seq(&[
                    uint(&[0]),
                    seq(&[oid(OID_ED25519)]),
                    octets(&octets(k.as_bytes())),
                ]);
                pem::encode_der("PRIVATE KEY", &der)
            }
        })
    }

    /// Sprig's parsePrivateKeyPEM: the first PEM block of the input.
    fn from_pem(text: &str) -> Result<Key, String> {
        let bytes = gostr::to_bytes(text);
        let (Some(block), _) = pem::decode(&bytes) else {
            return Err("no PEM data in input".into());
        };
        let der = &block.bytes;
        if block.typ == "PRIVATE KEY" {
            return pkcs8_key(der).map_err(|e| format!("decoding PEM as PKCS#8: {e}"));
        }
        let Some(kind) = block.typ.strip_suffix(" PRIVATE KEY") else {
            return Err(format!(
                "no private key data in PEM block of type {}",
                block.typ
            ));
        };
        match kind {
            "RSA" => rsa::RsaPrivateKey::from_pkcs1_der(der)
                .map(|k| Key::Rsa(Box::new(k)))
                .map_err(|_| "parsing RSA private key from PEM: malformed PKCS#1 key".into()),
            "EC" => p256::SecretKey::from_sec1_der(der)
                .map(Key::P256)
                .or_else(|_| p384::SecretKey::from_sec1_der(der).map(Key::P384))
                .map_err(|_| {
                    "parsing EC private key from PEM: not a P-256 or P-384 SEC 1 key (esox signs with those two curves)"
                        .into()
                }),
            // Go parses DSA keys here but its crypto/x509 cannot sign with them.
            "DSA" => Err("x509: certificate private key does not implement crypto.Signer".into()),
            _ => Err(format!("invalid private key type {}", block.typ)),
        }
    }
}

/// SEC 1 ECPrivateKey with the named curve and the public key, as Go's MarshalECPrivateKey writes
/// it (and as its parser needs: without the curve it cannot read the key).
fn sec1(secret: &[u8], curve: &[u64], point: &[u8]) -> Vec<u8> {
    seq(&[
        uint(&[1]),
        octets(secret),
        write(0xa0, &oid(curve)),
        write(0xa1, &bits(point)),
    ])
}

fn pkcs8_key(der: &[u8]) -> Result<Key, String> {
    if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(der) {
        return Ok(Key::Rsa(Box::new(k)));
    }
    if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
        return Ok(Key::P256(k));
    }
    if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
        return Ok(Key::P384(k));
    }
    // Ed25519: SEQUENCE { version, AlgorithmIdentifier { 1.3.101.112 }, OCTET STRING { OCTET STRING seed } ... }
    let (top, _) = der::read(der)?;
    let parts = der::children(top.content)?;
    if let [_, alg, key, ..] = parts.as_slice()
        && alg.content == oid(OID_ED25519).as_slice()
        && key.tag == 0x04
    {
        let (inner, _) = der::read(key.content)?;
        let seed: [u8; 32] = inner
            .content
            .try_into()
            .map_err(|_| "x509: invalid Ed25519 private key length".to_string())?;
        return Ok(Key::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)));
    }
    Err(
        "x509: unsupported or malformed private key (esox reads RSA, P-256, P-384 and Ed25519)"
            .into(),
    )
}

/// A certificate's DER parts esox needs to sign with it as the parent.
struct Parent {
    raw_subject: Vec<u8>,
    spki: Vec<u8>,
    subject_key_id: Vec<u8>,
}

fn parse_parent(der_bytes: &[u8]) -> Result<Parent, String> {
    let bad = || "error parsing certificate: malformed certificate".to_string();
    let skid = der::parse_cert(der_bytes)
        .map_err(|_| bad())?
        .subject_key_id;
    let (cert, _) = der::read(der_bytes).map_err(|_| bad())?;
    let parts = der::children(cert.content).map_err(|_| bad())?;
    let tbs = der::children(parts.first().ok_or_else(bad)?.content).map_err(|_| bad())?;
    let start = usize::from(tbs.first().is_some_and(|t| t.tag == 0xa0));
    let (Some(subject), Some(spki)) = (tbs.get(start + 4), tbs.get(start + 5)) else {
        return Err(bad());
    };
    Ok(Parent {
        raw_subject: subject.raw.to_vec(),
        spki: spki.raw.to_vec(),
        subject_key_id: skid,
    })
}

/// Go's string choice for a Name attribute: PrintableString when it can, else UTF8String.
fn directory_string(v: &str) -> Result<Vec<u8>, String> {
    let printable = |b: u8| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b);
    let bytes = gostr::to_bytes(v);
    if bytes.iter().all(|b| printable(*b)) {
        return Ok(write(0x13, &bytes));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| "asn1: string not valid UTF-8")?;
    Ok(write(0x0c, text.as_bytes()))
}

fn name(cn: &str) -> Result<Vec<u8>, String> {
    if cn.is_empty() {
        return Ok(seq(&[]));
    }
    let atv = seq(&[oid(&[2, 5, 4, 3]), directory_string(cn)?]);
    Ok(seq(&[write(0x31, &atv)]))
}

/// UTCTime for 1950–2049, GeneralizedTime otherwise, as Go encodes validity times.
fn asn1_time(unix: i64) -> Result<Vec<u8>, String> {
    let t = jiff::Timestamp::from_second(unix)
        .map_err(|_| "x509: validity time out of range".to_string())?
        .to_zoned(jiff::tz::TimeZone::UTC);
    let year = t.year();
    if (1950..2050).contains(&year) {
        Ok(write(
            0x17,
            t.strftime("%y%m%d%H%M%SZ").to_string().as_bytes(),
        ))
    } else if (0..=9999).contains(&year) {
        Ok(write(
            0x18,
            t.strftime("%Y%m%d%H%M%SZ").to_string().as_bytes(),
        ))
    } else {
        Err("x509: validity time out of range".into())
    }
}

fn extension(id: &[u64], critical: bool, value: Vec<u8>) -> Vec<u8> {
    let mut parts = vec![oid(id)];
    if critical {
        parts.push(vec![0x01, 0x01, 0xff]);
    }
    parts.push(octets(&value));
    seq(&parts)
}

struct Template {
    cn: String,
    ips: Vec<std::net::IpAddr>,
    dns: Vec<String>,
    days: i64,
    is_ca: bool,
}

fn template(
    cn: &str,
    ips: &Value,
    dns: &Value,
    days: i64,
    is_ca: bool,
) -> Result<Template, String> {
    let items = |v: &Value| match v {
        Value::List(l, _) => l.to_vec(),
        _ => Vec::new(),
    };
    let mut ip_list = Vec::new();
    for ip in items(ips) {
        let Value::Str(text) = ip else {
            return Err("error parsing ip: an entry is not a string".into());
        };
        let parsed =
            go_parse_ip(&text).ok_or_else(|| "error parsing ip: not an IP address".to_string())?;
        ip_list.push(parsed);
    }
    let mut dns_list = Vec::new();
    for d in items(dns) {
        let Value::Str(text) = d else {
            return Err("error processing alternate dns name: an entry is not a string".into());
        };
        dns_list.push(text.to_string());
    }
    Ok(Template {
        cn: cn.to_string(),
        ips: ip_list,
        dns: dns_list,
        days,
        is_ca,
    })
}

/// net.ParseIP: dotted IPv4 without leading zeros, or IPv6 (no zone).
fn go_parse_ip(s: &str) -> Option<std::net::IpAddr> {
    if s.contains('%') {
        return None;
    }
    s.parse().ok()
}

/// x509.CreateCertificate for Sprig's template, signed by `signer` (the subject's own key when
/// `parent` is None).
fn create(
    t: &Template,
    subject_key: &Key,
    parent: Option<(&Parent, &Key)>,
) -> Result<String, String> {
    let signer = parent.map_or(subject_key, |(_, k)| k);
    let (pub_bits, spki) = subject_key.public();
    let subject = name(&t.cn)?;
    let issuer = match parent {
        Some((p, key)) => {
            if key.public().1 != p.spki {
                return Err("error creating certificate: x509: provided PrivateKey doesn't match parent's PublicKey".into());
            }
            p.raw_subject.clone()
        }
        None => subject.clone(),
    };
    let mut serial = [0u8; 16];
    OsRng.fill_bytes(&mut serial);
    let now = jiff::Timestamp::now().as_second();
    // time.Hour * 24 * time.Duration(daysValid) in Go: int64 nanoseconds that wrap on overflow.
    let valid_nanos = 86_400_000_000_000i64.wrapping_mul(t.days);
    let not_after = now + valid_nanos.div_euclid(1_000_000_000);

    let mut exts = Vec::new();
    let ku: u8 = if t.is_ca { 0b1010_0100 } else { 0b1010_0000 };
    let unused = ku.trailing_zeros() as u8;
    exts.push(extension(&[2, 5, 29, 15], true, write(0x03, &[unused, ku])));
    let eku = seq(&[
        oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1]),
        oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2]),
    ]);
    exts.push(extension(&[2, 5, 29, 37], false, eku));
    let bc = if t.is_ca {
        seq(&[vec![0x01, 0x01, 0xff]])
    } else {
        seq(&[])
    };
    exts.push(extension(&[2, 5, 29, 19], true, bc));
    if t.is_ca {
        // Go 1.25+: the leftmost 160 bits of SHA-256 over the subjectPublicKey bits.
        let skid = sha2::Sha256::digest(&pub_bits)[..20].to_vec();
        exts.push(extension(&[2, 5, 29, 14], false, octets(&skid)));
    }
    if let Some((p, _)) = parent
        && issuer != subject
        && !p.subject_key_id.is_empty()
    {
        exts.push(extension(
            &[2, 5, 29, 35],
            false,
            seq(&[write(0x80, &p.subject_key_id)]),
        ));
    }
    if !t.ips.is_empty() || !t.dns.is_empty() {
        let mut names = Vec::new();
        for d in &t.dns {
            names.push(write(0x82, &gostr::to_bytes(d)));
        }
        for ip in &t.ips {
            let b = match ip {
                std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            names.push(write(0x87, &b));
        }
        // Go marks the SANs critical when the subject is empty (RFC 5280 4.2.1.6).
        exts.push(extension(&[2, 5, 29, 17], t.cn.is_empty(), seq(&names)));
    }

    let sig_alg = signer.signature_algorithm();
    let tbs = seq(&[
        write(0xa0, &uint(&[2])),
        uint(&serial),
        sig_alg.clone(),
        issuer,
        seq(&[asn1_time(now)?, asn1_time(not_after)?]),
        subject,
        spki,
        write(0xa3, &seq(&exts)),
    ]);
    let signature = signer.sign(&tbs)?;
    let cert = seq(&[tbs, sig_alg, bits(&signature)]);
    Ok(pem::encode_der("CERTIFICATE", &cert))
}

fn pair(cert: String, key: &Key) -> R {
    Ok(Value::Cert(Arc::new(CertPair {
        cert: cert.into(),
        key: key.to_pem()?.into(),
    })))
}

fn with_error(prefix: &str) -> impl Fn(String) -> String + '_ {
    move |e| format!("{prefix}: {e}")
}

fn ca_parts(ca: &Value) -> Result<(Parent, Key), String> {
    let Value::Cert(ca) = ca else {
        return Err("expected a certificate".into());
    };
    let bytes = gostr::to_bytes(&ca.cert);
    let (Some(block), _) = pem::decode(&bytes) else {
        return Err("unable to decode certificate".into());
    };
    let parent = parse_parent(&block.bytes)?;
    let key = Key::from_pem(&ca.key).map_err(with_error("error parsing private key"))?;
    Ok((parent, key))
}

fn signed(t: &Template, ca: &Value, key: Key) -> R {
    let (parent, ca_key) = ca_parts(ca)?;
    let cert = create(t, &key, Some((&parent, &ca_key)))?;
    pair(cert, &key)
}

pub fn register(r: &mut Registry) {
    use Ty::*;
    r.add("genPrivateKey", &[Str], None, |a| {
        // Sprig returns its errors as the output string.
        if s(a, 0) == "dsa" {
            // A deliberate difference: Go would generate one, but DSA is deprecated (Go's
            // crypto/dsa says so) and no Go or Rust TLS stack signs with it; failing the template
            // says so instead of storing a key nothing can use.
            return Err(
                "DSA keys are not supported by esox (deprecated); use \"ecdsa\", \"ed25519\" or \"rsa\""
                    .into(),
            );
        }
        let out = match Key::generate(s(a, 0)) {
            Ok(k) => k.to_pem().unwrap_or_else(|e| e),
            Err(e) if e.starts_with("Unknown type") => e,
            Err(e) => format!("failed to generate private key: {e}"),
        };
        Ok(Value::str(out))
    });
    r.add("genCA", &[Str, Int], None, |a| {
        let key = rsa_key(2048)?;
        let t = template(s(a, 0), &Value::Nil, &Value::Nil, int(a, 1), true)?;
        pair(create(&t, &key, None)?, &key)
    });
    r.add("genCAWithKey", &[Str, Int, Str], None, |a| {
        let key = Key::from_pem(s(a, 2)).map_err(with_error("parsing private key"))?;
        let t = template(s(a, 0), &Value::Nil, &Value::Nil, int(a, 1), true)?;
        pair(create(&t, &key, None)?, &key)
    });
    r.add(
        "genSelfSignedCert",
        &[Str, ListAny, ListAny, Int],
        None,
        |a| {
            let key = rsa_key(2048)?;
            let t = template(s(a, 0), &a[1], &a[2], int(a, 3), false)?;
            pair(create(&t, &key, None)?, &key)
        },
    );
    r.add(
        "genSelfSignedCertWithKey",
        &[Str, ListAny, ListAny, Int, Str],
        None,
        |a| {
            let key = Key::from_pem(s(a, 4)).map_err(with_error("parsing private key"))?;
            let t = template(s(a, 0), &a[1], &a[2], int(a, 3), false)?;
            pair(create(&t, &key, None)?, &key)
        },
    );
    r.add(
        "genSignedCert",
        &[Str, ListAny, ListAny, Int, Certificate],
        None,
        |a| {
            let key = rsa_key(2048)?;
            let t = template(s(a, 0), &a[1], &a[2], int(a, 3), false)?;
            signed(&t, &a[4], key)
        },
    );
    r.add(
        "genSignedCertWithKey",
        &[Str, ListAny, ListAny, Int, Certificate, Str],
        None,
        |a| {
            let key = Key::from_pem(s(a, 5)).map_err(with_error("parsing private key"))?;
            let t = template(s(a, 0), &a[1], &a[2], int(a, 3), false)?;
            signed(&t, &a[4], key)
        },
    );
    r.add("buildCustomCert", &[Str, Str], None, |a| {
        let cert = b64_decode(&gostr::to_bytes(s(a, 0)))
            .map_err(|_| "unable to decode base64 certificate")?;
        let key = b64_decode(&gostr::to_bytes(s(a, 1)))
            .map_err(|_| "unable to decode base64 private key")?;
        let (Some(block), _) = pem::decode(&cert) else {
            return Err("unable to decode certificate".into());
        };
        der::parse_cert(&block.bytes)
            .map_err(|_| "error parsing certificate: decodedCert.Bytes: malformed certificate")?;
        let key_text = gostr::from_bytes(&key);
        Key::from_pem(&key_text).map_err(with_error("error parsing private key"))?;
        Ok(Value::Cert(Arc::new(CertPair {
            cert: gostr::from_bytes(&cert).into(),
            key: key_text.into(),
        })))
    });
}
