//! `esox run`: the controllers against the cluster of a kubeconfig.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use esox_controller::leader::LeaderElector;
use esox_controller::{Options, runner};
use esox_providers::LocalCluster;
use tokio::task::JoinHandle;

use crate::flags::RunFlags;
use crate::serve::{self, Probes};

/// Loads the kubeconfig the standard way: `--kubeconfig`, `KUBECONFIG`, `~/.kube/config`, in-cluster.
pub async fn kube_config(path: Option<&PathBuf>) -> anyhow::Result<kube::Config> {
    match path {
        Some(p) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(p)
                .with_context(|| format!("reading the kubeconfig {}", p.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .with_context(|| format!("using the kubeconfig {}", p.display()))
        }
        None => match kube::Config::from_kubeconfig(&Default::default()).await {
            Ok(config) => Ok(config),
            Err(kubeconfig_error) => match std::env::var("KUBERNETES_SERVICE_HOST") {
                Ok(host) => {
                    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_default();
                    in_cluster(std::path::Path::new(SERVICE_ACCOUNT_DIR), &host, &port)
                }
                Err(_) => Err(anyhow::Error::new(kubeconfig_error).context(
                    "no cluster configured: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config or run in a pod",
                )),
            },
        },
    }
}

/// Where the kubelet mounts a pod's ServiceAccount token, CA bundle and namespace.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The configuration of a pod: the API server at `host:port` (the kubelet's
/// `KUBERNETES_SERVICE_HOST`/`PORT`), verified with `dir/ca.crt`, authenticated with the token in
/// `dir/token`. kube re-reads both files about once a minute, so a projected token the kubelet
/// rotates (hourly by default) is picked up without a restart.
pub fn in_cluster(dir: &std::path::Path, host: &str, port: &str) -> anyhow::Result<kube::Config> {
    let port: u16 = port.parse().with_context(|| {
        format!("in-cluster: KUBERNETES_SERVICE_PORT {port:?} is not a port number")
    })?;
    let authority = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{host}:{port}"),
    };
    let url = format!("https://{authority}")
        .parse()
        .with_context(|| format!("in-cluster: {authority} is not a valid server address"))?;
    let ca_file = dir.join("ca.crt");
    let ca = std::fs::read(&ca_file)
        .with_context(|| format!("in-cluster: reading the CA bundle {}", ca_file.display()))?;
    let certs: Vec<Vec<u8>> = pem::parse_many(&ca)
        .with_context(|| format!("in-cluster: {} is not PEM", ca_file.display()))?
        .into_iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .map(|p| p.into_contents())
        .collect();
    anyhow::ensure!(
        !certs.is_empty(),
        "in-cluster: {} holds no certificate",
        ca_file.display()
    );
    let token_file = dir.join("token");
    // Read once now so that a missing or unreadable token fails at start, not at the first call.
    std::fs::metadata(&token_file)
        .with_context(|| format!("in-cluster: reading the token {}", token_file.display()))?;
    let mut config = kube::Config::new(url);
    config.root_cert = Some(certs);
    config.root_cert_file = Some(ca_file);
    config.auth_info.token_file = Some(token_file.to_string_lossy().into_owned());
    if let Ok(namespace) = std::fs::read_to_string(dir.join("namespace")) {
        config.default_namespace = namespace.trim().to_owned();
    }
    Ok(config)
}

