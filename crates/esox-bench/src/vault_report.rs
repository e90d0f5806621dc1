//! The Vault benchmark's figures and their table, with the targets beside them.

use std::time::Duration;

use crate::esox_process::VaultCalls;
use crate::report::{Table, mib, ratio, secs, verdict};

#[derive(Debug, Clone, Default)]
pub struct VaultResult {
    pub n: usize,
    pub backend: String,
    pub unrelated: usize,
    /// Creating the n ExternalSecrets (part of `all_ready`).
    pub es_create: Duration,
    /// From the first ExternalSecret create until all are Ready with correct targets.
    pub all_ready: Duration,
    /// The same creates, the n KV reads and ESO's writes sent directly by the benchmark.
    pub floor: Duration,
    pub floor_concurrency: usize,
    /// esox's Vault calls once the store was Ready, before any ExternalSecret.
    pub store_calls: VaultCalls,
    /// Its calls when all were Ready, and at the end of the run (since its start).
    pub ready_calls: VaultCalls,
    pub end_calls: VaultCalls,
    /// From esox's start until the end calls were read.
    pub esox_lifetime: Duration,
    /// esox's Vault calls for a force-sync of all n after the quiet window, and how long until
    /// all had read again.
    pub refresh_calls: VaultCalls,
    pub refresh_time: Duration,
    /// Whether the first token had outlived its TTL when the force-sync began.
    pub refresh_after_expiry: bool,
    /// The AppRole tokens' TTL.
    pub token_ttl: Duration,
    /// esox's API requests until all were Ready (the benchmark's creates subtracted).
    pub ramp_reads: u64,
    pub ramp_writes: u64,
    pub steady_window: Duration,
    pub steady_vault: VaultCalls,
    pub steady_reads: u64,
    pub steady_writes: u64,
    /// On a real server: requests it received without esox over a window as long.
    pub steady_background: Option<(u64, u64)>,
    pub idle_rss_kib: u64,
    pub peak_hwm_kib: u64,
    pub steady_rss_kib: u64,
    /// `/proc/loadavg` when the run started and ended.
    pub load: (String, String),
}

