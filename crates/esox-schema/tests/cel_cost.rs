//! The static CEL cost estimate: rules that iterate or scan unbounded data are refused, the same
//! rules on bounded data are accepted.

mod common;

use common::{lines, root_with_spec};
use esox_schema::{STATIC_ESTIMATED_COST_LIMIT, STATIC_ESTIMATED_CRD_COST_LIMIT, check_structural};
use serde_json::{Value, json};

fn spec_rule(spec_props: Value, rule: &str) -> Value {
    root_with_spec(
        json!({"type": "object", "properties": spec_props, "x-kubernetes-validations": [{"rule": rule}]}),
    )
}

fn over_budget(schema: &Value) -> bool {
    lines(check_structural(schema))
        .iter()
        .any(|e| e.contains("estimated rule cost exceeds budget"))
}

fn assert_accepted(schema: &Value) {
    assert_eq!(lines(check_structural(schema)), Vec::<String>::new());
}

#[test]
fn limits_are_the_api_server_constants() {
    assert_eq!(STATIC_ESTIMATED_COST_LIMIT, 10_000_000);
    assert_eq!(STATIC_ESTIMATED_CRD_COST_LIMIT, 100_000_000);
}

#[test]
fn iterating_an_unbounded_list_of_unbounded_strings_is_over_budget() {
    let rule = "self.names.all(n, n.startsWith('a'))";
    let unbounded = spec_rule(
        json!({"names": {"type": "array", "items": {"type": "string"}}}),
        rule,
    );
    let found = lines(check_structural(&unbounded));
    assert_eq!(
        found,
        vec!["properties[spec].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)".to_string()]
    );
    let bounded = spec_rule(
        json!({"names": {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 64}}}),
        rule,
    );
    assert_accepted(&bounded);
}

#[test]
fn bounding_only_the_list_or_only_the_strings_is_not_enough_for_a_scan() {
    let rule = "self.names.exists(n, n.contains('x'))";
    let list_only = spec_rule(
        json!({"names": {"type": "array", "maxItems": 1000, "items": {"type": "string"}}}),
        rule,
    );
    assert!(over_budget(&list_only));
    let strings_only = spec_rule(
        json!({"names": {"type": "array", "items": {"type": "string", "maxLength": 1000}}}),
        rule,
    );
    assert!(over_budget(&strings_only));
}

#[test]
fn nested_comprehensions_multiply() {
    let rule = "self.groups.all(g, g.members.all(m, m.name.size() > 0))";
    let props = |max: Option<u64>| {
        let mut members = json!({"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 63}}}});
        let mut groups = json!({"type": "array", "items": {"type": "object", "properties": {"members": members.clone()}}});
        if let Some(m) = max {
            members["maxItems"] = json!(m);
            groups["maxItems"] = json!(m);
            groups["items"]["properties"]["members"] = members;
        }
        json!({"groups": groups})
    };
    assert!(over_budget(&spec_rule(props(None), rule)));
    assert_accepted(&spec_rule(props(Some(50)), rule));
}

#[test]
fn iterating_an_unbounded_map_is_over_budget() {
    let rule = "self.labels.all(k, k.startsWith('team-'))";
    let unbounded = spec_rule(
        json!({"labels": {"type": "object", "additionalProperties": {"type": "string"}}}),
        rule,
    );
    assert!(over_budget(&unbounded));
    let bounded = spec_rule(
        json!({"labels": {"type": "object", "maxProperties": 64, "additionalProperties": {"type": "string", "maxLength": 63}}}),
        rule,
    );
    // Map keys have no schema bound: the estimate assumes request-sized keys (conservative).
    assert!(over_budget(&bounded));
    let by_size = spec_rule(
        json!({"labels": {"type": "object", "additionalProperties": {"type": "string"}}}),
        "size(self.labels) <= 64",
    );
    assert_accepted(&by_size);
}

#[test]
fn size_and_has_are_cheap_even_on_unbounded_data() {
    let schema = spec_rule(
        json!({"items": {"type": "array", "items": {"type": "string"}}, "name": {"type": "string"}}),
        "size(self.items) < 100 && has(self.name) && self.name.size() < 64",
    );
    assert_accepted(&schema);
}

#[test]
fn rules_under_unbounded_lists_are_multiplied_by_their_cardinality() {
    let item_rule = |rule: &str, max_items: Option<u64>, max_length: Option<u64>| {
        let mut item = json!({"type": "string", "x-kubernetes-validations": [{"rule": rule}]});
        if let Some(l) = max_length {
            item["maxLength"] = json!(l);
        }
        let mut list = json!({"type": "array", "items": item});
        if let Some(m) = max_items {
            list["maxItems"] = json!(m);
        }
        root_with_spec(list)
    };
    // A regex over an unbounded string, once per item of an unbounded list.
    assert!(over_budget(&item_rule(
        "self.matches('^[a-z]+$')",
        None,
        None
    )));
    assert_accepted(&item_rule("self.matches('^[a-z]+$')", Some(100), Some(253)));
    // A constant-cost rule stays under budget even there.
    assert_accepted(&item_rule("self != ''", None, None));
}

#[test]
fn metadata_name_is_bounded_at_the_root() {
    let schema = json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"}]});
    assert_accepted(&schema);
    let bad = json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.metadata.labels.size() > 0"}]});
    assert!(
        lines(check_structural(&bad))
            .iter()
            .any(|e| e.ends_with("undefined field 'labels'"))
    );
}
