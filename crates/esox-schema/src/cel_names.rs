//! Property names as CEL sees them (`k8s.io/apiserver/pkg/cel/escaping.go`): names that are CEL
//! reserved words become `__word__`, and `__`, `.`, `-`, `/` are spelled `__underscores__`,
//! `__dot__`, `__dash__`, `__slash__`. Names with other characters are not accessible from CEL.

/// Words the CEL lexer reserves (`celReservedSymbols`); `namespace` is the one CRDs meet most.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The CEL identifier for property `name`, or `None` when CEL cannot address it.
pub(crate) fn escape(name: &str) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let allowed_first = |c: char| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '-' | '/');
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/');
    let mut chars = name.chars();
    if !chars.next().is_some_and(allowed_first) || !chars.all(allowed) {
        return None;
    }
    Some(
        name.replace("__", "__underscores__")
            .replace('.', "__dot__")
            .replace('-', "__dash__")
            .replace('/', "__slash__"),
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_like_kubernetes() {
        assert_eq!(escape("secretKey").as_deref(), Some("secretKey"));
        assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
        assert_eq!(escape("x-y").as_deref(), Some("x__dash__y"));
        assert_eq!(escape("a.b/c").as_deref(), Some("a__dot__b__slash__c"));
        assert_eq!(escape("a__b").as_deref(), Some("a__underscores__b"));
        assert_eq!(escape("1abc"), None);
        assert_eq!(escape("a b"), None);
    }
}
