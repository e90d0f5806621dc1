//! Command-line flags; the defaults are the sizes of the issue.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "esox-bench",
    about = "ExternalSecret benchmark: esox on the in-memory test cluster against direct Secret creation"
)]
pub struct Args {
    /// ExternalSecret counts to run, one full run each (fresh cluster, fresh esox process).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1_000usize, 10_000])]
    pub sizes: Vec<usize>,
    /// Shorthand for `--sizes 1000`.
    #[arg(long)]
    pub quick: bool,
    /// Unrelated Secrets present before esox starts.
    #[arg(long, default_value_t = 5_000)]
    pub unrelated: usize,
    /// Unrelated Secrets added afterwards to measure what they cost esox in memory (0 skips).
    #[arg(long, default_value_t = 50_000)]
    pub extra_unrelated: usize,
    /// Namespaces the ExternalSecrets (and the direct Secrets of the baseline) are spread over.
    #[arg(long, default_value_t = 100)]
    pub namespaces: usize,
    /// Requests the benchmark keeps in flight when it creates objects (same for both sides).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Source changes timed for the propagation latency.
    #[arg(long, default_value_t = 20)]
    pub latency_rounds: usize,
    /// Quiet time before the steady-state window starts.
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    pub settle: Duration,
    /// Length of the steady-state window in which API requests are counted.
    #[arg(long, default_value = "30", value_parser = parse_secs)]
    pub window: Duration,
    /// Give up waiting for the ExternalSecrets after this long.
    #[arg(long, default_value = "600", value_parser = parse_secs)]
    pub timeout: Duration,
    /// The esox binary; default `$CARGO_TARGET_DIR/release/esox`, else `target/release/esox`.
    #[arg(long)]
    pub esox_bin: Option<PathBuf>,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("`{s}` is not a number of seconds (e.g. 30 or 2.5)"))
}

impl Args {
    pub fn sizes(&self) -> Vec<usize> {
        if self.quick {
            vec![1_000]
        } else {
            self.sizes.clone()
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
        assert_eq!(a.sizes(), vec![1_000, 10_000]);
        assert_eq!(a.unrelated, 5_000);
        assert_eq!(a.extra_unrelated, 50_000);
        let q = Args::parse_from(["esox-bench", "--quick"]);
        assert_eq!(q.sizes(), vec![1_000]);
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
