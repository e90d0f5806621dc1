//! ExternalSecret: what to fetch from a store and which Secret to write.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{DNS_SUBDOMAIN, GO_DURATION, SECRET_KEY};
use crate::schema_ext::cel;

/// Reference to a SecretStore or ClusterSecretStore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreRef {
    /// Name of the store.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: String,
    /// `SecretStore` (the default) or `ClusterSecretStore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<StoreKind>,
}

/// The two kinds of store.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    JsonSchema,
)]
pub enum StoreKind {
    #[default]
    SecretStore,
    ClusterSecretStore,
}

impl StoreKind {
    /// The kind's name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::SecretStore => "SecretStore",
            StoreKind::ClusterSecretStore => "ClusterSecretStore",
        }
    }
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who owns the target Secret and whether esox creates it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum CreationPolicy {
    /// Create the Secret and own it (ownerReference to the ExternalSecret).
    #[default]
    Owner,
    /// Create the Secret without an ownerReference; it outlives the ExternalSecret.
    Orphan,
    /// Only merge keys into an existing Secret; never create it.
    Merge,
    /// Write nothing.
    None,
    /// Merge into an existing Secret, or create it when missing.
    CreateOrMerge,
}

/// What happens to the target Secret when the provider returns no data.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    Delete,
    Merge,
    #[default]
    Retain,
}

/// Whether a value containing a NUL byte is an error.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum NullBytePolicy {
    Ignore,
    Fail,
}

/// Whether to fetch a remote secret's value or its metadata (labels, tags).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum MetadataPolicy {
    None,
    Fetch,
}

/// How keys that are not valid Secret keys are rewritten.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConversionStrategy {
    Default,
    Unicode,
}

/// How fetched values are decoded before they are stored.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DecodingStrategy {
    Auto,
    Base64,
    #[serde(rename = "Base64URL")]
    Base64Url,
    None,
}

/// When an ExternalSecret fetches again.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RefreshPolicy {
    CreatedOnce,
    Periodic,
    OnChange,
}

/// Metadata written onto the target Secret by a template.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Finalizers to put on the target Secret (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// Whether rendered keys replace the fetched data or are added to it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum TemplateMergePolicy {
    #[default]
    Replace,
    Merge,
}

/// Template engine version; only v2 (Go text/template semantics) exists.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum TemplateEngineVersion {
    #[default]
    #[serde(rename = "v2")]
    V2,
}

/// Shapes the target Secret from the fetched data.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    cel("!has(self.type) || self.type != 'bootstrap.kubernetes.io/token'",
        "template.type bootstrap.kubernetes.io/token is refused: a bootstrap token lets its holder join nodes to the cluster; use type Opaque"),
    cel("!has(self.type) || self.type != 'kubernetes.io/service-account-token' || !((has(self.metadata) && has(self.metadata.annotations) && 'kubernetes.io/service-account.name' in self.metadata.annotations) || (has(self.templateFrom) && self.templateFrom.exists(t, has(t.target) && t.target.matches('^(?i)annotations$'))))",
        "a template of type kubernetes.io/service-account-token may not set the kubernetes.io/service-account.name annotation: it would mint a token for that ServiceAccount; remove the annotation or use type Opaque"),
]))]
pub struct ExternalSecretTemplate {
    /// Type of the target Secret; the existing type is kept when empty.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub type_: Option<String>,
    #[serde(default)]
    pub engine_version: TemplateEngineVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    #[serde(default)]
    pub merge_policy: TemplateMergePolicy,
    /// Key to template; rendered with the fetched data as `.`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub template_from: Vec<TemplateFrom>,
}

/// A source of templates: a ConfigMap, a Secret or a literal.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateFrom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<TemplateRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<TemplateRef>,
    /// Where the rendered output goes: `Data` (default), `Annotations` or `Labels`.
    #[serde(default = "default_template_target")]
    #[schemars(length(max = 253))]
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<String>,
    /// Decoding applied to each rendered value before it is stored (v1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_decoding_strategy: Option<DecodingStrategy>,
}

