//! Shared helpers of the controller tests: a test cluster with esox's CRDs, manifest apply,
//! and polling.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test uses a subset; a panic is how a test fails

use std::future::Future;
use std::time::{Duration, Instant};

use esox_api::v1::Condition;
use esox_testenv::Cluster;
use kube::{Api, Client};

/// Logs to the test's output when `RUST_LOG` is set (e.g. `RUST_LOG=esox_controller=debug`).
pub fn logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// The cluster chosen by `ESOX_TEST_KUBECONFIG` (a real one when set, else in-memory) with
/// esox's CRDs, and an admin client.
pub async fn cluster() -> (Cluster, Client) {
    logs();
    with_crds(Cluster::start().await.expect("test cluster starts")).await
}

/// The in-memory cluster whatever the switch says: for tests of faults only it can inject.
pub async fn cluster_in_memory() -> (Cluster, Client) {
    with_crds(Cluster::in_memory().await.expect("test cluster starts")).await
}

async fn with_crds(cluster: Cluster) -> (Cluster, Client) {
    let client = cluster.client().await.expect("client");
    esox_testenv::install_crds(&client)
        .await
        .expect("esox's CRDs install");
    (cluster, client)
}

/// Applies every document of a YAML stream with server-side apply (as `kubectl apply --server-side`).
pub async fn apply(client: &Client, yaml: &str) {
    esox_testcluster::apply_yaml(client, yaml, None, "test")
        .await
        .unwrap_or_else(|e| panic!("apply: {e}"));
}

/// Applies every document into namespace `ns` unless it names its own (as `kubectl apply -n ns`).
pub async fn apply_in(client: &Client, ns: &str, yaml: &str) {
    esox_testcluster::apply_yaml(client, yaml, Some(ns), "test")
        .await
        .unwrap_or_else(|e| panic!("apply -n {ns}: {e}"));
}

/// Polls `f` every 20 ms until it returns `Some` or `timeout` passes.
pub async fn wait_until<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn seed(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/seed")
        .join(name);
    std::fs::read_to_string(path).expect("seed manifest")
}

/// A test cluster with esox's CRDs and the controllers running against it.
pub struct Env {
    pub cluster: Cluster,
    pub client: Client,
    pub ctx: std::sync::Arc<esox_controller::Context>,
    shutdown: esox_controller::runner::Shutdown,
}

impl Env {
    /// Controllers on the cluster `ESOX_TEST_KUBECONFIG` chooses.
    pub async fn start() -> Env {
        Env::on(cluster().await)
    }

    /// Controllers on the in-memory cluster, for tests of injected faults.
    pub async fn start_in_memory() -> Env {
        Env::on(cluster_in_memory().await)
    }

    fn on((cluster, client): (Cluster, Client)) -> Env {
        let local = esox_providers::LocalCluster {
            url: cluster.url(),
            ca_pem: Some(cluster.ca_pem().as_bytes().to_vec()),
        };
        let (ctx, shutdown, _task) = esox_controller::runner::start(
            client.clone(),
            esox_controller::Options::default(),
            local,
        );
        Env {
            cluster,
            client,
            ctx,
            shutdown,
        }
    }

    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Waits for the named Secret to satisfy `check`; returns it.
    pub async fn secret_where(
        &self,
        namespace: &str,
        name: &str,
        check: impl Fn(&k8s_openapi::api::core::v1::Secret) -> bool,
    ) -> Option<k8s_openapi::api::core::v1::Secret> {
        let api: Api<k8s_openapi::api::core::v1::Secret> = self.api(namespace);
        wait_until(Duration::from_secs(10), || {
            let api = api.clone();
            let check = &check;
            async move { api.get(name).await.ok().filter(|s| check(s)) }
        })
        .await
    }

    /// Waits for the ExternalSecret's Ready condition to have `status` and `reason` (an earlier
    /// condition with the same status may still be in place); returns the message.
    pub async fn es_ready_because(
        &self,
        namespace: &str,
        name: &str,
        status: &str,
        reason: &str,
    ) -> Option<String> {
        let c = es_ready_where(&self.client, namespace, name, |c| {
            c.status == status && c.reason.as_deref() == Some(reason)
        })
        .await?;
        Some(c.message.unwrap_or_default())
    }

    /// Waits for the ExternalSecret's Ready condition to have `status`; returns (reason, message).
    pub async fn es_ready(
        &self,
        namespace: &str,
        name: &str,
        status: &str,
    ) -> Option<(String, String)> {
        let c = es_ready_where(&self.client, namespace, name, |c| c.status == status).await?;
        Some((c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
    }
}

/// Waits up to `timeout` for the `Ready` condition of the object `name` (its conditions read by
/// `conditions`) to satisfy `check`; returns that condition.
pub async fn ready_where<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    conditions: impl Fn(K) -> Option<Vec<Condition>>,
    check: impl Fn(&Condition) -> bool,
) -> Option<Condition>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    wait_until(timeout, || async {
        let object = api.get(name).await.ok()?;
        conditions(object)?
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .filter(|c| check(c))
    })
    .await
}

