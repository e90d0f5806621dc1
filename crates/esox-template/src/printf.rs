//! Go's fmt package for template values: Sprint, Sprintln, Sprintf and the
//! `%v` rendering of maps, slices and nil that templates print.

use crate::value::{Elem, IntKind, Value};

/// strconv.Quote (or QuoteToASCII when `ascii`).
pub fn go_quote(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        quote_char_into(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

fn quote_rune(c: char, ascii: bool) -> String {
    let mut out = String::from("'");
    quote_char_into(&mut out, c, '\'', ascii);
    out.push('\'');
    out
}

/// Approximates unicode.IsPrint: letters, marks, numbers, punctuation,
/// symbols and the ASCII space.
pub fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    !matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0xD800..=0xF8FF | 0xFEFF | 0xFFF9..=0xFFFB | 0xFFFE | 0xFFFF
        | 0xE0001..=0xE007F | 0xF0000..)
}

fn quote_char_into(out: &mut String, c: char, q: char, ascii: bool) {
    if let Some(b) = crate::gostr::escaped_byte(c) {
        out.push_str(&format!("\\x{b:02x}"));
        return;
    }
    if c == q || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii {
        if (c as u32) < 0x80 && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// What `{{ x }}` writes.
pub fn print_value(v: &Value) -> String {
    match v {
        Value::Nil => "<no value>".into(),
        Value::Str(s) => s.to_string(),
        _ => {
            let mut f = Fmt::default();
            let mut out = String::new();
            f.value(&mut out, v, 'v', 0);
            out
        }
    }
}

/// fmt.Sprint: spaces between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        Fmt::default().value(&mut out, a, 'v', 0);
        prev_string = is_string;
    }
    out
}

/// fmt.Sprintln: always spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        Fmt::default().value(&mut out, a, 'v', 0);
    }
    out.push('\n');
    out
}

#[derive(Default, Clone)]
struct Fmt {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    wid: Option<usize>,
    prec: Option<usize>,
    sharp_v: bool,
    plus_v: bool,
}

fn rune_count(s: &str) -> usize {
    s.chars().count()
}

impl Fmt {
    fn pad(&self, out: &mut String, s: &str) {
        let Some(w) = self.wid else {
            out.push_str(s);
            return;
        };
        let n = rune_count(s);
        if n >= w {
            out.push_str(s);
            return;
        }
        let fill = if self.zero { '0' } else { ' ' };
        if self.minus {
            out.push_str(s);
            out.extend(std::iter::repeat_n(' ', w - n));
        } else {
            out.extend(std::iter::repeat_n(fill, w - n));
            out.push_str(s);
        }
    }

    fn pad_no_zero(&self, out: &mut String, s: &str) {
        let mut f = self.clone();
        f.zero = false;
        f.pad(out, s);
    }

