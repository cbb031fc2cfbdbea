//! The one way carbon-patch touches a product tree (SPEC §12). Every file and directory
//! under PRODUCT_HOME (and under a `--patches-dir`/`--servicepacks-dir` given outside it)
//! is reached relative to a directory handle opened once at the start of the run, never
//! by a path string checked earlier:
//!
//! - Where it writes, creates, renames, removes or locks, no symbolic link is followed on
//!   the way (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` where the kernel has
//!   it, an `O_NOFOLLOW` walk one component at a time otherwise); the change itself is made
//!   relative to the parent's handle (`renameat`, `unlinkat`, `mkdirat`, `linkat`), which
//!   never follows the last component either.
//! - Where it reads its input (patches, service packs, plugins, the backup), a link is
//!   followed only when the file it opens lies inside PRODUCT_HOME (or a root the operator
//!   named): checked on the opened handle, so nothing can be swapped in between.
//! - Only regular files and directories are read: every open is non-blocking and its type
//!   is checked on the handle, so a FIFO, socket or device is refused without waiting.
//!
//! A refusal comes back as an `io::Error` that [`refusal`] recognises; callers turn it into
//! bad input (while planning) or a failed write (while writing, where it means somebody
//! changed the tree under the run).

mod info;
mod ops;
mod walk;

pub use info::{Info, Kind};
pub use ops::{Dir, Entry, TEMP_NAME_LEN, read_file_capped};
use walk::link_is_loop as walk_loop;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// How deep directories may nest under a patch, a service pack or plugins: far more than
/// any bundle needs, and a bound on the recursion a planted tree can cause.
pub const MAX_DEPTH: usize = 48;

/// The longest path below a root carbon-patch follows (the kernel refuses paths over 4096
/// bytes; PRODUCT_HOME's own path comes before it).
pub const MAX_RELATIVE_PATH: usize = 3072;

/// Refuses `relative` (at `depth` directories below where a walk began) when it lies too
/// deep or too long for the tree to be walked safely.
pub fn check_depth(relative: &Path, depth: usize) -> io::Result<()> {
    if depth > MAX_DEPTH || relative.as_os_str().len() > MAX_RELATIVE_PATH {
        return Err(refused(Refused::TooDeep));
    }
    Ok(())
}

/// An open product tree: the roots every path is resolved from.
#[derive(Debug)]
pub struct Tree {
    /// PRODUCT_HOME first, then the overrides outside it.
    roots: Vec<Root>,
    /// Handles of directories opened to look at their entries ([`Tree::lstat`]), kept
    /// for the run: a run that changes nothing looks at thousands of files in a few
    /// directories. Only looked at through, never written into; emptied whenever the run
    /// renames or removes through the tree, so a handle never outlives its place.
    /// Keyed by the directory's path bytes (hashing a `Path` walks its components).
    parents: std::sync::Mutex<std::collections::HashMap<Vec<u8>, std::sync::Arc<OwnedFd>>>,
}

#[derive(Debug)]
struct Root {
    /// The path as the operator gave it (PRODUCT_HOME or an override).
    path: PathBuf,
    /// Opened on first use (an override may not exist before the run creates it).
    handle: OnceLock<OwnedFd>,
    /// The root resolved, for the inside check of a followed link; `None` until it exists.
    real: OnceLock<PathBuf>,
}

/// Why the tree layer refused a path (see [`refusal`]).
#[derive(Debug)]
pub enum Refused {
    /// A symbolic link where carbon-patch does not follow one.
    Link,
    /// A followed link whose file lies outside PRODUCT_HOME (resolved to this path).
    Outside(PathBuf),
    /// Not a regular file (or not a directory, where one was wanted).
    Kind(Kind),
    /// A name that cannot be a single path component.
    Name,
    /// Directories nested deeper (or a path longer) than a walk follows.
    TooDeep,
    /// A symbolic link that leads nowhere: dangling, or a loop.
    Unresolvable,
    /// A file carbon-patch reads whole that is larger than it can be (the cap, in bytes).
    TooLarge(u64),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Link => f.write_str(
                "it is, or passes through, a symbolic link, which carbon-patch never follows here",
            ),
            Refused::Outside(to) => write!(
                f,
                "symbolic link resolves outside PRODUCT_HOME (to `{}`)",
                crate::names::Shown(to.as_os_str())
            ),
            Refused::Kind(kind) => write!(
                f,
                "it is {}; only regular files and directories are read or written",
                kind.describe()
            ),
            Refused::Name => f.write_str("not a plain file name"),
            Refused::TooDeep => write!(
                f,
                "directories nested more than {MAX_DEPTH} deep, or a path longer than {MAX_RELATIVE_PATH} bytes"
            ),
            Refused::Unresolvable => {
                f.write_str("symbolic link that cannot be resolved (dangling or a loop)")
            }
            Refused::TooLarge(cap) => write!(f, "larger than the {cap} bytes such a file can hold"),
        }
    }
}

