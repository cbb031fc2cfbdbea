//! Every filesystem change `execute` makes, one function a step, each passing through
//! [`fault::step`] first, so the crash-safety tests can stop or fail a run between any two
//! steps. Errors carry the path and what was being done.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fault;
use crate::tree::{Info, Tree};

fn step<T>(what: &'static str, path: &Path, op: impl FnOnce() -> io::Result<T>) -> Result<T> {
    fault::step()
        .and_then(|()| op())
        .map_err(|e| Error::write(what, path, e))
}

pub fn create_dir_all(tree: &Tree, dir: &Path) -> Result<()> {
    // Most calls find the directory there already; only a real creation is a step.
    if tree.lstat(dir).is_ok_and(|i| i.is_some_and(|i| i.is_dir())) {
        return Ok(());
    }
    step("create directory", dir, || tree.create_dir_all(dir))
}

/// Creates one directory; `AlreadyExists` comes back as an `io::Error` so callers can
/// pick another name.
pub fn create_dir(tree: &Tree, dir: &Path) -> io::Result<()> {
    fault::step()?;
    tree.create_dir(dir)
}

/// Whether the debug builds' switch `CARBON_PATCH_CROSS_DEVICE` is set: every move and
/// hard link that may cross filesystems ([`try_rename`], [`hard_link`]) then fails as if
/// it did (`EXDEV`), so the crash sweeps run the copying fallbacks on any filesystem.
/// Release builds never read it.
fn crossing_forced() -> bool {
    static FORCED: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
        cfg!(debug_assertions) && std::env::var_os("CARBON_PATCH_CROSS_DEVICE").is_some()
    });
    *FORCED
}

fn crossed() -> io::Error {
    io::Error::from_raw_os_error(libc::EXDEV)
}

/// Hard-links `from` at `to`, handing the `io::Error` back so the caller can copy instead
/// across filesystems.
pub fn hard_link(tree: &Tree, from: &Path, to: &Path) -> io::Result<()> {
    fault::step()?;
    if crossing_forced() {
        return Err(crossed());
    }
    tree.hard_link(from, to)
}

pub fn symlink(tree: &Tree, link: &Path, at: &Path) -> Result<()> {
    step("create link", at, || tree.symlink(link, at))
}

/// Creates the new file `path` (writable by its owner only, until it is given its mode).
pub fn create_file(tree: &Tree, path: &Path) -> Result<File> {
    step("create", path, || tree.create_new(path, 0o600))
}

/// Writes `bytes` into a new temporary file in `dir` and flushes it. Returns its path.
pub fn write_temp(tree: &Tree, dir: &Path, bytes: &[u8]) -> Result<PathBuf> {
    write_temp_then(tree, dir, bytes, true)
}

/// Like [`write_temp`], without the flush: for a [`Batch`], which flushes it with the rest.
pub fn write_temp_unflushed(tree: &Tree, dir: &Path, bytes: &[u8]) -> Result<PathBuf> {
    write_temp_then(tree, dir, bytes, false)
}

fn write_temp_then(tree: &Tree, dir: &Path, bytes: &[u8], flush: bool) -> Result<PathBuf> {
    use std::io::Write;
    let (mut file, temp) = step("create a file in", dir, || tree.create_temp(dir, 0o644))?;
    let written = step("write", &temp, || file.write_all(bytes)).and_then(|()| {
        if flush {
            step("flush", &temp, || file.sync_all())
        } else {
            Ok(())
        }
    });
    if let Err(e) = written {
        let _ = tree.remove_file(&temp);
        return Err(e);
    }
    Ok(temp)
}

