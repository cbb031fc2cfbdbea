//! The reporter (ripgrep's printer): every command's result becomes one model, built here
//! from what the command found and did, and printed at the end as text ([`text`],
//! [`status`]), one JSON document ([`json`], docs/json.md) or JUnit XML ([`junit`]).
//! Paths in the model are relative to PRODUCT_HOME (or to plugins, for bundles) and
//! converted to text lossily (non-UTF-8 bytes become U+FFFD).

pub mod archives;
pub mod drift;
mod json;
mod junit;
pub mod pack;
mod status;
mod text;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{Config, Format, HomeSource};
use crate::digest::Md5Digest;
use crate::discover::{Discovery, EntryKind};
use crate::inventory::Inventory;
use crate::plan::{ActionKind, Event, Observed, Plan, Target};

pub use json::error_document;
pub use junit::error_document as junit_error_document;
pub use text::Paint;

/// Version of the JSON documents on stdout (docs/json.md). Raised when a field changes
/// meaning or goes away; new fields may appear without a raise.
pub const SCHEMA_VERSION: u32 = 1;

/// What an apply did, beyond its plan.
#[derive(Debug, Default)]
pub struct Applied {
    /// Whether `patch0000` was made in this run.
    pub backup_created: bool,
    /// Files taken out of plugins (or copies of replaced ones), and where they went.
    pub archived: Vec<(PathBuf, PathBuf)>,
    /// Problems found by the verification after the writes.
    pub problems: Vec<String>,
}

/// What a rollback did, beyond its plan.
#[derive(Debug, Default)]
pub struct RolledBack {
    /// Files taken out of plugins, and where they went.
    pub archived: Vec<(PathBuf, PathBuf)>,
    /// Entry directories moved aside, and where.
    pub moved: Vec<(PathBuf, PathBuf)>,
    /// What taking out the patch archives' resources did, one line a change.
    pub archives: Vec<String>,
}

/// One thing `verify` found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What was checked: `bundle`, `pending`, `reverted`, `backup` or `metadata`.
    pub check: &'static str,
    /// The bundle (name in plugins) or entry it concerns, if any.
    pub subject: Option<String>,
    /// The message, in the runtime's words where it has them.
    pub message: String,
}

impl Problem {
    /// A bundle in plugins that is not what the patch level says.
    pub fn bundle(target: &Path, message: String) -> Problem {
        Problem {
            check: "bundle",
            subject: Some(lossy(target)),
            message,
        }
    }

    /// An entry that is pending (`check` = `pending`) or was reverted (`reverted`).
    pub fn entry(check: &'static str, name: &str, message: String) -> Problem {
        Problem {
            check,
            subject: Some(name.to_string()),
            message,
        }
    }

    /// A missing or damaged backup.
    pub fn backup(message: String) -> Problem {
        Problem {
            check: "backup",
            subject: None,
            message,
        }
    }

    /// An apply or rollback that did not finish (its journal is still there).
    pub fn unfinished(message: String) -> Problem {
        Problem {
            check: "unfinished",
            subject: None,
            message,
        }
    }

    /// A patch archive's resource file, or its record (`check` = `resource`).
    pub fn resource(subject: String, message: String) -> Problem {
        Problem {
            check: "resource",
            subject: Some(subject),
            message,
        }
    }

    /// Metadata that disagrees with the tree.
    pub fn metadata(message: String) -> Problem {
        Problem {
            check: "metadata",
            subject: None,
            message,
        }
    }
}

/// A command's result, ready to print in any format.
#[derive(Debug)]
pub struct Report {
    command: &'static str,
    product_home: ProductHome,
    body: Body,
}

#[derive(Debug)]
enum Body {
    Apply(ApplyReport),
    Verify(VerifyReport),
    Rollback(RollbackReport),
    Status(Box<Inventory>),
    History(HistoryReport),
    Archives(Box<archives::ArchivesReport>),
    Pack(Box<pack::PackReport>),
    Drift(Box<drift::DriftReport>),
}

/// PRODUCT_HOME and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct ProductHome {
    /// As given (absolute or relative to the current directory).
    pub path: String,
    /// `argument`, `carbon_home` or `current_dir`.
    pub source: &'static str,
}

/// One entry of the apply order.
#[derive(Debug, Clone, Serialize)]
pub struct OrderItem {
    name: String,
    kind: EntryKind,
}

/// A change since the last apply.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    event: &'static str,
    name: String,
    message: String,
}

