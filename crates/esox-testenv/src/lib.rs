//! The Kubernetes API server esox's end-to-end tests run on, chosen by one switch.
//!
//! Without `ESOX_TEST_KUBECONFIG`, each test gets a fresh in-memory API server
//! (`esox-testcluster`, our double: fast, and the only one with injected faults). With
//! `ESOX_TEST_KUBECONFIG` pointing at the admin kubeconfig that `tools/control-plane/control-plane
//! up` writes, the same tests run on a real kube-apiserver with etcd and the controller manager,
//! the judge of Kubernetes behaviour. A real cluster cannot be made fresh for every test, so the
//! tests of one process take it in turn (one [`Cluster`] at a time) and each turn starts by
//! removing what earlier tests left: esox's objects (finalizers first, since no esox runs between
//! tests), every namespace but the system ones, and cluster-wide RBAC the tests made.

pub mod openbao;
mod real;
mod reset;

use std::path::Path;
use std::time::Duration;

use esox_testcluster::TestCluster;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

pub use real::RealCluster;

/// The admin kubeconfig of a real cluster; when set, [`Cluster::start`] uses that cluster.
pub const KUBECONFIG_ENV: &str = "ESOX_TEST_KUBECONFIG";
/// The folder `control-plane up` ran in, for the tests that stop or restart the real API server.
pub const CONTROL_PLANE_DIR_ENV: &str = "ESOX_TEST_CONTROL_PLANE_DIR";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("in-memory test cluster: {0}")]
    InMemory(#[from] esox_testcluster::Error),
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("kubeconfig {path} has no {what} (it should be the one `control-plane up` writes)")]
    Kubeconfig { path: String, what: &'static str },
    #[error("kube client: {0}")]
    Kube(#[from] kube::Error),
    #[error("kube client config: {0}")]
    KubeConfig(String),
    #[error("{0}")]
    ControlPlane(String),
    #[error("resetting the real cluster: {0}")]
    Reset(String),
}

/// A Kubernetes API server for one test.
pub enum Cluster {
    InMemory(Box<TestCluster>),
    Real(RealCluster),
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cluster::InMemory(c) => c.fmt(f),
            Cluster::Real(c) => write!(f, "RealCluster({})", c.url()),
        }
    }
}

/// True when the tests run on a real cluster.
pub fn real_backend() -> bool {
    std::env::var_os(KUBECONFIG_ENV).is_some_and(|v| !v.is_empty())
}

impl Cluster {
    /// A real cluster when `ESOX_TEST_KUBECONFIG` is set (waits for this process's earlier tests
    /// to finish with it, then clears what they left), else a fresh in-memory one.
    pub async fn start() -> Result<Cluster, Error> {
        if real_backend() {
            Ok(Cluster::Real(RealCluster::acquire().await?))
        } else {
            Cluster::in_memory().await
        }
    }

    /// Always the in-memory server: for tests of injected faults that only it can make.
    pub async fn in_memory() -> Result<Cluster, Error> {
        let c = TestCluster::start(esox_testcluster::Config::default()).await?;
        Ok(Cluster::InMemory(Box::new(c)))
    }

    pub fn is_real(&self) -> bool {
        matches!(self, Cluster::Real(_))
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match self {
            Cluster::InMemory(c) => c.url(),
            Cluster::Real(c) => c.url().to_string(),
        }
    }

    /// PEM of the CA that signed the API server's serving certificate.
    pub fn ca_pem(&self) -> &str {
        match self {
            Cluster::InMemory(c) => c.ca_pem(),
            Cluster::Real(c) => c.ca_pem(),
        }
    }

    /// Bearer token of a `system:masters` user.
    pub fn admin_token(&self) -> &str {
        match self {
            Cluster::InMemory(c) => c.admin_token(),
            Cluster::Real(c) => c.admin_token(),
        }
    }

