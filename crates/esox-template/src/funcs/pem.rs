//! ESO's PEM helpers: `filterPEM`, `filterCertChain`, `certSANs`, with Go's
//! encoding/pem decoding and encoding rules.

use std::collections::BTreeMap;

use super::der::{Cert, parse_cert};
use super::encoding::{b64_decode, b64_encode};
use super::{Registry, Ty, s};
use crate::gostr;
use crate::value::Value;

pub struct Block {
    pub typ: String,
    pub headers: BTreeMap<String, String>,
    pub bytes: Vec<u8>,
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn get_line(data: &[u8]) -> (&[u8], &[u8]) {
    let (mut i, j) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (i, i + 1),
        None => (data.len(), data.len()),
    };
    if j > i && i > 0 && data[i - 1] == b'\r' {
        i -= 1;
    }
    let mut line = &data[..i];
    while let [rest @ .., b' ' | b'\t'] = line {
        line = rest;
    }
    (line, &data[j..])
}

/// encoding/pem.Decode: the first block and the rest of the input.
///
/// A rejected block makes Go start over after its BEGIN line; this loops where Go recurses, so
/// an input of many rejected blocks cannot exhaust the stack (Go's CVE-2022-24675).
pub fn decode(data: &[u8]) -> (Option<Block>, &[u8]) {
    let mut cur = data;
    loop {
        let rest = if cur.starts_with(b"-----BEGIN ") {
            &cur[11..]
        } else if let Some(i) = find(cur, b"\n-----BEGIN ") {
            &cur[i + 12..]
        } else {
            return (None, data);
        };
        let (type_line, rest) = get_line(rest);
        let body = match type_line.strip_suffix(b"-----") {
            Some(typ) => block_body(typ, rest),
            None => Body::Rejected,
        };
        match body {
            Body::Found(b, r) => return (Some(b), r),
            // Every later block would look for its END line in a suffix of this one's rest,
            // so none can succeed: stop instead of rescanning the input once per BEGIN line.
            Body::NoEnd => return (None, data),
            Body::Rejected => cur = rest,
        }
    }
}

enum Body<'a> {
    Found(Block, &'a [u8]),
    Rejected,
    NoEnd,
}

fn block_body<'a>(typ: &[u8], mut rest: &'a [u8]) -> Body<'a> {
    let mut headers = BTreeMap::new();
    loop {
        if rest.is_empty() {
            return Body::NoEnd;
        }
        let (line, next) = get_line(rest);
        let Some(c) = line.iter().position(|b| *b == b':') else {
            break;
        };
        let k = String::from_utf8_lossy(&line[..c]).trim().to_string();
        let v = String::from_utf8_lossy(&line[c + 1..]).trim().to_string();
        headers.insert(k, v);
        rest = next;
    }
    let (end_index, trailer_index) = if headers.is_empty() && rest.starts_with(b"-----END ") {
        (0, 9)
    } else {
        let Some(i) = find(rest, b"\n-----END ") else {
            return Body::NoEnd;
        };
        (i, i + 10)
    };
    let trailer = &rest[trailer_index..];
    let tlen = typ.len() + 5;
    if trailer.len() < tlen {
        return Body::Rejected;
    }
    let (t, rest_of_line) = trailer.split_at(tlen);
    if !t.starts_with(typ) || !t.ends_with(b"-----") {
        return Body::Rejected;
    }
    if !get_line(rest_of_line).0.is_empty() {
        return Body::Rejected;
    }
    let b64: Vec<u8> = rest[..end_index]
        .iter()
        .copied()
        .filter(|b| *b != b' ' && *b != b'\t')
        .collect();
    let Ok(bytes) = b64_decode(&b64) else {
        return Body::Rejected;
    };
    let after = &rest[end_index + 9..];
    let (_, after) = get_line(after);
    Body::Found(
        Block {
            typ: String::from_utf8_lossy(typ).into_owned(),
            headers,
            bytes,
        },
        after,
    )
}

/// encoding/pem.Encode.
pub fn encode(b: &Block) -> String {
    let mut out = format!("-----BEGIN {}-----\n", b.typ);
    if !b.headers.is_empty() {
        if let Some(v) = b.headers.get("Proc-Type") {
            out.push_str(&format!("Proc-Type: {v}\n"));
        }
        for (k, v) in &b.headers {
            if k != "Proc-Type" {
                out.push_str(&format!("{k}: {v}\n"));
            }
        }
        out.push('\n');
    }
    let enc = b64_encode(&b.bytes);
    for chunk in enc.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {}-----\n", b.typ));
    out
}

pub fn encode_der(typ: &str, der: &[u8]) -> String {
    encode(&Block {
        typ: typ.to_string(),
        headers: BTreeMap::new(),
        bytes: der.to_vec(),
    })
}