/// [`ready_where`] for an ExternalSecret, waiting up to 10 s.
pub async fn es_ready_where(
    client: &Client,
    namespace: &str,
    name: &str,
    check: impl Fn(&Condition) -> bool,
) -> Option<Condition> {
    let api: Api<esox_api::v1::ExternalSecret> = Api::namespaced(client.clone(), namespace);
    ready_where(
        &api,
        name,
        Duration::from_secs(10),
        |es| Some(es.status?.conditions),
        check,
    )
    .await
}

impl Drop for Env {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// The bytes of one key of a Secret.
pub fn value(s: &k8s_openapi::api::core::v1::Secret, key: &str) -> Option<Vec<u8>> {
    s.data.as_ref()?.get(key).map(|v| v.0.clone())
}

/// A namespace and a fake SecretStore `fake` in it with the given key/value pairs.
pub fn fake_store(namespace: &str, data: &[(&str, &str)]) -> String {
    let entries: Vec<serde_json::Value> = data
        .iter()
        .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
        .collect();
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n---\napiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: fake, namespace: {namespace}}}\nspec:\n  provider:\n    fake:\n      data: {}\n",
        serde_json::Value::Array(entries)
    )
}

/// Namespaces `app` and `remote`, a kubernetes SecretStore `k8s` in `app` reading and writing
/// `remote` of the same cluster with the admin's token, then `more` (YAML documents).
pub async fn kube_store(env: &Env, more: &str) {
    apply(
        &env.client,
        &format!(
            r#"
apiVersion: v1
kind: Namespace
metadata: {{name: app}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: remote}}
---
apiVersion: v1
kind: Secret
metadata: {{name: admin-token, namespace: app}}
stringData: {{token: "{}"}}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: k8s, namespace: app}}
spec:
  provider:
    kubernetes:
      remoteNamespace: remote
      server:
        caProvider: {{type: ConfigMap, name: kube-root-ca.crt, key: ca.crt}}
      auth:
        token:
          bearerToken: {{name: admin-token, key: token}}
---
{more}"#,
            env.cluster.admin_token()
        ),
    )
    .await;
}

/// Namespaces `app` and `remote`, and in `remote` a ServiceAccount `sa` bound to a Role allowing
/// `verbs` on Secrets and `selfsubjectrulesreviews` (the seed's RBAC for a store's account).
pub fn service_account_in_remote(sa: &str, verbs: &[&str]) -> String {
    format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: app}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: remote}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {sa}, namespace: remote}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: {sa}-secrets, namespace: remote}}
rules:
  - apiGroups: [""]
    resources: [secrets]
    verbs: [{verbs}]
  - apiGroups: [authorization.k8s.io]
    resources: [selfsubjectrulesreviews]
    verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {sa}, namespace: remote}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {sa}-secrets}}
subjects: [{{kind: ServiceAccount, name: {sa}, namespace: remote}}]
"#,
        verbs = verbs.join(", ")
    )
}

/// Issues a token for ServiceAccount `remote/sa` through the service-account-token Secret
/// `remote/secret` (as the seed's `eso-token`), waits for the token controller to fill it, and
/// copies it into the Opaque Secret `app/copy` under key `token`, where a store reads it.
pub async fn hand_out_token(env: &Env, sa: &str, secret: &str, copy: &str) -> String {
    apply(
        &env.client,
        &format!(
            "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/service-account-token\nmetadata:\n  name: {secret}\n  namespace: remote\n  annotations: {{kubernetes.io/service-account.name: {sa}}}\n"
        ),
    )
    .await;
    let issued: Api<k8s_openapi::api::core::v1::Secret> = env.api("remote");
    // Kubernetes' token controller, not esox: after an API-server restart a real controller
    // manager's informers may take tens of seconds to come back.
    let token = wait_until(Duration::from_secs(60), || async {
        value(&issued.get(secret).await.ok()?, "token")
    })
    .await
    .expect("the token controller fills the token Secret");
    let token = String::from_utf8(token).expect("a token is text");
    let body = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": copy, "namespace": "app"},
        "stringData": {"token": token},
    });
    env.api::<k8s_openapi::api::core::v1::Secret>("app")
        .patch(
            copy,
            &kube::api::PatchParams::apply("test").force(),
            &kube::api::Patch::Apply(&body),
        )
        .await
        .expect("token copy written");
    token
}
