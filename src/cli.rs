//! The command line (clap derive types) and the one function that turns it into a plain
//! [`Config`]; no clap type travels further.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

/// Apply, verify and roll back WSO2 Carbon 4.x patches and service packs before the server starts.
#[derive(Debug, Parser)]
#[command(name = "carbon-patch", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    command: CliCommand,
    /// Patches directory (default: the start scripts' -Dcarbon.patches.dir.path, else
    /// <components>/patches; status shows which).
    #[arg(long, global = true, value_name = "DIR")]
    patches_dir: Option<PathBuf>,
    /// Service packs directory (default: the start scripts' -Dcarbon.servicepacks.dir.path,
    /// else <components>/servicepacks; status shows which).
    #[arg(long, global = true, value_name = "DIR")]
    servicepacks_dir: Option<PathBuf>,
    /// Print only problems (stderr) and nothing on success; no progress bars.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More diagnostics on stderr (-v, -vv); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// When another carbon-patch holds the product's lock, wait this long for it (seconds)
    /// before giving up with exit 3.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 5.0)]
    wait: f64,
    /// Run as root even when the product's plugins belong to another user (by default,
    /// started as root, carbon-patch switches to that user before touching the tree).
    #[arg(long, global = true)]
    keep_root: bool,
    /// Colour the text report: auto (only on a terminal, and not when NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = CliColor::Auto, value_name = "WHEN")]
    color: CliColor,
}

const EXIT_CODES: &str = "\
Exit codes: 0 done / all verified, 1 verification found problems (status: needs attention),
            2 bad input or usage (nothing changed), 3 could not run (lock, server, I/O).";

