//! Command-line flags; the defaults are the sizes of the issue.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "esox-bench",
    about = "esox benchmarks: ExternalSecrets (default), PushSecrets (`push`) or Vault ExternalSecrets (`vault`), each against direct Secret creation, on in-memory test clusters or (ExternalSecrets) a real Kubernetes API server"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Mode>,
    /// Object counts to run, one full run each (fresh clusters, fresh esox process). Default:
    /// 1000,10000 ExternalSecrets; 1000 PushSecrets; 1000 Vault ExternalSecrets.
    #[arg(long, global = true, value_delimiter = ',')]
    pub sizes: Vec<usize>,
    /// Shorthand for `--sizes 1000`.
    #[arg(long, global = true)]
    pub quick: bool,
    /// Unrelated Secrets present before esox starts (in the cluster esox runs against).
    #[arg(long, global = true, default_value_t = 5_000)]
    pub unrelated: usize,
    /// ExternalSecret benchmark: unrelated Secrets added afterwards to measure what they cost
    /// esox in memory (0 skips).
    #[arg(long, global = true, default_value_t = 50_000)]
    pub extra_unrelated: usize,
    /// ExternalSecret benchmark: skip the second variant of (a), ExternalSecrets created before
    /// esox starts (it needs a fresh cluster of its own).
    #[arg(long, global = true)]
    pub skip_precreated: bool,
    /// Namespaces the benchmark's objects (and the direct Secrets of the baseline) are spread over.
    #[arg(long, global = true, default_value_t = 100)]
    pub namespaces: usize,
    /// Requests the benchmark keeps in flight when it creates objects (same for both sides).
    #[arg(long, global = true, default_value_t = 16)]
    pub concurrency: usize,
    /// Requests in flight when the benchmark sends ESO's writes itself for the (a'') floor:
    /// esox's own reconcile concurrency, so that the floor is what a controller working as
    /// many ExternalSecrets at once as esox could reach at best.
    #[arg(long, global = true, default_value_t = 32)]
    pub floor_concurrency: usize,
    /// Source changes timed for the propagation latency.
    #[arg(long, global = true, default_value_t = 20)]
    pub latency_rounds: usize,
    /// Quiet time before the steady-state window starts.
    #[arg(long, global = true, default_value = "10", value_parser = parse_secs)]
    pub settle: Duration,
    /// Length of the steady-state window in which API requests are counted.
    #[arg(long, global = true, default_value = "30", value_parser = parse_secs)]
    pub window: Duration,
    /// After the latency rounds esox is killed and started again with nothing changed; the
    /// requests it makes in this long after its start are counted (0 skips the restart).
    #[arg(long, global = true, default_value = "20", value_parser = parse_secs)]
    pub restart_window: Duration,
    /// Give up waiting for esox after this long.
    #[arg(long, global = true, default_value = "600", value_parser = parse_secs)]
    pub timeout: Duration,
    /// ExternalSecret benchmark on an existing real cluster instead of the in-memory server.
    /// Both variants of (a) run on it, one after the other: each deletes its namespaces (and
    /// the finalizers in them) when it ends. Needs an admin token: the request counts are read
    /// from the API server's `/metrics`.
    #[arg(
        long,
        global = true,
        env = "ESOX_BENCH_KUBECONFIG",
        conflicts_with = "control_plane"
    )]
    pub kubeconfig: Option<PathBuf>,
    /// ExternalSecret benchmark on a real control plane started with this script
    /// (`tools/control-plane/control-plane`): `SCRIPT up DIR` for each variant of (a), so each
    /// gets a fresh cluster as in memory, and `SCRIPT down DIR` after it.
    #[arg(long, global = true, env = "ESOX_BENCH_CONTROL_PLANE")]
    pub control_plane: Option<PathBuf>,
    /// Kubernetes version passed to `--control-plane` (its default otherwise).
    #[arg(long, global = true, requires = "control_plane")]
    pub k8s_version: Option<String>,
    /// esox's `RUST_LOG` (its log is kept in the run's directory under the temporary
    /// directory, `esox-bench-<pid>-<variant>-<n>/esox.log`); e.g. `warn,kube_client=debug` to
    /// see its requests.
    #[arg(long, global = true, default_value = "warn")]
    pub esox_log: String,
    /// Vault benchmark: lifetime (TTL and max TTL) of the AppRole tokens, seconds. Shorter
    /// than a run, it measures the logins across token expiries.
    #[arg(long, global = true, default_value = "3600", value_parser = parse_secs)]
    pub vault_token_ttl: Duration,
    /// The esox binary; default `$CARGO_TARGET_DIR/release/esox`, else `target/release/esox`.
    #[arg(long, global = true)]
    pub esox_bin: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum Mode {
    /// The ExternalSecret benchmark (what runs without a subcommand).
    Es,
    /// The PushSecret benchmark: PushSecrets on a "platform" cluster push to a second "dev"
    /// test cluster with the Kubernetes provider.
    Push,
    /// The Vault benchmark: ExternalSecrets reading KV v2 secrets from a real OpenBao dev
    /// server (`bao`, installed by scripts/install-test-deps) through one ClusterSecretStore.
    Vault,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("`{s}` is not a number of seconds (e.g. 30 or 2.5)"))
}

