//! Command-line interface.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// esox keeps Kubernetes Secrets in sync with secret stores, as the External Secrets Operator does.
#[derive(Debug, Parser)]
#[command(name = "esox", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the CustomResourceDefinitions as YAML (pipe into `kubectl apply --server-side -f -`).
    Crds {
        /// Add field selectors on ExternalSecrets (`selectableFields`, Kubernetes 1.30 or newer).
        #[arg(long)]
        selectable_fields: bool,
    },
    /// Run the controllers against the cluster of the kubeconfig.
    Run {
        /// Path of the kubeconfig; otherwise KUBECONFIG, ~/.kube/config, then in-cluster.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Only serve stores whose spec.controller is empty or equal to this class.
        #[arg(long, default_value = "default")]
        controller_class: String,
        /// Address of the Prometheus metrics endpoint (/metrics).
        #[arg(long, default_value = "0.0.0.0:8080")]
        metrics_addr: std::net::SocketAddr,
        /// Address of the health endpoints (/healthz, /readyz).
        #[arg(long, default_value = "0.0.0.0:8081")]
        health_addr: std::net::SocketAddr,
        /// Refuse to use stores that are not Ready (ESO's flood gate).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        enable_flood_gate: bool,
        /// How often stores without a refreshInterval are validated again, in seconds.
        #[arg(long, default_value_t = 300)]
        store_requeue_interval_seconds: u64,
        /// Log format.
        #[arg(long, value_enum, default_value = "plain")]
        log_format: LogFormat,
        #[command(flatten)]
        leader_election: LeaderElectionFlags,
        #[command(flatten)]
        scope: ScopeFlags,
    },
    /// Run an in-memory Kubernetes API server (a test double) until killed.
    #[cfg(feature = "testcluster")]
    Testcluster {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: std::net::SocketAddr,
        /// Where to write the admin kubeconfig.
        #[arg(long)]
        kubeconfig_out: PathBuf,
    },
    /// Print the Secret an ExternalSecret would produce, offline, from data given here.
    ///
    /// The `--data` pairs are the fetched data itself: the map the template sees as `.KEY`
    /// (or that is written as is without a template). The ExternalSecret's `data` and
    /// `dataFrom` entries are not read. templateFrom entries that read a ConfigMap or Secret
    /// are refused; literal ones work.
    Render {
        /// The ExternalSecret manifest.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// A fetched key and its value, KEY=VALUE; repeat for more keys.
        #[arg(long = "data", value_name = "KEY=VALUE")]
        data: Vec<String>,
        /// The existing target Secret (needed for creationPolicy Merge, kept keys otherwise).
        #[arg(long)]
        from_secret: Option<PathBuf>,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "yaml")]
        output: crate::render::Format,
    },
    /// Walk through the two scenarios of the seed on two in-memory clusters.
    #[cfg(feature = "testcluster")]
    Demo {
        /// Leave both clusters running and print their kubeconfig paths.
        #[arg(long)]
        keep: bool,
    },
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
    fn config(self) -> Option<esox_controller::leader::LeaderElectionConfig> {
        use esox_controller::leader::{self, LeaderElectionConfig};
        self.enable_leader_election.then(|| LeaderElectionConfig {
            lease_duration: self.leader_election_lease_duration,
            renew_deadline: self.leader_election_renew_deadline,
            retry_period: self.leader_election_retry_period,
            ..LeaderElectionConfig::new(
                self.leader_election_id,
                self.leader_election_namespace
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
    fn apply(self, options: esox_controller::Options) -> esox_controller::Options {
        esox_controller::Options {
            namespace: self.namespace.filter(|ns| !ns.is_empty()),
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

/// How `esox run` writes its logs.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

fn init_logs(format: LogFormat) {
    init_logs_with(format, "info,kube=warn");
}

/// Logs to stderr; `RUST_LOG` overrides `default_filter`.
fn init_logs_with(format: LogFormat, default_filter: &str) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    for directive in esox_controller::LOG_SAFETY_DIRECTIVES {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Templates render on the blocking threads and recurse once per level of nesting, up to
        // esox_template::MAX_EXEC_NESTING levels plus parentheses: 8 MiB (instead of 2) leaves a
        // wide margin. It is address space; only the pages used are memory.
        .thread_stack_size(8 << 20)
        .build()
        .context("starting the async runtime")
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Crds { selectable_fields } => {
            let crds = esox_api::crd::all(&esox_api::crd::CrdOptions { selectable_fields });
            let yaml = esox_api::crd::to_yaml(&crds).context("serialising the CRDs")?;
            print!("{yaml}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            kubeconfig,
            controller_class,
            metrics_addr,
            health_addr,
            enable_flood_gate,
            store_requeue_interval_seconds,
            log_format,
            leader_election,
            scope,
        } => {
            init_logs(log_format);
            let args = crate::run::RunArgs {
                kubeconfig,
                controller_class,
                metrics_addr,
                health_addr,
                enable_flood_gate,
                store_requeue_interval: std::time::Duration::from_secs(
                    store_requeue_interval_seconds,
                ),
                leader_election: leader_election.config(),
                scope: scope.apply(esox_controller::Options::default()),
            };
            runtime()?.block_on(crate::run::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "testcluster")]
        Command::Testcluster {
            addr,
            kubeconfig_out,
        } => {
            init_logs(LogFormat::Plain);
            runtime()?
                .block_on(esox_testcluster::run_standalone(addr, &kubeconfig_out))
                .context("running the test cluster")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            file,
            data,
            from_secret,
            output,
        } => {
            let args = crate::render::RenderArgs {
                file,
                data,
                from_secret,
                output,
            };
            print!("{}", crate::render::render(&args)?);
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "testcluster")]
        Command::Demo { keep } => {
            // The walkthrough is the output; expected start-up retries would only distract.
            init_logs_with(LogFormat::Plain, "error");
            let all_arrived = runtime()?.block_on(crate::demo::run(keep))?;
            Ok(if all_arrived {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn election(args: &[&str]) -> Option<esox_controller::leader::LeaderElectionConfig> {
        let cli = Cli::try_parse_from([&["esox", "run"], args].concat()).unwrap();
        match cli.command {
            Command::Run {
                leader_election, ..
            } => leader_election.config(),
            other => panic!("parsed as {other:?}"),
        }
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
        let err = Cli::try_parse_from(["esox", "run", "--leader-election-retry-period=2"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing unit"), "{err}");
    }

    fn scope(args: &[&str]) -> esox_controller::Options {
        let cli = Cli::try_parse_from([&["esox", "run"], args].concat()).unwrap();
        match cli.command {
            Command::Run { scope, .. } => scope.apply(esox_controller::Options::default()),
            other => panic!("parsed as {other:?}"),
        }
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
        assert!(Cli::try_parse_from(["esox", "run", "--concurrent=0"]).is_err());
    }
}
