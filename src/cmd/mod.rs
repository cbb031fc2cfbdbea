//! One module per subcommand, and what they share: opening a product home, taking the
//! guard, and recording the metadata of a finished run.

pub mod add;
pub mod apply;
pub mod check;
pub mod drift;
pub mod history;
pub mod pack;
pub mod plan;
pub mod remove;
pub mod rollback;
pub mod status;
pub mod verify;

use std::collections::HashSet;
use std::path::PathBuf;

use crate::cache::DigestCache;
use crate::cli::{Command, Config};
use crate::discover::Discovery;
use crate::discover::Listed;
use crate::error::{Error, Result};
use crate::execute;
use crate::guard::{self, Guard};
use crate::journal::{Journal, Operation};
use crate::layout::Layout;
use crate::log::{Level, PatchLog};
use crate::metadata::{self, BackupManifest, STATE_SCHEMA_VERSION, State};
use crate::plan::{Plan, Purpose};
use crate::survey::{self, Survey, read_optional};

/// The metadata files' bytes when a survey was taken: a concurrent run that changed
/// anything rewrote at least one of them.
#[derive(Debug, PartialEq, Eq)]
pub struct Fingerprint(Vec<Option<Vec<u8>>>);

fn fingerprint(layout: &Layout) -> Result<Fingerprint> {
    Ok(Fingerprint(
        layout
            .metadata_files()
            .iter()
            .filter(|p| **p != &layout.digests)
            .map(|p| read_optional(layout, p))
            .collect::<Result<_>>()?,
    ))
}

/// The layout of the configured product home; started as root, the process has become
/// the product's owner when this returns (unless `--keep-root`).
pub fn layout(config: &Config) -> Result<Layout> {
    let repository = std::env::var_os(crate::layout::REPOSITORY_VARIABLE);
    let layout = Layout::find(
        &config.home,
        crate::layout::Requested {
            patches: config.patches_dir.as_deref(),
            servicepacks: config.servicepacks_dir.as_deref(),
            repository: repository.as_deref(),
        },
    )?;
    crate::privilege::become_owner(&layout, config.keep_root)?;
    Ok(layout)
}

/// The layout of the configured product home and a survey of it (a rollback first
/// finishes what an interrupted `add` or `remove` left, [`finish_archives`]).
pub fn open(config: &Config) -> Result<(Layout, Survey, Fingerprint)> {
    let layout = layout(config)?;
    if config.command == Command::Rollback {
        finish_archives(config, &layout)?;
    }
    let before = fingerprint(&layout)?;
    let survey = resurvey(config, &layout)?;
    Ok((layout, survey, before))
}

/// The layout of the configured product home and its survey up to the digests
/// ([`crate::survey::examine`]): everything bad input can be found in.
pub fn examine(config: &Config) -> Result<(Layout, Survey<Listed>, Fingerprint)> {
    let layout = layout(config)?;
    finish_archives(config, &layout)?;
    let before = fingerprint(&layout)?;
    let examined = survey::examine(&layout, !config.no_cache)?;
    Ok((layout, examined, before))
}

/// Surveys the product home for the configured command (again, after an earlier operation
/// was finished or another run changed the tree).
pub fn resurvey(config: &Config, layout: &Layout) -> Result<Survey> {
    let purpose = match config.command {
        Command::Rollback => Purpose::Rollback,
        _ => Purpose::Apply,
    };
    survey::survey(layout, !config.no_cache, purpose)
}

/// Finishes, under the lock, what an interrupted `add` or `remove` of a patch archive left
/// ([`crate::execute::install`]), so the survey that follows sees the patch directories
/// where they belong. Costs one directory listing when there is nothing to finish; a
/// dry run changes nothing (its report warns instead).
pub fn finish_archives(config: &Config, layout: &Layout) -> Result<()> {
    if config.dry_run || crate::installed::load(layout)?.pending().next().is_none() {
        return Ok(());
    }
    crate::preflight::check_writable(layout)?;
    let (_guard, _) = guard::acquire(layout, config.force, config.wait)?;
    finish_pending_logged(layout, &[])
}

/// Finishes every interrupted `add` or `remove` (the lock held) but those of the patches
/// `except` names (a `remove` of a patch whose add cannot finish takes it out as it is),
/// logging what it did in patches.log and the history; nothing at all when there is none.
pub fn finish_pending_logged(layout: &Layout, except: &[&str]) -> Result<()> {
    let installed = crate::installed::load(layout)?;
    let pending: Vec<&crate::installed::Record> = installed
        .pending()
        .filter(|r| !except.contains(&r.id.as_str()))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    logged(layout, None, "finish", |log| {
        log.history.outcome = "finished".into();
        finish_pending(log, layout, &pending)
    })
}

fn finish_pending(
    log: &mut PatchLog,
    layout: &Layout,
    pending: &[&crate::installed::Record],
) -> Result<()> {
    for record in pending {
        log.own(
            Level::Warn,
            format!(
                "finishing the interrupted {} of {}",
                match record.progress {
                    crate::installed::Progress::Removing => "removal",
                    _ => "installation",
                },
                record.id
            ),
        );
        for line in execute::install::finish(layout, record)? {
            log.own(Level::Info, line);
        }
    }
    Ok(())
}

/// Takes the guard. If another run changed the tree between the survey and the lock,
/// surveys again (under the lock) and returns the fresh survey.
pub fn guard(
    config: &Config,
    layout: &Layout,
    before: &Fingerprint,
) -> Result<(Guard, Option<String>, Option<Survey>)> {
    let (guard, warning, changed) = lock(config, layout, before)?;
    let fresh = if changed {
        Some(resurvey(config, layout)?)
    } else {
        None
    };
    Ok((guard, warning, fresh))
}

