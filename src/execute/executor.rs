//! Carries out a plan's actions on plugins: each new content is written beside its
//! target, flushed and renamed over it; what must be kept is archived first.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::plan::{Action, ActionKind};

use super::steps::{self, sync_dir, sync_file, sync_parent};
use super::{lock, temp_beside};

/// Writes into one product home, archiving into one archive directory per run. Actions
/// run in parallel; the directories whose entries they renamed are flushed once, by
/// [`Executor::finish`], before anything records the run as done.
pub struct Executor<'a> {
    layout: &'a Layout,
    label: &'static str,
    archive: Mutex<Option<PathBuf>>,
    renamed_in: Mutex<BTreeSet<PathBuf>>,
}

/// What one action did, for the report and the log.
#[derive(Debug, Clone)]
pub struct Done {
    /// Where the old content went, when it was archived.
    pub archived_to: Option<PathBuf>,
    /// The file the target's new content was copied from (`None` for an archive).
    pub copied_from: Option<PathBuf>,
}

impl<'a> Executor<'a> {
    /// An executor for `layout`; `label` names the run's archive directory (`apply`, `rollback`).
    pub fn new(layout: &'a Layout, label: &'static str) -> Self {
        Executor {
            layout,
            label,
            archive: Mutex::default(),
            renamed_in: Mutex::default(),
        }
    }

    /// Carries out every action, several at once; results come back in the actions' order.
    pub fn run_all(&self, actions: &[Action]) -> Result<Vec<Done>> {
        let bar = crate::progress::bar("copying", actions.len());
        actions
            .par_iter()
            .map(|action| self.run(action).inspect(|_| bar.inc()))
            .collect()
    }

    /// Carries out one planned action.
    pub fn run(&self, action: &Action) -> Result<Done> {
        let target = self.layout.plugins.join(&action.target);
        let source = match &action.kind {
            ActionKind::Write { source, .. } => source.clone(),
            ActionKind::Restore { .. } => self.layout.backup.join(&action.target),
            ActionKind::Archive => {
                let dest = self.archive_path(&action.target)?;
                move_file(&target, &dest)?;
                return Ok(Done {
                    archived_to: Some(dest),
                    copied_from: None,
                });
            }
        };
        let archived_to = match action.keep_old && action.old.is_some() {
            true => Some(self.archive_copy(&action.target, &target)?),
            false => None,
        };
        let dir = replace_unflushed(&target, &source)?;
        lock(&self.renamed_in).insert(dir);
        Ok(Done {
            archived_to,
            copied_from: Some(source),
        })
    }

    /// Flushes every directory an action renamed a file into.
    pub fn finish(&self) -> Result<()> {
        let dirs = std::mem::take(&mut *lock(&self.renamed_in));
        dirs.iter().try_for_each(|dir| sync_dir(dir))
    }

    /// A hard link (or, across devices, a copy) of the file at `path` in the archive, flushed
    /// before the file is replaced, so replacing it loses nothing.
    fn archive_copy(&self, relative: &Path, path: &Path) -> Result<PathBuf> {
        let dest = self.archive_path(relative)?;
        if let Err(e) = steps::hard_link(path, &dest) {
            // Across devices, or on a filesystem without hard links: a copy instead, made
            // whole beside its place before it takes the name. Any other error is real.
            if !matches!(
                e.kind(),
                io::ErrorKind::CrossesDevices
                    | io::ErrorKind::PermissionDenied
                    | io::ErrorKind::Unsupported
            ) {
                return Err(Error::write("archive", path, e));
            }
            let temp = temp_beside(&dest);
            steps::copy(path, &temp)?;
            sync_file(&temp)?;
            steps::rename(&temp, &dest, "rename into")?;
        }
        sync_parent(&dest)?;
        Ok(dest)
    }

    /// `<archive>/<NNNN>-<label>/<relative>`, creating this run's directory on first use.
    fn archive_path(&self, relative: &Path) -> Result<PathBuf> {
        let dir = {
            let mut archive = lock(&self.archive);
            match &*archive {
                Some(dir) => dir.clone(),
                None => archive
                    .insert(new_numbered_dir(&self.layout.archive, self.label)?)
                    .clone(),
            }
        };
        let dest = dir.join(relative);
        if let Some(parent) = dest.parent() {
            steps::create_dir_all(parent)?;
        }
        Ok(dest)
    }
}

/// Creates `<parent>/<NNNN>-<label>` with the next free number.
fn new_numbered_dir(parent: &Path, label: &str) -> Result<PathBuf> {
    steps::create_dir_all(parent)?;
    let mut next = 1 + fs::read_dir(parent)
        .map_err(|e| Error::read("list", parent, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .split('-')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    loop {
        let dir = parent.join(format!("{next:04}-{label}"));
        match steps::create_dir(&dir) {
            Ok(()) => {
                sync_dir(parent)?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => next += 1,
            Err(e) => return Err(Error::write("create directory", &dir, e)),
        }
    }
}

/// Atomically replaces `target` with a copy of `source` (copied in the kernel,
/// `copy_file_range`): the copy is written beside it, flushed, given the target's current
/// mode (or the source's for a new file) and the source's modification time, then renamed
/// over the target. Returns the directory, which the caller flushes (once for many files).
fn replace_unflushed(target: &Path, source: &Path) -> Result<PathBuf> {
    let parent = target.parent().unwrap_or(Path::new("."));
    steps::create_dir_all(parent)?;
    let source_meta = fs::metadata(source).map_err(|e| Error::read("inspect", source, e))?;
    // The target's mode, or the source's for a new file (what `fs::copy` would give).
    let mode = fs::metadata(target)
        .map(|m| m.permissions())
        .unwrap_or(source_meta.permissions());
    let modified = source_meta.modified().ok();
    let temp = temp_beside(target);
    steps::remove_file(&temp)?;
    let result = steps::copy(source, &temp)
        .and_then(|_| steps::stamp(&temp, Some(mode), modified))
        .and_then(|()| sync_file(&temp))
        .and_then(|()| steps::rename(&temp, target, "rename into"));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    Ok(parent.to_path_buf())
}

/// Moves a file (rename, or copy + flush + remove across devices), flushing both directories.
fn move_file(from: &Path, to: &Path) -> Result<()> {
    if let Err(e) = steps::try_rename(from, to) {
        if e.kind() != io::ErrorKind::CrossesDevices {
            return Err(Error::write("move", from, e));
        }
        steps::copy(from, to)?;
        sync_file(to)?;
        steps::remove_file(from)?;
    }
    sync_parent(to)?;
    sync_parent(from)
}