/// One file an apply or rollback writes, restores or archives.
#[derive(Debug, Clone, Serialize)]
pub struct ActionItem {
    action: &'static str,
    target: String,
    entry: Option<String>,
    source: Option<String>,
    /// `None` when the file is absent, or when its size already showed it differs (unread).
    old_md5: Option<Md5Digest>,
    /// `None` when the file is absent.
    old_size: Option<u64>,
    new_md5: Option<Md5Digest>,
    archived_to: Option<String>,
}

/// A replaced file's old content, kept in the archive.
#[derive(Debug, Clone, Serialize)]
pub struct Kept {
    target: String,
    archived_to: String,
}

/// A target that already holds its desired content.
#[derive(Debug, Clone, Serialize)]
pub struct Unchanged {
    target: String,
    entry: Option<String>,
}

/// How many files each kind of action concerns.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    written: usize,
    restored: usize,
    archived: usize,
    unchanged: usize,
}

/// The result of the verification at the end of an apply.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    passed: bool,
    problems: Vec<String>,
}

/// `apply` and `plan` (`apply --dry-run`).
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    dry_run: bool,
    apply_order: Vec<OrderItem>,
    service_pack: Option<String>,
    covered: Vec<String>,
    backup: &'static str,
    changes: Vec<Change>,
    actions: Vec<ActionItem>,
    kept: Vec<Kept>,
    unchanged: Vec<Unchanged>,
    foreign: Vec<String>,
    counts: Counts,
    bundles: usize,
    verification: Option<Verification>,
}

/// One bundle `verify` checked.
#[derive(Debug, Clone, Serialize)]
pub struct BundleCheck {
    target: String,
    entry: String,
    md5: Md5Digest,
    ok: bool,
}

/// `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    apply_order: Vec<OrderItem>,
    service_pack: Option<String>,
    covered: Vec<String>,
    passed: bool,
    bundles: Vec<BundleCheck>,
    problems: Vec<Problem>,
}

/// An entry directory a rollback sets aside.
#[derive(Debug, Clone, Serialize)]
pub struct Moved {
    from: String,
    to: Option<String>,
}

/// `rollback`.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    dry_run: bool,
    nothing_to_do: bool,
    actions: Vec<ActionItem>,
    kept: Vec<Kept>,
    moved: Vec<Moved>,
    /// What taking out the patch archives' resource files did (SPEC §14).
    archives: Vec<String>,
    foreign: Vec<String>,
    counts: Counts,
}

/// A path for the report: lossy UTF-8, control characters escaped, so no name from the
/// tree drives the terminal.
fn lossy(path: &Path) -> String {
    crate::names::Shown::path(path).to_string()
}

fn product_home(config: &Config) -> ProductHome {
    ProductHome {
        path: lossy(&config.home),
        source: match config.home_source {
            HomeSource::Argument => "argument",
            HomeSource::CarbonHome => "carbon_home",
            HomeSource::CurrentDir => "current_dir",
        },
    }
}

fn rel(config: &Config, path: &Path) -> String {
    lossy(path.strip_prefix(&config.home).unwrap_or(path))
}

fn order(discovery: &Discovery) -> (Vec<OrderItem>, Option<String>, Vec<String>) {
    (
        discovery
            .order()
            .map(|e| OrderItem {
                name: e.name.clone(),
                kind: e.kind,
            })
            .collect(),
        discovery.service_pack.as_ref().map(|e| e.name.clone()),
        discovery.covered.clone(),
    )
}

fn change(event: &Event) -> Change {
    let (kind, name) = match event {
        Event::NewServicePack(n) => ("new_service_pack", n.clone()),
        Event::NewPatch(n) => ("new_patch", n.clone()),
        Event::Reverted(n) => ("reverted", n.clone()),
        Event::Updated(t) => ("updated", lossy(t)),
        Event::Added(t) => ("added", lossy(t)),
        Event::Removed(t) => ("removed", lossy(t)),
    };
    Change {
        event: kind,
        name,
        message: event.to_string(),
    }
}