    fn integer(&self, out: &mut String, v: i128, base: u32, verb: char, upper: bool) {
        let negative = v < 0;
        let mut u = v.unsigned_abs();
        let mut prec = 0usize;
        if let Some(p) = self.prec {
            prec = p;
            if p == 0 && u == 0 {
                let mut f = self.clone();
                f.zero = false;
                f.pad(out, "");
                return;
            }
        } else if self.zero
            && let Some(w) = self.wid
            && !self.minus
        {
            prec = w;
            if negative || self.plus || self.space {
                prec = prec.saturating_sub(1);
            }
        }
        let digits = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        let mut buf: Vec<u8> = Vec::new();
        if u == 0 {
            buf.push(b'0');
        }
        while u > 0 {
            buf.push(digits[(u % base as u128) as usize]);
            u /= base as u128;
        }
        while buf.len() < prec {
            buf.push(b'0');
        }
        if self.sharp {
            match base {
                2 => buf.extend_from_slice(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => buf.extend_from_slice(if upper { b"X0" } else { b"x0" }),
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend_from_slice(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.plus {
            buf.push(b'+');
        } else if self.space {
            buf.push(b' ');
        }
        buf.reverse();
        let s = String::from_utf8_lossy(&buf).into_owned();
        self.pad_no_zero(out, &s);
    }

    fn float(&self, out: &mut String, v: f64, verb: char, default_prec: Option<usize>) {
        let prec = self.prec.or(default_prec);
        let mut num = format_float(v, verb, prec);
        if !(num.starts_with('-') || num.starts_with('+')) {
            num.insert(0, '+');
        }
        if self.space && num.starts_with('+') && !self.plus {
            num.replace_range(0..1, " ");
        }
        let second = num.as_bytes().get(1).copied();
        if second == Some(b'I') || second == Some(b'N') {
            let mut s = num.as_str();
            if second == Some(b'N') && !self.space && !self.plus {
                s = &s[1..];
            }
            self.pad_no_zero(out, s);
            return;
        }
        if self.sharp && verb != 'b' {
            num = sharp_float(&num, verb, prec);
        }
        if self.plus || !num.starts_with('+') {
            if self.zero
                && !self.minus
                && let Some(w) = self.wid
                && w > num.len()
            {
                out.push_str(&num[..1]);
                out.extend(std::iter::repeat_n('0', w - num.len()));
                out.push_str(&num[1..]);
                return;
            }
            self.pad(out, &num);
            return;
        }
        self.pad(out, &num[1..]);
    }

    fn string(&self, out: &mut String, s: &str, verb: char) {
        match verb {
            'v' if self.sharp_v => self.pad(out, &go_quote(s, false)),
            'v' | 's' => {
                let s = self.truncate(s);
                self.pad(out, s);
            }
            'q' => {
                let s = self.truncate(s);
                let q = if self.sharp
                    && !s.contains(['`'])
                    && s.chars().all(|c| c == '\t' || !c.is_control())
                {
                    format!("`{s}`")
                } else {
                    go_quote(s, self.plus)
                };
                self.pad(out, &q);
            }
            'x' | 'X' => self.hex_bytes(out, &crate::gostr::to_bytes(s), verb == 'X'),
            _ => self.bad_verb(out, &Value::str(s), verb),
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        match self.prec {
            Some(p) => match s.char_indices().nth(p) {
                Some((i, _)) => &s[..i],
                None => s,
            },
            None => s,
        }
    }

    fn hex_bytes(&self, out: &mut String, b: &[u8], upper: bool) {
        let b = match self.prec {
            Some(p) if p < b.len() => &b[..p],
            _ => b,
        };
        let mut s = String::new();
        for (i, byte) in b.iter().enumerate() {
            if self.space && i > 0 {
                s.push(' ');
            }
            if self.sharp && (self.space || i == 0) {
                s.push_str(if upper { "0X" } else { "0x" });
            }
            if upper {
                s.push_str(&format!("{byte:02X}"));
            } else {
                s.push_str(&format!("{byte:02x}"));
            }
        }
        self.pad(out, &s);
    }

    fn bad_verb(&self, out: &mut String, v: &Value, verb: char) {
        out.push_str("%!");
        out.push(verb);
        out.push('(');
        if let Value::Nil = v {
            out.push_str("<nil>");
        } else {
            out.push_str(&v.type_name());
            out.push('=');
            // Go prints the operand with %v and the flags of the bad verb.
            let mut f = self.clone();
            f.sharp_v = false;
            f.plus_v = false;
            f.value(out, v, 'v', 1);
        }
        out.push(')');
    }

    /// fmt's printValue / printArg for one operand.
    fn value(&mut self, out: &mut String, v: &Value, verb: char, depth: usize) {
        if verb == 'T' {
            if let Value::Nil = v {
                // Go pads "<nil>" for %T but does not truncate it.
                self.pad(out, "<nil>");
            } else {
                self.string(out, &v.type_name(), 's');
            }
            return;
        }
        match v {
            Value::Nil => {
                if depth > 0 {
                    out.push_str(if self.sharp_v {
                        "interface {}(nil)"
                    } else {
                        "<nil>"
                    });
                } else if verb == 'v' {
                    self.pad(out, "<nil>");
                } else {
                    self.bad_verb(out, v, verb);
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(out, if *b { "true" } else { "false" }),
                _ => self.bad_verb(out, v, verb),
            },
            Value::Int(i, kind) => self.int_value(out, v, *i as i128, *kind, verb),
            Value::Duration(d) => match verb {
                'v' | 's' | 'q' | 'x' | 'X' if !self.sharp_v => {
                    self.string(out, &format_duration(*d), verb)
                }
                _ => self.int_value(out, v, *d as i128, IntKind::Int64, verb),
            },
            Value::Float(f) => match verb {
                'v' => self.float(out, *f, 'g', None),
                'b' | 'g' | 'G' | 'x' | 'X' => self.float(out, *f, verb, None),
                'f' | 'e' | 'E' | 'F' => self.float(out, *f, verb, Some(6)),
                _ => self.bad_verb(out, v, verb),
            },
            Value::Str(s) => self.string(out, s, verb),
            // A struct of two strings: Go prints `{<Cert> <Key>}` with the verb applied to each.
            Value::Cert(c) => {
                out.push('{');
                self.string(out, &c.cert, verb);
                out.push(' ');
                self.string(out, &c.key, verb);
                out.push('}');
            }
            Value::Semver(sv) => match verb {
                'v' | 's' | 'q' | 'x' | 'X' if !self.sharp_v => {
                    self.string(out, &sv.canonical(), verb)
                }
                _ => {
                    // Without a String method for this verb Go prints the
                    // pointed-to struct field by field.
                    out.push_str("&{");
                    let fields = [
                        Value::Int(sv.major as i64, IntKind::Uint64),
                        Value::Int(sv.minor as i64, IntKind::Uint64),
                        Value::Int(sv.patch as i64, IntKind::Uint64),
                        Value::str(sv.pre.as_str()),
                        Value::str(sv.metadata.as_str()),
                        Value::str(sv.original.as_str()),
                    ];
                    for (i, f) in fields.iter().enumerate() {
                        if i > 0 {
                            out.push(' ');
                        }
                        self.value(out, f, verb, depth + 1);
                    }
                    out.push('}');
                }
            },
            Value::Time(t) => match verb {
                'v' | 's' | 'q' | 'x' | 'X' => {
                    let s = crate::funcs::dates::time_string(t);
                    self.string(out, &s, verb)
                }
                _ => self.bad_verb(out, v, verb),
            },
            Value::List(..) if self.sharp_v && v.is_nil_list() => {
                out.push_str(&v.type_name());
                out.push_str("(nil)");
            }
            Value::List(items, elem) => {
                if self.sharp_v {
                    out.push_str(&v.type_name());
                    out.push('{');
                    for (i, it) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        self.value(out, it, verb, depth + 1);
                    }
                    out.push('}');
                    return;
                }
                let _ = elem;
                out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    self.value(out, it, verb, depth + 1);
                }
                out.push(']');
            }
            Value::Map(m, _) => {
                if self.sharp_v {
                    out.push_str(&v.type_name());
                    out.push('{');
                    for (i, (k, it)) in m.entries().iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        self.value(out, &Value::str(k.as_str()), verb, depth + 1);
                        out.push(':');
                        self.value(out, it, verb, depth + 1);
                    }
                    out.push('}');
                    return;
                }
                out.push_str("map[");
                for (i, (k, it)) in m.entries().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    self.value(out, &Value::str(k.as_str()), verb, depth + 1);
                    out.push(':');
                    self.value(out, it, verb, depth + 1);
                }
                out.push(']');
            }
        }
    }

    fn int_value(&mut self, out: &mut String, v: &Value, i: i128, kind: IntKind, verb: char) {
        match verb {
            'v' if self.sharp_v && kind == IntKind::Uint8 => {
                let mut f = self.clone();
                f.sharp = true;
                f.integer(out, i, 16, 'x', false)
            }
            'v' | 'd' => self.integer(out, i, 10, verb, false),
            'b' => self.integer(out, i, 2, verb, false),
            'o' | 'O' => self.integer(out, i, 8, verb, false),
            'x' => self.integer(out, i, 16, verb, false),
            'X' => self.integer(out, i, 16, verb, true),
            'c' => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                self.pad(out, &c.to_string());
            }
            'q' => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                self.pad(out, &quote_rune(c, self.plus));
            }
            'U' => {
                // Go formats the operand as uint64.
                let u = i as i64 as u64;
                // At least four hex digits, more when the precision asks for them.
                let digits = self.prec.unwrap_or(4).max(4);
                let mut s = format!("U+{:0digits$X}", u);
                if self.sharp
                    && let Some(c) = u32::try_from(i).ok().and_then(char::from_u32)
                    && is_print(c)
                {
                    s.push_str(&format!(" '{c}'"));
                }
                self.pad_no_zero(out, &s);
            }
            _ => self.bad_verb(out, v, verb),
        }
    }
}

