//! `dataFrom[].rewrite` (ESO's `RewriteMap`, `RewriteRegexp`, `RewriteMerge` in
//! `runtime/esutils/utils.go`).
//!
//! Regexp rewrites use Go's `Regexp.ReplaceAllString`, whose `$` expansion rules differ
//! from the `regex` crate's (`$01` is a *name* in Go, names may hold any Unicode letter,
//! ...), so expansion is implemented here on top of the crate's capture positions.
//! Transform rewrites need the Go template engine, which lives in another crate: callers
//! pass it in through [`KeyTemplate`].

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

use crate::SecretData;
use crate::go_json::{self, HtmlEscape};
use crate::go_regex;

/// One rewrite operation; exactly one kind is set in the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// `regexp: {source, target}`.
    Regexp {
        /// Go RE2 pattern matched against each key.
        source: String,
        /// Replacement with Go `$` expansion.
        target: String,
    },
    /// `transform: {template}`: a Go template with `.value` = the key.
    Transform {
        /// The template text.
        template: String,
    },
    /// `merge: {...}`.
    Merge(MergeRewrite),
    /// An entry with no operation set: ESO passes the map through unchanged.
    Empty,
}

/// `rewrite[].merge`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergeRewrite {
    /// Target key for the `JSON` strategy.
    pub into: String,
    /// Keys merged last, in this order (later wins).
    pub priority: Vec<String>,
    /// What to do when a priority key is missing.
    pub priority_policy: PriorityPolicy,
    /// What to do when two values define the same field.
    pub conflict_policy: ConflictPolicy,
    /// Output shape.
    pub strategy: MergeStrategy,
}

/// `merge.priorityPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PriorityPolicy {
    /// A missing priority key is an error.
    #[default]
    Strict,
    /// Missing priority keys are skipped.
    IgnoreNotFound,
}

/// `merge.conflictPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictPolicy {
    /// A field defined by two values is an error.
    #[default]
    Error,
    /// The value merged later wins.
    Ignore,
}

/// `merge.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeStrategy {
    /// Output = the merged fields as keys.
    #[default]
    Extract,
    /// Output = the input plus `into` = the merged JSON object.
    Json,
}

impl PriorityPolicy {
    /// Parses `merge.priorityPolicy` (empty = `Strict`).
    pub fn parse(value: &str) -> Result<Self, RewriteError> {
        match value {
            "" | "Strict" => Ok(Self::Strict),
            "IgnoreNotFound" => Ok(Self::IgnoreNotFound),
            other => Err(unknown(
                "merge.priorityPolicy",
                other,
                "Strict, IgnoreNotFound",
            )),
        }
    }
}

impl ConflictPolicy {
    /// Parses `merge.conflictPolicy` (empty = `Error`).
    pub fn parse(value: &str) -> Result<Self, RewriteError> {
        match value {
            "" | "Error" => Ok(Self::Error),
            "Ignore" => Ok(Self::Ignore),
            other => Err(unknown("merge.conflictPolicy", other, "Error, Ignore")),
        }
    }
}

impl MergeStrategy {
    /// Parses `merge.strategy` (empty = `Extract`).
    pub fn parse(value: &str) -> Result<Self, RewriteError> {
        match value {
            "" | "Extract" => Ok(Self::Extract),
            "JSON" => Ok(Self::Json),
            other => Err(unknown("merge.strategy", other, "Extract, JSON")),
        }
    }
}

fn unknown(field: &'static str, value: &str, allowed: &'static str) -> RewriteError {
    RewriteError::UnknownValue {
        field,
        value: value.to_owned(),
        allowed,
    }
}

/// Why a transform template failed; the template engine's own message is carried as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformFailure {
    /// The template does not parse.
    #[error("failed to parse template: {0}")]
    Parse(String),
    /// The template failed while rendering one key.
    #[error("failed to execute template for key {key}: {message}", key = crate::keys::go_quote(.key))]
    Execute {
        /// The key being rendered.
        key: String,
        /// The engine's message.
        message: String,
    },
}

/// Renders a transform template for one key; implemented by the template engine.
pub trait KeyTemplate {
    /// Renders `template` with `.value` = `key`.
    fn render_key(&self, template: &str, key: &str) -> Result<String, TransformFailure>;
}