/// The actions of a plan, with where archived files went (`archived` is empty for a dry run),
/// and the replaced files whose old content was kept.
fn actions(
    config: &Config,
    plan: &Plan,
    archived: &[(PathBuf, PathBuf)],
) -> (Vec<ActionItem>, Vec<Kept>) {
    // Looked up by target: a run archiving 100,000 files reports them in linear time.
    let archived_to: std::collections::HashMap<&Path, &Path> = archived
        .iter()
        .map(|(target, to)| (target.as_path(), to.as_path()))
        .collect();
    let replaced: std::collections::HashSet<&Path> = plan
        .actions
        .iter()
        .filter(|a| !matches!(a.kind, ActionKind::Archive))
        .map(|a| a.target.as_path())
        .collect();
    let items = plan
        .actions
        .iter()
        .map(|action| {
            let archived_to = matches!(action.kind, ActionKind::Archive)
                .then(|| archived_to.get(action.target.as_path()))
                .flatten()
                .map(|to| rel(config, to));
            let (kind, entry, source, new_md5) = match &action.kind {
                ActionKind::Write { entry, source, md5 } => (
                    "write",
                    Some(entry.clone()),
                    Some(rel(config, source)),
                    Some(*md5),
                ),
                ActionKind::Restore { md5 } => ("restore", None, None, *md5),
                ActionKind::Archive => ("archive", None, None, None),
            };
            ActionItem {
                action: kind,
                target: lossy(&action.target),
                entry,
                source,
                old_md5: action.old.and_then(|old| old.md5),
                old_size: action.old.map(|old| old.size),
                new_md5,
                archived_to,
            }
        })
        .collect();
    let kept = archived
        .iter()
        .filter(|(t, _)| replaced.contains(t.as_path()))
        .map(|(target, to)| Kept {
            target: lossy(target),
            archived_to: rel(config, to),
        })
        .collect();
    (items, kept)
}

fn counts(plan: &Plan) -> Counts {
    let count = |f: fn(&ActionKind) -> bool| plan.actions.iter().filter(|a| f(&a.kind)).count();
    Counts {
        written: count(|k| matches!(k, ActionKind::Write { .. })),
        restored: count(|k| matches!(k, ActionKind::Restore { .. })),
        archived: count(|k| matches!(k, ActionKind::Archive)),
        unchanged: plan.unchanged.len(),
    }
}

fn foreign(plan: &Plan) -> Vec<String> {
    plan.foreign.iter().map(|p| lossy(p)).collect()
}

/// The report of `apply` (and `plan`); `done` is `None` for a dry run.
pub fn apply(
    config: &Config,
    discovery: &Discovery,
    plan: &Plan,
    done: Option<&Applied>,
) -> Report {
    let (apply_order, service_pack, covered) = order(discovery);
    let archived = done.map_or(&[][..], |d| d.archived.as_slice());
    let (actions, kept) = actions(config, plan, archived);
    let body = ApplyReport {
        dry_run: done.is_none(),
        apply_order,
        service_pack,
        covered,
        backup: match (plan.create_backup, done) {
            (true, Some(_)) => "created",
            (true, None) => "create",
            (false, _) => "exists",
        },
        changes: plan.events.iter().map(change).collect(),
        actions,
        kept,
        unchanged: plan
            .unchanged
            .iter()
            .map(|t| Unchanged {
                target: lossy(t),
                entry: plan.provided.get(t).map(|p| p.entry.clone()),
            })
            .collect(),
        foreign: foreign(plan),
        counts: counts(plan),
        bundles: plan.provided.len(),
        verification: done.map(|d| Verification {
            passed: d.problems.is_empty(),
            problems: d.problems.clone(),
        }),
    };
    Report {
        command: config.command.name(),
        product_home: product_home(config),
        body: Body::Apply(body),
    }
}

/// The report of `verify`.
pub fn verify(
    config: &Config,
    discovery: &Discovery,
    plan: &Plan,
    observed: &Observed,
    problems: &[Problem],
) -> Report {
    let (apply_order, service_pack, covered) = order(discovery);
    let bundles = plan
        .provided
        .iter()
        .map(|(target, p)| BundleCheck {
            target: lossy(target),
            entry: p.entry.clone(),
            md5: p.md5,
            // Looked up by `Target`, which compares cheaply (a `&Path` key compares as `Path`).
            ok: observed
                .plugins
                .get(&Target::from(target.as_path()))
                .and_then(|f| f.md5)
                == Some(p.md5),
        })
        .collect();
    Report {
        command: config.command.name(),
        product_home: product_home(config),
        body: Body::Verify(VerifyReport {
            apply_order,
            service_pack,
            covered,
            passed: problems.is_empty(),
            bundles,
            problems: problems.to_vec(),
        }),
    }
}

/// The report of `rollback`; `done` is `None` for a dry run or a no-op.
pub fn rollback(config: &Config, plan: &Plan, done: Option<&RolledBack>) -> Report {
    let archived = done.map_or(&[][..], |d| d.archived.as_slice());
    let (actions, kept) = actions(config, plan, archived);
    let moved = plan
        .hide
        .iter()
        .map(|dir| Moved {
            from: rel(config, dir),
            to: done
                .and_then(|d| d.moved.iter().find(|(from, _)| from == dir))
                .map(|(_, to)| rel(config, to)),
        })
        .collect();
    Report {
        command: config.command.name(),
        product_home: product_home(config),
        body: Body::Rollback(RollbackReport {
            dry_run: config.dry_run,
            nothing_to_do: plan.actions.is_empty()
                && plan.hide.is_empty()
                && done.is_none_or(|d| d.archives.is_empty()),
            actions,
            kept,
            moved,
            archives: done.map(|d| d.archives.clone()).unwrap_or_default(),
            foreign: foreign(plan),
            counts: counts(plan),
        }),
    }
}

