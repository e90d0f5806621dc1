//! PushSecret write semantics of ESO's Kubernetes provider (`providers/v1/kubernetes`
//! `client.go` `PushSecret`/`DeleteSecret`/`SecretExists`, `metadata.go`, and
//! `runtime/esutils/metadata`): what the remote Secret should look like after a push,
//! and whether that differs from what is there.

use serde_json::Value;

use crate::go_json::{self, HtmlEscape};
use crate::{SecretData, StringMap};

/// `apiVersion` of the provider's push metadata.
pub const METADATA_API_VERSION: &str = "kubernetes.external-secrets.io/v1alpha1";
/// `kind` of the provider's push metadata.
pub const METADATA_KIND: &str = "PushSecretMetadata";
/// Secret type used when the source has none.
pub const DEFAULT_SECRET_TYPE: &str = "Opaque";

/// The parts of a Secret a push reads or writes. Empty maps stand for absent ones: the
/// Kubernetes provider compares with `equality.Semantic`, where nil equals empty.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretParts {
    /// `data`.
    pub data: SecretData,
    /// `type` (empty when unset).
    pub type_: String,
    /// `metadata.labels`.
    pub labels: StringMap,
    /// `metadata.annotations`.
    pub annotations: StringMap,
}

impl std::fmt::Debug for SecretParts {
    // Values are secret: only key names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretParts")
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field("type", &self.type_)
            .field("labels", &self.labels)
            .field("annotations", &self.annotations)
            .finish()
    }
}

/// `data[].match` of a PushSecret entry (after `ReverseKeys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushMatch<'a> {
    /// `match.secretKey`; empty or `None` = the whole source Secret.
    pub secret_key: Option<&'a str>,
    /// `match.remoteRef.property`; empty or `None` = the whole remote Secret.
    pub property: Option<&'a str>,
}

impl PushMatch<'_> {
    fn secret_key(&self) -> &str {
        self.secret_key.unwrap_or("")
    }
    fn property(&self) -> &str {
        self.property.unwrap_or("")
    }
}

/// `spec.sourceMergePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceMergePolicy {
    /// Metadata labels/annotations overlay the source Secret's.
    #[default]
    Merge,
    /// Only the metadata's labels/annotations are used.
    Replace,
}

/// `spec.targetMergePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetMergePolicy {
    /// The result overlays the remote Secret's labels/annotations.
    #[default]
    Merge,
    /// The result replaces them.
    Replace,
    /// The remote labels/annotations are left alone.
    Ignore,
}

/// Parsed `PushSecretMetadata` spec for the Kubernetes provider.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushSecretMetadata {
    /// `spec.sourceMergePolicy`.
    pub source_merge_policy: SourceMergePolicy,
    /// `spec.targetMergePolicy`.
    pub target_merge_policy: TargetMergePolicy,
    /// `spec.labels`.
    pub labels: StringMap,
    /// `spec.annotations`.
    pub annotations: StringMap,
    /// `spec.remoteNamespace` (empty = the store's).
    pub remote_namespace: String,
}

/// Push failures. Messages name fields and keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// `secretKey` without `property`.
    #[error("requires property in RemoteRef to push secret value if secret key is defined")]
    PropertyRequired,
    /// `secretKey` names a key the source Secret lacks.
    #[error("secret key {0} does not exist")]
    SecretKeyMissing(String),
    /// The metadata does not parse.
    #[error(
        "unable to parse metadata parameters: failed to parse {METADATA_API_VERSION} {METADATA_KIND}: {0}"
    )]
    MetadataSyntax(String),
    /// Wrong `apiVersion`.
    #[error(
        "unable to parse metadata parameters: unexpected apiVersion {0:?}, expected {METADATA_API_VERSION:?}"
    )]
    MetadataApiVersion(String),
    /// Wrong `kind`.
    #[error(
        "unable to parse metadata parameters: unexpected kind {0:?}, expected {METADATA_KIND:?}"
    )]
    MetadataKind(String),
    /// Unknown `sourceMergePolicy`.
    #[error(
        "failed to merge source metadata: unexpected source merge policy {0:?} (use Merge or Replace)"
    )]
    SourceMergePolicy(String),
    /// Unknown `targetMergePolicy`.
    #[error(
        "failed to merge target metadata: unexpected target merge policy {0:?} (use Merge, Replace or Ignore)"
    )]
    TargetMergePolicy(String),
    /// `remoteNamespace` set on a namespaced SecretStore.
    #[error("remoteNamespace override is only supported with ClusterSecretStore")]
    RemoteNamespaceNeedsClusterStore,
}

