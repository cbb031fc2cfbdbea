//! `rollback` (SPEC §8): give plugins the backup's content back, archive what patches
//! added, and move every patch and service pack aside so the server does not re-apply them.

use std::path::PathBuf;

use crate::Output;
use crate::cli::Config;
use crate::discover::Discovery;
use crate::error::{Error, Result};
use crate::execute::{self, Executor};
use crate::exit_codes;
use crate::journal::{Journal, Operation};
use crate::layout::{self, Layout};
use crate::log::{Level, PatchLog, origin};
use crate::plan::{ActionKind, Plan, plan_rollback};
use crate::report::{self, RolledBack};
use crate::survey::Survey;

/// Runs `rollback` (or, with `--dry-run`, prints its plan).
pub fn run(config: &Config) -> Result<Output> {
    let (layout, mut survey, before) = super::open(config)?;
    let mut plan = make_plan(&layout, &survey)?;
    crate::preflight::check_writes(&layout, &plan)?;
    let mut warnings = std::mem::take(&mut survey.warnings);
    let found = |survey: &Survey| {
        super::unfinished(
            survey.observed.recorded.journal.as_ref(),
            Operation::Rollback,
        )
    };
    if config.dry_run || is_noop(&layout, &survey, &plan) {
        warnings.extend(found(&survey));
        let mut text = report::rollback(config, &plan, None);
        // What the rollback would take out of the product besides plugins.
        let would: Vec<String> = crate::installed::load(&layout)?
            .records
            .iter()
            .rev()
            .map(|r| {
                format!(
                    "would remove patch archive {} ({}): {} resource file(s) back to their originals",
                    r.id,
                    r.patch_dir,
                    r.resources.len()
                )
            })
            .collect();
        text.set_rollback_archives(would);
        return Ok(Output {
            text,
            warnings,
            code: exit_codes::SUCCESS,
        });
    }
    crate::preflight::check_writable(&layout)?;
    let (_guard, warning, fresh) = super::guard(config, &layout, &before)?;
    warnings.extend(warning);
    if let Some(fresh) = fresh {
        survey = fresh;
        plan = make_plan(&layout, &survey)?;
        crate::preflight::check_writes(&layout, &plan)?;
    }
    let note = found(&survey);
    warnings.extend(note.clone());

    let done = super::logged(&layout, Some(&survey.observed), "rollback", |log| {
        if let Some(note) = &note {
            log.own(Level::Warn, note);
        }
        carry_out(&layout, &survey, &plan, log)
    })?;
    let text = report::rollback(config, &plan, Some(&done));
    Ok(Output {
        text,
        warnings,
        code: exit_codes::SUCCESS,
    })
}

fn make_plan(layout: &Layout, survey: &Survey) -> Result<Plan> {
    plan_rollback(
        &survey.discovery,
        &survey.observed,
        dirs_to_hide(layout, &survey.discovery),
    )
    .ok_or_else(|| Error::NoBackup {
        path: layout.backup.clone(),
    })
}

/// Every patch and service pack directory: with the latest service pack gone an older one
/// would become the latest, and covered patches would become uncovered, so all go.
fn dirs_to_hide(layout: &Layout, discovery: &Discovery) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = discovery.order().map(|e| e.dir.clone()).collect();
    dirs.extend(
        discovery
            .older_service_packs
            .iter()
            .map(|n| layout.servicepacks.join(n)),
    );
    dirs.extend(discovery.covered.iter().map(|n| layout.patches.join(n)));
    dirs.sort();
    dirs
}

/// Finishes a rollback that an earlier run left unfinished (its journal says so), before
/// another command does its own work; `note` says so in patches.log. `survey` may be one
/// taken for `apply`: it holds every digest the rollback's plan needs, and more.
pub fn finish(layout: &Layout, survey: &Survey, note: Option<String>) -> Result<RolledBack> {
    let plan = make_plan(layout, survey)?;
    super::logged(layout, Some(&survey.observed), "rollback", |log| {
        if let Some(note) = &note {
            log.own(Level::Warn, note);
        }
        carry_out(layout, survey, &plan, log)
    })
}