impl std::error::Error for Refused {}

fn refused(why: Refused) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

/// The reason an error of this layer is a refusal (a link, a special file, a link out of
/// the tree), or `None` for an ordinary I/O error.
pub fn refusal(error: &io::Error) -> Option<&Refused> {
    if let Some(why) = error.get_ref().and_then(|e| e.downcast_ref::<Refused>()) {
        return Some(why);
    }
    // The kernel's words for a link met under RESOLVE_NO_SYMLINKS or O_NOFOLLOW, and for
    // RESOLVE_BENEATH refusing to leave the root.
    match error.raw_os_error() {
        Some(code) if code == libc::ELOOP || code == libc::EXDEV => Some(&Refused::Link),
        _ => None,
    }
}

/// Flags every open carries: no descriptor leaks into a child, no terminal becomes ours,
/// and an open never waits (a FIFO would wait for a writer). An `O_PATH` open opens
/// nothing, and `openat2` refuses it any flag but a few.
fn base(flags: OFlags) -> OFlags {
    if flags.contains(OFlags::PATH) {
        flags | OFlags::CLOEXEC
    } else {
        flags | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK
    }
}

impl Tree {
    /// The tree of PRODUCT_HOME `home`, plus `extra` roots (overrides given outside it).
    /// Fails when `home` cannot be opened as a directory.
    pub fn open(home: &Path, extra: &[&Path]) -> io::Result<Tree> {
        let mut roots = vec![Root::new(home)];
        roots[0].handle()?;
        for path in extra {
            if !path.starts_with(home) && !roots.iter().any(|r| r.path == *path) {
                roots.push(Root::new(path));
            }
        }
        Ok(Tree {
            roots,
            parents: Default::default(),
        })
    }

