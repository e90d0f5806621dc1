//! Sprig's string functions.

use super::conv::strval;
use super::wordcase;
use super::{Registry, Ty, int, s};
use crate::printf::{go_quote, sprintf};
use crate::value::Value;

type R = Result<Value, String>;

fn ok(s: impl Into<std::sync::Arc<str>>) -> R {
    Ok(Value::Str(s.into()))
}

/// Go's unicode.IsSpace.
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' ' | '\u{85}' | '\u{A0}'
    ) || (c as u32 > 0xff && c.is_whitespace())
}

/// unicode.ToUpper: Go's simple (one rune to one rune) case mapping. Rust only offers the full
/// mapping; where that gives several characters, the simple mapping is the Greek iota-subscript
/// letters below (to their title-case forms) and otherwise the rune itself.
pub fn to_upper(c: char) -> char {
    let simple = match c as u32 {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => char::from_u32(c as u32 + 8),
        0x1FB3 => Some('\u{1FBC}'),
        0x1FC3 => Some('\u{1FCC}'),
        0x1FF3 => Some('\u{1FFC}'),
        _ => None,
    };
    if let Some(u) = simple {
        return u;
    }
    let mut u = c.to_uppercase();
    match (u.next(), u.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// unicode.ToLower: as `to_upper`; U+0130 (İ) is the one rune whose full lower-case mapping
/// has several characters while its simple one is `i`.
pub fn to_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut u = c.to_lowercase();
    match (u.next(), u.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// Go slices strings by byte; a cut inside a UTF-8 sequence cannot be a Rust string.
pub fn byte_slice(st: &str, a: usize, b: usize) -> Result<String, String> {
    let bytes = crate::gostr::to_bytes(st);
    if a > b || b > bytes.len() {
        return Err(format!(
            "runtime error: slice bounds out of range [{a}:{b}] with length {}",
            bytes.len()
        ));
    }
    Ok(crate::gostr::from_bytes(&bytes[a..b]))
}

fn latin1_bytes(bytes: impl Iterator<Item = u8>) -> String {
    // goutils writes each byte as the rune of the same value.
    bytes.map(|b| b as char).collect()
}

fn abbreviate_full(st: &str, offset: i64, max_width: i64) -> Result<String, String> {
    if st.is_empty() {
        return Ok(String::new());
    }
    if max_width < 4 {
        return Ok(String::new());
    }
    let len = crate::gostr::byte_len(st) as i64;
    if len <= max_width {
        return Ok(st.to_string());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    if offset <= 4 {
        return Ok(format!(
            "{}...",
            byte_slice(st, 0, (max_width - 3) as usize)?
        ));
    }
    if max_width < 7 {
        return Ok(String::new());
    }
    if offset + max_width - 3 < len {
        let inner = abbreviate_full(
            &byte_slice(st, offset as usize, len as usize)?,
            0,
            max_width - 3,
        )?;
        return Ok(format!("...{inner}"));
    }
    Ok(format!(
        "...{}",
        byte_slice(st, (len - (max_width - 3)) as usize, len as usize)?
    ))
}

fn title(st: &str) -> String {
    // strings.Title: letters after a separator are title-cased.
    let is_sep = |c: char| -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphanumeric() {
            return false;
        }
        is_space(c)
    };
    let mut prev = ' ';
    st.chars()
        .map(|c| {
            let r = if is_sep(prev) { to_upper(c) } else { c };
            prev = c;
            r
        })
        .collect()
}

fn untitle(st: &str) -> String {
    let mut next = true;
    st.chars()
        .map(|c| {
            if is_space(c) {
                next = true;
                c
            } else if next {
                next = false;
                to_lower(c)
            } else {
                c
            }
        })
        .collect()
}

/// goutils' SwapCase: upper and title case to lower, lower case to upper, or to title case at
/// the start of a word.
fn swapcase(st: &str) -> String {
    let mut ws = true;
    wordcase::go_runes(st)
        .into_iter()
        .map(|c| {
            if wordcase::is_upper(c) || wordcase::is_title(c) {
                ws = false;
                to_lower(c)
            } else if wordcase::is_lower(c) {
                if ws {
                    ws = false;
                    wordcase::to_title(c)
                } else {
                    to_upper(c)
                }
            } else {
                ws = is_space(c);
                c
            }
        })
        .collect()
}

fn initials(st: &str) -> String {
    let mut gap = true;
    let mut out = Vec::new();
    for b in crate::gostr::to_bytes(st).iter().copied() {
        if is_space(b as char) {
            gap = true;
        } else if gap {
            out.push(b);
            gap = false;
        }
    }
    latin1_bytes(out.into_iter())
}

fn nospace(st: &str) -> String {
    let b = crate::gostr::to_bytes(st);
    if b.iter().all(|x| !is_space(*x as char)) {
        return st.to_string();
    }
    latin1_bytes(b.iter().copied().filter(|x| !is_space(*x as char)))
}

fn wrap_custom(st: &str, len: i64, nl: &str, long_words: bool) -> Result<String, String> {
    if st.is_empty() {
        return Ok(String::new());
    }
    let nl = if nl.is_empty() { "\n" } else { nl };
    let w = len.max(1) as usize;
    let b = crate::gostr::to_bytes(st);
    let n = b.len();
    let mut off = 0usize;
    let mut out: Vec<u8> = Vec::new();
    let nl = nl.as_bytes();
    while n - off > w {
        if b[off] == b' ' {
            off += 1;
            continue;
        }
        let end = (w + off + 1).min(n);
        match b[off..end].iter().rposition(|c| *c == b' ') {
            Some(i) => {
                out.extend_from_slice(&b[off..off + i]);
                out.extend_from_slice(nl);
                off += i + 1;
            }
            None => {
                if long_words {
                    out.extend_from_slice(&b[off..off + w]);
                    out.extend_from_slice(nl);
                    off += w;
                } else {
                    let end = w + off;
                    match b[end..].iter().position(|c| *c == b' ') {
                        None => {
                            out.extend_from_slice(&b[off..n]);
                            off = n;
                        }
                        Some(i) => {
                            out.extend_from_slice(&b[off..end + i]);
                            out.extend_from_slice(nl);
                            off = end + i + 1;
                        }
                    }
                }
            }
        }
    }
    out.extend_from_slice(&b[off..n]);
    Ok(crate::gostr::from_bytes(&out))
}

fn go_trim<'a>(st: &'a str, cutset: &str) -> &'a str {
    st.trim_matches(|c| cutset.contains(c))
}

pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(b))
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn adler32(b: &[u8]) -> u32 {
    let (mut a, mut c) = (1u32, 0u32);
    for x in b {
        a = (a + *x as u32) % 65521;
        c = (c + a) % 65521;
    }
    (c << 16) | a
}

