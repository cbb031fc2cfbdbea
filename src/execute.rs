//! The only code that writes (SPEC §6, §8, §12): the backup, atomic replacement of files in
//! plugins, archiving instead of deleting, hiding rolled-back entries, and metadata files.
//! Every write goes beside its target, is made durable, renamed into place, and its
//! directory flushed, so an interruption leaves each file either old or new. Plugins and
//! the backup are written in batches flushed at once (see `executor`, `backup`); metadata
//! files, a few, one by one.

mod backup;
mod direct;
mod executor;
mod steps;

pub use backup::{PartialBackup, copy_backup, discard_partial_backup};
pub use executor::{Done, Executor};

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::Result;
use crate::journal::Journal;
use crate::layout::{self, Layout};
use crate::metadata;

use steps::{sync_dir, sync_file, sync_parent};

/// Locks a mutex; a poisoned one only means another writer thread panicked, and the set
/// or path inside is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The temporary name beside `target` that a write goes to before its rename.
fn temp_beside(target: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(layout::TEMP_PREFIX);
    name.push(target.file_name().unwrap_or_default());
    target.with_file_name(name)
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

/// Moves each `(dir, hidden)` directory to `<hidden>/<name>` (or `<name>~2`, `~3`, ... when
/// taken), telling `moved` where each went. The moves are made durable together: each
/// hidden directory and each parent is flushed once, after the last rename, not twice per
/// move (two flushes of the same directory for every one of 40 patches were a fifth of a
/// small product's rollback).
pub fn hide_dirs<'a>(
    moves: impl IntoIterator<Item = (&'a Path, PathBuf)>,
    mut moved: impl FnMut(&Path, &Path),
) -> Result<()> {
    let mut to_flush = std::collections::BTreeSet::new();
    for (dir, hidden) in moves {
        steps::create_dir_all(&hidden)?;
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
        moved(dir, &dest);
        // As `sync_parent`: a path without a parent has no directory entry to flush.
        to_flush.extend(dir.parent().map(Path::to_path_buf));
        to_flush.insert(hidden);
    }
    to_flush.iter().try_for_each(|dir| sync_dir(dir))
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
