//! Sprig's `urlParse` and `urlJoin`, following Go's net/url parsing,
//! escaping and serialisation.

use std::collections::BTreeMap;

use super::{Registry, Ty};
use crate::gostr;
use crate::value::{Elem, Value};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Fragment,
}

fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone) && b"!$&'()*+,;=:[]<>\"".contains(&c) {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => {
            return match mode {
                Mode::Path => c == b'?',
                Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
                Mode::Fragment => false,
                Mode::Host | Mode::Zone => true,
            };
        }
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

fn unhex(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap_or(0) as u8
}

fn unescape(s: &[u8], mode: Mode) -> Result<Vec<u8>, String> {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                if i + 2 >= s.len()
                    || !s[i + 1].is_ascii_hexdigit()
                    || !s[i + 2].is_ascii_hexdigit()
                {
                    let e = &s[i..(i + 3).min(s.len())];
                    return Err(format!(
                        "invalid URL escape {}",
                        crate::printf::go_quote(&gostr::from_bytes(e), false)
                    ));
                }
                let esc = &s[i..i + 3];
                if mode == Mode::Host && unhex(s[i + 1]) < 8 && esc != b"%25" {
                    return Err(format!(
                        "invalid URL escape {}",
                        crate::printf::go_quote(&gostr::from_bytes(esc), false)
                    ));
                }
                if mode == Mode::Zone {
                    let v = unhex(s[i + 1]) << 4 | unhex(s[i + 2]);
                    if esc != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                        return Err(format!(
                            "invalid URL escape {}",
                            crate::printf::go_quote(&gostr::from_bytes(esc), false)
                        ));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!(
                        "invalid character {} in host name",
                        crate::printf::go_quote(&(c as char).to_string(), false)
                    ));
                }
                i += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            out.push(unhex(s[i + 1]) << 4 | unhex(s[i + 2]));
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn escape(s: &[u8], mode: Mode) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if should_escape(c, mode) {
            out.extend_from_slice(format!("%{c:02X}").as_bytes());
        } else {
            out.push(c);
        }
    }
    out
}

fn valid_encoded(s: &[u8], mode: Mode) -> bool {
    s.iter()
        .all(|&c| b"!$&'()*+,;=:@[]%".contains(&c) || !should_escape(c, mode))
}

fn valid_port(p: &[u8]) -> bool {
    p.is_empty() || (p[0] == b':' && p[1..].iter().all(u8::is_ascii_digit))
}

#[derive(Default)]
struct Url {
    scheme: Vec<u8>,
    opaque: Vec<u8>,
    user: Option<(Vec<u8>, Option<Vec<u8>>)>,
    host: Vec<u8>,
    path: Vec<u8>,
    raw_path: Vec<u8>,
    omit_host: bool,
    force_query: bool,
    raw_query: Vec<u8>,
    fragment: Vec<u8>,
    raw_fragment: Vec<u8>,
}

fn rfind(s: &[u8], c: u8) -> Option<usize> {
    s.iter().rposition(|x| *x == c)
}

fn parse_host(host: &[u8]) -> Result<Vec<u8>, String> {
    if host.starts_with(b"[") {
        let i = rfind(host, b']').ok_or("missing ']' in host")?;
        if !valid_port(&host[i + 1..]) {
            return Err(format!(
                "invalid port {} after host",
                crate::printf::go_quote(&gostr::from_bytes(&host[i + 1..]), false)
            ));
        }
        if let Some(z) = host[..i].windows(3).position(|w| w == b"%25") {
            let mut v = unescape(&host[..z], Mode::Host)?;
            v.extend(unescape(&host[z..i], Mode::Zone)?);
            v.extend(unescape(&host[i..], Mode::Host)?);
            return Ok(v);
        }
    } else if let Some(i) = rfind(host, b':')
        && !valid_port(&host[i..])
    {
        return Err(format!(
            "invalid port {} after host",
            crate::printf::go_quote(&gostr::from_bytes(&host[i..]), false)
        ));
    }
    unescape(host, Mode::Host)
}

fn valid_userinfo(s: &[u8]) -> bool {
    let st = String::from_utf8_lossy(s);
    st.chars()
        .all(|r| r.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(r))
}