/// Digits past which an f64's decimal expansion is exact (at most 767 significant and 1,074
/// fractional digits): asking for more only adds zeros. Rust's formatter also refuses
/// precisions beyond 65,535, which Go's (up to about 1e7) reach.
const EXACT_DIGITS: usize = 1100;

/// Decimal digits (no trailing zeros) and the decimal point position.
fn digits_of(v: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        None => format!("{:e}", v.abs()),
        Some(n) => format!("{:.*e}", n.saturating_sub(1).min(EXACT_DIGITS), v.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits == "0" {
        return (String::new(), 0);
    }
    (digits, exp + 1)
}

fn fmt_e(neg: bool, digits: &str, dp: i32, prec: usize, e: char) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let b = digits.as_bytes();
    s.push(if b.is_empty() { '0' } else { b[0] as char });
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(b.get(i).map(|c| *c as char).unwrap_or('0'));
        }
    }
    s.push(e);
    let exp = if b.is_empty() { 0 } else { dp - 1 };
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

fn fmt_f(neg: bool, digits: &str, dp: i32, prec: usize) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let b = digits.as_bytes();
    if dp > 0 {
        for i in 0..dp as usize {
            s.push(b.get(i).map(|c| *c as char).unwrap_or('0'));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 1..=prec as i32 {
            let j = dp + i - 1;
            let c = if j < 0 {
                '0'
            } else {
                b.get(j as usize).map(|c| *c as char).unwrap_or('0')
            };
            s.push(c);
        }
    }
    s
}

