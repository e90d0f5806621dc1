//! The API server a benchmark runs against: the in-memory test cluster started in this process,
//! a real control plane started for the run by `tools/control-plane/control-plane`, or an
//! existing cluster named by a kubeconfig. Each gives a client, a kubeconfig for esox and the
//! API requests it has received, split into reads and writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use esox_testcluster::TestCluster;

use crate::args::Args;

pub enum Cluster {
    /// Boxed: it is much larger than the other variant.
    InMemory(Box<TestCluster>),
    Real(Real),
}

/// A real kube-apiserver. Its request counts come from its own `/metrics`.
pub struct Real {
    kubeconfig: PathBuf,
    client: kube::Client,
    /// Set when the benchmark started the control plane (stopped when this is dropped).
    started: Option<ControlPlane>,
    /// The version the control-plane script built (binaries built from the Go module report
    /// `v0.0.0-master` as their own version).
    version: Option<String>,
}

impl Real {
    /// The API server's `/metrics` text.
    async fn metrics(&self) -> anyhow::Result<String> {
        let req = kube::core::Request::new("")
            .get("metrics", &Default::default())
            .context("building the /metrics request")?;
        self.client
            .request_text(req)
            .await
            .context("reading the API server's /metrics")
    }
}

/// A control plane this benchmark started with `SCRIPT up DIR`; `SCRIPT down DIR` on drop, so
/// that a benchmark that fails half-way leaves no control plane running.
struct ControlPlane {
    script: PathBuf,
    dir: PathBuf,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let dir = self.dir.display();
        match Command::new(&self.script)
            .arg("down")
            .arg(&self.dir)
            .status()
        {
            Ok(s) if s.success() => tracing::info!(%dir, "control plane stopped"),
            Ok(s) => tracing::warn!(%dir, %s, "control-plane down failed"),
            Err(e) => tracing::warn!(%dir, error = %e, "control-plane down failed"),
        }
    }
}

impl Cluster {
    /// The cluster `args` selects; `dir` holds its kubeconfig (and the control plane's files).
    pub async fn start(args: &Args, dir: &Path) -> anyhow::Result<Self> {
        if let Some(kubeconfig) = &args.kubeconfig {
            let client = client_from(kubeconfig).await?;
            return Ok(Self::Real(Real {
                kubeconfig: kubeconfig.clone(),
                client,
                started: None,
                version: None,
            }));
        }
        if let Some(script) = &args.control_plane {
            let cp_dir = dir.join("control-plane");
            let mut up = Command::new(script);
            up.arg("up").arg(&cp_dir);
            if let Some(v) = &args.k8s_version {
                up.arg(v);
            }
            tracing::info!(dir = %cp_dir.display(), "starting a control plane");
            // Made before `up` runs so that a half-started control plane is stopped too.
            let guard = ControlPlane {
                script: script.clone(),
                dir: cp_dir.clone(),
            };
            let out = up
                .output()
                .with_context(|| format!("running {} up", script.display()))?;
            if !out.status.success() {
                bail!(
                    "{} up {} failed ({}):\n{}",
                    script.display(),
                    cp_dir.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let kubeconfig = cp_dir.join("kubeconfig");
            let version = std::fs::read_to_string(cp_dir.join("version"))
                .ok()
                .map(|v| v.trim().to_owned());
            return Ok(Self::Real(Real {
                client: client_from(&kubeconfig).await?,
                kubeconfig,
                started: Some(guard),
                version,
            }));
        }
        let cluster = TestCluster::start(Default::default()).await?;
        cluster.write_kubeconfig(dir.join("kubeconfig"))?;
        Ok(Self::InMemory(Box::new(cluster)))
    }

    /// Which API server this is, for the tables' titles.
    pub async fn describe(&self) -> String {
        match self {
            Self::InMemory(_) => "the in-memory test API server".to_string(),
            Self::Real(Real {
                version: Some(v), ..
            }) => format!("a real kube-apiserver {v} with etcd (started by the benchmark)"),
            Self::Real(r) => match r.client.apiserver_version().await {
                Ok(v) => format!("a real kube-apiserver {} (--kubeconfig)", v.git_version),
                Err(e) => format!("a real kube-apiserver (--kubeconfig; version unknown: {e})"),
            },
        }
    }

    pub fn is_real(&self) -> bool {
        matches!(self, Self::Real(_))
    }

    /// Whether objects of an earlier run may still be there (a cluster the benchmark did not
    /// start), so that the run must clean up after itself.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Real(Real { started: None, .. }))
    }

    /// Where esox finds this cluster.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        match self {
            Self::InMemory(_) => dir.join("kubeconfig"),
            Self::Real(r) => r.kubeconfig.clone(),
        }
    }

    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        match self {
            Self::InMemory(c) => Ok(c.client().await?),
            Self::Real(r) => Ok(r.client.clone()),
        }
    }

    /// API requests received so far as `(reads, writes)`. In memory the server counts them
    /// itself (reads = GET/HEAD, list and watch included); a real API server is asked for its
    /// `apiserver_request_total` counters, which count a watch when it ends.
    pub async fn request_counts(&self) -> anyhow::Result<(u64, u64)> {
        match self {
            Self::InMemory(c) => Ok(c.request_counts()),
            Self::Real(r) => parse_request_total(&r.metrics().await?)
                .context("no apiserver_request_total in the API server's /metrics"),
        }
    }

    /// A real API server's requests so far for one `(verb, resource)`, e.g. `("GET",
    /// "secrets")`; `None` in memory, where the server only counts reads and writes.
    pub async fn requests_for(&self, verb: &str, resource: &str) -> anyhow::Result<Option<u64>> {
        match self {
            Self::InMemory(_) => Ok(None),
            Self::Real(r) => Ok(Some(request_total_for(&r.metrics().await?, verb, resource))),
        }
    }

    pub fn shutdown(self) {
        match self {
            Self::InMemory(c) => c.shutdown(),
            Self::Real(r) => drop(r),
        }
    }
}

