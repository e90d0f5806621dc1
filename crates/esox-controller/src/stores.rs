//! Finding the store an object uses, checking that it may use it, and building a client.

use esox_api::v1::Condition;
use esox_api::v1::{ClusterSecretStore, SecretStore, SecretStoreRef, SecretStoreSpec, StoreKind};
use esox_providers::{ProviderError, SecretsClient, StoreInfo};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

use crate::conditions;
use crate::context::Context;
use crate::error::Error;
use crate::index::StoreKey;
use crate::selector;

/// Why a store cannot be used by an object.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store has not been validated yet (esox just started, or the store is new). Not a
    /// failure: the store's first status change triggers the object again.
    #[error("{kind} {name:?} has not been validated yet")]
    Pending { kind: StoreKind, name: String },
    #[error("{kind} {name:?} is not ready: {message}")]
    NotReady {
        kind: StoreKind,
        name: String,
        message: String,
    },
    #[error("ClusterSecretStores are not processed: {why}; use a SecretStore in this namespace")]
    ClusterStoresOff { why: String },
    #[error(
        "could not get SecretStore {name:?}: it does not exist in namespace {namespace:?}; create it or fix the store reference"
    )]
    MissingSecretStore { name: String, namespace: String },
    #[error(
        "could not get ClusterSecretStore {name:?}: it does not exist; create it or fix the store reference"
    )]
    MissingClusterStore { name: String },
    #[error(
        "using cluster store {store:?} is not allowed from namespace {namespace:?}: denied by spec.conditions; add the namespace to the store's conditions"
    )]
    NamespaceDenied { store: String, namespace: String },
}

/// A store that this controller serves and the object may use.
#[derive(Clone, Debug)]
pub struct ResolvedStore {
    pub key: StoreKey,
    pub info: StoreInfo,
}

/// The store behind `store_ref` for an object in `namespace`. `Ok(None)` means the store belongs
/// to another controller class and the object must be left alone.
pub async fn resolve(
    ctx: &Context,
    store_ref: &SecretStoreRef,
    namespace: &str,
    flood_gate: bool,
) -> Result<Option<ResolvedStore>, Error> {
    let kind = store_ref.kind.unwrap_or_default();
    let name = store_ref.name.as_str();
    kind_served(ctx, kind)?;
    if name.is_empty() {
        return Err(Error::Invalid(
            "no store named: set spec.secretStoreRef.name (or a sourceRef.storeRef on every entry)"
                .into(),
        ));
    }
    let key = StoreKey {
        kind,
        namespace: if kind == StoreKind::SecretStore {
            namespace.to_owned()
        } else {
            String::new()
        },
        name: name.to_owned(),
    };
    // The watched copy serves every reconcile that goes ahead; a copy that would stop this one
    // (missing, or not ready under the flood gate) may just trail the API server, so the
    // server decides.
    let usable = |conds: &[Condition]| {
        !(flood_gate && ctx.options.flood_gate) || conditions::is_ready(conds)
    };
    let cached = match kind {
        StoreKind::SecretStore => ctx.caches.secret_store(namespace, name).map(|s| {
            let conds = s
                .status
                .as_ref()
                .map(|st| st.conditions.clone())
                .unwrap_or_default();
            (s.spec.clone(), conds)
        }),
        StoreKind::ClusterSecretStore => ctx.caches.cluster_store(name).map(|s| {
            let conds = s
                .status
                .as_ref()
                .map(|st| st.conditions.clone())
                .unwrap_or_default();
            (s.spec.store.clone(), conds)
        }),
    };
    let (spec, status_conditions) = match cached {
        Some((spec, conds)) if usable(&conds) => (spec, conds),
        _ => read_store(ctx, kind, namespace, name).await?,
    };
    if !manages(ctx, &spec) {
        return Ok(None);
    }
    if kind == StoreKind::ClusterSecretStore && !spec.conditions.is_empty() {
        check_namespace_conditions(ctx, &spec, name, namespace).await?;
    }
    if flood_gate && ctx.options.flood_gate && !conditions::is_ready(&status_conditions) {
        return Err(match status_conditions
            .iter()
            .find(|c| c.type_ == conditions::READY)
        {
            Some(c) => StoreError::NotReady {
                kind,
                name: name.to_owned(),
                message: c.message.clone().unwrap_or_default(),
            },
            None => StoreError::Pending {
                kind,
                name: name.to_owned(),
            },
        }
        .into());
    }
    let info = StoreInfo {
        kind,
        name: name.to_owned(),
        namespace: (kind == StoreKind::SecretStore).then(|| namespace.to_owned()),
        spec,
    };
    Ok(Some(ResolvedStore { key, info }))
}