pub fn random_bytes(n: usize) -> Result<Vec<u8>, String> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).map_err(|e| format!("random source unavailable: {e}"))?;
    Ok(v)
}

/// Refuses a result of `len` bytes beyond the output limit before it is built, so that a
/// template cannot make esox allocate what it can never write.
pub fn check_result_size(func: &str, len: u128) -> Result<(), String> {
    let limit = crate::exec::MAX_OUTPUT;
    if len > limit as u128 {
        return Err(format!(
            "{func}: the result ({len} bytes) exceeds the limit of {limit} bytes"
        ));
    }
    Ok(())
}

fn random_from(func: &str, count: i64, alphabet: &[u8]) -> R {
    if count < 0 {
        return Err(format!(
            "requested random string length {count} is less than 0"
        ));
    }
    check_result_size(func, count as u128)?;
    let mut out = String::with_capacity(count as usize);
    let mut buf = random_bytes(count as usize * 2)?;
    for pair in buf.chunks_mut(2) {
        let r = u16::from_le_bytes([pair[0], pair[1]]) as usize;
        out.push(alphabet[r % alphabet.len()] as char);
    }
    ok(out)
}

const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const NUM: &[u8] = b"0123456789";

fn ascii_printable() -> Vec<u8> {
    (32u8..127).collect()
}