fn parse_url(raw: &[u8]) -> Result<Url, String> {
    let (u, frag) = match raw.iter().position(|c| *c == b'#') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    let mut url = parse_no_frag(u)?;
    if let Some(f) = frag {
        url.fragment = unescape(f, Mode::Fragment)?;
        url.raw_fragment = if escape(&url.fragment, Mode::Fragment) == f {
            Vec::new()
        } else {
            f.to_vec()
        };
    }
    Ok(url)
}

fn parse_no_frag(raw: &[u8]) -> Result<Url, String> {
    if raw.iter().any(|b| *b < b' ' || *b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = Url::default();
    if raw == b"*" {
        url.path = b"*".to_vec();
        return Ok(url);
    }
    let mut rest: &[u8] = raw;
    for (i, &c) in raw.iter().enumerate() {
        if c.is_ascii_alphabetic() {
            continue;
        }
        if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.') {
            if i == 0 {
                break;
            }
            continue;
        }
        if c == b':' {
            if i == 0 {
                return Err("missing protocol scheme".into());
            }
            url.scheme = raw[..i].to_ascii_lowercase();
            rest = &raw[i + 1..];
        }
        break;
    }
    let qcount = rest.iter().filter(|c| **c == b'?').count();
    if rest.ends_with(b"?") && qcount == 1 {
        url.force_query = true;
        rest = &rest[..rest.len() - 1];
    } else if let Some(i) = rest.iter().position(|c| *c == b'?') {
        url.raw_query = rest[i + 1..].to_vec();
        rest = &rest[..i];
    }
    if !rest.starts_with(b"/") {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_vec();
            return Ok(url);
        }
        let seg = rest.split(|c| *c == b'/').next().unwrap_or(&[]);
        if seg.contains(&b':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with(b"///")) && rest.starts_with(b"//") {
        let mut authority = &rest[2..];
        rest = &[];
        if let Some(i) = authority.iter().position(|c| *c == b'/') {
            rest = &authority[i..];
            authority = &authority[..i];
        }
        match rfind(authority, b'@') {
            None => url.host = parse_host(authority)?,
            Some(i) => {
                url.host = parse_host(&authority[i + 1..])?;
                let ui = &authority[..i];
                if !valid_userinfo(ui) {
                    return Err("net/url: invalid userinfo".into());
                }
                url.user = Some(match ui.iter().position(|c| *c == b':') {
                    None => (unescape(ui, Mode::UserPassword)?, None),
                    Some(c) => (
                        unescape(&ui[..c], Mode::UserPassword)?,
                        Some(unescape(&ui[c + 1..], Mode::UserPassword)?),
                    ),
                });
            }
        }
    } else if !url.scheme.is_empty() && rest.starts_with(b"/") {
        url.omit_host = true;
    }
    url.path = unescape(rest, Mode::Path)?;
    url.raw_path = if escape(&url.path, Mode::Path) == rest {
        Vec::new()
    } else {
        rest.to_vec()
    };
    Ok(url)
}

fn userinfo_string(u: &(Vec<u8>, Option<Vec<u8>>)) -> Vec<u8> {
    let mut s = escape(&u.0, Mode::UserPassword);
    if let Some(p) = &u.1 {
        s.push(b':');
        s.extend(escape(p, Mode::UserPassword));
    }
    s
}

fn url_string(u: &Url) -> Vec<u8> {
    let mut buf = Vec::new();
    if !u.scheme.is_empty() {
        buf.extend_from_slice(&u.scheme);
        buf.push(b':');
    }
    if !u.opaque.is_empty() {
        buf.extend_from_slice(&u.opaque);
    } else {
        let has_authority = !u.scheme.is_empty() || !u.host.is_empty() || u.user.is_some();
        let omitted = u.omit_host && u.host.is_empty() && u.user.is_none();
        if has_authority && !omitted {
            if !u.host.is_empty() || !u.path.is_empty() || u.user.is_some() {
                buf.extend_from_slice(b"//");
            }
            if let Some(ui) = &u.user {
                buf.extend(userinfo_string(ui));
                buf.push(b'@');
            }
            if !u.host.is_empty() {
                buf.extend(escape(&u.host, Mode::Host));
            }
        }
        let path = if !u.raw_path.is_empty()
            && valid_encoded(&u.raw_path, Mode::Path)
            && unescape(&u.raw_path, Mode::Path).is_ok_and(|p| p == u.path)
        {
            u.raw_path.clone()
        } else if u.path == b"*" {
            b"*".to_vec()
        } else {
            escape(&u.path, Mode::Path)
        };
        if !path.is_empty() && path[0] != b'/' && !u.host.is_empty() {
            buf.push(b'/');
        }
        if buf.is_empty() {
            let seg = path.split(|c| *c == b'/').next().unwrap_or(&[]);
            if seg.contains(&b':') {
                buf.extend_from_slice(b"./");
            }
        }
        buf.extend(path);
    }
    if u.force_query || !u.raw_query.is_empty() {
        buf.push(b'?');
        buf.extend_from_slice(&u.raw_query);
    }
    if !u.fragment.is_empty() {
        buf.push(b'#');
        if !u.raw_fragment.is_empty()
            && valid_encoded(&u.raw_fragment, Mode::Fragment)
            && unescape(&u.raw_fragment, Mode::Fragment).is_ok_and(|f| f == u.fragment)
        {
            buf.extend_from_slice(&u.raw_fragment);
        } else {
            buf.extend(escape(&u.fragment, Mode::Fragment));
        }
    }
    buf
}

