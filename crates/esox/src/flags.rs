//! The flags of `esox run`, declared once: clap parses them into [`RunFlags`], which `run`
//! reads directly. ESO's names and defaults wherever ESO has the flag.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::LogFormat;

/// Flags of `esox run`.
#[derive(Debug, clap::Args)]
pub struct RunFlags {
    /// Path of the kubeconfig; otherwise KUBECONFIG, ~/.kube/config, then in-cluster.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Only serve stores whose spec.controller is empty or equal to this class.
    #[arg(long, default_value = "default")]
    pub controller_class: String,
    /// Address of the Prometheus metrics endpoint (/metrics).
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,
    /// Address of the health endpoints (/healthz, /readyz).
    #[arg(long, default_value = "0.0.0.0:8081")]
    pub health_addr: std::net::SocketAddr,
    /// Refuse to use stores that are not Ready (ESO's flood gate).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub enable_flood_gate: bool,
    /// How often stores without a refreshInterval are validated again, in seconds.
    #[arg(long, default_value_t = 300)]
    pub store_requeue_interval_seconds: u64,
    /// Log format.
    #[arg(long, value_enum, default_value = "plain")]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub leader_election: LeaderElectionFlags,
    #[command(flatten)]
    pub scope: ScopeFlags,
}

impl RunFlags {
    /// What the controllers serve: the scope flags, then the flags above, which win.
    pub fn options(&self) -> esox_controller::Options {
        let options = esox_controller::Options {
            controller_class: self.controller_class.clone(),
            flood_gate: self.enable_flood_gate,
            store_requeue_interval: Duration::from_secs(self.store_requeue_interval_seconds),
            ..esox_controller::Options::default()
        };
        self.scope.apply(options)
    }
}

/// Leader election flags of `esox run`, with ESO's names and defaults.
#[derive(Debug, clap::Args)]
pub struct LeaderElectionFlags {
    /// Run the controllers only while holding a Lease, so several replicas can run for
    /// availability (`--enable-leader-election` alone means true).
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set)]
    enable_leader_election: bool,
    /// Name of the Lease; replicas (and ESO replicas) using the same name exclude each other.
    #[arg(long, default_value = esox_controller::leader::DEFAULT_LEASE_NAME)]
    leader_election_id: String,
    /// Namespace of the Lease [default: the pod's namespace, else `default`].
    #[arg(long)]
    leader_election_namespace: Option<String>,
    /// How long followers wait for a renewal before taking the Lease over (Go duration).
    #[arg(long, default_value = "15s", value_parser = go_duration)]
    leader_election_lease_duration: Duration,
    /// How long the leader retries renewing before it stops its controllers (Go duration).
    #[arg(long, default_value = "10s", value_parser = go_duration)]
    leader_election_renew_deadline: Duration,
    /// Time between renewals and between a candidate's attempts (Go duration).
    #[arg(long, default_value = "2s", value_parser = go_duration)]
    leader_election_retry_period: Duration,
}

impl LeaderElectionFlags {
    /// The elector settings when leader election is on; identity is `<hostname>_<uuid>`.
    pub fn config(&self) -> Option<esox_controller::leader::LeaderElectionConfig> {
        use esox_controller::leader::{self, LeaderElectionConfig};
        self.enable_leader_election.then(|| LeaderElectionConfig {
            lease_duration: self.leader_election_lease_duration,
            renew_deadline: self.leader_election_renew_deadline,
            retry_period: self.leader_election_retry_period,
            ..LeaderElectionConfig::new(
                self.leader_election_id.clone(),
                self.leader_election_namespace
                    .clone()
                    .unwrap_or_else(leader::default_namespace),
                leader::default_identity(),
            )
        })
    }
}

/// What `esox run` serves, with ESO's flag names and defaults (but `--concurrent`, see below).
#[derive(Debug, clap::Args)]
pub struct ScopeFlags {
    /// Serve only this namespace: every watch and list stays inside it (Roles in it are
    /// enough), and ClusterSecretStores, ClusterExternalSecrets and ClusterPushSecrets are off.
    #[arg(long)]
    namespace: Option<String>,
    /// Run the ClusterSecretStore controller and let objects use ClusterSecretStores.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    enable_cluster_store_reconciler: bool,
    /// Run the ClusterExternalSecret controller.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    enable_cluster_external_secret_reconciler: bool,
    /// Run the PushSecret controller (it watches the metadata of every Secret it may read).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    enable_push_secret_reconciler: bool,
    /// Run the ClusterPushSecret controller.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    enable_cluster_push_secret_reconciler: bool,
    /// Reconciles in flight per controller [default: 32 ExternalSecrets, 16 PushSecrets; ESO's
    /// default of 1 would serialise esox's event-driven refreshes].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    concurrent: Option<u16>,
}