pub fn register(r: &mut Registry) {
    use Ty::*;
    r.add("hello", &[], None, |_| ok("Hello!"));
    r.add("abbrev", &[Int, Str], None, |a| {
        let w = int(a, 0);
        if w < 4 {
            return ok(s(a, 1));
        }
        abbreviate_full(s(a, 1), 0, w).map(Value::str)
    });
    r.add("abbrevboth", &[Int, Int, Str], None, |a| {
        let (l, rt) = (int(a, 0), int(a, 1));
        if rt < 4 || l > 0 && rt < 7 {
            return ok(s(a, 2));
        }
        abbreviate_full(s(a, 2), l, rt).map(Value::str)
    });
    r.add("trunc", &[Int, Str], None, |a| {
        let (c, st) = (int(a, 0), s(a, 1));
        let n = crate::gostr::byte_len(st) as i64;
        if c < 0 && n + c > 0 {
            return byte_slice(st, (n + c) as usize, n as usize).map(Value::str);
        }
        if c >= 0 && n > c {
            return byte_slice(st, 0, c as usize).map(Value::str);
        }
        ok(st)
    });
    r.add("trim", &[Str], None, |a| ok(s(a, 0).trim_matches(is_space)));
    r.add("upper", &[Str], None, |a| {
        ok(s(a, 0).chars().map(to_upper).collect::<String>())
    });
    r.add("lower", &[Str], None, |a| {
        ok(s(a, 0).chars().map(to_lower).collect::<String>())
    });
    r.add("title", &[Str], None, |a| ok(title(s(a, 0))));
    r.add("untitle", &[Str], None, |a| ok(untitle(s(a, 0))));
    r.add("substr", &[Int, Int, Str], None, |a| {
        let (start, end, st) = (int(a, 0), int(a, 1), s(a, 2));
        let n = crate::gostr::byte_len(st) as i64;
        if start < 0 {
            if end < 0 {
                return Err("runtime error: slice bounds out of range".into());
            }
            return byte_slice(st, 0, end as usize).map(Value::str);
        }
        if end < 0 || end > n {
            return byte_slice(st, start as usize, n as usize).map(Value::str);
        }
        byte_slice(st, start as usize, end as usize).map(Value::str)
    });
    r.add("repeat", &[Int, Str], None, |a| {
        let n = int(a, 0);
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        let st = s(a, 1);
        if (st.len() as u128) * (n as u128) > crate::exec::MAX_OUTPUT as u128 {
            return Err("strings: Repeat output exceeds the output limit".into());
        }
        ok(st.repeat(n as usize))
    });
    r.add("trimall", &[Str, Str], None, |a| {
        ok(go_trim(s(a, 1), s(a, 0)))
    });
    r.add("trimAll", &[Str, Str], None, |a| {
        ok(go_trim(s(a, 1), s(a, 0)))
    });
    r.add("trimSuffix", &[Str, Str], None, |a| {
        ok(s(a, 1).strip_suffix(s(a, 0)).unwrap_or(s(a, 1)))
    });
    r.add("trimPrefix", &[Str, Str], None, |a| {
        ok(s(a, 1).strip_prefix(s(a, 0)).unwrap_or(s(a, 1)))
    });
    r.add("nospace", &[Str], None, |a| ok(nospace(s(a, 0))));
    r.add("initials", &[Str], None, |a| ok(initials(s(a, 0))));
    r.add("randAlphaNum", &[Int], None, |a| {
        random_from("randAlphaNum", int(a, 0), ALNUM)
    });
    r.add("randAlpha", &[Int], None, |a| {
        random_from("randAlpha", int(a, 0), ALPHA)
    });
    r.add("randAscii", &[Int], None, |a| {
        random_from("randAscii", int(a, 0), &ascii_printable())
    });
    r.add("randNumeric", &[Int], None, |a| {
        random_from("randNumeric", int(a, 0), NUM)
    });
    r.add("swapcase", &[Str], None, |a| ok(swapcase(s(a, 0))));
    r.add("shuffle", &[Str], None, |a| {
        let mut chars: Vec<char> = s(a, 0).chars().collect();
        let rnd = random_bytes(chars.len() * 4)?;
        for i in (1..chars.len()).rev() {
            let x = u32::from_le_bytes([rnd[i * 4], rnd[i * 4 + 1], rnd[i * 4 + 2], rnd[i * 4 + 3]])
                as usize;
            chars.swap(i, x % (i + 1));
        }
        ok(chars.into_iter().collect::<String>())
    });
    r.add("camelcase", &[Str], None, |a| {
        ok(wordcase::pascal_case(s(a, 0)))
    });
    r.add("snakecase", &[Str], None, |a| {
        ok(wordcase::lower_case_words(s(a, 0), '_'))
    });
    r.add("kebabcase", &[Str], None, |a| {
        ok(wordcase::lower_case_words(s(a, 0), '-'))
    });
    r.add("wrap", &[Int, Str], None, |a| {
        wrap_custom(s(a, 1), int(a, 0), "", false).map(Value::str)
    });
    r.add("wrapWith", &[Int, Str, Str], None, |a| {
        wrap_custom(s(a, 2), int(a, 0), s(a, 1), true).map(Value::str)
    });
    r.add("contains", &[Str, Str], None, |a| {
        Ok(Value::Bool(s(a, 1).contains(s(a, 0))))
    });
    r.add("hasPrefix", &[Str, Str], None, |a| {
        Ok(Value::Bool(s(a, 1).starts_with(s(a, 0))))
    });
    r.add("hasSuffix", &[Str, Str], None, |a| {
        Ok(Value::Bool(s(a, 1).ends_with(s(a, 0))))
    });
    r.add("quote", &[], Some(Any), |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| go_quote(&strval(v), false))
            .collect();
        ok(parts.join(" "))
    });
    r.add("squote", &[], Some(Any), |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| sprintf("'%v'", std::slice::from_ref(v)))
            .collect();
        ok(parts.join(" "))
    });
    r.add("cat", &[], Some(Any), |a| {
        let v: Vec<Value> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .cloned()
            .collect();
        let f = "%v ".repeat(v.len());
        ok(sprintf(f.trim_matches(is_space), &v))
    });
    r.add("indent", &[Int, Str], None, |a| {
        indent("indent", int(a, 0), s(a, 1), "")
    });
    r.add("nindent", &[Int, Str], None, |a| {
        indent("nindent", int(a, 0), s(a, 1), "\n")
    });
    r.add("replace", &[Str, Str, Str], None, |a| {
        let (src, old, new) = (s(a, 2), s(a, 0), s(a, 1));
        let count = if old.is_empty() {
            src.chars().count() as u128 + 1
        } else {
            src.matches(old).count() as u128
        };
        let len = src.len() as u128 + count * new.len() as u128;
        check_result_size("replace", len.saturating_sub(count * old.len() as u128))?;
        ok(go_replace(src, old, new))
    });
    r.add("plural", &[Str, Str, Int], None, |a| {
        ok(if int(a, 2) == 1 { s(a, 0) } else { s(a, 1) })
    });
    r.add("sha1sum", &[Str], None, |a| {
        use sha1::Digest;
        ok(hex(&sha1::Sha1::digest(crate::gostr::to_bytes(s(a, 0)))))
    });
    r.add("sha256sum", &[Str], None, |a| {
        ok(sha256_hex(&crate::gostr::to_bytes(s(a, 0))))
    });
    r.add("sha512sum", &[Str], None, |a| {
        use sha2::Digest;
        ok(hex(&sha2::Sha512::digest(crate::gostr::to_bytes(s(a, 0)))))
    });
    r.add("adler32sum", &[Str], None, |a| {
        ok(adler32(&crate::gostr::to_bytes(s(a, 0))).to_string())
    });
    r.add("toString", &[Any], None, |a| ok(strval(&a[0])));
    r.add("fail", &[Str], None, |a| Err(s(a, 0).to_string()));
}

/// strings.Replace(src, old, new, -1): an empty `old` inserts between runes.
/// Sprig's indent/nindent: every line prefixed with `width` spaces.
fn indent(func: &str, width: i64, st: &str, lead: &str) -> R {
    if width < 0 {
        return Err("strings: negative Repeat count".into());
    }
    let lines = st.matches('\n').count() as u128 + 1;
    check_result_size(
        func,
        lines * width as u128 + st.len() as u128 + lead.len() as u128,
    )?;
    let pad = " ".repeat(width as usize);
    ok(format!(
        "{lead}{pad}{}",
        st.replace('\n', &format!("\n{pad}"))
    ))
}

pub fn go_replace(src: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        let mut out = String::with_capacity(src.len() + new.len() * (src.len() + 1));
        out.push_str(new);
        for c in src.chars() {
            out.push(c);
            out.push_str(new);
        }
        return out;
    }
    src.replace(old, new)
}
