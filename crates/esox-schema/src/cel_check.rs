//! CRD-time checks of `x-kubernetes-validations` (`ValidateCustomResourceDefinitionOpenAPISchema`
//! in `pkg/apis/apiextensions/validation/validation.go` and `pkg/apiserver/schema/cel/compilation.go`):
//! rule/message shape, which rule fields the target server knows, compiling, references to
//! fields the schema declares, `oldSelf` placement, and the static cost estimate.
//!
//! Cost estimate. The server runs cel-go's static cost estimator over each rule with sizes taken
//! from the schema, multiplies by how many times the rule can run per object (the product of
//! `maxItems`/`maxProperties` of the enclosing lists and maps, `CELSchemaContext.MaxCardinality`),
//! and refuses a rule above `StaticEstimatedCostLimit` and a schema whose rules sum to more than
//! `StaticEstimatedCRDCostLimit`. Sizes left unbounded by the schema are estimated from how many
//! values fit in one request (`k8s.io/apiserver/pkg/cel/common/schemas.go`:
//! `estimateMaxStringLengthPerRequest`, `estimateMaxArrayItemsFromMinSize`,
//! `estimateMaxAdditionalPropertiesFromMinSize`). We mirror that with a simpler model of cel-go's
//! per-call costs (`checker/cost.go`): 1 per identifier, field selection and ordinary call;
//! string traversal (`contains`, `startsWith`, `==` on strings, ...) at 0.1 per character
//! (`common.StringTraversalCostFactor`); `matches` multiplies that by a quarter of the regex
//! length (`common.RegexStringLengthCostFactor`); a comprehension costs its range plus
//! (maximum size of the range) x (loop condition + loop step). The result errs on the high side,
//! which is what a check of our own CRDs needs: a rule that iterates or scans unbounded data is
//! flagged, a rule on bounded data passes.

use serde_json::Value;

use crate::ValidateOptions;
use crate::cel_eval;
use crate::error::{FieldError, FieldErrorKind, quote};
use crate::node::{Additional, Node, Rule};
use crate::path;

/// `maxRequestSizeBytes` in `k8s.io/apiserver/pkg/cel/limits.go` (3 MiB).
pub const MAX_REQUEST_SIZE_BYTES: u64 = 3 * 1024 * 1024;
/// `StaticEstimatedCostLimit` in apiextensions `validation.go`: largest static cost of one rule.
pub const STATIC_ESTIMATED_COST_LIMIT: u64 = 10_000_000;
/// `StaticEstimatedCRDCostLimit` in apiextensions `validation.go`: largest total for a schema.
pub const STATIC_ESTIMATED_CRD_COST_LIMIT: u64 = 100_000_000;
/// `PerCallLimit` in `k8s.io/apiserver/pkg/apis/cel/config.go`: runtime limit of one evaluation.
pub const PER_CALL_LIMIT: u64 = 1_000_000;

/// `StringTraversalCostFactor` (cel-go `common/cost.go`).
const STRING_TRAVERSAL_COST_FACTOR: f64 = 0.1;
/// `RegexStringLengthCostFactor` (cel-go `common/cost.go`).
const REGEX_STRING_LENGTH_COST_FACTOR: f64 = 0.25;
/// `metadata.name` is a DNS subdomain: at most 253 characters (`WithTypeAndObjectMeta`).
const NAME_MAX_LENGTH: u64 = 253;

/// The reasons a rule may name (`supportedValidationReason`).
const SUPPORTED_REASONS: &[&str] = &[
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];

/// Functions the evaluator (cel crate stdlib + strings extension) provides.
const KNOWN_FUNCTIONS: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "string",
    "bool",
    "bytes",
    "dyn",
    "type",
    "max",
    "min",
    "charAt",
    "indexOf",
    "lastIndexOf",
    "join",
    "lowerAscii",
    "upperAscii",
    "trim",
    "replace",
    "split",
    "substring",
    "format",
    "reverse",
    "strings.quote",
    "hasValue",
    "orValue",
    "value",
    "or",
    "optional.of",
    "optional.none",
    "optional.ofNonZeroValue",
];

