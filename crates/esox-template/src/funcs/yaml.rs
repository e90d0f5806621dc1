//! ESO's `toYaml` / `fromYaml` (sigs.k8s.io/yaml: JSON first, then go-yaml v2).
//! The emitter reproduces go-yaml v2's block style: sorted keys with its
//! "natural" order, indentless sequences in mappings, plain/single/double/
//! literal scalar selection and folding of long scalars at column 80.

use super::{Registry, Ty, s};
use crate::value::Value;

enum Y {
    Null,
    Bool(bool),
    /// An integer as JSON wrote it.
    Int(String),
    Float(f64),
    Str(String),
    Seq(Vec<Y>),
    Map(Vec<(String, Y)>),
}

/// The YAML tree go-yaml sees after sigs.k8s.io/yaml's JSON round trip.
fn to_y(v: &Value, depth: usize) -> Result<Y, String> {
    if depth > 1000 {
        return Err("nesting too deep".into());
    }
    Ok(match v {
        Value::Nil => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Int(i, _) => Y::Int(i.to_string()),
        Value::Duration(d) => Y::Int(d.to_string()),
        Value::Float(f) => {
            let text = super::dicts::to_json(&Value::Float(*f), false, None)?;
            if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                Y::Int(text)
            } else {
                Y::Float(*f)
            }
        }
        Value::Str(s) => Y::Str(String::new().pipe_utf8(s)),
        Value::Semver(sv) => Y::Str(sv.canonical()),
        Value::Cert(c) => to_y(
            &Value::map(
                [
                    ("Cert".to_string(), Value::Str(c.cert.clone())),
                    ("Key".to_string(), Value::Str(c.key.clone())),
                ]
                .into_iter()
                .collect(),
            ),
            depth + 1,
        )?,
        Value::Time(_) => Y::Str(
            super::dicts::to_json(v, false, None)?
                .trim_matches('"')
                .to_string(),
        ),
        Value::List(..) if v.is_nil_list() => Y::Null,
        Value::List(l, _) => Y::Seq(
            l.iter()
                .map(|x| to_y(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m, _) => {
            let mut entries: Vec<(String, Y)> = m
                .entries()
                .iter()
                .map(|(k, x)| Ok((k.clone(), to_y(x, depth + 1)?)))
                .collect::<Result<_, String>>()?;
            entries.sort_by(|a, b| {
                if key_less(&a.0, &b.0) {
                    std::cmp::Ordering::Less
                } else if key_less(&b.0, &a.0) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            Y::Map(entries)
        }
    })
}

trait PipeUtf8 {
    fn pipe_utf8(self, orig: &str) -> String;
}
impl PipeUtf8 for String {
    // JSON replaces invalid UTF-8 with U+FFFD before YAML sees the string.
    fn pipe_utf8(self, orig: &str) -> String {
        orig.chars()
            .map(|c| {
                if crate::gostr::escaped_byte(c).is_some() {
                    '\u{FFFD}'
                } else {
                    c
                }
            })
            .collect()
    }
}

/// go-yaml v2's key order: numbers inside strings compare numerically.
fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Whether go-yaml would read the plain scalar as something other than a string.
fn resolves_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    let Some(first) = s.bytes().next() else {
        return true;
    };
    match first {
        b'.' => super::conv::parse_float(s).is_some(),
        b'+' | b'-' | b'0'..=b'9' => {
            if is_timestamp(s) || is_base60_float(s) {
                return true;
            }
            let plain = s.replace('_', "");
            if super::conv::parse_int_base0(&plain).is_some() || parse_uint_base0(&plain) {
                return true;
            }
            if yaml_style_float(&plain) && plain.parse::<f64>().is_ok() {
                return true;
            }
            let bin = plain
                .strip_prefix("0b")
                .or_else(|| plain.strip_prefix("-0b"));
            bin.is_some_and(|d| {
                !d.is_empty() && d.bytes().all(|c| c == b'0' || c == b'1') && d.len() <= 64
            })
        }
        _ => false,
    }
}

fn parse_uint_base0(s: &str) -> bool {
    let (radix, d) = if let Some(r) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (8, r)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    !d.is_empty() && u64::from_str_radix(d, radix).is_ok() && !d.starts_with('+')
}

fn yaml_style_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    if !s.contains(':') {
        return false;
    }
    let body = s.trim_start_matches(['-', '+']);
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| !f.bytes().all(|c| c.is_ascii_digit() || c == b'_')) {
        return false;
    }
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    if !head.starts_with(|c: char| c.is_ascii_digit())
        || !head.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && rest.iter().all(|p| match p.as_bytes() {
            [d] => d.is_ascii_digit(),
            [a, d] => (b'0'..=b'5').contains(a) && d.is_ascii_digit(),
            _ => false,
        })
}