fn default_template_target() -> String {
    "Data".to_owned()
}

/// Whether a template item renders one value or a YAML map of keys and values.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum TemplateScope {
    #[default]
    Values,
    KeysAndValues,
}

/// Templates kept in a ConfigMap or Secret of the ExternalSecret's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: String,
    pub items: Vec<TemplateRefItem>,
}

/// One key of a template ConfigMap or Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRefItem {
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY))]
    pub key: String,
    #[serde(default)]
    pub template_as: TemplateScope,
}

/// A non-Secret target object (v1 only; esox refuses it at reconcile time).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestReference {
    #[schemars(length(min = 1))]
    pub api_version: String,
    #[schemars(length(min = 1))]
    pub kind: String,
}

/// The `templateFrom[].target` check without the manifest escape; `v1beta1` has no
/// `target.manifest`, so there every target is a Secret.
macro_rules! template_from_targets_rule {
    () => {
        "!has(self.template) || !has(self.template.templateFrom) || self.template.templateFrom.all(t, !has(t.target) || t.target.matches('^(?i)(data|annotations|labels)?$'))"
    };
}

/// `templateFrom[].target` of a template rendered into a Secret, as ESO's webhook restricts it
/// (`ValidateSecretTemplateFromTargets`: empty or Data, Annotations, Labels, compared with Unicode
/// case folding). Any other value is a path into the rendered object, which could write `type`,
/// `immutable` or owner references past the privileged-template checks.
pub(crate) const TEMPLATE_FROM_TARGETS_RULE: &str = template_from_targets_rule!();

/// [`TEMPLATE_FROM_TARGETS_RULE`] for `v1`: a `target.manifest` other than a core/v1 Secret lets
/// ESO accept nested paths, so the rule does not apply there.
pub(crate) const TEMPLATE_FROM_TARGETS_RULE_V1: &str = concat!(
    "(has(self.manifest) && !(self.manifest.apiVersion == 'v1' && self.manifest.kind == 'Secret')) || ",
    template_from_targets_rule!()
);

const TEMPLATE_FROM_TARGETS_MESSAGE: &str = "template.templateFrom[].target must be Data, Annotations or Labels (any letter case) when the target is a Secret: other values are paths into the rendered object that could set fields such as type or immutable";

/// The Secret an ExternalSecret writes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    cel("self.deletionPolicy != 'Delete' || !(self.creationPolicy in ['Merge', 'None', 'CreateOrMerge'])",
        "deletionPolicy Delete needs creationPolicy Owner or Orphan: with Merge, None or CreateOrMerge the Secret is not esox's to delete"),
    cel("self.deletionPolicy != 'Merge' || self.creationPolicy != 'None'",
        "deletionPolicy Merge cannot be combined with creationPolicy None, which writes nothing; choose another creationPolicy or deletionPolicy Retain"),
    cel(TEMPLATE_FROM_TARGETS_RULE_V1, TEMPLATE_FROM_TARGETS_MESSAGE),
]))]
pub struct ExternalSecretTarget {
    /// Name of the Secret; defaults to the ExternalSecret's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: Option<String>,
    #[serde(default)]
    pub creation_policy: CreationPolicy,
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Box<ExternalSecretTemplate>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Box<ManifestReference>>,
    /// Mark the Secret immutable; its data is then never rewritten.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub immutable: bool,
}

impl Default for ExternalSecretTarget {
    fn default() -> Self {
        Self {
            name: None,
            creation_policy: CreationPolicy::Owner,
            deletion_policy: DeletionPolicy::Retain,
            template: None,
            manifest: None,
            immutable: false,
        }
    }
}

/// Where a value lives in the provider.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRef {
    /// Provider key of the secret.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_policy: Option<MetadataPolicy>,
    /// Field inside the remote secret (a gjson path for JSON values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion_strategy: Option<ConversionStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoding_strategy: Option<DecodingStrategy>,
    /// Whether a NUL byte in the value is an error (v1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_byte_policy: Option<NullBytePolicy>,
}