#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Back up plugins to patch0000 (once), then apply the latest service pack and the patches.
    #[command(
        after_help = "Example:\n  carbon-patch apply /opt/wso2am-2.6.0\n  carbon-patch apply --dry-run   # uses $CARBON_HOME or the current directory"
    )]
    Apply(ChangeArgs),
    /// Check, read-only, that plugins hold exactly what the patch level says.
    #[command(
        after_help = "Example:\n  carbon-patch verify /opt/wso2am-2.6.0 && echo patched\n  carbon-patch verify --format junit /opt/wso2am-2.6.0 > patch-level.xml"
    )]
    Verify(VerifyArgs),
    /// Return plugins to the patch0000 backup and set the patches aside.
    #[command(after_help = "Example:\n  carbon-patch rollback --dry-run /opt/wso2am-2.6.0")]
    Rollback(ChangeArgs),
    /// Show, read-only, the patch level: every entry's state, bundle overlaps and conflicts,
    /// foreign files, the backup, the last run.
    #[command(
        after_help = "Exits 1 when something needs attention (pending or changed entries, conflicts, a broken backup).\n\nExample:\n  carbon-patch status /opt/wso2am-2.6.0\n  carbon-patch status --format json | jq '.entries[] | select(.state != \"applied\")'"
    )]
    Status(ReadArgs),
    /// Show, read-only, every apply and rollback carbon-patch made on this product: when, as
    /// whom, what changed, every file with its MD5, how it ended.
    #[command(
        after_help = "The record lives in patches/.metadata/carbon-patch-history.jsonl; it survives the\nserver truncating patches.log (kernels 4.5+).\n\nExample:\n  carbon-patch history /opt/wso2am-2.6.0\n  carbon-patch history --files --last 1 /opt/wso2am-2.6.0\n  carbon-patch history --format json | jq '.runs[-1].files'"
    )]
    History(HistoryArgs),
    /// Show, read-only, what `apply` would do, file by file (the same as `apply --dry-run`).
    #[command(
        after_help = "Example:\n  carbon-patch plan /opt/wso2am-2.6.0\n  carbon-patch plan --format json > plan.json   # review a patch level in a pull request"
    )]
    Plan(ReadArgs),
    /// Install WSO2 patch archives (ZIP, or a directory of the same shape): validate them
    /// whole, place each patchNNNN, install every resource file keeping the original, then apply.
    #[command(
        after_help = "The last argument is taken as PRODUCT_HOME when it is a Carbon product.\n\nExample:\n  carbon-patch add WSO2-CARBON-PATCH-4.4.0-0016.zip /opt/wso2am-2.6.0\n  carbon-patch add --no-apply patches/*.zip   # uses $CARBON_HOME or the current directory"
    )]
    Add(AddArgs),
    /// Take installed patch archives out: every original back, the patch directory set
    /// aside where the server ignores it, then apply.
    #[command(
        after_help = "Name a patch by its Patch ID or its patchNNNN directory. The last argument is taken as\nPRODUCT_HOME when it is a Carbon product.\n\nExample:\n  carbon-patch remove WSO2-CARBON-PATCH-4.4.0-0016 /opt/wso2am-2.6.0\n  carbon-patch remove patch0016"
    )]
    Remove(RemoveArgs),
    /// Pre-flight, read-only: whether apply (and adding the given archives) would work — free
    /// space, conflicts, the server, applicability, WSO2 Update Tool.
    #[command(
        after_help = "Exits 1 when a check fails, 0 when only warnings (or nothing) were found.\n\nExample:\n  carbon-patch check /opt/wso2am-2.6.0\n  carbon-patch check WSO2-CARBON-PATCH-4.4.0-0016.zip /opt/wso2am-2.6.0"
    )]
    Check(CheckArgs),
    /// Build a reproducible patched product ZIP: unpack a distribution privately, add the
    /// patch archives and apply (as `add` does), verify, and zip it again with a record of
    /// what went in.
    #[command(
        after_help = "The same inputs give the same bytes: every entry is dated SOURCE_DATE_EPOCH when set, else the\nnewest input. The record is <top>/repository/components/patches/.metadata/carbon-patch-pack.json\n(docs/PACK.md).\n\nExample:\n  carbon-patch pack wso2am-2.6.0.zip WSO2-CARBON-PATCH-4.4.0-0016.zip -o wso2am-2.6.0-p16.zip\n  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) carbon-patch pack --format json base.zip patches/*.zip -o out.zip"
    )]
    Pack(PackArgs),
    /// Compare, read-only, the configuration of two packs and a live server: what the vendor
    /// changed, what you changed, and where both did.
    #[command(
        after_help = "Covers repository/conf/**, bin/*.sh and bin/*.bat, repository/resources/** (keystores by MD5),\nand the *.xml, *.properties, *.toml, *.yaml and *.yml under repository/deployment/server/.\nExits 1 when a file is in conflict (both changed it), 0 otherwise.\n\nExample:\n  carbon-patch drift wso2am-2.6.0-p15.zip wso2am-2.6.0-p16.zip /opt/wso2am-2.6.0\n  carbon-patch drift --format json old/ new.zip | jq '.files[] | select(.class == \"conflict\")'"
    )]
    Drift(DriftArgs),
    /// Print a shell completion script to stdout.
    #[command(
        after_help = "Example:\n  carbon-patch completions bash > /etc/bash_completion.d/carbon-patch\n  carbon-patch completions zsh > \"${fpath[1]}/_carbon-patch\""
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff) of carbon-patch, or of one subcommand, to stdout.
    #[command(
        after_help = "Example:\n  carbon-patch man > /usr/local/share/man/man1/carbon-patch.1\n  carbon-patch man status | man -l -"
    )]
    Man {
        /// A subcommand, for its own page (carbon-patch-status(1), ...).
        #[arg(value_parser = SUBCOMMANDS)]
        subcommand: Option<String>,
    },
}

/// The subcommands that have a page of their own (`carbon-patch man <subcommand>`).
const SUBCOMMANDS: [&str; 12] = [
    "apply",
    "verify",
    "rollback",
    "status",
    "history",
    "plan",
    "add",
    "remove",
    "check",
    "pack",
    "drift",
    "completions",
];

/// The man page name of each subcommand.
const PAGE_NAMES: [(&str, &str); 12] = [
    ("apply", "carbon-patch-apply"),
    ("verify", "carbon-patch-verify"),
    ("rollback", "carbon-patch-rollback"),
    ("status", "carbon-patch-status"),
    ("history", "carbon-patch-history"),
    ("plan", "carbon-patch-plan"),
    ("add", "carbon-patch-add"),
    ("remove", "carbon-patch-remove"),
    ("check", "carbon-patch-check"),
    ("pack", "carbon-patch-pack"),
    ("drift", "carbon-patch-drift"),
    ("completions", "carbon-patch-completions"),
];

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
    /// Report format on stdout: text, json (docs/json.md) or junit (one test case per bundle and check).
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text, value_name = "FORMAT")]
    format: VerifyFormat,
}

