//! `add` (SPEC §14): install patch archives. Each archive is read and validated whole
//! before anything is written ([`crate::archive`]); then, under the lock, each is planned
//! against the product ([`crate::installed::plan`]), staged and installed
//! ([`crate::execute::install`]), and finally `apply` runs (unless `--no-apply`).

use crate::Output;
use crate::archive::Archive;
use crate::archive::applies::{self, Applicability};
use crate::cli::{Command, Config};
use crate::error::{Error, Result};
use crate::execute;
use crate::exit_codes;
use crate::guard;
use crate::history::FileRecord;
use crate::installed;
use crate::layout::Layout;
use crate::log::Level;
use crate::report::{self, archives::ArchiveItem, archives::ArchivesReport};

/// Runs `add`.
pub fn run(config: &Config) -> Result<Output> {
    if config.archives.is_empty() {
        return Err(Error::bad_input(
            &config.home,
            "no patch archive given",
            "name at least one: carbon-patch add ARCHIVE... [PRODUCT_HOME]",
        ));
    }
    // The archives are the operator's files: opened and read whole before carbon-patch
    // gives up root for the product's owner.
    let archives = open_all(&config.archives)?;
    let layout = super::layout(config)?;
    let mut warnings = Vec::new();
    let verdicts = applicability(&layout, &archives, config.force, &mut warnings)?;
    warnings.extend(update_tool_warning(&layout));
    crate::preflight::check_writable(&layout)?;
    crate::preflight::check_space(&layout, &archives)?;
    // Planned before the lock (a refusal leaves no trace, not even a lock file), and again
    // under it, after finishing what an interrupted run left.
    plan(&layout, &archives)?;
    let (guard, warning) = guard::acquire(&layout, config.force, config.wait)?;
    warnings.extend(warning);
    super::finish_pending_logged(&layout, &[])?;
    let plans = plan(&layout, &archives)?;
    let (items, done) = super::logged(&layout, None, "add", |log| {
        let mut items = Vec::new();
        let mut done = Vec::new();
        for ((archive, plan), verdict) in archives.iter().zip(&plans).zip(&verdicts) {
            let record = &plan.record;
            if plan.already {
                let line = format!("{} is installed already: nothing to add", record.id);
                log.own(Level::Info, &line);
                done.push(line);
                items.push(ArchiveItem::of(
                    record,
                    "already_added",
                    Some(verdict.clone()),
                ));
                continue;
            }
            execute::install::stage(&layout, archive, record)?;
            for line in execute::install::finish(&layout, record)? {
                log.own(Level::Info, &line);
                done.push(line);
            }
            let line = format!(
                "Added patch archive {} ({}, {} resource file(s))",
                record.id,
                record.patch_dir,
                record.resources.len()
            );
            log.own(Level::Info, &line);
            done.push(line);
            for step in &record.manual_steps {
                log.own(
                    Level::Warn,
                    format!("{}: manual step left to the operator: {step}", record.id),
                );
            }
            log.history
                .files
                .extend(record.resources.iter().map(|r| FileRecord {
                    action: "place".into(),
                    target: r.path.clone(),
                    entry: Some(record.id.clone()),
                    md5: Some(r.after.to_string()),
                    archived_to: None,
                }));
            items.push(ArchiveItem::of(record, "added", Some(verdict.clone())));
        }
        log.history.events = items
            .iter()
            .map(|i| format!("{} {}", i.state, i.id))
            .collect();
        log.history.outcome = "added".into();
        Ok((items, done))
    })?;
    drop(guard);
    then_apply(config, items, done, warnings)
}

/// Plans installing every archive, and checks that each resource can be placed.
fn plan(layout: &Layout, archives: &[Archive]) -> Result<Vec<installed::Plan>> {
    let installed = installed::load(layout)?;
    let plans = installed::plan_each(layout, &installed, archives)
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    crate::preflight::check_resources(layout, plans.iter().map(|p| &p.record))?;
    Ok(plans)
}

/// Runs `apply` after `add` or `remove` (unless `--no-apply`) and puts its report inside
/// theirs; the exit code is the apply's.
pub(super) fn then_apply(
    config: &Config,
    archives: Vec<ArchiveItem>,
    done: Vec<String>,
    mut warnings: Vec<String>,
) -> Result<Output> {
    let mut report = ArchivesReport {
        archives,
        done,
        findings: Vec::new(),
        apply: None,
    };
    let mut code = exit_codes::SUCCESS;
    if !config.no_apply {
        let applied = super::apply::run(&Config {
            command: Command::Apply,
            dry_run: false,
            ..config.clone()
        })?;
        warnings.extend(applied.warnings);
        code = applied.code;
        report.apply = applied.text.into_apply();
    }
    Ok(Output {
        text: report::archives(config, report),
        warnings,
        code,
    })
}

/// Opens every archive, refusing one Patch ID given twice.
pub(super) fn open_all(paths: &[std::path::PathBuf]) -> Result<Vec<Archive>> {
    let archives: Vec<Archive> = paths
        .iter()
        .map(|p| Archive::open(p))
        .collect::<Result<_>>()?;
    for (i, archive) in archives.iter().enumerate() {
        if let Some(other) = archives[..i]
            .iter()
            .find(|a| a.readme.id == archive.readme.id || a.patch_dir == archive.patch_dir)
        {
            return Err(Error::bad_input(
                &archive.path,
                format!(
                    "patch archive refused: {} ({}) is given twice, also as `{}`",
                    archive.readme.id,
                    archive.patch_dir,
                    other.path.display()
                ),
                "name each patch once; nothing was changed",
            ));
        }
    }
    Ok(archives)
}

/// Checks each archive's Applies To against the product's kernel: another kernel is
/// refused unless `force`; one nobody can judge is a warning.
pub(super) fn applicability(
    layout: &Layout,
    archives: &[Archive],
    force: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<Applicability>> {
    let kernel = crate::kernel::detect(layout);
    let mut verdicts = Vec::new();
    for archive in archives {
        let verdict = applies::check(&archive.readme, kernel.as_ref().map(|k| k.version.as_str()));
        match &verdict {
            Applicability::Other { kernel, wanted } if !force => {
                return Err(Error::bad_input(
                    &archive.path,
                    format!(
                        "{} applies to kernel {} (`{}`), and this product runs kernel {kernel}",
                        archive.readme.id,
                        wanted.join(", "),
                        archive.readme.applies_to
                    ),
                    "get the patch built for this product's kernel, or pass --force if you know it fits; nothing was changed",
                ));
            }
            Applicability::Other { kernel, wanted } => warnings.push(format!(
                "{} is for kernel {}, this product runs {kernel}: installed anyway (--force)",
                archive.readme.id,
                wanted.join(", ")
            )),
            Applicability::Unknown { why } => warnings.push(format!(
                "cannot tell whether {} applies to this product: {why}",
                archive.readme.id
            )),
            Applicability::Applies { .. } => {}
        }
        verdicts.push(verdict);
    }
    Ok(verdicts)
}

/// WSO2 Update Tool 2.0 manages the product when `updates/config.json` exists: its next
/// update overwrites what carbon-patch placed.
pub(super) fn update_tool_warning(layout: &Layout) -> Option<String> {
    let config = layout.home.join("updates").join("config.json");
    layout.tree.lstat(&config).ok().flatten().map(|_| {
        format!(
            "`{}` exists: WSO2 Update Tool manages this product, and its next update will overwrite what carbon-patch placed",
            layout.display(&config)
        )
    })
}
