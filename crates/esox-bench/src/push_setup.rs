//! Objects of the PushSecret benchmark, as the seed's cross-cluster scenario sets them up: on the
//! "dev" cluster a ServiceAccount, a Role, a RoleBinding and a service-account token Secret; on
//! the "platform" cluster a copy of that token, a SecretStore per namespace pointing at dev, the
//! source Secrets and their PushSecrets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use esox_api::v1::SecretStore;
use esox_api::v1alpha1::PushSecret;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::{Api, Client};
use serde_json::json;

use crate::setup::{self, b64, create, create_many, namespace_of};

/// Namespaces of the platform cluster holding the sources, stores and PushSecrets.
pub const PUSH_PREFIX: &str = "bench-push";
/// The dev namespace the remote copies land in (the seed's `foo`).
pub const REMOTE_NAMESPACE: &str = "bench-remote";
/// The dev namespace of the direct baseline, with the same RBAC for the same ServiceAccount.
pub const DIRECT_NAMESPACE: &str = "bench-direct";
pub const SERVICE_ACCOUNT: &str = "eso-service-account";
pub const TOKEN_SECRET: &str = "eso-token";
pub const STORE: &str = "dev-store";
/// Remote copies are named `{REMOTE_PREFIX}{i}`.
pub const REMOTE_PREFIX: &str = "pushed-";

/// The seed's Role rules and RoleBinding for the ServiceAccount, in `namespace` of dev.
async fn grant(dev: &Client, namespace: &str) -> anyhow::Result<()> {
    create(
        &Api::<Role>::namespaced(dev.clone(), namespace),
        json!({"metadata": {"name": "eso-role"},
               "rules": [
                   {"apiGroups": [""], "resources": ["secrets"],
                    "verbs": ["get", "list", "watch", "create", "update", "delete", "patch"]},
                   {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectrulesreviews"],
                    "verbs": ["create"]}]}),
    )
    .await?;
    create(
        &Api::<RoleBinding>::namespaced(dev.clone(), namespace),
        json!({"metadata": {"name": "eso-role-binding"},
               "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": REMOTE_NAMESPACE}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "eso-role"}}),
    )
    .await?;
    Ok(())
}

