//! Field errors shaped like `k8s.io/apimachinery/pkg/util/validation/field.Error`, so that the
//! in-memory API server can return the same `Status` causes and messages as a real one.

use std::fmt;

/// The kind of a field error; [`FieldErrorKind::reason`] gives the `StatusCause.reason` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// A required field is absent (`FieldValueRequired`).
    Required,
    /// The value is present but not acceptable (`FieldValueInvalid`).
    Invalid,
    /// The value is not one of an enumerated set (`FieldValueNotSupported`).
    NotSupported,
    /// A string is longer than allowed (`FieldValueTooLong`).
    TooLong,
    /// A list or map has more entries than allowed (`FieldValueTooMany`).
    TooMany,
    /// The field may not be set here (`FieldValueForbidden`).
    Forbidden,
    /// The value has the wrong JSON type (`FieldValueTypeInvalid`).
    TypeInvalid,
    /// A value appears twice where it must be unique (`FieldValueDuplicate`).
    Duplicate,
    /// Something referenced was not found (`FieldValueNotFound`).
    NotFound,
    /// The validator itself failed (`InternalError`).
    Internal,
}

impl FieldErrorKind {
    /// The `reason` of a `StatusCause` as the API server reports it.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Forbidden => "FieldValueForbidden",
            Self::TypeInvalid => "FieldValueTypeInvalid",
            Self::Duplicate => "FieldValueDuplicate",
            Self::NotFound => "FieldValueNotFound",
            Self::Internal => "InternalError",
        }
    }

    /// The human words the API server prints before the value (`ErrorType.String()` in Go).
    fn label(&self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Forbidden => "Forbidden",
            Self::Duplicate => "Duplicate value",
            Self::NotFound => "Not found",
            Self::Internal => "Internal error",
        }
    }

    /// Whether the API server prints the offending value after the label.
    fn shows_value(&self) -> bool {
        matches!(
            self,
            Self::Invalid
                | Self::TypeInvalid
                | Self::NotSupported
                | Self::Duplicate
                | Self::NotFound
        )
    }
}

/// One validation failure at a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path as the API server prints it: `spec.data[0].secretKey`, `metadata.labels[app]`.
    /// Empty for the object itself.
    pub path: String,
    pub kind: FieldErrorKind,
    /// The detail text (for `NotSupported` this is `supported values: ...`).
    pub message: String,
    /// The offending value, already rendered as the API server renders it (`"x"`, `3`, `"object"`),
    /// for the kinds that show one. Values of fields that may hold secrets are never put here by
    /// this crate: CEL failures on objects show only the type name.
    pub value: Option<String>,
}

