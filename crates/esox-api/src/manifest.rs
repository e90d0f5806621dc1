//! Reading manifests written by people: YAML files, possibly copied from a web page.
//!
//! Errors say where (file, line, column, field path) and what to change.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "{file}:{line}:{column}: non-breaking space (U+00A0) found; it usually comes from copying a manifest from a web page: replace it with a plain space"
    )]
    NonBreakingSpace {
        file: String,
        line: usize,
        column: usize,
    },
    #[error("{file}: invalid YAML: {message}")]
    Yaml { file: String, message: String },
    #[error("{file}: document {document}: {message}")]
    Shape {
        file: String,
        document: usize,
        message: String,
    },
    #[error("{origin}: field {path}: {message}")]
    Field {
        origin: Box<Origin>,
        path: String,
        message: String,
    },
    #[error("{origin}: unknown field {path}: check its spelling and indentation against the {} API", origin.kind)]
    UnknownField { origin: Box<Origin>, path: String },
}

/// Which document of which file an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub document: usize,
    pub kind: String,
    pub name: String,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: document {} ({} {})",
            self.file, self.document, self.kind, self.name
        )
    }
}

impl Origin {
    fn of(file: &str, doc: &Document) -> Box<Self> {
        Box::new(Origin {
            file: file.to_owned(),
            document: doc.index,
            kind: doc.kind().to_owned(),
            name: doc.name().to_owned(),
        })
    }
}

/// One manifest of a multi-document YAML stream, as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// Position in the stream, from 1.
    pub index: usize,
    pub value: Value,
}

impl Document {
    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    pub fn api_version(&self) -> &str {
        self.value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Splits and parses a YAML stream. Empty documents are skipped; each other document must be a mapping.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Document>, ManifestError> {
    if let Some((line, column)) = find_char(text, '\u{a0}') {
        return Err(ManifestError::NonBreakingSpace {
            file: file.to_owned(),
            line,
            column,
        });
    }
    let values: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| ManifestError::Yaml {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
    let mut docs = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        let index = i + 1;
        match value {
            Value::Null => continue,
            Value::Object(_) => docs.push(Document { index, value }),
            other => {
                return Err(ManifestError::Shape {
                    file: file.to_owned(),
                    document: index,
                    message: format!(
                        "expected a mapping with apiVersion, kind and metadata, found {}",
                        json_type(&other)
                    ),
                });
            }
        }
    }
    Ok(docs)
}

/// Converts a document into a typed object, refusing unknown fields and naming the path of any
/// field that has the wrong type.
pub fn to_typed<T: DeserializeOwned>(file: &str, doc: &Document) -> Result<T, ManifestError> {
    let mut unknown = Vec::new();
    let de = doc.value.clone();
    let result: Result<T, _> = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        de,
        &mut |path: serde_ignored::Path<'_>| {
            unknown.push(path.to_string());
        },
    ));
    let typed = result.map_err(|e| ManifestError::Field {
        origin: Origin::of(file, doc),
        path: e.path().to_string(),
        message: e.into_inner().to_string(),
    })?;
    // `status` is written by controllers, and object metadata is validated by the API server.
    // `apiVersion` and `kind` are checked by the caller against the kind it expects.
    unknown.retain(|p| {
        !p.starts_with("status") && !p.starts_with("metadata") && p != "apiVersion" && p != "kind"
    });
    if let Some(path) = unknown.into_iter().next() {
        return Err(ManifestError::UnknownField {
            origin: Origin::of(file, doc),
            path,
        });
    }
    Ok(typed)
}

fn find_char(text: &str, wanted: char) -> Option<(usize, usize)> {
    for (line_no, line) in text.lines().enumerate() {
        if let Some(col) = line.chars().position(|c| c == wanted) {
            return Some((line_no + 1, col + 1));
        }
    }
    None
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
