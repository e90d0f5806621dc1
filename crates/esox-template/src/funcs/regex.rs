//! Sprig's regular-expression functions (Go RE2 syntax; Perl classes are ASCII as in Go).

use super::{Registry, Ty, int, s};
use crate::value::Value;

type R = Result<Value, String>;

/// Go's `\d`, `\w`, `\s`, `\b` are ASCII-only; Rust's are Unicode unless told otherwise.
fn translate(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut in_class = false;
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match n {
                    'd' | 'w' | 's' | 'D' | 'W' | 'S' if in_class => match n {
                        'd' => out.push_str("0-9"),
                        'w' => out.push_str("0-9A-Za-z_"),
                        's' => out.push_str("\\t\\n\\x0C\\r "),
                        _ => {
                            out.push('\\');
                            out.push(n);
                        }
                    },
                    'd' | 'w' | 'D' | 'W' | 'b' | 'B' => {
                        out.push_str("(?-u:\\");
                        out.push(n);
                        out.push(')');
                    }
                    's' => out.push_str("[\\t\\n\\x0C\\r ]"),
                    'S' => out.push_str("[^\\t\\n\\x0C\\r ]"),
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '[' if in_class => {
                if chars.peek() == Some(&':') {
                    out.push('[');
                } else {
                    out.push_str("\\[");
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

pub fn compile(p: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(&translate(p))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            format!(
                "error parsing regexp: {}",
                e.to_string().lines().last().unwrap_or("invalid pattern")
            )
        })
}

fn find_all(re: &regex::Regex, st: &str, n: i64) -> Vec<(usize, usize)> {
    if n == 0 {
        return Vec::new();
    }
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut prev_end: Option<usize> = None;
    for m in re.find_iter(st) {
        // Go ignores an empty match that abuts the previous match.
        if m.start() == m.end() && prev_end == Some(m.start()) {
            continue;
        }
        out.push((m.start(), m.end()));
        prev_end = Some(m.end());
        if n > 0 && out.len() as i64 >= n {
            break;
        }
    }
    out
}

fn split(re: &regex::Regex, st: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !re.as_str().is_empty() && st.is_empty() {
        return vec![String::new()];
    }
    let matches = find_all(re, st, n);
    let mut parts = Vec::new();
    let (mut beg, mut end) = (0usize, 0usize);
    for (ms, me) in matches {
        if n > 0 && parts.len() as i64 == n - 1 {
            break;
        }
        end = ms;
        if me != 0 {
            parts.push(st[beg..end].to_string());
        }
        beg = me;
    }
    if end != st.len() {
        parts.push(st[beg..].to_string());
    }
    parts
}

pub fn quote_meta(st: &str) -> String {
    let mut out = String::with_capacity(st.len());
    for c in st.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn replace_all(re: &regex::Regex, src: &str, repl: &str, literal: bool) -> String {
    if literal {
        re.replace_all(src, regex::NoExpand(repl)).into_owned()
    } else {
        re.replace_all(src, repl).into_owned()
    }
}

pub fn register(r: &mut Registry) {
    use Ty::*;
    r.add("regexMatch", &[Str, Str], None, |a| {
        Ok(Value::Bool(
            compile(s(a, 0))
                .map(|re| re.is_match(s(a, 1)))
                .unwrap_or(false),
        ))
    });
    r.add("mustRegexMatch", &[Str, Str], None, |a| {
        Ok(Value::Bool(compile(s(a, 0))?.is_match(s(a, 1))))
    });
    let find_all_f: super::FuncImpl = |a| {
        let re = compile(s(a, 0))?;
        let st = s(a, 1);
        let found = find_all(&re, st, int(a, 2));
        if found.is_empty() {
            return Ok(Value::nil_list(crate::value::Elem::Str));
        }
        Ok(Value::str_list(
            found
                .into_iter()
                .map(|(x, y)| st[x..y].to_string())
                .collect(),
        ))
    };
    r.add("regexFindAll", &[Str, Str, Int], None, find_all_f);
    r.add("mustRegexFindAll", &[Str, Str, Int], None, find_all_f);
    let find: super::FuncImpl = |a| {
        R::Ok(Value::str(
            compile(s(a, 0))?
                .find(s(a, 1))
                .map(|m| m.as_str())
                .unwrap_or(""),
        ))
    };
    r.add("regexFind", &[Str, Str], None, find);
    r.add("mustRegexFind", &[Str, Str], None, find);
    let rep: super::FuncImpl = |a| {
        Ok(Value::str(replace_all(
            &compile(s(a, 0))?,
            s(a, 1),
            s(a, 2),
            false,
        )))
    };
    r.add("regexReplaceAll", &[Str, Str, Str], None, rep);
    r.add("mustRegexReplaceAll", &[Str, Str, Str], None, rep);
    let rep_lit: super::FuncImpl = |a| {
        Ok(Value::str(replace_all(
            &compile(s(a, 0))?,
            s(a, 1),
            s(a, 2),
            true,
        )))
    };
    r.add("regexReplaceAllLiteral", &[Str, Str, Str], None, rep_lit);
    r.add(
        "mustRegexReplaceAllLiteral",
        &[Str, Str, Str],
        None,
        rep_lit,
    );
    let sp: super::FuncImpl = |a| {
        let re = compile(s(a, 0))?;
        if int(a, 2) == 0 {
            return Ok(Value::nil_list(crate::value::Elem::Str));
        }
        Ok(Value::str_list(split(&re, s(a, 1), int(a, 2))))
    };
    r.add("regexSplit", &[Str, Str, Int], None, sp);
    r.add("mustRegexSplit", &[Str, Str, Int], None, sp);
    r.add("regexQuoteMeta", &[Str], None, |a| {
        Ok(Value::str(quote_meta(s(a, 0))))
    });
}
