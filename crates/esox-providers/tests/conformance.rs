//! The provider contract (`esox_providers::conformance`) run against each provider and its
//! server: the fake provider (its store holds the data), and the Kubernetes provider on
//! esox-testenv's cluster (a real kube-apiserver when `ESOX_TEST_KUBECONFIG` is set, else the
//! in-memory one).

use async_trait::async_trait;
use esox_api::v1::{RemoteRef, StoreKind};
use esox_providers::conformance::{self, Fixture, Harness};
use esox_providers::{
    ClientContext, LocalCluster, Provider, ProviderRuntime, PushEntry, StoreInfo,
};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

const NAMESPACE: &str = "conformance";

fn store_info(provider: serde_json::Value) -> StoreInfo {
    StoreInfo {
        kind: StoreKind::SecretStore,
        name: "conformance".into(),
        namespace: Some(NAMESPACE.into()),
        spec: serde_json::from_value(json!({ "provider": provider })).expect("store spec"),
    }
}

struct Fake {
    runtime: ProviderRuntime,
}

#[async_trait]
impl Harness for Fake {
    fn provider(&self) -> &dyn Provider {
        self.runtime.provider("fake").expect("fake is built in")
    }

    fn context(&self) -> ClientContext {
        self.runtime.context(Some(NAMESPACE))
    }

    async fn store(&self, secrets: &[Fixture]) -> StoreInfo {
        let data: Vec<serde_json::Value> = secrets
            .iter()
            .map(|f| {
                json!({"key": f.name, "value": serde_json::to_string(&f.fields).expect("json")})
            })
            .collect();
        store_info(json!({"fake": {"data": data}}))
    }

    fn finds_by_tags(&self) -> bool {
        false
    }

    fn pushed_ref(&self, entry: &PushEntry) -> RemoteRef {
        RemoteRef {
            key: entry.remote_ref.remote_key.clone(),
            ..Default::default()
        }
    }
}

#[tokio::test]
async fn fake_provider_passes_the_contract() {
    // The fake provider never calls the API server: an address nobody listens on will do.
    let config = kube::Config::new("https://127.0.0.1:9".parse().expect("uri"));
    let runtime = ProviderRuntime::new(
        kube::Client::try_from(config).expect("client"),
        LocalCluster {
            url: "https://127.0.0.1:9".into(),
            ca_pem: None,
        },
    );
    conformance::run(&Fake { runtime }).await;
}

struct Kubernetes {
    admin: kube::Client,
    runtime: ProviderRuntime,
}

async fn create<K>(api: Api<K>, body: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(body).expect("object");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create");
}

#[async_trait]
impl Harness for Kubernetes {
    fn provider(&self) -> &dyn Provider {
        self.runtime
            .provider("kubernetes")
            .expect("kubernetes is built in")
    }

    fn context(&self) -> ClientContext {
        self.runtime.context(Some(NAMESPACE))
    }

    /// The store's ServiceAccount may read and write the namespace's Secrets (the seed's Role).
    async fn store(&self, secrets: &[Fixture]) -> StoreInfo {
        let c = &self.admin;
        create(
            Api::<Namespace>::all(c.clone()),
            json!({"metadata": {"name": NAMESPACE}}),
        )
        .await;
        create(
            Api::<ServiceAccount>::namespaced(c.clone(), NAMESPACE),
            json!({"metadata": {"name": "store"}}),
        )
        .await;
        create(
            Api::<Role>::namespaced(c.clone(), NAMESPACE),
            json!({"metadata": {"name": "store"}, "rules": [
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch", "create", "update", "delete", "patch"]},
                {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectrulesreviews"], "verbs": ["create"]}
            ]}),
        )
        .await;
        create(
            Api::<RoleBinding>::namespaced(c.clone(), NAMESPACE),
            json!({"metadata": {"name": "store"},
                   "subjects": [{"kind": "ServiceAccount", "name": "store", "namespace": NAMESPACE}],
                   "roleRef": {"kind": "Role", "name": "store", "apiGroup": "rbac.authorization.k8s.io"}}),
        )
        .await;
        for f in secrets {
            create(
                Api::<Secret>::namespaced(c.clone(), NAMESPACE),
                json!({"metadata": {"name": f.name, "labels": f.tags}, "stringData": f.fields}),
            )
            .await;
        }
        store_info(json!({"kubernetes": {
            "remoteNamespace": NAMESPACE,
            "auth": {"serviceAccount": {"name": "store"}}
        }}))
    }

    fn finds_by_tags(&self) -> bool {
        true
    }

    fn pushed_ref(&self, entry: &PushEntry) -> RemoteRef {
        RemoteRef {
            key: entry.remote_ref.remote_key.clone(),
            property: entry.remote_ref.property.clone(),
            ..Default::default()
        }
    }
}

#[tokio::test]
async fn kubernetes_provider_passes_the_contract() {
    let cluster = esox_testenv::Cluster::start()
        .await
        .expect("test cluster starts");
    let backend = if cluster.is_real() {
        "a real kube-apiserver"
    } else {
        "the in-memory API server"
    };
    eprintln!(
        "Kubernetes provider contract on {backend} at {}",
        cluster.url()
    );
    let admin = cluster.client().await.expect("admin client");
    let runtime = ProviderRuntime::new(
        admin.clone(),
        LocalCluster {
            url: cluster.url(),
            ca_pem: Some(cluster.ca_pem().as_bytes().to_vec()),
        },
    );
    conformance::run(&Kubernetes { admin, runtime }).await;
}
