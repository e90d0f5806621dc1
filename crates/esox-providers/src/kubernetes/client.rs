//! The Kubernetes provider's client: API calls around esox-core's read and write semantics
//! (`esox_core::property`, `esox_core::push_merge`), as ESO's `providers/v1/kubernetes/client.go`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use esox_api::labels::ANNOTATION_PUSHED_BY;
use esox_api::v1::{ExternalSecretFind, MetadataPolicy, RemoteRef, StoreKind};
use esox_core::property::{self, SecretView};
use esox_core::push_merge::{self, DeletePlan, PushAction, PushMatch, SecretParts};
use esox_core::{SecretData, StringMap};
use futures::stream::BoxStream;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams, Preconditions};

use super::connect::Connection;
use super::connection_cache::{ConnectionCache, ConnectionKey};
use crate::kube_errors as errors;
use crate::metrics::{
    CALL_CREATE_SECRET, CALL_DELETE_SECRET, CALL_GET_SECRET, CALL_LIST_SECRETS, CALL_UPDATE_SECRET,
    PROVIDER_KUBERNETES,
};
use crate::{
    ClientContext, LocalSecret, ProviderError, PushEntry, RemoteEvent, SecretsClient,
    ValidationResult,
};

/// Page size when listing Secrets for `find`.
const LIST_PAGE: u32 = 500;

/// The part of the client that talks to the remote server.
pub(crate) struct Remote {
    pub client: kube::Client,
    pub connection: Connection,
    /// Where `connection` is cached, to drop it when the server rejects a call.
    pub connection_key: Option<ConnectionKey>,
    pub connections: std::sync::Arc<ConnectionCache>,
}

/// A client of one Kubernetes store.
pub struct KubernetesClient {
    /// `None` for a ClusterSecretStore with referent auth checked without a namespace:
    /// there are no credentials to use until an object in a namespace uses the store.
    pub(crate) remote: Option<Remote>,
    pub(crate) remote_namespace: String,
    pub(crate) store_kind: StoreKind,
    pub(crate) referent: bool,
    /// The runtime's shared parts: the token cache (to evict a refused token) and the API-call
    /// hook.
    pub(crate) ctx: ClientContext,
}

impl std::fmt::Debug for KubernetesClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesClient")
            .field(
                "server",
                &self.remote.as_ref().map(|r| &r.connection.server),
            )
            .field("remote_namespace", &self.remote_namespace)
            .field("store_kind", &self.store_kind)
            .field("referent", &self.referent)
            .finish()
    }
}

fn parts_of(secret: &Secret) -> SecretParts {
    SecretParts {
        data: data_of(secret),
        type_: secret.type_.clone().unwrap_or_default(),
        labels: secret.metadata.labels.clone().unwrap_or_default(),
        annotations: secret.metadata.annotations.clone().unwrap_or_default(),
    }
}

