//! Compiling Go (RE2) regular expressions with the `regex` crate.
//!
//! The syntaxes are nearly the same; the difference that matters is that Go's Perl classes
//! (`\d`, `\w`, `\s`, `\b`) are ASCII-only while the `regex` crate makes them Unicode-aware.
//! A user's `find.name.regexp` or rewrite `source` must match the same keys as under ESO,
//! so those classes are rewritten to their ASCII definitions before compiling.

use regex::Regex;

/// A Go regular expression that the `regex` crate cannot compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {reason}")]
pub struct GoRegexError {
    /// The pattern as the user wrote it (a key pattern, not a secret value).
    pub pattern: String,
    /// Why it failed.
    pub reason: String,
}

/// Compiles `pattern` with Go RE2 semantics for Perl classes.
pub fn compile(pattern: &str) -> Result<Regex, GoRegexError> {
    let translated = translate(pattern);
    Regex::new(&translated).map_err(|e| GoRegexError {
        pattern: pattern.to_owned(),
        reason: one_line_reason(&e),
    })
}

/// The regex crate renders syntax errors over several lines with a caret diagram; a
/// condition message or event needs just the reason.
fn one_line_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(|| text.replace('\n', " "), str::to_owned)
}

/// Rewrites Go's ASCII-only Perl classes into explicit ASCII classes.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    // Inside [...] the replacement must be a nested class, which the regex crate accepts.
    let mut in_class = false;
    while let Some(c) = chars.next() {
        if c != '\\' {
            match c {
                '[' if !in_class => {
                    in_class = true;
                    out.push(c);
                    // A ']' right after '[' or '[^' is a literal, not the end of the class.
                    if chars.peek() == Some(&'^') {
                        out.push('^');
                        chars.next();
                    }
                    if chars.peek() == Some(&']') {
                        out.push(']');
                        chars.next();
                    }
                }
                '[' if in_class && chars.peek() == Some(&':') => {
                    // POSIX class like [:alpha:] inside a bracket expression.
                    out.push(c);
                    for p in chars.by_ref() {
                        out.push(p);
                        if p == ']' {
                            break;
                        }
                    }
                }
                // Go reads "{," as literal text (its repeat syntax needs a minimum), while
                // the regex crate would parse "x{,n}" as a repetition.
                '{' if !in_class && chars.peek() == Some(&',') => out.push_str("\\{"),
                ']' if in_class => {
                    in_class = false;
                    out.push(c);
                }
                _ => out.push(c),
            }
            continue;
        }
        let Some(next) = chars.next() else {
            out.push('\\');
            break;
        };
        if next == 'Q' && !in_class {
            // Go's \Q...\E quotes literal text; the regex crate has no such syntax.
            let mut literal = String::new();
            while let Some(q) = chars.next() {
                if q == '\\' && chars.peek() == Some(&'E') {
                    chars.next();
                    break;
                }
                literal.push(q);
            }
            out.push_str(&regex::escape(&literal));
            continue;
        }
        let replacement = match next {
            'd' => Some("[0-9]"),
            'D' => Some("[^0-9]"),
            'w' => Some("[0-9A-Za-z_]"),
            'W' => Some("[^0-9A-Za-z_]"),
            's' => Some("[\\t\\n\\f\\r ]"),
            'S' => Some("[^\\t\\n\\f\\r ]"),
            'b' if !in_class => Some("(?-u:\\b)"),
            'B' if !in_class => Some("(?-u:\\B)"),
            _ => None,
        };
        match replacement {
            Some(r) => out.push_str(r),
            None => {
                out.push('\\');
                out.push(next);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_are_ascii_only() {
        let d = compile(r"^\d+$").expect("valid");
        assert!(d.is_match("0123"));
        // U+0663 ARABIC-INDIC DIGIT THREE is \d in the regex crate but not in Go.
        assert!(!d.is_match("\u{663}"));
        let w = compile(r"^\w+$").expect("valid");
        assert!(w.is_match("a_Z9"));
        assert!(!w.is_match("é"));
        let not_w = compile(r"^\W$").expect("valid");
        assert!(not_w.is_match("é"));
        let class = compile(r"^[\d.]+$").expect("valid");
        assert!(class.is_match("1.2"));
        assert!(!class.is_match("\u{663}"));
        let b = compile(r"\bé").expect("valid");
        // In Go, é is not a word character, so there is no boundary between a space and é.
        assert!(!b.is_match(" é"));
    }

    #[test]
    fn escapes_and_literal_brackets_survive() {
        let re = compile(r"^[]a]\\d\.$").expect("valid");
        assert!(re.is_match(r"]\d."));
        let posix = compile(r"^[[:alpha:]\d]+$").expect("valid");
        assert!(posix.is_match("ab12"));
    }

    #[test]
    fn go_only_syntax() {
        let q = compile(r"^\Qa.b*\E+$").expect("valid");
        assert!(q.is_match("a.b**"));
        assert!(!q.is_match("axbb"));
        let brace = compile(r"^a{,2}$").expect("valid");
        assert!(brace.is_match("a{,2}"));
        assert!(!brace.is_match("aa"));
    }

    #[test]
    fn invalid_pattern_names_the_pattern() {
        let err = compile("(").expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "invalid regular expression \"(\": unclosed group"
        );
    }
}
