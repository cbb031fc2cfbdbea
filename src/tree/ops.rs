//! What the tree layer does to the tree: listing directories through their handles, and
//! every change (create, rename, link, remove, append, lock), each made relative to the
//! handle of the directory it changes, found without following a link.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::{Info, Kind, Refused, Tree, absent_is_none, base, refused, regular, temp_name};

/// Length of every temporary name carbon-patch makes (its prefix, pid and counter).
pub const TEMP_NAME_LEN: usize = crate::layout::TEMP_PREFIX.len() + 17;

/// One entry of a directory, as listed (a link is a link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: OsString,
    pub kind: Kind,
}

/// A directory open for listing, and the path it was opened at (for messages and for the
/// paths of its entries).
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// The path this directory was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its entries in byte-wise name order (`.` and `..` left out), links not followed.
    pub fn entries(&self) -> io::Result<Vec<Entry>> {
        list(&self.fd)
    }

    /// Metadata of the entry `name` itself (a link is described, not followed).
    pub fn stat(&self, name: &OsStr) -> io::Result<Info> {
        let stat = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(Info::of(&stat))
    }

    /// Opens the subdirectory `name`, refusing a link.
    pub fn open_dir(&self, name: &OsStr) -> io::Result<Dir> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            base(OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW),
            Mode::empty(),
        )
        .map_err(|e| super::walk_loop(self.fd.as_fd(), name, e))?;
        Ok(Dir {
            fd,
            path: self.path.join(name),
        })
    }
}

/// The entries of the directory open at `fd`, sorted by name bytes.
pub(super) fn list(fd: impl AsFd) -> io::Result<Vec<Entry>> {
    let fd = fd.as_fd();
    let mut entries = Vec::new();
    for item in rustix::fs::Dir::read_from(fd)? {
        let item = item?;
        let name = OsStr::from_bytes(item.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let mut kind = Kind::of(item.file_type());
        if kind == Kind::Unknown {
            // Some filesystems leave the type out of the listing.
            kind = Info::of(&rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)?).kind;
        }
        entries.push(Entry {
            name: name.to_os_string(),
            kind,
        });
    }
    entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(entries)
}

