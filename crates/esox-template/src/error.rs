//! Errors, formatted like Go's text/template errors. They name the template,
//! the position and the failing expression, never the data.

/// An error from parsing or executing a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is malformed.
    #[error("template: {name}:{line}: {msg}")]
    Parse {
        name: String,
        line: usize,
        msg: String,
    },
    /// Execution failed (`missingkey=error`, a function error, a type error...).
    #[error("template: {name}:{line}:{col}: executing \"{template}\" at <{node}>: {msg}")]
    Exec {
        name: String,
        line: usize,
        col: usize,
        template: String,
        node: String,
        msg: String,
    },
    /// Execution failed outside any node (no such template, depth limit).
    #[error("template: {name}: {msg}")]
    Other { name: String, msg: String },
    /// The delimiters given are not usable.
    #[error("template {name}: invalid delimiters: {msg}")]
    Delims { name: String, msg: String },
}

/// A parse error at a byte offset, before it is given the template's name.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub pos: usize,
    pub msg: String,
}

/// 1-based line and Go's column (byte offset within the line) of `pos`.
pub fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = &src.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|b| **b == b'\n').count();
    let col = match before.iter().rposition(|b| *b == b'\n') {
        Some(nl) => pos - (nl + 1),
        None => pos,
    };
    (line, col)
}
