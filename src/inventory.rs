//! The inventory behind `status` (OPatch's `lsinventory` for Carbon): every entry's state,
//! who provides each bundle and whom it overrides, version conflicts by symbolic name,
//! foreign files, the backup, the last run and the ordering traps. A pure function of what
//! the survey read; `cmd::status` does the reading and the reporter the printing.

use std::path::Path;

use serde::Serialize;

use crate::digest::Md5Digest;
use crate::discover::{Discovery, EntryKind};
use crate::layout;
use crate::plan::{Listing, Observed, Plan, Target};

mod conflicts;
mod entries;
mod last_run;

#[cfg(test)]
use conflicts::Version;
use conflicts::conflicts;
pub use conflicts::{multi_version_names, split_bundle_name};
use entries::entries;
pub use last_run::{is_run_start, last_run, parse_log_line};

/// An entry directory that a rollback moved into a `.rolled-back/` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// Its name there (`patch0003`, or `patch0003~2` when the name was taken).
    pub name: String,
    /// Service pack or patch (which `.rolled-back/` it is in).
    pub kind: EntryKind,
    /// Where it is now, relative to PRODUCT_HOME where possible.
    pub path: String,
}

/// Everything `status` reads, besides the survey's discovery and observations.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// Entries and their files.
    pub discovery: &'a Discovery,
    /// Plugins, backup and metadata.
    pub observed: &'a Observed,
    /// What `apply` would do now.
    pub plan: &'a Plan,
    /// Problems with the backup against its manifest.
    pub backup_problems: &'a [String],
    /// Damaged metadata.
    pub metadata_problems: &'a [String],
    /// Whether carbon-patch made the backup (its manifest exists).
    pub backup_manifest: bool,
    /// Whether an interrupted backup (`.patch0000.partial`) is lying beside the backup.
    pub partial_backup: bool,
    /// Entries in the `.rolled-back/` directories.
    pub set_aside: &'a [SetAside],
    /// The lines of patches.log's last run (see [`last_run`]).
    pub last_run: Option<LastRun>,
    /// Where the directories are, relative to PRODUCT_HOME where possible.
    pub paths: LayoutPaths,
    /// PRODUCT_HOME, to show paths relative to it.
    pub home: &'a Path,
    /// The symbolic names, among [`multi_version_names`], whose bundles are OSGi
    /// singletons (read from their manifests).
    pub singletons: &'a std::collections::BTreeSet<String>,
    /// The kernel as detected ([`crate::kernel::detect`]), when it was.
    pub kernel: Option<crate::kernel::Kernel>,
}

/// The Carbon layout as found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LayoutPaths {
    /// `<components>/plugins`.
    pub plugins: String,
    /// The patches directory.
    pub patches: String,
    /// The service packs directory.
    pub servicepacks: String,
    /// The components directory.
    pub components: String,
    /// The repository (patches.log is in its `logs/`).
    pub repository: String,
    /// Where each movable place came from.
    pub sources: layout::Sources,
    /// The start scripts read, relative to PRODUCT_HOME.
    pub scripts: Vec<String>,
}

/// The state of one entry (service pack or patch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// In the apply order, recorded as applied, and plugins hold its bundles.
    Applied,
    /// In the apply order but not applied yet.
    Pending,
    /// Applied, but a file was added to, changed in or removed from it since.
    Changed,
    /// Applied, but plugins do not hold (all of) its bundles.
    Broken,
    /// A patch the latest service pack already contains: skipped.
    Covered,
    /// A service pack older than the latest: never applied.
    Superseded,
    /// Recorded as applied, but its directory is gone: the next apply reverts it.
    Gone,
    /// Recorded as applied, present, but no longer in the apply order (now covered, or an
    /// older service pack): the next apply reverts it.
    Dropped,
    /// Moved aside by a rollback.
    RolledBack,
}

impl EntryState {
    /// Whether this state needs the operator's attention (`status` exits 1).
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            EntryState::Pending
                | EntryState::Changed
                | EntryState::Broken
                | EntryState::Gone
                | EntryState::Dropped
        )
    }
}

