//! Evaluating `x-kubernetes-validations` rules on custom resource values, as
//! `pkg/apiserver/schema/cel/validation.go` does: `self` is the value at the rule's node,
//! `oldSelf` the correlated old value (transition rules run only when one exists), and a failed
//! rule reports its message (or `failed rule: <rule>`) at the node's path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cel::common::types::{CelBool, CelString};

use serde_json::Value;

use crate::ValidateOptions;
use crate::error::{FieldError, FieldErrorKind, render_value};
use crate::node::{Additional, Node, Rule};
use crate::path;
use crate::validate::{map_list_key, type_matches};

/// The CEL environment rules compile against: the standard library plus the `strings`
/// extension, which Kubernetes has offered to CRD rules since validation rules were introduced.
pub(crate) fn env() -> Arc<cel::Env> {
    static ENV: OnceLock<Arc<cel::Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = cel::Env::stdlib();
        if let Err(e) = env.add_extension(cel::extensions::strings) {
            tracing::warn!(error = %e, "CEL strings extension unavailable");
        }
        let registered = cel::add_member_overload!(env, fn matches: (CelString, CelString) -> Result<CelBool>)
            .and_then(|()| cel::add_overload!(env, fn matches: (CelString, CelString) -> Result<CelBool>, id = "matches"));
        if let Err(e) = registered {
            tracing::warn!(error = %e, "CEL matches() unavailable");
        }
        Arc::new(env)
    })
    .clone()
}

/// Compiled `matches()` patterns, shared by all rules; cleared when it grows past this many.
const REGEX_CACHE_LIMIT: usize = 512;

/// `string.matches(re)`: RE2-style unanchored search, as in cel-go, with compiled patterns
/// cached (rules use a handful of literal patterns, evaluated for every object).
fn matches(this: &CelString<'_>, re: &CelString<'_>) -> Result<CelBool, cel::ExecutionError> {
    static CACHE: OnceLock<Mutex<HashMap<String, regex::Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !cache.contains_key(re.inner()) {
        let compiled = crate::validate::compile_pattern(re.inner()).map_err(|e| {
            cel::ExecutionError::function_error(
                "matches",
                format!("invalid regular expression {:?}: {e}", re.inner()),
            )
        })?;
        if cache.len() >= REGEX_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(re.inner().to_string(), compiled);
    }
    let matched = cache
        .get(re.inner())
        .is_some_and(|r| r.is_match(this.inner()));
    Ok(CelBool::from(matched))
}

/// Compiled rule programs, keyed by rule source.
#[derive(Debug, Default)]
pub(crate) struct Programs(HashMap<String, Arc<cel::Program>>);

impl Programs {
    /// Compiles every rule (and message expression) below `node`; the first failure is returned
    /// as `(source, error)`.
    pub(crate) fn collect(node: &Node) -> Result<Self, (String, String)> {
        let env = env();
        let mut programs = Programs::default();
        let mut result = Ok(());
        crate::validate::walk(node, &mut |n| {
            for rule in &n.rules {
                let sources = std::iter::once(&rule.rule).chain(rule.message_expression.as_ref());
                for src in sources {
                    if result.is_ok() && !programs.0.contains_key(src) {
                        match env.compile(src) {
                            Ok(p) => {
                                programs.0.insert(src.clone(), Arc::new(p));
                            }
                            Err(e) => result = Err((src.clone(), e.to_string())),
                        }
                    }
                }
            }
        });
        result.map(|()| programs)
    }

    fn get(&self, src: &str) -> Option<Arc<cel::Program>> {
        if let Some(p) = self.0.get(src) {
            return Some(p.clone());
        }
        env().compile(src).ok().map(Arc::new)
    }
}

