//! `esox run`: the controllers against the cluster of a kubeconfig.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use esox_controller::leader::{LeaderElectionConfig, LeaderElector};
use esox_controller::{Options, runner};
use esox_providers::LocalCluster;
use tokio::task::JoinHandle;

use crate::serve::{self, Probes};

/// Settings of `esox run`.
pub struct RunArgs {
    pub kubeconfig: Option<PathBuf>,
    pub controller_class: String,
    pub metrics_addr: SocketAddr,
    pub health_addr: SocketAddr,
    pub enable_flood_gate: bool,
    pub store_requeue_interval: Duration,
    /// Run the controllers only while holding this Lease (`--enable-leader-election`).
    pub leader_election: Option<LeaderElectionConfig>,
    /// Namespace, controllers and concurrency (see `cli::ScopeFlags`); the fields above win.
    pub scope: Options,
}

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
        None => kube::Config::infer()
            .await
            .context("no cluster configured: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config or run in a pod"),
    }
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

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = kube_config(args.kubeconfig.as_ref()).await?;
    let local = local_cluster(&config);
    let client = kube::Client::try_from(config).context("building the Kubernetes client")?;
    let options = Options {
        controller_class: args.controller_class,
        flood_gate: args.enable_flood_gate,
        store_requeue_interval: args.store_requeue_interval,
        ..args.scope
    };
    if let Some(election) = args.leader_election {
        let elector = LeaderElector::new(client.clone(), election)?;
        return run_elected(
            elector,
            client,
            options,
            local,
            args.metrics_addr,
            args.health_addr,
        )
        .await;
    }
    tracing::info!(server = %local.url, class = %options.controller_class, namespace = options.namespace.as_deref().unwrap_or("(all)"), "starting controllers");
    let (ctx, shutdown, task) = runner::start(client, options, local);
    let (_running, metrics) = tokio::sync::watch::channel(Some(ctx));
    let probes = Arc::new(Probes {
        metrics,
        ready: AtomicBool::new(false),
        leader: None,
    });
    let servers = serve_probes(args.metrics_addr, args.health_addr, &probes).await?;
    probes.ready.store(true, Ordering::Relaxed);
    wait_for_signal().await;
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
    // Followers are ready too: they are healthy standbys, and a rolling update of the
    // Deployment would stall if only the leader could become Ready.
    probes.ready.store(true, Ordering::Relaxed);
    let result = esox_controller::leader::run_controllers(
        elector,
        client,
        options,
        local,
        wait_for_signal(),
        contexts,
    )
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
