//! `Validate()` of ESO's Kubernetes provider (`validate.go`): can the store's credentials
//! read Secrets in `remoteNamespace`?
//!
//! - ClusterSecretStore with referent auth: ESO answers `(Unknown, nil)`, which its store
//!   controller shows as `Valid`; here that is [`ValidationResult::Ready`].
//! - A SelfSubjectRulesReview whose rules allow `get` on `secrets` → Ready.
//! - Otherwise a SelfSubjectAccessReview: allowed → Ready, denied → an error.
//! - A failing review call → `(Unknown, err)` in ESO, shown as `ValidationUnknown`; here
//!   [`ValidationResult::Unknown`], with the reason logged.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, ResourceRule, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    SelfSubjectRulesReview, SelfSubjectRulesReviewSpec,
};
use kube::Api;
use kube::api::PostParams;

use super::client::KubernetesClient;
use crate::metrics::{CALL_CREATE_SSAR, CALL_CREATE_SSRR};
use crate::{ProviderError, ValidationResult};

/// Whether a rule grants `get` on Secrets in the core group.
pub(crate) fn rule_allows_get_secrets(rule: &ResourceRule) -> bool {
    let has = |list: &[String], item: &str| list.iter().any(|x| x == item);
    let resources = rule.resources.as_deref().unwrap_or_default();
    let groups = rule.api_groups.as_deref().unwrap_or_default();
    (has(resources, "secrets") || has(resources, "*"))
        && (has(&rule.verbs, "get") || has(&rule.verbs, "*"))
        && (groups.is_empty() || has(groups, "") || has(groups, "*"))
}

/// The result, and the reason when it is `Unknown`.
pub(crate) async fn validate(
    c: &KubernetesClient,
) -> Result<(ValidationResult, Option<String>), ProviderError> {
    if c.store_kind == esox_api::v1::StoreKind::ClusterSecretStore && c.referent {
        return Ok((ValidationResult::Ready, None));
    }
    let Some(remote) = &c.remote else {
        return Ok((
            ValidationResult::Unknown,
            Some("the store has no credentials to check".into()),
        ));
    };
    let ns = &c.remote_namespace;
    let rules_api: Api<SelfSubjectRulesReview> = Api::all(remote.client.clone());
    let review = SelfSubjectRulesReview {
        spec: SelfSubjectRulesReviewSpec {
            namespace: Some(ns.clone()),
        },
        ..Default::default()
    };
    let result = rules_api.create(&PostParams::default(), &review).await;
    let result = c.observed(CALL_CREATE_SSRR, result);
    let rules = match result {
        Ok(r) => r,
        Err(e) => {
            let err = c.remote_error(e, "could not verify if client is valid");
            tracing::warn!(server = %remote.connection.server, error = %err, "store validation result is unknown");
            return Ok((ValidationResult::Unknown, Some(err.to_string())));
        }
    };
    let granted = rules
        .status
        .as_ref()
        .is_some_and(|s| s.resource_rules.iter().any(rule_allows_get_secrets));
    if granted {
        return Ok((ValidationResult::Ready, None));
    }
    let access_api: Api<SelfSubjectAccessReview> = Api::all(remote.client.clone());
    let access = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                resource: Some("secrets".into()),
                namespace: Some(ns.clone()),
                verb: Some("get".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let result = access_api.create(&PostParams::default(), &access).await;
    let result = c.observed(CALL_CREATE_SSAR, result);
    match result {
        Ok(r) if r.status.as_ref().is_some_and(|s| s.allowed) => {
            Ok((ValidationResult::Ready, None))
        }
        Ok(_) => Err(ProviderError::forbidden(format!(
            "client is not allowed to get secrets in namespace {ns} of {}",
            remote.connection.server
        ))),
        Err(e) => {
            let err = c.remote_error(e, "could not verify if client is valid");
            tracing::warn!(server = %remote.connection.server, error = %err, "store validation result is unknown");
            Ok((ValidationResult::Unknown, Some(err.to_string())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: Option<&[&str]>, resources: &[&str], verbs: &[&str]) -> ResourceRule {
        let v = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        ResourceRule {
            api_groups: groups.map(v),
            resources: Some(v(resources)),
            verbs: v(verbs),
            resource_names: None,
        }
    }

    #[test]
    fn rules_that_grant_get_secrets() {
        assert!(rule_allows_get_secrets(&rule(
            Some(&[""]),
            &["secrets"],
            &["get", "list"]
        )));
        assert!(rule_allows_get_secrets(&rule(None, &["secrets"], &["get"])));
        assert!(rule_allows_get_secrets(&rule(Some(&["*"]), &["*"], &["*"])));
        assert!(!rule_allows_get_secrets(&rule(
            Some(&["apps"]),
            &["secrets"],
            &["get"]
        )));
        assert!(!rule_allows_get_secrets(&rule(
            Some(&[""]),
            &["configmaps"],
            &["get"]
        )));
        assert!(!rule_allows_get_secrets(&rule(
            Some(&[""]),
            &["secrets"],
            &["list", "watch"]
        )));
        assert!(!rule_allows_get_secrets(&rule(
            Some(&["authorization.k8s.io"]),
            &["selfsubjectrulesreviews"],
            &["create"]
        )));
    }
}