impl<F> KeyTemplate for F
where
    F: Fn(&str, &str) -> Result<String, TransformFailure>,
{
    fn render_key(&self, template: &str, key: &str) -> Result<String, TransformFailure> {
        self(template, key)
    }
}

/// A [`KeyTemplate`] for callers without a template engine: every transform fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTemplateEngine;

impl KeyTemplate for NoTemplateEngine {
    fn render_key(&self, _template: &str, _key: &str) -> Result<String, TransformFailure> {
        Err(TransformFailure::Parse(
            "transform rewrites are not available in this context".to_owned(),
        ))
    }
}

/// Errors of one rewrite operation. Messages carry key and field names, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// Wrapper naming the failing operation (`failed rewrite operation[i]`).
    #[error("failed rewrite operation[{index}]: {source}")]
    Operation {
        /// Index in `rewrite[]`.
        index: usize,
        /// The failure.
        #[source]
        source: Box<RewriteError>,
    },
    /// `regexp.source` does not compile.
    #[error("regexp failed with failed to compile: {0}")]
    Regexp(#[from] go_regex::GoRegexError),
    /// The transform template failed.
    #[error("transform failed with {0}")]
    Transform(#[from] TransformFailure),
    /// A priority key is missing under `priorityPolicy: Strict`.
    #[error(
        "merge failed with key {} not found in input map (set priorityPolicy: IgnoreNotFound to skip missing keys)",
        crate::keys::go_quote(.0)
    )]
    PriorityKeyNotFound(String),
    /// A value is not a JSON object.
    #[error(
        "merge failed with failed to unmarshal JSON: the value of key {} is not a JSON object ({reason})",
        crate::keys::go_quote(.key)
    )]
    NotAnObject {
        /// The key whose value failed.
        key: String,
        /// What was found instead, without content.
        reason: String,
    },
    /// Fields defined more than once under `conflictPolicy: Error`.
    #[error(
        "merge failed with conflicts: {} (set conflictPolicy: Ignore to let later keys win)",
        .0.join(", ")
    )]
    Conflicts(Vec<String>),
    /// An enum field has a value this version does not know.
    #[error("unknown {field} {value:?}: use one of {allowed}")]
    UnknownValue {
        /// The API field.
        field: &'static str,
        /// The value found.
        value: String,
        /// The accepted values.
        allowed: &'static str,
    },
    /// `strategy: JSON` without `into`.
    #[error("merge failed with missing 'into' field")]
    MissingInto,
}

/// ESO's `RewriteMap`: applies the operations in order.
pub fn rewrite_map(
    operations: &[Rewrite],
    data: SecretData,
    templates: &dyn KeyTemplate,
) -> Result<SecretData, RewriteError> {
    let mut out = data;
    for (index, op) in operations.iter().enumerate() {
        out = apply(op, out, templates).map_err(|e| RewriteError::Operation {
            index,
            source: Box::new(e),
        })?;
    }
    Ok(out)
}

fn apply(
    op: &Rewrite,
    data: SecretData,
    templates: &dyn KeyTemplate,
) -> Result<SecretData, RewriteError> {
    match op {
        Rewrite::Regexp { source, target } => rewrite_regexp(source, target, data),
        Rewrite::Transform { template } => rewrite_transform(template, data, templates),
        Rewrite::Merge(merge) => rewrite_merge(merge, data),
        Rewrite::Empty => Ok(data),
    }
}

/// ESO's `RewriteRegexp`. When two keys rewrite to the same key, Go keeps whichever its
/// random map iteration wrote last; here the greater original key wins, deterministically.
pub fn rewrite_regexp(
    source: &str,
    target: &str,
    data: SecretData,
) -> Result<SecretData, RewriteError> {
    let re = go_regex::compile(source)?;
    Ok(data
        .into_iter()
        .map(|(k, v)| (replace_all(&re, &k, target), v))
        .collect())
}

/// The key rewrite of a transform operation; collisions resolve as in [`rewrite_regexp`].
pub fn rewrite_transform(
    template: &str,
    data: SecretData,
    templates: &dyn KeyTemplate,
) -> Result<SecretData, RewriteError> {
    let mut out = BTreeMap::new();
    for (k, v) in data {
        let key = templates.render_key(template, &k)?;
        out.insert(key, v);
    }
    Ok(out)
}

