//! A real kube-apiserver started by `tools/control-plane/control-plane up`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kube::Client;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{CONTROL_PLANE_DIR_ENV, Error, KUBECONFIG_ENV};

/// The script that builds and runs the control plane.
pub fn control_plane_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/control-plane/control-plane")
}

/// One test of this process at a time holds the real cluster.
fn turn() -> Arc<Mutex<()>> {
    static TURN: OnceLock<Arc<Mutex<()>>> = OnceLock::new();
    TURN.get_or_init(|| Arc::new(Mutex::new(()))).clone()
}

/// A real cluster, held by one test until dropped.
pub struct RealCluster {
    url: String,
    ca_pem: String,
    admin_token: String,
    kubeconfig: PathBuf,
    dir: Option<PathBuf>,
    _turn: OwnedMutexGuard<()>,
}

/// The fields `control-plane up` writes into its kubeconfig, read line by line (that file's
/// shape is ours; a general kubeconfig reader is not needed).
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.trim()
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })
}

impl RealCluster {
    /// Waits for this process's earlier tests to release the cluster, then clears what they left.
    pub async fn acquire() -> Result<RealCluster, Error> {
        let path = std::env::var_os(KUBECONFIG_ENV)
            .map(PathBuf::from)
            .ok_or_else(|| Error::KubeConfig(format!("{KUBECONFIG_ENV} is not set")))?;
        let guard = turn().lock_owned().await;
        let text = read(&path)?;
        let missing = |what| Error::Kubeconfig {
            path: path.display().to_string(),
            what,
        };
        let url = field(&text, "server").ok_or_else(|| missing("server"))?;
        let ca_path = field(&text, "certificate-authority")
            .ok_or_else(|| missing("certificate-authority"))?;
        let admin_token = field(&text, "token").ok_or_else(|| missing("token"))?;
        let ca_pem = read(Path::new(&ca_path))?;
        let dir = std::env::var_os(CONTROL_PLANE_DIR_ENV)
            .map(PathBuf::from)
            .or_else(|| path.parent().map(Path::to_path_buf));
        let cluster = RealCluster {
            url,
            ca_pem,
            admin_token,
            kubeconfig: path,
            dir,
            _turn: guard,
        };
        let client = cluster.client_with_token(&cluster.admin_token).await?;
        crate::reset::clear(&client).await?;
        if let Some(marker) = cluster.restart_marker()
            && marker.exists()
        {
            // After an API-server restart the controller manager's informers are in client-go's
            // backoff (up to 30 s): wait until it serves new namespaces again, so the next test
            // does not wait for kube-root-ca.crt in its own.
            crate::reset::wait_for_controller_manager(&client).await?;
            let _ = std::fs::remove_file(marker);
        }
        Ok(cluster)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// A kubeconfig with the CA inline, for processes that only get a file.
    pub fn kubeconfig_with_token(&self, token: &str) -> String {
        use base64::Engine as _;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: esox-test\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\nusers:\n- name: user\n  user:\n    token: {token}\ncontexts:\n- name: esox-test\n  context: {{cluster: esox-test, user: user}}\ncurrent-context: esox-test\n",
            self.url
        )
    }

    pub async fn client_with_token(&self, token: &str) -> Result<Client, Error> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_with_token(token))
            .map_err(|e| Error::KubeConfig(e.to_string()))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| Error::KubeConfig(e.to_string()))?;
        Ok(Client::try_from(config)?)
    }

    /// Stops the API server (etcd and the controller manager keep running).
    pub async fn stop_apiserver(&self) -> Result<(), Error> {
        self.script("stop-apiserver").await
    }

    /// Starts the API server again with the same flags and waits until it is ready.
    pub async fn start_apiserver(&self) -> Result<(), Error> {
        self.script("start-apiserver").await?;
        if let Some(marker) = self.restart_marker() {
            std::fs::write(&marker, b"").map_err(|source| Error::Read {
                path: marker.display().to_string(),
                source,
            })?;
        }
        Ok(())
    }

    /// A file in the control plane's folder saying its API server was restarted since the
    /// controller manager was last seen working.
    fn restart_marker(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join("apiserver-restarted"))
    }

    /// Compacts etcd to its current revision: watches resuming from older versions get 410 Gone.
    pub async fn compact(&self) -> Result<(), Error> {
        self.script("compact").await
    }

    /// Stops the API server, waits `downtime`, starts it again.
    pub async fn restart_apiserver(&self, downtime: Duration) -> Result<(), Error> {
        self.stop_apiserver().await?;
        tokio::time::sleep(downtime).await;
        self.start_apiserver().await
    }

    /// Runs `control-plane COMMAND DIR` on a blocking thread (it waits for processes).
    async fn script(&self, command: &'static str) -> Result<(), Error> {
        let dir = self
            .dir
            .clone()
            .ok_or_else(|| Error::ControlPlane(format!("{CONTROL_PLANE_DIR_ENV} is not set")))?;
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(control_plane_script())
                .arg(command)
                .arg(dir)
                .output()
        })
        .await
        .map_err(|e| Error::ControlPlane(e.to_string()))?
        .map_err(|e| Error::ControlPlane(format!("running control-plane {command}: {e}")))?;
        if !out.status.success() {
            return Err(Error::ControlPlane(format!(
                "control-plane {command} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }
}
