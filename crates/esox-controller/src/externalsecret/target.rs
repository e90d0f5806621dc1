//! The target Secret: what esox owns in it (through its field manager), what it should contain,
//! and writing it with ESO's ownership rules.

use std::collections::{BTreeMap, BTreeSet};

use esox_api::labels::{
    ANNOTATION_DATA_HASH, LABEL_CREATED_BY, LABEL_MANAGED, LABEL_MANAGED_VALUE,
};
use esox_api::v1::{CreationPolicy, ExternalSecret};
use esox_core::SecretData;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource as _;

/// Keys, labels and annotations a field manager owns in an object (from `managedFields`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Owned {
    pub data: BTreeSet<String>,
    pub labels: BTreeSet<String>,
    pub annotations: BTreeSet<String>,
}

/// What `manager` owns in `secret`, read from its `managedFields` (`f:data`, `f:metadata`).
pub fn owned_by(secret: &Secret, manager: &str) -> Owned {
    let mut owned = Owned::default();
    for entry in secret.metadata.managed_fields.iter().flatten() {
        if entry.manager.as_deref() != Some(manager) {
            continue;
        }
        let Some(fields) = entry.fields_v1.as_ref().map(|f| &f.0) else {
            continue;
        };
        let names = |v: Option<&serde_json::Value>| -> Vec<String> {
            v.and_then(|v| v.as_object())
                .map(|m| {
                    m.keys()
                        .filter_map(|k| k.strip_prefix("f:"))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        owned.data.extend(names(fields.get("f:data")));
        let meta = fields.get("f:metadata");
        owned
            .labels
            .extend(names(meta.and_then(|m| m.get("f:labels"))));
        owned
            .annotations
            .extend(names(meta.and_then(|m| m.get("f:annotations"))));
    }
    owned
}

/// Rendered content for the target: data, type and metadata (before ownership and hashing).
#[derive(Clone, Default)]
pub struct Content {
    pub data: SecretData,
    pub type_: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub finalizers: Vec<String>,
}

/// Why the target could not be written. Retrying cannot fix any of these: only a change of the
/// objects involved can, so none is retried (as in ESO).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(
        "target is owned by another ExternalSecret ({0}): point this ExternalSecret at another target.name or delete the other one"
    )]
    OwnedByOtherExternalSecret(String),
    #[error(
        "failed to take ownership of target secret: it is controlled by {0} {1}; choose another target.name"
    )]
    ControlledByOther(String, String),
    /// The target is immutable and its data would change (the metadata was written).
    #[error(
        "secret {0} is immutable and its data would change: delete the Secret so esox can recreate it with the new data"
    )]
    Immutable(String),
}

impl TargetError {
    /// ESO's condition message for this error.
    pub fn condition_message(&self) -> &'static str {
        match self {
            TargetError::OwnedByOtherExternalSecret(_) => {
                "target is owned by another ExternalSecret"
            }
            TargetError::ControlledByOther(..) => "failed to take ownership of target secret",
            TargetError::Immutable(_) => "could not update secret, target is immutable",
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            TargetError::OwnedByOtherExternalSecret(_) | TargetError::ControlledByOther(..) => {
                "TargetOwnedByOther"
            }
            TargetError::Immutable(_) => "TargetImmutable",
        }
    }

    pub fn metric_label(&self) -> &'static str {
        match self {
            TargetError::OwnedByOtherExternalSecret(_) | TargetError::ControlledByOther(..) => {
                "ownership"
            }
            TargetError::Immutable(_) => "immutable",
        }
    }
}

/// The Secret esox wants, starting from `existing`.
pub fn desired(
    es: &ExternalSecret,
    existing: Option<&Secret>,
    target_name: &str,
    manager: &str,
    content: Content,
) -> Result<Secret, TargetError> {
    let namespace = es.metadata.namespace.clone().unwrap_or_default();
    let policy = es.spec.target.creation_policy;
    let mut secret = existing.cloned().unwrap_or_else(|| Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(target_name.to_owned()),
            namespace: Some(namespace.clone()),
            ..Default::default()
        },
        ..Default::default()
    });
    secret.metadata.managed_fields = None;
    // ESO renders an immutable target once: an existing one keeps its data, type and
    // template metadata; only ownership and the bookkeeping label and hash are refreshed.
    if existing.is_none() || !es.spec.target.immutable {
        apply_content(&mut secret, existing, policy, manager, content);
    }
    if es.spec.target.immutable {
        secret.immutable = Some(true);
    }

    apply_ownership(es, &mut secret)?;

    let hash = esox_core::hash::data_hash(&plain_data(&secret));
    let labels = secret.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(LABEL_MANAGED.to_owned(), LABEL_MANAGED_VALUE.to_owned());
    secret
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(ANNOTATION_DATA_HASH.to_owned(), hash);
    Ok(secret)
}

