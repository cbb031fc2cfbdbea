//! The only code that writes (SPEC §6, §8, §12): the backup, atomic replacement of files in
//! plugins, archiving instead of deleting, hiding rolled-back entries, and metadata files.
//! Every write goes beside its target, is flushed, renamed into place, and its directory
//! flushed, so an interruption leaves each file either old or new.

mod backup;
mod steps;

pub use backup::{create_backup, discard_partial_backup};

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::layout::{self, Layout};
use crate::metadata;
use crate::plan::{Action, ActionKind};

use steps::{sync_dir, sync_file, sync_parent};

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

/// Locks a mutex; a poisoned one only means another writer thread panicked, and the set
/// or path inside is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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

/// The temporary name beside `target` that a write goes to before its rename.
fn temp_beside(target: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(layout::TEMP_PREFIX);
    name.push(target.file_name().unwrap_or_default());
    target.with_file_name(name)
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

/// Atomically writes `bytes` to `path` unless it already holds exactly them. Returns
/// whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if fs::read(path).is_ok_and(|current| current == bytes) {
        return Ok(false);
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    steps::create_dir_all(parent)?;
    let temp = temp_beside(path);
    let result = steps::write(&temp, bytes)
        .and_then(|()| sync_file(&temp))
        .and_then(|()| steps::rename(&temp, path, "rename into"));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    sync_dir(parent)?;
    Ok(true)
}

/// Records `journal` before the first write of an operation.
pub fn begin(layout: &Layout, journal: &Journal) -> Result<()> {
    write_if_changed(&layout.journal, &metadata::render_json(journal)).map(drop)
}

/// Removes the journal once the operation's metadata is recorded; the operation is done.
pub fn end(layout: &Layout) -> Result<()> {
    if fs::symlink_metadata(&layout.journal).is_err() {
        return Ok(());
    }
    steps::remove_file(&layout.journal)?;
    sync_parent(&layout.journal)
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

/// Moves a directory to `<hidden>/<name>` (or `<name>~2`, `~3`, ... when taken) and
/// returns where it went.
pub fn hide_dir(dir: &Path, hidden: &Path) -> Result<PathBuf> {
    steps::create_dir_all(hidden)?;
    let name = dir.file_name().unwrap_or_default();
    let mut dest = hidden.join(name);
    let mut n = 1;
    while fs::symlink_metadata(&dest).is_ok() {
        n += 1;
        let mut numbered = name.to_os_string();
        numbered.push(format!("~{n}"));
        dest = hidden.join(numbered);
    }
    steps::rename(dir, &dest, "move")?;
    sync_dir(hidden)?;
    sync_parent(dir)?;
    Ok(dest)
}

/// Removes carbon-patch's own temporary files left by an interrupted run: those found in
/// plugins, and any beside a metadata file.
pub fn remove_leftovers(layout: &Layout, in_plugins: &[PathBuf]) -> Result<()> {
    for leftover in in_plugins {
        steps::remove_file(&layout.plugins.join(leftover))?;
    }
    for file in layout.metadata_files() {
        steps::remove_file(&temp_beside(file))?;
    }
    Ok(())
}