/// Takes the guard; also says whether another run changed the tree between the survey
/// (taken when the metadata was `before`) and the lock.
pub fn lock(
    config: &Config,
    layout: &Layout,
    before: &Fingerprint,
) -> Result<(Guard, Option<String>, bool)> {
    let (guard, warning) = guard::acquire(layout, config.force, config.wait)?;
    let changed = fingerprint(layout)? != *before;
    Ok((guard, warning, changed))
}

/// What a run does about the journal of an interrupted operation it found (`None`: there
/// is none), for stderr and patches.log.
pub fn unfinished(journal: Option<&Journal>, doing: Operation) -> Option<String> {
    let journal = journal?;
    let what = match (journal.operation, doing) {
        (Operation::Apply, Operation::Rollback) => "this rollback undoes it",
        (Operation::Rollback, Operation::Apply) => "finishing that rollback first",
        _ => "finishing it",
    };
    Some(format!("{}: {what}", journal.unfinished()))
}

/// Runs `work` with a fresh patches.log buffer and history record, then appends both —
/// also when it failed, with a line saying how to finish — so the log and the history
/// always tell what happened. patches.log is written in the form of the product's kernel.
pub fn logged<T>(
    layout: &Layout,
    observed: Option<&crate::plan::Observed>,
    what: &'static str,
    work: impl FnOnce(&mut PatchLog) -> Result<T>,
) -> Result<T> {
    let kernel = crate::kernel::detect_with(layout, observed);
    let mut log = PatchLog::new(what);
    log.history.kernel = kernel.as_ref().map(|k| k.version.clone());
    let result = work(&mut log);
    if let Err(error) = &result {
        log.own(
            Level::Error,
            format!("{what} stopped: {error}; run it again to finish"),
        );
        log.history.outcome = "stopped".into();
        log.history.error = Some(error.to_string());
    }
    log.history.ended = crate::log::now();
    let history = crate::history::append(&layout.tree, &layout.history, &log.history);
    let appended = log
        .append_to(
            &layout.tree,
            &layout.log,
            crate::kernel::log_style(kernel.as_ref()),
        )
        .map_err(|e| Error::write("append to", &layout.log, e));
    // Flushed after the log: the log's flush has carried the history's line with it, and
    // this one confirms it. A run that changed nothing has nothing to lose, and no wait for
    // it (a no-change apply is what a health check or an image build runs most).
    let changed_nothing = log.history.outcome == "no_change";
    let recorded = history
        .and_then(|file| {
            if changed_nothing {
                Ok(())
            } else {
                file.sync_data()
            }
        })
        .map_err(|e| Error::write("append to", &layout.history, e));
    let value = result?;
    recorded?;
    appended?;
    Ok(value)
}

/// Clears what an interrupted run left (see [`execute::clear_leftovers`]) once the new
/// run's journal is written, and logs where foreign look-alikes were archived.
pub fn clear_leftovers(layout: &Layout, survey: &Survey, log: &mut PatchLog) -> Result<()> {
    if let Some(to) = execute::clear_leftovers(
        layout,
        &survey.leftovers,
        survey.observed.recorded.journal.as_ref(),
    )? {
        log.own(
            Level::Warn,
            format!(
                "Archived leftover temporary files from plugins to {}",
                layout.display(&to)
            ),
        );
    }
    Ok(())
}

/// The files the next run will look up if nothing changes: every file of the apply order,
/// and each provided target in plugins and in the backup. The digest cache keeps these.
pub fn cache_scope(layout: &Layout, discovery: &Discovery, plan: &Plan) -> HashSet<PathBuf> {
    let mut scope: HashSet<PathBuf> = discovery
        .order()
        .flat_map(|e| e.files.iter().map(|f| f.source.clone()))
        .collect();
    for target in plan.provided.keys() {
        scope.insert(layout.plugins.join(target));
        scope.insert(layout.backup.join(target));
    }
    scope
}

/// Writes the metadata that records `plan` as done (SPEC §9): the runtime's jar list and
/// both applied lists, carbon-patch's state and, when one was made, the backup manifest.
/// Files already holding the right bytes are not rewritten; the others are made durable
/// together. Returns whether any was.
#[tracing::instrument(level = "debug", skip_all)]
pub fn record(
    layout: &Layout,
    plan: &Plan,
    backup: Option<&BackupManifest>,
    cache: &DigestCache,
    cache_scope: &HashSet<PathBuf>,
) -> Result<bool> {
    let jars = metadata::render_jar_list(plan.provided.iter().map(|(t, p)| (t.as_path(), p.md5)));
    let applied = metadata::render_applied_list(&plan.applied_list);
    let state = State {
        schema_version: STATE_SCHEMA_VERSION,
        placed: plan
            .provided
            .iter()
            .map(|(t, p)| (metadata::encode_path(t), p.into()))
            .collect(),
    };
    // Rendered before the digests are settled: what settling waits for is the files'
    // timestamps, not these.
    let manifest = backup.map(metadata::render_json);
    let state = metadata::render_json(&state);
    cache.settle(cache_scope);
    let digests = cache.render(cache_scope);
    let mut files: Vec<(&std::path::Path, &[u8])> = Vec::with_capacity(6);
    if let Some(manifest) = &manifest {
        files.push((&layout.backup_manifest, manifest));
    }
    files.extend([
        (layout.jar_list.as_path(), jars.as_slice()),
        (&layout.applied_list_44, &applied),
        (&layout.applied_list_42, &applied),
        (&layout.state, &state),
        (&layout.digests, &digests),
    ]);
    let wrote = execute::write_all_if_changed(&layout.tree, &files)?;
    Ok(wrote)
}
