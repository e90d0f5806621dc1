//! Base64/base32/hex encodings (with Go's error texts, which Sprig returns as
//! the result) and the path functions.

use super::{Registry, Ty, s};
use crate::value::Value;

type R = Result<Value, String>;

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn utf8(b: Vec<u8>) -> R {
    Ok(Value::str(crate::gostr::from_bytes(&b)))
}

fn gb(a: &[Value], i: usize) -> std::borrow::Cow<'_, [u8]> {
    crate::gostr::to_bytes(s(a, i))
}

fn b64_val(c: u8) -> Option<u32> {
    B64.iter().position(|x| *x == c).map(|p| p as u32)
}

/// base64.StdEncoding.DecodeString, with Go's error offsets.
pub fn b64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() * 3 / 4);
    let mut si = 0usize;
    loop {
        let mut dbuf = [0u32; 4];
        let mut dlen = 4;
        let mut j = 0usize;
        let mut end_err = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_val(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                end_err = Some(si);
            }
            dlen = j;
            break;
        }
        let val = (dbuf[0] << 18) | (dbuf[1] << 12) | (dbuf[2] << 6) | dbuf[3];
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(e) = end_err {
            return Err(e);
        }
        if dlen < 4 {
            return Ok(out);
        }
    }
}

pub fn b64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn b32_encode(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, x| (acc << 8) | *x as u64);
        let n = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < n {
                out.push(B32[((v >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32_decode(input: &[u8]) -> Result<Vec<u8>, usize> {
    let src: Vec<u8> = input
        .iter()
        .copied()
        .filter(|c| *c != b'\r' && *c != b'\n')
        .collect();
    let olen = src.len();
    let mut rest: &[u8] = &src;
    let mut out = Vec::new();
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            if rest.is_empty() {
                return Err(olen - rest.len() - j);
            }
            let c = rest[0];
            rest = &rest[1..];
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(olen);
                }
                for k in 0..(7 - j) {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(olen - rest.len() + k - 1);
                    }
                }
                dlen = j;
                end = true;
                if dlen == 1 || dlen == 3 || dlen == 6 {
                    return Err(olen - rest.len() - 1);
                }
                break;
            }
            match B32.iter().position(|x| *x == c) {
                Some(p) => dbuf[j] = p as u8,
                None => return Err(olen - rest.len() - 1),
            }
            j += 1;
        }
        let v = dbuf.iter().fold(0u64, |acc, x| (acc << 5) | *x as u64);
        let bytes = [
            (v >> 32) as u8,
            (v >> 24) as u8,
            (v >> 16) as u8,
            (v >> 8) as u8,
            v as u8,
        ];
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

fn hex_decode(st: &str) -> Result<Vec<u8>, String> {
    let b = st.as_bytes();
    let val = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len() / 2);
    let mut i = 0;
    while i + 1 < b.len() {
        let (Some(h), Some(l)) = (val(b[i]), val(b[i + 1])) else {
            let bad = if val(b[i]).is_none() { b[i] } else { b[i + 1] };
            return Err(format!(
                "encoding/hex: invalid byte: U+{:04X} {}",
                bad,
                crate::printf::go_quote(&(bad as char).to_string(), false).replace('"', "'")
            ));
        };
        out.push((h * 16 + l) as u8);
        i += 2;
    }
    if b.len() % 2 == 1 {
        if val(b[b.len() - 1]).is_none() {
            let bad = b[b.len() - 1];
            return Err(format!(
                "encoding/hex: invalid byte: U+{:04X} {}",
                bad,
                crate::printf::go_quote(&(bad as char).to_string(), false).replace('"', "'")
            ));
        }
        return Err("encoding/hex: odd length hex string".into());
    }
    Ok(out)
}

/// path.Clean.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    match t.rfind('/') {
        Some(i) => t[i + 1..].to_string(),
        None => t.to_string(),
    }
}

fn dir(p: &str) -> String {
    let d = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    clean(d)
}

fn ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

pub fn register(r: &mut Registry) {
    use Ty::*;
    r.add("b64enc", &[Str], None, |a| {
        Ok(Value::str(b64_encode(&gb(a, 0))))
    });
    r.add("b64dec", &[Str], None, |a| match b64_decode(&gb(a, 0)) {
        Ok(b) => utf8(b),
        Err(pos) => Ok(Value::str(format!(
            "illegal base64 data at input byte {pos}"
        ))),
    });
    r.add("b32enc", &[Str], None, |a| {
        Ok(Value::str(b32_encode(&gb(a, 0))))
    });
    r.add("b32dec", &[Str], None, |a| match b32_decode(&gb(a, 0)) {
        Ok(b) => utf8(b),
        Err(pos) => Ok(Value::str(format!(
            "illegal base32 data at input byte {pos}"
        ))),
    });
    // ESO's hexdec writes the decoder's error text as its output instead of failing.
    r.add("hexdec", &[Str], None, |a| match hex_decode(s(a, 0)) {
        Ok(b) => utf8(b),
        Err(e) => Ok(Value::str(e)),
    });
    for (n, f) in [
        ("base", base as fn(&str) -> String),
        ("osBase", base),
        ("dir", dir),
        ("osDir", dir),
        ("clean", clean),
        ("osClean", clean),
        ("ext", ext),
        ("osExt", ext),
    ] {
        let _ = f;
        r.add(
            n,
            &[Str],
            None,
            match n {
                "base" | "osBase" => |a| Ok(Value::str(base(s(a, 0)))),
                "dir" | "osDir" => |a| Ok(Value::str(dir(s(a, 0)))),
                "clean" | "osClean" => |a| Ok(Value::str(clean(s(a, 0)))),
                _ => |a| Ok(Value::str(ext(s(a, 0)))),
            },
        );
    }
    r.add("isAbs", &[Str], None, |a| {
        Ok(Value::Bool(s(a, 0).starts_with('/')))
    });
    r.add("osIsAbs", &[Str], None, |a| {
        Ok(Value::Bool(s(a, 0).starts_with('/')))
    });
}