/// Parses `data[].metadata` (the JSON object as stored in the PushSecret). Field names
/// match case-insensitively and unknown fields are rejected, as with `sigs.k8s.io/yaml`
/// and `DisallowUnknownFields` in ESO.
pub fn parse_metadata(raw: Option<&Value>) -> Result<Option<PushSecretMetadata>, PushError> {
    let Some(raw) = raw else { return Ok(None) };
    let top = as_object(raw, "metadata")?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut meta = PushSecretMetadata::default();
    for (field, value) in top {
        match field.to_ascii_lowercase().as_str() {
            "apiversion" => api_version = as_string(value, "apiVersion")?,
            "kind" => kind = as_string(value, "kind")?,
            "spec" => meta = parse_spec(value)?,
            _ => {
                return Err(PushError::MetadataSyntax(format!(
                    "unknown field {field:?}"
                )));
            }
        }
    }
    if api_version != METADATA_API_VERSION {
        return Err(PushError::MetadataApiVersion(api_version));
    }
    if kind != METADATA_KIND {
        return Err(PushError::MetadataKind(kind));
    }
    Ok(Some(meta))
}

fn parse_spec(value: &Value) -> Result<PushSecretMetadata, PushError> {
    let mut meta = PushSecretMetadata::default();
    if value.is_null() {
        return Ok(meta);
    }
    for (field, v) in as_object(value, "spec")? {
        match field.to_ascii_lowercase().as_str() {
            "sourcemergepolicy" => {
                meta.source_merge_policy = match as_string(v, "spec.sourceMergePolicy")?.as_str() {
                    "" | "Merge" => SourceMergePolicy::Merge,
                    "Replace" => SourceMergePolicy::Replace,
                    other => return Err(PushError::SourceMergePolicy(other.to_owned())),
                }
            }
            "targetmergepolicy" => {
                meta.target_merge_policy = match as_string(v, "spec.targetMergePolicy")?.as_str() {
                    "" | "Merge" => TargetMergePolicy::Merge,
                    "Replace" => TargetMergePolicy::Replace,
                    "Ignore" => TargetMergePolicy::Ignore,
                    other => return Err(PushError::TargetMergePolicy(other.to_owned())),
                }
            }
            "labels" => meta.labels = as_string_map(v, "spec.labels")?,
            "annotations" => meta.annotations = as_string_map(v, "spec.annotations")?,
            "remotenamespace" => meta.remote_namespace = as_string(v, "spec.remoteNamespace")?,
            _ => {
                return Err(PushError::MetadataSyntax(format!(
                    "unknown field \"spec.{field}\""
                )));
            }
        }
    }
    Ok(meta)
}

fn as_object<'v>(
    v: &'v Value,
    field: &str,
) -> Result<&'v serde_json::Map<String, Value>, PushError> {
    v.as_object()
        .ok_or_else(|| PushError::MetadataSyntax(format!("{field} must be an object")))
}

fn as_string(v: &Value, field: &str) -> Result<String, PushError> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        _ => Err(PushError::MetadataSyntax(format!(
            "{field} must be a string"
        ))),
    }
}

fn as_string_map(v: &Value, field: &str) -> Result<StringMap, PushError> {
    if v.is_null() {
        return Ok(StringMap::new());
    }
    as_object(v, field)?
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(PushError::MetadataSyntax(format!(
                "{field}.{k} must be a string"
            ))),
        })
        .collect()
}

/// The namespace a push writes to: the metadata override (ClusterSecretStore only) or the
/// store's `remoteNamespace`.
pub fn target_namespace(
    store_remote_namespace: &str,
    cluster_store: bool,
    meta: Option<&PushSecretMetadata>,
) -> Result<String, PushError> {
    match meta {
        Some(m) if !m.remote_namespace.is_empty() => {
            if !cluster_store {
                return Err(PushError::RemoteNamespaceNeedsClusterStore);
            }
            Ok(m.remote_namespace.clone())
        }
        _ => Ok(store_remote_namespace.to_owned()),
    }
}

/// The write a push needs.
#[derive(Clone, PartialEq, Eq)]
pub struct PushPlan {
    /// The remote Secret as it should be.
    pub desired: SecretParts,
    /// What to do with it.
    pub action: PushAction,
}

impl std::fmt::Debug for PushPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushPlan")
            .field("desired", &self.desired)
            .field("action", &self.action)
            .finish()
    }
}

