//! Adapter to `esox-schema`: CRD validation (structural schemas, CEL rules) and the pruning,
//! defaulting and validation of custom resources, as the apiextensions server does them.

use std::sync::Arc;

use serde_json::Value;

use crate::handlers::discovery::KUBE_MINOR;
use crate::resources::ResourceInfo;
use crate::status::{ApiError, ApiResult};

/// Whether custom resources are validated against their CRD schema.
pub fn schema_validation_available() -> bool {
    true
}

/// (reason, field, message) as a `StatusCause`, message without the field prefix.
fn cause(e: &esox_schema::FieldError) -> (String, String, String) {
    let text = e.to_string();
    let msg = if e.path.is_empty() {
        text
    } else {
        text.strip_prefix(&format!("{}: ", e.path))
            .map(str::to_string)
            .unwrap_or(text)
    };
    (e.kind.reason().to_string(), e.path.clone(), msg)
}

/// Validates a whole CRD as the target server does on create and update.
pub(crate) fn crd_errors(crd: &Value) -> Vec<(String, String, String)> {
    let opts = esox_schema::ValidateOptions {
        kubernetes_minor: KUBE_MINOR.parse().unwrap_or(32),
        allow_selectable_fields: true,
    };
    match esox_schema::validate_crd_with(crd, &opts) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(cause).collect(),
    }
}

/// Compiles a served version's schema once, at CRD registration.
pub(crate) fn compile(schema: &Value) -> Option<Arc<esox_schema::CompiledSchema>> {
    match esox_schema::CompiledSchema::compile(schema) {
        Ok(c) => Some(Arc::new(c)),
        Err(e) => {
            tracing::warn!(error = %e, "CRD schema does not compile; its objects are stored unvalidated");
            None
        }
    }
}

/// Prunes, defaults and validates a custom resource against its version's schema.
pub(crate) fn admit_custom(
    info: &ResourceInfo,
    old: Option<&Value>,
    obj: &mut Value,
    strict: bool,
) -> ApiResult<()> {
    let Some(schema) = &info.crd_schema else {
        return Ok(());
    };
    if strict {
        let mut pruned = obj.clone();
        schema.prune(&mut pruned);
        let mut unknown = Vec::new();
        dropped_fields(obj, &pruned, "", &mut unknown);
        if !unknown.is_empty() {
            let list: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect();
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
                list.join(", "),
                kind = info.kind,
                v = info.version
            )));
        }
    }
    match schema.admit(obj, old) {
        Ok(()) => Ok(()),
        Err(errors) => {
            let name = crate::util::name_of(obj).to_string();
            let causes: Vec<_> = errors.iter().map(cause).collect();
            Err(ApiError::invalid(&info.group, &info.kind, &name, &causes))
        }
    }
}

/// Paths present in `before` but removed by pruning, as `spec.foo` (list items as `[i]`).
fn dropped_fields(before: &Value, after: &Value, at: &str, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, v) in b {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match a.get(k) {
                    None => out.push(path),
                    Some(av) => dropped_fields(v, av, &path, out),
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                dropped_fields(bv, av, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}
