//! Every filesystem change `execute` makes, one function a step, each passing through
//! [`fault::step`] first, so the crash-safety tests can stop or fail a run between any two
//! steps. Errors carry the path and what was being done.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fault;

fn step<T>(what: &'static str, path: &Path, op: impl FnOnce() -> io::Result<T>) -> Result<T> {
    fault::step()
        .and_then(|()| op())
        .map_err(|e| Error::write(what, path, e))
}

pub fn create_dir_all(dir: &Path) -> Result<()> {
    // Most calls find the directory there already; only a real creation is a step.
    if fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    step("create directory", dir, || fs::create_dir_all(dir))
}

/// Creates one directory; `AlreadyExists` comes back as an `io::Error` so callers can
/// pick another name.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    fault::step()?;
    fs::create_dir(dir)
}

pub fn copy(from: &Path, to: &Path) -> Result<u64> {
    step("copy into", to, || fs::copy(from, to))
}

pub fn hard_link(from: &Path, to: &Path) -> io::Result<()> {
    fault::step()?;
    fs::hard_link(from, to)
}

pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    step("write", path, || fs::write(path, bytes))
}

pub fn symlink(link: &Path, at: &Path) -> Result<()> {
    step("create link", at, || std::os::unix::fs::symlink(link, at))
}

/// Copies `from` into the new file `to` through one pair of handles (the kernel copies,
/// `copy_file_range`), gives it `mode` (the source's when `None`) and the source's
/// modification time, and starts writing it back without waiting for it: [`flush`] makes a whole
/// batch durable at once, and finds little left to write. The copy is created writable,
/// and only then given its mode, so a read-only source copies for any user.
pub fn copy_stamped(from: &Path, to: &Path, mode: Option<fs::Permissions>) -> Result<u64> {
    let mut source = File::open(from).map_err(|e| Error::read("open", from, e))?;
    let meta = source
        .metadata()
        .map_err(|e| Error::read("inspect", from, e))?;
    let mode = mode.unwrap_or(meta.permissions());
    let modified = meta.modified().ok();
    let (copy, len) = step("copy into", to, || {
        let mut copy = File::options().write(true).create_new(true).open(to)?;
        let len = io::copy(&mut source, &mut copy)?;
        Ok((copy, len))
    })?;
    step("set the mode of", to, || copy.set_permissions(mode))?;
    if let Some(modified) = modified {
        step("set the time of", to, || copy.set_modified(modified))?;
    }
    start_writeback(&copy);
    Ok(len)
}

/// Asks the kernel to start writing `file`'s data now, so the disk works while the next
/// files are copied (the per-file fsync used to give that overlap) and the bulk flush
/// finds little left to write. Not a flush and no step: no waiting, no journal commit,
/// only what the kernel's own writeback would do a little later. A writeback error is
/// reported by the fsync that confirms the flush.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range only reads the descriptor, open for the call.
    unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File) {}

pub fn rename(from: &Path, to: &Path, what: &'static str) -> Result<()> {
    let blame = if what == "move" { from } else { to };
    step(what, blame, || fs::rename(from, to))
}

/// Renames, handing the `io::Error` back so the caller can handle a cross-device move.
pub fn try_rename(from: &Path, to: &Path) -> io::Result<()> {
    fault::step()?;
    fs::rename(from, to)
}

/// Removes a file; one that is already gone is fine.
pub fn remove_file(path: &Path) -> Result<()> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    match fault::step().and_then(|()| fs::remove_file(path)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::write("remove", path, e)),
    }
}

pub fn remove_dir_all(dir: &Path, what: &'static str) -> Result<()> {
    step(what, dir, || fs::remove_dir_all(dir))
}

pub fn sync_file(path: &Path) -> Result<()> {
    step("flush", path, || File::open(path)?.sync_all())
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    step("flush directory", dir, || File::open(dir)?.sync_all())
}

pub fn sync_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Writes back everything unflushed on the filesystem holding `dir` (`syncfs`), in one
/// journal commit instead of one per file.
pub fn syncfs(dir: &Path) -> Result<()> {
    step("flush the filesystem of", dir, || sync_filesystem(dir))
}

#[cfg(target_os = "linux")]
fn sync_filesystem(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let handle = File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `handle` keeps open for the call.
    match unsafe { libc::syncfs(handle.as_raw_fd()) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Without `syncfs` the per-file fsyncs that follow it in [`flush`] do the work alone.
#[cfg(not(target_os = "linux"))]
fn sync_filesystem(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Makes `files` and `dirs` durable, all written before without a flush: one [`syncfs`] per
/// filesystem they are on writes them back together, then an `fsync` of each confirms it.
/// The confirmation costs little (nothing is dirty any more) and is still needed: before
/// Linux 5.8 `syncfs` does not report writeback errors, while `fsync` reports them on any
/// kernel. Callers rename or record only after this returns.
pub fn flush(files: &[PathBuf], dirs: &[PathBuf]) -> Result<()> {
    let parents: BTreeSet<&Path> = files
        .iter()
        .filter_map(|f| f.parent())
        .chain(dirs.iter().map(PathBuf::as_path))
        .collect();
    // One directory per filesystem (device): a syncfs covers all of it.
    let mut filesystems = BTreeMap::new();
    for dir in parents {
        let device = fs::metadata(dir)
            .map_err(|e| Error::read("inspect", dir, e))?
            .dev();
        filesystems.entry(device).or_insert(dir);
    }
    filesystems.values().try_for_each(|dir| syncfs(dir))?;
    files.par_iter().try_for_each(|file| sync_file(file))?;
    dirs.par_iter().try_for_each(|dir| sync_dir(dir))
}
