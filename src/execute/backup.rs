//! The backup (SPEC §6.3): a whole copy of plugins made beside its place and renamed to
//! `patch0000` only once every file and directory of it is durable. A partial copy is
//! never used.

use std::fs;
use std::io;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::layout::{self, Layout};
use crate::metadata::{self, BackupManifest, STATE_SCHEMA_VERSION};

use super::direct;
use super::steps::{self, sync_dir};

/// Each file a backup copied, relative to plugins, with its metadata when its copy began.
pub type CopiedFrom = Vec<(PathBuf, fs::Metadata)>;

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
        let _ = fs::remove_dir_all(&layout.backup_partial);
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
        steps::rename(
            &self.layout.backup_partial,
            &self.layout.backup,
            "rename into",
        )?;
        sync_dir(&self.layout.patches)?;
        Ok((manifest, std::mem::take(&mut self.copied)))
    }
}

impl Drop for PartialBackup {
    fn drop(&mut self) {
        if self.manifest.is_some() {
            // Best effort: whatever stays is discarded by the next run.
            let _ = fs::remove_dir_all(&self.layout.backup_partial);
        }
    }
}

/// Copies plugins into the partial backup directory, then makes every file and directory
/// of it durable at once ([`steps::Batch`]): one filesystem flush, not one per file.
fn copy_plugins(layout: &Layout) -> Result<(BackupManifest, CopiedFrom)> {
    let partial = &layout.backup_partial;
    steps::create_dir_all(&layout.patches)?;
    steps::create_dir(partial).map_err(|e| Error::write("create directory", partial, e))?;
    let batch = steps::Batch::begin(partial)?;

    let mut dirs = vec![partial.clone()];
    let mut files = Vec::new();
    for item in walkdir::WalkDir::new(&layout.plugins)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
    {
        let item = item.map_err(|e| {
            let path = e.path().unwrap_or(&layout.plugins).to_path_buf();
            Error::read(
                "list",
                path,
                e.into_io_error()
                    .unwrap_or_else(|| io::Error::other("walk failed")),
            )
        })?;
        let relative = item
            .path()
            .strip_prefix(&layout.plugins)
            .unwrap_or(item.path())
            .to_path_buf();
        let dest = partial.join(&relative);
        let kind = item.file_type();
        if kind.is_dir() {
            steps::create_dir(&dest).map_err(|e| Error::write("create directory", &dest, e))?;
            dirs.push(dest);
        } else if layout::is_temp_name(item.file_name()) {
            continue;
        } else if kind.is_symlink() {
            let link =
                fs::read_link(item.path()).map_err(|e| Error::read("read link", item.path(), e))?;
            steps::symlink(&link, &dest)?;
        } else {
            files.push((item.path().to_path_buf(), dest, relative));
        }
    }
    let bar = crate::progress::bar("backup", files.len());
    let copied: Vec<(u64, fs::Metadata)> = direct::on_copy_threads(|| {
        files
            .par_iter()
            .inspect(|_| bar.inc())
            .map(|(from, to, _)| steps::copy_stamped(from, to, None))
            .collect::<Result<_>>()
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

/// Removes a directory left by an interrupted backup (it is never trusted).
pub fn discard_partial_backup(layout: &Layout) -> Result<bool> {
    match fs::symlink_metadata(&layout.backup_partial) {
        Ok(_) => {
            steps::remove_dir_all(&layout.backup_partial, "remove the partial backup")?;
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}
