//! PushSecret and ClusterPushSecret: send a local Secret out to stores.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{DNS_SUBDOMAIN, GO_DURATION};
use crate::schema_ext::{FreeForm, cel};
use crate::v1::clusterexternalsecret::{ChildMetadata, NamespaceFailure};
use crate::v1::externalsecret::{
    Condition, ExternalSecretTemplate, GeneratorRef, RewriteRegexp, RewriteTransform, StoreKind,
};

/// A store to push to, by name or by labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretStoreRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: Option<String>,
    /// Selects every store of `kind` with these labels (SecretStores in the PushSecret's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    #[serde(default)]
    pub kind: StoreKind,
}

/// Whether existing remote values are overwritten.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum UpdatePolicy {
    #[default]
    Replace,
    IfNotExists,
}

/// Whether remote values are deleted when they stop being pushed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PushDeletionPolicy {
    Delete,
    #[default]
    None,
}

/// How Secret keys are turned back into remote keys.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PushConversionStrategy {
    #[default]
    None,
    ReverseUnicode,
}

/// Desired state of a PushSecret.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "PushSecret",
    namespaced,
    status = "PushSecretStatus",
    shortname = "ps",
    category = "external-secrets",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "AGE", "type": "date"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "name": "Status", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.refreshTime", "name": "Last Sync", "type": "date"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSpec {
    /// How often to push again (Go duration; `0` pushes once and then only on changes).
    #[serde(
        default = "crate::v1::default_refresh_interval",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 64), regex(pattern = GO_DURATION))]
    pub refresh_interval: Option<String>,
    pub secret_store_refs: Vec<PushSecretStoreRef>,
    #[serde(default)]
    pub update_policy: UpdatePolicy,
    #[serde(default)]
    pub deletion_policy: PushDeletionPolicy,
    pub selector: PushSecretSelector,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<PushSecretData>,
    /// Bulk pushes: each entry selects any number of the source's keys (at most 128 entries).
    // Bounded (ESO has no bound) because the API server multiplies the cost of the CEL rules
    // inside each entry by the longest list a request could hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128))]
    pub data_to: Vec<PushSecretDataTo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
}

/// The source: a Secret (by name or labels) or a generator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct PushSecretSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<PushSecretSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ref: Option<GeneratorRef>,
}

/// A Secret of the PushSecret's namespace, by name or by labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// Where a pushed value goes.
#[derive(
    Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretRemoteRef {
    pub remote_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

/// Which local key goes to which remote reference; no `secretKey` means the whole Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    pub remote_ref: PushSecretRemoteRef,
}

/// One explicit push entry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretData {
    #[serde(rename = "match")]
    pub match_: PushSecretMatch,
    /// Provider-specific metadata (for Kubernetes: a `PushSecretMetadata` object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FreeForm>,
    #[serde(default)]
    pub conversion_strategy: PushConversionStrategy,
}

/// Bulk push: many keys to one store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    cel("has(self.storeRef) && (has(self.storeRef.name) || has(self.storeRef.labelSelector))",
        "dataTo[].storeRef must name a store (name) or select stores (labelSelector) from secretStoreRefs"),
    cel("!has(self.remoteKey) || !has(self.rewrite) || size(self.rewrite) == 0",
        "dataTo[].remoteKey bundles all keys into one remote secret, so rewrite cannot apply: remove one of them"),
]))]
pub struct PushSecretDataTo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_ref: Option<PushSecretStoreRef>,
    /// Bundle mode: every matched key goes into this one remote secret as a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_key: Option<String>,
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<PushSecretDataToMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub rewrite: Vec<PushSecretRewrite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FreeForm>,
    #[serde(default)]
    pub conversion_strategy: PushConversionStrategy,
}

/// Keys selected by a regular expression (all keys when empty).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretDataToMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
}

/// A key rewrite for `dataTo`: exactly one of regexp or transform.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    // Not `has(a) != has(b)`: Kubernetes 1.24's estimator prices that comparison as if its
    // operands could be as large as a request, and refuses the CRD.
    cel("has(self.regexp) ? !has(self.transform) : has(self.transform)", "each rewrite needs exactly one of regexp or transform"),
]))]
pub struct PushSecretRewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<RewriteRegexp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<RewriteTransform>,
}

/// Observed state of a PushSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub synced_resource_version: String,
    /// `"<StoreKind>/<store>"` → `"<remoteKey>"` or `"<remoteKey>/<property>"` → the entry pushed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub synced_push_secrets: BTreeMap<String, BTreeMap<String, PushSecretData>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Desired state of a ClusterPushSecret.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "ClusterPushSecret",
    status = "ClusterPushSecretStatus",
    category = "external-secrets",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "AGE", "type": "date"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "name": "Status", "type": "string"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPushSecretSpec {
    pub push_secret_spec: PushSecretSpec,
    #[serde(
        default,
        rename = "refreshTime",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 64), regex(pattern = GO_DURATION))]
    pub refresh_interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub push_secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_secret_metadata: Option<ChildMetadata>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_selectors: Vec<LabelSelector>,
}

/// Observed state of a ClusterPushSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPushSecretStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_namespaces: Vec<NamespaceFailure>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisioned_namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