/// Converts a JSON value to CEL the way the server's unstructured adapter types it: schema
/// `number` is always `double`, JSON integers are `int`, objects are maps with string keys.
pub(crate) fn to_cel(node: Option<&Node>, value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => {
            let as_double = node.is_some_and(|n| n.ty.as_deref() == Some("number"));
            match (n.as_i64(), n.as_u64()) {
                (Some(i), _) if !as_double => cel::Value::Int(i),
                (None, Some(u)) if !as_double => cel::Value::UInt(u),
                _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            }
        }
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => {
            let sub = node.and_then(|n| n.items.as_deref());
            cel::Value::List(Arc::new(items.iter().map(|v| to_cel(sub, v)).collect()))
        }
        Value::Object(map) => {
            // Objects with declared properties are CEL objects whose field names are escaped;
            // maps (additionalProperties) and schemaless objects keep their keys.
            let escaped = node.is_some_and(|n| !n.properties.is_empty());
            let converted: HashMap<cel::objects::Key, cel::Value> = map
                .iter()
                .filter_map(|(k, v)| {
                    let sub = node.and_then(|n| n.property_schema(k));
                    let key = if escaped {
                        crate::cel_names::escape(k)?
                    } else {
                        k.clone()
                    };
                    Some((cel::objects::Key::String(Arc::new(key)), to_cel(sub, v)))
                })
                .collect();
            cel::Value::Map(cel::objects::Map {
                map: Arc::new(converted),
            })
        }
    }
}

/// Whether a rule reads `oldSelf` (a transition rule).
pub(crate) fn uses_old_self(program: &cel::Program) -> bool {
    program.references().has_variable("oldSelf")
}

/// Runs the rules of `node` and of every node below it that `value` reaches.
pub(crate) fn validate_rules_deep(
    node: &Node,
    value: &Value,
    old: Option<&Value>,
    at: &str,
    _opts: &ValidateOptions,
    errors: &mut Vec<FieldError>,
) {
    let programs = Programs::default();
    walk_value(node, value, old, at, &programs, errors);
}

/// The walk of `Validator.validate`: rules at this node, then properties, additional
/// properties and items, correlating old values where the server does.
pub(crate) fn walk_value(
    node: &Node,
    value: &Value,
    old: Option<&Value>,
    at: &str,
    programs: &Programs,
    errors: &mut Vec<FieldError>,
) {
    if value.is_null() || !type_matches(node, value) {
        return;
    }
    let old = old.filter(|o| !o.is_null());
    run_rules(node, value, old, at, programs, errors);
    match value {
        Value::Object(map) => {
            // Maps with a map type other than granular/atomic would not correlate; those are
            // refused by the CRD checks, so every map here correlates by key.
            let old_map = old.and_then(Value::as_object);
            for (k, v) in map {
                let old_v = old_map.and_then(|m| m.get(k));
                if let Some(sub) = node.properties.get(k) {
                    walk_value(sub, v, old_v, &path::child(at, k), programs, errors);
                } else if let Some(Additional::Schema(sub)) = &node.additional {
                    walk_value(sub, v, old_v, &path::key(at, k), programs, errors);
                }
            }
        }
        Value::Array(items) => {
            let Some(sub) = node.items.as_deref() else {
                return;
            };
            let old_items = old.and_then(Value::as_array);
            for (i, item) in items.iter().enumerate() {
                // Only map lists correlate items with the old list (by their keys).
                let old_item = match (node.list_type.as_deref(), old_items) {
                    (Some("map"), Some(old_items)) => {
                        let key = map_list_key(node, item);
                        old_items
                            .iter()
                            .find(|o| key.is_some() && map_list_key(node, o) == key)
                    }
                    _ => None,
                };
                walk_value(sub, item, old_item, &path::index(at, i), programs, errors);
            }
        }
        _ => {}
    }
}