    /// The root holding `path` (the deepest, should one hold another), and `path`
    /// relative to it (empty for the root itself).
    fn locate<'p>(&self, path: &'p Path) -> io::Result<(&Root, &'p Path)> {
        let (root, relative) = self
            .roots
            .iter()
            .filter_map(|root| Some((root, relative_to(&root.path, path)?)))
            .min_by_key(|(_, relative)| relative.as_os_str().len())
            .ok_or_else(|| {
                io::Error::other(format!("`{}` is outside the product tree", path.display()))
            })?;
        let bytes = relative.as_os_str().as_bytes();
        if bytes.starts_with(b"/")
            || bytes
                .split(|&b| b == b'/')
                .any(|part| part == b"." || part == b"..")
        {
            return Err(refused(Refused::Name));
        }
        Ok((root, relative))
    }

    /// Opens `path` with `flags`, following no link on the way (nor at the end: with
    /// `O_PATH` a final link is opened itself, else refused).
    fn open_nofollow(&self, path: &Path, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let (root, relative) = self.locate(path)?;
        let handle = root.handle()?;
        if relative.as_os_str().is_empty() {
            return rustix::fs::openat(handle, ".", base(flags), mode).map_err(Into::into);
        }
        walk::open_beneath(handle, relative, base(flags), mode)
    }

    /// Opens the directory holding `path` (following no link) for a change of its entry
    /// named by `path`'s last component.
    fn parent<'p>(&self, path: &'p Path) -> io::Result<(OwnedFd, &'p OsStr)> {
        let name = path
            .file_name()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| refused(Refused::Name))?;
        let parent = path.parent().ok_or_else(|| refused(Refused::Name))?;
        let dir = self.open_nofollow(parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        Ok((dir, name))
    }

    /// [`Tree::parent`] for looking only, through the run's kept handles.
    fn looking_parent<'p>(
        &self,
        path: &'p Path,
    ) -> io::Result<(std::sync::Arc<OwnedFd>, &'p OsStr)> {
        let bytes = path.as_os_str().as_bytes();
        let split = bytes.iter().rposition(|&b| b == b'/');
        let (parent, name) = match split {
            Some(i) if i > 0 && !matches!(&bytes[i + 1..], b"" | b"." | b"..") => {
                (&bytes[..i], OsStr::from_bytes(&bytes[i + 1..]))
            }
            _ => {
                return self
                    .parent(path)
                    .map(|(dir, name)| (std::sync::Arc::new(dir), name));
            }
        };
        let lock = || self.parents.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = lock().get(parent) {
            return Ok((dir.clone(), name));
        }
        let dir = std::sync::Arc::new(self.open_nofollow(
            Path::new(OsStr::from_bytes(parent)),
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
        )?);
        lock().insert(parent.to_vec(), dir.clone());
        Ok((dir, name))
    }

    /// Forgets the kept handles: a directory was renamed or removed.
    fn forget_handles(&self) {
        self.parents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Metadata of `path` itself (a link is described, not followed); `None` when nothing
    /// is there (or a parent is not a directory).
    pub fn lstat(&self, path: &Path) -> io::Result<Option<Info>> {
        let (root, relative) = self.locate(path)?;
        let result = if relative.as_os_str().is_empty() {
            rustix::fs::fstat(root.handle()?)
        } else {
            match self.looking_parent(path) {
                Ok((dir, name)) => rustix::fs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW),
                Err(e) => return absent_is_none(Err(e)),
            }
        };
        absent_is_none(result.map(|s| Info::of(&s)).map_err(Into::into))
    }

    /// Metadata of the file `path` names, following a link only when it resolves inside
    /// the tree ([`Tree::open_input`]'s rule); `None` when nothing is there.
    pub fn stat_input(&self, path: &Path) -> io::Result<Option<Info>> {
        match self.lstat(path)? {
            Some(info) if info.kind == Kind::Link => {}
            Some(info) => return Ok(Some(info)),
            None => return Ok(None),
        }
        let handle = absent_is_none(self.resolve_input(path))?;
        handle
            .map(|h| Ok(Info::of(&rustix::fs::fstat(&h)?)))
            .transpose()
    }

    /// Opens a regular file for reading, following no link at all: carbon-patch's own
    /// files (metadata, lock, pid file, log).
    pub fn open_own(&self, path: &Path) -> io::Result<File> {
        let fd = self.open_nofollow(path, OFlags::RDONLY, Mode::empty())?;
        regular(fd)
    }

    /// Opens a regular file of the input (a patch, a service pack, plugins, the backup)
    /// for reading. A link is followed only when the file it opens lies inside
    /// PRODUCT_HOME or a root the operator named, checked on the opened handle.
    pub fn open_input(&self, path: &Path) -> io::Result<File> {
        match self.open_nofollow(path, OFlags::RDONLY, Mode::empty()) {
            Ok(fd) => regular(fd),
            Err(e) if matches!(refusal(&e), Some(Refused::Link)) => {
                let handle = self.resolve_input(path)?;
                let info = Info::of(&rustix::fs::fstat(&handle)?);
                if !info.is_file() {
                    return Err(refused(Refused::Kind(info.kind)));
                }
                // Reopened through the handle: the very file that was checked.
                let fd =
                    rustix::fs::open(proc_fd(handle.as_fd()), base(OFlags::RDONLY), Mode::empty())?;
                regular(fd)
            }
            Err(e) => Err(e),
        }
    }

    /// Resolves `path` following links, and checks that what it reaches lies inside the
    /// tree. Returns an `O_PATH` handle: nothing was opened for reading yet.
    fn resolve_input(&self, path: &Path) -> io::Result<OwnedFd> {
        let (root, relative) = self.locate(path)?;
        let handle = rustix::fs::openat(
            root.handle()?,
            if relative.as_os_str().is_empty() {
                Path::new(".")
            } else {
                relative
            },
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::NOENT | rustix::io::Errno::LOOP => refused(Refused::Unresolvable),
            other => other.into(),
        })?;
        let real = std::fs::read_link(proc_fd(handle.as_fd()))?;
        let inside = self
            .roots
            .iter()
            .filter_map(|r| r.real.get())
            .any(|r| real.starts_with(r));
        if !inside {
            return Err(refused(Refused::Outside(real)));
        }
        Ok(handle)
    }

    /// The entries of the directory `path`, in byte-wise name order, each with its kind
    /// (links not followed). `follow`: whether `path` may be reached through links (under
    /// [`Tree::open_input`]'s rule) or not at all.
    pub fn read_dir(&self, path: &Path, follow: bool) -> io::Result<Vec<Entry>> {
        let dir = self.open_dir(path, follow)?;
        ops::list(dir)
    }

    /// Opens the directory `path` for reading its entries.
    pub fn open_dir(&self, path: &Path, follow: bool) -> io::Result<OwnedFd> {
        match self.open_nofollow(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()) {
            Err(e) if follow && matches!(refusal(&e), Some(Refused::Link)) => {
                let handle = self.resolve_input(path)?;
                rustix::fs::openat(
                    &handle,
                    ".",
                    base(OFlags::RDONLY | OFlags::DIRECTORY),
                    Mode::empty(),
                )
                .map_err(Into::into)
            }
            other => other,
        }
    }

    /// Whether `path` lies inside the tree at all.
    pub fn holds(&self, path: &Path) -> bool {
        self.locate(path).is_ok()
    }
}

