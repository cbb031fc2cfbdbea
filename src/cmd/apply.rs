//! `apply` (SPEC §6): plan read-only, guard, back up once, write what differs, verify,
//! record the metadata and the log in the runtime's words.

use std::path::PathBuf;

use crate::Output;
use crate::cli::Config;

use crate::cache::DigestCache;
use crate::digest::Md5Digest;
use crate::discover::{Discovery, EntryKind, Listed};
use crate::error::{Error, Result};
use crate::execute::{self, Done, Executor, PartialBackup};
use crate::exit_codes;
use crate::journal::{Journal, Operation};
use crate::layout::{self, Layout};
use crate::log::{Level, PatchLog, origin};
use crate::plan::{Action, ActionKind, Event, Plan, Purpose, plan_apply};
use crate::preflight;
use crate::report::{self, Applied};
use crate::survey::Survey;
use rayon::prelude::*;

use super::verify::not_applied;

/// Runs `apply` (or, with `--dry-run`, prints its plan).
pub fn run(config: &Config) -> Result<Output> {
    let (layout, examined, before) = super::examine(config)?;
    // A first apply's backup needs no digest: it is copied while the entries are hashed.
    let early = !config.dry_run
        && examined.observed.backup.is_none()
        && examined.observed.recorded.journal.is_none();
    // Files that cannot all be placed; a first apply, which takes the lock before it
    // hashes, also looks in plugins for what stands in their way (later runs look only
    // where their plan writes, below).
    preflight::check_targets(&layout, landings(&examined.discovery), early)?;
    let (mut survey, mut locked, early_backup) = if early {
        refuse_backup_of_patched_plugins(&layout, &examined, true)?;
        preflight::check_writable(&layout)?;
        preflight::check_space(&layout, &[])?;
        let (guard, warning, changed) = super::lock(config, &layout, &before)?;
        if changed {
            let survey = super::resurvey(config, &layout)?;
            (survey, Some((guard, warning)), None)
        } else {
            let (copied, finished) = rayon::join(
                || execute::copy_backup(&layout),
                || examined.finish(&layout, Purpose::Apply),
            );
            // Hashing failed: a partial copy is dropped (removed) with `copied`.
            let survey = finished?;
            (survey, Some((guard, warning)), Some(copied?))
        }
    } else {
        (examined.finish(&layout, Purpose::Apply)?, None, None)
    };
    let mut plan = plan_apply(&survey.discovery, &survey.observed);
    refuse_backup_of_patched_plugins(&layout, &survey, plan.create_backup)?;
    if !early {
        preflight::check_writes(&layout, &plan)?;
    }
    let mut warnings = std::mem::take(&mut survey.warnings);
    warnings.extend(
        survey
            .metadata_problems
            .iter()
            .map(|p| format!("{p}: it will be rewritten")),
    );
    let found = |survey: &Survey| {
        super::unfinished(survey.observed.recorded.journal.as_ref(), Operation::Apply)
    };
    if config.dry_run {
        warnings.extend(found(&survey));
        let text = report::apply(config, &survey.discovery, &plan, None);
        return Ok(Output {
            text,
            warnings,
            code: exit_codes::SUCCESS,
        });
    }

    let _guard = match locked.take() {
        Some((guard, warning)) => {
            warnings.extend(warning);
            guard
        }
        None => {
            preflight::check_writable(&layout)?;
            let (guard, warning, fresh) = super::guard(config, &layout, &before)?;
            warnings.extend(warning);
            if let Some(fresh) = fresh {
                survey = fresh;
                plan = plan_apply(&survey.discovery, &survey.observed);
                refuse_backup_of_patched_plugins(&layout, &survey, plan.create_backup)?;
                preflight::check_writes(&layout, &plan)?;
            }
            guard
        }
    };
    let mut note = found(&survey);
    warnings.extend(note.clone());
    if survey
        .observed
        .recorded
        .journal
        .as_ref()
        .is_some_and(|j| j.operation == Operation::Rollback)
    {
        super::rollback::finish(&layout, &survey, note.take())?;
        survey = super::resurvey(config, &layout)?;
        plan = plan_apply(&survey.discovery, &survey.observed);
        refuse_backup_of_patched_plugins(&layout, &survey, plan.create_backup)?;
        preflight::check_writes(&layout, &plan)?;
    }

    let applied = super::logged(&layout, Some(&survey.observed), "apply", |log| {
        if let Some(note) = &note {
            log.own(Level::Warn, note);
        }
        carry_out(&layout, &survey, &plan, early_backup, log)
    })?;
    let code = if applied.problems.is_empty() {
        exit_codes::SUCCESS
    } else {
        exit_codes::PROBLEMS
    };
    let text = report::apply(config, &survey.discovery, &plan, Some(&applied));
    Ok(Output {
        text,
        warnings,
        code,
    })
}