/// Kubernetes CEL library functions: valid on a real server, not evaluated by this crate.
const KUBERNETES_LIBRARY_FUNCTIONS: &[&str] = &[
    "isSorted",
    "sum",
    "indexOf",
    "lastIndexOf",
    "url",
    "isURL",
    "getScheme",
    "getHost",
    "getHostname",
    "getPort",
    "getEscapedPath",
    "getQuery",
    "quantity",
    "isQuantity",
    "ip",
    "isIP",
    "cidr",
    "isCIDR",
    "semver",
    "isSemver",
    "timestamp",
    "duration",
    "find",
    "findAll",
    "authorizer",
    "format.named",
    "compareTo",
    "isGreaterThan",
    "isLessThan",
    "asInteger",
    "asApproximateFloat",
    "sign",
    "add",
    "sub",
    "flatten",
    "distinct",
    "sort",
    "slice",
    "lists.range",
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
];

/// How many times a rule can run for one object, as far as the enclosing lists and maps allow.
#[derive(Debug, Clone)]
pub(crate) struct CelContext {
    /// Product of the bounds of enclosing lists/maps; `None` once one is unbounded.
    bounded: Option<u64>,
    /// Path of the nearest enclosing list that does not correlate old and new items.
    uncorrelatable: Option<String>,
    /// Whether `self` here is a resource root (apiVersion/kind/metadata implied).
    resource_root: bool,
}

impl CelContext {
    pub(crate) fn root() -> Self {
        Self {
            bounded: Some(1),
            uncorrelatable: None,
            resource_root: true,
        }
    }
}

/// Per-rule costs of one schema, for the per-CRD total.
#[derive(Debug, Default)]
pub(crate) struct CostTotals {
    pub total: u64,
    pub rules: Vec<(String, u64)>,
}

/// Checks the rules of `node` and everything below it.
pub(crate) fn check_all_rules(
    node: &Node,
    at: &str,
    opts: &ValidateOptions,
    ctx: &CelContext,
    totals: &mut CostTotals,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, rule) in node.rules.iter().enumerate() {
        let rule_at = path::index(&path::child(at, "x-kubernetes-validations"), i);
        check_rule(node, rule, &rule_at, opts, ctx, totals, &mut errors);
    }
    for (name, sub) in &node.properties {
        let sub_ctx = CelContext {
            resource_root: sub.embedded,
            ..ctx.clone()
        };
        errors.extend(check_all_rules(
            sub,
            &path::key(&path::child(at, "properties"), name),
            opts,
            &sub_ctx,
            totals,
        ));
    }
    if let Some(Additional::Schema(sub)) = &node.additional {
        let sub_ctx = CelContext {
            bounded: ctx
                .bounded
                .zip(node.max_properties)
                .map(|(b, m)| b.saturating_mul(m)),
            resource_root: sub.embedded,
            ..ctx.clone()
        };
        errors.extend(check_all_rules(
            sub,
            &path::child(at, "additionalProperties"),
            opts,
            &sub_ctx,
            totals,
        ));
    }
    if let Some(items) = &node.items {
        let uncorrelatable = if node.list_type.as_deref() == Some("map") {
            ctx.uncorrelatable.clone()
        } else {
            ctx.uncorrelatable.clone().or_else(|| Some(at.to_string()))
        };
        let sub_ctx = CelContext {
            bounded: ctx
                .bounded
                .zip(node.max_items)
                .map(|(b, m)| b.saturating_mul(m)),
            uncorrelatable,
            resource_root: items.embedded,
        };
        errors.extend(check_all_rules(
            items,
            &path::child(at, "items"),
            opts,
            &sub_ctx,
            totals,
        ));
    }
    errors
}

