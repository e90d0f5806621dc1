//! The esox binary as a child process, and its memory as the kernel reports it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};

/// A running `esox run` against the benchmark's cluster.
pub struct EsoxProcess {
    child: Child,
    pid: u32,
    /// Where it serves `/metrics`.
    metrics: std::net::SocketAddr,
}

impl EsoxProcess {
    /// `log_filter` is esox's `RUST_LOG`; its log goes to `log`.
    pub fn spawn(
        bin: &Path,
        kubeconfig: &Path,
        log: &Path,
        log_filter: &str,
    ) -> anyhow::Result<Self> {
        if !bin.is_file() {
            bail!(
                "esox binary not found at {}: build it with `cargo build --release -p esox` or pass --esox-bin",
                bin.display()
            );
        }
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("creating the esox log {}", log.display()))?;
        // A port chosen here, so that the benchmark can read esox's own counters.
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let child = Command::new(bin)
            .args(["run", "--kubeconfig"])
            .arg(kubeconfig)
            .args([
                "--metrics-addr",
                &metrics.to_string(),
                "--health-addr",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        Ok(Self {
            child,
            pid,
            metrics,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Single remote secrets esox has read through its providers so far (ESO's
    /// `externalsecret_provider_api_calls_count`, call `GetSecret`, every provider and status).
    pub fn provider_reads(&self) -> anyhow::Result<u64> {
        Ok(provider_reads_in(&self.metrics_text()?))
    }

    /// esox's calls to Vault so far, by ESO's call names.
    pub fn vault_calls(&self) -> anyhow::Result<VaultCalls> {
        Ok(vault_calls_in(&self.metrics_text()?))
    }

    fn metrics_text(&self) -> anyhow::Result<String> {
        use std::io::{Read as _, Write as _};
        let mut conn = std::net::TcpStream::connect(self.metrics)
            .with_context(|| format!("reading esox's /metrics at {}", self.metrics))?;
        conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: esox\r\n\r\n")?;
        let mut text = String::new();
        conn.read_to_string(&mut text)?;
        Ok(text)
    }

    /// Fails if the process has already ended (so a crash is not mistaken for slowness).
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("esox exited early with {status}; see its log");
        }
        Ok(())
    }

    pub fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for EsoxProcess {
    fn drop(&mut self) {
        // A benchmark that fails half-way must not leave esox running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// esox with its memory sampled in the background, as every benchmark phase runs it.
pub struct Monitored {
    pub process: EsoxProcess,
    pub sampler: Sampler,
    sampling: tokio::task::JoinHandle<()>,
}

impl Monitored {
    pub fn spawn(
        bin: &Path,
        kubeconfig: &Path,
        log: &Path,
        log_filter: &str,
    ) -> anyhow::Result<Self> {
        let process = EsoxProcess::spawn(bin, kubeconfig, log, log_filter)?;
        let (sampler, sampling) = Sampler::start(process.pid(), Duration::from_millis(100));
        Ok(Self {
            process,
            sampler,
            sampling,
        })
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        read_memory(self.process.pid())
    }

    pub fn stop(self) -> anyhow::Result<()> {
        self.sampling.abort();
        self.process.stop()
    }
}

/// The sum of the `GetSecret` series of `externalsecret_provider_api_calls_count` in `text`.
pub fn provider_reads_in(text: &str) -> u64 {
    text.lines()
        .filter(|l| {
            l.starts_with("externalsecret_provider_api_calls_count{")
                && l.contains("call=\"GetSecret\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// esox's requests to Vault as its `externalsecret_provider_api_calls_count` series of
/// provider `HashiCorp/Vault` count them (every status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VaultCalls {
    pub logins: u64,
    /// KV reads (`ReadSecretData`).
    pub reads: u64,
    /// Every call, logins, reads, renewals and lookups included.
    pub total: u64,
}

impl VaultCalls {
    pub fn since(self, then: Self) -> Self {
        Self {
            logins: self.logins.saturating_sub(then.logins),
            reads: self.reads.saturating_sub(then.reads),
            total: self.total.saturating_sub(then.total),
        }
    }
}

pub fn vault_calls_in(text: &str) -> VaultCalls {
    let mut calls = VaultCalls::default();
    for line in text.lines().filter(|l| {
        l.starts_with("externalsecret_provider_api_calls_count{")
            && l.contains("provider=\"HashiCorp/Vault\"")
    }) {
        let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        let value = value as u64;
        calls.total += value;
        if line.contains("call=\"Login\"") {
            calls.logins += value;
        } else if line.contains("call=\"ReadSecretData\"") {
            calls.reads += value;
        }
    }
    calls
}

/// Resident memory of a process in KiB: current (`VmRSS`) and the high-water mark (`VmHWM`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Parses the `VmRSS` and `VmHWM` lines of `/proc/<pid>/status`.
pub fn parse_status(text: &str) -> Option<Memory> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

pub fn read_memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_status(&text).with_context(|| format!("no VmRSS/VmHWM in {path}"))
}

/// Samples the process's memory in the background so that averages over a window can be taken.
#[derive(Clone)]
pub struct Sampler {
    samples: Arc<Mutex<Vec<(tokio::time::Instant, Memory)>>>,
}

impl Sampler {
    pub fn start(pid: u32, every: Duration) -> (Self, tokio::task::JoinHandle<()>) {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sink = samples.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Ok(m) = read_memory(pid) else { break };
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((tokio::time::Instant::now(), m));
            }
        });
        (Self { samples }, task)
    }

    /// Mean RSS (KiB) of the samples taken since `since`.
    pub fn mean_rss_since(&self, since: tokio::time::Instant) -> Option<u64> {
        let s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let window: Vec<u64> = s
            .iter()
            .filter(|(t, _)| *t >= since)
            .map(|(_, m)| m.rss_kib)
            .collect();
        (!window.is_empty()).then(|| window.iter().sum::<u64>() / window.len() as u64)
    }

    /// Largest RSS (KiB) sampled since `since`.
    pub fn max_rss_since(&self, since: tokio::time::Instant) -> Option<u64> {
        let s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        s.iter()
            .filter(|(t, _)| *t >= since)
            .map(|(_, m)| m.rss_kib)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_reads_sum_the_get_secret_series() {
        let text = "# TYPE externalsecret_provider_api_calls_count counter\nexternalsecret_provider_api_calls_count{provider=\"Kubernetes\",call=\"GetSecret\",status=\"success\"} 3\nexternalsecret_provider_api_calls_count{provider=\"Kubernetes\",call=\"GetSecret\",status=\"error\"} 1\nexternalsecret_provider_api_calls_count{provider=\"Kubernetes\",call=\"ListSecrets\",status=\"success\"} 9\n";
        assert_eq!(provider_reads_in(text), 4);
        assert_eq!(provider_reads_in(""), 0);
    }

    #[test]
    fn vault_calls_count_only_the_vault_series() {
        let text = "externalsecret_provider_api_calls_count{provider=\"HashiCorp/Vault\",call=\"Login\",status=\"success\"} 1\nexternalsecret_provider_api_calls_count{provider=\"HashiCorp/Vault\",call=\"ReadSecretData\",status=\"success\"} 1000\nexternalsecret_provider_api_calls_count{provider=\"HashiCorp/Vault\",call=\"ReadSecretData\",status=\"error\"} 2\nexternalsecret_provider_api_calls_count{provider=\"HashiCorp/Vault\",call=\"LookupSelf\",status=\"success\"} 3\nexternalsecret_provider_api_calls_count{provider=\"Kubernetes\",call=\"GetSecret\",status=\"success\"} 9\n";
        let calls = vault_calls_in(text);
        assert_eq!(
            calls,
            VaultCalls {
                logins: 1,
                reads: 1002,
                total: 1006
            }
        );
        assert_eq!(calls.since(calls), VaultCalls::default());
    }

    #[test]
    fn reads_rss_and_hwm_from_proc_status() {
        let text =
            "Name:\tesox\nVmPeak:\t  900 kB\nVmHWM:\t   4321 kB\nVmRSS:\t   1234 kB\nThreads:\t3\n";
        assert_eq!(
            parse_status(text),
            Some(Memory {
                rss_kib: 1234,
                hwm_kib: 4321
            })
        );
        assert_eq!(parse_status("Name:\tx\nVmRSS:\t1 kB\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let m = read_memory(std::process::id()).unwrap();
        assert!(m.rss_kib > 0 && m.hwm_kib >= m.rss_kib, "{m:?}");
    }
}