impl Root {
    fn new(path: &Path) -> Root {
        Root {
            path: path.to_path_buf(),
            handle: OnceLock::new(),
            real: OnceLock::new(),
        }
    }

    /// The root's handle, opened (following the operator's own path) on first use.
    fn handle(&self) -> io::Result<BorrowedFd<'_>> {
        if let Some(fd) = self.handle.get() {
            return Ok(fd.as_fd());
        }
        let fd = rustix::fs::open(
            &self.path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        // Without /proc the root's place comes from its path; a link read through is
        // then refused, as its target cannot be checked on the handle.
        if let Ok(real) =
            std::fs::read_link(proc_fd(fd.as_fd())).or_else(|_| std::fs::canonicalize(&self.path))
        {
            let _ = self.real.set(real);
        }
        let _ = self.handle.set(fd);
        Ok(self.handle.get().map(AsFd::as_fd).unwrap_or_else(|| {
            // Just set above (or by another thread first).
            unreachable!("root handle set")
        }))
    }
}

/// `path` relative to `root`: by its bytes when it was made by joining onto `root` (the
/// usual case, and cheap), else component by component.
fn relative_to<'p>(root: &Path, path: &'p Path) -> Option<&'p Path> {
    let (r, p) = (root.as_os_str().as_bytes(), path.as_os_str().as_bytes());
    let fast = p.strip_prefix(r).and_then(|rest| {
        if rest.is_empty() || r.ends_with(b"/") {
            Some(rest)
        } else {
            rest.strip_prefix(b"/")
        }
    });
    match fast {
        Some(rest) if !rest.starts_with(b"/") => Some(Path::new(OsStr::from_bytes(rest))),
        _ => path.strip_prefix(root).ok(),
    }
}

/// `/proc/self/fd/N`: the kernel's own name for an open handle.
fn proc_fd(fd: BorrowedFd<'_>) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `fd` as a `File` if it is a regular file; a FIFO, socket, device or directory is refused.
fn regular(fd: OwnedFd) -> io::Result<File> {
    let kind = Kind::of(FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode));
    if kind != Kind::File {
        return Err(refused(Refused::Kind(kind)));
    }
    Ok(File::from(fd))
}

/// `Ok(None)` for "nothing there": not found, or a parent that is not a directory.
fn absent_is_none<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The name carbon-patch gives its next temporary file: its reserved prefix, its pid and
/// a counter, so no two runs or threads share one and no input name can be one (names
/// with the prefix are refused as input, [`crate::names`]).
pub fn temp_name() -> OsString {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    OsString::from(format!(
        "{}{:08x}.{n:08x}",
        crate::layout::TEMP_PREFIX,
        std::process::id()
    ))
}

/// The pid in a name [`temp_name`] made (`None` for any other name): a leftover of the
/// run with that pid.
pub fn temp_pid(name: &OsStr) -> Option<u32> {
    let rest = name
        .as_bytes()
        .strip_prefix(crate::layout::TEMP_PREFIX.as_bytes())?;
    let (pid, n) = (rest.get(..8)?, rest.get(8..)?);
    let n = n.strip_prefix(b".")?;
    if n.len() != 8 || !n.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(pid).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_name_tells_its_pid() {
        let name = temp_name();
        assert_eq!(name.len(), TEMP_NAME_LEN);
        assert_eq!(temp_pid(&name), Some(std::process::id()));
        for other in [
            ".carbon-patch-tmp.x",
            ".carbon-patch-tmp.0000zz12.00000001",
            "a.jar",
        ] {
            assert_eq!(temp_pid(OsStr::new(other)), None, "{other}");
        }
    }
}