#[allow(clippy::too_many_arguments)]
fn check_rule(
    node: &Node,
    rule: &Rule,
    rule_at: &str,
    opts: &ValidateOptions,
    ctx: &CelContext,
    totals: &mut CostTotals,
    errors: &mut Vec<FieldError>,
) {
    let rule_path = path::child(rule_at, "rule");
    let trimmed_rule = rule.rule.trim();
    let trimmed_message = rule.message.as_deref().map(str::trim).unwrap_or("");
    let message_value = Value::String(rule.message.clone().unwrap_or_default());
    if trimmed_rule.is_empty() {
        errors.push(FieldError::required(
            rule_path.clone(),
            "rule is not specified",
        ));
    } else if rule.message.as_deref().is_some_and(|m| !m.is_empty()) && trimmed_message.is_empty() {
        errors.push(FieldError::invalid(
            path::child(rule_at, "message"),
            &message_value,
            "must be non-empty if specified",
        ));
    } else if trimmed_message.contains(['\n', '\r']) {
        errors.push(FieldError::invalid(
            path::child(rule_at, "message"),
            &message_value,
            "must not contain line breaks",
        ));
    } else if trimmed_rule.contains(['\n', '\r']) && trimmed_message.is_empty() {
        errors.push(FieldError::required(
            path::child(rule_at, "message"),
            "message must be specified if rule contains line breaks",
        ));
    }
    if rule
        .message_expression
        .as_deref()
        .is_some_and(|m| !m.is_empty() && m.trim().is_empty())
    {
        errors.push(FieldError::required(
            path::child(rule_at, "messageExpression"),
            "messageExpression must be non-empty if specified",
        ));
    }
    if let Some(reason) = &rule.reason
        && !SUPPORTED_REASONS.contains(&reason.as_str())
    {
        errors.push(FieldError::not_supported(
            path::child(rule_at, "reason"),
            &Value::String(reason.clone()),
            &SUPPORTED_REASONS
                .iter()
                .map(|r| quote(r))
                .collect::<Vec<_>>(),
        ));
    }
    if let Some(fp) = &rule.field_path {
        let fp_value = Value::String(fp.clone());
        if fp.trim().is_empty() {
            errors.push(FieldError::invalid(
                path::child(rule_at, "fieldPath"),
                &fp_value,
                "must be non-empty if specified",
            ));
        } else if fp.contains(['\n', '\r']) {
            errors.push(FieldError::invalid(
                path::child(rule_at, "fieldPath"),
                &fp_value,
                "must not contain line breaks",
            ));
        } else if !field_path_valid(node, fp.trim()) {
            errors.push(FieldError::invalid(
                path::child(rule_at, "fieldPath"),
                &fp_value,
                "must be a valid path",
            ));
        }
    }
    // Fields the target server does not know: it would drop them (or refuse them under strict
    // field validation), silently changing what the rule reports.
    for key in &rule.extra_keys {
        let since = match key.as_str() {
            "messageExpression" => 27,
            "reason" | "fieldPath" => 28,
            "optionalOldSelf" => 30,
            _ => 0,
        };
        if since == 0 {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                rule_at,
                None,
                format!("unknown field {}", quote(key)),
            ));
        } else if opts.kubernetes_minor < since {
            errors.push(FieldError::forbidden(
                path::child(rule_at, key),
                format!(
                    "not supported by Kubernetes 1.{} (added in 1.{since}); only rule and message are",
                    opts.kubernetes_minor
                ),
            ));
        }
    }
    if trimmed_rule.is_empty() {
        return;
    }
    let rule_value = quote(trimmed_rule);
    let program = match cel_eval::env().compile(&rule.rule) {
        Ok(p) => p,
        Err(e) => {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                rule_path,
                Some(rule_value),
                format!("compilation failed: {}", one_line(&e.to_string())),
            ));
            return;
        }
    };
    let mut est = Estimator {
        node,
        resource_root: ctx.resource_root,
        optional_old_self: rule.optional_old_self == Some(true),
        problems: Vec::new(),
        scopes: Vec::new(),
    };
    let (cost, ty) = est.expr(program.expression());
    let mut problems = est.problems;
    if matches!(
        ty,
        Ty::Int | Ty::Double | Ty::Str(_) | Ty::List(..) | Ty::Map(..) | Ty::Null
    ) {
        problems.push("rule must evaluate to a bool".to_string());
    }
    for p in problems {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            rule_path.clone(),
            Some(rule_value.clone()),
            format!("compilation failed: ERROR: <input>: {p}"),
        ));
    }
    if let Some(expr) = rule
        .message_expression
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        && let Err(e) = cel_eval::env().compile(expr)
    {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            path::child(rule_at, "messageExpression"),
            Some(quote(expr)),
            format!(
                "messageExpression compilation failed: {}",
                one_line(&e.to_string())
            ),
        ));
    }
    let cardinality = match ctx.bounded {
        Some(b) => b,
        // `cr.MaxCardinality`: how many values of this node's minimal size fit in a request.
        None => (MAX_REQUEST_SIZE_BYTES - 2) / (min_serialized_size(node) + 1),
    };
    let expression_cost = cost.max(1).saturating_mul(cardinality);
    if expression_cost > STATIC_ESTIMATED_COST_LIMIT {
        errors.push(FieldError::forbidden(
            rule_path.clone(),
            cost_error_message(
                "estimated rule cost",
                expression_cost,
                STATIC_ESTIMATED_COST_LIMIT,
            ),
        ));
    }
    totals.total = totals.total.saturating_add(expression_cost);
    totals.rules.push((rule_path.clone(), expression_cost));

    if cel_eval::uses_old_self(&program) {
        if let Some(list_path) = &ctx.uncorrelatable {
            errors.push(FieldError::invalid(
                rule_path,
                &Value::String(rule.rule.clone()),
                format!("oldSelf cannot be used on the uncorrelatable portion of the schema within {list_path}"),
            ));
        }
    } else if let Some(v) = rule.optional_old_self {
        errors.push(FieldError::invalid(
            path::child(rule_at, "optionalOldSelf"),
            &Value::Bool(v),
            "may not be set if oldSelf is not used in rule",
        ));
    }
}

fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// `getCostErrorMessage`.
pub(crate) fn cost_error_message(name: &str, cost: u64, limit: u64) -> String {
    let factor = cost as f64 / limit as f64;
    let factor = if factor > 100.0 {
        "more than 100x".to_string()
    } else if factor < 1.5 {
        format!("{factor:.6}x")
    } else {
        format!("{factor:.1}x")
    };
    format!(
        "{name} exceeds budget by factor of {factor} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )
}

/// A rule's `fieldPath`: dotted field names (or `['name']`) that the schema declares.
fn field_path_valid(node: &Node, fp: &str) -> bool {
    let mut current = node;
    let mut rest = fp;
    while !rest.is_empty() {
        let name;
        if let Some(r) = rest.strip_prefix("['") {
            let Some(end) = r.find("']") else {
                return false;
            };
            name = &r[..end];
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            name = &r[..end];
            rest = &r[end..];
        } else {
            return false;
        }
        match current.property_schema(name) {
            Some(next) if !name.is_empty() => current = next,
            _ => return false,
        }
    }
    true
}

/// The smallest JSON encoding of a value of this node (`MinSerializedSize` of its CEL type).
fn min_serialized_size(node: &Node) -> u64 {
    if node.int_or_string {
        return 1;
    }
    match node.ty.as_deref() {
        Some("string") => node.min_length.unwrap_or(0) + 2,
        Some("integer" | "number") => 1,
        Some("boolean") => 4,
        Some("object" | "array") => 2,
        _ => 1,
    }
}

fn unbounded_list_items(items: &Node) -> u64 {
    (MAX_REQUEST_SIZE_BYTES - 2) / (min_serialized_size(items) + 1)
}

fn unbounded_map_entries(values: &Node) -> u64 {
    (MAX_REQUEST_SIZE_BYTES - 2) / (min_serialized_size(values) + 6)
}

/// Longest a string of this node can be, in characters.
fn max_string_length(node: &Node) -> u64 {
    if let Some(max) = node.max_length {
        return max;
    }
    if let Some(values) = &node.enum_values
        && !values.is_empty()
    {
        return values
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.len() as u64)
            .max()
            .unwrap_or(0);
    }
    match node.format.as_deref() {
        Some("date") => 10,
        Some("date-time") => 35,
        Some("duration") => 64,
        _ => MAX_REQUEST_SIZE_BYTES - 2,
    }
}