/// Nothing to restore, archive or move, the metadata already says "only patch0000", and
/// no interrupted operation to finish.
fn is_noop(layout: &Layout, survey: &Survey, plan: &Plan) -> bool {
    let recorded = &survey.observed.recorded;
    !layout
        .tree
        .lstat(&layout.journal)
        .is_ok_and(|i| i.is_some())
        && plan.actions.is_empty()
        && plan.hide.is_empty()
        && recorded.applied_44.as_ref() == Some(&plan.applied_list)
        && recorded.applied_42.as_ref() == Some(&plan.applied_list)
        && recorded
            .jars
            .as_ref()
            .is_some_and(|j| j.jars.is_empty() && j.damaged.is_empty())
        && recorded.state.as_ref().is_some_and(|s| s.placed.is_empty())
        && crate::installed::load(layout).is_ok_and(|i| i.records.is_empty())
}

fn carry_out(
    layout: &Layout,
    survey: &Survey,
    plan: &Plan,
    log: &mut PatchLog,
) -> Result<RolledBack> {
    log.own(
        Level::Info,
        format!("Rolling back plugins to {}", layout::BACKUP_NAME),
    );
    // Placing nothing new, but an interrupted apply's files stay named until this is done.
    let journal = Journal::begin(
        Operation::Rollback,
        [],
        survey.observed.recorded.journal.as_ref(),
    );
    execute::begin(layout, &journal)?;
    super::clear_leftovers(layout, survey, log)?;
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
    let executor = Executor::new(layout, "rollback");
    let done = executor.run_all(&plan.actions);
    if done.is_err() {
        executor.finish()?;
    }
    let done = done?;
    log.history.files = super::apply::files_changed(layout, plan, &done);
    let mut archived = Vec::new();
    for (action, done) in plan.actions.iter().zip(done) {
        if let ActionKind::Restore { md5 } = &action.kind {
            let line = match md5 {
                Some(md5) => format!("Restored {}(MD5:{md5})", action.target.display()),
                None => format!("Restored {}", action.target.display()),
            };
            log.own(Level::Info, line);
        }
        if let Some(to) = done.archived_to {
            let line = format!(
                "Archived {} to {}",
                action.target.display(),
                layout.display(&to)
            );
            log.own(Level::Info, line);
            archived.push((action.target.clone(), to));
        }
    }
    let mut moved = Vec::new();
    let moves = plan.hide.iter().map(|dir| {
        let parent = dir.parent().unwrap_or(&layout.patches);
        (dir.as_path(), parent.join(layout::ROLLED_BACK_DIR))
    });
    let hidden = execute::move_aside(&layout.tree, moves, |dir, to| {
        log.own(
            Level::Info,
            format!("Moved {} to {}", layout.display(dir), layout.display(to)),
        );
        moved.push((dir.to_path_buf(), to.to_path_buf()));
    });
    // Plugins' renames and these moves are flushed together.
    executor.finish_with(hidden.as_ref().cloned().unwrap_or_default())?;
    hidden?;
    log.history.moved = moved
        .iter()
        .map(|(dir, to)| {
            (
                layout.display(dir).to_string(),
                layout.display(to).to_string(),
            )
        })
        .collect();
    // Every patch archive's resources go back too, the latest first: the patch directories
    // are set aside above already. Under the journal, so an interruption is finished by
    // the next run as the rest of the rollback is.
    let mut archives = Vec::new();
    for record in crate::installed::load(layout)?.records.iter().rev() {
        for line in execute::install::begin_remove(layout, record)? {
            log.own(Level::Info, &line);
            archives.push(line);
        }
        let line = format!("Removed patch archive {} ({})", record.id, record.patch_dir);
        log.own(Level::Info, &line);
        archives.push(line);
    }
    log.history.outcome = "rolled_back".into();
    // After a rollback the apply order is empty: the next run reads no entry or target.
    super::record(layout, plan, None, &survey.cache, &Default::default())?;
    execute::end(layout)?;
    log.own(
        Level::Info,
        format!("Rollback completed: plugins match {}", layout::BACKUP_NAME),
    );
    Ok(RolledBack {
        archived,
        moved,
        archives,
    })
}
