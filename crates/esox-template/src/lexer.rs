//! Tokeniser for Go text/template syntax, including trim markers, comments
//! and custom delimiters.

use crate::error::ParseError;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    Space,
    Ident(String),
    /// `.name` (the name without the dot).
    Field(String),
    /// `$name` (with the dollar sign).
    Variable(String),
    Str(String),
    Char(String),
    Number(String),
    Bool(bool),
    Nil,
    Dot,
    Pipe,
    LParen,
    RParen,
    Assign,
    Declare,
    Comma,
    Kw(Keyword),
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

pub struct Lexer<'a> {
    src: &'a str,
    left: &'a str,
    right: &'a str,
    pos: usize,
    out: Vec<Token>,
    paren_depth: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str, left: &'a str, right: &'a str) -> Self {
        Lexer {
            src,
            left,
            right,
            pos: 0,
            out: Vec::new(),
            paren_depth: 0,
        }
    }

    fn err(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            pos,
            msg: msg.into(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn push(&mut self, tok: Tok, pos: usize) {
        self.out.push(Token { tok, pos });
    }

    pub fn run(mut self) -> Result<Vec<Token>, ParseError> {
        let mut trim_leading = false;
        loop {
            let rest = self.rest();
            let Some(idx) = rest.find(self.left) else {
                let mut text = rest;
                if trim_leading {
                    text = text.trim_start_matches([' ', '\t', '\r', '\n']);
                }
                if !text.is_empty() {
                    self.push(Tok::Text(text.to_string()), self.src.len() - text.len());
                }
                self.push(Tok::Eof, self.src.len());
                return Ok(self.out);
            };
            let after = &rest[idx + self.left.len()..];
            let left_trim =
                after.len() >= 2 && after.as_bytes()[0] == b'-' && is_space(after.as_bytes()[1]);
            let mut text = &rest[..idx];
            let text_start = self.pos;
            if trim_leading {
                let t = text.trim_start_matches([' ', '\t', '\r', '\n']);
                let _ = text_start;
                text = t;
            }
            if left_trim {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            }
            if !text.is_empty() {
                let tpos = text.as_ptr() as usize - self.src.as_ptr() as usize;
                self.push(Tok::Text(text.to_string()), tpos);
            }
            let delim_pos = self.pos + idx;
            self.pos = delim_pos + self.left.len();
            if left_trim {
                self.pos += 2;
            }
            // Comments must follow the delimiter (and trim marker) directly.
            if self.rest().starts_with("/*") {
                let Some(end) = self.rest().find("*/") else {
                    return Err(self.err(delim_pos, "unclosed comment"));
                };
                self.pos += end + 2;
                let (is_delim, trim) = self.at_right_delim();
                if !is_delim {
                    return Err(self.err(delim_pos, "comment ends before closing delimiter"));
                }
                self.pos += if trim { 2 } else { 0 } + self.right.len();
                trim_leading = trim;
                continue;
            }
            self.push(Tok::LeftDelim, delim_pos);
            trim_leading = self.lex_action(delim_pos)?;
        }
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        let b = rest.as_bytes();
        if b.len() >= 2 && is_space(b[0]) && b[1] == b'-' && rest[2..].starts_with(self.right) {
            return (true, true);
        }
        (rest.starts_with(self.right), false)
    }

    /// Lexes inside an action; returns whether the closing delimiter trims.
    fn lex_action(&mut self, open_pos: usize) -> Result<bool, ParseError> {
        loop {
            let (is_delim, trim) = self.at_right_delim();
            if is_delim && self.paren_depth == 0 {
                let p = self.pos;
                if trim {
                    self.pos += 2;
                }
                self.push(Tok::RightDelim, p);
                self.pos += self.right.len();
                return Ok(trim);
            }
            if is_delim {
                return Err(self.err(self.pos, "unclosed left paren"));
            }
            let start = self.pos;
            let Some(c) = self.rest().chars().next() else {
                return Err(self.err(open_pos, "unclosed action"));
            };
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    let n = self.rest().bytes().take_while(|b| is_space(*b)).count();
                    // A space directly before a trim marker belongs to it.
                    let mut end = self.pos + n;
                    let rest_after = &self.src[end..];
                    if rest_after.starts_with('-')
                        && rest_after[1..].starts_with(self.right)
                        && n > 0
                    {
                        end -= 1;
                    }
                    if end > self.pos {
                        self.pos = end;
                        self.push(Tok::Space, start);
                    }
                    if self.pos == start {
                        // A lone space before " -}}": let at_right_delim handle it.
                        let (d, _) = self.at_right_delim();
                        if !d {
                            return Err(self.err(start, "unexpected space"));
                        }
                    }
                }
                '=' => {
                    self.pos += 1;
                    self.push(Tok::Assign, start);
                }
                ':' => {
                    if !self.rest().starts_with(":=") {
                        return Err(self.err(start, "expected :="));
                    }
                    self.pos += 2;
                    self.push(Tok::Declare, start);
                }
                '|' => {
                    self.pos += 1;
                    self.push(Tok::Pipe, start);
                }
                ',' => {
                    self.pos += 1;
                    self.push(Tok::Comma, start);
                }
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.push(Tok::LParen, start);
                }
                ')' => {
                    if self.paren_depth == 0 {
                        return Err(self.err(start, "unexpected right paren"));
                    }
                    self.pos += 1;
                    self.paren_depth -= 1;
                    self.push(Tok::RParen, start);
                }
                '"' => {
                    let s = self.lex_quote('"')?;
                    self.push(Tok::Str(s), start);
                }
                '`' => {
                    let rest = &self.rest()[1..];
                    let Some(end) = rest.find('`') else {
                        return Err(self.err(start, "unterminated raw quoted string"));
                    };
                    // strconv.Unquote drops carriage returns from raw strings.
                    let s = rest[..end].replace('\r', "");
                    self.pos += end + 2;
                    self.push(Tok::Str(s), start);
                }
                '\'' => {
                    let s = self.lex_char_text()?;
                    self.push(Tok::Char(s), start);
                }
                '$' => {
                    let n = 1 + self.rest()[1..]
                        .chars()
                        .take_while(|c| is_alnum(*c))
                        .map(char::len_utf8)
                        .sum::<usize>();
                    let name = self.rest()[..n].to_string();
                    self.pos += n;
                    self.push(Tok::Variable(name), start);
                }
                '.' => {
                    let next = self.rest()[1..].chars().next();
                    if next.is_some_and(|d| d.is_ascii_digit()) {
                        self.lex_number()?;
                    } else if next.is_some_and(is_alnum) {
                        let n = self.rest()[1..]
                            .chars()
                            .take_while(|c| is_alnum(*c))
                            .map(char::len_utf8)
                            .sum::<usize>();
                        let name = self.rest()[1..1 + n].to_string();
                        self.pos += 1 + n;
                        self.push(Tok::Field(name), start);
                    } else {
                        self.pos += 1;
                        self.push(Tok::Dot, start);
                    }
                }
                '+' | '-' | '0'..='9' => self.lex_number()?,
                c if is_alnum(c) => {
                    let n = self
                        .rest()
                        .chars()
                        .take_while(|c| is_alnum(*c))
                        .map(char::len_utf8)
                        .sum::<usize>();
                    let word = &self.rest()[..n];
                    let tok = match word {
                        "block" => Tok::Kw(Keyword::Block),
                        "break" => Tok::Kw(Keyword::Break),
                        "continue" => Tok::Kw(Keyword::Continue),
                        "define" => Tok::Kw(Keyword::Define),
                        "else" => Tok::Kw(Keyword::Else),
                        "end" => Tok::Kw(Keyword::End),
                        "if" => Tok::Kw(Keyword::If),
                        "range" => Tok::Kw(Keyword::Range),
                        "template" => Tok::Kw(Keyword::Template),
                        "with" => Tok::Kw(Keyword::With),
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => Tok::Ident(w.to_string()),
                    };
                    self.pos += n;
                    // A word must be followed by a separator.
                    let next = self.rest().chars().next();
                    if let Some(nc) = next
                        && !(matches!(
                            nc,
                            ' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | ')' | '(' | '='
                        ) || self.rest().starts_with(self.right))
                    {
                        return Err(self.err(self.pos, format!("bad character {nc:?}")));
                    }
                    self.push(tok, start);
                }
                c => {
                    return Err(self.err(start, format!("unrecognized character in action: {c:?}")));
                }
            }
        }
    }

    fn lex_quote(&mut self, q: char) -> Result<String, ParseError> {
        let start = self.pos;
        let rest = &self.src[self.pos + 1..];
        let mut end = None;
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' => escaped = true,
                '\n' => return Err(self.err(start, "unterminated quoted string")),
                c if c == q => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            return Err(self.err(start, "unterminated quoted string"));
        };
        let body = &rest[..end];
        self.pos += end + 2;
        unquote_body(body, q).map_err(|m| self.err(start, m))
    }

    fn lex_char_text(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let rest = &self.src[self.pos + 1..];
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' => escaped = true,
                '\n' => break,
                '\'' => {
                    let text = self.src[start..start + i + 2].to_string();
                    self.pos += i + 2;
                    return Ok(text);
                }
                _ => {}
            }
        }
        Err(self.err(start, "unterminated character constant"))
    }

    fn lex_number(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        let b = self.src.as_bytes();
        let mut i = self.pos;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        if i + 1 < b.len() && b[i] == b'0' {
            match b[i + 1] {
                b'x' | b'X' => {
                    digits = b"0123456789abcdefABCDEF_";
                    i += 2;
                }
                b'o' | b'O' => {
                    digits = b"01234567_";
                    i += 2;
                }
                b'b' | b'B' => {
                    digits = b"01_";
                    i += 2;
                }
                _ => {}
            }
        }
        let hex = digits.len() > 12;
        while i < b.len() && digits.contains(&b[i]) {
            i += 1;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            while i < b.len() && digits.contains(&b[i]) {
                i += 1;
            }
        }
        let exp: &[u8] = if hex { b"pP" } else { b"eE" };
        if digits.len() >= 10 && i < b.len() && exp.contains(&b[i]) {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            while i < b.len() && b[i].is_ascii_digit() || (i < b.len() && b[i] == b'_') {
                i += 1;
            }
        }
        if i < b.len() && b[i] == b'i' {
            i += 1;
        }
        let text = &self.src[start..i];
        if i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            return Err(self.err(
                start,
                format!("bad number syntax: {:?}", &self.src[start..=i]),
            ));
        }
        if text == "+" || text == "-" {
            return Err(self.err(start, "bad number syntax"));
        }
        self.pos = i;
        self.push(Tok::Number(text.to_string()), start);
        Ok(())
    }
}

/// Decodes Go escape sequences in a quoted string or character body.
pub fn unquote_body(body: &str, q: char) -> Result<String, String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            return Err("invalid syntax".into());
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            c if c == q => out.push(c),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut v: u32 = 0;
                for _ in 0..n {
                    let d = chars
                        .next()
                        .and_then(|d| d.to_digit(16))
                        .ok_or("invalid syntax")?;
                    v = v * 16 + d;
                }
                if e == 'x' && v >= 0x80 {
                    // A raw byte that is not valid UTF-8 on its own: Go keeps the byte,
                    // a Rust string cannot.
                    return Err("non-UTF-8 byte escapes are not supported".into());
                }
                out.push(char::from_u32(v).ok_or("invalid Unicode code point")?);
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let d = chars
                        .next()
                        .and_then(|d| d.to_digit(8))
                        .ok_or("invalid syntax")?;
                    v = v * 8 + d;
                }
                if v >= 0x80 {
                    return Err("non-UTF-8 byte escapes are not supported".into());
                }
                out.push(char::from_u32(v).ok_or("invalid syntax")?);
            }
            _ => return Err("invalid syntax".into()),
        }
    }
    Ok(out)
}