async fn client_from(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .with_context(|| format!("using {}", kubeconfig.display()))?;
    Ok(kube::Client::try_from(config)?)
}

/// Sums `apiserver_request_total` over its series as `(reads, writes)`: reads are the verbs
/// GET, LIST, WATCH and WATCHLIST, writes every other verb. The benchmark's own scrapes of
/// `/metrics` are left out so that reading the counters does not change them.
pub fn parse_request_total(text: &str) -> Option<(u64, u64)> {
    let mut seen = false;
    let (mut reads, mut writes) = (0u64, 0u64);
    for series in request_series(text) {
        seen = true;
        if series.label("subresource") == Some("/metrics") {
            continue;
        }
        match series.label("verb") {
            Some("GET" | "LIST" | "WATCH" | "WATCHLIST") => reads += series.value,
            _ => writes += series.value,
        }
    }
    seen.then_some((reads, writes))
}

/// The sum of `apiserver_request_total` over the series of one verb and resource (every code,
/// scope and subresource).
pub fn request_total_for(text: &str, verb: &str, resource: &str) -> u64 {
    request_series(text)
        .filter(|s| s.label("verb") == Some(verb) && s.label("resource") == Some(resource))
        .map(|s| s.value)
        .sum()
}

/// One series of `apiserver_request_total`.
struct Series<'a> {
    labels: &'a str,
    value: u64,
}

impl Series<'_> {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .split(',')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix("=\""))
            .map(|v| v.trim_end_matches('"'))
    }
}

fn request_series(text: &str) -> impl Iterator<Item = Series<'_>> {
    text.lines().filter_map(|line| {
        let rest = line.strip_prefix("apiserver_request_total{")?;
        let (labels, value) = rest.rsplit_once('}')?;
        // Counters are printed as floats (e.g. `12` or `1.2e+06`).
        let value = value.trim().parse::<f64>().ok()? as u64;
        Some(Series { labels, value })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_totals_split_by_verb_without_metrics_scrapes() {
        let text = r#"# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="GET",version="v1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="cluster",subresource="",verb="LIST",version="v1"} 2
apiserver_request_total{code="0",component="apiserver",dry_run="",group="",resource="secrets",scope="cluster",subresource="",verb="WATCH",version="v1"} 3
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 1.2e+03
apiserver_request_total{code="200",component="apiserver",dry_run="",group="external-secrets.io",resource="externalsecrets",scope="resource",subresource="status",verb="PATCH",version="v1"} 7
apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 40
apiserver_request_total_other{verb="POST"} 9
apiserver_request_duration_seconds_count{verb="POST"} 9
"#;
        assert_eq!(parse_request_total(text), Some((10, 1207)));
        assert_eq!(request_total_for(text, "GET", "secrets"), 5);
        assert_eq!(request_total_for(text, "LIST", "secrets"), 2);
        assert_eq!(request_total_for(text, "PATCH", "secrets"), 0);
        assert_eq!(parse_request_total("# nothing here\n"), None);
    }
}
