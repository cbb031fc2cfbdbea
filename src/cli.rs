//! The command line (clap derive types) and the one function that turns it into a plain
//! [`Config`]; no clap type travels further.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Apply, verify and roll back WSO2 Carbon 4.x patches and service packs before the server starts.
#[derive(Debug, Parser)]
#[command(name = "carbon-patch", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    command: CliCommand,
    /// Patches directory (default: PRODUCT_HOME/repository/components/patches).
    #[arg(long, global = true, value_name = "DIR")]
    patches_dir: Option<PathBuf>,
    /// Service packs directory (default: PRODUCT_HOME/repository/components/servicepacks).
    #[arg(long, global = true, value_name = "DIR")]
    servicepacks_dir: Option<PathBuf>,
    /// Print only problems (stderr) and nothing on success.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More diagnostics on stderr (-v, -vv); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

const EXIT_CODES: &str = "\
Exit codes: 0 done / all verified, 1 verification found problems,
            2 bad input or usage (nothing changed), 3 could not run (lock, server, I/O).";

#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Back up plugins to patch0000 (once), then apply the latest service pack and the patches.
    #[command(
        after_help = "Example:\n  carbon-patch apply /opt/wso2am-2.6.0\n  carbon-patch apply --dry-run   # uses $CARBON_HOME or the current directory"
    )]
    Apply(ChangeArgs),
    /// Check, read-only, that plugins hold exactly what the patch level says.
    #[command(after_help = "Example:\n  carbon-patch verify /opt/wso2am-2.6.0 && echo patched")]
    Verify(VerifyArgs),
    /// Return plugins to the patch0000 backup and set the patches aside.
    #[command(after_help = "Example:\n  carbon-patch rollback --dry-run /opt/wso2am-2.6.0")]
    Rollback(ChangeArgs),
}

#[derive(Debug, Args)]
struct HomeArg {
    /// The product home (default: $CARBON_HOME, else the current directory).
    #[arg(value_name = "PRODUCT_HOME")]
    home: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    home: HomeArg,
    /// Read every file again instead of trusting the digest cache.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Debug, Args)]
struct ChangeArgs {
    #[command(flatten)]
    home: HomeArg,
    /// Print the plan and change nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Go on even though wso2carbon.pid names a running process.
    #[arg(long)]
    force: bool,
    /// Read every file again instead of trusting the digest cache.
    #[arg(long)]
    no_cache: bool,
}

/// Which subcommand runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `apply`.
    Apply,
    /// `verify`.
    Verify,
    /// `rollback`.
    Rollback,
}

/// Where PRODUCT_HOME came from (the report says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeSource {
    /// The command-line argument.
    Argument,
    /// `$CARBON_HOME`.
    CarbonHome,
    /// The current directory.
    CurrentDir,
}

/// Everything a run needs, free of clap.
#[derive(Debug, Clone)]
pub struct Config {
    /// The subcommand.
    pub command: Command,
    /// PRODUCT_HOME.
    pub home: PathBuf,
    /// Where it came from.
    pub home_source: HomeSource,
    /// `--patches-dir`.
    pub patches_dir: Option<PathBuf>,
    /// `--servicepacks-dir`.
    pub servicepacks_dir: Option<PathBuf>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--force`.
    pub force: bool,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// Number of `-v`.
    pub verbosity: u8,
}

impl Config {
    /// Builds the config from parsed arguments and the environment (`CARBON_HOME`, the
    /// current directory).
    pub fn from_cli(cli: Cli, carbon_home: Option<PathBuf>, current_dir: PathBuf) -> Config {
        let (command, home, dry_run, force, no_cache) = match cli.command {
            CliCommand::Apply(a) => (Command::Apply, a.home.home, a.dry_run, a.force, a.no_cache),
            CliCommand::Verify(v) => (Command::Verify, v.home.home, false, false, v.no_cache),
            CliCommand::Rollback(a) => (
                Command::Rollback,
                a.home.home,
                a.dry_run,
                a.force,
                a.no_cache,
            ),
        };
        let (home, home_source) = match (home, carbon_home.filter(|h| !h.as_os_str().is_empty())) {
            (Some(home), _) => (home, HomeSource::Argument),
            (None, Some(home)) => (home, HomeSource::CarbonHome),
            (None, None) => (current_dir, HomeSource::CurrentDir),
        };
        Config {
            command,
            home,
            home_source,
            patches_dir: cli.patches_dir,
            servicepacks_dir: cli.servicepacks_dir,
            dry_run,
            force,
            no_cache,
            quiet: cli.quiet,
            verbosity: cli.verbose,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str], carbon_home: Option<&str>) -> Config {
        let cli = Cli::try_parse_from(args).unwrap();
        Config::from_cli(cli, carbon_home.map(PathBuf::from), PathBuf::from("/cwd"))
    }

    #[test]
    fn home_comes_from_argument_then_carbon_home_then_cwd() {
        let c = config(&["carbon-patch", "apply", "/opt/am"], Some("/env"));
        assert_eq!(
            (c.home.as_path(), c.home_source),
            (std::path::Path::new("/opt/am"), HomeSource::Argument)
        );
        let c = config(&["carbon-patch", "verify"], Some("/env"));
        assert_eq!(
            (c.home.as_path(), c.home_source),
            (std::path::Path::new("/env"), HomeSource::CarbonHome)
        );
        let c = config(&["carbon-patch", "rollback"], None);
        assert_eq!(
            (c.home.as_path(), c.home_source),
            (std::path::Path::new("/cwd"), HomeSource::CurrentDir)
        );
    }

    #[test]
    fn flags_reach_the_config() {
        let c = config(
            &[
                "carbon-patch",
                "apply",
                "-n",
                "--force",
                "--patches-dir",
                "/p",
                "x",
            ],
            None,
        );
        assert!(c.dry_run && c.force);
        assert_eq!(c.command, Command::Apply);
        assert_eq!(c.patches_dir.as_deref(), Some(std::path::Path::new("/p")));
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
