//! The figures of one run and their table, with the targets beside them; the table
//! helpers are shared by the ExternalSecret and PushSecret reports.

use std::time::Duration;

/// The ExternalSecret benchmark's second variant of (a): the ExternalSecrets exist before esox
/// starts (as when switching from ESO), measured on a fresh cluster of its own.
#[derive(Debug, Clone, Default)]
pub struct Precreated {
    /// Creating n Secrets directly on that cluster.
    pub direct: Duration,
    /// ESO's writes for n new ExternalSecrets (finalizer, target, status, Event) sent directly.
    pub eso_writes: Duration,
    /// Requests in flight while they were sent.
    pub floor_concurrency: usize,
    /// The floor of (a): n ExternalSecrets created as the benchmark creates them for esox, and
    /// ESO's writes for each sent as soon as it exists.
    pub eso_writes_running: Duration,
    /// The floor of (c): ESO's writes for n ExternalSecrets whose source changed (target
    /// update, status patch, Event) sent directly.
    pub eso_change_writes: Duration,
    /// From spawning esox until the first target is right (esox's start-up).
    pub first_ready: Duration,
    /// From spawning esox until all are Ready with correct targets.
    pub all_ready: Duration,
    pub peak_hwm_kib: u64,
    pub reads: u64,
    pub writes: u64,
}

/// esox killed and started again with nothing changed: what its start costs.
#[derive(Debug, Clone, Default)]
pub struct Restart {
    /// How long after the start requests were counted.
    pub window: Duration,
    pub reads: u64,
    pub writes: u64,
    /// On a real server: single-Secret reads (the Kubernetes provider's reads of the source;
    /// esox reads its targets from its watch cache) and Secret lists.
    pub secret_gets: Option<u64>,
    pub secret_lists: Option<u64>,
    /// Remote secrets esox read through its providers (its own counter).
    pub provider_reads: u64,
    /// On a real server: what its own clients sent in a window as long, to read the figures
    /// against.
    pub background: Option<(u64, u64)>,
    /// Targets the benchmark saw change during the window (their data was already right).
    pub target_updates: u64,
}

#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub n: usize,
    /// The API server the figures come from.
    pub backend: String,
    /// On a real server: requests it received without esox over a window as long as the
    /// steady one (its own clients), to read (d) against.
    pub steady_background: Option<(u64, u64)>,
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
    pub precreated: Option<Precreated>,
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
    pub restart: Option<Restart>,
    /// `/proc/loadavg` when the run started and ended.
    pub load: (String, String),
}

pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

pub fn millis(d: Option<Duration>) -> String {
    d.map_or("-".to_string(), |d| format!("{} ms", d.as_millis()))
}

pub fn ratio(measured: Duration, baseline: Duration) -> f64 {
    measured.as_secs_f64() / baseline.as_secs_f64().max(f64::EPSILON)
}

/// The first three fields of `/proc/loadavg` (1, 5 and 15 minutes), or why they are missing.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |e| format!("unknown ({e})"),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// A Markdown table: figure, measured, target, verdict.
pub struct Table {
    title: String,
    rows: Vec<[String; 4]>,
}

impl Table {
    pub fn new(title: String) -> Self {
        Self {
            title,
            rows: Vec::new(),
        }
    }

    pub fn row(
        &mut self,
        figure: impl Into<String>,
        measured: impl Into<String>,
        target: impl Into<String>,
        verdict: impl Into<String>,
    ) {
        self.rows.push([
            figure.into(),
            measured.into(),
            target.into(),
            verdict.into(),
        ]);
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "{}\n\n| figure | measured | target | |\n|---|---|---|---|\n",
            self.title
        );
        for r in &self.rows {
            out.push_str(&format!("| {} | {} | {} | {} |\n", r[0], r[1], r[2], r[3]));
        }
        out
    }
}

impl RunResult {
    pub fn ratio(&self) -> f64 {
        ratio(self.all_ready, self.direct)
    }