/// Create, update, or leave the remote Secret alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushAction {
    /// The remote Secret does not exist.
    Create,
    /// It exists and differs.
    Update,
    /// It exists and already matches: ESO skips the write.
    Unchanged,
}

/// `PushSecret` for the Kubernetes provider: computes the remote Secret from the source
/// (`local`), the existing remote Secret, the entry's match and its metadata.
pub fn plan_push(
    local: &SecretParts,
    existing: Option<&SecretParts>,
    matcher: PushMatch<'_>,
    meta: Option<&PushSecretMetadata>,
) -> Result<PushPlan, PushError> {
    if matcher.property().is_empty() && !matcher.secret_key().is_empty() {
        return Err(PushError::PropertyRequired);
    }
    let mut desired = existing.cloned().unwrap_or_default();
    desired.type_ = if local.type_.is_empty() {
        DEFAULT_SECRET_TYPE.to_owned()
    } else {
        local.type_.clone()
    };

    let (source_labels, source_annotations) = source_metadata(local, meta);
    match meta.map(|m| m.target_merge_policy).unwrap_or_default() {
        TargetMergePolicy::Merge => {
            desired.labels.extend(source_labels);
            desired.annotations.extend(source_annotations);
        }
        TargetMergePolicy::Replace => {
            desired.labels = source_labels;
            desired.annotations = source_annotations;
        }
        TargetMergePolicy::Ignore => {}
    }

    let property = matcher.property();
    if property.is_empty() {
        desired.data = local.data.clone();
    } else if matcher.secret_key().is_empty() {
        let json = go_json::bytes_map_as_strings(&local.data, HtmlEscape::Off);
        desired.data.insert(property.to_owned(), json.into_bytes());
    } else {
        let key = matcher.secret_key();
        let value = local
            .data
            .get(key)
            .ok_or_else(|| PushError::SecretKeyMissing(key.to_owned()))?;
        desired.data.insert(property.to_owned(), value.clone());
    }

    let action = match existing {
        None => PushAction::Create,
        Some(e) if *e == desired => PushAction::Unchanged,
        Some(_) => PushAction::Update,
    };
    Ok(PushPlan { desired, action })
}

fn source_metadata(
    local: &SecretParts,
    meta: Option<&PushSecretMetadata>,
) -> (StringMap, StringMap) {
    let Some(meta) = meta else {
        return (local.labels.clone(), local.annotations.clone());
    };
    match meta.source_merge_policy {
        SourceMergePolicy::Merge => {
            let mut labels = local.labels.clone();
            labels.extend(meta.labels.clone());
            let mut annotations = local.annotations.clone();
            annotations.extend(meta.annotations.clone());
            (labels, annotations)
        }
        SourceMergePolicy::Replace => (meta.labels.clone(), meta.annotations.clone()),
    }
}

/// What `DeleteSecret` does to the remote Secret.
#[derive(Clone, PartialEq, Eq)]
pub enum DeletePlan {
    /// Nothing to do (missing Secret, or missing property).
    Nothing,
    /// Update the Secret without the property (it had other keys).
    RemoveKey(SecretParts),
    /// Delete the whole Secret.
    DeleteSecret,
}

impl std::fmt::Debug for DeletePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Nothing => f.write_str("Nothing"),
            Self::RemoveKey(s) => f.debug_tuple("RemoveKey").field(s).finish(),
            Self::DeleteSecret => f.write_str("DeleteSecret"),
        }
    }
}

/// `DeleteSecret` for the Kubernetes provider.
pub fn plan_delete(existing: Option<&SecretParts>, property: Option<&str>) -> DeletePlan {
    let Some(existing) = existing else {
        return DeletePlan::Nothing;
    };
    let property = property.unwrap_or("");
    if !property.is_empty() {
        if !existing.data.contains_key(property) {
            return DeletePlan::Nothing;
        }
        if existing.data.len() > 1 {
            let mut updated = existing.clone();
            updated.data.remove(property);
            return DeletePlan::RemoveKey(updated);
        }
    }
    DeletePlan::DeleteSecret
}