/// strconv.FormatFloat(v, verb, prec, 64).
pub fn format_float(v: f64, verb: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = v.is_sign_negative();
    match verb {
        'e' | 'E' => {
            let (d, dp) = match prec {
                None => digits_of(v, None),
                Some(p) => digits_of(v, Some(p + 1)),
            };
            let p = prec.unwrap_or(d.len().saturating_sub(1));
            fmt_e(neg, &d, dp, p, verb)
        }
        'f' | 'F' => match prec {
            None => {
                let (d, dp) = digits_of(v, None);
                let p = (d.len() as i32 - dp).max(0) as usize;
                fmt_f(neg, &d, dp, p)
            }
            Some(p) => {
                let mut s = format!("{:.*}", p.min(EXACT_DIGITS), v.abs());
                s.extend(std::iter::repeat_n('0', p.saturating_sub(EXACT_DIGITS)));
                if neg { format!("-{s}") } else { s }
            }
        },
        'g' | 'G' => {
            let e = if verb == 'g' { 'e' } else { 'E' };
            let shortest = prec.is_none();
            let (d, dp) = match prec {
                None => digits_of(v, None),
                Some(p) => digits_of(v, Some(p.max(1))),
            };
            let nd = d.len() as i32;
            let mut p = match prec {
                None => nd,
                Some(p) => p.max(1) as i32,
            };
            let mut eprec = p;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if d.is_empty() {
                // Zero: Go prints "0" for %g.
                return if neg { "-0".into() } else { "0".into() };
            }
            if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                return fmt_e(neg, &d, dp, (p - 1).max(0) as usize, e);
            }
            if p > dp {
                p = nd;
            }
            fmt_f(neg, &d, dp, (p - dp).max(0) as usize)
        }
        'b' | 'x' | 'X' => float_bits_format(v, verb, prec),
        _ => format!("%!{verb}(float64={})", format_float(v, 'g', None)),
    }
}