/// Go's `Regexp.ReplaceAllString(src, template)`.
pub fn replace_all(re: &Regex, src: &str, template: &str) -> String {
    let names: Vec<Option<&str>> = re.capture_names().collect();
    let mut out = String::with_capacity(src.len());
    let mut last = 0;
    for caps in re.captures_iter(src) {
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(&src[last..whole.start()]);
        expand(&mut out, template, &caps, &names);
        last = whole.end();
    }
    out.push_str(&src[last..]);
    out
}

static NAME_CHARS: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{Nd}_]+"));

/// Go's `Regexp.Expand` for one match.
pub fn expand(out: &mut String, template: &str, caps: &Captures<'_>, names: &[Option<&str>]) {
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = extract_name(rest) else {
            // Malformed reference: the '$' is kept as literal text.
            out.push('$');
            continue;
        };
        rest = after;
        match group_number(name) {
            Some(n) => {
                if let Some(m) = caps.get(n) {
                    out.push_str(m.as_str());
                }
            }
            None => {
                for (i, group_name) in names.iter().enumerate() {
                    if *group_name == Some(name)
                        && let Some(m) = caps.get(i)
                    {
                        out.push_str(m.as_str());
                        break;
                    }
                }
            }
        }
    }
    out.push_str(rest);
}

/// Go's `extract`: `name` or `{name}` where name is letters, decimal digits and `_`.
fn extract_name(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len = match NAME_CHARS.as_ref() {
        Ok(re) => re.find(body).map_or(0, |m| m.end()),
        // The pattern is a constant; if the tables were missing, fall back to ASCII.
        Err(_) => body
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count(),
    };
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let mut rest = &body[len..];
    if braced {
        rest = rest.strip_prefix('}')?;
    }
    Some((name, rest))
}

/// Go's group-number rule: all ASCII digits, no leading zero, below 1e8 before the last digit.
fn group_number(name: &str) -> Option<usize> {
    let mut num: usize = 0;
    for b in name.bytes() {
        if !b.is_ascii_digit() || num >= 100_000_000 {
            return None;
        }
        num = num * 10 + usize::from(b - b'0');
    }
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    Some(num)
}

/// ESO's `RewriteMerge`.
pub fn rewrite_merge(op: &MergeRewrite, data: SecretData) -> Result<SecretData, RewriteError> {
    let (merged, conflicts) = merge_values(op, &data)?;
    if op.conflict_policy == ConflictPolicy::Error && !conflicts.is_empty() {
        return Err(RewriteError::Conflicts(conflicts));
    }
    match op.strategy {
        MergeStrategy::Extract => Ok(merged
            .into_iter()
            .map(|(k, v)| (k, value_bytes(&v)))
            .collect()),
        MergeStrategy::Json => {
            if op.into.is_empty() {
                return Err(RewriteError::MissingInto);
            }
            let object = Value::Object(merged.into_iter().collect());
            let mut out = data;
            out.insert(
                op.into.clone(),
                go_json::value(&object, HtmlEscape::Off).into_bytes(),
            );
            Ok(out)
        }
    }
}

type Merged = (BTreeMap<String, Value>, Vec<String>);