    /// A kubeconfig for the admin user.
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig_with_token(self.admin_token())
    }

    /// A kubeconfig for this cluster that authenticates with `token`.
    pub fn kubeconfig_with_token(&self, token: &str) -> String {
        match self {
            Cluster::InMemory(c) => c.kubeconfig_with_token(token),
            Cluster::Real(c) => c.kubeconfig_with_token(token),
        }
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        std::fs::write(path, self.kubeconfig_yaml()).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })
    }

    /// A kube client for the admin user.
    pub async fn client(&self) -> Result<Client, Error> {
        self.client_with_token(self.admin_token()).await
    }

    /// A kube client that authenticates with `token`.
    pub async fn client_with_token(&self, token: &str) -> Result<Client, Error> {
        match self {
            Cluster::InMemory(c) => Ok(c.client_with_token(token).await?),
            Cluster::Real(c) => c.client_with_token(token).await,
        }
    }

    /// Restarts the API server with everything it stores kept: the in-memory listener, or the
    /// real kube-apiserver process (etcd keeps running). Watches end and clients reconnect.
    pub async fn restart(&self) -> Result<(), Error> {
        self.restart_after(Duration::from_millis(20)).await
    }

    /// [`Cluster::restart`] with the server unreachable for `downtime` in between.
    pub async fn restart_after(&self, downtime: Duration) -> Result<(), Error> {
        match self {
            Cluster::InMemory(c) => Ok(c.restart_after(downtime).await?),
            Cluster::Real(c) => c.restart_apiserver(downtime).await,
        }
    }

    /// After [`Cluster::restart`]: waits until Kubernetes' own controllers work again (on a real
    /// cluster the controller manager's informers back off for up to 30 s, so tokens are not
    /// issued and new namespaces get no `kube-root-ca.crt` until then). For tests whose next
    /// step needs them; esox itself is measured from the moment the API server answers.
    pub async fn wait_for_kubernetes_controllers(&self) -> Result<(), Error> {
        match self {
            Cluster::InMemory(_) => Ok(()),
            Cluster::Real(c) => {
                let client = c.client_with_token(c.admin_token()).await?;
                reset::wait_for_controller_manager(&client).await
            }
        }
    }

    /// Forgets the watch history so that resuming from an older resourceVersion gets 410 Gone
    /// (on a real cluster: an etcd compaction).
    pub async fn compact(&self) -> Result<(), Error> {
        match self {
            Cluster::InMemory(c) => {
                c.compact();
                Ok(())
            }
            Cluster::Real(c) => c.compact().await,
        }
    }

    /// Injected faults: in-memory only (see [`Cluster::in_memory_server`]).
    pub fn faults(&self) -> &esox_testcluster::Faults {
        self.in_memory_server().faults()
    }

    /// Ends every open watch stream: in-memory only.
    pub fn cut_watches(&self) {
        self.in_memory_server().cut_watches()
    }

    /// The in-memory server, for faults only it can inject. Panics on a real cluster: a test
    /// that needs it starts with [`Cluster::in_memory`].
    pub fn in_memory_server(&self) -> &TestCluster {
        match self {
            Cluster::InMemory(c) => c,
            Cluster::Real(_) => {
                panic!(
                    "this test injects faults only the in-memory server has: use Cluster::in_memory"
                )
            }
        }
    }

    /// The real cluster. Panics on the in-memory one.
    pub fn real(&self) -> &RealCluster {
        match self {
            Cluster::Real(c) => c,
            Cluster::InMemory(_) => panic!("this test needs a real cluster ({KUBECONFIG_ENV})"),
        }
    }

    /// Installs esox's CRDs (server-side apply, so a real cluster that has them already is
    /// unchanged) and waits until the API server serves them.
    pub async fn install_crds(&self, client: &Client) -> Result<(), Error> {
        install_crds(client).await
    }
}

/// Applies every esox CRD and waits until each is Established.
pub async fn install_crds(client: &Client) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crds = esox_api::crd::all(&Default::default());
    let params = PatchParams::apply("esox-tests").force();
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let mut body = serde_json::to_value(crd)
            .map_err(|e| Error::KubeConfig(format!("CRD {name} to JSON: {e}")))?;
        body["apiVersion"] = "apiextensions.k8s.io/v1".into();
        body["kind"] = "CustomResourceDefinition".into();
        api.patch(&name, &params, &Patch::Apply(&body)).await?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        loop {
            let established = api
                .get(&name)
                .await?
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::KubeConfig(format!(
                    "CRD {name} not Established after 30 s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}
