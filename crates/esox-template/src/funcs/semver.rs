//! Sprig's `semver` and `semverCompare` (Masterminds/semver v3 semantics:
//! loose versions such as "v1.2", constraint operators, x-ranges, hyphen
//! ranges, `,` for AND and `||` for OR).

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use regex::Regex;

use super::{Registry, Ty, s};
use crate::value::{SemverValue, Value};

const SEMVER: &str = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

struct Res {
    version: Regex,
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn res() -> Result<&'static Res, String> {
    static R: OnceLock<Option<Res>> = OnceLock::new();
    R.get_or_init(|| {
        Some(Res {
            version: Regex::new(&format!("^{SEMVER}$")).ok()?,
            constraint: Regex::new(&format!(r"^\s*({OPS})\s*({CV})\s*$")).ok()?,
            range: Regex::new(&format!(r"\s*({CV})\s+-\s+({CV})\s*")).ok()?,
            find: Regex::new(&format!(r"({OPS})\s*({CV})")).ok()?,
            valid: Regex::new(&format!(
                r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
            ))
            .ok()?,
        })
    })
    .as_ref()
    .ok_or_else(|| "semver: internal pattern error".to_string())
}

fn only(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(allowed)
}

fn ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

pub fn parse_version(v: &str) -> Result<SemverValue, String> {
    let caps = res()?
        .version
        .captures(v)
        .ok_or("Invalid Semantic Version")?;
    let seg = |i: usize| -> Result<u64, String> {
        match caps.get(i) {
            None => Ok(0),
            Some(m) => m
                .as_str()
                .trim_start_matches('.')
                .parse::<u64>()
                .map_err(|e| format!("Error parsing version segment: {e}")),
        }
    };
    let pre = caps.get(5).map(|m| m.as_str()).unwrap_or("").to_string();
    let metadata = caps.get(8).map(|m| m.as_str()).unwrap_or("").to_string();
    for p in pre.split('.').filter(|_| !pre.is_empty()) {
        if only(p, |b| b.is_ascii_digit()) {
            if p.len() > 1 && p.starts_with('0') {
                return Err("Version segment starts with 0".into());
            }
        } else if !only(p, ident) {
            return Err("Invalid Prerelease string".into());
        }
    }
    if !metadata.is_empty() && !metadata.split('.').all(|p| only(p, ident)) {
        return Err("Invalid Metadata string".into());
    }
    Ok(SemverValue {
        major: seg(1)?,
        minor: seg(2)?,
        patch: seg(3)?,
        pre,
        metadata,
        original: v.to_string(),
    })
}