/// One key of the target Secret and where its value comes from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretData {
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY))]
    pub secret_key: String,
    pub remote_ref: RemoteRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<StoreSourceRef>,
}

/// Per-entry store override for `data[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct StoreSourceRef {
    #[serde(default, rename = "storeRef", skip_serializing_if = "Option::is_none")]
    pub store_ref: Option<SecretStoreRef>,
    /// Accepted for compatibility; generators cannot feed `data[]` (as in ESO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ref: Option<GeneratorRef>,
}

/// Per-entry source for `dataFrom[]`: another store or a generator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct StoreGeneratorSourceRef {
    #[serde(default, rename = "storeRef", skip_serializing_if = "Option::is_none")]
    pub store_ref: Option<SecretStoreRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ref: Option<GeneratorRef>,
}

/// Generator kinds ESO defines; esox implements a subset and says so at reconcile time.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum GeneratorKind {
    #[serde(rename = "ACRAccessToken")]
    AcrAccessToken,
    BeyondtrustWorkloadCredentialsDynamicSecret,
    ClusterGenerator,
    CloudsmithAccessToken,
    #[serde(rename = "ECRAuthorizationToken")]
    EcrAuthorizationToken,
    Fake,
    #[serde(rename = "GCRAccessToken")]
    GcrAccessToken,
    GithubAccessToken,
    GitlabDeployToken,
    QuayAccessToken,
    Password,
    #[serde(rename = "SSHKey")]
    SshKey,
    #[serde(rename = "STSSessionToken")]
    StsSessionToken,
    #[serde(rename = "UUID")]
    Uuid,
    VaultDynamicSecret,
    Webhook,
    Grafana,
    #[serde(rename = "MFA")]
    Mfa,
}

/// Reference to a generator object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorRef {
    #[serde(default = "default_generator_api_version")]
    pub api_version: String,
    pub kind: GeneratorKind,
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: String,
}

fn default_generator_api_version() -> String {
    "generators.external-secrets.io/v1alpha1".to_owned()
}

/// Many keys from one source: a whole secret, a search, or a generator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    cel("[has(self.extract), has(self.find), has(self.sourceRef) && has(self.sourceRef.generatorRef)].exists_one(x, x)",
        "each dataFrom entry needs exactly one of extract, find or sourceRef.generatorRef (sourceRef.storeRef only picks the store that extract or find reads)"),
]))]
pub struct ExternalSecretDataFrom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<RemoteRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find: Option<Box<ExternalSecretFind>>,
    /// Key rewrites, applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite: Vec<ExternalSecretRewrite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<Box<StoreGeneratorSourceRef>>,
}

/// One key rewrite: exactly one of merge, regexp or transform.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct ExternalSecretRewrite {
    /// Merge JSON values into one (v1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<RewriteMerge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<RewriteRegexp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<RewriteTransform>,
}

/// Merges the JSON objects of several keys.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RewriteMerge {
    #[serde(default)]
    pub into: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<String>,
    #[serde(default)]
    pub priority_policy: MergePriorityPolicy,
    #[serde(default)]
    pub conflict_policy: MergeConflictPolicy,
    #[serde(default)]
    pub strategy: MergeStrategy,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum MergePriorityPolicy {
    IgnoreNotFound,
    #[default]
    Strict,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum MergeConflictPolicy {
    Ignore,
    #[default]
    Error,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum MergeStrategy {
    #[default]
    Extract,
    #[serde(rename = "JSON")]
    Json,
}

/// Renames keys with a regular expression (Go RE2 syntax).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RewriteRegexp {
    pub source: String,
    pub target: String,
}

/// Renames keys with a template; `.value` is the key.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RewriteTransform {
    pub template: String,
}