fn sharp_float(num: &str, verb: char, prec: Option<usize>) -> String {
    // '#' forces a decimal point and, for %g/%x, keeps trailing zeros.
    let mut digits: i64 = match verb {
        'v' | 'g' | 'G' | 'x' => prec.map(|p| p as i64).unwrap_or(6),
        _ => 0,
    };
    let b = num.as_bytes();
    let mut body: Vec<u8> = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut has_point = false;
    let mut saw_nonzero = false;
    body.push(b[0]);
    let mut i = 1;
    while i < b.len() {
        let c = b[i];
        match c {
            b'.' => {
                has_point = true;
                body.push(c);
            }
            b'p' | b'P' => {
                tail.extend_from_slice(&b[i..]);
                break;
            }
            b'e' | b'E' if verb != 'x' && verb != 'X' => {
                tail.extend_from_slice(&b[i..]);
                break;
            }
            _ => {
                if c != b'0' {
                    saw_nonzero = true;
                }
                if saw_nonzero {
                    digits -= 1;
                }
                body.push(c);
            }
        }
        i += 1;
    }
    if !has_point {
        if body.len() == 2 && body[1] == b'0' {
            digits -= 1;
        }
        body.push(b'.');
    }
    while digits > 0 {
        body.push(b'0');
        digits -= 1;
    }
    body.extend_from_slice(&tail);
    String::from_utf8_lossy(&body).into_owned()
}

