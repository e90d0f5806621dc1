//! esox-schema: what the Kubernetes API server does with a CRD's OpenAPI v3 schema, on
//! `serde_json::Value`s and without I/O.
//!
//! - [`check_structural`]: the structural-schema and per-node CRD rules a schema must meet.
//! - [`validate_crd`]: a whole `apiextensions.k8s.io/v1` `CustomResourceDefinition`, for a chosen
//!   target server ([`ValidateOptions`]), CEL compile and cost checks included.
//! - [`CompiledSchema`]: pruning, defaulting and validation (OpenAPI and CEL rules) of custom
//!   resources, as the API server applies them on create and update.
//!
//! Errors are [`FieldError`]s that print and carry reasons as the API server's `Status` causes do.
//!
//! An in-memory API server uses it as the real one does: [`validate_crd`] on CRD create, then per
//! served version [`CompiledSchema::compile`] once, and [`CompiledSchema::admit`] (prune, default,
//! validate; `old` on update) for every custom resource write.
//!
//! Known differences from a real server: CEL runs on the `cel` crate (standard library and the
//! `strings` extension; Kubernetes library functions such as `quantity()` or `isSorted()` are
//! refused at compile time), there is no runtime CEL cost budget, no ratcheting of unchanged
//! invalid values, and `metadata` is validated by neither the schema nor ObjectMeta rules.

mod cel_check;
mod cel_eval;
mod cel_names;
mod crd;
mod defaults;
mod error;
mod formats;
mod node;
mod path;
mod prune;
mod structural;
mod validate;

use serde_json::Value;

pub use cel_check::{
    MAX_REQUEST_SIZE_BYTES, PER_CALL_LIMIT, STATIC_ESTIMATED_COST_LIMIT,
    STATIC_ESTIMATED_CRD_COST_LIMIT,
};
pub use crd::{validate_crd, validate_crd_with};
pub use error::{FieldError, FieldErrorKind, SchemaError, format_errors};
pub use structural::{check_structural, check_structural_with};

/// The API server the checks target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateOptions {
    /// Minor version of the target Kubernetes 1.x API server (24 for 1.24). Rule fields newer
    /// than this server (messageExpression 1.27, reason/fieldPath 1.28, optionalOldSelf 1.30)
    /// and `selectableFields` (1.30 beta, 1.32 GA) are refused. Note that on 1.24 itself
    /// `x-kubernetes-validations` needs the `CustomResourceValidationExpressions` feature gate
    /// (beta, on by default, from 1.25): rules are accepted here but a default 1.24 server drops them.
    pub kubernetes_minor: u32,
    /// Accept `selectableFields` (the `CustomResourceFieldSelectors` gate) even below 1.30.
    pub allow_selectable_fields: bool,
}

/// The oldest server esox supports.
pub const MIN_KUBERNETES_MINOR: u32 = 24;

impl Default for ValidateOptions {
    fn default() -> Self {
        Self {
            kubernetes_minor: MIN_KUBERNETES_MINOR,
            allow_selectable_fields: false,
        }
    }
}

/// A CRD version's `openAPIV3Schema`, ready to prune, default and validate custom resources.
#[derive(Debug)]
pub struct CompiledSchema {
    root: node::Node,
    patterns: validate::Patterns,
    programs: cel_eval::Programs,
    has_rules: bool,
}

impl CompiledSchema {
    /// Compiles a schema. It must be structural with valid defaults and CEL rules
    /// ([`check_structural`] with the newest rule fields allowed); the errors say what to fix.
    pub fn compile(openapi_v3_schema: &Value) -> Result<CompiledSchema, SchemaError> {
        let root = node::Node::parse(openapi_v3_schema, "")?;
        let latest = ValidateOptions {
            kubernetes_minor: u32::MAX,
            allow_selectable_fields: true,
        };
        if let Err(errors) = check_structural_with(openapi_v3_schema, &latest) {
            return Err(SchemaError::Invalid(errors));
        }
        // The structural check has compiled every pattern and rule already; these only fail if
        // the two disagree.
        let patterns = validate::Patterns::collect(&root).map_err(|(pattern, message)| {
            SchemaError::Pattern {
                path: find_pattern_path(&root, &pattern),
                pattern,
                message,
            }
        })?;
        let programs = cel_eval::Programs::collect(&root)
            .map_err(|(rule, message)| SchemaError::Cel { rule, message })?;
        let mut has_rules = false;
        validate::walk(&root, &mut |n| has_rules |= !n.rules.is_empty());
        Ok(CompiledSchema {
            root,
            patterns,
            programs,
            has_rules,
        })
    }

    /// Sets absent fields that have a schema `default`, and replaces `null` in non-nullable
    /// fields with their default (or drops them), as the server does when decoding.
    pub fn apply_defaults(&self, obj: &mut Value) {
        defaults::apply(&self.root, obj);
    }

    /// Drops fields the schema does not specify (kept: `apiVersion`, `kind`, `metadata` at the
    /// root and in embedded resources, and anything under `x-kubernetes-preserve-unknown-fields`).
    pub fn prune(&self, obj: &mut Value) {
        prune::prune(&self.root, obj, true);
    }

    /// Validates a custom resource (after pruning and defaulting). `old` is the stored object on
    /// update: transition rules (those reading `oldSelf`) run only where an old value correlates.
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut for_schema = obj.clone();
        // Object meta is validated as ObjectMeta by the server, not by the schema.
        if let Some(map) = for_schema.as_object_mut()
            && let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.retain(|k, _| k == "name" || k == "generateName");
        }
        validate::validate_value(&self.root, &for_schema, "", &self.patterns, &mut errors);
        // As `hasBlockingErr` in the server's customresource strategy: CEL rules do not run on an
        // object with missing, unsupported, oversized or mistyped values.
        let blocking = errors.iter().any(|e| {
            matches!(
                e.kind,
                FieldErrorKind::NotSupported
                    | FieldErrorKind::Required
                    | FieldErrorKind::TooLong
                    | FieldErrorKind::TooMany
                    | FieldErrorKind::TypeInvalid
            )
        });
        if !self.has_rules {
            // The server builds no CEL validator for a schema without rules.
        } else if blocking {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                "",
                Some("null".to_string()),
                "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ));
        } else {
            cel_eval::walk_value(&self.root, obj, old, "", &self.programs, &mut errors);
        }
        errors
    }

    /// [`CompiledSchema::prune`], [`CompiledSchema::apply_defaults`] and
    /// [`CompiledSchema::validate`] in the server's order; the object is left pruned and defaulted.
    pub fn admit(&self, obj: &mut Value, old: Option<&Value>) -> Result<(), Vec<FieldError>> {
        self.prune(obj);
        self.apply_defaults(obj);
        let errors = self.validate(obj, old);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn find_pattern_path(root: &node::Node, pattern: &str) -> String {
    fn find(node: &node::Node, pattern: &str, at: &str) -> Option<String> {
        if node.pattern.as_deref() == Some(pattern) {
            return Some(at.to_string());
        }
        for (k, sub) in &node.properties {
            if let Some(p) = find(sub, pattern, &path::key(&path::child(at, "properties"), k)) {
                return Some(p);
            }
        }
        if let Some(items) = &node.items
            && let Some(p) = find(items, pattern, &path::child(at, "items"))
        {
            return Some(p);
        }
        if let Some(node::Additional::Schema(sub)) = &node.additional {
            return find(sub, pattern, &path::child(at, "additionalProperties"));
        }
        None
    }
    find(root, pattern, "").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn compiled_schema_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::CompiledSchema>();
    }
}