/// Finds secrets by name or tags.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretFind {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<FindName>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion_strategy: Option<ConversionStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoding_strategy: Option<DecodingStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_byte_policy: Option<NullBytePolicy>,
}

/// Matches secret names with an unanchored regular expression.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindName {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub regexp: String,
}

/// Restricts periodic refreshes to (allow) or away from (deny) time windows.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncWindowKind {
    Allow,
    Deny,
}

/// A cron schedule and how long each window lasts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindowEntry {
    #[schemars(
        length(min = 1),
        regex(
            pattern = r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly)|@every [^\s]+.*|[^\s]+( [^\s]+){4})$"
        )
    )]
    pub schedule: String,
    #[schemars(length(max = 64), regex(pattern = GO_DURATION))]
    pub duration: String,
}

/// Sync windows (v1 only).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindows {
    pub kind: SyncWindowKind,
    #[schemars(length(min = 1))]
    pub windows: Vec<SyncWindowEntry>,
}

/// Desired state of an ExternalSecret.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    derive = "PartialEq",
    version = "v1",
    kind = "ExternalSecret",
    namespaced,
    status = "ExternalSecretStatus",
    shortname = "es",
    category = "external-secrets",
    printcolumn = r#"{"jsonPath": ".spec.secretStoreRef.kind", "name": "StoreType", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".spec.secretStoreRef.name", "name": "Store", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".spec.refreshInterval", "name": "Refresh Interval", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "name": "Status", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.refreshTime", "name": "Last Sync", "type": "date"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    cel("(has(self.data) && size(self.data) > 0) || (has(self.dataFrom) && size(self.dataFrom) > 0)",
        "an ExternalSecret needs at least one entry in data or dataFrom: say which remote secrets to fetch"),
    // ESO's webhook (`validateDuplicateKeys`) refuses duplicates only under Retain, the default.
    cel("!has(self.data) || self.target.deletionPolicy != 'Retain' || self.data.all(d, self.data.exists_one(e, e.secretKey == d.secretKey))",
        "data[].secretKey must be unique while target.deletionPolicy is Retain (the default): two entries would write the same key of the Secret; remove or rename the duplicate entry"),
]))]
pub struct ExternalSecretSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_store_ref: Option<SecretStoreRef>,
    #[serde(default)]
    pub target: ExternalSecretTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_policy: Option<RefreshPolicy>,
    /// How often to fetch again (Go duration such as `1h`, `15m`, `0` for once).
    #[serde(
        default = "default_refresh_interval",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 64), regex(pattern = GO_DURATION))]
    pub refresh_interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_windows: Option<SyncWindows>,
    /// Keys of the target Secret and where each value comes from; while deletionPolicy is
    /// Retain each secretKey may appear only once.
    // Bounded by MAX_DATA_ENTRIES because the unique-key rule compares every pair of entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_DATA_ENTRIES))]
    pub data: Vec<ExternalSecretData>,
    /// Bounded so that the API server's CEL cost estimate for the per-entry rule stays in budget.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub data_from: Vec<ExternalSecretDataFrom>,
}

/// Most `spec.data` entries an ExternalSecret may have. ESO sets no bound, but the CEL rule that
/// keeps secretKeys unique compares every pair of entries, and the API server refuses a CRD whose
/// rule may cost more than its static limit. At 256 the estimate is under a quarter of that limit,
/// and evaluating the rule stays under the per-call runtime limit for keys up to about 90
/// characters. Secrets fed by that many single keys normally use `dataFrom` instead.
pub const MAX_DATA_ENTRIES: u32 = 256;

/// ESO's default refresh interval, in Go's duration format.
pub fn default_refresh_interval() -> Option<String> {
    Some("1h0m0s".to_owned())
}

/// A status condition with ESO's shape (`lastTransitionTime` optional, reason free text).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

/// The Secret an ExternalSecret provisions (servicebinding.io).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Binding {
    #[serde(default)]
    pub name: String,
}

/// Observed state of an ExternalSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub synced_resource_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
}
