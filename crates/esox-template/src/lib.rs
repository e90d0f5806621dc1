//! esox-template: a Go `text/template` engine with the function set of the
//! External Secrets Operator (ESO's Sprig subset plus its PEM/PKCS#12/JWK/YAML
//! helpers), always executed with `missingkey=error`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use esox_template::{Template, Value};
//!
//! let mut data = BTreeMap::new();
//! data.insert("user".to_string(), "bob".to_string());
//! data.insert("password".to_string(), "s3cr3t".to_string());
//! let t = Template::parse("auth", r#"{{ printf "%s:%s" .user .password | b64enc }}"#, None).unwrap();
//! assert_eq!(t.execute(&Value::from(data)).unwrap(), "Ym9iOnMzY3IzdA==");
//! ```
//!
//! Fidelity is measured against Go 1.19's text/template with Sprig 3.2.3 by the
//! differential tests in `tests/` (see `tools/template-oracle`).
//!
//! # Sandbox
//! No function can read the process environment, files, the network, DNS or
//! Kubernetes objects: `env`, `expandenv`, `getHostByName` and `getSecretKey`
//! are not defined, so templates using them fail to parse. Time zones come from
//! a database compiled into the binary. Rendering is bounded (Go has no such bounds): output
//! and every string a function builds at [`MAX_OUTPUT`] bytes, evaluation steps and wall-clock
//! time per [`Limits`], generated sequences at two million elements, `{{template}}` nesting at
//! 200 levels, template text at [`MAX_PARSE_DEPTH`] levels of parentheses and controls,
//! execution at [`MAX_EXEC_NESTING`] nested bodies, decoded JSON at 128 and YAML at 64 levels,
//! values at 1,000 levels of nesting with no cycles, PKCS#12 key derivation at
//! 1,000,000 iterations, `printf` widths and precisions at Go's 1e6. Each bound fails the
//! render with an error naming the function and the limit.
//!
//! # Deliberate differences from Go
//! - `range` over an integer works (Go 1.22+, the Go ESO is built with).
//! - "Local" time is UTC (the controller runs in a container without a zone).
//! - `keys` and `values` return key order (Go's order is random).
//! - `range can't iterate over ...` names the type, not the value (Go prints the
//!   value, which may be secret).
//! - `genPrivateKey "dsa"` fails (DSA is deprecated); the `*WithKey` certificate functions
//!   read RSA, P-256, P-384 and Ed25519 keys.
//! - Error messages never quote a value (Go quotes the input of `toDate`, `urlParse`,
//!   `semverCompare`, `dateModify`...): they may hold secrets and end up in status and logs.

mod error;
mod exec;
pub mod funcs;
pub mod gostr;
mod lexer;
mod parse;
pub mod printf;
pub mod value;

use std::sync::Arc;

pub use error::TemplateError;
pub use exec::{Limits, MAX_EXEC_NESTING, MAX_OUTPUT};
pub use funcs::unsupported::UNSUPPORTED;
pub use funcs::yaml::{YamlMapError, parse_yaml_map};
pub use parse::MAX_PARSE_DEPTH;
pub use value::Value;

/// A parsed template, including the templates it defines with `define`/`block`.
pub struct Template {
    name: String,
    src: Arc<str>,
    trees: parse::Trees,
}

// Template text may embed literals; Debug shows only the name.
impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Parses `text` as template `name`. `delims` replaces `{{`/`}}` (ESO's
    /// `--template-left-delimiter`/`--template-right-delimiter`); an empty
    /// delimiter means the default, as in Go.
    pub fn parse(
        name: &str,
        text: &str,
        delims: Option<(&str, &str)>,
    ) -> Result<Template, TemplateError> {
        let (mut left, mut right) = delims.unwrap_or(("{{", "}}"));
        if left.is_empty() {
            left = "{{";
        }
        if right.is_empty() {
            right = "}}";
        }
        let to_err = |e: error::ParseError| {
            let (line, _) = error::line_col(text, e.pos);
            TemplateError::Parse {
                name: name.to_string(),
                line,
                msg: e.msg,
            }
        };
        let toks = lexer::Lexer::new(text, left, right).run().map_err(to_err)?;
        let trees = parse::parse(name, &toks).map_err(to_err)?;
        Ok(Template {
            name: name.to_string(),
            src: text.into(),
            trees,
        })
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renders the template with `data` as dot, with `missingkey=error`.
    /// Fails if the output is not valid UTF-8 (use [`Template::execute_bytes`]
    /// for Secret data, which may be binary).
    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        self.execute_with(data, Limits::default())
    }

    /// [`Template::execute`] with other [`Limits`] than the defaults.
    pub fn execute_with(&self, data: &Value, limits: Limits) -> Result<String, TemplateError> {
        let out = self.execute_template(&self.name, data, limits)?;
        if gostr::has_escapes(&out) {
            return Err(TemplateError::Other {
                name: self.name.clone(),
                msg: "output is not valid UTF-8 (render binary data with execute_bytes)".into(),
            });
        }
        Ok(out)
    }

    /// Renders the template to bytes, exactly as Go would write them.
    pub fn execute_bytes(&self, data: &Value) -> Result<Vec<u8>, TemplateError> {
        self.execute_bytes_with(data, Limits::default())
    }

    /// [`Template::execute_bytes`] with other [`Limits`] than the defaults.
    pub fn execute_bytes_with(
        &self,
        data: &Value,
        limits: Limits,
    ) -> Result<Vec<u8>, TemplateError> {
        let out = self.execute_template(&self.name, data, limits)?;
        Ok(gostr::to_bytes(&out).into_owned())
    }

    /// Renders one of the templates defined in this one (`{{define "x"}}`),
    /// in the internal string form (see [`gostr`]).
    fn execute_template(
        &self,
        name: &str,
        data: &Value,
        limits: Limits,
    ) -> Result<String, TemplateError> {
        let Some(tree) = self.trees.get(name) else {
            return Err(TemplateError::Other {
                name: self.name.clone(),
                msg: format!(
                    "no template {} associated with template {}",
                    printf::go_quote(name, false),
                    printf::go_quote(&self.name, false)
                ),
            });
        };
        let mut st = exec::State::new(&self.trees, name, data, limits);
        match st.run(tree, data) {
            Ok(()) => Ok(st.out),
            Err(e) => {
                let (line, col) = error::line_col(&self.src, e.pos);
                Err(if e.bare {
                    TemplateError::Other {
                        name: self.name.clone(),
                        msg: e.msg,
                    }
                } else {
                    TemplateError::Exec {
                        name: self.name.clone(),
                        line,
                        col,
                        template: e.template,
                        node: e.node,
                        msg: e.msg,
                    }
                })
            }
        }
    }
}

/// Parses and renders in one step (what the controller does per template entry).
pub fn render(
    name: &str,
    text: &str,
    data: &Value,
    delims: Option<(&str, &str)>,
) -> Result<String, TemplateError> {
    Template::parse(name, text, delims)?.execute(data)
}

/// Parses and renders to bytes (Secret data may be binary).
pub fn render_bytes(
    name: &str,
    text: &str,
    data: &Value,
    delims: Option<(&str, &str)>,
) -> Result<Vec<u8>, TemplateError> {
    Template::parse(name, text, delims)?.execute_bytes(data)
}