/// The static type of a CEL sub-expression, with its size bound where it has one.
#[derive(Debug, Clone)]
enum Ty<'a> {
    Node(&'a Node, bool),
    Meta,
    Str(u64),
    List(Box<Ty<'a>>, u64),
    Map(Box<Ty<'a>>, u64),
    Int,
    Double,
    Bool,
    Null,
    Dyn,
}

impl<'a> Ty<'a> {
    /// Resolves a schema node to the CEL type the server declares for it.
    fn resolve(self) -> Ty<'a> {
        let Ty::Node(node, root) = self else {
            return self;
        };
        if node.int_or_string {
            return Ty::Dyn;
        }
        match node.ty.as_deref() {
            Some("string") => Ty::Str(max_string_length(node)),
            Some("integer") => Ty::Int,
            Some("number") => Ty::Double,
            Some("boolean") => Ty::Bool,
            Some("array") => match node.items.as_deref() {
                Some(items) => Ty::List(
                    Box::new(Ty::Node(items, items.embedded)),
                    node.max_items
                        .unwrap_or_else(|| unbounded_list_items(items)),
                ),
                None => Ty::List(Box::new(Ty::Dyn), MAX_REQUEST_SIZE_BYTES),
            },
            Some("object") => match &node.additional {
                Some(Additional::Schema(values)) if node.properties.is_empty() => Ty::Map(
                    Box::new(Ty::Node(values, values.embedded)),
                    node.max_properties
                        .unwrap_or_else(|| unbounded_map_entries(values)),
                ),
                _ => Ty::Node(node, root),
            },
            _ => Ty::Node(node, root),
        }
    }

    fn size(&self) -> u64 {
        match self.clone().resolve() {
            Ty::Str(n) | Ty::List(_, n) | Ty::Map(_, n) => n,
            Ty::Node(node, _) => node.properties.len() as u64 + 3,
            Ty::Meta => 2,
            Ty::Dyn => MAX_REQUEST_SIZE_BYTES - 2,
            _ => 1,
        }
    }

    fn is_str(&self) -> bool {
        matches!(self.clone().resolve(), Ty::Str(_))
    }
}

struct Estimator<'a> {
    node: &'a Node,
    resource_root: bool,
    /// `oldSelf` is an optional of the node's type (`optionalOldSelf: true`).
    optional_old_self: bool,
    problems: Vec<String>,
    scopes: Vec<(String, Ty<'a>)>,
}

fn traversal(size: u64) -> u64 {
    (size as f64 * STRING_TRAVERSAL_COST_FACTOR).ceil() as u64
}

impl<'a> Estimator<'a> {
    fn expr(&mut self, e: &cel::IdedExpr) -> (u64, Ty<'a>) {
        use cel::common::ast::{EntryExpr, Expr, LiteralValue};
        match &e.expr {
            Expr::Literal(lit) => {
                let ty = match lit {
                    LiteralValue::Boolean(_) => Ty::Bool,
                    LiteralValue::Int(_) | LiteralValue::UInt(_) => Ty::Int,
                    LiteralValue::Double(_) => Ty::Double,
                    LiteralValue::Null => Ty::Null,
                    LiteralValue::String(s) => Ty::Str(s.inner().chars().count() as u64),
                    LiteralValue::Bytes(_) => Ty::Dyn,
                };
                (0, ty)
            }
            Expr::Ident(name) => (1, self.ident(name)),
            Expr::Select(sel) => {
                let (cost, ty) = self.expr(&sel.operand);
                let field_ty = self.select(ty, &sel.field);
                if sel.test {
                    (cost + 1, Ty::Bool)
                } else {
                    (cost + 1, field_ty)
                }
            }
            Expr::Call(call) => self.call(call),
            Expr::Comprehension(c) => {
                let (range_cost, range_ty) = self.expr(&c.iter_range);
                let n = range_ty.size();
                let elem = match range_ty.clone().resolve() {
                    Ty::List(elem, _) => *elem,
                    Ty::Map(..) | Ty::Node(..) | Ty::Meta => Ty::Str(MAX_REQUEST_SIZE_BYTES - 2),
                    Ty::Dyn => Ty::Dyn,
                    other => {
                        self.problems.push(format!(
                            "expression of type '{}' cannot be the range of a comprehension",
                            ty_name(&other)
                        ));
                        Ty::Dyn
                    }
                };
                let (init_cost, init_ty) = self.expr(&c.accu_init);
                self.scopes.push((c.iter_var.clone(), elem));
                if let Some(v2) = &c.iter_var2 {
                    self.scopes.push((v2.clone(), Ty::Dyn));
                }
                self.scopes.push((c.accu_var.clone(), init_ty));
                let (cond_cost, _) = self.expr(&c.loop_cond);
                let (step_cost, _) = self.expr(&c.loop_step);
                let (result_cost, result_ty) = self.expr(&c.result);
                self.scopes
                    .truncate(self.scopes.len() - 2 - usize::from(c.iter_var2.is_some()));
                let result_ty = match result_ty {
                    Ty::List(elem, _) => Ty::List(elem, n),
                    other => other,
                };
                let loop_cost = n.saturating_mul(cond_cost + step_cost);
                (
                    range_cost + init_cost + loop_cost.saturating_add(result_cost),
                    result_ty,
                )
            }
            Expr::List(list) => {
                let mut cost = 1;
                let mut elem = Ty::Dyn;
                for (i, item) in list.elements.iter().enumerate() {
                    let (c, t) = self.expr(item);
                    cost += c;
                    if i == 0 {
                        elem = t;
                    }
                }
                (cost, Ty::List(Box::new(elem), list.elements.len() as u64))
            }
            Expr::Map(map) => {
                let mut cost = 1;
                let mut value = Ty::Dyn;
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(me) = &entry.expr {
                        cost += self.expr(&me.key).0;
                        let (c, t) = self.expr(&me.value);
                        cost += c;
                        value = t;
                    }
                }
                (cost, Ty::Map(Box::new(value), map.entries.len() as u64))
            }
            Expr::Struct(_) | Expr::Unspecified => (1, Ty::Dyn),
        }
    }

    fn ident(&mut self, name: &str) -> Ty<'a> {
        if let Some((_, ty)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
            return ty.clone();
        }
        match name {
            "oldSelf" if self.optional_old_self => Ty::Dyn,
            "self" | "oldSelf" => Ty::Node(self.node, self.resource_root),
            "optional" => Ty::Dyn,
            "int" | "uint" | "double" | "string" | "bool" | "bytes" | "list" | "map"
            | "null_type" | "type" | "dyn" => Ty::Dyn,
            _ => {
                self.problems.push(format!(
                    "undeclared reference to '{name}' (in container '')"
                ));
                Ty::Dyn
            }
        }
    }

    fn select(&mut self, ty: Ty<'a>, field: &str) -> Ty<'a> {
        match ty.resolve() {
            Ty::Node(node, root) => {
                if root && (field == "apiVersion" || field == "kind") {
                    return Ty::Str(MAX_REQUEST_SIZE_BYTES - 2);
                }
                if root && field == "metadata" {
                    return Ty::Meta;
                }
                let declared = node
                    .properties
                    .iter()
                    .find(|(name, _)| crate::cel_names::escape(name).as_deref() == Some(field));
                if let Some((_, sub)) = declared {
                    return Ty::Node(sub, sub.embedded);
                }
                match &node.additional {
                    Some(Additional::Schema(values)) => Ty::Node(values, values.embedded),
                    Some(Additional::Allowed(true)) => Ty::Dyn,
                    _ => {
                        self.problems.push(format!("undefined field '{field}'"));
                        Ty::Dyn
                    }
                }
            }
            Ty::Meta => match field {
                "name" => Ty::Str(NAME_MAX_LENGTH),
                "generateName" => Ty::Str(NAME_MAX_LENGTH - 1),
                _ => {
                    self.problems.push(format!("undefined field '{field}'"));
                    Ty::Dyn
                }
            },
            Ty::Map(value, _) => *value,
            Ty::Dyn => Ty::Dyn,
            other => {
                self.problems.push(format!(
                    "type '{}' does not support field selection",
                    ty_name(&other)
                ));
                Ty::Dyn
            }
        }
    }

    fn call(&mut self, call: &cel::common::ast::CallExpr) -> (u64, Ty<'a>) {
        let mut cost = 0u64;
        let target = call.target.as_deref().map(|t| {
            let (c, ty) = self.expr(t);
            cost += c;
            ty
        });
        let mut args = Vec::with_capacity(call.args.len());
        for a in &call.args {
            let (c, ty) = self.expr(a);
            cost = cost.saturating_add(c);
            args.push(ty);
        }
        let name = call.func_name.as_str();
        let first = target
            .clone()
            .or_else(|| args.first().cloned())
            .unwrap_or(Ty::Dyn);
        let first_size = first.size();
        let (call_cost, ty) = match name {
            "_&&_" | "_||_" | "!_" | "@not_strictly_false" | "@not_strictly_false_" => {
                (0, Ty::Bool)
            }
            "_==_" | "_!=_" => {
                let size = args.iter().map(Ty::size).min().unwrap_or(1);
                let scan = if args.iter().any(|a| {
                    a.is_str() || matches!(a.clone().resolve(), Ty::List(..) | Ty::Map(..))
                }) {
                    traversal(size)
                } else {
                    0
                };
                (1 + scan, Ty::Bool)
            }
            "_<_" | "_<=_" | "_>_" | "_>=_" => {
                let scan = if first.is_str() {
                    traversal(first_size)
                } else {
                    0
                };
                (1 + scan, Ty::Bool)
            }
            "_?_:_" => (0, args.get(1).cloned().unwrap_or(Ty::Dyn)),
            "_+_" => match first.clone().resolve() {
                Ty::Str(_) => {
                    let total: u64 = args.iter().map(Ty::size).fold(0, u64::saturating_add);
                    (1 + traversal(total), Ty::Str(total))
                }
                Ty::List(elem, _) => {
                    let total: u64 = args.iter().map(Ty::size).fold(0, u64::saturating_add);
                    (1 + traversal(total), Ty::List(elem, total))
                }
                other => (1, other),
            },
            "_-_" | "_*_" | "_/_" | "_%_" | "-_" => (1, first.resolve()),
            "_[_]" => {
                let elem = match first.resolve() {
                    Ty::List(elem, _) | Ty::Map(elem, _) => *elem,
                    Ty::Node(node, root) => match args.get(1) {
                        Some(_) => match &node.additional {
                            Some(Additional::Schema(v)) => Ty::Node(v, v.embedded),
                            _ if root => Ty::Dyn,
                            _ => Ty::Dyn,
                        },
                        None => Ty::Dyn,
                    },
                    _ => Ty::Dyn,
                };
                (1, elem)
            }
            "@in" => {
                let container = args.get(1).cloned().unwrap_or(Ty::Dyn);
                let scan = match container.clone().resolve() {
                    Ty::List(_, n) => n,
                    _ => 1,
                };
                (1 + scan, Ty::Bool)
            }
            "size" => (1, Ty::Int),
            "contains" | "startsWith" | "endsWith" => (1 + traversal(first_size), Ty::Bool),
            "matches" => {
                let regex_len = args.last().map(Ty::size).unwrap_or(1);
                let regex_factor = ((regex_len as f64) * REGEX_STRING_LENGTH_COST_FACTOR)
                    .ceil()
                    .max(1.0) as u64;
                (
                    1 + traversal(first_size).saturating_mul(regex_factor),
                    Ty::Bool,
                )
            }
            "lowerAscii" | "upperAscii" | "trim" | "reverse" | "substring" => {
                (1 + traversal(first_size), Ty::Str(first_size))
            }
            "replace" => (
                1 + traversal(first_size),
                Ty::Str(first_size.saturating_mul(2)),
            ),
            "split" => (
                1 + traversal(first_size),
                Ty::List(Box::new(Ty::Str(first_size)), first_size),
            ),
            "indexOf" | "lastIndexOf" if first.is_str() => (1 + traversal(first_size), Ty::Int),
            "charAt" => (1 + traversal(first_size), Ty::Str(1)),
            "join" => (
                1 + traversal(first_size),
                Ty::Str(MAX_REQUEST_SIZE_BYTES - 2),
            ),
            "int" | "uint" => (1, Ty::Int),
            "double" => (1, Ty::Double),
            "string" => (1 + traversal(first_size), Ty::Str(first_size.max(20))),
            "bool" => (1, Ty::Bool),
            "max" | "min" => (1, first.resolve()),
            "bytes" | "dyn" | "type" | "format" | "strings.quote" => (1, Ty::Dyn),
            "hasValue" => (1, Ty::Bool),
            "orValue" => (1, args.first().cloned().unwrap_or(Ty::Dyn)),
            "value" | "or" | "optional.of" | "optional.none" | "optional.ofNonZeroValue" => {
                (1, Ty::Dyn)
            }
            other
                if KUBERNETES_LIBRARY_FUNCTIONS.contains(&other)
                    && !KNOWN_FUNCTIONS.contains(&other) =>
            {
                self.problems.push(format!(
                    "function '{other}' is a Kubernetes CEL library function that esox-schema cannot evaluate; rewrite the rule with standard CEL"
                ));
                (1, Ty::Dyn)
            }
            other if KUBERNETES_LIBRARY_FUNCTIONS.contains(&other) => {
                self.problems.push(format!(
                    "function '{other}' on this type is a Kubernetes CEL library function that esox-schema cannot evaluate"
                ));
                (1, Ty::Dyn)
            }
            other => {
                self.problems.push(format!(
                    "undeclared reference to '{other}' (in container '')"
                ));
                (1, Ty::Dyn)
            }
        };
        (cost.saturating_add(call_cost), ty)
    }
}

fn ty_name(ty: &Ty<'_>) -> &'static str {
    match ty {
        Ty::Node(..) | Ty::Meta => "object",
        Ty::Str(_) => "string",
        Ty::List(..) => "list",
        Ty::Map(..) => "map",
        Ty::Int => "int",
        Ty::Double => "double",
        Ty::Bool => "bool",
        Ty::Null => "null_type",
        Ty::Dyn => "dyn",
    }
}