/// The address and CA of the API server in `config`, for stores that mean "this cluster".
pub fn local_cluster(config: &kube::Config) -> LocalCluster {
    let ca_pem = config.root_cert.as_ref().map(|certs| {
        let mut pem = String::new();
        for der in certs {
            pem.push_str("-----BEGIN CERTIFICATE-----\n");
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            for chunk in b64.as_bytes().chunks(64) {
                pem.push_str(&String::from_utf8_lossy(chunk));
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
        }
        pem.into_bytes()
    });
    LocalCluster {
        url: config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned(),
        ca_pem,
    }
}

pub async fn run(flags: RunFlags) -> anyhow::Result<()> {
    let config = kube_config(flags.kubeconfig.as_ref()).await?;
    let local = local_cluster(&config);
    let client = kube::Client::try_from(config).context("building the Kubernetes client")?;
    let options = flags.options();
    if let Some(election) = flags.leader_election.config() {
        let elector = LeaderElector::new(client.clone(), election)?;
        return run_elected(
            elector,
            client,
            options,
            local,
            flags.metrics_addr,
            flags.health_addr,
        )
        .await;
    }
    let (running, metrics) = tokio::sync::watch::channel(None);
    let probes = Arc::new(Probes {
        metrics,
        ready: AtomicBool::new(false),
        leader: None,
    });
    let servers = serve_probes(flags.metrics_addr, flags.health_addr, &probes).await?;
    let mut signal = Box::pin(wait_for_signal());
    if !crate::crd_check::wait_until_installed(&client, &mut signal).await {
        for server in servers {
            server.abort();
        }
        return Ok(());
    }
    tracing::info!(server = %local.url, class = %options.controller_class, namespace = options.namespace.as_deref().unwrap_or("(all)"), "starting controllers");
    let (ctx, shutdown, task) = runner::start(client, options, local);
    running.send_replace(Some(ctx));
    probes.ready.store(true, Ordering::Relaxed);
    signal.await;
    tracing::info!("shutting down");
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    for server in servers {
        server.abort();
    }
    Ok(())
}

/// The controllers run only while this replica holds the Lease; a lost Lease stops them and the
/// replica stands again (it does not exit), and SIGTERM releases the Lease for a quick hand-over.
async fn run_elected(
    elector: LeaderElector,
    client: kube::Client,
    options: Options,
    local: LocalCluster,
    metrics_addr: SocketAddr,
    health_addr: SocketAddr,
) -> anyhow::Result<()> {
    let election = elector.config().clone();
    tracing::info!(
        server = %local.url,
        class = %options.controller_class,
        lease = %election.lease_name,
        namespace = %election.namespace,
        identity = %election.identity,
        "leader election enabled; the controllers start once this replica leads"
    );
    // Each term publishes its controllers' context; /metrics follows it.
    let (contexts, metrics) = tokio::sync::watch::channel(None);
    let probes = Arc::new(Probes {
        metrics,
        ready: AtomicBool::new(false),
        leader: Some((election.lease_name.clone(), elector.status())),
    });
    let servers = serve_probes(metrics_addr, health_addr, &probes).await?;
    let mut signal = Box::pin(wait_for_signal());
    if !crate::crd_check::wait_until_installed(&client, &mut signal).await {
        for server in servers {
            server.abort();
        }
        return Ok(());
    }
    // Followers are ready too: they are healthy standbys, and a rolling update of the
    // Deployment would stall if only the leader could become Ready.
    probes.ready.store(true, Ordering::Relaxed);
    let result =
        esox_controller::leader::run_controllers(elector, client, options, local, signal, contexts)
            .await;
    for server in servers {
        server.abort();
    }
    result.context("leader election")
}

/// Serves /metrics on `metrics_addr` and the health endpoints on `health_addr` (one server
/// when they are the same address).
async fn serve_probes(
    metrics_addr: SocketAddr,
    health_addr: SocketAddr,
    probes: &Arc<Probes>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let mut servers = vec![serve::serve(metrics_addr, probes.clone()).await?];
    if health_addr != metrics_addr {
        servers.push(serve::serve(health_addr, probes.clone()).await?);
    }
    Ok(servers)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

    use super::*;
    use k8s_openapi::api::core::v1::Namespace;

    async fn can_list(config: kube::Config) -> Result<(), kube::Error> {
        let client = kube::Client::try_from(config)?;
        kube::Api::<Namespace>::all(client)
            .list_metadata(&Default::default())
            .await
            .map(|_| ())
    }

    /// Started as the kubelet starts a pod (token and CA files, host and port), esox connects
    /// with them, verifying the server with the CA file, and picks up a rotated token file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_cluster_config_uses_the_mounted_files_and_rereads_a_rotated_token() {
        let cluster = esox_testcluster::TestCluster::start(Default::default())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), cluster.ca_pem()).unwrap();
        std::fs::write(dir.path().join("namespace"), "esox-system").unwrap();
        std::fs::write(dir.path().join("token"), cluster.admin_token()).unwrap();
        let addr = cluster.addr();
        let config =
            in_cluster(dir.path(), &addr.ip().to_string(), &addr.port().to_string()).unwrap();
        assert_eq!(config.default_namespace, "esox-system");
        can_list(config)
            .await
            .expect("connects with the mounted token and CA");

        // Another CA: the server is not trusted, so the token is never sent.
        let other = esox_testcluster::TestCluster::start(Default::default())
            .await
            .unwrap();
        let wrong = tempfile::tempdir().unwrap();
        std::fs::write(wrong.path().join("ca.crt"), other.ca_pem()).unwrap();
        std::fs::write(wrong.path().join("token"), cluster.admin_token()).unwrap();
        let config = in_cluster(
            wrong.path(),
            &addr.ip().to_string(),
            &addr.port().to_string(),
        )
        .unwrap();
        assert!(can_list(config).await.is_err(), "TLS is verified");

        // Rotation: the process starts with a token the server refuses, then the kubelet writes
        // a good one. kube re-reads the file once the cached copy is 50 s old.
        std::fs::write(dir.path().join("token"), "rotated-out").unwrap();
        let config =
            in_cluster(dir.path(), &addr.ip().to_string(), &addr.port().to_string()).unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let api = kube::Api::<Namespace>::all(client);
        let refused = api.list_metadata(&Default::default()).await.unwrap_err();
        assert!(
            matches!(&refused, kube::Error::Api(s) if s.code == 401),
            "{refused}"
        );
        std::fs::write(dir.path().join("token"), cluster.admin_token()).unwrap();
        let started = std::time::Instant::now();
        let mut accepted = false;
        while started.elapsed() < Duration::from_secs(70) {
            if api.list_metadata(&Default::default()).await.is_ok() {
                accepted = true;
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert!(accepted, "the rotated token was never read");
        println!("rotated token in use after {:?}", started.elapsed());
    }

    #[test]
    fn in_cluster_config_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = in_cluster(dir.path(), "10.0.0.1", "443").unwrap_err();
        assert!(format!("{err:#}").contains("ca.crt"), "{err:#}");
        let err = in_cluster(dir.path(), "10.0.0.1", "https").unwrap_err();
        assert!(format!("{err:#}").contains("not a port number"), "{err:#}");
    }
}
