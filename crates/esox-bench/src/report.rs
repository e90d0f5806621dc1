//! The figures of one run and their table, with the targets beside them.

use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub n: usize,
    pub unrelated: usize,
    /// Creating n Secrets directly, the physical limit.
    pub direct: Duration,
    /// Creating the n ExternalSecrets (part of `all_ready`).
    pub es_create: Duration,
    /// From the first ExternalSecret create until all are Ready with correct targets.
    pub all_ready: Duration,
    /// esox's API requests from the first ExternalSecret create until all were Ready (the
    /// benchmark's own creates subtracted).
    pub ramp_reads: u64,
    pub ramp_writes: u64,
    pub idle_rss_kib: u64,
    pub peak_hwm_kib: u64,
    pub steady_rss_kib: u64,
    pub steady_window: Duration,
    pub steady_reads: u64,
    pub steady_writes: u64,
    pub latency_p50: Option<Duration>,
    pub latency_p99: Option<Duration>,
    pub latency_rounds: usize,
    pub extra_unrelated: usize,
    pub extra_rss_delta_kib: Option<i64>,
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

impl RunResult {
    pub fn ratio(&self) -> f64 {
        self.all_ready.as_secs_f64() / self.direct.as_secs_f64().max(f64::EPSILON)
    }

    /// Markdown table: measured figure, target, verdict.
    pub fn table(&self) -> String {
        let mut rows: Vec<[String; 4]> = Vec::new();
        let ratio = self.ratio();
        rows.push([
            format!(
                "(a) all {} Ready / {} direct Secret creates",
                self.n, self.n
            ),
            format!(
                "{} / {} = **{ratio:.2}x** (ES creates alone {})",
                secs(self.all_ready),
                secs(self.direct),
                secs(self.es_create)
            ),
            "≤ 1.5x".into(),
            verdict(ratio <= 1.5).into(),
        ]);
        let per_es = |v: u64| v as f64 / self.n.max(1) as f64;
        rows.push([
            "API requests until all Ready: reads / writes (per ES)".into(),
            format!(
                "{} ({:.2}) / {} ({:.2})",
                self.ramp_reads,
                per_es(self.ramp_reads),
                self.ramp_writes,
                per_es(self.ramp_writes)
            ),
            "(direct creation: 0 / 1 per Secret)".into(),
            "info".into(),
        ]);
        let big = self.n >= 10_000;
        rows.push([
            "(b) esox RSS: idle before ES / peak (VmHWM) / steady".into(),
            format!(
                "{} / {} / {}",
                mib(self.idle_rss_kib),
                mib(self.peak_hwm_kib),
                mib(self.steady_rss_kib)
            ),
            if big {
                "≤ 64 MiB at 10,000"
            } else {
                "(≤ 64 MiB at 10,000)"
            }
            .into(),
            if big {
                verdict(self.peak_hwm_kib <= 64 * 1024).into()
            } else {
                "n/a at this size".into()
            },
        ]);
        if let Some(delta) = self.extra_rss_delta_kib {
            rows.push([
                format!(
                    "(b) steady RSS added by {} more unrelated Secrets",
                    self.extra_unrelated
                ),
                format!("{:+.1} MiB", delta as f64 / 1024.0),
                "< 5 MiB".into(),
                verdict(delta < 5 * 1024).into(),
            ]);
        }
        let lat =
            |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{} ms", d.as_millis()));
        rows.push([
            format!(
                "(c) source change → last of {} targets updated, p50 / p99 ({} rounds)",
                self.n, self.latency_rounds
            ),
            format!("{} / {}", lat(self.latency_p50), lat(self.latency_p99)),
            "p99 < 1 s (1,000 readers)".into(),
            if self.n == 1_000 {
                verdict(self.latency_p99.is_some_and(|d| d < Duration::from_secs(1))).into()
            } else {
                "n/a at this size".into()
            },
        ]);
        rows.push([
            format!(
                "(d) API requests in {} of steady state: reads / writes (per ES)",
                secs(self.steady_window)
            ),
            format!(
                "{} ({:.4}) / {} ({:.4})",
                self.steady_reads,
                per_es(self.steady_reads),
                self.steady_writes,
                per_es(self.steady_writes)
            ),
            "zero writes".into(),
            verdict(self.steady_writes == 0).into(),
        ]);
        let mut out = format!(
            "N = {} ExternalSecrets, {} unrelated Secrets\n\n| figure | measured | target | |\n|---|---|---|---|\n",
            self.n, self.unrelated
        );
        for r in rows {
            out.push_str(&format!("| {} | {} | {} | {} |\n", r[0], r[1], r[2], r[3]));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_marks_misses() {
        let r = RunResult {
            n: 1_000,
            direct: Duration::from_secs(2),
            all_ready: Duration::from_secs(4),
            steady_writes: 3,
            latency_p50: Some(Duration::from_millis(200)),
            latency_p99: Some(Duration::from_millis(400)),
            ..RunResult::default()
        };
        assert!((r.ratio() - 2.0).abs() < 1e-9);
        let t = r.table();
        assert!(t.contains("**2.00x**"), "{t}");
        assert_eq!(t.matches("MISSED").count(), 2, "{t}");
        assert!(
            t.contains("200 ms / 400 ms | p99 < 1 s (1,000 readers) | met"),
            "{t}"
        );
    }
}
