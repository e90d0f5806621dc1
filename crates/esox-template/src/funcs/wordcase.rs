//! Sprig's `camelcase`, `snakecase` and `kebabcase`: huandu/xstrings 1.5.0's `ToPascalCase`,
//! `ToSnakeCase` and `ToKebabCase` (the version ESO v2.9 builds with), reimplemented from their
//! observable behaviour and checked byte for byte against Go.
//!
//! xstrings works on Go strings, i.e. bytes: it decodes runes one at a time, treats an invalid
//! byte as U+FFFD (and often skips it while looking ahead), and copies some words as raw bytes.
//! So these functions work on the Go bytes of the input too, not on Rust characters, and the
//! character classes are Go's `unicode` ones (general categories), not Rust's properties.

use std::sync::LazyLock;

use regex::Regex;

use super::strings::{is_space, to_lower, to_upper};
use crate::gostr;

const RUNE_ERROR: char = char::REPLACEMENT_CHARACTER;

/// utf8.DecodeRune: (U+FFFD, 1) for an invalid or truncated sequence, (U+FFFD, 0) at the end.
fn decode(b: &[u8]) -> (char, usize) {
    let Some(&first) = b.first() else {
        return (RUNE_ERROR, 0);
    };
    let width = match first {
        0x00..=0x7f => return (char::from(first), 1),
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (RUNE_ERROR, 1),
    };
    match b.get(..width).map(std::str::from_utf8) {
        Some(Ok(s)) => (s.chars().next().unwrap_or(RUNE_ERROR), width),
        _ => (RUNE_ERROR, 1),
    }
}

fn push_rune(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// One-character match against a Unicode general category class, as Go's tables define it.
fn in_class(re: &LazyLock<Option<Regex>>, c: char) -> bool {
    let mut buf = [0u8; 4];
    re.as_ref()
        .is_some_and(|re| re.is_match(c.encode_utf8(&mut buf)))
}

static UPPER: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\p{Lu}$").ok());
static LOWER: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\p{Ll}$").ok());
static TITLE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\p{Lt}$").ok());
static LETTER: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\p{L}$").ok());
static NUMBER: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\p{N}$").ok());
static PUNCT: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\p{P}$").ok());

/// unicode.IsUpper (category Lu; Rust's `is_uppercase` also counts Other_Uppercase).
pub fn is_upper(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_uppercase();
    }
    in_class(&UPPER, c)
}

/// unicode.IsLower (category Ll).
pub fn is_lower(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_lowercase();
    }
    in_class(&LOWER, c)
}

/// unicode.IsTitle (category Lt).
pub fn is_title(c: char) -> bool {
    !c.is_ascii() && in_class(&TITLE, c)
}

/// unicode.ToTitle: as upper case, but for the four Latin digraphs whose title-case form
/// (ǅ ǈ ǋ ǲ) differs from the upper-case one.
pub fn to_title(c: char) -> char {
    match c {
        'Ǆ' | 'ǅ' | 'ǆ' => 'ǅ',
        'Ǉ' | 'ǈ' | 'ǉ' => 'ǈ',
        'Ǌ' | 'ǋ' | 'ǌ' => 'ǋ',
        'Ǳ' | 'ǲ' | 'ǳ' => 'ǲ',
        _ => to_upper(c),
    }
}

/// The runes of a Go string as `[]rune(s)` gives them: each invalid byte becomes U+FFFD.
pub fn go_runes(st: &str) -> Vec<char> {
    let bytes = gostr::to_bytes(st);
    let mut rest: &[u8] = &bytes;
    let mut out = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let (r, size) = decode(rest);
        out.push(r);
        rest = &rest[size..];
    }
    out
}

fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_class(&LETTER, c)
}

fn is_number(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    in_class(&NUMBER, c)
}

fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        // ASCII category P: everything printable but letters, digits, space and the
        // symbols (Sm, Sc, Sk) `$+<=>^`|~`.
        return c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c);
    }
    in_class(&PUNCT, c)
}

/// xstrings treats letters of the main CJK blocks as neither letters nor case-bearing: they
/// form "other" words.
fn is_alphabet(c: char) -> bool {
    is_letter(c)
        && !matches!(c,
            '\u{4E00}'..='\u{9FCC}' | '\u{3400}'..='\u{4D85}' | '\u{20000}'..='\u{2B81D}')
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || is_space(c)
}

