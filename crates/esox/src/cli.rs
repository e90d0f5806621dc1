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
    Run {
        /// Path of the kubeconfig; otherwise KUBECONFIG, ~/.kube/config, then in-cluster.
        #[arg(long, env = "KUBECONFIG")]
        kubeconfig: Option<PathBuf>,
    },
    /// Run an in-memory Kubernetes API server (a test double) until killed.
    Testcluster {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: std::net::SocketAddr,
        /// Where to write the admin kubeconfig.
        #[arg(long)]
        kubeconfig_out: PathBuf,
    },
    /// Walk through the two scenarios of the seed on two in-memory clusters.
    Demo {
        /// Leave both clusters running and print their kubeconfig paths.
        #[arg(long)]
        keep: bool,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Crds { selectable_fields } => {
            let crds = esox_api::crd::all(&esox_api::crd::CrdOptions { selectable_fields });
            let yaml = esox_api::crd::to_yaml(&crds).context("serialising the CRDs")?;
            print!("{yaml}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { .. } => not_yet("run", "the controllers"),
        Command::Testcluster { .. } => not_yet("testcluster", "the in-memory API server"),
        Command::Demo { .. } => not_yet("demo", "the walkthrough"),
    }
}

fn not_yet(command: &str, what: &str) -> anyhow::Result<ExitCode> {
    eprintln!(
        "esox {command}: not implemented yet ({what} is still being built); see README.md for the status of each command"
    );
    Ok(ExitCode::from(2))
}
