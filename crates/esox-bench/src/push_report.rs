//! The figures of one PushSecret run and their table.

use std::time::Duration;

use crate::report::{Table, mib, millis, ratio, secs, verdict};

#[derive(Debug, Clone, Default)]
pub struct PushResult {
    pub n: usize,
    pub namespaces: usize,
    pub unrelated: usize,
    /// Writing the n Secrets directly to dev, the physical limit.
    pub direct: Duration,
    /// (a''): the requests an ESO-compatible push cannot avoid for n new PushSecrets (remote
    /// create, status patch, Event), sent directly with the same concurrency.
    pub eso_writes: Duration,
    /// The benchmark creating the n sources and the n PushSecrets (before esox starts).
    pub source_create: Duration,
    pub push_create: Duration,
    /// From spawning esox until the first remote copy is right.
    pub first_synced: Duration,
    /// From spawning esox until every PushSecret is Ready and every remote copy is right.
    pub all_synced: Duration,
    /// Requests (reads, writes) until then, on the platform cluster and on dev.
    pub ramp_platform: (u64, u64),
    pub ramp_dev: (u64, u64),
    pub idle_rss_kib: u64,
    pub peak_hwm_kib: u64,
    pub steady_rss_kib: u64,
    pub steady_window: Duration,
    pub steady_platform: (u64, u64),
    pub steady_dev: (u64, u64),
    pub latency_p50: Option<Duration>,
    pub latency_p99: Option<Duration>,
    pub latency_rounds: usize,
    /// All n sources changed at once: until the last remote copy carries the new value, and the
    /// benchmark's own n patches alone.
    pub all_change: Duration,
    pub all_change_patches: Duration,
    pub final_hwm_kib: u64,
    pub load: (String, String),
}

impl PushResult {
    pub fn ratio(&self) -> f64 {
        ratio(self.all_synced, self.direct)
    }

    /// esox's time against the floor (a'').
    pub fn floor_ratio(&self) -> f64 {
        ratio(self.all_synced, self.eso_writes)
    }

    pub fn table(&self) -> String {
        let mut t = Table::new(format!(
            "N = {} PushSecrets in {} namespaces to a second test cluster, {} unrelated Secrets; load average at start {}, at end {}",
            self.n, self.namespaces, self.unrelated, self.load.0, self.load.1
        ));
        let r = self.ratio();
        t.row(
            format!(
                "(a) esox start → all {} PushSecrets Ready and remote copies right / {} direct Secret writes to dev",
                self.n, self.n
            ),
            format!(
                "{} / {} = **{r:.2}x** (first remote copy after {})",
                secs(self.all_synced),
                secs(self.direct),
                secs(self.first_synced)
            ),
            "≤ 1.5x",
            verdict(r <= 1.5),
        );
        t.row(
            format!(
                "(a'') the requests an ESO-compatible push cannot avoid for {} new PushSecrets (remote Secret create on dev; status patch and `Synced` Event on platform), sent directly with the same concurrency, no reads / {} direct Secret writes; esox's (a) time / that",
                self.n, self.n
            ),
            format!(
                "{} / {} = {:.2}x; esox {} / {} = **{:.2}x**",
                secs(self.eso_writes),
                secs(self.direct),
                ratio(self.eso_writes, self.direct),
                secs(self.all_synced),
                secs(self.eso_writes),
                self.floor_ratio()
            ),
            "(the floor of any ESO-compatible controller on these servers)",
            "info",
        );
        t.row(
            "setup before esox starts: sources / PushSecrets created by the benchmark",
            format!("{} / {}", secs(self.source_create), secs(self.push_create)),
            "(not part of (a))",
            "info",
        );
        let per = |v: u64| v as f64 / self.n.max(1) as f64;
        let rw = |(r, w): (u64, u64)| format!("{r} ({:.2}) / {w} ({:.2})", per(r), per(w));
        t.row(
            "API requests until all synced, platform: reads / writes (per PushSecret)",
            rw(self.ramp_platform),
            "(floor (a''): 0 / 2 per PushSecret; direct writes: 0 / 0)",
            "info",
        );
        t.row(
            "API requests until all synced, dev: reads / writes (per PushSecret)",
            rw(self.ramp_dev),
            "(floor (a''): 0 / 1 per PushSecret; direct writes: 0 / 1)",
            "info",
        );
        t.row(
            "(b) esox RSS: idle (stores Ready, no PushSecret) / peak (VmHWM) / steady",
            format!(
                "{} / {} / {} (VmHWM at the end {})",
                mib(self.idle_rss_kib),
                mib(self.peak_hwm_kib),
                mib(self.steady_rss_kib),
                mib(self.final_hwm_kib)
            ),
            "(none for push; ≤ 64 MiB for 10,000 ExternalSecrets)",
            "info",
        );
        t.row(
            format!(
                "(c) one source change → its remote copy updated, p50 / p99 ({} rounds, a different source each)",
                self.latency_rounds
            ),
            format!(
                "{} / {}",
                millis(self.latency_p50),
                millis(self.latency_p99)
            ),
            "(none for push; p99 < 1 s for ExternalSecrets)",
            "info",
        );
        t.row(
            format!(
                "(c) all {} sources changed at once → last remote copy updated",
                self.n
            ),
            format!(
                "{} (the benchmark's {} patches alone {})",
                secs(self.all_change),
                self.n,
                secs(self.all_change_patches)
            ),
            "-",
            "info",
        );
        t.row(
            format!(
                "(d) API requests in {} of steady state, platform / dev: reads / writes",
                secs(self.steady_window)
            ),
            format!(
                "{} / {} ; {} / {}",
                self.steady_platform.0,
                self.steady_platform.1,
                self.steady_dev.0,
                self.steady_dev.1
            ),
            "zero writes",
            verdict(self.steady_platform.1 == 0 && self.steady_dev.1 == 0),
        );
        t.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_gives_the_ratio_and_flags_steady_writes_on_either_cluster() {
        let r = PushResult {
            n: 1_000,
            direct: Duration::from_millis(500),
            eso_writes: Duration::from_millis(1_000),
            all_synced: Duration::from_millis(600),
            steady_dev: (0, 2),
            latency_p50: Some(Duration::from_millis(30)),
            latency_p99: Some(Duration::from_millis(90)),
            ..PushResult::default()
        };
        let t = r.table();
        let a = t.lines().find(|l| l.starts_with("| (a)")).unwrap();
        assert!(a.contains("0.60 s / 0.50 s = **1.20x**"), "{a}");
        assert!(a.ends_with("| ≤ 1.5x | met |"), "{a}");
        assert!(t.contains("30 ms / 90 ms"), "{t}");
        let floor = t.lines().find(|l| l.starts_with("| (a'')")).unwrap();
        assert!(
            floor.contains("1.00 s / 0.50 s = 2.00x; esox 0.60 s / 1.00 s = **0.60x**"),
            "{floor}"
        );
        assert_eq!(t.matches("MISSED").count(), 1, "{t}");
        let quiet = PushResult {
            steady_dev: (4, 0),
            ..r
        };
        assert!(!quiet.table().contains("MISSED"));
    }
}