/// A missing backup is made from plugins as they are; if an earlier apply already
/// patched them, that copy would not be the original bundles, and a rollback to it would
/// silently keep the patches. Refuse instead.
fn refuse_backup_of_patched_plugins<F>(
    layout: &Layout,
    survey: &Survey<F>,
    create_backup: bool,
) -> Result<()> {
    let recorded = &survey.observed.recorded;
    let applied_before = recorded
        .applied()
        .is_some_and(|list| list.iter().any(|n| n != layout::BACKUP_NAME));
    // Not `recorded.placed()`: that includes an interrupted run's journal, and a run is
    // interrupted before its first plugin write whenever it had no backup yet.
    let placed_before = recorded.jars.as_ref().is_some_and(|j| !j.jars.is_empty())
        || recorded
            .state
            .as_ref()
            .is_some_and(|s| !s.placed.is_empty());
    if create_backup && (applied_before || placed_before) {
        return Err(Error::bad_input(
            &layout.backup,
            "the backup is missing, but the metadata says patches were applied: plugins no longer hold the original bundles",
            format!(
                "restore `{}` from a copy of the original plugins; or, to accept plugins as they are as the new baseline, \
                 remove `{}` and the applied lists",
                layout.display(&layout.backup),
                layout.display(&layout.metadata)
            ),
        ));
    }
    Ok(())
}

