//! Objects the benchmarks create: CRDs, the source namespace with its Secret and reader
//! ServiceAccount, the ClusterSecretStore, namespaces, unrelated Secrets, ExternalSecrets; and
//! the generic helpers the PushSecret benchmark's setup uses too.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use esox_api::v1::{ClusterSecretStore, ExternalSecret};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::ready::Ready;

pub const SOURCE_NAMESPACE: &str = "bench-source";
pub const SOURCE_SECRET: &str = "shared-credentials";
pub const STORE: &str = "bench-store";
pub const READER_NAMESPACE: &str = "bench-esox";
pub const READER: &str = "source-reader";
/// The data key whose value the latency rounds change.
pub const CHANGING_KEY: &str = "password";

pub async fn create<K>(api: &Api<K>, obj: Value) -> anyhow::Result<K>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let typed: K = serde_json::from_value(obj).context("benchmark object does not parse")?;
    api.create(&PostParams::default(), &typed)
        .await
        .context("creating a benchmark object")
}

/// [`create`], where an object of that name existing already (left by an earlier run on a
/// cluster the benchmark did not start) counts as created.
pub async fn create_or_keep<K>(api: &Api<K>, obj: Value) -> anyhow::Result<()>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let typed: K = serde_json::from_value(obj).context("benchmark object does not parse")?;
    match api.create(&PostParams::default(), &typed).await {
        Ok(_) => Ok(()),
        Err(e) if already_exists(&e) => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("creating a benchmark object")),
    }
}

fn already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

pub async fn install_crds(client: &Client) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crds = esox_api::crd::all(&Default::default());
    for crd in &crds {
        // A real cluster may hold them from an earlier run: server-side apply makes them this
        // build's CRDs either way.
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply("esox-bench").force(),
            &Patch::Apply(crd),
        )
        .await
        .with_context(|| format!("installing the CRD {name}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        loop {
            let established = api
                .get(&name)
                .await?
                .status
                .and_then(|s| s.conditions)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                });
            if established {
                break;
            }
            if Instant::now() > deadline {
                bail!("CRD {name} never became Established");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// Creates a namespace, or keeps it if it exists (a real cluster may hold it from an earlier
/// run).
pub async fn namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    create_or_keep(
        &Api::<Namespace>::all(client.clone()),
        json!({"metadata": {"name": name}}),
    )
    .await
}

