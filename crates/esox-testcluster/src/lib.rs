//! An in-memory Kubernetes API server for esox's tests, benchmarks and demo.
//!
//! **This is a test double**, not a Kubernetes distribution: it keeps every object in memory,
//! runs in-process, and implements the parts of the API that esox, kube-rs and kubectl use:
//! discovery, core/RBAC/coordination/events/apiextensions resources and custom resources,
//! get/list/watch/create/update/patch (JSON, merge, strategic, server-side apply)/delete,
//! `Status` errors shaped like the real server's, bearer-token authentication (an admin token
//! and ServiceAccount tokens), RBAC authorization, namespace lifecycle, ownerReference garbage
//! collection, and fault injection. It serves HTTPS with a CA generated at start.
//!
//! What it does, in the real server's terms:
//! - **Transport**: HTTPS (rustls, ring) with a fresh CA valid for `127.0.0.1` and `localhost`;
//!   HTTP/1.1 only. JSON everywhere; protobuf *request* bodies are decoded for the kinds
//!   kubectl's typed commands send (see `protobuf.rs`); answers are always JSON.
//! - **Authentication**: the admin bearer token (`system:masters`), ServiceAccount JWTs from
//!   TokenRequest and from `kubernetes.io/service-account-token` Secrets (revoked with the
//!   account or the Secret), client certificates issued by [`TestCluster::issue_client_cert`].
//!   Anything else is 401.
//! - **Authorization**: RBAC over the stored Roles/ClusterRoles/bindings plus the bootstrap
//!   roles (`cluster-admin`, `system:basic-user`, `system:discovery`, ...); 403 texts as the
//!   real authorizer writes them; SelfSubjectAccessReview, SelfSubjectRulesReview,
//!   SelfSubjectReview.
//! - **Verbs**: get, list (label/field selectors, limit/continue), watch (resume from a
//!   resourceVersion in a bounded history, 410 Expired after [`TestCluster::compact`],
//!   bookmarks, timeoutSeconds, selector transitions), create (generateName), update (409 on a
//!   stale resourceVersion), patch (JSON, merge, strategic for built-ins, server-side apply
//!   with managedFields, conflicts and force), delete (finalizers, propagationPolicy),
//!   deletecollection, dryRun; PartialObjectMetadata and Table renderings.
//! - **CRDs**: validated with `esox-schema` (structural schemas, CEL), Established at once,
//!   served per version with the status subresource; custom resources pruned, defaulted and
//!   validated (422 with causes), `fieldValidation=Strict` refuses unknown fields.
//! - **Controllers**: namespace defaults and deletion, ownerReference GC (background,
//!   foreground, orphan), the token Secret controller.
//!
//! Known differences: no protobuf responses, no HTTP/2, no conversion webhooks (versions of a
//! CRD share one stored form; only `apiVersion` changes), no admission webhooks, no
//! aggregated discovery, lists are not snapshots across `continue` pages, `managedFields`
//! treat every list as atomic, the OpenAPI documents are minimal (enough for kubectl).
//!
//! ```no_run
//! # async fn demo() -> Result<(), esox_testcluster::Error> {
//! let cluster = esox_testcluster::TestCluster::start(Default::default()).await?;
//! let client = cluster.client().await?;
//! # let _ = client;
//! cluster.shutdown();
//! # Ok(()) }
//! ```

mod apply;
mod auth;
mod controllers;
mod crd;
mod faults;
mod handlers;
mod kubeconfig;
mod patch;
mod protobuf;
mod resources;
mod schema;
mod selectors;
mod server;
mod state;
mod status;
mod store;
mod table;
mod tls;
mod util;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use apply::{ApplyError, apply_yaml};
pub use faults::{FaultAction, FaultId, FaultMatch, Faults};
pub use schema::schema_validation_available;
pub use status::ApiError;
pub use tls::ClientCert;

use state::State;

/// Errors starting or talking to the test cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("writing the kubeconfig to {path}: {source}")]
    WriteKubeconfig {
        path: String,
        source: std::io::Error,
    },
    #[error("building a kube client from the kubeconfig: {0}")]
    Client(String),
    #[error("bootstrapping the cluster: {0}")]
    Bootstrap(String),
}

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port. Only loopback addresses make sense.
    pub addr: SocketAddr,
    /// How many past events are kept for watches resuming from a resourceVersion.
    pub watch_history: usize,
    /// How often watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(5),
        }
    }
}

/// A running in-memory API server.
pub struct TestCluster {
    state: Arc<State>,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
    ca: tls::ClusterTls,
    listener: Mutex<Option<server::Listener>>,
    addr: SocketAddr,
    controllers: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The admin token is a credential and is left out.
        f.debug_struct("TestCluster")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

fn bootstrap(state: &State) -> Result<(), Error> {
    let ctx = handlers::write::WriteCtx::new("kube-apiserver");
    for (resource, obj) in auth::rbac::bootstrap_objects() {
        let info = state
            .info("rbac.authorization.k8s.io", "v1", resource)
            .ok_or_else(|| Error::Bootstrap(format!("{resource} not registered")))?;
        handlers::write::create(state, &info, "", obj, &ctx)
            .map_err(|e| Error::Bootstrap(e.to_string()))?;
    }
    let ns_info = state
        .info("", "v1", "namespaces")
        .ok_or_else(|| Error::Bootstrap("namespaces not registered".into()))?;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        handlers::write::create(
            state,
            &ns_info,
            "",
            serde_json::json!({"metadata": {"name": ns}}),
            &ctx,
        )
        .map_err(|e| Error::Bootstrap(e.to_string()))?;
    }
    Ok(())
}