fn trim_junk(input: &[u8]) -> &[u8] {
    match find(input, b"-----BEGIN") {
        Some(i) => &input[i..],
        None => input,
    }
}

fn go_equal_fold(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

pub fn filter_pem(typ: &str, input: &str) -> Result<String, String> {
    let raw = gostr::to_bytes(input);
    let mut data = trim_junk(&raw);
    let mut out = String::new();
    let rest = loop {
        let (block, rest) = decode(data);
        data = rest;
        let Some(b) = block else { break rest };
        if go_equal_fold(&b.typ, typ) {
            out.push_str(&encode(&b));
        }
    };
    if out.is_empty() && !rest.is_empty() {
        return Err("error filtering pem: found junk".into());
    }
    Ok(out)
}

pub fn cert_sans(input: &str) -> Result<Vec<String>, String> {
    let raw = gostr::to_bytes(input);
    let (block, _) = decode(trim_junk(&raw));
    let Some(b) = block else {
        return Err("failed to decode PEM block".into());
    };
    let c = parse_cert(&b.bytes).map_err(|e| format!("failed to parse certificate: {e}"))?;
    let mut v = c.dns;
    v.extend(c.ips);
    v.extend(c.emails);
    v.extend(c.uris);
    Ok(v)
}

fn aki_bytes<'c>(c: &'c Cert<'_>) -> &'c [u8] {
    c.authority_key_id.as_deref().unwrap_or(&[])
}

/// Orders the certificates leaf → intermediates → root by key identifiers
/// (ESO's fetchX509CertChains; no signature or trust checks).
pub fn order_chain(blocks: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    let certs: Vec<Cert<'_>> = blocks
        .iter()
        .map(|b| parse_cert(b))
        .collect::<Result<_, _>>()?;
    let n = certs.len();
    let mut parent: Vec<Option<usize>> = vec![None; n];
    let mut is_parent = vec![false; n];
    for i in 0..n {
        for j in 0..n {
            if i != j && aki_bytes(&certs[i]) == certs[j].subject_key_id.as_slice() {
                is_parent[j] = true;
                parent[i] = Some(j);
                break;
            }
        }
    }
    let mut leaf = None;
    for (i, parent_flag) in is_parent.iter().enumerate() {
        if !parent_flag {
            if leaf.is_some() {
                return Err("found multiple leaf or disjunct certificates".into());
            }
            leaf = Some(i);
        }
    }
    let mut cur = leaf.ok_or("no leaf certificate found")?;
    let mut out = Vec::new();
    loop {
        out.push(certs[cur].raw.to_vec());
        if out.len() > n {
            return Err("constructing chain resulted in cycle".into());
        }
        match parent[cur] {
            Some(p) => cur = p,
            None => break,
        }
    }
    Ok(out)
}

fn cert_blocks(data: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut d = data;
    loop {
        let (b, rest) = decode(d);
        d = rest;
        match b {
            Some(b) => v.push(b.bytes),
            None => return v,
        }
    }
}

fn is_root(c: &Cert<'_>) -> bool {
    match &c.authority_key_id {
        None => true,
        Some(a) => *a == c.subject_key_id,
    }
}

pub fn filter_cert_chain(kind: &str, input: &str) -> Result<String, String> {
    let raw = gostr::to_bytes(input);
    let ordered = order_chain(&cert_blocks(&raw))?;
    let certs: Vec<Cert<'_>> = ordered
        .iter()
        .map(|b| parse_cert(b))
        .collect::<Result<_, _>>()?;
    match kind {
        "leaf" => {
            let c = &certs[0];
            if c.authority_key_id
                .as_ref()
                .is_some_and(|a| *a != c.subject_key_id)
            {
                return Ok(encode_der("CERTIFICATE", c.raw));
            }
        }
        "intermediate" => {
            let mut out = String::new();
            for c in certs.iter().skip(1) {
                if is_root(c) {
                    break;
                }
                out.push_str(&encode_der("CERTIFICATE", c.raw));
            }
            return Ok(out);
        }
        "root" => {
            if let Some(c) = certs.last()
                && is_root(c)
            {
                return Ok(encode_der("CERTIFICATE", c.raw));
            }
        }
        _ => {}
    }
    Ok(String::new())
}

pub fn register(r: &mut Registry) {
    r.add("filterPEM", &[Ty::Str, Ty::Str], None, |a| {
        filter_pem(s(a, 0), s(a, 1)).map(Value::str)
    });
    r.add("certSANs", &[Ty::Str], None, |a| {
        cert_sans(s(a, 0)).map(Value::str_list)
    });
    r.add("filterCertChain", &[Ty::Str, Ty::Str], None, |a| {
        filter_cert_chain(s(a, 0), s(a, 1)).map(Value::str)
    });
}