/// Copies `from` (input, opened under the tree's reading rule) into the new file `to`
/// through one pair of handles, past the page cache where the filesystem allows
/// ([`super::direct`]), gives it `mode` (the source's when `None`) and the source's
/// modification time, and starts writing back whatever went through the cache without
/// waiting for it: [`Batch::flush`] makes a whole batch durable at once, and finds little
/// left to write. The copy is created writable, and only then given its mode, so a
/// read-only source copies for any user. Returns the copy's length and the source's
/// metadata when the copy began (what the digest cache vouches by).
pub fn copy_stamped(tree: &Tree, from: &Path, to: &Path, mode: Option<u32>) -> Result<(u64, Info)> {
    let (source, meta) = open_source(tree, from)?;
    let copy = step("copy into", to, || tree.create_new(to, 0o600))?;
    fill(source, &meta, copy, to, mode).map(|len| (len, meta))
}

/// Like [`copy_stamped`], into a new temporary file in the directory `dir`. Returns its
/// path too.
pub fn copy_to_temp(
    tree: &Tree,
    from: &Path,
    dir: &Path,
    mode: Option<u32>,
) -> Result<(PathBuf, u64, Info)> {
    let (source, meta) = open_source(tree, from)?;
    let (copy, temp) = step("copy into", dir, || tree.create_temp(dir, 0o600))?;
    match fill(source, &meta, copy, &temp, mode) {
        Ok(len) => Ok((temp, len, meta)),
        Err(e) => {
            let _ = tree.remove_file(&temp);
            Err(e)
        }
    }
}

fn open_source(tree: &Tree, from: &Path) -> Result<(File, Info)> {
    let source = tree
        .open_input(from)
        .map_err(|e| Error::read("open", from, e))?;
    let meta = Info::of_file(&source).map_err(|e| Error::read("inspect", from, e))?;
    Ok((source, meta))
}

fn fill(
    mut source: File,
    meta: &Info,
    mut copy: File,
    to: &Path,
    mode: Option<u32>,
) -> Result<u64> {
    use std::os::unix::fs::PermissionsExt;
    let copied = step("copy into", to, || {
        super::direct::copy(&mut source, &mut copy)
    })?;
    let mode = std::fs::Permissions::from_mode(mode.unwrap_or(meta.mode));
    step("set the mode of", to, || copy.set_permissions(mode))?;
    let modified = std::time::UNIX_EPOCH
        + std::time::Duration::from_nanos(u64::try_from(meta.mtime_ns).unwrap_or(0));
    step("set the time of", to, || copy.set_modified(modified))?;
    // A clone wrote no data: asking for its write-back costs a call per file (a third of
    // a rollback's time on XFS) for nothing.
    if !copied.cloned {
        start_writeback(&copy);
    }
    Ok(copied.len)
}

/// Asks the kernel to start writing `file`'s data now, so the disk works while the next
/// files are copied (the per-file fsync used to give that overlap) and the bulk flush
/// finds little left to write. Not a flush and no step: no waiting, no journal commit,
/// only what the kernel's own writeback would do a little later. A writeback error is
/// reported by [`Batch::flush`].
#[cfg(target_os = "linux")]
fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range only reads the descriptor, open for the call.
    unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File) {}

pub fn rename(tree: &Tree, from: &Path, to: &Path, what: &'static str) -> Result<()> {
    let blame = if what == "move" { from } else { to };
    step(what, blame, || tree.rename(from, to))
}

/// Renames, handing the `io::Error` back so the caller can handle a cross-device move.
pub fn try_rename(tree: &Tree, from: &Path, to: &Path) -> io::Result<()> {
    fault::step()?;
    if crossing_forced() {
        return Err(crossed());
    }
    tree.rename(from, to)
}

/// Removes a file; one that is already gone is fine.
pub fn remove_file(tree: &Tree, path: &Path) -> Result<()> {
    if !tree.lstat(path).is_ok_and(|i| i.is_some()) {
        return Ok(());
    }
    match fault::step().and_then(|()| tree.remove_file(path)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::write("remove", path, e)),
    }
}

pub fn remove_dir_all(tree: &Tree, dir: &Path, what: &'static str) -> Result<()> {
    step(what, dir, || tree.remove_dir_all(dir))
}