/// One entry in the inventory.
#[derive(Debug, Clone, Serialize)]
pub struct EntryStatus {
    /// Directory name.
    pub name: String,
    /// `service_pack` or `patch`.
    pub kind: EntryKind,
    /// Its state.
    pub state: EntryState,
    /// Where it is, relative to PRODUCT_HOME (`null` when gone).
    pub path: Option<String>,
    /// Number of files it provides (entries in the apply order only).
    pub files: Option<usize>,
    /// What explains the state, one line each.
    pub details: Vec<String>,
}

/// Who provides one bundle, and whom it overrides.
#[derive(Debug, Clone, Serialize)]
pub struct BundleStatus {
    /// The name in plugins.
    pub target: String,
    /// The entry whose file lands there (the last in the apply order that ships it).
    pub provider: String,
    /// MD5 of that file.
    pub md5: Md5Digest,
    /// Earlier entries in the apply order that ship the same name, and so are overridden.
    pub overrides: Vec<Overridden>,
    /// Whether the bundle replaces an original one (in the backup), or is new.
    pub replaces_original: bool,
    /// `ok` (plugins hold it), `pending` (its provider is not applied yet), `differs`, or
    /// `missing`.
    pub in_plugins: &'static str,
}

/// An earlier provider of a bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Overridden {
    /// The entry.
    pub entry: String,
    /// Whether its file has the same content as the winner's.
    pub same_content: bool,
}

/// One symbolic name that plugins would hold in more than one version.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    /// `older` when an entry ships a version older than one it sits beside, `singleton`
    /// for a singleton bundle in several versions, else `versions` (information only).
    pub kind: &'static str,
    /// Whether `status` exits 1 for it (`older` and `singleton`).
    pub needs_attention: bool,
    /// The Bundle-SymbolicName (from the file name `<name>_<version>.jar`).
    pub symbolic_name: String,
    /// Every version, with where each comes from.
    pub versions: Vec<ConflictVersion>,
    /// One line for people.
    pub message: String,
}

/// One version of a conflicting bundle.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictVersion {
    /// The version.
    pub version: String,
    /// Its name in plugins.
    pub target: String,
    /// Where it comes from: entries in apply order, `patch0000` for the original.
    pub from: Vec<String>,
}

/// The backup's state.
#[derive(Debug, Clone, Serialize)]
pub struct BackupStatus {
    /// `present`, `missing`, or `damaged`.
    pub state: &'static str,
    /// Number of files in it.
    pub files: Option<usize>,
    /// Whether carbon-patch made it (and so can check it against its manifest).
    pub checked_against_manifest: bool,
    /// Whether an interrupted backup lies beside it (discarded by the next apply).
    pub partial_left: bool,
    /// What is wrong with it.
    pub problems: Vec<String>,
}

/// The last run recorded in patches.log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRun {
    /// `apply` (carbon-patch apply or a server start: both log the same words) or `rollback`.
    pub kind: &'static str,
    /// When it started, as logged.
    pub started: String,
    /// When it logged its last line.
    pub ended: String,
    /// `verified`, `verified_with_problems`, `no_change`, `rolled_back`, `stopped`, or
    /// `unfinished` (no closing line).
    pub outcome: &'static str,
    /// The closing line (the error, for a stopped run).
    pub last_message: String,
}

/// The whole inventory.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// Where the directories are.
    pub layout: LayoutPaths,
    /// The Carbon kernel version, read from the name of `org.wso2.carbon.core_<version>.jar`
    /// in the backup (or plugins).
    pub kernel: Option<String>,
    /// Where the kernel version was read from, relative to PRODUCT_HOME ([`crate::kernel`]).
    pub kernel_source: Option<String>,
    /// The form patches.log is written in for this kernel: `log4j` (up to 4.4) or
    /// `java.util.logging` (4.5 to 4.12).
    pub log_form: &'static str,
    /// Which applied lists exist: `4.4+` (`prePatchedDir.txt`), `4.2` (`prePatched.txt`).
    pub applied_lists: Vec<&'static str>,
    /// The latest service pack.
    pub service_pack: Option<String>,
    /// Every entry: the apply order first, then covered, superseded, gone, rolled back.
    pub entries: Vec<EntryStatus>,
    /// Every bundle the apply order provides.
    pub bundles: Vec<BundleStatus>,
    /// Symbolic names that plugins would hold in more than one version.
    pub conflicts: Vec<Conflict>,
    /// Files in plugins placed by something else (not the backup, not carbon-patch).
    pub foreign: Vec<String>,
    /// The backup.
    pub backup: BackupStatus,
    /// The last run in patches.log.
    pub last_run: Option<LastRun>,
    /// Names whose byte-wise order differs from their numeric order (SPEC §3).
    pub ordering_traps: Vec<String>,
    /// Entries of patches and servicepacks that are neither a patch nor a service pack.
    pub ignored: Vec<String>,
    /// Damaged metadata.
    pub metadata_problems: Vec<String>,
    /// Files `apply` would write, restore or archive now.
    pub pending_writes: usize,
    /// The patch archives `add` installed (SPEC §14), in installation order.
    pub archives: Vec<crate::report::archives::ArchiveItem>,
    /// What is wrong with them (an unfinished operation, a resource file changed since).
    pub archive_problems: Vec<String>,
    /// Set when WSO2 Update Tool manages the product: its next update overwrites what
    /// carbon-patch placed.
    pub update_tool: Option<String>,
    /// Why `status` exits 1; empty when all is well.
    pub attention: Vec<String>,
}