fn data_of(secret: &Secret) -> SecretData {
    secret
        .data
        .as_ref()
        .map(|d| d.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
        .unwrap_or_default()
}

fn api_data(data: &SecretData) -> BTreeMap<String, ByteString> {
    data.iter()
        .map(|(k, v)| (k.clone(), ByteString(v.clone())))
        .collect()
}

fn non_empty(map: &StringMap) -> Option<StringMap> {
    (!map.is_empty()).then(|| map.clone())
}

/// Copies the planned parts onto a Secret object.
fn apply_parts(secret: &mut Secret, parts: &SecretParts) {
    secret.data = Some(api_data(&parts.data));
    secret.type_ = (!parts.type_.is_empty()).then(|| parts.type_.clone());
    secret.metadata.labels = non_empty(&parts.labels);
    secret.metadata.annotations = non_empty(&parts.annotations);
}

/// Label selector for `find.tags`; refuses what would change the selector's meaning.
fn tags_selector(tags: &BTreeMap<String, String>) -> Result<String, ProviderError> {
    let key_ok = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    };
    let value_ok = |v: &str| {
        v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let mut parts = Vec::with_capacity(tags.len());
    for (k, v) in tags {
        if !key_ok(k) || !value_ok(v) {
            return Err(ProviderError::InvalidConfig(format!(
                "unable to validate selector tags: find.tags {k:?} is not a valid label selector term (keys and values may use letters, digits, '-', '_' and '.', keys also '/')"
            )));
        }
        parts.push(format!("{k}={v}"));
    }
    Ok(parts.join(","))
}

impl KubernetesClient {
    /// Reports a call to the metrics hook and passes its result on.
    pub(crate) fn observed<T>(
        &self,
        call: &'static str,
        result: Result<T, kube::Error>,
    ) -> Result<T, kube::Error> {
        self.ctx
            .calls()
            .observe(PROVIDER_KUBERNETES, call, result.is_ok());
        result
    }

    fn remote(&self) -> Result<&Remote, ProviderError> {
        self.remote.as_ref().ok_or_else(|| {
            ProviderError::InvalidConfig(
                "this ClusterSecretStore uses referent auth (credential selectors without namespace), so it can only be used from an object in a namespace".into(),
            )
        })
    }

    fn secrets(&self, namespace: &str) -> Result<(Api<Secret>, &Remote), ProviderError> {
        let remote = self.remote()?;
        Ok((Api::namespaced(remote.client.clone(), namespace), remote))
    }

    /// Maps an error of the remote server, forgetting a ServiceAccount token it rejected.
    pub(crate) fn remote_error(&self, err: kube::Error, what: &str) -> ProviderError {
        // The token, CA or kubeconfig may have changed since the connection was resolved.
        if let Some(remote) = &self.remote
            && let Some(key) = &remote.connection_key
        {
            remote.connections.forget(key);
        }
        if errors::is_unauthorized(&err)
            && let Some(key) = self
                .remote
                .as_ref()
                .and_then(|r| r.connection.token_key.as_ref())
        {
            self.ctx.tokens().evict(key);
        }
        let connection = self.remote.as_ref().map(|r| &r.connection);
        let server = connection.map_or("the remote server", |c| c.server.as_str());
        errors::credentials_error(err, server, connection.map(|c| c.identity.as_str()), what)
    }

    async fn get_opt(&self, namespace: &str, name: &str) -> Result<Option<Secret>, ProviderError> {
        let (api, _) = self.secrets(namespace)?;
        match self.observed(CALL_GET_SECRET, api.get(name).await) {
            Ok(s) => Ok(Some(s)),
            Err(e) if errors::is_not_found(&e) => Ok(None),
            Err(e) => Err(self.remote_error(e, &format!("cannot get secret {namespace}/{name}"))),
        }
    }

    async fn list(&self, selector: Option<&str>) -> Result<Vec<Secret>, ProviderError> {
        let ns = &self.remote_namespace;
        let (api, _) = self.secrets(ns)?;
        let mut params = ListParams::default().limit(LIST_PAGE);
        if let Some(sel) = selector {
            params = params.labels(sel);
        }
        let mut out = Vec::new();
        loop {
            let page = self
                .observed(CALL_LIST_SECRETS, api.list(&params).await)
                .map_err(|e| {
                    self.remote_error(e, &format!("unable to list secrets in namespace {ns}"))
                })?;
            let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
            out.extend(page.items);
            match next {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(out),
            }
        }
    }

    async fn get_required(&self, key: &str) -> Result<Secret, ProviderError> {
        let ns = &self.remote_namespace;
        let (api, _) = self.secrets(ns)?;
        self.observed(CALL_GET_SECRET, api.get(key).await)
            .map_err(|e| self.remote_error(e, &format!("cannot get secret {ns}/{key}")))
    }
}

impl KubernetesClient {
    /// The namespace an entry writes to: its metadata's `remoteNamespace` (ClusterSecretStore
    /// only) or the store's. Pushes, existence checks and deletes all use it (ESO's
    /// `DeleteSecret` and `SecretExists` use the store's even when the push went elsewhere).
    fn target_namespace(
        &self,
        meta: Option<&push_merge::PushSecretMetadata>,
    ) -> Result<String, ProviderError> {
        push_merge::target_namespace(
            &self.remote_namespace,
            self.store_kind == StoreKind::ClusterSecretStore,
            meta,
        )
        .map_err(push_error)
    }

    /// The create-first half of `push_secret` for a remote Secret that most likely does not
    /// exist: the Secret ESO would create after a GET answering NotFound. `Ok(false)` when the
    /// server refuses the create because the Secret exists (409) or because creating is not
    /// allowed (403, where ESO's GET and update may still be), so that the caller takes ESO's
    /// path; any other error is the one ESO's create would have given.
    async fn create_if_absent(
        &self,
        namespace: &str,
        name: &str,
        local: &SecretParts,
        matcher: PushMatch<'_>,
        meta: Option<&push_merge::PushSecretMetadata>,
        owner: Option<&str>,
    ) -> Result<bool, ProviderError> {
        let plan = push_merge::plan_push(local, None, matcher, meta).map_err(push_error)?;
        let (api, _) = self.secrets(namespace)?;
        let fresh = new_secret(namespace, name, &plan.desired, owner);
        match self.observed(
            CALL_CREATE_SECRET,
            api.create(&PostParams::default(), &fresh).await,
        ) {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 403 => {
                tracing::debug!(namespace = %namespace, secret = %name, code = s.code, "create-first refused; reading the remote secret");
                Ok(false)
            }
            Err(e) => {
                Err(self.remote_error(e, &format!("cannot create secret {namespace}/{name}")))
            }
        }
    }
}

/// A new Secret `namespace/name` carrying `parts`, marked as created for `owner`.
fn new_secret(namespace: &str, name: &str, parts: &SecretParts, owner: Option<&str>) -> Secret {
    let mut fresh = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    apply_parts(&mut fresh, parts);
    if let Some(owner) = owner {
        fresh
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANNOTATION_PUSHED_BY.to_owned(), owner.to_owned());
    }
    fresh
}

