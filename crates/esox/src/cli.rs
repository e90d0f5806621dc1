//! Command-line interface.

use std::path::PathBuf;
use std::process::ExitCode;

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
    Run(crate::flags::RunFlags),
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
    Render(crate::render::RenderArgs),
    /// Walk through the two scenarios of the seed on two in-memory clusters.
    #[cfg(feature = "testcluster")]
    Demo {
        /// Leave both clusters running and print their kubeconfig paths.
        #[arg(long)]
        keep: bool,
    },
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
        Command::Run(flags) => {
            init_logs(flags.log_format);
            runtime()?.block_on(crate::run::run(flags))?;
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
        Command::Render(args) => {
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