/// Refuses ClusterSecretStores when their processing is off (ESO's
/// `--enable-cluster-store-reconciler=false`, and always in namespace-scoped mode): esox then has
/// no permission to read them, and the object's status must say why instead of a bare 403.
pub fn kind_served(ctx: &Context, kind: StoreKind) -> Result<(), Error> {
    if kind == StoreKind::ClusterSecretStore && !ctx.options.cluster_stores {
        let why = match &ctx.options.namespace {
            Some(ns) => format!("esox serves only namespace {ns:?} (--namespace)"),
            None => "esox runs with --enable-cluster-store-reconciler=false".to_owned(),
        };
        return Err(StoreError::ClusterStoresOff { why }.into());
    }
    Ok(())
}

/// The store as the API server has it now: spec and status conditions.
async fn read_store(
    ctx: &Context,
    kind: StoreKind,
    namespace: &str,
    name: &str,
) -> Result<(SecretStoreSpec, Vec<Condition>), Error> {
    match kind {
        StoreKind::SecretStore => {
            let api: Api<SecretStore> = Api::namespaced(ctx.client.clone(), namespace);
            let store = api
                .get_opt(name)
                .await?
                .ok_or_else(|| StoreError::MissingSecretStore {
                    name: name.to_owned(),
                    namespace: namespace.to_owned(),
                })?;
            Ok((
                store.spec,
                store.status.map(|s| s.conditions).unwrap_or_default(),
            ))
        }
        StoreKind::ClusterSecretStore => {
            let api: Api<ClusterSecretStore> = Api::all(ctx.client.clone());
            let store =
                api.get_opt(name)
                    .await?
                    .ok_or_else(|| StoreError::MissingClusterStore {
                        name: name.to_owned(),
                    })?;
            Ok((
                store.spec.store,
                store.status.map(|s| s.conditions).unwrap_or_default(),
            ))
        }
    }
}

/// Whether this controller serves stores of that class.
pub fn manages(ctx: &Context, spec: &SecretStoreSpec) -> bool {
    spec.controller.is_empty() || spec.controller == ctx.options.controller_class
}

async fn check_namespace_conditions(
    ctx: &Context,
    spec: &SecretStoreSpec,
    store: &str,
    namespace: &str,
) -> Result<(), Error> {
    // Allowed by the watched labels: go ahead. Refused: the labels may just have changed, so
    // the API server's copy decides.
    if let Some(ns) = ctx.caches.namespace(namespace) {
        let labels = ns.metadata.labels.clone().unwrap_or_default();
        if namespace_allowed(spec, store, namespace, &labels)? {
            return Ok(());
        }
    }
    let ns = Api::<Namespace>::all(ctx.client.clone())
        .get_metadata(namespace)
        .await?;
    let labels = ns.metadata.labels.unwrap_or_default();
    if namespace_allowed(spec, store, namespace, &labels)? {
        return Ok(());
    }
    Err(StoreError::NamespaceDenied {
        store: store.to_owned(),
        namespace: namespace.to_owned(),
    }
    .into())
}

/// ESO's `shouldProcessSecret`: the conditions are ORed.
fn namespace_allowed(
    spec: &SecretStoreSpec,
    store: &str,
    namespace: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<bool, Error> {
    for cond in &spec.conditions {
        if cond.namespaces.iter().any(|n| n == namespace) {
            return Ok(true);
        }
        if cond
            .namespace_selector
            .as_ref()
            .is_some_and(|s| selector::matches(s, labels))
        {
            return Ok(true);
        }
        for pattern in &cond.namespace_regexes {
            let re = esox_core::go_regex::compile(pattern).map_err(|e| {
                Error::Invalid(format!(
                    "ClusterSecretStore {store:?}: spec.conditions namespaceRegexes {pattern:?} is not a valid regular expression: {e}"
                ))
            })?;
            if re.is_match(namespace) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// A provider client for `store`, used from `namespace` (`None` when validating the store itself).
pub async fn client(
    ctx: &Context,
    store: &ResolvedStore,
    namespace: Option<&str>,
) -> Result<Box<dyn SecretsClient>, ProviderError> {
    let provider = ctx.providers.provider_for(&store.info.spec)?;
    let cctx = ctx.providers.context(namespace);
    provider.new_client(&store.info, &cctx).await
}