fn is_timestamp(s: &str) -> bool {
    // go-yaml accepts 2006-1-2, optionally followed by a time.
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let rest = &s[5..];
    let date_end = rest.find(['T', 't', ' ']).unwrap_or(rest.len());
    let date = &rest[..date_end];
    let mut it = date.split('-');
    let (Some(m), Some(d), None) = (it.next(), it.next(), it.next()) else {
        return false;
    };
    let ok = |x: &str, max: u32| {
        !x.is_empty()
            && x.len() <= 2
            && x.bytes().all(|c| c.is_ascii_digit())
            && x.parse::<u32>().is_ok_and(|v| (1..=max).contains(&v))
    };
    if !ok(m, 12) || !ok(d, 31) {
        return false;
    }
    if date_end == rest.len() {
        return true;
    }
    // A time part: accept go-yaml's time layouts approximately.
    let t = rest[date_end + 1..].trim_start();
    let tb = t.as_bytes();
    tb.len() >= 5 && tb[0].is_ascii_digit() && t.contains(':')
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn yaml_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

struct Analysis {
    multiline: bool,
    block_plain: bool,
    single: bool,
    block: bool,
}

fn analyze(v: &str) -> Analysis {
    if v.is_empty() {
        return Analysis {
            multiline: false,
            block_plain: true,
            single: true,
            block: false,
        };
    }
    let chars: Vec<char> = v.chars().collect();
    let (mut block_ind, mut line_breaks, mut special) = (false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut prev_space, mut prev_break) =
        (false, false, false, false);
    if v.starts_with("---") || v.starts_with("...") {
        block_ind = true;
    }
    let mut preceded_ws = true;
    let n = chars.len();
    for i in 0..n {
        let c = chars[i];
        let followed_ws =
            i + 1 >= n || matches!(chars[i + 1], ' ' | '\t') || is_break(chars[i + 1]);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_ind = true,
                '?' | ':' if followed_ws => block_ind = true,
                '-' if followed_ws => block_ind = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_ws => block_ind = true,
                '#' if preceded_ws => block_ind = true,
                _ => {}
            }
        }
        if !yaml_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == n {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == n {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = matches!(c, ' ' | '\t') || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks || block_ind {
        a.block_plain = false;
    }
    a
}

const BEST_WIDTH: usize = 80;

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        if c == '\n' {
            self.column = 0;
        } else {
            self.column += 1;
        }
    }
    fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }
    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put('\n');
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }
    fn indicator(&mut self, ind: &str, need_ws: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        self.put_str(ind);
        self.whitespace = false;
        self.indention = false;
    }

    fn scalar(&mut self, v: &str, requested: Style, simple_key: bool, indent: usize) {
        let a = analyze(v);
        let mut style = requested;
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain || (v.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block || simple_key) {
            style = Style::Double;
        }
        let breaks_ok = !simple_key;
        match style {
            Style::Plain => self.plain(v, breaks_ok, indent),
            Style::Single => self.single(v, breaks_ok, indent),
            Style::Double => self.double(v, breaks_ok, indent),
            Style::Literal => self.literal(v, indent),
        }
    }

    fn plain(&mut self, v: &str, breaks_ok: bool, indent: usize) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = v.chars().collect();
        let mut spaces = false;
        for i in 0..chars.len() {
            let c = chars[i];
            if c == ' ' {
                if breaks_ok
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn single(&mut self, v: &str, breaks_ok: bool, indent: usize) {
        self.indicator("'", true);
        let chars: Vec<char> = v.chars().collect();
        let n = chars.len();
        let (mut spaces, mut breaks) = (false, false);
        for i in 0..n {
            let c = chars[i];
            if c == ' ' {
                if breaks_ok
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < n
                    && chars[i + 1] != ' '
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put('\n');
                }
                self.put('\n');
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.indicator("'", false);
    }

    fn double(&mut self, v: &str, breaks_ok: bool, indent: usize) {
        self.indicator("\"", true);
        let chars: Vec<char> = v.chars().collect();
        let n = chars.len();
        let mut spaces = false;
        for i in 0..n {
            let c = chars[i];
            if !yaml_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\x07' => self.put('a'),
                    '\x08' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\x0b' => self.put('v'),
                    '\x0c' => self.put('f'),
                    '\r' => self.put('r'),
                    '\x1b' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{A0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    c => {
                        let u = c as u32;
                        let s = if u <= 0xFF {
                            format!("x{u:02X}")
                        } else if u <= 0xFFFF {
                            format!("u{u:04X}")
                        } else {
                            format!("U{u:08X}")
                        };
                        self.put_str(&s);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if breaks_ok && !spaces && self.column > BEST_WIDTH && i > 0 && i + 1 < n {
                    self.write_indent(indent);
                    if chars[i + 1] == ' ' {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.indicator("\"", false);
    }

    fn literal(&mut self, v: &str, indent: usize) {
        self.indicator("|", true);
        let chars: Vec<char> = v.chars().collect();
        if chars.first().is_some_and(|c| *c == ' ' || is_break(*c)) {
            self.indicator("2", false);
        }
        let n = chars.len();
        let chomp = if n == 0 || !is_break(chars[n - 1]) {
            Some("-")
        } else if n == 1 || is_break(chars[n - 2]) {
            Some("+")
        } else {
            None
        };
        if let Some(c) = chomp {
            self.indicator(c, false);
        }
        self.put('\n');
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in chars {
            if is_break(c) {
                self.put('\n');
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }

    fn string(&mut self, s: &str, simple_key: bool, indent: usize) {
        let style = if s.contains('\n') {
            Style::Literal
        } else if !resolves_non_string(s) {
            Style::Plain
        } else {
            Style::Double
        };
        self.scalar(s, style, simple_key, indent);
    }

    fn node_scalar(&mut self, y: &Y, indent: usize) {
        match y {
            Y::Null => self.scalar("null", Style::Plain, false, indent),
            Y::Bool(b) => self.scalar(
                if *b { "true" } else { "false" },
                Style::Plain,
                false,
                indent,
            ),
            Y::Int(t) => self.scalar(t, Style::Plain, false, indent),
            Y::Float(f) => {
                let t = match crate::printf::format_float(*f, 'g', None).as_str() {
                    "+Inf" => ".inf".to_string(),
                    "-Inf" => "-.inf".to_string(),
                    "NaN" => ".nan".to_string(),
                    other => other.to_string(),
                };
                self.scalar(&t, Style::Plain, false, indent)
            }
            Y::Str(s) => self.string(s, false, indent),
            Y::Seq(_) => self.indicator("[]", true),
            Y::Map(_) => self.indicator("{}", true),
        }
    }

    /// A block mapping whose keys sit at `indent`.
    fn map(&mut self, entries: &[(String, Y)], indent: usize, first_inline: bool) {
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 || !first_inline {
                self.write_indent(indent);
            }
            self.string(k, true, indent);
            self.indicator(":", false);
            match v {
                Y::Map(m) if !m.is_empty() => self.map(m, indent + 2, false),
                Y::Seq(s) if !s.is_empty() => self.seq(s, indent, false),
                other => self.node_scalar(other, indent + 2),
            }
        }
    }

    /// A block sequence whose dashes sit at `indent`.
    fn seq(&mut self, items: &[Y], indent: usize, first_inline: bool) {
        for (i, v) in items.iter().enumerate() {
            if i > 0 || !first_inline {
                self.write_indent(indent);
            }
            self.indicator("-", true);
            match v {
                Y::Map(m) if !m.is_empty() => {
                    self.put(' ');
                    self.whitespace = true;
                    self.indention = true;
                    self.map(m, indent + 2, true)
                }
                Y::Seq(s) if !s.is_empty() => {
                    self.put(' ');
                    self.whitespace = true;
                    self.indention = true;
                    self.seq(s, indent + 2, true)
                }
                other => self.node_scalar(other, indent + 2),
            }
        }
    }
}

pub fn to_yaml(v: &Value) -> Result<String, String> {
    let y = to_y(v, 0)?;
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
    };
    match &y {
        Y::Map(m) if !m.is_empty() => e.map(m, 0, true),
        Y::Seq(s) if !s.is_empty() => e.seq(s, 0, true),
        other => e.node_scalar(other, 2),
    }
    Ok(e.out.trim_end_matches('\n').to_string())
}

/// How deep YAML input may nest, in flow (`[[[`) and block (indentation) style alike: the
/// default budget of serde-saphyr (its parser also stops at 255 levels of flow nesting, which
/// very deep flow input reaches first). go-yaml v2 has no limit, v3 allows 10,000. It also bounds
/// the recursion of everything that walks the decoded value.
pub const MAX_YAML_DEPTH: usize = 64;

fn is_nesting_limit(parser_message: &str) -> bool {
    parser_message.contains("recursion limit exceeded")
        || parser_message.contains("budget breached: Depth")
}

pub fn from_yaml(s: &str) -> Value {
    let mut opts = serde_saphyr::Options::default();
    opts.strict_booleans = false;
    opts.legacy_octal_numbers = true;
    let mut m = std::collections::BTreeMap::new();
    match serde_saphyr::from_str_with_options::<serde_json::Value>(s, opts) {
        Ok(serde_json::Value::Object(o)) => {
            for (k, v) in o {
                m.insert(k, super::dicts::from_serde(v));
            }
        }
        Ok(serde_json::Value::Null) => {}
        Ok(other) => {
            let kind = match other {
                serde_json::Value::String(_) => "string",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::Bool(_) => "bool",
                _ => "array",
            };
            m.insert(
                "Error".to_string(),
                Value::str(format!("error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}")),
            );
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid YAML");
            let limit = if is_nesting_limit(&text) {
                format!(" (YAML may nest at most {MAX_YAML_DEPTH} levels)")
            } else {
                String::new()
            };
            m.insert(
                "Error".to_string(),
                Value::str(format!("error converting YAML to JSON: {first}{limit}")),
            );
        }
    }
    Value::map(m)
}

pub fn register(r: &mut Registry) {
    r.add("toYaml", &[Ty::Any], None, |a| {
        Ok(Value::str(to_yaml(&a[0]).unwrap_or_default()))
    });
    r.add("fromYaml", &[Ty::Str], None, |a| Ok(from_yaml(s(a, 0))));
}

/// Why a rendered `KeysAndValues` template is not a YAML map: where, and what kind of problem,
/// never the text (a rendered template holds secret values, and the YAML parser's own messages
/// quote the offending line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}{}", .position.map(|(l, c)| format!(" at line {l}, column {c}")).unwrap_or_default())]
pub struct YamlMapError {
    /// `invalid YAML` (saying so when it nests deeper than [`MAX_YAML_DEPTH`]) or
    /// `not a YAML map of keys to values`.
    pub kind: &'static str,
    /// 1-based line and column, when the parser knows them.
    pub position: Option<(u64, u64)>,
}

/// Parses a rendered `KeysAndValues` template (a YAML map) into keys and JSON values, with
/// errors that carry no part of the input.
pub fn parse_yaml_map(
    rendered: &str,
) -> Result<std::collections::BTreeMap<String, serde_json::Value>, YamlMapError> {
    match serde_saphyr::from_str::<serde_json::Value>(rendered) {
        Ok(serde_json::Value::Object(o)) => Ok(o.into_iter().collect()),
        Ok(serde_json::Value::Null) => Ok(Default::default()),
        Ok(_) => Err(YamlMapError {
            kind: "not a YAML map of keys to values",
            position: None,
        }),
        Err(e) => Err(YamlMapError {
            kind: if is_nesting_limit(&e.to_string()) {
                "invalid YAML: it nests more than 64 levels deep"
            } else {
                "invalid YAML"
            },
            position: e.location().map(|l| (l.line(), l.column())),
        }),
    }
}