pub fn sync_file(tree: &Tree, path: &Path) -> Result<()> {
    step("flush", path, || tree.open_own(path)?.sync_all())
}

pub fn sync_dir(tree: &Tree, dir: &Path) -> Result<()> {
    step("flush directory", dir, || tree.sync_dir(dir))
}

pub fn sync_parent(tree: &Tree, path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) => sync_dir(tree, parent),
        None => Ok(()),
    }
}

/// At most this many files and directories, a batch flushes each ([`Batch::flush`]).
const FEW: usize = 3;

/// A batch of writes made durable together: one descriptor per filesystem the batch writes
/// to, opened before the writes, so the `syncfs` that ends the batch reports any writeback
/// error on that filesystem from then on, even one another process has already been told
/// of, where the kernel and the filesystem do so (see [`syncfs_reports_errors`]).
pub struct Batch<'t> {
    tree: &'t Tree,
    /// By device: a directory on it, a descriptor open on it, and whether its `syncfs`
    /// reports writeback errors.
    watched: BTreeMap<u64, Watched>,
}

struct Watched {
    dir: PathBuf,
    handle: File,
    reports_errors: bool,
}

impl<'t> Batch<'t> {
    /// Starts a batch whose files will be written under `dir`.
    pub fn begin(tree: &'t Tree, dir: &Path) -> Result<Batch<'t>> {
        let mut batch = Batch {
            tree,
            watched: BTreeMap::new(),
        };
        batch.watch(dir)?;
        Ok(batch)
    }

    /// The device of `dir`, watched from now on if it was not yet.
    fn watch(&mut self, dir: &Path) -> Result<u64> {
        let handle = File::from(
            self.tree
                .open_dir(dir, false)
                .map_err(|e| Error::read("open", dir, e))?,
        );
        let device = Info::of_file(&handle)
            .map_err(|e| Error::read("inspect", dir, e))?
            .dev;
        self.watched.entry(device).or_insert_with(|| Watched {
            dir: dir.to_path_buf(),
            reports_errors: syncfs_reports_errors(&handle),
            handle,
        });
        Ok(device)
    }

    /// Makes `files` and `dirs`, written in this batch without a flush, durable: one
    /// `syncfs` per filesystem they are on writes them back together and flushes the
    /// device's cache. Where that `syncfs` does not report writeback errors, an `fsync` of
    /// each file and directory on that filesystem confirms it, since only `fsync` reports a
    /// failed write there. Callers rename or record only after this returns.
    #[tracing::instrument(level = "debug", skip_all, fields(files = files.len()))]
    pub fn flush(mut self, files: &[PathBuf], dirs: &[PathBuf]) -> Result<()> {
        // Nothing written: no `syncfs`, which would flush every other program's writes too.
        if files.is_empty() && dirs.is_empty() {
            return Ok(());
        }
        // A few are flushed one by one: flushing a filesystem costs several files' flushes
        // (on XFS, a `syncfs` took 0.4-2 ms, a directory's `fsync` 0.3-0.5 ms).
        if files.len() + dirs.len() <= FEW {
            files
                .iter()
                .try_for_each(|file| sync_file(self.tree, file))?;
            return dirs.iter().try_for_each(|dir| sync_dir(self.tree, dir));
        }
        let mut devices = BTreeMap::new();
        for dir in files
            .iter()
            .filter_map(|f| f.parent())
            .chain(dirs.iter().map(PathBuf::as_path))
        {
            if !devices.contains_key(dir) {
                devices.insert(dir, self.watch(dir)?);
            }
        }
        for watched in self.watched.values() {
            step("flush the filesystem of", &watched.dir, || {
                sync_filesystem(&watched.handle)
            })?;
        }
        // Whether what `dir` holds (or, for a directory flushed itself, it) is confirmed.
        let confirmed = |dir: Option<&Path>| {
            dir.and_then(|dir| devices.get(dir))
                .is_some_and(|device| self.watched[device].reports_errors)
        };
        // Each `fsync` mostly waits for the device: several in flight (on overlayfs, after
        // a backup of 800 files: 187-204 ms with 8 threads, 239-259 ms with 2).
        super::direct::on_waiting_threads(|| {
            files
                .par_iter()
                .filter(|file| !confirmed(file.parent()))
                .try_for_each(|file| sync_file(self.tree, file))?;
            dirs.par_iter()
                .filter(|dir| !confirmed(Some(dir)))
                .try_for_each(|dir| sync_dir(self.tree, dir))
        })
    }
}

/// Whether `syncfs` on `handle`'s filesystem reports every writeback error since the
/// handle was opened: so on Linux 5.8 and later (the superblock's error sequence) for the
/// local filesystems known to record their errors there (ext2/3/4, XFS, Btrfs, F2FS,
/// tmpfs). Elsewhere — older kernels, overlayfs (which passed its upper layer's errors on
/// only later), network and FUSE filesystems, other systems — and when
/// `CARBON_PATCH_FLUSH=each` asks for it (the tests run both ways), a batch is confirmed
/// file by file.
fn syncfs_reports_errors(handle: &File) -> bool {
    static KERNEL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let kernel = *KERNEL.get_or_init(|| {
        std::env::var_os("CARBON_PATCH_FLUSH").is_none_or(|v| v != "each")
            && kernel_release().is_some_and(|r| release_at_least(&r, (5, 8)))
    });
    kernel && filesystem_records_errors(handle)
}

/// Whether a kernel release (`uname -r`, e.g. `6.8.0-45-generic`) is at least `version`.
fn release_at_least(release: &str, version: (u32, u32)) -> bool {
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= version,
        _ => false,
    }
}

