//! The backup (SPEC §6.3): a whole copy of plugins made beside its place and renamed to
//! `patch0000` only once every file and directory of it is durable. A partial copy is
//! never used.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::layout::{self, Layout};
use crate::metadata::{self, BackupManifest, STATE_SCHEMA_VERSION};
use crate::tree::{Dir, Info, Kind, Tree};

use super::direct;
use super::steps::{self, sync_dir};

/// Each file a backup copied, relative to plugins, with its metadata when its copy began.
pub type CopiedFrom = Vec<(PathBuf, Info)>;

/// A whole, durable copy of plugins beside the backup's place, not yet named `patch0000`
/// ([`PartialBackup::commit`]). Dropped uncommitted (the run stopped), it is removed: a
/// partial backup is never trusted, and the next run would only discard it.
#[derive(Debug)]
pub struct PartialBackup {
    layout: Layout,
    /// `None` once committed.
    manifest: Option<BackupManifest>,
    copied: CopiedFrom,
    /// Whether a partial backup left by an interrupted run was discarded first.
    pub discarded_leftover: bool,
}

/// The backup, first half: discards a leftover partial copy, then copies plugins beside
/// the backup's place and makes the copy durable; a copy that fails removes itself (a full
/// disk gets its space back). [`PartialBackup::commit`] is the second half (SPEC §6.3).
#[tracing::instrument(level = "debug", skip_all)]
pub fn copy_backup(layout: &Layout) -> Result<PartialBackup> {
    let discarded_leftover = discard_partial_backup(layout)?;
    let result = copy_plugins(layout);
    if result.is_err() {
        let _ = layout.tree.remove_dir_all(&layout.backup_partial);
    }
    let (manifest, copied) = result?;
    Ok(PartialBackup {
        layout: layout.clone(),
        manifest: Some(manifest),
        copied,
        discarded_leftover,
    })
}

impl PartialBackup {
    /// Renames the copy to `patch0000` and flushes the rename. Returns its manifest, and
    /// each file copied (relative to plugins) with its metadata when its copy began.
    pub fn commit(mut self) -> Result<(BackupManifest, CopiedFrom)> {
        let manifest = self.manifest.take().unwrap_or_default();
        let tree = &self.layout.tree;
        steps::rename(
            tree,
            &self.layout.backup_partial,
            &self.layout.backup,
            "rename into",
        )?;
        sync_dir(tree, &self.layout.patches)?;
        Ok((manifest, std::mem::take(&mut self.copied)))
    }
}

impl Drop for PartialBackup {
    fn drop(&mut self) {
        if self.manifest.is_some() {
            // Best effort: whatever stays is discarded by the next run.
            let _ = self.layout.tree.remove_dir_all(&self.layout.backup_partial);
        }
    }
}

/// Copies plugins into the partial backup directory, then makes every file and directory
/// of it durable at once ([`steps::Batch`]): one filesystem flush, not one per file.
fn copy_plugins(layout: &Layout) -> Result<(BackupManifest, CopiedFrom)> {
    let tree = &layout.tree;
    let partial = &layout.backup_partial;
    steps::create_dir_all(tree, &layout.patches)?;
    steps::create_dir(tree, partial).map_err(|e| Error::write("create directory", partial, e))?;
    let batch = steps::Batch::begin(tree, partial)?;

    let mut dirs = vec![partial.clone()];
    let mut files = Vec::new();
    let plugins = tree
        .dir(&layout.plugins, false)
        .map_err(|e| Error::read("list", &layout.plugins, e))?;
    mirror(
        tree,
        &plugins,
        Path::new(""),
        partial,
        &mut dirs,
        &mut files,
    )?;
    let bar = crate::progress::bar("backup", files.len());
    let copied: Vec<(u64, Info)> = direct::copy_all(&files, |(from, to, _)| {
        bar.inc();
        steps::copy_stamped(tree, from, to, None)
    })?;
    let copies: Vec<PathBuf> = files.iter().map(|(_, to, _)| to.clone()).collect();
    batch.flush(&copies, &dirs)?;
    let manifest = BackupManifest {
        schema_version: STATE_SCHEMA_VERSION,
        files: files
            .iter()
            .zip(&copied)
            .map(|((_, _, relative), (len, _))| (metadata::encode_path(relative), *len))
            .collect(),
    };
    let copied = files
        .into_iter()
        .zip(copied)
        .map(|((_, _, relative), (_, meta))| (relative, meta))
        .collect();
    Ok((manifest, copied))
}

/// A file to copy: where from, where to, and its path relative to where the copy began.
pub(super) type ToCopy = (PathBuf, PathBuf, PathBuf);

/// Recreates the directories under `dir` (at `relative` in plugins) in `dest`, keeps each
/// symbolic link as a link (never what it names), and lists the files to copy, in name
/// order. Anything else there (a FIFO, a device: refused while surveying) stops the copy.
pub(super) fn mirror(
    tree: &Tree,
    dir: &Dir,
    relative: &Path,
    dest: &Path,
    dirs: &mut Vec<PathBuf>,
    files: &mut Vec<ToCopy>,
) -> Result<()> {
    let entries = dir
        .entries()
        .map_err(|e| Error::read("list", dir.path(), e))?;
    for entry in entries {
        let from = dir.path().join(&entry.name);
        let to = dest.join(&entry.name);
        let relative = relative.join(&entry.name);
        match entry.kind {
            Kind::Dir => {
                steps::create_dir(tree, &to)
                    .map_err(|e| Error::write("create directory", &to, e))?;
                dirs.push(to.clone());
                let sub = dir
                    .open_dir(&entry.name)
                    .map_err(|e| Error::read("list", &from, e))?;
                mirror(tree, &sub, &relative, &to, dirs, files)?;
            }
            _ if layout::is_temp_name(&entry.name) => {}
            Kind::Link => {
                let link = tree
                    .read_link(&from)
                    .map_err(|e| Error::read("read link", &from, e))?;
                steps::symlink(tree, &link, &to)?;
            }
            Kind::File => files.push((from, to, relative)),
            other => {
                return Err(Error::refused_kind(&from, other));
            }
        }
    }
    Ok(())
}

/// Removes a directory left by an interrupted backup (it is never trusted).
pub fn discard_partial_backup(layout: &Layout) -> Result<bool> {
    match layout.tree.lstat(&layout.backup_partial) {
        Ok(Some(_)) => {
            steps::remove_dir_all(
                &layout.tree,
                &layout.backup_partial,
                "remove the partial backup",
            )?;
            Ok(true)
        }
        _ => Ok(false),
    }
}