fn merge_values(op: &MergeRewrite, data: &SecretData) -> Result<Merged, RewriteError> {
    let mut merged = BTreeMap::new();
    let mut conflicts = Vec::new();
    // Non-priority keys sorted, then the priority list as written (duplicates included,
    // as in ESO, where a repeated priority key conflicts with itself).
    let order = data
        .keys()
        .filter(|k| !op.priority.contains(k))
        .chain(op.priority.iter());
    for key in order {
        let Some(raw) = data.get(key) else {
            if op.priority_policy == PriorityPolicy::IgnoreNotFound {
                continue;
            }
            return Err(RewriteError::PriorityKeyNotFound(key.clone()));
        };
        let fields = match go_json::parse(raw) {
            Ok(Value::Object(fields)) => fields,
            // Go unmarshals `null` into a nil map without error: nothing to merge.
            Ok(Value::Null) => continue,
            Ok(other) => {
                return Err(RewriteError::NotAnObject {
                    key: key.clone(),
                    reason: format!("found a JSON {}", json_kind(&other)),
                });
            }
            Err(e) => {
                return Err(RewriteError::NotAnObject {
                    key: key.clone(),
                    reason: e.to_string(),
                });
            }
        };
        for (field, value) in fields {
            if merged.contains_key(&field) {
                conflicts.push(field.clone());
            }
            merged.insert(field, value);
        }
    }
    Ok((merged, conflicts))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// ESO's `GetByteValue` for values decoded from JSON: strings raw, numbers in
/// `strconv.FormatFloat(f, 'f', -1, 64)`, booleans as words, null as empty, objects and
/// arrays through `json.Marshal` (HTML escaping on).
pub fn value_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.clone().into_bytes(),
        Value::Number(n) => go_json::format_float_f(n.as_f64().unwrap_or(f64::NAN)).into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Null => Vec::new(),
        Value::Array(_) | Value::Object(_) => go_json::value(v, HtmlEscape::On).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    fn text(d: &SecretData) -> Vec<(String, String)> {
        d.iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    fn replace(pattern: &str, src: &str, template: &str) -> String {
        let re = go_regex::compile(pattern).expect("valid pattern");
        replace_all(&re, src, template)
    }

    #[test]
    fn expansion_follows_go_rules() {
        // $1x is the group named "1x" (absent → empty), ${1}x is group 1 then "x".
        assert_eq!(replace("(a)(b)", "ab", "$1x"), "");
        assert_eq!(replace("(a)(b)", "ab", "${1}x"), "ax");
        // $$ is a dollar; a lone or malformed $ is literal.
        assert_eq!(replace("a", "a", "$$"), "$");
        assert_eq!(replace("a", "a", "x$"), "x$");
        assert_eq!(replace("a", "a", "${1"), "${1");
        assert_eq!(replace("a", "a", "$-"), "$-");
        // Leading zero: "01" is a name, not group 1.
        assert_eq!(replace("(a)", "a", "$01"), "");
        // Named groups, including Unicode letters in the reference.
        assert_eq!(replace("(?P<key>a)", "a", "<$key>"), "<a>");
        assert_eq!(replace("(?P<clé>a)", "a", "${clé}!"), "a!");
        // Groups that did not participate expand to nothing.
        assert_eq!(replace("(a)|(b)", "b", "[$1|$2]"), "[|b]");
        // Out-of-range group numbers expand to nothing.
        assert_eq!(replace("(a)", "a", "$9"), "");
    }

    #[test]
    fn replace_all_handles_empty_matches_like_go() {
        // Go: no replacement for an empty match right after a previous match.
        assert_eq!(replace("a*", "baaac", "X"), "XbXcX");
        assert_eq!(replace("", "ab", "-"), "-a-b-");
        assert_eq!(replace("^", "ab", "p_"), "p_ab");
    }

    #[test]
    fn regexp_rewrite_renames_keys() {
        let out = rewrite_map(
            &[Rewrite::Regexp {
                source: "^path/to/(.*)$".into(),
                target: "app_$1".into(),
            }],
            data(&[("path/to/db", "x"), ("other", "y")]),
            &NoTemplateEngine,
        )
        .expect("ok");
        assert_eq!(
            text(&out),
            vec![("app_db".into(), "x".into()), ("other".into(), "y".into())]
        );
    }

    #[test]
    fn bad_regexp_names_the_operation() {
        let err = rewrite_map(
            &[
                Rewrite::Empty,
                Rewrite::Regexp {
                    source: "(".into(),
                    target: String::new(),
                },
            ],
            data(&[("a", "b")]),
            &NoTemplateEngine,
        )
        .expect_err("bad pattern");
        assert!(
            err.to_string()
                .starts_with("failed rewrite operation[1]: regexp failed with failed to compile:")
        );
    }

    #[test]
    fn transform_uses_the_callback() {
        let upper =
            |_t: &str, k: &str| -> Result<String, TransformFailure> { Ok(k.to_uppercase()) };
        let out = rewrite_map(
            &[Rewrite::Transform {
                template: "{{ .value | upper }}".into(),
            }],
            data(&[("a", "1")]),
            &upper,
        )
        .expect("ok");
        assert_eq!(text(&out), vec![("A".into(), "1".into())]);
        let err = rewrite_map(
            &[Rewrite::Transform {
                template: "x".into(),
            }],
            data(&[("a", "1")]),
            &NoTemplateEngine,
        )
        .expect_err("no engine");
        assert!(
            err.to_string()
                .contains("transform failed with failed to parse template")
        );
    }

    #[test]
    fn merge_extract_formats_values_like_go() {
        let out = rewrite_merge(
            &MergeRewrite::default(),
            data(&[
                ("a", r#"{"s":"x","n":1.50,"big":1e21,"b":true,"z":null}"#),
                ("b", r#"{"o":{"k":"<v>"},"l":[1,"two"]}"#),
            ]),
        )
        .expect("ok");
        assert_eq!(
            text(&out),
            vec![
                ("b".into(), "true".into()),
                ("big".into(), "1000000000000000000000".into()),
                ("l".into(), r#"[1,"two"]"#.into()),
                ("n".into(), "1.5".into()),
                ("o".into(), r#"{"k":"\u003cv\u003e"}"#.into()),
                ("s".into(), "x".into()),
                ("z".into(), String::new()),
            ]
        );
    }

    #[test]
    fn cases_from_eso_tests() {
        // runtime/esutils/utils_test.go TestRewrite.
        let re = |source: &str, target: &str| Rewrite::Regexp {
            source: source.into(),
            target: target.into(),
        };
        let run = |ops: &[Rewrite], input: &[(&str, &str)]| {
            text(&rewrite_map(ops, data(input), &NoTemplateEngine).expect("ok"))
        };
        assert_eq!(
            run(
                &[Rewrite::Merge(MergeRewrite {
                    conflict_policy: ConflictPolicy::Ignore,
                    ..Default::default()
                })],
                &[
                    ("a", r#"{"host": "dba", "pass": "yola", "port": 123}"#),
                    ("b", r#"{"host": "dbb", "pass": "yolb"}"#)
                ]
            ),
            vec![
                ("host".into(), "dbb".into()),
                ("pass".into(), "yolb".into()),
                ("port".into(), "123".into())
            ]
        );
        assert_eq!(
            run(
                &[
                    re("db/(.*)", "$1"),
                    Rewrite::Merge(MergeRewrite {
                        into: "merged".into(),
                        strategy: MergeStrategy::Json,
                        conflict_policy: ConflictPolicy::Ignore,
                        priority: vec!["a".into()],
                        ..Default::default()
                    })
                ],
                &[
                    ("db/a", r#"{"host": "dba.example.com"}"#),
                    ("db/b", r#"{"host": "dbb.example.com", "pass": "yolo"}"#)
                ]
            ),
            vec![
                ("a".into(), r#"{"host": "dba.example.com"}"#.into()),
                (
                    "b".into(),
                    r#"{"host": "dbb.example.com", "pass": "yolo"}"#.into()
                ),
                (
                    "merged".into(),
                    r#"{"host":"dba.example.com","pass":"yolo"}"#.into()
                )
            ]
        );
        assert_eq!(
            run(
                &[re("f(?P<content>.*)o", "a_new_path_${content}_${1}")],
                &[("foo", "bar"), ("floo", "barr")]
            ),
            vec![
                ("a_new_path_lo_lo".into(), "barr".into()),
                ("a_new_path_o_o".into(), "bar".into())
            ]
        );
        assert_eq!(
            run(
                &[
                    re("my/(.*?)/bar/(.*)", "$1-$2"),
                    re("-", "_"),
                    re("ass", "***")
                ],
                &[("my/app/bar/key", "bar"), ("my/app/bar/password", "barr")]
            ),
            vec![
                ("app_key".into(), "bar".into()),
                ("app_p***word".into(), "barr".into())
            ]
        );
    }

    #[test]
    fn parse_merge_fields() {
        assert_eq!(PriorityPolicy::parse(""), Ok(PriorityPolicy::Strict));
        assert_eq!(
            PriorityPolicy::parse("IgnoreNotFound"),
            Ok(PriorityPolicy::IgnoreNotFound)
        );
        assert_eq!(ConflictPolicy::parse("Ignore"), Ok(ConflictPolicy::Ignore));
        assert_eq!(MergeStrategy::parse("JSON"), Ok(MergeStrategy::Json));
        let err = MergeStrategy::parse("json").expect_err("case matters");
        assert_eq!(
            err.to_string(),
            "unknown merge.strategy \"json\": use one of Extract, JSON"
        );
    }

    #[test]
    fn merge_conflicts_and_priority() {
        let input = data(&[("a", r#"{"k":"from-a"}"#), ("b", r#"{"k":"from-b"}"#)]);
        let err = rewrite_merge(&MergeRewrite::default(), input.clone()).expect_err("conflict");
        assert_eq!(err, RewriteError::Conflicts(vec!["k".into()]));
        let ignore = MergeRewrite {
            conflict_policy: ConflictPolicy::Ignore,
            ..Default::default()
        };
        let out = rewrite_merge(&ignore, input.clone()).expect("ok");
        assert_eq!(text(&out), vec![("k".into(), "from-b".into())]);
        let prio = MergeRewrite {
            conflict_policy: ConflictPolicy::Ignore,
            priority: vec!["a".into()],
            ..Default::default()
        };
        let out = rewrite_merge(&prio, input.clone()).expect("ok");
        assert_eq!(text(&out), vec![("k".into(), "from-a".into())]);
        let missing = MergeRewrite {
            priority: vec!["nope".into()],
            ..Default::default()
        };
        assert_eq!(
            rewrite_merge(&missing, data(&[("a", "{}")])),
            Err(RewriteError::PriorityKeyNotFound("nope".into()))
        );
        let lenient = MergeRewrite {
            priority: vec!["nope".into()],
            priority_policy: PriorityPolicy::IgnoreNotFound,
            ..Default::default()
        };
        assert_eq!(
            text(&rewrite_merge(&lenient, data(&[("a", r#"{"x":"1"}"#)])).expect("ok")),
            vec![("x".into(), "1".into())]
        );
    }

    #[test]
    fn merge_priority_case_from_eso_tests() {
        // runtime/esutils/utils_test.go TestRewriteMerge "using priority".
        let op = MergeRewrite {
            conflict_policy: ConflictPolicy::Ignore,
            priority: vec!["mongo-credentials".into(), "redis-credentials".into()],
            ..Default::default()
        };
        let out = rewrite_merge(
            &op,
            data(&[
                (
                    "redis-credentials",
                    r#"{"host": "redis.example.com", "port": "6379"}"#,
                ),
                (
                    "mongo-credentials",
                    r#"{"username": "foz", "password": "baz"}"#,
                ),
                (
                    "other-credentials",
                    r#"{"key": "value", "host": "other.example.com"}"#,
                ),
            ]),
        )
        .expect("ok");
        assert_eq!(
            text(&out),
            vec![
                ("host".into(), "redis.example.com".into()),
                ("key".into(), "value".into()),
                ("password".into(), "baz".into()),
                ("port".into(), "6379".into()),
                ("username".into(), "foz".into()),
            ]
        );
    }

    #[test]
    fn merge_json_strategy_keeps_input_and_adds_into() {
        let op = MergeRewrite {
            strategy: MergeStrategy::Json,
            into: "merged".into(),
            ..Default::default()
        };
        let out =
            rewrite_merge(&op, data(&[("a", r#"{"x":"<1>"}"#), ("b", r#"{"y":2}"#)])).expect("ok");
        assert_eq!(
            text(&out),
            vec![
                ("a".into(), r#"{"x":"<1>"}"#.into()),
                ("b".into(), r#"{"y":2}"#.into()),
                ("merged".into(), r#"{"x":"<1>","y":2}"#.into()),
            ]
        );
        let no_into = MergeRewrite {
            strategy: MergeStrategy::Json,
            ..Default::default()
        };
        assert_eq!(
            rewrite_merge(&no_into, data(&[("a", "{}")])),
            Err(RewriteError::MissingInto)
        );
    }

    #[test]
    fn merge_rejects_non_objects_without_leaking() {
        let err =
            rewrite_merge(&MergeRewrite::default(), data(&[("a", "hunter2")])).expect_err("bad");
        assert!(!err.to_string().contains("hunter2"));
        assert!(err.to_string().contains("\"a\""));
        let err =
            rewrite_merge(&MergeRewrite::default(), data(&[("a", "[1]")])).expect_err("array");
        assert!(err.to_string().contains("found a JSON array"));
        // null merges nothing, like Go's nil map.
        let out = rewrite_merge(&MergeRewrite::default(), data(&[("a", "null")])).expect("ok");
        assert!(out.is_empty());
    }
}