#[derive(Debug, Args)]
struct HistoryArgs {
    #[command(flatten)]
    home: HomeArg,
    /// Only the last N runs.
    #[arg(long, value_name = "N")]
    last: Option<usize>,
    /// List every file each run changed, with its MD5.
    #[arg(long)]
    files: bool,
    /// Report format on stdout: text or json (docs/json.md).
    #[arg(long, value_enum, default_value_t = CliFormat::Text, value_name = "FORMAT")]
    format: CliFormat,
}

#[derive(Debug, Args)]
struct ReadArgs {
    #[command(flatten)]
    home: HomeArg,
    /// Read every file again instead of trusting the digest cache.
    #[arg(long)]
    no_cache: bool,
    /// Report format on stdout: text or json (docs/json.md).
    #[arg(long, value_enum, default_value_t = CliFormat::Text, value_name = "FORMAT")]
    format: CliFormat,
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
    /// Report format on stdout: text or json (docs/json.md).
    #[arg(long, value_enum, default_value_t = CliFormat::Text, value_name = "FORMAT")]
    format: CliFormat,
}

#[derive(Debug, Args)]
struct AddArgs {
    /// Patch archives (ZIP files or directories), then optionally PRODUCT_HOME.
    #[arg(value_name = "ARCHIVE|DIR", required = true)]
    items: Vec<PathBuf>,
    /// Install the archives but do not apply (the next apply or server start does).
    #[arg(long)]
    no_apply: bool,
    /// Install a patch whose Applies To names another kernel; go on though wso2carbon.pid
    /// names a running process.
    #[arg(long)]
    force: bool,
    /// Read every file again instead of trusting the digest cache.
    #[arg(long)]
    no_cache: bool,
    /// Report format on stdout: text or json (docs/json.md).
    #[arg(long, value_enum, default_value_t = CliFormat::Text, value_name = "FORMAT")]
    format: CliFormat,
}

#[derive(Debug, Args)]
struct RemoveArgs {
    /// Patch IDs or patchNNNN names of installed archives, then optionally PRODUCT_HOME.
    #[arg(value_name = "PATCH", required = true)]
    items: Vec<PathBuf>,
    /// Take the patches out but do not apply.
    #[arg(long)]
    no_apply: bool,
    /// Go on though wso2carbon.pid names a running process.
    #[arg(long)]
    force: bool,
    /// Read every file again instead of trusting the digest cache.
    #[arg(long)]
    no_cache: bool,
    /// Report format on stdout: text or json (docs/json.md).
    #[arg(long, value_enum, default_value_t = CliFormat::Text, value_name = "FORMAT")]
    format: CliFormat,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Patch archives to check as `add` would (optional), then optionally PRODUCT_HOME.
    #[arg(value_name = "ARCHIVE|DIR")]
    items: Vec<PathBuf>,
    /// Report format on stdout: text or json (docs/json.md).
    #[arg(long, value_enum, default_value_t = CliFormat::Text, value_name = "FORMAT")]
    format: CliFormat,
}

#[derive(Debug, Args)]
struct PackArgs {
    /// The product's distribution ZIP, as WSO2 ships it (one top directory).
    #[arg(value_name = "PRODUCT_ZIP")]
    product: PathBuf,
    /// Patch archives (ZIP files or directories), added in this order.
    #[arg(value_name = "ARCHIVE|DIR", required = true)]
    archives: Vec<PathBuf>,
    /// Where to write the patched ZIP (replaced when it exists; never an input).
    #[arg(short, long, value_name = "OUT.zip", required = true)]
    output: PathBuf,
    /// Add a patch whose Applies To names another kernel.
    #[arg(long)]
    force: bool,
    /// Report format on stdout: text or json (docs/json.md).
    #[arg(long, value_enum, default_value_t = CliFormat::Text, value_name = "FORMAT")]
    format: CliFormat,
}

#[derive(Debug, Args)]
struct DriftArgs {
    /// The pack the live server was built from (a ZIP or a directory).
    #[arg(value_name = "OLD_PACK")]
    old: PathBuf,
    /// The new pack (a ZIP or a directory).
    #[arg(value_name = "NEW_PACK")]
    new: PathBuf,
    /// The live server's product home (default: $CARBON_HOME, else the current directory).
    #[arg(value_name = "LIVE_HOME")]
    home: Option<PathBuf>,
    /// Report format on stdout: text or json (docs/json.md).
    #[arg(long, value_enum, default_value_t = CliFormat::Text, value_name = "FORMAT")]
    format: CliFormat,
}