/// The `history` report: the runs, oldest first.
#[derive(Debug, Serialize)]
pub struct HistoryReport {
    runs: Vec<crate::history::Record>,
    /// Whether the text lists every file (JSON always has them).
    #[serde(skip)]
    files: bool,
}

/// The `history` report.
pub fn history(config: &Config, runs: Vec<crate::history::Record>, files: bool) -> Report {
    Report {
        command: "history",
        product_home: product_home(config),
        body: Body::History(HistoryReport { runs, files }),
    }
}

/// The report of `status`.
pub fn status(config: &Config, inventory: Inventory) -> Report {
    Report {
        command: config.command.name(),
        product_home: product_home(config),
        body: Body::Status(Box::new(inventory)),
    }
}

/// The report of `add`, `remove` or `check`.
pub fn archives(config: &Config, report: archives::ArchivesReport) -> Report {
    Report {
        command: config.command.name(),
        product_home: product_home(config),
        body: Body::Archives(Box::new(report)),
    }
}

/// The report of `pack`; `product_home` names the distribution ZIP.
pub fn pack(config: &Config, report: pack::PackReport) -> Report {
    Report {
        command: config.command.name(),
        product_home: product_home(config),
        body: Body::Pack(Box::new(report)),
    }
}

/// The report of `drift`; `product_home` names the live server.
pub fn drift(config: &Config, report: drift::DriftReport) -> Report {
    Report {
        command: config.command.name(),
        product_home: product_home(config),
        body: Body::Drift(Box::new(report)),
    }
}

impl ApplyReport {
    /// The names of the apply order's entries.
    pub fn order_names(&self) -> Vec<String> {
        self.apply_order.iter().map(|e| e.name.clone()).collect()
    }
}

impl Report {
    /// For a rollback's report: the lines about patch archives (a dry run's "would remove").
    pub fn set_rollback_archives(&mut self, lines: Vec<String>) {
        if let Body::Rollback(rollback) = &mut self.body {
            rollback.nothing_to_do &= lines.is_empty();
            rollback.archives = lines;
        }
    }

    /// The apply's own report, when this is one (for `add` and `remove`, which apply).
    pub fn into_apply(self) -> Option<ApplyReport> {
        match self.body {
            Body::Apply(apply) => Some(apply),
            _ => None,
        }
    }

    /// The report of `add`, `remove` or `check`, when this is one (for `pack`, which adds).
    pub fn into_archives(self) -> Option<archives::ArchivesReport> {
        match self.body {
            Body::Archives(report) => Some(*report),
            _ => None,
        }
    }

    /// For a `verify` report: how many bundles it checked, and the message of each
    /// problem it found.
    pub fn verification(&self) -> Option<(usize, Vec<String>)> {
        match &self.body {
            Body::Verify(v) => Some((
                v.bundles.len(),
                v.problems.iter().map(|p| p.message.clone()).collect(),
            )),
            _ => None,
        }
    }

    /// Prints the report in `format`; `paint` colours the text form. `warnings` and `code`
    /// are those of the whole run (the JSON document carries them too).
    pub fn render(&self, format: Format, paint: bool, warnings: &[String], code: u8) -> String {
        match (format, &self.body) {
            (Format::Junit, Body::Verify(verify)) => junit::verify(verify),
            (Format::Json, _) | (Format::Junit, _) => json::render(self, warnings, code),
            (Format::Text, Body::Status(inventory)) => {
                status::render(&self.product_home, inventory, text::Paint(paint))
            }
            (Format::Text, Body::History(history)) => {
                text::history(&self.product_home, history, text::Paint(paint))
            }
            (Format::Text, Body::Archives(report)) => {
                archives::render(&self.product_home, self.command, report, text::Paint(paint))
            }
            (Format::Text, Body::Pack(report)) => {
                pack::render(&self.product_home, report, text::Paint(paint))
            }
            (Format::Text, Body::Drift(report)) => {
                drift::render(&self.product_home, report, text::Paint(paint))
            }
            (Format::Text, _) => text::render(self, text::Paint(paint)),
        }
    }
}
