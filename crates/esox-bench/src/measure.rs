//! Measurement steps both benchmarks share: the run directory, API request counts, the quiet
//! steady-state window and a series of timed changes.

use std::path::PathBuf;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::esox_process::Sampler;
use anyhow::Context;

/// A fresh directory for one run's kubeconfigs and esox log.
pub fn run_dir(tag: &str, n: usize) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("esox-bench-{}-{tag}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Requests (reads, writes) a cluster received since `since` was taken.
pub async fn requests_since(cluster: &Cluster, since: (u64, u64)) -> anyhow::Result<(u64, u64)> {
    let (r, w) = cluster.request_counts().await?;
    Ok((r.saturating_sub(since.0), w.saturating_sub(since.1)))
}

/// What the steady-state window saw: esox's mean RSS and the requests each cluster received.
pub struct Steady {
    pub rss_kib: u64,
    pub requests: Vec<(u64, u64)>,
    /// When the window began, to look up other samples from then on.
    pub start: tokio::time::Instant,
}

/// Waits `settle`, then counts the requests `clusters` receive during `window` while the
/// benchmark sends nothing, and averages esox's RSS over it.
pub async fn steady(
    settle: Duration,
    window: Duration,
    sampler: &Sampler,
    clusters: &[&Cluster],
) -> anyhow::Result<Steady> {
    tokio::time::sleep(settle).await;
    let start = tokio::time::Instant::now();
    let mut before = Vec::new();
    for c in clusters {
        before.push(c.request_counts().await?);
    }
    tokio::time::sleep(window).await;
    let mut requests = Vec::new();
    for (c, b) in clusters.iter().zip(before) {
        requests.push(requests_since(c, b).await?);
    }
    let rss_kib = sampler
        .mean_rss_since(start)
        .context("no memory samples in the steady window")?;
    Ok(Steady {
        rss_kib,
        requests,
        start,
    })
}