impl VaultResult {
    pub fn table(&self) -> String {
        let n = self.n;
        let mut t = Table::new(format!(
            "N = {n} ExternalSecrets reading {n} KV v2 secrets from one OpenBao 2.7.2 dev server through one ClusterSecretStore (AppRole), {} unrelated Secrets, on {}; load average at start {}, at end {}",
            self.unrelated, self.backend, self.load.0, self.load.1
        ));
        let r = ratio(self.all_ready, self.floor);
        t.row(
            format!(
                "all {n} Ready (created while esox runs) / the floor: the benchmark creates {n} ExternalSecrets as for esox and, for each as soon as it exists, reads its KV secret and sends ESO's four writes ({} in flight, esox's reconcile concurrency)",
                self.floor_concurrency
            ),
            format!(
                "{} / {} = **{r:.2}x** (ES creates alone {})",
                secs(self.all_ready),
                secs(self.floor),
                secs(self.es_create)
            ),
            "≤ 1.5x (as issue 11's)",
            verdict(r <= 1.5),
        );
        // A token is replaced at two thirds of its TTL at the earliest (esox renews then, and
        // logs in again when the renewal cannot extend it), so a run of L seconds needs at most
        // 1 + L / (2/3 TTL) logins; with a TTL longer than the run that is 1.
        let lifetime = self.esox_lifetime.as_secs_f64();
        let renew_after = self.token_ttl.as_secs_f64().max(1.0) * 2.0 / 3.0;
        let target_logins = 1 + (lifetime / renew_after).floor() as u64;
        t.row(
            format!(
                "Vault logins (one store, token TTL = max TTL {} s, esox ran {:.0} s): store Ready / all Ready / end of run",
                self.token_ttl.as_secs(),
                lifetime
            ),
            format!(
                "{} / {} / **{}**",
                self.store_calls.logins, self.ready_calls.logins, self.end_calls.logins
            ),
            format!(
                "≤ {target_logins} (one per store per token lifetime; a token replaced at ⅔ of its TTL at the earliest)"
            ),
            verdict(self.end_calls.logins <= target_logins && self.end_calls.logins > 0),
        );
        let per_es = |v: u64| v as f64 / n.max(1) as f64;
        let ramp = self.ready_calls.since(self.store_calls);
        t.row(
            "Vault requests from the first create until all Ready: KV reads / all calls (per ES)",
            format!(
                "{} ({:.2}) / {} ({:.2})",
                ramp.reads,
                per_es(ramp.reads),
                ramp.total,
                per_es(ramp.total)
            ),
            "1 read per ES",
            verdict(ramp.reads == n as u64),
        );
        t.row(
            format!(
                "Vault requests in a quiet {} s window after all Ready (refreshInterval 1h): all calls (per ES)",
                self.steady_window.as_secs()
            ),
            format!(
                "**{}** ({:.3}); KV reads {}, logins {}",
                self.steady_vault.total,
                per_es(self.steady_vault.total),
                self.steady_vault.reads,
                self.steady_vault.logins
            ),
            "0 between refreshes",
            verdict(self.steady_vault.total == 0),
        );
        t.row(
            format!(
                "force-sync of all {n} after the window (esox's first token {} its {} s TTL): logins / KV reads / all calls; time until all read again",
                if self.refresh_after_expiry { "past" } else { "within" },
                self.token_ttl.as_secs()
            ),
            format!(
                "**{}** / {} / {}; {}",
                self.refresh_calls.logins,
                self.refresh_calls.reads,
                self.refresh_calls.total,
                secs(self.refresh_time)
            ),
            "≤ 1 login (a new token at most, not one per ExternalSecret)",
            verdict(self.refresh_calls.logins <= 1),
        );
        t.row(
            "API requests until all Ready: reads / writes (per ES)",
            format!(
                "{} ({:.2}) / {} ({:.2})",
                self.ramp_reads,
                per_es(self.ramp_reads),
                self.ramp_writes,
                per_es(self.ramp_writes)
            ),
            "(ESO's writes: 4 per ES)",
            "info",
        );
        match self.steady_background {
            None => t.row(
                "API requests in the same quiet window: reads / writes",
                format!("{} / {}", self.steady_reads, self.steady_writes),
                "0 / 0",
                verdict(self.steady_reads == 0 && self.steady_writes == 0),
            ),
            // The server's own clients are counted too: the figure is read against them.
            Some((reads, writes)) => t.row(
                "API requests in the same quiet window: reads / writes (the server's own clients included)",
                format!(
                    "{} / {} (without esox, before it started, over as long: {reads} / {writes})",
                    self.steady_reads, self.steady_writes
                ),
                "esox's share 0 / 0",
                "info",
            ),
        }
        t.row(
            "esox RSS: idle before ES / peak (VmHWM) / steady",
            format!(
                "{} / {} / {}",
                mib(self.idle_rss_kib),
                mib(self.peak_hwm_kib),
                mib(self.steady_rss_kib)
            ),
            "(≤ 64 MiB at 10,000 ExternalSecrets)",
            "info",
        );
        t.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_gives_a_verdict_for_every_target() {
        let calls = |logins, reads, total| VaultCalls {
            logins,
            reads,
            total,
        };
        let r = VaultResult {
            n: 10,
            all_ready: Duration::from_secs(2),
            floor: Duration::from_secs(1),
            floor_concurrency: 32,
            store_calls: calls(1, 0, 1),
            ready_calls: calls(1, 10, 11),
            end_calls: calls(2, 10, 12),
            esox_lifetime: Duration::from_secs(60),
            token_ttl: Duration::from_secs(3600),
            steady_window: Duration::from_secs(30),
            steady_vault: calls(0, 0, 0),
            ..Default::default()
        };
        let table = r.table();
        assert!(table.contains("= **2.00x**"), "{table}");
        assert!(
            table.contains("| 1 / 1 / **2** | ≤ 1 (one per store per token lifetime; a token replaced at ⅔ of its TTL at the earliest) | MISSED |"),
            "{table}"
        );
        assert!(
            table.contains("| 10 (1.00) / 10 (1.00) | 1 read per ES | met |"),
            "{table}"
        );
        assert!(
            table.contains("| **0** (0.000); KV reads 0, logins 0 | 0 between refreshes | met |"),
            "{table}"
        );
    }
}