impl TestCluster {
    /// Starts a cluster: generates its CA, creates the bootstrap objects (default namespaces,
    /// RBAC roles) and listens. Must be called inside a Tokio runtime.
    pub async fn start(config: Config) -> Result<Self, Error> {
        let tls = tls::ClusterTls::generate()?;
        let state = State::new(
            config.watch_history,
            config.bookmark_interval,
            tls.ca_pem.clone(),
        );
        bootstrap(&state)?;
        let controllers = controllers::spawn(state.clone());
        let listener =
            server::Listener::start(state.clone(), config.addr, tls.server_config.clone()).await?;
        let addr = listener.addr;
        tracing::info!(%addr, "test cluster listening");
        Ok(Self {
            state,
            tls: tls.server_config.clone(),
            ca: tls,
            listener: Mutex::new(Some(listener)),
            addr,
            controllers,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that signed the serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.state.ca_pem
    }

    /// Bearer token of a `system:masters` user.
    pub fn admin_token(&self) -> &str {
        &self.state.admin_token
    }

    /// A kubeconfig for the admin user.
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig::render(&self.url(), &self.state.ca_pem, &self.state.admin_token)
    }

    /// A kubeconfig for the admin user but with another bearer token (e.g. a ServiceAccount's).
    pub fn kubeconfig_with_token(&self, token: &str) -> String {
        kubeconfig::render(&self.url(), &self.state.ca_pem, token)
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        std::fs::write(path, self.kubeconfig_yaml()).map_err(|e| Error::WriteKubeconfig {
            path: path.display().to_string(),
            source: e,
        })
    }

    /// A kube client for the admin user, built from the kubeconfig as any client would.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        client_from_kubeconfig(&self.kubeconfig_yaml()).await
    }

    /// A kube client that authenticates with `token`.
    pub async fn client_with_token(&self, token: &str) -> Result<kube::Client, Error> {
        client_from_kubeconfig(&self.kubeconfig_with_token(token)).await
    }

    /// Issues a client certificate (CN=`user`, O=`groups`) signed by the cluster CA, which the
    /// server then accepts as that user, as x509 client authentication does.
    pub fn issue_client_cert(&self, user: &str, groups: &[&str]) -> Result<ClientCert, Error> {
        let cert = self.ca.issue_client_cert(user, groups)?;
        let mut all_groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        all_groups.push("system:authenticated".into());
        let info = auth::UserInfo {
            name: user.to_string(),
            uid: String::new(),
            groups: all_groups,
        };
        self.state
            .client_certs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cert.der.clone(), info);
        Ok(cert)
    }

    /// A kubeconfig whose user authenticates with `cert`.
    pub fn kubeconfig_with_cert(&self, cert: &ClientCert) -> String {
        kubeconfig::render_cert(
            &self.url(),
            &self.state.ca_pem,
            &cert.cert_pem,
            &cert.key_pem,
        )
    }

    /// A kube client that authenticates with a client certificate.
    pub async fn client_with_cert(&self, cert: &ClientCert) -> Result<kube::Client, Error> {
        client_from_kubeconfig(&self.kubeconfig_with_cert(cert)).await
    }

    /// Fault injection for API calls.
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Ends every open watch stream (clients see the connection's response end).
    pub fn cut_watches(&self) {
        self.state.watch_cut.send_modify(|n| *n += 1);
    }

    /// Forgets the watch history, so that resuming from an older resourceVersion gets 410 Gone.
    pub fn compact(&self) {
        self.state.store.compact();
    }

    /// Stops the listener (dropping all connections and watches) and starts it again on the
    /// same address; all objects are kept.
    pub async fn restart(&self) -> Result<(), Error> {
        self.restart_after(Duration::from_millis(20)).await
    }

    /// Like [`TestCluster::restart`], with the server unreachable (connections refused) for
    /// `downtime` in between.
    pub async fn restart_after(&self, downtime: Duration) -> Result<(), Error> {
        if let Some(l) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            l.stop();
        }
        self.cut_watches();
        // Also gives the aborted tasks time to release the socket.
        tokio::time::sleep(downtime).await;
        let l = server::Listener::start(self.state.clone(), self.addr, self.tls.clone()).await?;
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(l);
        Ok(())
    }

    /// Number of stored objects (benchmarks).
    pub fn object_count(&self) -> usize {
        self.state.store.count()
    }

    /// Requests received since start as `(reads, writes)`: reads are GET/HEAD (get, list,
    /// watch, discovery), writes every other method. Benchmarks diff two readings to count a
    /// client's traffic over a window.
    pub fn request_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        (
            self.state.requests.reads.load(Ordering::Relaxed),
            self.state.requests.writes.load(Ordering::Relaxed),
        )
    }

    /// Stops serving and the controllers.
    pub fn shutdown(&self) {
        if let Some(l) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            l.stop();
        }
        self.cut_watches();
        self.controllers.abort();
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn client_from_kubeconfig(yaml: &str) -> Result<kube::Client, Error> {
    let kc = kube::config::Kubeconfig::from_yaml(yaml).map_err(|e| Error::Client(e.to_string()))?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| Error::Client(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
}

/// Runs a cluster on `addr`, writes its kubeconfig to `kubeconfig_out`, and serves until the
/// process gets Ctrl-C / SIGTERM. Used by `esox testcluster`.
pub async fn run_standalone(addr: SocketAddr, kubeconfig_out: &Path) -> Result<(), Error> {
    let cluster = TestCluster::start(Config {
        addr,
        ..Config::default()
    })
    .await?;
    cluster.write_kubeconfig(kubeconfig_out)?;
    tracing::info!(url = %cluster.url(), kubeconfig = %kubeconfig_out.display(), "test cluster ready");
    wait_for_signal().await;
    cluster.shutdown();
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