/// Puts the rendered `content` into `secret`, replacing what `manager` wrote before.
fn apply_content(
    secret: &mut Secret,
    existing: Option<&Secret>,
    policy: CreationPolicy,
    manager: &str,
    content: Content,
) {
    let owned = existing.map(|s| owned_by(s, manager)).unwrap_or_default();

    // Metadata: drop what this ExternalSecret wrote before, then apply what it wants now.
    let labels = secret.metadata.labels.get_or_insert_with(Default::default);
    labels.retain(|k, _| !owned.labels.contains(k));
    labels.extend(content.labels);
    let annotations = secret
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    annotations.retain(|k, _| !owned.annotations.contains(k));
    annotations.extend(content.annotations);
    if !content.finalizers.is_empty() {
        let finalizers = secret
            .metadata
            .finalizers
            .get_or_insert_with(Default::default);
        for f in content.finalizers {
            if !finalizers.contains(&f) {
                finalizers.push(f);
            }
        }
    }

    // Data: Merge and CreateOrMerge keep keys written by others; every other policy replaces.
    let keep_foreign = matches!(
        policy,
        CreationPolicy::Merge | CreationPolicy::CreateOrMerge
    );
    let mut data: BTreeMap<String, ByteString> = if keep_foreign {
        let mut d = secret.data.take().unwrap_or_default();
        d.retain(|k, _| !owned.data.contains(k));
        d
    } else {
        BTreeMap::new()
    };
    data.extend(content.data.into_iter().map(|(k, v)| (k, ByteString(v))));
    secret.data = Some(data);
    secret.string_data = None;
    if let Some(t) = content.type_.filter(|t| !t.is_empty()) {
        secret.type_ = Some(t);
    }
}

fn apply_ownership(es: &ExternalSecret, secret: &mut Secret) -> Result<(), TargetError> {
    let es_uid = es.metadata.uid.clone().unwrap_or_default();
    let refs = secret
        .metadata
        .owner_references
        .get_or_insert_with(Default::default);
    if let Some(controller) = refs
        .iter()
        .find(|r| r.controller == Some(true) && r.uid != es_uid)
    {
        if controller.kind == "ExternalSecret" {
            return Err(TargetError::OwnedByOtherExternalSecret(
                controller.name.clone(),
            ));
        }
        if es.spec.target.creation_policy == CreationPolicy::Owner {
            return Err(TargetError::ControlledByOther(
                controller.kind.clone(),
                controller.name.clone(),
            ));
        }
    }
    refs.retain(|r| r.uid != es_uid);
    let namespace = es.metadata.namespace.as_deref().unwrap_or_default();
    let name = es.metadata.name.as_deref().unwrap_or_default();
    let labels = secret.metadata.labels.get_or_insert_with(Default::default);
    if es.spec.target.creation_policy == CreationPolicy::Owner {
        refs.push(OwnerReference {
            api_version: ExternalSecret::api_version(&()).into_owned(),
            kind: ExternalSecret::kind(&()).into_owned(),
            name: name.to_owned(),
            uid: es_uid,
            controller: Some(true),
            block_owner_deletion: Some(true),
        });
        labels.insert(
            LABEL_CREATED_BY.to_owned(),
            esox_core::hash::created_by_hash(namespace, name),
        );
    } else {
        labels.remove(LABEL_CREATED_BY);
    }
    if refs.is_empty() {
        secret.metadata.owner_references = None;
    }
    Ok(())
}

/// The Secret's data as plain bytes.
pub fn plain_data(secret: &Secret) -> SecretData {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

/// Whether two Secrets are equal in everything esox writes (ignores server-set metadata).
pub fn same_content(a: &Secret, b: &Secret) -> bool {
    let norm = |m: &Option<BTreeMap<String, String>>| m.clone().unwrap_or_default();
    a.data.clone().unwrap_or_default() == b.data.clone().unwrap_or_default()
        && a.type_.as_deref().unwrap_or("Opaque") == b.type_.as_deref().unwrap_or("Opaque")
        && norm(&a.metadata.labels) == norm(&b.metadata.labels)
        && norm(&a.metadata.annotations) == norm(&b.metadata.annotations)
        && a.metadata.owner_references.clone().unwrap_or_default()
            == b.metadata.owner_references.clone().unwrap_or_default()
        && a.metadata.finalizers.clone().unwrap_or_default()
            == b.metadata.finalizers.clone().unwrap_or_default()
        && a.immutable.unwrap_or(false) == b.immutable.unwrap_or(false)
}

/// Content without a template: the fetched data, and the ExternalSecret's own labels and
/// annotations (as ESO copies them when there is no template).
pub fn untemplated(es: &ExternalSecret, data: SecretData) -> Content {
    let skip = |k: &String| k.starts_with("kubectl.kubernetes.io/");
    Content {
        data,
        type_: None,
        labels: es.metadata.labels.clone().unwrap_or_default(),
        annotations: es
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !skip(k))
            .collect(),
        finalizers: Vec::new(),
    }
}