#[cfg(target_os = "linux")]
fn kernel_release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()
}

#[cfg(not(target_os = "linux"))]
fn kernel_release() -> Option<String> {
    None
}

#[cfg(target_os = "linux")]
fn filesystem_records_errors(handle: &File) -> bool {
    use std::os::fd::AsRawFd;
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs fills `stat` for the descriptor, which `handle` keeps open.
    if unsafe { libc::fstatfs(handle.as_raw_fd(), stat.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstatfs returned 0, so it filled `stat`.
    let kind = unsafe { stat.assume_init() }.f_type;
    [
        libc::EXT4_SUPER_MAGIC, // also ext2 and ext3
        libc::XFS_SUPER_MAGIC,
        libc::BTRFS_SUPER_MAGIC,
        libc::F2FS_SUPER_MAGIC,
        libc::TMPFS_MAGIC,
    ]
    .contains(&kind)
}

#[cfg(not(target_os = "linux"))]
fn filesystem_records_errors(_handle: &File) -> bool {
    false
}

#[cfg(target_os = "linux")]
fn sync_filesystem(handle: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs only reads the descriptor, which `handle` keeps open for the call.
    match unsafe { libc::syncfs(handle.as_raw_fd()) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Without `syncfs` the per-file fsyncs of [`Batch::flush`] do the work alone.
#[cfg(not(target_os = "linux"))]
fn sync_filesystem(_handle: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_from_5_8_on_are_recognised() {
        for (release, reports) in [
            ("6.8.0-45-generic", true),
            ("5.8.0", true),
            ("5.10.226-1.el8", true),
            ("10.0", true),
            ("5.7.19", false),
            ("4.18.0-553.el8_10.x86_64", false),
            ("3.10.0-1160", false),
            ("", false),
            ("unknown", false),
        ] {
            assert_eq!(release_at_least(release, (5, 8)), reports, "{release}");
        }
    }

    #[test]
    fn a_batch_flushes_files_in_nested_directories() {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::open(dir.path(), &[]).unwrap();
        let batch = Batch::begin(&tree, dir.path()).unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let files = [dir.path().join("one"), nested.join("two")];
        for file in &files {
            std::fs::write(file, b"content").unwrap();
        }
        batch.flush(&files, &[nested]).unwrap();
    }
}