/// strconv 'b' and 'x' float formats.
fn float_bits_format(v: f64, verb: char, prec: Option<usize>) -> String {
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023;
    let sign = if neg { "-" } else { "" };
    if verb == 'b' {
        let e = exp - 52;
        return format!("{sign}{mant}p{}{}", if e >= 0 { "+" } else { "-" }, e.abs());
    }
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    let p = prec.map(|p| p as i64).unwrap_or(-1);
    if (0..15).contains(&p) {
        let shift = (p * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8] = if verb == 'X' {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut s = format!("{sign}0{verb}{}", (mant >> 60) & 1);
    mant <<= 4;
    if p < 0 && mant != 0 {
        s.push('.');
        while mant != 0 {
            s.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    } else if p > 0 {
        s.push('.');
        for _ in 0..p {
            s.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    }
    s.push(if verb == 'X' { 'P' } else { 'p' });
    s.push(if exp < 0 { '-' } else { '+' });
    let e = exp.abs();
    if e < 10 {
        s.push('0');
    }
    s.push_str(&e.to_string());
    s
}

/// time.Duration.String.
pub fn format_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut s = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        s.push_str(&frac_str(u, div));
        s.push_str(unit);
    } else {
        let h = u / 3_600_000_000_000;
        let m = (u / 60_000_000_000) % 60;
        let rest = u % 60_000_000_000;
        if h > 0 {
            s.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            s.push_str(&format!("{m}m"));
        }
        s.push_str(&frac_str(rest, 1_000_000_000));
        s.push('s');
    }
    if neg { format!("-{s}") } else { s }
}

fn frac_str(v: u64, div: u64) -> String {
    let whole = v / div;
    let mut frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let mut width = div.to_string().len() - 1;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    format!("{whole}.{frac:0width$}")
}

/// Go's fmt bound on widths and precisions (`tooLarge`): a `*` argument beyond it is refused, a
/// literal stops being read once it has passed it (so literals reach at most about 1e7).
const GO_FMT_NUM_LIMIT: i64 = 1_000_000;

fn literal_too_large(n: usize) -> bool {
    n > GO_FMT_NUM_LIMIT as usize
}

/// fmt.Sprintf.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut argi = 0usize;
    let mut chars = format.char_indices().peekable();
    'format: while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut f = Fmt::default();
        // Flags.
        while let Some(&(_, fc)) = chars.peek() {
            match fc {
                '#' => f.sharp = true,
                '0' => f.zero = !f.minus,
                '+' => f.plus = true,
                '-' => {
                    f.minus = true;
                    f.zero = false;
                }
                ' ' => f.space = true,
                _ => break,
            }
            chars.next();
        }
        // Width.
        if let Some(&(_, '*')) = chars.peek() {
            chars.next();
            match args.get(argi) {
                // Go's fmt refuses widths beyond ±1e6 (tooLarge) as BADWIDTH.
                Some(Value::Int(n, _)) if n.unsigned_abs() <= GO_FMT_NUM_LIMIT as u64 => {
                    let n = *n;
                    if n < 0 {
                        f.minus = true;
                        f.zero = false;
                    }
                    f.wid = Some(n.unsigned_abs() as usize);
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            argi += 1;
        } else {
            let mut w = None;
            while let Some(&(_, d)) = chars.peek() {
                if let Some(v) = d.to_digit(10) {
                    if literal_too_large(w.unwrap_or(0)) {
                        // Go's parsenum gives up on the rest of the format.
                        out.push_str("%!(NOVERB)");
                        break 'format;
                    }
                    w = Some(w.unwrap_or(0usize) * 10 + v as usize);
                    chars.next();
                } else {
                    break;
                }
            }
            f.wid = w;
        }
        // Precision.
        if let Some(&(_, '.')) = chars.peek() {
            chars.next();
            if let Some(&(_, '*')) = chars.peek() {
                chars.next();
                match args.get(argi) {
                    Some(Value::Int(n, _)) if (0..=GO_FMT_NUM_LIMIT).contains(n) => {
                        f.prec = Some(*n as usize);
                    }
                    Some(Value::Int(n, _)) if *n > GO_FMT_NUM_LIMIT => {
                        out.push_str("%!(BADPREC)");
                    }
                    Some(Value::Int(..)) => f.prec = None,
                    _ => out.push_str("%!(BADPREC)"),
                }
                argi += 1;
            } else {
                let mut p = 0usize;
                while let Some(&(_, d)) = chars.peek() {
                    if let Some(v) = d.to_digit(10) {
                        if literal_too_large(p) {
                            out.push_str("%!(NOVERB)");
                            break 'format;
                        }
                        p = p * 10 + v as usize;
                        chars.next();
                    } else {
                        break;
                    }
                }
                f.prec = Some(p);
            }
        }
        if !f.minus && f.wid.is_none() {
            // A zero flag without a width has no effect.
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        if verb == 'v' {
            if f.sharp {
                f.sharp = false;
                f.sharp_v = true;
            }
            if f.plus {
                f.plus = false;
                f.plus_v = true;
            }
        }
        f.value(&mut out, arg, verb, 0);
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argi..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if let Value::Nil = a {
                out.push_str("<nil>");
            } else {
                out.push_str(&a.type_name());
                out.push('=');
                Fmt::default().value(&mut out, a, 'v', 0);
            }
        }
        out.push(')');
    }
    out
}

/// For `%v` of element type checks elsewhere.
pub fn elem_is_string(e: Elem) -> bool {
    e == Elem::Str
}
