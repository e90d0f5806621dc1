//! Label selectors evaluated in memory, with Kubernetes' semantics.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` match `selector`. An empty selector matches everything; an unknown operator
/// matches nothing (the API server would have refused it).
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

/// The selector as a query string for list and watch calls.
pub fn to_query(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn match_labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("env", "dev")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["web".into(), "api".into()]),
            }]),
        };
        assert!(matches(&sel, &labels(&[("env", "dev"), ("tier", "api")])));
        assert!(!matches(&sel, &labels(&[("env", "dev"), ("tier", "db")])));
        assert!(!matches(&sel, &labels(&[("tier", "api")])));
        assert!(matches(&LabelSelector::default(), &labels(&[])));
        assert_eq!(to_query(&sel), "env=dev,tier in (web,api)");
    }

    #[test]
    fn not_in_and_existence() {
        let req = |op: &str, values: Option<Vec<String>>| LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: op.into(),
                values,
            }]),
        };
        let v = Some(vec!["a".to_owned()]);
        assert!(matches(&req("NotIn", v.clone()), &labels(&[])));
        assert!(!matches(&req("NotIn", v), &labels(&[("k", "a")])));
        assert!(matches(&req("Exists", None), &labels(&[("k", "")])));
        assert!(matches(&req("DoesNotExist", None), &labels(&[("j", "")])));
        assert!(!matches(&req("Bogus", None), &labels(&[("k", "")])));
    }
}
