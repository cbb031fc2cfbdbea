//! Moving a directory where a rename cannot: across filesystems, or out of an overlay's
//! lower layer (overlayfs refuses to rename such a directory, `EXDEV`, which made rollback
//! impossible in an image build). The directory is copied whole under a temporary name
//! beside its destination, made durable, renamed into place, and only then removed from
//! where it was. Interrupted, it leaves the source whole and a temporary copy (removed by
//! the next run), or both copies (the next rollback moves the source again, under a
//! numbered name): nothing is lost.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::tree::Tree;

use super::backup::{ToCopy, mirror};
use super::direct;
use super::steps::{self, sync_dir, sync_parent};

/// Moves the directory `from` to `to` (same parent as other moves: the caller flushes
/// both directories): by a rename, else by a durable copy and a removal.
pub fn move_dir(tree: &Tree, from: &Path, to: &Path) -> Result<()> {
    let renamed = steps::try_rename(tree, from, to);
    match renamed {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
            tracing::info!(from = %from.display(), "cannot rename across filesystems or overlay layers: copying");
        }
        Err(e) => return Err(Error::write("move", from, e)),
    }
    let parent = to.parent().unwrap_or(Path::new("."));
    let staging = parent.join(crate::tree::temp_name());
    let copied = copy_dir(tree, from, &staging);
    if copied.is_err() {
        let _ = tree.remove_dir_all(&staging);
    }
    copied?;
    steps::rename(tree, &staging, to, "rename into")?;
    sync_dir(tree, parent)?;
    steps::remove_dir_all(tree, from, "remove after copying")?;
    sync_parent(tree, from)
}

/// Copies the directory `from` to the new directory `to`, every file and directory of it
/// durable when this returns.
fn copy_dir(tree: &Tree, from: &Path, to: &Path) -> Result<()> {
    steps::create_dir(tree, to).map_err(|e| Error::write("create directory", to, e))?;
    let batch = steps::Batch::begin(tree, to)?;
    let mut dirs: Vec<PathBuf> = vec![to.to_path_buf()];
    let mut files: Vec<ToCopy> = Vec::new();
    let source = tree
        .dir(from, false)
        .map_err(|e| Error::read("list", from, e))?;
    mirror(tree, &source, Path::new(""), to, &mut dirs, &mut files)?;
    direct::copy_all(&files, |(from, to, _)| {
        steps::copy_stamped(tree, from, to, None).map(drop)
    })?;
    let copies: Vec<PathBuf> = files.into_iter().map(|(_, to, _)| to).collect();
    batch.flush(&copies, &dirs)
}