/// The scenario, as the seed manifests: a ClusterSecretStore with the kubernetes
/// provider, reading one source namespace with a ServiceAccount allowed to read Secrets there.
pub async fn source_and_store(client: &Client, password: &str) -> anyhow::Result<()> {
    namespace(client, SOURCE_NAMESPACE).await?;
    namespace(client, READER_NAMESPACE).await?;
    create_or_keep(
        &Api::<ServiceAccount>::namespaced(client.clone(), READER_NAMESPACE),
        json!({"metadata": {"name": READER}}),
    )
    .await?;
    create_or_keep(
        &Api::<Role>::namespaced(client.clone(), SOURCE_NAMESPACE),
        json!({"metadata": {"name": "read-secrets"},
               "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]}),
    )
    .await?;
    create_or_keep(
        &Api::<RoleBinding>::namespaced(client.clone(), SOURCE_NAMESPACE),
        json!({"metadata": {"name": "read-secrets"},
               "subjects": [{"kind": "ServiceAccount", "name": READER, "namespace": READER_NAMESPACE}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-secrets"}}),
    )
    .await?;
    create_or_keep(
        &Api::<Secret>::namespaced(client.clone(), SOURCE_NAMESPACE),
        json!({"metadata": {"name": SOURCE_SECRET},
               "stringData": {"username": "bench", CHANGING_KEY: password}}),
    )
    .await?;
    // An earlier run's latency rounds changed it.
    set_value(
        &Api::<Secret>::namespaced(client.clone(), SOURCE_NAMESPACE),
        SOURCE_SECRET,
        CHANGING_KEY,
        password,
    )
    .await?;
    create_or_keep(
        &Api::<ClusterSecretStore>::all(client.clone()),
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
               "metadata": {"name": STORE},
               "spec": {"provider": {"kubernetes": {
                   "remoteNamespace": SOURCE_NAMESPACE,
                   "server": {"caProvider": {"type": "ConfigMap", "name": "kube-root-ca.crt",
                                             "key": "ca.crt", "namespace": SOURCE_NAMESPACE}},
                   "auth": {"serviceAccount": {"name": READER, "namespace": READER_NAMESPACE}}}}}}),
    )
    .await?;
    Ok(())
}

pub const UNRELATED_PREFIX: &str = "bench-unrelated";
/// Namespaces of the unrelated Secrets added after all are Ready (so that a run on a shared
/// cluster can delete them again).
pub const EXTRA_PREFIX: &str = "bench-extra";
pub const UNRELATED_NAMESPACES: usize = 50;

pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

pub async fn unrelated_namespaces(
    client: &Client,
    prefix: &str,
    concurrency: usize,
) -> anyhow::Result<()> {
    namespaces(client, prefix, UNRELATED_NAMESPACES, concurrency).await
}

/// `count` unrelated Secrets `{name}-{i}` about the size of a typical application credential,
/// spread over the unrelated namespaces `{prefix}-*`. Those an earlier run left on a shared
/// cluster are kept.
pub async fn unrelated(
    client: &Client,
    concurrency: usize,
    prefix: &str,
    name: &str,
    count: usize,
) -> anyhow::Result<()> {
    let data = json!({"token": b64(&"x".repeat(256)), "user": b64("someone")});
    let took = create_many_with::<Secret>(client, count, concurrency, true, |i| {
        (
            namespace_of(prefix, i, UNRELATED_NAMESPACES),
            json!({"metadata": {"name": format!("{name}-{i}")}, "data": data}),
        )
    })
    .await?;
    tracing::info!(count, ?took, name, "unrelated Secrets created");
    Ok(())
}

/// Waits until esox has validated the store (proof that its controllers are running).
pub async fn wait_store_ready(client: &Client, timeout: Duration) -> anyhow::Result<()> {
    wait_ready(
        &Api::<ClusterSecretStore>::all(client.clone()),
        STORE,
        timeout,
    )
    .await
}

/// Polls (setup only, never while measuring) until the object is `Ready=True`.
pub async fn wait_ready<K>(api: &Api<K>, name: &str, timeout: Duration) -> anyhow::Result<()>
where
    K: Ready + Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        if api.get(name).await?.is_ready() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} {name} never became Ready within {timeout:?}",
                std::any::type_name::<K>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("object")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sets `key` of a Secret's data to `value` with a merge patch.
pub async fn set_value(
    api: &Api<Secret>,
    name: &str,
    key: &str,
    value: &str,
) -> anyhow::Result<()> {
    let patch = json!({"stringData": {key: value}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("changing the Secret {name}"))?;
    Ok(())
}

/// Creates `count` objects, `body(i)` giving the namespace and the object of the i-th, with
/// `concurrency` requests in flight; returns how long it took.
pub async fn create_many<K>(
    client: &Client,
    count: usize,
    concurrency: usize,
    body: impl Fn(usize) -> (String, Value),
) -> anyhow::Result<Duration>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    create_many_with::<K>(client, count, concurrency, false, body).await
}

/// [`create_many`]; with `existing_ok`, an object that exists already counts as created.
pub async fn create_many_with<K>(
    client: &Client,
    count: usize,
    concurrency: usize,
    existing_ok: bool,
    body: impl Fn(usize) -> (String, Value),
) -> anyhow::Result<Duration>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let (namespace, obj) = body(i);
            let api = Api::<K>::namespaced(client.clone(), &namespace);
            async move {
                if existing_ok {
                    create_or_keep(&api, obj).await
                } else {
                    create(&api, obj).await.map(drop)
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await?;
    Ok(started.elapsed())
}

pub fn namespace_of(prefix: &str, i: usize, namespaces: usize) -> String {
    format!("{prefix}-{}", i % namespaces.max(1))
}

pub async fn namespaces(
    client: &Client,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    futures::stream::iter(0..count)
        .map(|i| {
            let client = client.clone();
            async move { namespace(&client, &format!("{prefix}-{i}")).await }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await
}

/// `count` Secrets named `{name}-{i}` spread over the namespaces `{prefix}-*`; returns how
/// long the creation took.
pub async fn secrets(
    client: &Client,
    prefix: &str,
    namespaces: usize,
    name: &str,
    count: usize,
    concurrency: usize,
    data: &Value,
) -> anyhow::Result<Duration> {
    create_many::<Secret>(client, count, concurrency, |i| {
        (
            namespace_of(prefix, i, namespaces),
            json!({"metadata": {"name": format!("{name}-{i}")}, "data": data}),
        )
    })
    .await
}

/// The writes ESO's algorithm makes for one new ExternalSecret, sent directly by this client
/// for `count` ExternalSecrets named `{name}-{i}` (already created, never synced): the
/// finalizer merge patch, the target Secret create, the status patch (Ready, refreshTime,
/// syncedResourceVersion, binding) and the `Created` Event. No reads and no logic: the time
/// it takes is what any ESO-compatible controller needs at least on this server.
pub async fn eso_writes(
    client: &Client,
    prefix: &str,
    namespaces: usize,
    name: &str,
    count: usize,
    concurrency: usize,
    data: &Value,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| eso_writes_one(client, prefix, namespaces, name, i, data))
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await?;
    Ok(started.elapsed())
}

/// The writes ESO's algorithm makes for an ExternalSecret whose source changed, sent directly
/// for `count` ExternalSecrets `{name}-{i}` that [`eso_writes`] synced: the target update
/// (`value` under the changing key), the status patch (refreshTime, Ready) and the `Updated`
/// Event. The floor of (c) on this server.
pub async fn eso_change_writes(
    client: &Client,
    prefix: &str,
    namespaces: usize,
    name: &str,
    count: usize,
    concurrency: usize,
    value: &str,
) -> anyhow::Result<Duration> {
    use k8s_openapi::api::events::v1::Event;
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| async move {
            let ns = namespace_of(prefix, i, namespaces);
            let es_name = format!("{name}-{i}");
            let data = json!({"data": {CHANGING_KEY: b64(value)}});
            Api::<Secret>::namespaced(client.clone(), &ns)
                .patch(
                    &format!("{es_name}-target"),
                    &PatchParams::default(),
                    &Patch::Merge(&data),
                )
                .await?;
            let now = jiff::Timestamp::now().to_string();
            let status = json!({"status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced",
                                "message": "secret synced", "lastTransitionTime": now}],
                "refreshTime": now}});
            Api::<ExternalSecret>::namespaced(client.clone(), &ns)
                .patch_status(&es_name, &PatchParams::default(), &Patch::Merge(&status))
                .await?;
            create(
                &Api::<Event>::namespaced(client.clone(), &ns),
                json!({"metadata": {"name": format!("{es_name}.updated-{value}")},
                       "eventTime": now,
                       "reason": "Updated", "note": "secret updated", "type": "Normal",
                       "action": "Reconcile", "reportingController": "external-secrets",
                       "reportingInstance": "external-secrets",
                       "regarding": {"kind": "ExternalSecret", "namespace": ns, "name": es_name}}),
            )
            .await?;
            anyhow::Ok(())
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await?;
    Ok(started.elapsed())
}

/// The floor of ExternalSecrets created while the controller runs: this client creates
/// `count` ExternalSecrets `{name}-{i}` with `create_concurrency` in flight (as the benchmark
/// creates them for esox) and sends ESO's writes for each ([`eso_writes`]) as soon as its
/// create returns, `concurrency` ExternalSecrets at a time. Returns the time from the first
/// create to the last write.
#[allow(clippy::too_many_arguments)]
pub async fn create_then_eso_writes(
    client: &Client,
    prefix: &str,
    namespaces: usize,
    name: &str,
    count: usize,
    create_concurrency: usize,
    concurrency: usize,
    data: &Value,
) -> anyhow::Result<Duration> {
    let floor = Floor {
        prefix,
        namespaces,
        name,
        count,
        create_concurrency,
        concurrency,
    };
    create_read_then_eso_writes(
        client,
        &floor,
        |i| external_secret_body(name, i),
        |_| async { anyhow::Ok(()) },
        data,
    )
    .await
}

/// Where and how a floor sends its ExternalSecrets and ESO's writes.
pub struct Floor<'a> {
    pub prefix: &'a str,
    pub namespaces: usize,
    pub name: &'a str,
    pub count: usize,
    pub create_concurrency: usize,
    pub concurrency: usize,
}

/// [`create_then_eso_writes`] with the ExternalSecret `body(i)`, and `read(i)` (the provider
/// read a controller makes) awaited before ESO's writes of the i-th.
pub async fn create_read_then_eso_writes<R, Fut>(
    client: &Client,
    floor: &Floor<'_>,
    body: impl Fn(usize) -> Value,
    read: R,
    data: &Value,
) -> anyhow::Result<Duration>
where
    R: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let Floor {
        prefix,
        namespaces,
        name,
        count,
        create_concurrency,
        concurrency,
    } = *floor;
    let started = Instant::now();
    let (created_tx, created_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let body = &body;
    let creates = async move {
        futures::stream::iter(0..count)
            .map(|i| {
                let tx = created_tx.clone();
                async move {
                    create(
                        &Api::<ExternalSecret>::namespaced(
                            client.clone(),
                            &namespace_of(prefix, i, namespaces),
                        ),
                        body(i),
                    )
                    .await?;
                    // The receiver lives until every create is done.
                    let _ = tx.send(i);
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(create_concurrency.max(1))
            .try_collect::<()>()
            .await
    };
    let created = futures::stream::unfold(created_rx, |mut rx| async move {
        rx.recv().await.map(|i| (i, rx))
    });
    let read = &read;
    let writes = created
        .map(|i| async move {
            read(i).await?;
            eso_writes_one(client, prefix, namespaces, name, i, data).await
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>();
    futures::try_join!(creates, writes)?;
    Ok(started.elapsed())
}

async fn eso_writes_one(
    client: &Client,
    prefix: &str,
    namespaces: usize,
    name: &str,
    i: usize,
    data: &Value,
) -> anyhow::Result<()> {
    use k8s_openapi::api::events::v1::Event;
    let ns = namespace_of(prefix, i, namespaces);
    let es_name = format!("{name}-{i}");
    let es = Api::<ExternalSecret>::namespaced(client.clone(), &ns);
    let finalizer = json!({"metadata": {"finalizers": [
        "externalsecrets.external-secrets.io/externalsecret-cleanup"]}});
    es.patch(&es_name, &PatchParams::default(), &Patch::Merge(&finalizer))
        .await?;
    create(
        &Api::<Secret>::namespaced(client.clone(), &ns),
        json!({"metadata": {"name": format!("{es_name}-target"),
               "labels": {"reconcile.external-secrets.io/managed": "true"}},
               "data": data}),
    )
    .await?;
    let now = jiff::Timestamp::now().to_string();
    let status = json!({"status": {
        "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced",
                        "message": "secret synced", "lastTransitionTime": now}],
        "refreshTime": now, "syncedResourceVersion": format!("1-{:056x}", i),
        "binding": {"name": format!("{es_name}-target")}}});
    es.patch_status(&es_name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    create(
        &Api::<Event>::namespaced(client.clone(), &ns),
        json!({"metadata": {"name": format!("{es_name}.created")},
               "eventTime": jiff::Timestamp::now().to_string(),
               "reason": "Created", "note": "secret created", "type": "Normal",
               "action": "Reconcile", "reportingController": "external-secrets",
               "reportingInstance": "external-secrets",
               "regarding": {"kind": "ExternalSecret", "namespace": ns, "name": es_name}}),
    )
    .await?;
    Ok(())
}

/// `count` ExternalSecrets copying the source Secret with `dataFrom.extract`.
pub async fn external_secrets(
    client: &Client,
    prefix: &str,
    namespaces: usize,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    external_secrets_named(client, prefix, namespaces, "copy", count, concurrency).await
}

/// [`external_secrets`] named `{name}-{i}` (targets `{name}-{i}-target`).
pub async fn external_secrets_named(
    client: &Client,
    prefix: &str,
    namespaces: usize,
    name: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    create_many::<ExternalSecret>(client, count, concurrency, |i| {
        (
            namespace_of(prefix, i, namespaces),
            external_secret_body(name, i),
        )
    })
    .await
}

fn external_secret_body(name: &str, i: usize) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": format!("{name}-{i}")},
        "spec": {"refreshInterval": "1h",
                 "secretStoreRef": {"name": STORE, "kind": "ClusterSecretStore"},
                 "target": {"name": format!("{name}-{i}-target")},
                 "dataFrom": [{"extract": {"key": SOURCE_SECRET}}]}})
}

/// Deletes the namespaces whose names start with one of `prefixes` and waits until they are
/// gone. ExternalSecrets in them lose their finalizers first: no controller may be running to
/// remove them (the benchmark stops esox before it cleans up).
pub async fn delete_namespaces(
    client: &Client,
    prefixes: &[&str],
    timeout: Duration,
) -> anyhow::Result<()> {
    let ours = |ns: &str| prefixes.iter().any(|p| ns.starts_with(&format!("{p}-")));
    let started = Instant::now();
    let held: Vec<ExternalSecret> = Api::<ExternalSecret>::all(client.clone())
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|es| {
            es.metadata.namespace.as_deref().is_some_and(ours)
                && es
                    .metadata
                    .finalizers
                    .as_ref()
                    .is_some_and(|f| !f.is_empty())
        })
        .collect();
    let unfinalize = json!({"metadata": {"finalizers": null}});
    futures::stream::iter(held)
        .map(|es| {
            let api = Api::<ExternalSecret>::namespaced(
                client.clone(),
                es.metadata.namespace.as_deref().unwrap_or_default(),
            );
            let name = es.metadata.name.unwrap_or_default();
            let patch = &unfinalize;
            async move {
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                    Err(e) => Err(anyhow::Error::new(e).context(format!("unfinalizing {name}"))),
                }
            }
        })
        .buffer_unordered(16)
        .try_collect::<()>()
        .await?;
    let api = Api::<Namespace>::all(client.clone());
    let names = |list: Vec<Namespace>| -> Vec<String> {
        list.into_iter()
            .filter_map(|n| n.metadata.name)
            .filter(|n| ours(n))
            .collect()
    };
    for name in names(api.list(&Default::default()).await?.items) {
        match api.delete(&name, &Default::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(anyhow::Error::new(e).context(format!("deleting {name}"))),
        }
    }
    loop {
        let left = names(api.list(&Default::default()).await?.items);
        if left.is_empty() {
            tracing::info!(took = ?started.elapsed(), ?prefixes, "namespaces deleted");
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!(
                "{} namespaces ({}, ...) still there after {timeout:?}",
                left.len(),
                left[0]
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