/// Builds the inventory.
pub fn inventory(inputs: &Inputs<'_>) -> Inventory {
    let discovery = inputs.discovery;
    let observed = inputs.observed;
    let plan = inputs.plan;
    // Names are shown escaped: an entry's or a file's name never drives the terminal.
    let rel =
        |p: &Path| crate::names::Shown::path(p.strip_prefix(inputs.home).unwrap_or(p)).to_string();

    let entries = entries(inputs, &rel);
    let bundles = bundles(discovery, observed, plan);
    let conflicts = conflicts(discovery, observed, inputs.singletons);
    let base = base_files(observed);
    let kernel = inputs
        .kernel
        .as_ref()
        .map(|k| k.version.clone())
        .or_else(|| {
            base.keys().find_map(|t| {
                let (name, version) = split_bundle_name(t)?;
                (name == "org.wso2.carbon.core").then(|| version.to_string())
            })
        });
    let log_form = match crate::kernel::log_style(inputs.kernel.as_ref()) {
        crate::log::Style::Log4j => "log4j",
        crate::log::Style::Jul => "java.util.logging",
    };
    let mut applied_lists = Vec::new();
    if observed.recorded.applied_44.is_some() {
        applied_lists.push("4.4+");
    }
    if observed.recorded.applied_42.is_some() {
        applied_lists.push("4.2");
    }

    let backup = match &observed.backup {
        None => BackupStatus {
            state: "missing",
            files: None,
            checked_against_manifest: false,
            partial_left: inputs.partial_backup,
            problems: Vec::new(),
        },
        Some(files) => BackupStatus {
            state: if inputs.backup_problems.is_empty() {
                "present"
            } else {
                "damaged"
            },
            files: Some(files.len()),
            checked_against_manifest: inputs.backup_manifest,
            partial_left: inputs.partial_backup,
            problems: inputs.backup_problems.to_vec(),
        },
    };

    let mut names: Vec<&str> = discovery
        .patches
        .iter()
        .map(|e| e.name.as_str())
        .chain(discovery.covered.iter().map(String::as_str))
        .collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut packs: Vec<&str> = discovery
        .older_service_packs
        .iter()
        .map(String::as_str)
        .chain(discovery.service_pack.iter().map(|e| e.name.as_str()))
        .collect();
    packs.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut traps = ordering_traps(&names);
    traps.extend(ordering_traps(&packs));

    let foreign: Vec<String> = plan
        .foreign
        .iter()
        .map(|p| crate::names::Shown::path(p).to_string())
        .collect();

    let mut attention = Vec::new();
    for entry in &entries {
        if entry.state.needs_attention() {
            attention.push(format!("{} is {}", entry.name, state_word(entry.state)));
        }
    }
    let serious = conflicts.iter().filter(|c| c.needs_attention).count();
    if serious > 0 {
        attention.push(format!(
            "{serious} bundle(s) would be in plugins in versions that clash (a singleton, or an older version)"
        ));
    }
    if !plan.actions.is_empty() {
        attention.push(format!(
            "apply would change {} file(s) in plugins",
            plan.actions.len()
        ));
    }
    if backup.state == "damaged" {
        attention.push("the backup is damaged".into());
    }
    if backup.state == "missing" && observed.recorded.applied().is_some() {
        attention.push("the backup is missing, but patches were applied".into());
    }
    if backup.partial_left {
        attention.push("an interrupted backup was left behind".into());
    }
    if !inputs.metadata_problems.is_empty() {
        attention.push("the metadata is damaged".into());
    }
    if let Some(journal) = &observed.recorded.journal {
        attention.push(format!(
            "{}: run `carbon-patch {}` to finish it",
            journal.unfinished(),
            journal.operation
        ));
    }
    if inputs
        .last_run
        .as_ref()
        .is_some_and(|r| r.outcome == "stopped")
    {
        attention.push("the last run stopped before it finished".into());
    }

    Inventory {
        layout: inputs.paths.clone(),
        kernel,
        kernel_source: inputs.kernel.as_ref().map(|k| k.source.clone()),
        log_form,
        applied_lists,
        service_pack: discovery.service_pack.as_ref().map(|e| e.name.clone()),
        entries,
        bundles,
        conflicts,
        foreign,
        backup,
        last_run: inputs.last_run.clone(),
        ordering_traps: traps,
        // `.rolled-back/` is listed entry by entry above.
        ignored: discovery
            .ignored
            .iter()
            .filter(|p| p.file_name() != Some(std::ffi::OsStr::new(layout::ROLLED_BACK_DIR)))
            .map(|p| rel(p))
            .collect(),
        metadata_problems: inputs.metadata_problems.to_vec(),
        pending_writes: plan.actions.len(),
        archives: Vec::new(),
        archive_problems: Vec::new(),
        update_tool: None,
        attention,
    }
}

