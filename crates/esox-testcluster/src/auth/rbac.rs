//! RBAC evaluation over the Role/ClusterRole/RoleBinding/ClusterRoleBinding objects in the store,
//! following "Using RBAC Authorization".

use serde_json::{Value, json};

use super::UserInfo;
use crate::resources::GroupResource;
use crate::store::Store;

/// What a request wants to do.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// Set for non-resource requests (`/version`, `/api`).
    pub path: Option<String>,
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let verbs = strs(rule.get("verbs"));
    if !verbs.iter().any(|v| *v == "*" || *v == a.verb) {
        return false;
    }
    if let Some(path) = &a.path {
        return strs(rule.get("nonResourceURLs")).iter().any(|u| {
            *u == "*" || *u == path || u.strip_suffix('*').is_some_and(|p| path.starts_with(p))
        });
    }
    if !strs(rule.get("apiGroups"))
        .iter()
        .any(|g| *g == "*" || *g == a.group)
    {
        return false;
    }
    let combined = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let res_ok = strs(rule.get("resources")).iter().any(|r| {
        *r == "*"
            || *r == combined
            || (!a.subresource.is_empty() && *r == format!("*/{}", a.subresource))
            || *r == format!("{}/*", a.resource)
    });
    if !res_ok {
        return false;
    }
    let names = strs(rule.get("resourceNames"));
    names.is_empty() || (!a.name.is_empty() && names.contains(&a.name.as_str()))
}

fn subject_matches(s: &Value, user: &UserInfo, binding_ns: &str) -> bool {
    let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = s.get("name").and_then(Value::as_str).unwrap_or("");
    match kind {
        "User" => user.name == name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = s
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_ns);
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

/// The rules that apply to `user` in `namespace` (cluster-wide rules included).
pub fn rules_for(store: &Store, user: &UserInfo, namespace: &str) -> Vec<Value> {
    let rbac = |r: &str| GroupResource::new("rbac.authorization.k8s.io", r);
    let mut rules = Vec::new();
    let mut add_role = |kind: &str, name: &str, ns: &str| {
        let obj = if kind == "ClusterRole" {
            store.get(&rbac("clusterroles"), "", name)
        } else {
            store.get(&rbac("roles"), ns, name)
        };
        if let Some(role) = obj
            && let Some(rs) = role.get("rules").and_then(Value::as_array)
        {
            rules.extend(rs.iter().cloned());
        }
    };
    let (crbs, _) = store.list(&rbac("clusterrolebindings"), None);
    for b in crbs {
        let subjects = b
            .get("subjects")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if subjects.iter().any(|s| subject_matches(s, user, "")) {
            let r = &b["roleRef"];
            add_role(
                r["kind"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or(""),
                "",
            );
        }
    }
    if !namespace.is_empty() {
        let (rbs, _) = store.list(&rbac("rolebindings"), Some(namespace));
        for b in rbs {
            let subjects = b
                .get("subjects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if subjects.iter().any(|s| subject_matches(s, user, namespace)) {
                let r = &b["roleRef"];
                add_role(
                    r["kind"].as_str().unwrap_or(""),
                    r["name"].as_str().unwrap_or(""),
                    namespace,
                );
            }
        }
    }
    rules
}

/// Whether RBAC allows the request.
pub fn allowed(store: &Store, user: &UserInfo, a: &Attributes) -> bool {
    if user.is_master() {
        return true;
    }
    rules_for(store, user, &a.namespace)
        .iter()
        .any(|r| rule_allows(r, a))
}

/// The text after "is forbidden: " in a 403, as the real authorizer words it.
pub fn denial_text(user: &UserInfo, a: &Attributes) -> String {
    if let Some(path) = &a.path {
        return format!("User \"{}\" cannot {} path \"{path}\"", user.name, a.verb);
    }
    let res = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    format!(
        "User \"{}\" cannot {} resource \"{res}\" in API group \"{}\" {scope}",
        user.name, a.verb, a.group
    )
}

/// The bootstrap ClusterRoles and ClusterRoleBindings every cluster has.
pub fn bootstrap_objects() -> Vec<(&'static str, Value)> {
    let role = |name: &str, rules: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
               "rules": rules})
    };
    let binding = |name: &str, groups: &[&str]| {
        let subjects: Vec<Value> = groups
            .iter()
            .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
            .collect();
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
               "subjects": subjects})
    };
    vec![
        (
            "clusterroles",
            role(
                "cluster-admin",
                json!([
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
            ),
        ),
        (
            "clusterroles",
            role(
                "system:basic-user",
                json!([
            {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}]),
            ),
        ),
        (
            "clusterroles",
            role(
                "system:discovery",
                json!([
            {"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
            ),
        ),
        (
            "clusterroles",
            role(
                "system:public-info-viewer",
                json!([
            {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
            ),
        ),
        // The user-facing roles, with the rules their aggregation yields for the resources
        // this server serves (view: no Secrets; edit: read/write, no RBAC; admin: plus RBAC).
        (
            "clusterroles",
            role(
                "view",
                json!([
            {"apiGroups": [""], "resources": ["configmaps", "serviceaccounts", "events", "namespaces", "namespaces/status"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]}]),
            ),
        ),
        (
            "clusterroles",
            role(
                "edit",
                json!([
            {"apiGroups": [""], "resources": ["configmaps", "secrets", "serviceaccounts", "events"], "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]},
            {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["namespaces", "namespaces/status"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]}]),
            ),
        ),
        (
            "clusterroles",
            role(
                "admin",
                json!([
            {"apiGroups": [""], "resources": ["configmaps", "secrets", "serviceaccounts", "events"], "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]},
            {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["namespaces", "namespaces/status"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]}]),
            ),
        ),
        (
            "clusterrolebindings",
            binding("cluster-admin", &["system:masters"]),
        ),
        (
            "clusterrolebindings",
            binding("system:basic-user", &["system:authenticated"]),
        ),
        (
            "clusterrolebindings",
            binding("system:discovery", &["system:authenticated"]),
        ),
        (
            "clusterrolebindings",
            binding(
                "system:public-info-viewer",
                &["system:authenticated", "system:unauthenticated"],
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(verb: &str, resource: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource: resource.into(),
            namespace: "foo".into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn rule_matching_with_resource_names_and_wildcards() {
        let r = json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["a"]});
        assert!(rule_allows(&r, &attrs("get", "secrets", "a")));
        assert!(!rule_allows(&r, &attrs("get", "secrets", "b")));
        assert!(!rule_allows(&r, &attrs("list", "secrets", "")));
        let w = json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]});
        assert!(rule_allows(&w, &attrs("delete", "configmaps", "")));
        let sub =
            json!({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]});
        let mut a = attrs("create", "serviceaccounts", "x");
        assert!(!rule_allows(&sub, &a));
        a.subresource = "token".into();
        assert!(rule_allows(&sub, &a));
    }

    #[test]
    fn denial_text_matches_the_real_authorizer() {
        let u = UserInfo::service_account("foo", "sa", "u");
        let mut a = attrs("list", "secrets", "");
        a.namespace = "bar".into();
        assert_eq!(
            denial_text(&u, &a),
            "User \"system:serviceaccount:foo:sa\" cannot list resource \"secrets\" in API group \"\" in the namespace \"bar\""
        );
    }
}
