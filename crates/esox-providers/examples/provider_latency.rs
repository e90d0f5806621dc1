//! Measures the Kubernetes provider against esox-testcluster: the cost of building a client
//! (what each reconcile does) plus one read, and of a read on an existing client.
//!
//! `cargo run -p esox-providers --example provider_latency [iterations]`

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esox_api::v1::{RemoteRef, StoreKind};
use esox_providers::metrics;
use esox_providers::{LocalCluster, ProviderRuntime, StoreInfo};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

type Counts = BTreeMap<&'static str, u64>;

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len().max(1);
    let total: Duration = samples.iter().sum();
    let pct = |p: f64| samples[((n as f64 - 1.0) * p).round() as usize];
    println!(
        "{name}: n={} mean={:?} p50={:?} p99={:?} max={:?}",
        samples.len(),
        total / n as u32,
        pct(0.5),
        pct(0.99),
        samples[n - 1]
    );
}

async fn create<K>(api: Api<K>, body: serde_json::Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(body)?;
    api.create(&PostParams::default(), &obj).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let cluster = esox_testcluster::TestCluster::start(Default::default()).await?;
    let admin = cluster.client().await?;
    let runtime = ProviderRuntime::new(
        admin.clone(),
        LocalCluster {
            url: cluster.url(),
            ca_pem: Some(cluster.ca_pem().as_bytes().to_vec()),
        },
    );
    let counts: Arc<Mutex<Counts>> = Arc::default();
    let sink = counts.clone();
    runtime.set_api_call_observer(Some(Arc::new(move |_, call, _| {
        *sink
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(call)
            .or_default() += 1;
    })));

    for ns in ["foo", "bar", "argocd"] {
        create(
            Api::<Namespace>::all(admin.clone()),
            json!({"metadata": {"name": ns}}),
        )
        .await?;
    }
    create(
        Api::<ServiceAccount>::namespaced(admin.clone(), "argocd"),
        json!({"metadata": {"name": "external-secrets"}}),
    )
    .await?;
    create(Api::<Role>::namespaced(admin.clone(), "foo"), json!({"metadata": {"name": "r"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]})).await?;
    create(
        Api::<RoleBinding>::namespaced(admin.clone(), "foo"),
        json!({"metadata": {"name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "external-secrets", "namespace": "argocd"}],
        "roleRef": {"kind": "Role", "name": "r", "apiGroup": "rbac.authorization.k8s.io"}}),
    )
    .await?;
    create(
        Api::<Secret>::namespaced(admin.clone(), "foo"),
        json!({"metadata": {"name": "my-secret"},
        "stringData": {"username": "admin", "password": "p"}}),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let store = StoreInfo {
        kind: StoreKind::ClusterSecretStore,
        name: "foo-secret-store".into(),
        namespace: None,
        spec: serde_json::from_value(json!({"provider": {"kubernetes": {
            "remoteNamespace": "foo",
            "server": {"caProvider": {"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt", "namespace": "foo"}},
            "auth": {"serviceAccount": {"name": "external-secrets", "namespace": "argocd"}}}}}))?,
    };
    let ctx = runtime.context(Some("bar"));
    let kubernetes = runtime
        .provider("kubernetes")
        .ok_or_else(|| anyhow::anyhow!("the kubernetes provider is not built"))?;
    let r = RemoteRef {
        key: "my-secret".into(),
        ..Default::default()
    };

    let mut build_and_read = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let client = kubernetes.new_client(&store, &ctx).await?;
        client.get_secret_map(&r).await?;
        build_and_read.push(t.elapsed());
    }
    let client = kubernetes.new_client(&store, &ctx).await?;
    let mut read_only = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        client.get_secret_map(&r).await?;
        read_only.push(t.elapsed());
    }
    summary(
        "new_client + get_secret_map (seed ClusterSecretStore)",
        build_and_read,
    );
    summary("get_secret_map on an existing client", read_only);
    let counts = counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    println!(
        "API calls: TokenRequests={} GetSecret={}",
        counts.get(metrics::CALL_CREATE_TOKEN).copied().unwrap_or(0),
        counts.get(metrics::CALL_GET_SECRET).copied().unwrap_or(0)
    );
    cluster.shutdown();
    Ok(())
}