/// Everything after the guard: backup, writes, verification, metadata; log lines as it goes.
fn carry_out(
    layout: &Layout,
    survey: &Survey,
    plan: &Plan,
    early_backup: Option<PartialBackup>,
    log: &mut PatchLog,
) -> Result<Applied> {
    log.runtime(
        origin::PROCESS,
        Level::Info,
        "Checking for patch changes ...",
    );
    // The runtime finds new and reverted entries in `processPatches` when it has no applied
    // list yet, else in `checkForPatchChanges`; changed files in `checkUpdatedJars`.
    let first = survey.observed.recorded.applied_44.is_none();
    for event in &plan.events {
        let from = match event {
            Event::Updated(_) | Event::Added(_) => Some(origin::UPDATED),
            Event::Removed(_) => None,
            _ if first => Some(origin::PROCESS),
            _ => Some(origin::CHANGES),
        };
        match from {
            Some(from) => log.runtime(from, Level::Info, event.to_string()),
            None => log.own(Level::Info, event.to_string()),
        }
    }
    log.history.apply_order = survey.discovery.order().map(|e| e.name.clone()).collect();
    log.history.events = plan.events.iter().map(ToString::to_string).collect();
    let changed = !plan.events.is_empty() || plan.writes_plugins();
    if changed {
        if plan.events.is_empty() && !plan.actions.is_empty() {
            log.own(
                Level::Info,
                format!(
                    "plugins differ from the recorded patch level in {} file(s)",
                    plan.actions.len()
                ),
            );
        }
        log.runtime_worded(
            origin::DETECTED,
            Level::Info,
            "Patch changes detected ",
            "Patch changes detected",
        );
    } else {
        log.runtime(
            origin::PROCESS,
            Level::Info,
            "No new patch or service pack detected, server will start without applying patches ",
        );
    }

    let recorded = &survey.observed.recorded;
    let journaled = plan.writes_plugins() || recorded.journal.is_some();
    if journaled {
        let placing = plan.provided.iter().map(|(target, p)| (target, p.into()));
        let journal = Journal::begin(Operation::Apply, placing, recorded.journal.as_ref());
        execute::begin(layout, &journal)?;
    }
    super::clear_leftovers(layout, survey, log)?;
    let partial = match early_backup {
        Some(copied) => Some(copied),
        None if plan.create_backup => Some(execute::copy_backup(layout)?),
        None => None,
    };
    let discarded = match &partial {
        Some(copied) => copied.discarded_leftover,
        None => execute::discard_partial_backup(layout)?,
    };
    if discarded {
        log.own(
            Level::Warn,
            "discarded a partial backup left by an interrupted run",
        );
    }
    let backup = if let Some(partial) = partial {
        let (manifest, copied) = partial.commit()?;
        // The backup is a copy of plugins: the digests read of them hold for it too.
        for (relative, at_copy) in &copied {
            survey.cache.vouch(
                &layout.backup.join(relative),
                &layout.plugins.join(relative),
                at_copy,
            );
        }
        log.runtime(
            origin::BACKED_UP,
            Level::Info,
            format!("Backed up plugins to {}", layout::BACKUP_NAME),
        );
        Some(manifest)
    } else if let Some(rebuilt) = &survey.rebuilt_backup_manifest {
        log.own(
            Level::Warn,
            format!(
                "the backup manifest was damaged: rebuilt from {} as it is now",
                layout::BACKUP_NAME
            ),
        );
        Some(rebuilt.clone())
    } else {
        None
    };
    if changed {
        log.runtime(origin::APPLYING, Level::Info, "Applying patches ...");
    }
    if plan
        .actions
        .iter()
        .any(|a| matches!(a.kind, ActionKind::Restore { .. }))
    {
        log.runtime(
            origin::PATCHES,
            Level::Info,
            "restoring bundle backup directory",
        );
    }

    let executor = Executor::new(layout, "apply");
    let done = executor.run_all(&plan.actions);
    executor.finish()?;
    let done = done?;
    let archived: Vec<(PathBuf, PathBuf)> = plan
        .actions
        .iter()
        .zip(&done)
        .filter_map(|(action, done)| Some((action.target.clone(), done.archived_to.clone()?)))
        .collect();
    if changed {
        log_patch_level(&survey.discovery, log);
    }
    log.history.files = files_changed(layout, plan, &done);
    for (target, to) in &archived {
        log.own(
            Level::Info,
            format!("Archived {} to {}", target.display(), layout.display(to)),
        );
    }

    let problems = check_written(layout, plan, &done, &survey.cache)?;
    // A 4.5+ runtime logs the verification at INFO only when something changed.
    let verify = if changed {
        origin::VERIFY
    } else {
        origin::VERIFY_QUIET
    };
    log.runtime(verify, Level::Info, "Patch verification started");
    if problems.is_empty() {
        log.runtime(
            verify,
            Level::Info,
            "Patch verification successfully completed",
        );
    } else {
        log.runtime(
            origin::VERIFY,
            Level::Warn,
            "Problems found during patch verification. See below for details:",
        );
        for problem in &problems {
            log.runtime(origin::VERIFY, Level::Warn, problem);
        }
        let log_path = std::path::absolute(&layout.log).unwrap_or_else(|_| layout.log.clone());
        log.runtime_worded(
            origin::VERIFY,
            Level::Warn,
            "Patch verification completed with warnings.",
            format!(
                "Patch verification completed with warnings. Please see  {} for more details",
                log_path.display()
            ),
        );
    }
    log.history.outcome = match (problems.is_empty(), changed) {
        (false, _) => "verified_with_problems",
        (true, true) => "verified",
        (true, false) => "no_change",
    }
    .into();
    log.history.problems = problems.clone();
    let scope = super::cache_scope(layout, &survey.discovery, plan);
    super::record(layout, plan, backup.as_ref(), &survey.cache, &scope)?;
    execute::end(layout)?;
    Ok(Applied {
        backup_created: backup.is_some(),
        archived,
        problems,
    })
}

