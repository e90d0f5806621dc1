//! A minimal DER reader and writer: enough X.509 to find SANs and key
//! identifiers, and to build SubjectPublicKeyInfo / PKCS#8 structures.

/// One TLV element: its tag byte, content and the whole encoding.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

/// Reads one element from the front of `b`; returns it and the rest.
pub fn read(b: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let bad = || "malformed DER".to_string();
    if b.len() < 2 {
        return Err(bad());
    }
    let tag = b[0];
    if tag & 0x1f == 0x1f {
        return Err("DER: high tag numbers are not supported".into());
    }
    let (len, hdr) = match b[1] {
        l if l < 0x80 => (l as usize, 2),
        0x80 => return Err("DER: indefinite length".into()),
        l => {
            let n = (l & 0x7f) as usize;
            if n > 4 || b.len() < 2 + n {
                return Err(bad());
            }
            let mut v = 0usize;
            for x in &b[2..2 + n] {
                v = (v << 8) | *x as usize;
            }
            (v, 2 + n)
        }
    };
    let end = hdr.checked_add(len).ok_or_else(bad)?;
    if b.len() < end {
        return Err(bad());
    }
    Ok((
        Tlv {
            tag,
            content: &b[hdr..end],
            raw: &b[..end],
        },
        &b[end..],
    ))
}

/// All elements of a constructed value.
pub fn children(mut b: &[u8]) -> Result<Vec<Tlv<'_>>, String> {
    let mut v = Vec::new();
    while !b.is_empty() {
        let (t, rest) = read(b)?;
        v.push(t);
        b = rest;
    }
    Ok(v)
}

pub fn write(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    write(0x30, &parts.concat())
}

/// An unsigned big-endian integer as a DER INTEGER.
pub fn uint(be: &[u8]) -> Vec<u8> {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let mut v = be[skip..].to_vec();
    if v.is_empty() || v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    write(0x02, &v)
}

pub fn oid(dotted: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut arcs = vec![dotted[0] * 40 + dotted[1]];
    arcs.extend_from_slice(&dotted[2..]);
    for a in arcs {
        let mut tmp = vec![(a & 0x7f) as u8];
        let mut x = a >> 7;
        while x > 0 {
            tmp.push(0x80 | (x & 0x7f) as u8);
            x >>= 7;
        }
        tmp.reverse();
        body.extend(tmp);
    }
    write(0x06, &body)
}

pub fn octets(b: &[u8]) -> Vec<u8> {
    write(0x04, b)
}

pub fn bits(b: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(b);
    write(0x03, &v)
}

pub const NULL: [u8; 2] = [0x05, 0x00];

/// What the template functions need from a certificate.
pub struct Cert<'a> {
    pub raw: &'a [u8],
    pub authority_key_id: Option<Vec<u8>>,
    pub subject_key_id: Vec<u8>,
    pub dns: Vec<String>,
    pub ips: Vec<String>,
    pub emails: Vec<String>,
    pub uris: Vec<String>,
}

const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_SKI: &[u8] = &[0x55, 0x1d, 0x0e];
const OID_AKI: &[u8] = &[0x55, 0x1d, 0x23];

fn ip_string(b: &[u8]) -> Result<String, String> {
    match b.len() {
        4 => Ok(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            let v6 = std::net::Ipv6Addr::from(a);
            // Go prints IPv4-mapped addresses in dotted form.
            Ok(match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => v6.to_string(),
            })
        }
        n => Err(format!("x509: cannot parse IP address of length {n}")),
    }
}

fn ia5(b: &[u8]) -> Result<String, String> {
    if !b.is_ascii() {
        return Err("x509: SAN is not a valid IA5String".into());
    }
    Ok(String::from_utf8_lossy(b).into_owned())
}

pub fn parse_cert(der: &[u8]) -> Result<Cert<'_>, String> {
    let (cert, rest) = read(der).map_err(|e| format!("x509: {e}"))?;
    if cert.tag != 0x30 || !rest.is_empty() {
        return Err("x509: trailing data or not a certificate".into());
    }
    let parts = children(cert.content)?;
    if parts.len() != 3 || parts[0].tag != 0x30 {
        return Err("x509: malformed certificate".into());
    }
    let tbs = children(parts[0].content)?;
    let mut c = Cert {
        raw: cert.raw,
        authority_key_id: None,
        subject_key_id: Vec::new(),
        dns: Vec::new(),
        ips: Vec::new(),
        emails: Vec::new(),
        uris: Vec::new(),
    };
    // Minimum: serial, signature, issuer, validity, subject, spki.
    let start = usize::from(tbs.first().is_some_and(|t| t.tag == 0xa0));
    if tbs.len() < start + 6 {
        return Err("x509: malformed tbs certificate".into());
    }
    for t in &tbs[start + 6..] {
        if t.tag != 0xa3 {
            continue;
        }
        let (exts, _) = read(t.content)?;
        for ext in children(exts.content)? {
            let f = children(ext.content)?;
            let (Some(id), Some(val)) = (f.first(), f.last()) else {
                continue;
            };
            if val.tag != 0x04 {
                return Err("x509: malformed extension".into());
            }
            if id.content == OID_SAN {
                let (names, _) = read(val.content)?;
                for n in children(names.content)? {
                    match n.tag {
                        0x81 => c.emails.push(ia5(n.content)?),
                        0x82 => c.dns.push(ia5(n.content)?),
                        0x86 => c.uris.push(ia5(n.content)?),
                        0x87 => c.ips.push(ip_string(n.content)?),
                        _ => {}
                    }
                }
            } else if id.content == OID_SKI {
                let (k, _) = read(val.content)?;
                c.subject_key_id = k.content.to_vec();
            } else if id.content == OID_AKI {
                let (a, _) = read(val.content)?;
                for x in children(a.content)? {
                    if x.tag == 0x80 {
                        c.authority_key_id = Some(x.content.to_vec());
                    }
                }
            }
        }
    }
    Ok(c)
}