/// Splits `items` into the archives or patches and PRODUCT_HOME: the last item is the
/// home when it is a Carbon product (holds `repository/components/plugins`).
fn split_home(mut items: Vec<PathBuf>) -> (Vec<PathBuf>, Option<PathBuf>) {
    let is_product = |p: &PathBuf| p.join("repository/components/plugins").is_dir();
    match items.last() {
        Some(last) if is_product(last) => {
            let home = items.pop();
            (items, home)
        }
        _ => (items, None),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CliFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum VerifyFormat {
    Text,
    Json,
    Junit,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CliColor {
    Auto,
    Always,
    Never,
}

/// A shell `completions` can write a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// Elvish.
    Elvish,
    /// PowerShell.
    #[value(name = "powershell")]
    PowerShell,
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
    /// `status`.
    Status,
    /// `history`: the last N runs (all when `None`), with their files or not.
    History { last: Option<usize>, files: bool },
    /// `plan`.
    Plan,
    /// `add <archive>...`.
    Add,
    /// `remove <patch>...`.
    Remove,
    /// `check [archive]...`.
    Check,
    /// `pack <product zip> <archive>... -o <out>`.
    Pack,
    /// `drift <old pack> <new pack> [live home]`.
    Drift,
    /// `completions <shell>`.
    Completions(Shell),
    /// `man [subcommand]`.
    Man(Option<&'static str>),
}

impl Command {
    /// The subcommand's name, as typed.
    pub fn name(self) -> &'static str {
        match self {
            Command::Apply => "apply",
            Command::Verify => "verify",
            Command::Rollback => "rollback",
            Command::Status => "status",
            Command::History { .. } => "history",
            Command::Plan => "plan",
            Command::Add => "add",
            Command::Remove => "remove",
            Command::Check => "check",
            Command::Pack => "pack",
            Command::Drift => "drift",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        }
    }
}

/// The form of the report on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON document (docs/json.md).
    Json,
    /// JUnit XML (`verify` only).
    Junit,
}

/// Whether to colour the text report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    /// Only when the stream is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always (`--color always` wins over `NO_COLOR`).
    Always,
    /// Never.
    Never,
}

impl Color {
    /// Whether a stream gets colour: `--color` first, then `NO_COLOR` (set and not empty
    /// means no colour, as no-color.org asks), then whether it is a terminal.
    pub fn enabled(self, no_color_env: bool, is_terminal: bool) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => !no_color_env && is_terminal,
        }
    }
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
    /// `--dry-run` (always set for `plan`).
    pub dry_run: bool,
    /// `--force`.
    pub force: bool,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// Number of `-v`.
    pub verbosity: u8,
    /// `--format`.
    pub format: Format,
    /// `--color`.
    pub color: Color,
    /// `--wait`: how long to wait for another run's lock.
    pub wait: std::time::Duration,
    /// `--keep-root`.
    pub keep_root: bool,
    /// The patch archives of `add` and `check`.
    pub archives: Vec<PathBuf>,
    /// The patches `remove` takes out (Patch IDs or patchNNNN names).
    pub patch_ids: Vec<String>,
    /// `--no-apply`.
    pub no_apply: bool,
    /// `pack -o`: where the patched ZIP goes.
    pub output: Option<PathBuf>,
    /// `drift`: the old and the new pack.
    pub packs: Vec<PathBuf>,
    /// Whether the text report on stdout is coloured: decided once by [`crate::run`] from
    /// `color`, `NO_COLOR` and whether stdout is a terminal.
    pub paint: bool,
}