/// `camelcase`: xstrings' ToPascalCase. Connector runs are kept, a letter after a connector is
/// upper-cased, and an upper-case run after an upper-case first letter is lower-cased.
pub fn pascal_case(st: &str) -> String {
    let bytes = gostr::to_bytes(st);
    let mut rest: &[u8] = &bytes;
    if rest.is_empty() {
        return String::new();
    }
    let mut out = Vec::with_capacity(rest.len());
    let mut first_upper = false;
    let (mut r0, mut size) = (RUNE_ERROR, 0);
    while !rest.is_empty() {
        (r0, size) = decode(rest);
        rest = &rest[size..];
        if !is_connector(r0) {
            first_upper = is_upper(r0);
            r0 = to_upper(r0);
            break;
        }
        push_rune(&mut out, r0);
    }
    if rest.is_empty() {
        // xstrings writes the last rune again here, even a connector already written
        // (so "-" becomes "--"): kept, since Go is the reference.
        if size != 0 {
            push_rune(&mut out, r0);
        }
        return gostr::from_bytes(&out);
    }
    while !rest.is_empty() {
        let r1 = r0;
        (r0, size) = decode(rest);
        rest = &rest[size..];
        if is_connector(r0) && is_connector(r1) {
            push_rune(&mut out, r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = to_upper(r0);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = to_lower(r0);
                } else {
                    first_upper = false;
                }
            }
            push_rune(&mut out, r1);
        }
    }
    push_rune(&mut out, r0);
    gostr::from_bytes(&out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// The next rune that decodes, with the bytes skipped to reach it counted in its size; at the
/// end, `prev` with the bytes skipped.
fn next_valid(mut b: &[u8], prev: char) -> (char, usize) {
    let mut size = 0;
    while !b.is_empty() {
        let (r, sz) = decode(b);
        size += sz;
        if r != RUNE_ERROR {
            return (r, size);
        }
        b = &b[sz..];
    }
    (prev, size)
}

/// Extends a word while `keep` holds for the next valid rune; `r` ends as the rune that stopped it.
fn extend(rest: &mut &[u8], r: &mut char, offset: &mut usize, keep: &dyn Fn(char) -> bool) {
    while !rest.is_empty() {
        let (nr, sz) = next_valid(rest, *r);
        *r = nr;
        if !keep(nr) {
            break;
        }
        *offset += sz;
        *rest = &rest[sz..];
    }
}

/// Splits the next word off `s`: its kind, its bytes and what follows.
fn next_word(s: &[u8]) -> (Word, &[u8], &[u8]) {
    if s.is_empty() {
        return (Word::Invalid, &[], &[]);
    }
    let (mut r, mut size) = next_valid(s, RUNE_ERROR);
    let mut offset = size;
    if r == RUNE_ERROR {
        return (Word::Invalid, &s[..offset], &s[offset..]);
    }
    let mut rest = &s[size..];
    let kind = if is_connector(r) {
        extend(&mut rest, &mut r, &mut offset, &is_connector);
        Word::Connector
    } else if is_punct(r) {
        extend(&mut rest, &mut r, &mut offset, &is_punct);
        Word::Punct
    } else if is_upper(r) {
        if !rest.is_empty() {
            (r, size) = next_valid(rest, r);
            if is_upper(r) {
                let mut prev_size = size;
                offset += size;
                rest = &rest[size..];
                while !rest.is_empty() {
                    (r, size) = next_valid(rest, r);
                    if !is_upper(r) {
                        break;
                    }
                    prev_size = size;
                    offset += size;
                    rest = &rest[size..];
                }
                // "HTTPStatus" splits as "HTTP" + "Status": the last capital starts the next word.
                if !rest.is_empty() && is_alphabet(r) {
                    offset -= prev_size;
                    rest = &s[offset..];
                }
            } else if is_alphabet(r) {
                offset += size;
                rest = &rest[size..];
                extend(&mut rest, &mut r, &mut offset, &|c| {
                    is_alphabet(c) && !is_upper(c)
                });
            }
        }
        Word::Upper
    } else if is_alphabet(r) {
        extend(&mut rest, &mut r, &mut offset, &|c| {
            is_alphabet(c) && !is_upper(c)
        });
        Word::Alphabet
    } else if is_number(r) {
        extend(&mut rest, &mut r, &mut offset, &is_number);
        Word::Number
    } else {
        extend(&mut rest, &mut r, &mut offset, &|c| {
            !(is_connector(c) || is_alphabet(c) || is_number(c) || is_punct(c))
        });
        Word::Other
    };
    (kind, &s[..offset], rest)
}

/// Writes a word: as its bytes, or for upper-case and connector words rune by rune, lower-cased
/// and with connectors replaced.
fn write_lower(out: &mut Vec<u8>, kind: Word, word: &[u8], connector: char) {
    if kind != Word::Upper && kind != Word::Connector {
        out.extend_from_slice(word);
        return;
    }
    let mut rest = word;
    while !rest.is_empty() {
        let (r, size) = decode(rest);
        rest = &rest[size..];
        if is_connector(r) {
            push_rune(out, connector);
        } else if is_upper(r) {
            push_rune(out, to_lower(r));
        } else {
            push_rune(out, r);
        }
    }
}

/// `snakecase` (connector `_`) and `kebabcase` (connector `-`).
pub fn lower_case_words(st: &str, connector: char) -> String {
    let bytes = gostr::to_bytes(st);
    if bytes.is_empty() {
        return String::new();
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 4);
    let (mut kind, mut word, mut rest) = next_word(&bytes);
    while !rest.is_empty() {
        if kind != Word::Connector {
            write_lower(&mut out, kind, word, connector);
        }
        let prev = kind;
        let last = word;
        (kind, word, rest) = next_word(rest);
        match prev {
            Word::Number => {
                while kind == Word::Alphabet || kind == Word::Number {
                    write_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::Invalid | Word::Punct | Word::Connector) {
                    push_rune(&mut out, connector);
                }
            }
            Word::Connector => write_lower(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if kind != Word::Number {
                    if kind != Word::Connector && kind != Word::Punct {
                        push_rune(&mut out, connector);
                    }
                    continue;
                }
                if rest.is_empty() {
                    continue;
                }
                let number = word;
                (kind, word, rest) = next_word(rest);
                // A number followed by something other than letters belongs to the word before
                // it ("Bld4Floor" → "bld4_floor"); followed by letters it starts a new word
                // ("HTTP2xx" → "http_2xx").
                if kind != Word::Alphabet {
                    write_lower(&mut out, Word::Number, number, connector);
                    if kind != Word::Connector && kind != Word::Punct {
                        push_rune(&mut out, connector);
                    }
                    continue;
                }
                push_rune(&mut out, connector);
                write_lower(&mut out, Word::Number, number, connector);
                while kind == Word::Alphabet || kind == Word::Number {
                    write_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::Invalid | Word::Connector | Word::Punct) {
                    push_rune(&mut out, connector);
                }
            }
        }
    }
    write_lower(&mut out, kind, word, connector);
    gostr::from_bytes(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples() {
        for (input, snake) in [
            ("FirstName", "first_name"),
            ("HTTPServer", "http_server"),
            ("NoHTTPS", "no_https"),
            ("GO_PATH", "go_path"),
            ("GO PATH", "go_path"),
            ("GO-PATH", "go_path"),
            ("http2xx", "http_2xx"),
            ("HTTP20xOK", "http_20x_ok"),
            ("Duration2m3s", "duration_2m3s"),
            ("Bld4Floor3rd", "bld4_floor_3rd"),
        ] {
            assert_eq!(lower_case_words(input, '_'), snake, "{input}");
            assert_eq!(
                lower_case_words(input, '-'),
                snake.replace('_', "-"),
                "{input}"
            );
        }
        assert_eq!(pascal_case("some_words"), "SomeWords");
        assert_eq!(pascal_case("_complex__case_"), "_Complex_Case_");
        assert_eq!(pascal_case("GOLANG_IS_GREAT"), "GolangIsGreat");
    }

    #[test]
    fn go_categories_not_rust_properties() {
        // U+2160 ROMAN NUMERAL ONE is Other_Uppercase for Rust but Nl (a number) for Go.
        assert!(!is_upper('\u{2160}'));
        assert!(is_number('\u{2160}'));
        assert!(is_punct('!') && !is_punct('$') && !is_punct('+') && is_punct('_'));
    }
}