impl Tree {
    /// Opens the directory `path` for listing (see [`Tree::open_dir`] for `follow`).
    pub fn dir(&self, path: &Path, follow: bool) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.open_dir(path, follow)?,
            path: path.to_path_buf(),
        })
    }

    /// Creates the directory `path`; `AlreadyExists` when anything is there.
    pub fn create_dir(&self, path: &Path) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o777)).map_err(Into::into)
    }

    /// Creates `path` and every missing directory above it inside its root; a link or a
    /// file on the way is refused.
    pub fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let (root, relative) = self.locate(path)?;
        let mut at = root.path.clone();
        for component in relative.components() {
            at.push(component);
            match self.lstat(&at)? {
                Some(info) if info.is_dir() => {}
                Some(info) if info.kind == Kind::Link => return Err(refused(Refused::Link)),
                Some(_) => return Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
                None => match self.create_dir(&at) {
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    other => other?,
                },
            }
        }
        // A root the run creates (an override that did not exist yet) is the operator's.
        if relative.as_os_str().is_empty() && self.lstat(path)?.is_none() {
            std::fs::create_dir_all(path)?;
        }
        Ok(())
    }

    /// Creates the new file `path` for writing with `mode` (never through a link, never
    /// over anything: `O_CREAT | O_EXCL | O_NOFOLLOW`).
    pub fn create_new(&self, path: &Path, mode: u32) -> io::Result<File> {
        let (dir, name) = self.parent(path)?;
        let fd = rustix::fs::openat(
            &dir,
            name,
            base(OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW),
            Mode::from_raw_mode(mode),
        )?;
        // A new regular file needs no O_NONBLOCK; clearing it keeps writes ordinary.
        rustix::fs::fcntl_setfl(&fd, OFlags::empty())?;
        Ok(File::from(fd))
    }

    /// Creates a new temporary file in the directory `dir`, under a name of its own
    /// (see [`temp_name`]). Returns it and its path.
    pub fn create_temp(&self, dir: &Path, mode: u32) -> io::Result<(File, PathBuf)> {
        // A name taken is tried again with the next counter; names planted in bulk to
        // keep every one taken end the run instead of keeping it busy.
        for _ in 0..1000 {
            let path = dir.join(temp_name());
            match self.create_new(&path, mode) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                other => return other.map(|file| (file, path)),
            }
        }
        Err(io::Error::from_raw_os_error(libc::EEXIST))
    }

    /// Renames `from` to `to` (each entry itself, never what a link names; `to` replaced
    /// atomically when something is there).
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.forget_handles();
        let (from_dir, from_name) = self.parent(from)?;
        let (to_dir, to_name) = self.parent(to)?;
        rustix::fs::renameat(&from_dir, from_name, &to_dir, to_name).map_err(Into::into)
    }

    /// Makes `to` a new hard link to the file `from` (a link is linked itself, not followed).
    pub fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_dir, from_name) = self.parent(from)?;
        let (to_dir, to_name) = self.parent(to)?;
        rustix::fs::linkat(&from_dir, from_name, &to_dir, to_name, AtFlags::empty())
            .map_err(Into::into)
    }

    /// Creates a symbolic link at `at` holding `target` (as a backup keeps one from plugins).
    pub fn symlink(&self, target: &Path, at: &Path) -> io::Result<()> {
        let (dir, name) = self.parent(at)?;
        rustix::fs::symlinkat(target, &dir, name).map_err(Into::into)
    }

    /// What the link at `path` holds.
    pub fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        let (dir, name) = self.parent(path)?;
        let target = rustix::fs::readlinkat(&dir, name, Vec::new())?;
        Ok(PathBuf::from(OsStr::from_bytes(target.as_bytes())))
    }

    /// Removes the entry `path` (a file or a link, never what it names).
    pub fn remove_file(&self, path: &Path) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::empty()).map_err(Into::into)
    }

    /// Removes the directory `path` if it is empty (`ENOTEMPTY` otherwise).
    pub fn remove_empty_dir(&self, path: &Path) -> io::Result<()> {
        self.forget_handles();
        let (dir, name) = self.parent(path)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR).map_err(Into::into)
    }

    /// Removes the directory `path` and everything in it, through handles: a link inside
    /// is removed itself, never followed.
    pub fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.forget_handles();
        let (dir, name) = self.parent(path)?;
        remove_tree(&dir, name, 0)
    }

    /// Opens the regular file `path` for appending, creating it (mode 0644 before the
    /// umask) when missing; a link or special file there is refused.
    pub fn open_append(&self, path: &Path) -> io::Result<File> {
        let (dir, name) = self.parent(path)?;
        let fd = rustix::fs::openat(
            &dir,
            name,
            base(OFlags::RDWR | OFlags::APPEND | OFlags::CREATE | OFlags::NOFOLLOW),
            Mode::from_raw_mode(0o644),
        )?;
        let file = regular(fd)?;
        rustix::fs::fcntl_setfl(&file, OFlags::APPEND)?;
        Ok(file)
    }

    /// Opens the lock file `path`: read-write, created when `create`, else read-only and
    /// `None` when missing. A link or special file there is refused.
    pub fn open_lock(&self, path: &Path, create: bool) -> io::Result<Option<File>> {
        let flags = if create {
            OFlags::RDWR | OFlags::CREATE
        } else {
            OFlags::RDONLY
        };
        let opened = self.parent(path).and_then(|(dir, name)| {
            rustix::fs::openat(
                &dir,
                name,
                base(flags | OFlags::NOFOLLOW),
                Mode::from_raw_mode(0o644),
            )
            .map_err(Into::into)
        });
        let fd = if create {
            Some(opened?)
        } else {
            absent_is_none(opened)?
        };
        fd.map(regular).transpose()
    }

    /// Whether this user may write `path` (the entry itself, never what a link names), as
    /// the kernel will judge a write: permissions, and a read-only mount.
    pub fn check_writable(&self, path: &Path) -> io::Result<()> {
        let (root, relative) = self.locate(path)?;
        let access = rustix::fs::Access::WRITE_OK;
        if relative.as_os_str().is_empty() {
            return rustix::fs::accessat(root.handle()?, ".", access, AtFlags::empty())
                .map_err(Into::into);
        }
        let (dir, name) = self.parent(path)?;
        rustix::fs::accessat(&dir, name, access, AtFlags::SYMLINK_NOFOLLOW).map_err(Into::into)
    }

    /// Flushes the directory `path` (its entries) to disk.
    pub fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let fd = self.open_dir(path, false)?;
        rustix::fs::fsync(&fd).map_err(Into::into)
    }

    /// The content of carbon-patch's own regular file `path` (no link followed), `None`
    /// when it does not exist; larger than `cap` bytes is refused, never read whole.
    pub fn read_capped(&self, path: &Path, cap: u64) -> io::Result<Option<Vec<u8>>> {
        let Some(file) = absent_is_none(self.open_own(path))? else {
            return Ok(None);
        };
        read_file_capped(file, cap).map(Some)
    }
}

/// Reads `file` whole, refusing one larger than `cap` bytes (checked as it reads, not by
/// its size alone: a file can grow).
pub fn read_file_capped(file: File, cap: u64) -> io::Result<Vec<u8>> {
    // Sized to the file (within the cap), so a whole file takes one read.
    let size = file.metadata().map_or(0, |m| m.len()).min(cap);
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(refused(Refused::TooLarge(cap)));
    }
    Ok(bytes)
}

/// Removes `name` in `dir`: a directory with everything below it (through handles),
/// anything else as an entry. A tree nested deeper than any walk follows is left for the
/// operator rather than recursed into without end.
fn remove_tree(dir: &OwnedFd, name: &OsStr, depth: usize) -> io::Result<()> {
    if depth > 4 * super::MAX_DEPTH {
        return Err(refused(Refused::TooDeep));
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let child = rustix::fs::openat(
        dir,
        name,
        base(OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW),
        Mode::empty(),
    )?;
    for entry in list(&child)? {
        remove_tree(&child, &entry.name, depth + 1)?;
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(Into::into)
}
