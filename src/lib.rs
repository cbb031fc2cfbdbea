//! carbon-patch: apply, verify and roll back WSO2 Carbon 4.x patches and service packs
//! before the server starts, agreeing with the server's own patch applier.
//!
//! The flow of every command: [`survey`] reads the tree (via [`discover`] and
//! [`manifest`]), [`plan`] decides what to write, [`execute`] writes it, [`metadata`] and
//! [`log`] record it, [`report`] tells the operator.

pub mod archive;
pub mod cache;
pub mod cli;
mod cmd;
pub mod digest;
pub mod discover;
pub mod drift;
pub mod error;
pub mod execute;
pub mod exit_codes;
pub mod fault;
pub mod guard;
pub mod history;
pub mod installed;
pub mod inventory;
pub mod journal;
pub mod kernel;
pub mod layout;
pub mod log;
pub mod manifest;
pub mod metadata;
pub mod names;
pub mod pack;
pub mod plan;
pub mod preflight;
pub mod privilege;
pub mod progress;
pub mod report;
pub mod survey;
pub mod tree;

use std::io::{IsTerminal, Write};

use cli::{Command, Config, Format};

/// What a command hands back for printing.
#[derive(Debug)]
pub struct Output {
    /// The result, for stdout: printed at the end of the run in the chosen format.
    pub text: report::Report,
    /// Things worth knowing that did not stop the run, for stderr.
    pub warnings: Vec<String>,
    /// The exit code.
    pub code: u8,
}

/// Runs one command and prints its result (stdout) and warnings or error (stderr).
/// Returns the process exit code.
pub fn run(config: &Config) -> u8 {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let config = &Config {
        paint: config.format == Format::Text
            && config
                .color
                .enabled(no_color, std::io::stdout().is_terminal()),
        ..config.clone()
    };
    let paint_stderr = config
        .color
        .enabled(no_color, std::io::stderr().is_terminal());
    let paint = report::Paint(paint_stderr);
    progress::enable(
        config.format == Format::Text && !config.quiet && std::io::stderr().is_terminal(),
    );
    tracing::debug!(?config, "configuration");
    let result = match config.command {
        Command::Apply => cmd::apply::run(config),
        Command::Verify => cmd::verify::run(config),
        Command::Rollback => cmd::rollback::run(config),
        Command::Status => cmd::status::run(config),
        Command::History { last, files } => cmd::history::run(config, last, files),
        Command::Plan => cmd::plan::run(config),
        Command::Add => cmd::add::run(config),
        Command::Remove => cmd::remove::run(config),
        Command::Check => cmd::check::run(config),
        Command::Pack => cmd::pack::run(config),
        Command::Drift => cmd::drift::run(config),
        Command::Completions(shell) => return print(&cli::completions(shell)),
        Command::Man(subcommand) => {
            return print(&cli::man_page(subcommand).unwrap_or_default());
        }
    };
    let stderr = std::io::stderr();
    match result {
        Ok(output) => {
            let mut err = stderr.lock();
            for warning in &output.warnings {
                let _ = writeln!(err, "{} {warning}", paint.yellow("warning:"));
            }
            drop(err);
            let quiet = config.quiet && config.format == Format::Text;
            if !quiet || output.code != exit_codes::SUCCESS {
                let text =
                    output
                        .text
                        .render(config.format, config.paint, &output.warnings, output.code);
                print(text.as_bytes());
            }
            output.code
        }
        Err(error) => {
            let mut err = stderr.lock();
            let _ = writeln!(err, "{} {error}", paint.red("error:"));
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let _ = writeln!(err, "  caused by: {cause}");
                source = cause.source();
            }
            let _ = writeln!(err, "{} {}", paint.bold("hint:"), error.hint());
            drop(err);
            // A machine reading stdout gets a document saying what went wrong, too.
            match config.format {
                Format::Json => print(report::error_document(config, &error, &[]).as_bytes()),
                Format::Junit => print(report::junit_error_document(config, &error).as_bytes()),
                Format::Text => 0,
            };
            error.exit_code()
        }
    }
}

/// Writes to stdout; a closed stdout (`| head`) is not an error worth reporting.
fn print(bytes: &[u8]) -> u8 {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
    exit_codes::SUCCESS
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // With `-vv` lines carry the time since start, and each phase's span says how long it
    // took when it closes; otherwise no times.
    let _ = if verbosity >= 2 {
        builder
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .try_init()
    } else {
        builder.without_time().try_init()
    };
}