/// Whether `secret` carries the mark of a Secret created for `owner`.
fn created_for(secret: &Secret, owner: Option<&str>) -> bool {
    let mark = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_PUSHED_BY));
    matches!((mark, owner), (Some(m), Some(o)) if m == o)
}

fn fetch_metadata(r: &RemoteRef) -> bool {
    r.metadata_policy == Some(MetadataPolicy::Fetch)
}

/// Runs `f` on the read-only view esox-core expects.
fn with_view<T>(secret: &Secret, f: impl FnOnce(SecretView<'_>) -> T) -> T {
    let data = data_of(secret);
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    let annotations = secret.metadata.annotations.clone().unwrap_or_default();
    let name = secret.metadata.name.clone().unwrap_or_default();
    f(SecretView {
        name: &name,
        data: &data,
        labels: &labels,
        annotations: &annotations,
    })
}

fn push_error(e: push_merge::PushError) -> ProviderError {
    match e {
        push_merge::PushError::SecretKeyMissing(_) => ProviderError::Other(e.to_string()),
        other => ProviderError::InvalidConfig(other.to_string()),
    }
}

#[async_trait]
impl SecretsClient for KubernetesClient {
    async fn get_secret(&self, r: &RemoteRef) -> Result<Vec<u8>, ProviderError> {
        // NotFound stays a plain error here (not NoSecret), as in ESO: deletionPolicy does not
        // apply to data[] entries of this provider.
        let secret = self.get_required(&r.key).await?;
        with_view(&secret, |v| {
            property::get_secret_value(v, r.property.as_deref(), fetch_metadata(r))
        })
        .map_err(|e| ProviderError::Other(e.to_string()))
    }

    async fn get_secret_map(&self, r: &RemoteRef) -> Result<SecretData, ProviderError> {
        let ns = &self.remote_namespace;
        let Some(secret) = self.get_opt(ns, &r.key).await? else {
            return Err(ProviderError::NoSecret(format!(
                "Secret does not exist: secret {ns}/{} not found",
                r.key
            )));
        };
        with_view(&secret, |v| {
            property::get_secret_map(v, r.property.as_deref(), fetch_metadata(r))
        })
        .map_err(|e| ProviderError::Other(e.to_string()))
    }

    async fn get_all_secrets(
        &self,
        find: &ExternalSecretFind,
    ) -> Result<SecretData, ProviderError> {
        let conversion = crate::convert::conversion(find.conversion_strategy);
        let to_error = |e: property::PropertyError| match e {
            property::PropertyError::FindRegexp(_) => ProviderError::InvalidConfig(e.to_string()),
            other => ProviderError::Other(other.to_string()),
        };
        if !find.tags.is_empty() {
            let selector = tags_selector(&find.tags)?;
            let secrets = self.list(Some(&selector)).await?;
            let items: Vec<(String, SecretData)> = secrets
                .iter()
                .map(|s| (s.metadata.name.clone().unwrap_or_default(), data_of(s)))
                .collect();
            return property::find_result(items.iter().map(|(n, d)| (n.as_str(), d)), conversion)
                .map_err(to_error);
        }
        if let Some(name) = &find.name {
            // Compile first so that a bad pattern fails before listing the namespace.
            esox_core::go_regex::compile(&name.regexp)
                .map_err(|e| to_error(property::PropertyError::FindRegexp(e)))?;
            let secrets = self.list(None).await?;
            let items: Vec<(String, SecretData)> = secrets
                .iter()
                .map(|s| (s.metadata.name.clone().unwrap_or_default(), data_of(s)))
                .collect();
            return property::find_by_name(
                &name.regexp,
                items.iter().map(|(n, d)| (n.as_str(), d)),
                conversion,
            )
            .map_err(to_error);
        }
        Err(ProviderError::InvalidConfig(
            "unexpected find operator: set find.name.regexp or find.tags (find.path is not used by the kubernetes provider)".into(),
        ))
    }

    async fn push_secret(
        &self,
        secret: &LocalSecret,
        entry: &PushEntry,
    ) -> Result<(), ProviderError> {
        let matcher = PushMatch {
            secret_key: entry.secret_key.as_deref(),
            property: entry.remote_ref.property.as_deref(),
        };
        if matcher.property.unwrap_or("").is_empty() && !matcher.secret_key.unwrap_or("").is_empty()
        {
            return Err(push_error(push_merge::PushError::PropertyRequired));
        }
        let meta = push_merge::parse_metadata(entry.metadata.as_ref()).map_err(push_error)?;
        let namespace = self.target_namespace(meta.as_ref())?;
        let name = &entry.remote_ref.remote_key;
        let mut local = SecretParts {
            data: secret.data.clone(),
            type_: secret.type_.clone(),
            labels: secret.labels.clone(),
            annotations: secret.annotations.clone(),
        };
        // A mark copied from the source Secret would claim a creation that never happened.
        local.annotations.remove(ANNOTATION_PUSHED_BY);
        let owner = entry.owner.as_deref();
        // A Secret esox never pushed is usually new: create it without ESO's GET first; a
        // refused create falls back to ESO's get-merge-update, so the outcome is the same.
        if entry.never_pushed
            && self
                .create_if_absent(&namespace, name, &local, matcher, meta.as_ref(), owner)
                .await?
        {
            return Ok(());
        }
        let existing = self.get_opt(&namespace, name).await?;
        let mut existing_parts = existing.as_ref().map(parts_of);
        // The mark is compared and merged apart from the pushed metadata, so that no merge
        // policy drops it and it alone never causes an update.
        let mark = existing_parts
            .as_mut()
            .and_then(|p| p.annotations.remove(ANNOTATION_PUSHED_BY));
        let mut plan =
            push_merge::plan_push(&local, existing_parts.as_ref(), matcher, meta.as_ref())
                .map_err(push_error)?;
        let (api, _) = self.secrets(&namespace)?;
        match (plan.action, existing) {
            (PushAction::Unchanged, _) => {
                tracing::debug!(namespace = %namespace, secret = %name, "remote secret already up to date");
                Ok(())
            }
            (PushAction::Update, Some(mut current)) => {
                if let Some(mark) = mark {
                    plan.desired
                        .annotations
                        .insert(ANNOTATION_PUSHED_BY.to_owned(), mark);
                }
                apply_parts(&mut current, &plan.desired);
                self.observed(
                    CALL_UPDATE_SECRET,
                    api.replace(name, &PostParams::default(), &current).await,
                )
                .map_err(|e| {
                    self.remote_error(e, &format!("cannot update secret {namespace}/{name}"))
                })?;
                Ok(())
            }
            (_, _) => {
                let fresh = new_secret(&namespace, name, &plan.desired, owner);
                self.observed(
                    CALL_CREATE_SECRET,
                    api.create(&PostParams::default(), &fresh).await,
                )
                .map_err(|e| {
                    self.remote_error(e, &format!("cannot create secret {namespace}/{name}"))
                })?;
                Ok(())
            }
        }
    }

    async fn delete_secret(&self, entry: &PushEntry) -> Result<(), ProviderError> {
        let meta = push_merge::parse_metadata(entry.metadata.as_ref()).map_err(push_error)?;
        let ns = self.target_namespace(meta.as_ref())?;
        let name = &entry.remote_ref.remote_key;
        let property = entry
            .remote_ref
            .property
            .as_deref()
            .filter(|p| !p.is_empty());
        let existing = self.get_opt(&ns, name).await?;
        let parts = existing.as_ref().map(parts_of);
        let owned = existing
            .as_ref()
            .is_some_and(|s| created_for(s, entry.owner.as_deref()));
        let (api, _) = self.secrets(&ns)?;
        let plan = match push_merge::plan_delete(parts.as_ref(), property) {
            // Beyond ESO: a Secret this PushSecret did not create is never deleted; of a
            // property push, only the pushed key is taken back.
            DeletePlan::DeleteSecret if !owned => match (property, parts) {
                (Some(p), Some(mut updated)) => {
                    updated.data.remove(p);
                    DeletePlan::RemoveKey(updated)
                }
                _ => {
                    tracing::info!(namespace = %ns, secret = %name, "remote secret left in place: it was not created by this PushSecret");
                    DeletePlan::Nothing
                }
            },
            other => other,
        };
        match plan {
            DeletePlan::Nothing => Ok(()),
            DeletePlan::RemoveKey(updated) => {
                let Some(mut current) = existing else {
                    return Ok(());
                };
                apply_parts(&mut current, &updated);
                self.observed(
                    CALL_UPDATE_SECRET,
                    api.replace(name, &PostParams::default(), &current).await,
                )
                .map_err(|e| self.remote_error(e, &format!("cannot update secret {ns}/{name}")))?;
                Ok(())
            }
            DeletePlan::DeleteSecret => {
                // The uid precondition: a Secret recreated by someone else since the read
                // is not ours either.
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: existing.and_then(|s| s.metadata.uid),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match self.observed(CALL_DELETE_SECRET, api.delete(name, &params).await) {
                    Ok(_) => Ok(()),
                    Err(e) if errors::is_not_found(&e) => Ok(()),
                    Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
                    Err(e) => {
                        Err(self.remote_error(e, &format!("cannot delete secret {ns}/{name}")))
                    }
                }
            }
        }
    }

    async fn secret_exists(&self, entry: &PushEntry) -> Result<bool, ProviderError> {
        let meta = push_merge::parse_metadata(entry.metadata.as_ref()).map_err(push_error)?;
        let ns = self.target_namespace(meta.as_ref())?;
        let r = &entry.remote_ref;
        let existing = self.get_opt(&ns, &r.remote_key).await?;
        let parts = existing.as_ref().map(parts_of);
        Ok(push_merge::secret_exists(
            parts.as_ref(),
            r.property.as_deref(),
        ))
    }

    async fn validate(&self) -> Result<ValidationResult, ProviderError> {
        super::validate::validate(self).await.map(|(r, _)| r)
    }

    async fn validate_with_reason(
        &self,
    ) -> Result<(ValidationResult, Option<String>), ProviderError> {
        super::validate::validate(self).await
    }

    fn watch(&self) -> Option<BoxStream<'static, RemoteEvent>> {
        let remote = self.remote.as_ref()?;
        super::watch::watch(&remote.connection, &self.remote_namespace)
    }

    fn watch_key(&self) -> Option<String> {
        let remote = self.remote.as_ref()?;
        Some(format!(
            "{}|{}|{}",
            remote.connection.server, self.remote_namespace, remote.connection.identity
        ))
    }

    fn read_share_key(&self) -> Option<String> {
        let remote = self.remote.as_ref()?;
        Some(format!(
            "{}|{}",
            self.watch_key()?,
            remote.connection.fingerprint()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_a_sorted_equality_selector() {
        let tags = BTreeMap::from([
            ("b".to_owned(), "2".to_owned()),
            ("app.kubernetes.io/name".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(
            tags_selector(&tags).expect("valid"),
            "app.kubernetes.io/name=x,b=2"
        );
        let bad = BTreeMap::from([("a".to_owned(), "x,b!=y".to_owned())]);
        assert!(tags_selector(&bad).is_err());
        let empty_value = BTreeMap::from([("a".to_owned(), String::new())]);
        assert_eq!(
            tags_selector(&empty_value).expect("empty value is valid"),
            "a="
        );
    }

    #[test]
    fn parts_round_trip_through_a_secret() {
        let parts = SecretParts {
            data: BTreeMap::from([("k".to_owned(), b"v".to_vec())]),
            type_: "kubernetes.io/tls".into(),
            labels: BTreeMap::from([("l".to_owned(), "1".to_owned())]),
            annotations: StringMap::new(),
        };
        let mut s = Secret::default();
        apply_parts(&mut s, &parts);
        assert_eq!(s.metadata.annotations, None);
        assert_eq!(parts_of(&s), parts);
    }
}
