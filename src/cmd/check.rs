//! `check` (SPEC §14): the pre-flight `add` and `apply` run before any write, on its own
//! and read-only, in the manner of OPatch's prerequisite checks: whether the given patch
//! archives are sound and apply to this product, whether everything fits on the disk,
//! conflicts between patches (one bundle from two patches, one patch's bundles a superset
//! of another's, resource files overlapping), whether the server runs, an operation left
//! unfinished, and whether WSO2 Update Tool manages the product.

use std::collections::BTreeSet;

use crate::Output;
use crate::archive::Archive;
use crate::archive::applies::Applicability;
use crate::cli::Config;
use crate::error::Result;
use crate::exit_codes;
use crate::installed;
use crate::layout::Layout;
use crate::plan::Target;
use crate::report::{
    self,
    archives::{ArchiveItem, ArchivesReport, Finding},
};

fn error(check: &'static str, message: String) -> Finding {
    Finding {
        check,
        severity: "error",
        message,
    }
}

fn warning(check: &'static str, message: String) -> Finding {
    Finding {
        check,
        severity: "warning",
        message,
    }
}

/// Runs `check`: exit 1 when any check fails, else 0.
pub fn run(config: &Config) -> Result<Output> {
    let mut findings = Vec::new();
    // The operator's archives, opened before carbon-patch gives up root (as `add` does).
    let mut archives = Vec::new();
    for path in &config.archives {
        match Archive::open(path) {
            Ok(archive) => archives.push(archive),
            Err(e) => findings.push(error("archive", format!("{e}; {}", e.hint()))),
        }
    }
    let layout = super::layout(config)?;
    let installed = installed::load(&layout)?;
    let mut items = Vec::new();
    let mut ignored = Vec::new();
    let verdicts = super::add::applicability(&layout, &archives, true, &mut ignored)?;
    let owners = installed.owners();
    let plans = installed::plan_each(&layout, &installed, &archives);
    for ((archive, verdict), plan) in archives.iter().zip(verdicts).zip(plans) {
        match &verdict {
            Applicability::Other { kernel, wanted } => findings.push(error(
                "applicability",
                format!(
                    "{} applies to kernel {}, this product runs {kernel} (add refuses it without --force)",
                    archive.readme.id,
                    wanted.join(", ")
                ),
            )),
            Applicability::Unknown { why } => findings.push(warning(
                "applicability",
                format!("cannot tell whether {} applies: {why}", archive.readme.id),
            )),
            Applicability::Applies { .. } => {}
        }
        match plan {
            Ok(plan) => {
                for resource in &plan.record.resources {
                    if let Some(owner) = owners.get(&resource.path) {
                        findings.push(warning(
                            "conflict",
                            format!(
                                "{} replaces {}, which {} placed: removing {} later needs {} removed first",
                                archive.readme.id, resource.path, owner.id, owner.id, archive.readme.id
                            ),
                        ));
                    }
                }
                if let Err(e) = crate::preflight::check_resources(&layout, [&plan.record]) {
                    findings.push(error("archive", format!("{e}; {}", e.hint())));
                }
                let state = if plan.already {
                    "already_added"
                } else {
                    "would_add"
                };
                items.push(ArchiveItem::of(&plan.record, state, Some(verdict)));
            }
            Err(e) => findings.push(error("conflict", format!("{e}; {}", e.hint()))),
        }
    }
    items.extend(
        installed
            .records
            .iter()
            .map(|r| ArchiveItem::of(r, "added", None)),
    );
    findings.extend(
        installed
            .pending()
            .map(|r| warning("pending", format!("an add or remove of {} did not finish: the next apply, add, remove or rollback finishes it", r.id))),
    );
    findings.extend(installed.damaged.iter().map(|d| {
        error(
            "pending",
            format!("the record `{d}` cannot be read: set the directory aside, or restore it"),
        )
    }));
    match crate::preflight::space(&layout, &archives) {
        Ok(space) => findings.extend(space.shortfall().map(|why| error("space", why))),
        Err(e) => findings.push(error("space", e.to_string())),
    }
    match crate::guard::check_server(&layout, false) {
        Ok(note) => findings.extend(note.map(|n| warning("server", n))),
        Err(e) => findings.push(error("server", format!("{e}; {}", e.hint()))),
    }
    if let Err(e) = crate::preflight::check_writable(&layout) {
        findings.push(error("writable", format!("{e}; {}", e.hint())));
    }
    findings.extend(super::add::update_tool_warning(&layout).map(|w| warning("update_tool", w)));
    findings.extend(patch_overlaps(&layout, config)?);
    let code = if findings.iter().any(|f| f.severity == "error") {
        exit_codes::PROBLEMS
    } else {
        exit_codes::SUCCESS
    };
    Ok(Output {
        text: report::archives(
            config,
            ArchivesReport {
                archives: items,
                done: Vec::new(),
                findings,
                apply: None,
            },
        ),
        warnings: Vec::new(),
        code,
    })
}

/// Patches in the apply order that provide the same bundle, and patches whose bundles
/// all come again in a later one (warnings: the later one wins, as the runtime does it).
fn patch_overlaps(layout: &Layout, config: &Config) -> Result<Vec<Finding>> {
    let examined = crate::survey::examine(layout, !config.no_cache)?;
    let entries: Vec<(&str, BTreeSet<&Target>)> = examined
        .discovery
        .patches
        .iter()
        .map(|e| (e.name.as_str(), e.files.iter().map(|f| &f.target).collect()))
        .collect();
    let mut findings = Vec::new();
    for (i, (earlier, files)) in entries.iter().enumerate() {
        for (later, theirs) in &entries[i + 1..] {
            let shared: Vec<String> = files
                .intersection(theirs)
                .map(|t| t.as_path().display().to_string())
                .collect();
            if shared.is_empty() {
                continue;
            }
            let message = if !files.is_empty() && files.is_subset(theirs) {
                format!("every bundle of {earlier} comes again in {later}: {earlier} has no effect")
            } else {
                format!(
                    "{earlier} and {later} both provide {} ({later} wins)",
                    shared.join(", ")
                )
            };
            findings.push(warning("conflict", message));
        }
    }
    Ok(findings)
}