impl FieldError {
    pub fn new(
        kind: FieldErrorKind,
        path: impl Into<String>,
        value: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            kind,
            message: message.into(),
            value,
        }
    }

    pub fn required(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Required, path, None, message)
    }

    pub fn forbidden(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Forbidden, path, None, message)
    }

    pub fn invalid(
        path: impl Into<String>,
        value: &serde_json::Value,
        message: impl Into<String>,
    ) -> Self {
        Self::new(
            FieldErrorKind::Invalid,
            path,
            Some(render_value(value)),
            message,
        )
    }

    /// `Invalid value` whose value is a type name, as CEL failures on objects and lists print it.
    pub fn invalid_type_name(
        path: impl Into<String>,
        type_name: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(
            FieldErrorKind::Invalid,
            path,
            Some(quote(type_name)),
            message,
        )
    }

    pub fn not_supported(
        path: impl Into<String>,
        value: &serde_json::Value,
        supported: &[String],
    ) -> Self {
        let message = if supported.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", supported.join(", "))
        };
        Self::new(
            FieldErrorKind::NotSupported,
            path,
            Some(render_value(value)),
            message,
        )
    }

    pub fn duplicate(path: impl Into<String>, value: &serde_json::Value) -> Self {
        Self::new(
            FieldErrorKind::Duplicate,
            path,
            Some(render_value(value)),
            "",
        )
    }

    pub fn too_many(path: impl Into<String>, actual: usize, max: u64) -> Self {
        Self::new(
            FieldErrorKind::TooMany,
            path,
            None,
            format!("{actual}: must have at most {max} items"),
        )
    }

    pub fn too_long(path: impl Into<String>, max: u64) -> Self {
        Self::new(
            FieldErrorKind::TooLong,
            path,
            None,
            format!("may not be more than {max} bytes"),
        )
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(self.kind.label())?;
        if self.kind.shows_value()
            && let Some(value) = &self.value
        {
            write!(f, ": {value}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldError {}

/// Renders a value the way Go's `field.Error` does for JSON-decoded values: strings quoted
/// (`%q`), numbers and booleans bare, `null` for nil, objects and lists as compact JSON.
pub(crate) fn render_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => quote(s),
        serde_json::Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

/// Double-quoted with escapes, close to Go's `%q` for the printable strings that show up here.
pub(crate) fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Joins field errors into one line each, as `kubectl` prints a rejected object's causes.
pub fn format_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a schema could not be compiled into a [`crate::CompiledSchema`].
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A keyword holds a JSON value of the wrong shape (`type: 5`, `required: "x"`).
    #[error("{path}: {message}")]
    Malformed { path: String, message: String },
    /// A `pattern` is not a regular expression the `regex` crate accepts.
    #[error("{path}.pattern: invalid regular expression {pattern:?}: {message}")]
    Pattern {
        path: String,
        pattern: String,
        message: String,
    },
    /// An `x-kubernetes-validations` rule does not parse as CEL.
    #[error("x-kubernetes-validations rule {rule:?}: CEL compile error: {message}")]
    Cel { rule: String, message: String },
    /// The schema violates the structural-schema or CRD rules; each entry names a field.
    #[error("schema is not valid: {}", format_errors(.0))]
    Invalid(Vec<FieldError>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_matches_the_api_server_for_each_kind() {
        let cases = [
            (
                FieldError::required("spec.foo", ""),
                "spec.foo: Required value",
                "FieldValueRequired",
            ),
            (
                FieldError::not_supported("spec.kind", &json!("x"), &[quote("a"), quote("b")]),
                "spec.kind: Unsupported value: \"x\": supported values: \"a\", \"b\"",
                "FieldValueNotSupported",
            ),
            (
                FieldError::invalid_type_name("spec", "object", "rule message"),
                "spec: Invalid value: \"object\": rule message",
                "FieldValueInvalid",
            ),
            (
                FieldError::invalid("spec.n", &json!(3), "too small"),
                "spec.n: Invalid value: 3: too small",
                "FieldValueInvalid",
            ),
            (
                FieldError::too_long("spec.s", 5),
                "spec.s: Too long: may not be more than 5 bytes",
                "FieldValueTooLong",
            ),
            (
                FieldError::too_many("spec.l", 4, 3),
                "spec.l: Too many: 4: must have at most 3 items",
                "FieldValueTooMany",
            ),
            (
                FieldError::forbidden("spec.x", "not here"),
                "spec.x: Forbidden: not here",
                "FieldValueForbidden",
            ),
            (
                FieldError::duplicate("spec.l[1]", &json!("a")),
                "spec.l[1]: Duplicate value: \"a\"",
                "FieldValueDuplicate",
            ),
            (
                FieldError::new(
                    FieldErrorKind::TypeInvalid,
                    "spec.n",
                    Some(quote("string")),
                    "spec.n in body must be of type integer: \"string\"",
                ),
                "spec.n: Invalid value: \"string\": spec.n in body must be of type integer: \"string\"",
                "FieldValueTypeInvalid",
            ),
        ];
        for (error, shown, reason) in cases {
            assert_eq!(error.to_string(), shown);
            assert_eq!(error.kind.reason(), reason);
        }
    }

    #[test]
    fn values_render_like_go() {
        assert_eq!(render_value(&json!("a\"b")), "\"a\\\"b\"");
        assert_eq!(render_value(&json!(null)), "null");
        assert_eq!(render_value(&json!(true)), "true");
        assert_eq!(render_value(&json!(["x"])), "[\"x\"]");
    }

    #[test]
    fn errors_join_one_per_line() {
        let text = format_errors(&[
            FieldError::required("a", ""),
            FieldError::forbidden("b", "no"),
        ]);
        assert_eq!(text, "a: Required value\nb: Forbidden: no");
    }
}