impl Config {
    /// Builds the config from parsed arguments and the environment (`CARBON_HOME`, the
    /// current directory).
    pub fn from_cli(cli: Cli, carbon_home: Option<PathBuf>, current_dir: PathBuf) -> Config {
        let json = |f: CliFormat| match f {
            CliFormat::Text => Format::Text,
            CliFormat::Json => Format::Json,
        };
        let mut archives = Vec::new();
        let mut patch_ids = Vec::new();
        let mut no_apply = false;
        let mut output = None;
        let mut packs = Vec::new();
        let (command, home, dry_run, force, no_cache, format) = match cli.command {
            CliCommand::Pack(p) => {
                archives = p.archives;
                output = Some(p.output);
                (
                    Command::Pack,
                    Some(p.product),
                    false,
                    p.force,
                    true,
                    json(p.format),
                )
            }
            CliCommand::Drift(d) => {
                packs = vec![d.old, d.new];
                (Command::Drift, d.home, false, false, false, json(d.format))
            }
            CliCommand::Add(a) => {
                let (items, home) = split_home(a.items);
                archives = items;
                no_apply = a.no_apply;
                (
                    Command::Add,
                    home,
                    false,
                    a.force,
                    a.no_cache,
                    json(a.format),
                )
            }
            CliCommand::Remove(r) => {
                let (items, home) = split_home(r.items);
                patch_ids = items
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                no_apply = r.no_apply;
                (
                    Command::Remove,
                    home,
                    false,
                    r.force,
                    r.no_cache,
                    json(r.format),
                )
            }
            CliCommand::Check(c) => {
                let (items, home) = split_home(c.items);
                archives = items;
                (Command::Check, home, false, false, false, json(c.format))
            }
            CliCommand::Apply(a) => (
                Command::Apply,
                a.home.home,
                a.dry_run,
                a.force,
                a.no_cache,
                json(a.format),
            ),
            CliCommand::Verify(v) => {
                let format = match v.format {
                    VerifyFormat::Text => Format::Text,
                    VerifyFormat::Json => Format::Json,
                    VerifyFormat::Junit => Format::Junit,
                };
                (
                    Command::Verify,
                    v.home.home,
                    false,
                    false,
                    v.no_cache,
                    format,
                )
            }
            CliCommand::Rollback(a) => (
                Command::Rollback,
                a.home.home,
                a.dry_run,
                a.force,
                a.no_cache,
                json(a.format),
            ),
            CliCommand::Status(r) => (
                Command::Status,
                r.home.home,
                false,
                false,
                r.no_cache,
                json(r.format),
            ),
            CliCommand::History(h) => (
                Command::History {
                    last: h.last,
                    files: h.files,
                },
                h.home.home,
                false,
                false,
                false,
                json(h.format),
            ),
            // `plan` is `apply --dry-run`: one code path, one output.
            CliCommand::Plan(r) => (
                Command::Plan,
                r.home.home,
                true,
                false,
                r.no_cache,
                json(r.format),
            ),
            CliCommand::Completions { shell } => (
                Command::Completions(shell),
                None,
                false,
                false,
                false,
                Format::Text,
            ),
            CliCommand::Man { subcommand } => (
                Command::Man(
                    subcommand.and_then(|s| SUBCOMMANDS.iter().copied().find(|known| *known == s)),
                ),
                None,
                false,
                false,
                false,
                Format::Text,
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
            format,
            color: match cli.color {
                CliColor::Auto => Color::Auto,
                CliColor::Always => Color::Always,
                CliColor::Never => Color::Never,
            },
            paint: false,
            // A negative or NaN wait is no wait; an endless one waits as long as it can.
            wait: std::time::Duration::try_from_secs_f64(cli.wait.max(0.0))
                .unwrap_or(std::time::Duration::MAX),
            keep_root: cli.keep_root,
            archives,
            patch_ids,
            no_apply,
            output,
            packs,
        }
    }
}

/// The completion script for `shell`, generated from the same definitions as the parser.
pub fn completions(shell: Shell) -> Vec<u8> {
    use clap_complete::Shell as S;
    let shell = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Elvish => S::Elvish,
        Shell::PowerShell => S::PowerShell,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "carbon-patch", &mut out);
    out
}

/// The man page (roff) of carbon-patch, or of one of its subcommands
/// (`carbon-patch-apply(1)`, ...), generated from the same definitions as the parser.
/// `None` when there is no such subcommand.
pub fn man_page(subcommand: Option<&str>) -> Option<Vec<u8>> {
    let mut command = Cli::command();
    command.build();
    let page = match subcommand {
        None => command,
        Some(name) => {
            let sub = command.find_subcommand(name)?.clone();
            let title = PAGE_NAMES.iter().find(|(n, _)| *n == name)?.1;
            sub.name(title)
        }
    };
    let mut out = Vec::new();
    // Rendering into a Vec cannot fail.
    clap_mangen::Man::new(page).render(&mut out).ok()?;
    Some(out)
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
