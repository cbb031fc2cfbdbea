//! The only code that writes (SPEC §6, §8, §12): the backup, atomic replacement of files in
//! plugins, archiving instead of deleting, hiding rolled-back entries, and metadata files.
//! Every write goes beside its target, is made durable, renamed into place, and its
//! directory flushed, so an interruption leaves each file either old or new. Plugins and
//! the backup are written in batches flushed at once (see `executor`, `backup`); metadata
//! files, a few, one by one.

mod backup;
mod direct;
mod executor;
pub mod install;
mod relocate;
mod steps;

pub use backup::{PartialBackup, copy_backup, discard_partial_backup};
pub use executor::{Done, Executor};

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::layout::{self, Layout};
use crate::metadata;
use crate::tree::Tree;

use steps::{sync_dir, sync_parent};

/// Locks a mutex; a poisoned one only means another writer thread panicked, and the set
/// or path inside is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Atomically writes `bytes` to `path` unless it already holds exactly them. Returns
/// whether it wrote.
pub fn write_if_changed(tree: &Tree, path: &Path, bytes: &[u8]) -> Result<bool> {
    if holds(tree, path, bytes) {
        return Ok(false);
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    steps::create_dir_all(tree, parent)?;
    let temp = steps::write_temp(tree, parent, bytes)?;
    if let Err(e) = steps::rename(tree, &temp, path, "rename into") {
        let _ = tree.remove_file(&temp);
        return Err(e);
    }
    sync_dir(tree, parent)?;
    Ok(true)
}

/// Whether the file `path` holds exactly `bytes` (read no further than their length: a
/// larger file differs anyway).
fn holds(tree: &Tree, path: &Path, bytes: &[u8]) -> bool {
    tree.read_capped(path, bytes.len() as u64)
        .is_ok_and(|current| current.is_some_and(|c| c == bytes))
}

/// [`write_if_changed`] for several files made durable together, as a run records its
/// metadata: each file that must change is written beside its target, all of them are
/// flushed at once ([`steps::Batch`]), renamed in the order given, and their directories
/// flushed at once — two waits for the disk instead of two per file. Returns whether any
/// was written.
pub fn write_all_if_changed(tree: &Tree, files: &[(&Path, &[u8])]) -> Result<bool> {
    let changed: Vec<(&Path, &[u8])> = files
        .iter()
        .copied()
        .filter(|(path, bytes)| !holds(tree, path, bytes))
        .collect();
    if changed.is_empty() {
        return Ok(false);
    }
    let mut temps = Vec::with_capacity(changed.len());
    let result = write_batch(tree, &changed, &mut temps);
    if result.is_err() {
        // Best effort, as in `write_if_changed` (a temporary file already renamed is gone
        // under that name): whatever stays is a leftover the next run clears.
        for temp in &temps {
            let _ = tree.remove_file(temp);
        }
    }
    result.map(|()| true)
}

/// [`write_all_if_changed`]'s writes, each temporary file in `temps` as soon as it exists.
fn write_batch(tree: &Tree, files: &[(&Path, &[u8])], temps: &mut Vec<PathBuf>) -> Result<()> {
    let parent_of = |path: &Path| path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut parents: Vec<PathBuf> = files.iter().map(|(path, _)| parent_of(path)).collect();
    parents.sort();
    parents.dedup();
    for parent in &parents {
        steps::create_dir_all(tree, parent)?;
    }
    let written = steps::Batch::begin(tree, &parents[0])?;
    for (path, bytes) in files {
        temps.push(steps::write_temp_unflushed(tree, &parent_of(path), bytes)?);
    }
    written.flush(temps, &[])?;
    let renamed = steps::Batch::begin(tree, &parents[0])?;
    for ((path, _), temp) in files.iter().zip(temps.iter()) {
        steps::rename(tree, temp, path, "rename into")?;
    }
    renamed.flush(&[], &parents)
}

/// Records `journal` before the first write of an operation.
pub fn begin(layout: &Layout, journal: &Journal) -> Result<()> {
    write_if_changed(
        &layout.tree,
        &layout.journal,
        &metadata::render_json(journal),
    )
    .map(drop)
}

/// Removes the journal once the operation's metadata is recorded; the operation is done.
pub fn end(layout: &Layout) -> Result<()> {
    let tree = &layout.tree;
    if !tree.lstat(&layout.journal).is_ok_and(|i| i.is_some()) {
        return Ok(());
    }
    steps::remove_file(tree, &layout.journal)?;
    sync_parent(tree, &layout.journal)
}

/// Moves each `(dir, hidden)` directory to `<hidden>/<name>` (or `<name>~2`, `~3`, ... when
/// taken), telling `moved` where each went. The moves are made durable together: the
/// hidden directories and the parents are flushed at once, after the last rename, not
/// twice per move (two flushes of the same directory for every one of 40 patches were a
/// fifth of a small product's rollback).
pub fn hide_dirs<'a>(
    tree: &Tree,
    moves: impl IntoIterator<Item = (&'a Path, PathBuf)>,
    moved: impl FnMut(&Path, &Path),
) -> Result<()> {
    let moves: Vec<(&Path, PathBuf)> = moves.into_iter().collect();
    let Some((first, _)) = moves.first() else {
        return Ok(());
    };
    let batch = steps::Batch::begin(tree, first.parent().unwrap_or(first))?;
    let dirs = move_aside(tree, moves, moved)?;
    batch.flush(&[], &dirs)
}

/// [`hide_dirs`] without the flush: returns the directories to flush (the caller flushes
/// them with its own, [`Executor::finish_with`]).
pub fn move_aside<'a>(
    tree: &Tree,
    moves: impl IntoIterator<Item = (&'a Path, PathBuf)>,
    mut moved: impl FnMut(&Path, &Path),
) -> Result<Vec<PathBuf>> {
    let mut to_flush = std::collections::BTreeSet::new();
    for (dir, hidden) in moves {
        steps::create_dir_all(tree, &hidden)?;
        let name = dir.file_name().unwrap_or_default();
        let mut dest = hidden.join(name);
        let mut n = 1;
        while !tree.lstat(&dest).is_ok_and(|i| i.is_none()) {
            n += 1;
            let mut numbered = name.to_os_string();
            numbered.push(format!("~{n}"));
            dest = hidden.join(numbered);
        }
        relocate::move_dir(tree, dir, &dest)?;
        moved(dir, &dest);
        // As `sync_parent`: a path without a parent has no directory entry to flush.
        to_flush.extend(dir.parent().map(Path::to_path_buf));
        to_flush.insert(hidden);
    }
    Ok(to_flush.into_iter().collect())
}

/// Clears what an interrupted run may have left: the temporary files in plugins of the
/// runs that `interrupted` records (it and the interrupted runs before it) are removed;
/// any other file in plugins whose name carries the temporary prefix is moved into the
/// archive (it may be somebody else's, so it is not deleted); carbon-patch's own
/// temporary files in the metadata dirs and the log's are removed. Returns where the
/// archived ones went.
pub fn clear_leftovers(
    layout: &Layout,
    in_plugins: &[PathBuf],
    interrupted: Option<&Journal>,
) -> Result<Option<PathBuf>> {
    let tree = &layout.tree;
    let ours = |leftover: &&PathBuf| {
        let pid = leftover.file_name().and_then(crate::tree::temp_pid);
        pid.is_some_and(|pid| interrupted.is_some_and(|j| j.pids().any(|p| p == pid)))
    };
    let (own, foreign): (Vec<&PathBuf>, Vec<&PathBuf>) = in_plugins.iter().partition(ours);
    for leftover in &own {
        let path = layout.plugins.join(leftover);
        steps::remove_file(tree, &path)?;
    }
    let mut archived_to = None;
    if !foreign.is_empty() {
        let dir = executor::new_numbered_dir(tree, &layout.archive, "leftovers")?;
        for leftover in foreign {
            let from = layout.plugins.join(leftover);
            let to = dir.join(leftover);
            if let Some(parent) = to.parent() {
                steps::create_dir_all(tree, parent)?;
            }
            steps::rename(tree, &from, &to, "move")?;
            sync_parent(tree, &from)?;
        }
        sync_dir(tree, &dir)?;
        archived_to = Some(dir);
    }
    // The metadata files' directories, the log's (a 4.5+ log is rewritten beside it), and
    // where entries are set aside (a directory copied across filesystems is staged there).
    let mut dirs: std::collections::BTreeSet<PathBuf> = layout
        .metadata_files()
        .into_iter()
        .chain([&layout.log])
        .filter_map(|file| file.parent().map(Path::to_path_buf))
        .collect();
    dirs.extend(
        [&layout.patches, &layout.servicepacks].map(|root| root.join(layout::ROLLED_BACK_DIR)),
    );
    // Where patch archives are staged, and where `remove` sets things aside.
    dirs.extend([
        // Copies into the archive across filesystems are staged in its top directory.
        layout.archive.clone(),
        layout.installed.clone(),
        layout.installed.join(crate::installed::REMOVED),
        layout.patches.join(layout::REMOVED_DIR),
    ]);
    for dir in &dirs {
        let own = match tree.read_dir(dir, false) {
            Ok(entries) => entries,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => Vec::new(),
            Err(e) => return Err(Error::read("list", dir, e)),
        };
        for entry in own {
            if layout::is_temp_name(&entry.name) {
                let path = dir.join(&entry.name);
                if entry.kind == crate::tree::Kind::Dir {
                    steps::remove_dir_all(tree, &path, "remove a partial copy")?;
                } else {
                    steps::remove_file(tree, &path)?;
                }
            }
        }
    }
    Ok(archived_to)
}
