//! `esox-bench`: the performance benchmarks of the issue. It starts the in-memory test API
//! server(s) in this process (or, for ExternalSecrets, uses a real API server: `--kubeconfig`,
//! `--control-plane`) and esox as a child process (so that esox's own memory can be read
//! from /proc), and prints its figures beside the targets. `esox-bench` (or
//! `esox-bench es`) runs the ExternalSecret benchmark, `esox-bench push` the PushSecret one, `esox-bench vault` the Vault one (a real OpenBao
//! server). See
//! `docs/benchmarks.md` for the method and recorded results.

mod args;
mod cluster;
mod es;
mod esox_process;
mod measure;
mod push;
mod push_report;
mod push_setup;
mod ready;
mod report;
mod setup;
mod stats;
mod tracker;
mod vault;
mod vault_report;

use clap::Parser;

use args::{Args, Mode};

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "esox_bench=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for n in args.sizes() {
        let table = match args.mode() {
            Mode::Es => runtime.block_on(es::run(&args, n))?.table(),
            Mode::Push => runtime.block_on(push::run(&args, n))?.table(),
            Mode::Vault => runtime.block_on(vault::run(&args, n))?.table(),
        };
        println!("{table}");
    }
    Ok(())
}
