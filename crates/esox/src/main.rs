//! The esox binary: one process, every subcommand.

mod cli;
mod crd_check;
#[cfg(feature = "testcluster")]
mod demo;
mod flags;
mod render;
mod run;
mod serve;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("esox: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