/// `SecretExists` for the Kubernetes provider.
pub fn secret_exists(existing: Option<&SecretParts>, property: Option<&str>) -> bool {
    match (existing, property.unwrap_or("")) {
        (None, _) => false,
        (Some(_), "") => true,
        (Some(s), p) => s.data.contains_key(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    fn local() -> SecretParts {
        SecretParts {
            data: data(&[("user", "admin"), ("pass", "<p&>")]),
            type_: String::new(),
            labels: strings(&[("src", "1")]),
            annotations: strings(&[("note", "a")]),
        }
    }

    #[test]
    fn secret_key_without_property_is_rejected() {
        let m = PushMatch {
            secret_key: Some("user"),
            property: None,
        };
        assert_eq!(
            plan_push(&local(), None, m, None),
            Err(PushError::PropertyRequired)
        );
    }

    #[test]
    fn whole_secret_replaces_remote_data_and_merges_metadata() {
        let existing = SecretParts {
            data: data(&[("old", "x")]),
            type_: "Opaque".into(),
            labels: strings(&[("remote", "r"), ("src", "0")]),
            annotations: StringMap::new(),
        };
        let plan = plan_push(&local(), Some(&existing), PushMatch::default(), None).expect("ok");
        assert_eq!(plan.action, PushAction::Update);
        assert_eq!(plan.desired.data, local().data);
        assert_eq!(plan.desired.type_, "Opaque");
        assert_eq!(
            plan.desired.labels,
            strings(&[("remote", "r"), ("src", "1")])
        );
        assert_eq!(plan.desired.annotations, strings(&[("note", "a")]));
        // Pushing the result again changes nothing.
        let again =
            plan_push(&local(), Some(&plan.desired), PushMatch::default(), None).expect("ok");
        assert_eq!(again.action, PushAction::Unchanged);
        assert_eq!(
            plan_push(&local(), None, PushMatch::default(), None)
                .expect("ok")
                .action,
            PushAction::Create
        );
    }

    #[test]
    fn property_without_key_stores_json_of_all_data() {
        let existing = SecretParts {
            data: data(&[("keep", "k")]),
            ..Default::default()
        };
        let m = PushMatch {
            secret_key: None,
            property: Some("bundle"),
        };
        let plan = plan_push(&local(), Some(&existing), m, None).expect("ok");
        assert_eq!(
            plan.desired.data.get("keep").map(Vec::as_slice),
            Some(&b"k"[..])
        );
        assert_eq!(
            plan.desired.data.get("bundle").map(Vec::as_slice),
            Some(&br#"{"pass":"<p&>","user":"admin"}"#[..])
        );
    }

    #[test]
    fn property_with_key_copies_one_value() {
        let existing = SecretParts {
            data: data(&[("keep", "k")]),
            ..Default::default()
        };
        let m = PushMatch {
            secret_key: Some("user"),
            property: Some("login"),
        };
        let plan = plan_push(&local(), Some(&existing), m, None).expect("ok");
        assert_eq!(
            plan.desired.data,
            data(&[("keep", "k"), ("login", "admin")])
        );
        let missing = PushMatch {
            secret_key: Some("nope"),
            property: Some("login"),
        };
        assert_eq!(
            plan_push(&local(), Some(&existing), missing, None),
            Err(PushError::SecretKeyMissing("nope".into()))
        );
    }

    #[test]
    fn local_type_is_kept() {
        let mut src = local();
        src.type_ = "kubernetes.io/basic-auth".into();
        let plan = plan_push(&src, None, PushMatch::default(), None).expect("ok");
        assert_eq!(plan.desired.type_, "kubernetes.io/basic-auth");
    }

    #[test]
    fn metadata_policies() {
        let existing = SecretParts {
            labels: strings(&[("remote", "r")]),
            annotations: strings(&[("ra", "1")]),
            ..Default::default()
        };
        let base = PushSecretMetadata {
            labels: strings(&[("meta", "m")]),
            ..Default::default()
        };
        let merge =
            plan_push(&local(), Some(&existing), PushMatch::default(), Some(&base)).expect("ok");
        assert_eq!(
            merge.desired.labels,
            strings(&[("meta", "m"), ("remote", "r"), ("src", "1")])
        );
        let src_replace = PushSecretMetadata {
            source_merge_policy: SourceMergePolicy::Replace,
            ..base.clone()
        };
        let p = plan_push(
            &local(),
            Some(&existing),
            PushMatch::default(),
            Some(&src_replace),
        )
        .expect("ok");
        assert_eq!(p.desired.labels, strings(&[("meta", "m"), ("remote", "r")]));
        assert_eq!(p.desired.annotations, strings(&[("ra", "1")]));
        let tgt_replace = PushSecretMetadata {
            target_merge_policy: TargetMergePolicy::Replace,
            ..base.clone()
        };
        let p = plan_push(
            &local(),
            Some(&existing),
            PushMatch::default(),
            Some(&tgt_replace),
        )
        .expect("ok");
        assert_eq!(p.desired.labels, strings(&[("meta", "m"), ("src", "1")]));
        assert_eq!(p.desired.annotations, strings(&[("note", "a")]));
        let ignore = PushSecretMetadata {
            target_merge_policy: TargetMergePolicy::Ignore,
            ..base
        };
        let p = plan_push(
            &local(),
            Some(&existing),
            PushMatch::default(),
            Some(&ignore),
        )
        .expect("ok");
        assert_eq!(p.desired.labels, existing.labels);
        assert_eq!(p.desired.annotations, existing.annotations);
    }

    #[test]
    fn parse_metadata_checks_kind_version_and_fields() {
        let ok = json!({
            "apiVersion": METADATA_API_VERSION,
            "kind": METADATA_KIND,
            "spec": {"sourceMergePolicy": "Replace", "targetMergePolicy": "Ignore",
                     "labels": {"a": "b"}, "remoteNamespace": "other"}
        });
        let meta = parse_metadata(Some(&ok)).expect("ok").expect("some");
        assert_eq!(meta.source_merge_policy, SourceMergePolicy::Replace);
        assert_eq!(meta.target_merge_policy, TargetMergePolicy::Ignore);
        assert_eq!(meta.labels, strings(&[("a", "b")]));
        assert_eq!(meta.remote_namespace, "other");
        assert_eq!(parse_metadata(None), Ok(None));
        let bad_kind = json!({"apiVersion": METADATA_API_VERSION, "kind": "Other"});
        assert_eq!(
            parse_metadata(Some(&bad_kind)),
            Err(PushError::MetadataKind("Other".into()))
        );
        let bad_version = json!({"apiVersion": "v1", "kind": METADATA_KIND});
        assert!(matches!(
            parse_metadata(Some(&bad_version)),
            Err(PushError::MetadataApiVersion(_))
        ));
        let unknown = json!({"apiVersion": METADATA_API_VERSION, "kind": METADATA_KIND, "spec": {"lables": {}}});
        let err = parse_metadata(Some(&unknown)).expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field \"spec.lables\""),
            "{err}"
        );
        let bad_policy = json!({"apiVersion": METADATA_API_VERSION, "kind": METADATA_KIND, "spec": {"targetMergePolicy": "Keep"}});
        assert_eq!(
            parse_metadata(Some(&bad_policy)),
            Err(PushError::TargetMergePolicy("Keep".into()))
        );
    }

    #[test]
    fn remote_namespace_override_needs_cluster_store() {
        let meta = PushSecretMetadata {
            remote_namespace: "x".into(),
            ..Default::default()
        };
        assert_eq!(
            target_namespace("default", true, Some(&meta)),
            Ok("x".into())
        );
        assert_eq!(
            target_namespace("default", false, Some(&meta)),
            Err(PushError::RemoteNamespaceNeedsClusterStore)
        );
        assert_eq!(
            target_namespace("default", false, None),
            Ok("default".into())
        );
    }

    #[test]
    fn delete_semantics() {
        let two = SecretParts {
            data: data(&[("a", "1"), ("b", "2")]),
            ..Default::default()
        };
        let one = SecretParts {
            data: data(&[("a", "1")]),
            ..Default::default()
        };
        assert_eq!(plan_delete(None, Some("a")), DeletePlan::Nothing);
        assert_eq!(plan_delete(Some(&two), Some("zz")), DeletePlan::Nothing);
        match plan_delete(Some(&two), Some("a")) {
            DeletePlan::RemoveKey(s) => assert_eq!(s.data, data(&[("b", "2")])),
            other => panic!("expected RemoveKey, got {other:?}"),
        }
        assert_eq!(plan_delete(Some(&one), Some("a")), DeletePlan::DeleteSecret);
        assert_eq!(plan_delete(Some(&two), None), DeletePlan::DeleteSecret);
    }

    #[test]
    fn exists_semantics() {
        let s = SecretParts {
            data: data(&[("a", "1")]),
            ..Default::default()
        };
        assert!(!secret_exists(None, None));
        assert!(secret_exists(Some(&s), None));
        assert!(secret_exists(Some(&s), Some("a")));
        assert!(!secret_exists(Some(&s), Some("b")));
    }

    #[test]
    fn debug_hides_values() {
        let dbg = format!("{:?}", local());
        assert!(dbg.contains("user"));
        assert!(!dbg.contains("admin"));
    }
}
