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

/// Copies plugins into a directory beside the backup, makes it durable, and renames it to
/// `patch0000` only when whole (SPEC §6.3). A leftover partial copy is discarded first, and
/// so is this one when the copy fails (a full disk gets its space back).
#[tracing::instrument(level = "debug", skip_all)]
pub fn create_backup(layout: &Layout) -> Result<BackupManifest> {
    discard_partial_backup(layout)?;
    let result = copy_plugins(layout);
    if result.is_err() {
        let _ = fs::remove_dir_all(&layout.backup_partial);
    }
    let manifest = result?;
    steps::rename(&layout.backup_partial, &layout.backup, "rename into")?;
    sync_dir(&layout.patches)?;
    Ok(manifest)
}

/// Copies plugins into the partial backup directory, then makes every file and directory
/// of it durable at once ([`steps::Batch`]): one filesystem flush, not one per file.
fn copy_plugins(layout: &Layout) -> Result<BackupManifest> {
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
    let sizes: Vec<(String, u64)> = direct::on_copy_threads(|| {
        files
            .par_iter()
            .inspect(|_| bar.inc())
            .map(|(from, to, relative)| {
                let len = steps::copy_stamped(from, to, None)?;
                Ok((metadata::encode_path(relative), len))
            })
            .collect::<Result<_>>()
    })?;
    let copies: Vec<PathBuf> = files.into_iter().map(|(_, to, _)| to).collect();
    batch.flush(&copies, &dirs)?;
    Ok(BackupManifest {
        schema_version: STATE_SCHEMA_VERSION,
        files: sizes.into_iter().collect(),
    })
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