    /// Markdown table: measured figure, target, verdict.
    pub fn table(&self) -> String {
        let mut t = Table::new(format!(
            "N = {} ExternalSecrets, {} unrelated Secrets, on {}; load average at start {}, at end {}",
            self.n, self.unrelated, self.backend, self.load.0, self.load.1
        ));
        let r = self.ratio();
        t.row(
            format!(
                "(a) all {} Ready / {} direct Secret creates (ExternalSecrets created while esox runs)",
                self.n, self.n
            ),
            format!(
                "{} / {} = **{r:.2}x** (ES creates alone {})",
                secs(self.all_ready),
                secs(self.direct),
                secs(self.es_create)
            ),
            "≤ 1.5x",
            verdict(r <= 1.5),
        );
        let per_es = |v: u64| v as f64 / self.n.max(1) as f64;
        t.row(
            "API requests until all Ready: reads / writes (per ES)",
            format!(
                "{} ({:.2}) / {} ({:.2})",
                self.ramp_reads,
                per_es(self.ramp_reads),
                self.ramp_writes,
                per_es(self.ramp_writes)
            ),
            "(direct creation: 0 / 1 per Secret)",
            "info",
        );
        if let Some(p) = &self.precreated {
            let r = ratio(p.all_ready, p.direct);
            t.row(
                format!(
                    "(a') {} ExternalSecrets created before esox starts: esox start → all Ready / {} direct Secret creates",
                    self.n, self.n
                ),
                format!(
                    "{} / {} = **{r:.2}x** (first target after {}; peak {}; API requests {} reads ({:.2}/ES) / {} writes ({:.2}/ES))",
                    secs(p.all_ready),
                    secs(p.direct),
                    secs(p.first_ready),
                    mib(p.peak_hwm_kib),
                    p.reads,
                    per_es(p.reads),
                    p.writes,
                    per_es(p.writes)
                ),
                "≤ 1.5x",
                verdict(r <= 1.5),
            );
            let floor = ratio(p.eso_writes, p.direct);
            t.row(
                format!(
                    "(a'') the writes ESO's algorithm makes for {} new ExternalSecrets (finalizer, target, status, Event), sent directly with {} in flight (esox's reconcile concurrency), no reads / {} direct Secret creates; esox's (a') time / that",
                    self.n, p.floor_concurrency, self.n
                ),
                format!(
                    "{} / {} = {floor:.2}x; esox {} / {} = **{:.2}x**",
                    secs(p.eso_writes),
                    secs(p.direct),
                    secs(p.all_ready),
                    secs(p.eso_writes),
                    ratio(p.all_ready, p.eso_writes)
                ),
                "(the floor of any ESO-compatible controller on this server)",
                "info",
            );
            let floor_ratio = ratio(self.all_ready, p.eso_writes_running);
            t.row(
                format!(
                    "(a) against its floor: the benchmark creates {} ExternalSecrets as in (a) and sends ESO's four writes for each as soon as its create returns ({} in flight); esox's (a) time / that",
                    self.n, p.floor_concurrency
                ),
                format!(
                    "esox {} / {} = **{floor_ratio:.2}x**",
                    secs(self.all_ready),
                    secs(p.eso_writes_running),
                ),
                "≤ 1.5x (issue 11)",
                verdict(floor_ratio <= 1.5),
            );
            let pre_ratio = ratio(p.all_ready, p.eso_writes);
            t.row(
                "(a') against its floor (a''): esox's (a') time / (a'')",
                format!("**{pre_ratio:.2}x**"),
                "≤ 1.5x (issue 11)",
                verdict(pre_ratio <= 1.5),
            );
        }
        let big = self.n >= 10_000;
        t.row(
            "(b) esox RSS: idle before ES / peak (VmHWM) / steady",
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
            },
            if big {
                verdict(self.peak_hwm_kib <= 64 * 1024)
            } else {
                "n/a at this size"
            },
        );
        if let Some(delta) = self.extra_rss_delta_kib {
            t.row(
                format!(
                    "(b) steady RSS added by {} more unrelated Secrets",
                    self.extra_unrelated
                ),
                format!("{:+.1} MiB", delta as f64 / 1024.0),
                "< 5 MiB",
                verdict(delta < 5 * 1024),
            );
        }
        t.row(
            format!(
                "(c) source change → last of {} targets updated, p50 / p99 ({} rounds)",
                self.n, self.latency_rounds
            ),
            format!(
                "{} / {}",
                millis(self.latency_p50),
                millis(self.latency_p99)
            ),
            "p99 < 1 s (1,000 readers)",
            if self.n == 1_000 {
                verdict(self.latency_p99.is_some_and(|d| d < Duration::from_secs(1)))
            } else {
                "n/a at this size"
            },
        );
        if let Some(p) = &self.precreated {
            t.row(
                format!(
                    "(c'') the writes ESO's algorithm makes for {} ExternalSecrets whose source changed (target update, status patch, Event), sent directly with {} in flight; esox's (c) p50 / that",
                    self.n, p.floor_concurrency
                ),
                format!(
                    "{}; {}",
                    millis(Some(p.eso_change_writes)),
                    self.latency_p50.map_or("-".to_string(), |d| format!(
                        "**{:.2}x**",
                        ratio(d, p.eso_change_writes)
                    ))
                ),
                "(the floor of (c) on this server)",
                "info",
            );
        }
        t.row(
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
            "zero writes",
            // A real server's own clients write too: what esox adds is what the window saw
            // beyond the same window without esox.
            verdict(self.steady_writes <= self.steady_background.map_or(0, |(_, writes)| writes)),
        );
        if let Some(r) = &self.restart {
            let per = |v: u64| v as f64 / self.n.max(1) as f64;
            let background = r.background.map_or(String::new(), |(reads, writes)| {
                format!("; the server's own clients in as long: {reads} reads / {writes} writes")
            });
            let secrets = match (r.secret_gets, r.secret_lists) {
                (Some(gets), Some(lists)) => format!(
                    "; Secret GETs {gets} ({:.2}/ES: esox reads each target, and the sources through the provider), Secret LISTs {lists}",
                    per(gets)
                ),
                _ => String::new(),
            };
            t.row(
                format!(
                    "restart with nothing changed: requests in the {} after esox starts again, reads / writes (per ES)",
                    secs(r.window)
                ),
                format!(
                    "{} ({:.2}) / {} ({:.2}){secrets}; **provider reads {}**; targets rewritten {}{background}",
                    r.reads,
                    per(r.reads),
                    r.writes,
                    per(r.writes),
                    r.provider_reads,
                    r.target_updates
                ),
                "zero provider reads for unchanged sources, no target rewritten (issue 14)",
                verdict(r.provider_reads == 0 && r.target_updates == 0),
            );
        }
        if let Some((reads, writes)) = self.steady_background {
            t.row(
                "(d) the same server without esox (before it started), same window length: reads / writes",
                format!("{reads} / {writes}"),
                "(the server's own clients, also counted in (d))",
                "info",
            );
        }
        t.render()
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
        assert!(!t.contains("(a')"), "{t}");
    }

    #[test]
    fn precreated_variant_gets_its_own_ratio_row() {
        let r = RunResult {
            n: 1_000,
            direct: Duration::from_secs(1),
            all_ready: Duration::from_secs(1),
            precreated: Some(Precreated {
                direct: Duration::from_secs(2),
                all_ready: Duration::from_secs(5),
                ..Precreated::default()
            }),
            ..RunResult::default()
        };
        let t = r.table();
        let row = t.lines().find(|l| l.contains("(a')")).unwrap();
        assert!(row.contains("5.00 s / 2.00 s = **2.50x**"), "{row}");
        assert!(row.ends_with("| ≤ 1.5x | MISSED |"), "{row}");
    }
}
