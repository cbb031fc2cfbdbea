//! The `carbon-patch` binary: parse the command line, set up diagnostics, run, exit.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match carbon_patch::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // `--help` and `--version` (exit 0) print as they are; a usage error ends, like
        // every error, with a hint.
        Err(error) => {
            let _ = error.print();
            let code = error.exit_code();
            if code != 0 {
                eprintln!(
                    "hint: `carbon-patch help <command>` shows each command's options and an example"
                );
            }
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
    };
    let current_dir = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let carbon_home = std::env::var_os("CARBON_HOME").map(Into::into);
    let config = carbon_patch::cli::Config::from_cli(cli, carbon_home, current_dir);
    carbon_patch::init_diagnostics(config.verbosity);
    ExitCode::from(carbon_patch::run(&config))
}
