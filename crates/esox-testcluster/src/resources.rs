//! The resource types the server knows: built-in kinds plus those CRDs add at run time.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Identifies where objects of a resource are stored, independent of the served version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        Self {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

/// One served resource at one version.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub verbs: Vec<&'static str>,
    pub short_names: Vec<String>,
    pub subresources: Vec<&'static str>,
    /// Create-only virtual resources (reviews): nothing is stored.
    pub virtual_only: bool,
    /// Set for custom resources: the version's compiled `openAPIV3Schema`.
    pub crd_schema: Option<Arc<esox_schema::CompiledSchema>>,
    /// A CRD version's `additionalPrinterColumns` (server-side printing).
    pub printer_columns: Vec<serde_json::Value>,
    pub is_crd: bool,
}

impl ResourceInfo {
    pub fn gr(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.resource)
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    resource: &str,
    kind: &str,
    namespaced: bool,
    short: &[&str],
    subresources: &[&'static str],
) -> ResourceInfo {
    ResourceInfo {
        group: group.into(),
        version: version.into(),
        resource: resource.into(),
        singular: kind.to_lowercase(),
        kind: kind.into(),
        namespaced,
        verbs: ALL_VERBS.to_vec(),
        short_names: short.iter().map(|s| s.to_string()).collect(),
        subresources: subresources.to_vec(),
        virtual_only: false,
        crd_schema: None,
        printer_columns: Vec::new(),
        is_crd: false,
    }
}

fn review(group: &str, resource: &str, kind: &str, namespaced: bool) -> ResourceInfo {
    ResourceInfo {
        verbs: vec!["create"],
        virtual_only: true,
        ..builtin(group, "v1", resource, kind, namespaced, &[], &[])
    }
}

/// All resources served, keyed by (group, version, plural).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    map: BTreeMap<(String, String, String), Arc<ResourceInfo>>,
    /// Preferred order of groups for discovery.
    group_order: Vec<String>,
}

impl Registry {
    pub fn builtin() -> Self {
        let mut r = Registry::default();
        for info in [
            builtin(
                "",
                "v1",
                "namespaces",
                "Namespace",
                false,
                &["ns"],
                &["status", "finalize"],
            ),
            builtin("", "v1", "secrets", "Secret", true, &[], &[]),
            builtin("", "v1", "configmaps", "ConfigMap", true, &["cm"], &[]),
            builtin(
                "",
                "v1",
                "serviceaccounts",
                "ServiceAccount",
                true,
                &["sa"],
                &["token"],
            ),
            builtin("", "v1", "events", "Event", true, &["ev"], &[]),
            builtin("events.k8s.io", "v1", "events", "Event", true, &["ev"], &[]),
            builtin(
                "coordination.k8s.io",
                "v1",
                "leases",
                "Lease",
                true,
                &[],
                &[],
            ),
            builtin(
                "rbac.authorization.k8s.io",
                "v1",
                "roles",
                "Role",
                true,
                &[],
                &[],
            ),
            builtin(
                "rbac.authorization.k8s.io",
                "v1",
                "rolebindings",
                "RoleBinding",
                true,
                &[],
                &[],
            ),
            builtin(
                "rbac.authorization.k8s.io",
                "v1",
                "clusterroles",
                "ClusterRole",
                false,
                &[],
                &[],
            ),
            builtin(
                "rbac.authorization.k8s.io",
                "v1",
                "clusterrolebindings",
                "ClusterRoleBinding",
                false,
                &[],
                &[],
            ),
            builtin(
                "apiextensions.k8s.io",
                "v1",
                "customresourcedefinitions",
                "CustomResourceDefinition",
                false,
                &["crd", "crds"],
                &["status"],
            ),
            review(
                "authorization.k8s.io",
                "selfsubjectaccessreviews",
                "SelfSubjectAccessReview",
                false,
            ),
            review(
                "authorization.k8s.io",
                "selfsubjectrulesreviews",
                "SelfSubjectRulesReview",
                false,
            ),
            review(
                "authentication.k8s.io",
                "selfsubjectreviews",
                "SelfSubjectReview",
                false,
            ),
        ] {
            r.insert(info);
        }
        r
    }

    pub fn insert(&mut self, info: ResourceInfo) {
        if !info.group.is_empty() && !self.group_order.contains(&info.group) {
            self.group_order.push(info.group.clone());
        }
        self.map.insert(
            (
                info.group.clone(),
                info.version.clone(),
                info.resource.clone(),
            ),
            Arc::new(info),
        );
    }

    /// Drops every version of a group/resource (a CRD went away).
    pub fn remove(&mut self, group: &str, resource: &str) {
        self.map
            .retain(|(g, _, r), _| !(g == group && r == resource));
        if !self.map.keys().any(|(g, _, _)| g == group) {
            self.group_order.retain(|g| g != group);
        }
    }

    pub fn get(&self, group: &str, version: &str, resource: &str) -> Option<Arc<ResourceInfo>> {
        self.map
            .get(&(group.to_string(), version.to_string(), resource.to_string()))
            .cloned()
    }

    /// Any served version of a group/resource (used by controllers that see only stored objects).
    pub fn any_version(&self, gr: &GroupResource) -> Option<Arc<ResourceInfo>> {
        self.map
            .iter()
            .find(|((g, _, r), _)| *g == gr.group && *r == gr.resource)
            .map(|(_, v)| v.clone())
    }

    pub fn versions_of(&self, group: &str) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for (g, ver, _) in self.map.keys() {
            if g == group && !v.contains(ver) {
                v.push(ver.clone());
            }
        }
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        v
    }

    pub fn groups(&self) -> Vec<String> {
        self.group_order.clone()
    }

    pub fn resources_of(&self, group: &str, version: &str) -> Vec<Arc<ResourceInfo>> {
        self.map
            .iter()
            .filter(|((g, v, _), _)| g == group && v == version)
            .map(|(_, i)| i.clone())
            .collect()
    }
}

pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Kubernetes version ordering: GA > beta > alpha, higher numbers first.
pub fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major: u32 = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (stage, n) = if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        return (0, 0, 0);
    };
    (stage, major, n.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ordering_follows_kubernetes() {
        let mut v = vec!["v1alpha1", "v2", "v1beta2", "v1", "v1beta1"];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(v, ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1"]);
    }
}