fn cmp_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(a), Ok(b)) => {
            if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

fn cmp_pre(v: &str, o: &str) -> Ordering {
    let (a, b): (Vec<&str>, Vec<&str>) = (v.split('.').collect(), o.split('.').collect());
    for i in 0..a.len().max(b.len()) {
        let d = cmp_pre_part(
            a.get(i).copied().unwrap_or(""),
            b.get(i).copied().unwrap_or(""),
        );
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

pub fn compare(v: &SemverValue, o: &SemverValue) -> Ordering {
    let c = (v.major, v.minor, v.patch).cmp(&(o.major, o.minor, o.patch));
    if c != Ordering::Equal {
        return c;
    }
    match (v.pre.is_empty(), o.pre.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => cmp_pre(&v.pre, &o.pre),
    }
}

struct Constraint {
    con: SemverValue,
    op: String,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn parse_constraint(c: &str) -> Result<Constraint, String> {
    if c.is_empty() {
        return Ok(Constraint {
            con: parse_version("0.0.0")?,
            op: String::new(),
            minor_dirty: false,
            patch_dirty: false,
            dirty: true,
        });
    }
    let m = res()?
        .constraint
        .captures(c)
        .ok_or_else(|| "improper constraint".to_string())?;
    let g = |i: usize| m.get(i).map(|x| x.as_str()).unwrap_or("");
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    let mut ver = g(2).to_string();
    if is_x(g(3)) || g(3).is_empty() {
        ver = format!("0.0.0{}", g(6));
        dirty = true;
    } else if is_x(g(4).trim_start_matches('.')) || g(4).is_empty() {
        minor_dirty = true;
        dirty = true;
        ver = format!("{}.0.0{}", g(3), g(6));
    } else if is_x(g(5).trim_start_matches('.')) || g(5).is_empty() {
        dirty = true;
        patch_dirty = true;
        ver = format!("{}{}.0{}", g(3), g(4), g(6));
    }
    let con = parse_version(&ver).map_err(|_| "constraint Parser Error".to_string())?;
    Ok(Constraint {
        con,
        op: g(1).to_string(),
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

fn tilde(v: &SemverValue, c: &Constraint) -> bool {
    if compare(v, &c.con) == Ordering::Less {
        return false;
    }
    if c.con.major == 0 && c.con.minor == 0 && c.con.patch == 0 && !c.minor_dirty && !c.patch_dirty
    {
        return true;
    }
    if v.major != c.con.major {
        return false;
    }
    v.minor == c.con.minor || c.minor_dirty
}

fn check(v: &SemverValue, c: &Constraint) -> bool {
    let pre_blocked = !v.pre.is_empty() && c.con.pre.is_empty();
    match c.op.as_str() {
        "" | "=" => {
            if pre_blocked {
                return false;
            }
            if c.dirty {
                tilde(v, c)
            } else {
                compare(v, &c.con) == Ordering::Equal
            }
        }
        "!=" => {
            if c.dirty {
                if pre_blocked {
                    return false;
                }
                if c.con.major != v.major {
                    return true;
                }
                if c.con.minor != v.minor && !c.minor_dirty {
                    return true;
                } else if c.minor_dirty {
                    return false;
                } else if c.con.patch != v.patch && !c.patch_dirty {
                    return true;
                } else if c.patch_dirty {
                    if !v.pre.is_empty() || !c.con.pre.is_empty() {
                        return cmp_pre(&v.pre, &c.con.pre) != Ordering::Equal;
                    }
                    return false;
                }
            }
            compare(v, &c.con) != Ordering::Equal
        }
        ">" => {
            if pre_blocked {
                return false;
            }
            if !c.dirty {
                return compare(v, &c.con) == Ordering::Greater;
            }
            if v.major > c.con.major {
                true
            } else if v.major < c.con.major || c.minor_dirty {
                false
            } else if c.patch_dirty {
                v.minor > c.con.minor
            } else {
                compare(v, &c.con) == Ordering::Greater
            }
        }
        "<" => !pre_blocked && compare(v, &c.con) == Ordering::Less,
        ">=" | "=>" => !pre_blocked && compare(v, &c.con) != Ordering::Less,
        "<=" | "=<" => {
            if pre_blocked {
                return false;
            }
            if !c.dirty {
                return compare(v, &c.con) != Ordering::Greater;
            }
            !(v.major > c.con.major
                || (v.major == c.con.major && v.minor > c.con.minor && !c.minor_dirty))
        }
        "~" | "~>" => !pre_blocked && tilde(v, c),
        "^" => {
            if pre_blocked || compare(v, &c.con) == Ordering::Less {
                return false;
            }
            if c.con.major > 0 || c.minor_dirty {
                return v.major == c.con.major;
            }
            if v.major > 0 {
                return false;
            }
            if c.con.minor > 0 || c.patch_dirty {
                return v.minor == c.con.minor;
            }
            if v.minor > 0 {
                return false;
            }
            c.con.patch == v.patch
        }
        _ => false,
    }
}

fn rewrite_range(i: &str) -> Result<String, String> {
    let r = res()?;
    let mut o = i.to_string();
    for caps in r.range.captures_iter(i) {
        let (Some(all), Some(a), Some(b)) = (caps.get(0), caps.get(1), caps.get(11)) else {
            continue;
        };
        o = o.replacen(
            all.as_str(),
            &format!(">= {}, <= {}", a.as_str(), b.as_str()),
            1,
        );
    }
    Ok(o)
}

pub fn semver_compare(constraint: &str, version: &str) -> Result<bool, String> {
    let r = res()?;
    let c = rewrite_range(constraint)?;
    let mut groups = Vec::new();
    for part in c.split("||") {
        if !r.valid.is_match(part) {
            return Err("improper constraint".to_string());
        }
        let found: Vec<&str> = r.find.find_iter(part).map(|m| m.as_str()).collect();
        let items = if found.is_empty() { vec![part] } else { found };
        groups.push(
            items
                .into_iter()
                .map(parse_constraint)
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let v = parse_version(version)?;
    Ok(groups.iter().any(|g| g.iter().all(|c| check(&v, c))))
}

pub fn register(r: &mut Registry) {
    r.add("semver", &[Ty::Str], None, |a| {
        parse_version(s(a, 0)).map(|v| Value::Semver(Arc::new(v)))
    });
    r.add("semverCompare", &[Ty::Str, Ty::Str], None, |a| {
        semver_compare(s(a, 0), s(a, 1)).map(Value::Bool)
    });
}
