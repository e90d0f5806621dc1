//! `esox run`: the controllers against the cluster of a kubeconfig.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use esox_controller::{Options, runner};
use esox_providers::LocalCluster;

use crate::serve::{self, Probes};

/// Settings of `esox run`.
pub struct RunArgs {
    pub kubeconfig: Option<PathBuf>,
    pub controller_class: String,
    pub metrics_addr: SocketAddr,
    pub health_addr: SocketAddr,
    pub enable_flood_gate: bool,
    pub store_requeue_interval: Duration,
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
        ..Options::default()
    };
    tracing::info!(server = %local.url, class = %options.controller_class, "starting controllers");
    let (ctx, shutdown, task) = runner::start(client, options, local);
    let probes = Arc::new(Probes {
        metrics: ctx.clone(),
        ready: AtomicBool::new(false),
    });
    let metrics = serve::serve(args.metrics_addr, probes.clone()).await?;
    let health = if args.health_addr == args.metrics_addr {
        None
    } else {
        Some(serve::serve(args.health_addr, probes.clone()).await?)
    };
    probes.ready.store(true, Ordering::Relaxed);
    wait_for_signal().await;
    tracing::info!("shutting down");
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    metrics.abort();
    if let Some(h) = health {
        h.abort();
    }
    Ok(())
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