/// Sets up dev as the seed's manifest 3 does and returns the filled token Secret's `token` and
/// `ca.crt`, waiting (setup only) for the cluster's token controller to fill it.
pub async fn dev(dev: &Client) -> anyhow::Result<BTreeMap<String, ByteString>> {
    setup::namespace(dev, REMOTE_NAMESPACE).await?;
    setup::namespace(dev, DIRECT_NAMESPACE).await?;
    create(
        &Api::<ServiceAccount>::namespaced(dev.clone(), REMOTE_NAMESPACE),
        json!({"metadata": {"name": SERVICE_ACCOUNT}}),
    )
    .await?;
    grant(dev, REMOTE_NAMESPACE).await?;
    grant(dev, DIRECT_NAMESPACE).await?;
    let secrets = Api::<Secret>::namespaced(dev.clone(), REMOTE_NAMESPACE);
    create(
        &secrets,
        json!({"metadata": {"name": TOKEN_SECRET,
                            "annotations": {"kubernetes.io/service-account.name": SERVICE_ACCOUNT}},
               "type": "kubernetes.io/service-account-token"}),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let data = secrets.get(TOKEN_SECRET).await?.data.unwrap_or_default();
        let wanted: BTreeMap<String, ByteString> = data
            .into_iter()
            .filter(|(k, _)| k == "token" || k == "ca.crt")
            .collect();
        if wanted.len() == 2 {
            return Ok(wanted);
        }
        if Instant::now() > deadline {
            bail!(
                "the dev cluster never filled {REMOTE_NAMESPACE}/{TOKEN_SECRET} with token and ca.crt"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The token as text, for a client that authenticates as the ServiceAccount.
pub fn token_text(token: &BTreeMap<String, ByteString>) -> anyhow::Result<String> {
    let raw = token
        .get("token")
        .context("the token Secret has no `token`")?;
    String::from_utf8(raw.0.clone()).context("the ServiceAccount token is not UTF-8")
}

/// In each platform namespace: the copied token as an Opaque Secret and a SecretStore pushing
/// to dev's remote namespace (the seed's manifest 4, with `dev_url` filled in).
pub async fn platform_stores(
    platform: &Client,
    namespaces: usize,
    concurrency: usize,
    token: &BTreeMap<String, ByteString>,
    dev_url: &str,
) -> anyhow::Result<()> {
    setup::namespaces(platform, PUSH_PREFIX, namespaces, concurrency).await?;
    create_many::<Secret>(platform, namespaces, concurrency, |i| {
        (
            namespace_of(PUSH_PREFIX, i, namespaces),
            json!({"metadata": {"name": TOKEN_SECRET}, "type": "Opaque", "data": token}),
        )
    })
    .await?;
    create_many::<SecretStore>(platform, namespaces, concurrency, |i| {
        (
            namespace_of(PUSH_PREFIX, i, namespaces),
            json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
                   "metadata": {"name": STORE},
                   "spec": {"provider": {"kubernetes": {
                       "remoteNamespace": REMOTE_NAMESPACE,
                       "server": {"url": dev_url,
                                  "caProvider": {"type": "Secret", "name": TOKEN_SECRET, "key": "ca.crt"}},
                       "auth": {"token": {"bearerToken": {"name": TOKEN_SECRET, "key": "token"}}}}}}}),
        )
    })
    .await?;
    Ok(())
}

/// Polls (setup only) until every SecretStore is Ready: esox's controllers are running.
pub async fn wait_stores_ready(
    platform: &Client,
    namespaces: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    for i in 0..namespaces {
        let api = Api::<SecretStore>::namespaced(
            platform.clone(),
            &namespace_of(PUSH_PREFIX, i, namespaces),
        );
        setup::wait_ready(&api, STORE, timeout).await?;
    }
    Ok(())
}

/// The data of the i-th source (and so of its remote copy).
pub fn source_data(i: usize, password: &str) -> serde_json::Value {
    json!({"username": b64(&format!("user-{i}")), setup::CHANGING_KEY: b64(password)})
}

pub fn source_name(i: usize) -> String {
    format!("source-{i}")
}

/// `count` source Secrets `source-{i}`, each holding its own username.
pub async fn sources(
    platform: &Client,
    namespaces: usize,
    count: usize,
    concurrency: usize,
    password: &str,
) -> anyhow::Result<Duration> {
    create_many::<Secret>(platform, count, concurrency, |i| {
        (
            namespace_of(PUSH_PREFIX, i, namespaces),
            json!({"metadata": {"name": source_name(i)}, "data": source_data(i, password)}),
        )
    })
    .await
}

/// `count` PushSecrets, the i-th pushing the whole of `source-{i}` to `pushed-{i}` on dev, with
/// the seed's policies.
pub async fn push_secrets(
    platform: &Client,
    namespaces: usize,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    push_secrets_named(platform, namespaces, "", count, concurrency).await
}

/// [`push_secrets`] with `prefix` before the PushSecret names (`{prefix}push-{i}`) and the
/// remote keys (`{prefix}pushed-{i}`).
pub async fn push_secrets_named(
    platform: &Client,
    namespaces: usize,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    create_many::<PushSecret>(platform, count, concurrency, |i| {
        (
            namespace_of(PUSH_PREFIX, i, namespaces),
            json!({"apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret",
                   "metadata": {"name": format!("{prefix}push-{i}")},
                   "spec": {"updatePolicy": "Replace", "deletionPolicy": "None",
                            "refreshInterval": "1h",
                            "secretStoreRefs": [{"name": STORE, "kind": "SecretStore"}],
                            "selector": {"secret": {"name": source_name(i)}},
                            "data": [{"match": {"remoteRef": {"remoteKey": format!("{prefix}{REMOTE_PREFIX}{i}")}}}]}}),
        )
    })
    .await
}

/// The floor (a''): the requests an ESO-compatible push of `{prefix}push-{i}` cannot avoid,
/// sent straight from the benchmark with `concurrency` PushSecrets in flight and no reads:
/// the remote Secret's create on dev (by the same ServiceAccount token as esox), then on
/// platform the PushSecret's status merge patch and the `Synced` Event. With
/// `deletionPolicy: None` ESO adds no finalizer, and creating a remote Secret that does not
/// exist needs no GET (ESO's own provider sends one first; the result is the same without it).
pub async fn eso_push_writes(
    platform: &Client,
    dev_as_sa: &Client,
    namespaces: usize,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    use futures::{StreamExt as _, TryStreamExt as _};
    use k8s_openapi::api::events::v1::Event;
    use kube::api::{Patch, PatchParams};
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let ns = namespace_of(PUSH_PREFIX, i, namespaces);
            let name = format!("{prefix}push-{i}");
            let remote = format!("{prefix}{REMOTE_PREFIX}{i}");
            let (platform, dev) = (platform.clone(), dev_as_sa.clone());
            async move {
                create(
                    &Api::<Secret>::namespaced(dev, REMOTE_NAMESPACE),
                    json!({"metadata": {"name": remote}, "type": "Opaque",
                           "data": source_data(i, "initial")}),
                )
                .await?;
                let now = jiff::Timestamp::now().to_string();
                let status = json!({"status": {
                    "conditions": [{"type": "Ready", "status": "True", "reason": "Synced",
                                    "message": "PushSecret synced successfully",
                                    "lastTransitionTime": now}],
                    "refreshTime": now, "syncedResourceVersion": format!("1-{i:056x}"),
                    "syncedPushSecrets": {format!("SecretStore/{STORE}"): {remote.clone(): {
                        "match": {"remoteRef": {"remoteKey": remote}},
                        "conversionStrategy": "None"}}}}});
                Api::<PushSecret>::namespaced(platform.clone(), &ns)
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                    .await
                    .context("patching a floor PushSecret's status")?;
                create(
                    &Api::<Event>::namespaced(platform, &ns),
                    json!({"metadata": {"name": format!("{name}.synced")},
                           "eventTime": jiff::Timestamp::now().to_string(),
                           "reason": "Synced", "note": "PushSecret synced successfully",
                           "type": "Normal", "action": "Reconcile",
                           "reportingController": "pushsecret", "reportingInstance": "pushsecret",
                           "regarding": {"apiVersion": "external-secrets.io/v1alpha1",
                                         "kind": "PushSecret", "namespace": ns, "name": name}}),
                )
                .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await?;
    Ok(started.elapsed())
}

/// The direct baseline: `count` Secrets with the data of the remote copies, written to dev by
/// the same ServiceAccount (so through the same authentication and RBAC) as esox.
pub async fn direct(
    dev_as_sa: &Client,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    create_many::<Secret>(dev_as_sa, count, concurrency, |i| {
        (
            DIRECT_NAMESPACE.to_owned(),
            json!({"metadata": {"name": format!("direct-{i}")}, "data": source_data(i, "initial")}),
        )
    })
    .await
}