fn hostname(host: &[u8]) -> &[u8] {
    let mut h = host;
    if let Some(c) = rfind(h, b':')
        && valid_port(&h[c..])
    {
        h = &h[..c];
    }
    if h.starts_with(b"[") && h.ends_with(b"]") && h.len() >= 2 {
        h = &h[1..h.len() - 1];
    }
    h
}

/// An error text with its quoted parts (pieces of the input) removed.
fn without_quoted(e: &str) -> String {
    let mut out = String::with_capacity(e.len());
    let mut chars = e.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        let mut escaped = false;
        for q in chars.by_ref() {
            match (escaped, q) {
                (false, '\\') => escaped = true,
                (false, '"') => break,
                _ => escaped = false,
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn url_parse(v: &str) -> Result<Value, String> {
    let u = parse_url(&gostr::to_bytes(v)).map_err(|e| {
        // Go quotes the URL (and parts of it) in its error; userinfo may hold a password.
        format!("unable to parse url: {}", without_quoted(&e))
    })?;
    let st = |b: &[u8]| Value::str(gostr::from_bytes(b));
    let mut m = BTreeMap::new();
    m.insert("scheme".to_string(), st(&u.scheme));
    m.insert("host".to_string(), st(&u.host));
    m.insert("hostname".to_string(), st(hostname(&u.host)));
    m.insert("path".to_string(), st(&u.path));
    m.insert("query".to_string(), st(&u.raw_query));
    m.insert("opaque".to_string(), st(&u.opaque));
    m.insert("fragment".to_string(), st(&u.fragment));
    m.insert(
        "userinfo".to_string(),
        st(&u.user.as_ref().map(userinfo_string).unwrap_or_default()),
    );
    Ok(Value::map(m))
}

fn url_join(d: &Value) -> Result<Value, String> {
    let Value::Map(m, Elem::Any) = d else {
        return Ok(Value::str(""));
    };
    let get = |k: &str| -> Result<Vec<u8>, String> {
        match m.get(k) {
            None => Ok(Vec::new()),
            Some(Value::Str(s)) => Ok(gostr::to_bytes(&s).into_owned()),
            Some(other) => Err(format!(
                "unable to parse {k} key, must be of type string, but {} found",
                other.kind_name()
            )),
        }
    };
    let mut u = Url {
        scheme: get("scheme")?,
        host: get("host")?,
        path: get("path")?,
        raw_query: get("query")?,
        opaque: get("opaque")?,
        fragment: get("fragment")?,
        ..Url::default()
    };
    let userinfo = get("userinfo")?;
    if !userinfo.is_empty() {
        let mut tmp = b"proto://".to_vec();
        tmp.extend_from_slice(&userinfo);
        tmp.extend_from_slice(b"@host");
        let parsed =
            parse_url(&tmp).map_err(|e| format!("unable to parse userinfo in dict: {e}"))?;
        u.user = parsed.user;
    }
    Ok(Value::str(gostr::from_bytes(&url_string(&u))))
}

pub fn register(r: &mut Registry) {
    r.add("urlParse", &[Ty::Str], None, |a| url_parse(super::s(a, 0)));
    r.add("urlJoin", &[Ty::MapAny], None, |a| url_join(&a[0]));
}
