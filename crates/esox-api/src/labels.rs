//! Labels, annotations, finalizers and field managers ESO writes; esox writes the same ones so
//! that it can take over objects ESO created without rewriting them.

/// Label put on every Secret an ExternalSecret manages.
pub const LABEL_MANAGED: &str = "reconcile.external-secrets.io/managed";
/// Value of [`LABEL_MANAGED`].
pub const LABEL_MANAGED_VALUE: &str = "true";
/// Label naming (by hash) the ExternalSecret that created a Secret with creationPolicy Owner.
pub const LABEL_CREATED_BY: &str = "reconcile.external-secrets.io/created-by";
/// Annotation holding the hash of the Secret's data as last written.
pub const ANNOTATION_DATA_HASH: &str = "reconcile.external-secrets.io/data-hash";
/// Annotation users change to force a refresh.
pub const ANNOTATION_FORCE_SYNC: &str = "external-secrets.io/force-sync";
/// Label ESO puts on its CRDs.
pub const LABEL_COMPONENT: &str = "external-secrets.io/component";

/// Annotation esox puts on a remote Secret it creates for a PushSecret (the Kubernetes
/// provider), holding `<namespace>/<name>` of that PushSecret. ESO marks nothing; esox deletes a
/// whole remote Secret only when it carries this mark, so a Secret that existed before the push
/// (or that another PushSecret created) is never removed.
pub const ANNOTATION_PUSHED_BY: &str = "pushsecret.external-secrets.io/created-by";

/// Finalizer of ExternalSecrets.
pub const FINALIZER_EXTERNAL_SECRET: &str =
    "externalsecrets.external-secrets.io/externalsecret-cleanup";
/// Finalizer of ClusterExternalSecrets.
pub const FINALIZER_CLUSTER_EXTERNAL_SECRET: &str =
    "externalsecrets.external-secrets.io/clusterexternalsecret-cleanup";
/// Prefix of the finalizer a ClusterExternalSecret puts on the namespaces it provisions.
pub const FINALIZER_CES_NAMESPACE_PREFIX: &str = "externalsecrets.external-secrets.io/ces-";
/// Finalizer of PushSecrets with deletionPolicy Delete.
pub const FINALIZER_PUSH_SECRET: &str = "pushsecret.externalsecrets.io/finalizer";
/// Finalizer of stores that PushSecrets with deletionPolicy Delete still need.
pub const FINALIZER_SECRET_STORE: &str = "secretstore.externalsecrets.io/finalizer";

/// Prefix of the field manager an ExternalSecret writes its Secret with.
pub const FIELD_MANAGER_PREFIX: &str = "externalsecrets.external-secrets.io";
