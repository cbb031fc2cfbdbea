//! carbon-patch: apply, verify and roll back WSO2 Carbon 4.x patches and service packs
//! before the server starts, agreeing with the server's own patch applier.
//!
//! The flow of every command: [`survey`] reads the tree (via [`discover`] and
//! [`manifest`]), [`plan`] decides what to write, [`execute`] writes it, [`metadata`] and
//! [`log`] record it, [`report`] tells the operator.

pub mod cache;
pub mod cli;
mod cmd;
pub mod digest;
pub mod discover;
pub mod error;
pub mod execute;
pub mod exit_codes;
pub mod fault;
pub mod guard;
pub mod journal;
pub mod layout;
pub mod log;
pub mod manifest;
pub mod metadata;
pub mod plan;
pub mod report;
pub mod survey;

use std::io::Write;

use cli::{Command, Config};

/// What a command hands back for printing.
#[derive(Debug, Default)]
pub struct Output {
    /// The result, for stdout.
    pub text: String,
    /// Things worth knowing that did not stop the run, for stderr.
    pub warnings: Vec<String>,
    /// The exit code.
    pub code: u8,
}

/// Runs one command and prints its result (stdout) and warnings or error (stderr).
/// Returns the process exit code.
pub fn run(config: &Config) -> u8 {
    let result = match config.command {
        Command::Apply => cmd::apply::run(config),
        Command::Verify => cmd::verify::run(config),
        Command::Rollback => cmd::rollback::run(config),
    };
    let stderr = std::io::stderr();
    match result {
        Ok(output) => {
            let mut err = stderr.lock();
            for warning in &output.warnings {
                let _ = writeln!(err, "warning: {warning}");
            }
            if !config.quiet || output.code != exit_codes::SUCCESS {
                // A closed stdout (`| head`) is not an error worth reporting.
                let _ = std::io::stdout().lock().write_all(output.text.as_bytes());
            }
            output.code
        }
        Err(error) => {
            let mut err = stderr.lock();
            let _ = writeln!(err, "error: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let _ = writeln!(err, "  caused by: {cause}");
                source = cause.source();
            }
            let _ = writeln!(err, "hint: {}", error.hint());
            error.exit_code()
        }
    }
}

/// Sets up tracing diagnostics on stderr: warnings by default, more with `-v`/`-vv`,
/// `RUST_LOG` overriding.
pub fn init_diagnostics(verbosity: u8) {
    let default = match verbosity {
        0 => "warn",
        1 => "carbon_patch=info",
        _ => "carbon_patch=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