/// How a state reads in a sentence.
pub fn state_word(state: EntryState) -> &'static str {
    match state {
        EntryState::Applied => "applied",
        EntryState::Pending => "pending",
        EntryState::Changed => "changed since applied",
        EntryState::Broken => "applied, but plugins differ",
        EntryState::Covered => "covered by the service pack",
        EntryState::Superseded => "superseded by a later service pack",
        EntryState::Gone => "applied, but its directory is gone",
        EntryState::Dropped => "applied, but no longer in the apply order",
        EntryState::RolledBack => "rolled back",
    }
}

fn bundles(discovery: &Discovery, observed: &Observed, plan: &Plan) -> Vec<BundleStatus> {
    let base = base_files(observed);
    plan.provided
        .iter()
        .map(|(target, provided)| {
            // Looked up by target: by path, every comparison would parse both paths.
            let key = Target::from(target.as_path());
            let overrides = discovery
                .order()
                .take_while(|e| e.name != provided.entry)
                .filter_map(|e| {
                    let file = e.files.iter().find(|f| f.target == key)?;
                    Some(Overridden {
                        entry: e.name.clone(),
                        same_content: file.md5 == provided.md5,
                    })
                })
                .collect();
            let applied = observed
                .recorded
                .applied()
                .is_some_and(|list| list.contains(&provided.entry));
            let in_plugins = match observed.plugins.get(&key) {
                Some(p) if p.md5 == Some(provided.md5) => "ok",
                _ if !applied => "pending",
                None => "missing",
                Some(_) => "differs",
            };
            BundleStatus {
                target: crate::names::Shown::path(target).to_string(),
                provider: provided.entry.clone(),
                md5: provided.md5,
                overrides,
                replaces_original: base.contains_key(&key),
                in_plugins,
            }
        })
        .collect()
}

/// The original bundles: the backup, or plugins while there is none (the backup will be
/// their copy).
fn base_files(observed: &Observed) -> &Listing {
    observed.backup.as_ref().unwrap_or(&observed.plugins)
}

/// Names whose byte-wise order (the runtime's, and ours) differs from the numeric order an
/// operator expects: `patch10000` before `patch2000`, `servicepack10` before `servicepack9`.
/// `names` is in byte-wise order.
pub fn ordering_traps(names: &[&str]) -> Vec<String> {
    let number = |name: &str| -> Option<u64> {
        let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
        digits.parse().ok()
    };
    let mut traps = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            if let (Some(x), Some(y)) = (number(a), number(b))
                && x > y
            {
                traps.push(format!(
                    "{a} comes before {b}: names are compared byte by byte, as the server does, not as numbers"
                ));
            }
        }
    }
    traps
}

#[cfg(test)]
mod tests;