impl Args {
    pub fn mode(&self) -> Mode {
        self.command.unwrap_or(Mode::Es)
    }

    pub fn sizes(&self) -> Vec<usize> {
        if self.quick {
            vec![1_000]
        } else if !self.sizes.is_empty() {
            self.sizes.clone()
        } else {
            match self.mode() {
                Mode::Es => vec![1_000, 10_000],
                Mode::Push | Mode::Vault => vec![1_000],
            }
        }
    }

    pub fn esox_bin(&self) -> PathBuf {
        if let Some(p) = &self.esox_bin {
            return p.clone();
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target"));
        target.join("release").join("esox")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_are_the_issue_sizes_and_quick_runs_one_thousand() {
        let a = Args::parse_from(["esox-bench"]);
        assert_eq!(a.mode(), Mode::Es);
        assert_eq!(a.sizes(), vec![1_000, 10_000]);
        assert_eq!(a.unrelated, 5_000);
        assert_eq!(a.extra_unrelated, 50_000);
        assert!(!a.skip_precreated);
        assert!(a.kubeconfig.is_none() && a.control_plane.is_none());
        let q = Args::parse_from(["esox-bench", "--quick"]);
        assert_eq!(q.sizes(), vec![1_000]);
    }

    #[test]
    fn push_mode_defaults_to_one_thousand_and_takes_flags_on_either_side() {
        let p = Args::parse_from(["esox-bench", "push"]);
        assert_eq!(p.mode(), Mode::Push);
        assert_eq!(p.sizes(), vec![1_000]);
        let before = Args::parse_from(["esox-bench", "--sizes", "50", "push", "--window", "2"]);
        assert_eq!(before.mode(), Mode::Push);
        assert_eq!(before.sizes(), vec![50]);
        assert_eq!(before.window, Duration::from_secs(2));
        let es = Args::parse_from(["esox-bench", "es", "--skip-precreated"]);
        assert_eq!(es.mode(), Mode::Es);
        assert!(es.skip_precreated);
        let v = Args::parse_from(["esox-bench", "vault", "--window", "5"]);
        assert_eq!(v.mode(), Mode::Vault);
        assert_eq!(v.sizes(), vec![1_000]);
    }

    #[test]
    fn a_real_server_comes_from_a_kubeconfig_or_a_control_plane_script_not_both() {
        let k = Args::parse_from(["esox-bench", "es", "--kubeconfig", "/tmp/kc"]);
        assert_eq!(k.kubeconfig, Some(PathBuf::from("/tmp/kc")));
        let c = Args::parse_from(["esox-bench", "--control-plane", "cp", "--k8s-version", "v1"]);
        assert_eq!(c.control_plane, Some(PathBuf::from("cp")));
        assert_eq!(c.k8s_version.as_deref(), Some("v1"));
        assert!(
            Args::try_parse_from(["esox-bench", "--kubeconfig", "a", "--control-plane", "b"])
                .is_err()
        );
    }

    #[test]
    fn seconds_accept_fractions_and_refuse_words() {
        let a = Args::parse_from(["esox-bench", "--settle", "2.5", "--sizes", "10,20"]);
        assert_eq!(a.settle, Duration::from_millis(2_500));
        assert_eq!(a.sizes(), vec![10, 20]);
        let err = Args::try_parse_from(["esox-bench", "--window", "soon"]).unwrap_err();
        assert!(err.to_string().contains("is not a number of seconds"));
    }
}