impl ScopeFlags {
    fn apply(&self, options: esox_controller::Options) -> esox_controller::Options {
        esox_controller::Options {
            namespace: self.namespace.clone().filter(|ns| !ns.is_empty()),
            cluster_stores: self.enable_cluster_store_reconciler,
            cluster_external_secrets: self.enable_cluster_external_secret_reconciler,
            push_secrets: self.enable_push_secret_reconciler,
            cluster_push_secrets: self.enable_cluster_push_secret_reconciler,
            concurrent: self.concurrent,
            ..options
        }
        .scoped()
    }
}

/// Parses a Go duration (`15s`, `1m30s`), as ESO's flags take them.
fn go_duration(text: &str) -> Result<Duration, String> {
    let nanos = esox_core::duration::parse(text).map_err(|e| e.to_string())?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| format!("{text}: the duration must not be negative"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use clap::Parser;

    /// `esox run`'s flags alone, as a command of their own.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunFlags,
    }

    fn parse(args: &[&str]) -> RunFlags {
        Cli::try_parse_from([&["esox"], args].concat()).unwrap().run
    }

    fn election(args: &[&str]) -> Option<esox_controller::leader::LeaderElectionConfig> {
        parse(args).leader_election.config()
    }

    #[test]
    fn leader_election_is_off_by_default_with_esos_defaults_when_on() {
        assert!(election(&[]).is_none());
        assert!(election(&["--enable-leader-election=false"]).is_none());
        let c = election(&["--enable-leader-election"]).unwrap();
        assert_eq!(c.lease_name, "external-secrets-controller");
        assert_eq!(c.lease_duration, Duration::from_secs(15));
        assert_eq!(c.renew_deadline, Duration::from_secs(10));
        assert_eq!(c.retry_period, Duration::from_secs(2));
        assert!(!c.namespace.is_empty());
        assert!(c.identity.contains('_'), "{}", c.identity);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn leader_election_flags_take_go_durations() {
        let c = election(&[
            "--enable-leader-election=true",
            "--leader-election-id=esox-a",
            "--leader-election-namespace=ops",
            "--leader-election-lease-duration=1m",
            "--leader-election-renew-deadline=40s",
            "--leader-election-retry-period=1500ms",
        ])
        .unwrap();
        assert_eq!(c.lease_name, "esox-a");
        assert_eq!(c.namespace, "ops");
        assert_eq!(c.lease_duration, Duration::from_secs(60));
        assert_eq!(c.renew_deadline, Duration::from_secs(40));
        assert_eq!(c.retry_period, Duration::from_millis(1500));
        let err = Cli::try_parse_from(["esox", "--leader-election-retry-period=2"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing unit"), "{err}");
    }

    fn scope(args: &[&str]) -> esox_controller::Options {
        parse(args).options()
    }

    #[test]
    fn every_controller_runs_cluster_wide_by_default() {
        let o = scope(&[]);
        assert_eq!(o.namespace, None);
        assert!(o.cluster_stores && o.cluster_external_secrets);
        assert!(o.push_secrets && o.cluster_push_secrets);
        assert_eq!(o.concurrent, None);
    }

    #[test]
    fn namespace_turns_the_cluster_scoped_kinds_off_whatever_their_flags_say() {
        let o = scope(&[
            "--namespace=team-a",
            "--enable-cluster-store-reconciler=true",
            "--enable-cluster-external-secret-reconciler=true",
        ]);
        assert_eq!(o.namespace.as_deref(), Some("team-a"));
        assert!(!o.cluster_stores && !o.cluster_external_secrets && !o.cluster_push_secrets);
        assert!(o.push_secrets, "PushSecrets are namespaced: they stay on");
    }

    #[test]
    fn reconcilers_and_concurrency_follow_esos_flags() {
        let o = scope(&[
            "--enable-push-secret-reconciler=false",
            "--enable-cluster-store-reconciler=false",
            "--concurrent=4",
        ]);
        assert!(!o.push_secrets && !o.cluster_stores);
        assert!(o.cluster_external_secrets && o.cluster_push_secrets);
        assert_eq!(o.concurrent, Some(4));
        assert!(Cli::try_parse_from(["esox", "--concurrent=0"]).is_err());
    }
}
