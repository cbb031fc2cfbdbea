//! The `carbon-patch` binary: parse the command line, set up diagnostics, run, exit.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = carbon_patch::cli::Cli::parse();
    let current_dir = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let carbon_home = std::env::var_os("CARBON_HOME").map(Into::into);
    let config = carbon_patch::cli::Config::from_cli(cli, carbon_home, current_dir);
    carbon_patch::init_diagnostics(config.verbosity);
    ExitCode::from(carbon_patch::run(&config))
}