fn run_rules(
    node: &Node,
    value: &Value,
    old: Option<&Value>,
    at: &str,
    programs: &Programs,
    errors: &mut Vec<FieldError>,
) {
    if node.rules.is_empty() {
        return;
    }
    let env = env();
    let self_value = to_cel(Some(node), value);
    let old_value = old.map(|o| to_cel(Some(node), o));
    for rule in &node.rules {
        if rule.rule.trim().is_empty() {
            continue;
        }
        let Some(program) = programs.get(&rule.rule) else {
            errors.push(FieldError::invalid_type_name(
                at,
                node.type_name(),
                format!("rule compile error: {}", rule.rule.trim()),
            ));
            continue;
        };
        let transition = uses_old_self(&program);
        // `optionalOldSelf: true` makes oldSelf an optional that is none on create, so the rule
        // runs then too (CRD validation ratcheting, 1.30+).
        let optional_old_self = transition && rule.optional_old_self == Some(true);
        if transition && old_value.is_none() && !optional_old_self {
            continue;
        }
        let mut ctx = cel::Context::with_env(env.clone());
        ctx.add_variable_from_value("self", self_value.clone());
        if optional_old_self {
            let optional = match &old_value {
                Some(o) => cel::objects::OptionalValue::of(o.clone()),
                None => cel::objects::OptionalValue::none(),
            };
            ctx.add_variable_from_value("oldSelf", cel::Value::Opaque(Arc::new(optional)));
        } else if let Some(o) = &old_value {
            ctx.add_variable_from_value("oldSelf", o.clone());
        }
        let detail = match program.execute(&ctx) {
            Ok(cel::Value::Bool(true)) => continue,
            Ok(cel::Value::Bool(false)) => message_for(rule, &ctx, programs),
            Ok(other) => format!(
                "rule did not evaluate to a bool (got {:?}) evaluating rule: {}",
                other.type_of(),
                rule_error_string(rule)
            ),
            Err(cel::ExecutionError::NoSuchOverload(e)) => format!(
                "'no such overload: {e}': call arguments did not match a supported operator, function or macro signature for rule: {}",
                rule_error_string(rule)
            ),
            Err(e) => format!(
                "{} evaluating rule: {}",
                go_error_text(&e),
                rule_error_string(rule)
            ),
        };
        let rule_path = match rule.field_path.as_deref().map(str::trim) {
            Some(fp) if !fp.is_empty() => path::join(at, fp.trim_start_matches('.')),
            _ => at.to_string(),
        };
        let kind = match rule.reason.as_deref() {
            Some("FieldValueRequired") => FieldErrorKind::Required,
            Some("FieldValueForbidden") => FieldErrorKind::Forbidden,
            Some("FieldValueDuplicate") => FieldErrorKind::Duplicate,
            _ => FieldErrorKind::Invalid,
        };
        // Objects and lists show only their type name (`field.OmitValueType` in the server),
        // which also keeps their contents out of messages.
        let shown = match value {
            Value::Object(_) => crate::error::quote("object"),
            Value::Array(_) => crate::error::quote("array"),
            other => render_value(other),
        };
        errors.push(FieldError::new(kind, rule_path, Some(shown), detail));
    }
}

/// The failure message: `messageExpression` when it yields a non-empty string, else `message`,
/// else `failed rule: <rule>`.
fn message_for(rule: &Rule, ctx: &cel::Context, programs: &Programs) -> String {
    if let Some(expr) = rule
        .message_expression
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        && let Some(program) = programs.get(expr)
        && let Ok(cel::Value::String(s)) = program.execute(ctx)
        && !s.trim().is_empty()
        && !s.contains('\n')
    {
        return s.trim().to_string();
    }
    match rule.message.as_deref().map(str::trim) {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => format!("failed rule: {}", rule.rule.trim()),
    }
}

/// cel-go's wording for the runtime errors rules commonly hit, so messages match the server's.
fn go_error_text(e: &cel::ExecutionError) -> String {
    match e {
        cel::ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        cel::ExecutionError::IndexOutOfBounds(index) => {
            format!("index out of bounds: {}", render_cel(index))
        }
        cel::ExecutionError::DivisionByZero(_) => "division by zero".to_string(),
        cel::ExecutionError::RemainderByZero(_) => "modulus by zero".to_string(),
        cel::ExecutionError::Overflow(..) => "integer overflow".to_string(),
        other => other.to_string(),
    }
}

fn render_cel(value: &cel::Value) -> String {
    match value {
        cel::Value::Int(i) => i.to_string(),
        cel::Value::UInt(u) => u.to_string(),
        other => format!("{other:?}"),
    }
}

/// `ruleErrorString`: the message when there is one, else the rule.
fn rule_error_string(rule: &Rule) -> String {
    match rule.message.as_deref().map(str::trim) {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => rule.rule.trim().to_string(),
    }
}