/// The runtime's record of the whole patch level: every file of every entry in the apply order.
fn log_patch_level(discovery: &Discovery, log: &mut PatchLog) {
    for entry in discovery.order() {
        let from = match entry.kind {
            EntryKind::ServicePack => {
                log.runtime(
                    origin::SERVICE_PACK,
                    Level::Info,
                    format!("Start applying - {}", entry.name),
                );
                origin::SERVICE_PACK
            }
            EntryKind::Patch => {
                log.runtime(
                    origin::PATCHES,
                    Level::Info,
                    format!("Applying - {}", entry.name),
                );
                origin::PATCHES
            }
        };
        for file in &entry.files {
            log.runtime(
                from,
                Level::Info,
                format!("Patched {}(MD5:{})", file.own_name.display(), file.md5),
            );
        }
    }
}

/// The history's account of every file a run changed in plugins.
pub(super) fn files_changed(
    layout: &Layout,
    plan: &Plan,
    done: &[execute::Done],
) -> Vec<crate::history::FileRecord> {
    plan.actions
        .iter()
        .zip(done)
        .map(|(action, done)| {
            let (kind, entry) = match &action.kind {
                ActionKind::Write { entry, .. } => ("write", Some(entry.clone())),
                ActionKind::Restore { .. } => ("restore", None),
                ActionKind::Archive => ("archive", None),
            };
            crate::history::FileRecord {
                action: kind.into(),
                target: action.target.to_string_lossy().into_owned(),
                entry,
                md5: action.kind.md5().map(|m| m.to_string()),
                archived_to: done
                    .archived_to
                    .as_ref()
                    .map(|to| layout.display(to).to_string()),
            }
        })
        .collect()
}

/// Compares each file just written with what the plan wanted. A copy of a source this run
/// hashed, still unchanged, holds that source's digest: the cache vouches for it and the
/// copy is not read again (as for any unchanged file). Anything else is read. Targets not
/// written were compared during the survey.
#[tracing::instrument(level = "debug", skip_all)]
fn check_written(
    layout: &Layout,
    plan: &Plan,
    done: &[Done],
    cache: &DigestCache,
) -> Result<Vec<String>> {
    let written: Vec<(&Action, PathBuf)> = plan
        .actions
        .iter()
        .zip(done)
        .filter_map(|(action, done)| {
            let target = layout.plugins.join(&action.target);
            let (source, at_copy) = done.copied_from.as_ref()?;
            cache.vouch(&target, source, at_copy);
            Some((action, target))
        })
        .collect();
    let digests: Vec<Md5Digest> = written
        .par_iter()
        .map(|(_, target)| cache.md5(target))
        .collect::<Result<_>>()?;
    Ok(written
        .iter()
        .zip(digests)
        .filter_map(|((action, _), got)| {
            let want = action.kind.md5()?;
            (got != want).then(|| match &action.kind {
                ActionKind::Write { entry, .. } => not_applied(&action.target, want, entry),
                _ => format!(
                    "{}(MD5: {want}) was restored from the backup, but differs",
                    action.target.display()
                ),
            })
        })
        .collect())
}

/// Where every file of the apply order lands, for [`preflight::check_targets`].
fn landings(discovery: &Discovery<Listed>) -> impl Iterator<Item = preflight::Landing<'_>> {
    discovery.order().flat_map(|entry| {
        entry.files.iter().map(move |file| preflight::Landing {
            target: file.target.as_path(),
            entry: &entry.name,
            source: &file.source,
        })
    })
}
