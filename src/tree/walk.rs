//! Resolving a path beneath a directory handle without following any symbolic link:
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` where the kernel has it (Linux 5.6+),
//! else one `O_NOFOLLOW` open per component. Both refuse a link with `ELOOP`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Whether `openat2` is worth trying: cleared the first time the kernel says it lacks it.
static OPENAT2: AtomicBool = AtomicBool::new(true);

/// Opens `relative` (plain components only) beneath `dir` with `flags`, refusing any
/// symbolic link on the way and at the end (`ELOOP`).
pub(super) fn open_beneath(
    dir: BorrowedFd<'_>,
    relative: &Path,
    flags: OFlags,
    mode: Mode,
) -> io::Result<OwnedFd> {
    if OPENAT2.load(Ordering::Relaxed) && !walk_forced() {
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        for _ in 0..16 {
            match rustix::fs::openat2(dir, relative, flags, mode, resolve) {
                // A rename elsewhere raced the lookup: the kernel asks to try again.
                Err(Errno::AGAIN) => continue,
                // No openat2 (before Linux 5.6, or a seccomp filter refusing it).
                Err(Errno::NOSYS | Errno::PERM) => {
                    OPENAT2.store(false, Ordering::Relaxed);
                    break;
                }
                other => return other.map_err(Into::into),
            }
        }
    }
    walk(dir, relative, flags, mode)
}

/// The debug builds' switch to test the walk on kernels that have `openat2`.
fn walk_forced() -> bool {
    cfg!(debug_assertions) && std::env::var_os("CARBON_PATCH_NO_OPENAT2").is_some()
}

/// One `O_NOFOLLOW` open per component, each relative to the directory before it.
fn walk(dir: BorrowedFd<'_>, relative: &Path, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
    let names: Vec<&std::ffi::OsStr> = relative
        .components()
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(io::Error::from_raw_os_error(libc::EXDEV)),
        })
        .collect::<io::Result<_>>()?;
    let Some((last, parents)) = names.split_last() else {
        return rustix::fs::openat(dir, ".", flags, mode).map_err(Into::into);
    };
    let mut current: Option<OwnedFd> = None;
    for name in parents {
        let at = current.as_ref().map_or(dir, AsFd::as_fd);
        let next = rustix::fs::openat(
            at,
            *name,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| link_is_loop(at, name, e))?;
        current = Some(next);
    }
    let at = current.as_ref().map_or(dir, AsFd::as_fd);
    let fd = rustix::fs::openat(at, *last, flags | OFlags::NOFOLLOW, mode)
        .map_err(|e| link_is_loop(at, last, e))?;
    // With O_PATH, O_NOFOLLOW opens a final link itself rather than refusing it.
    if flags.contains(OFlags::PATH)
        && FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) == FileType::Symlink
    {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    Ok(fd)
}

/// A directory open of a link fails with `ENOTDIR`; say `ELOOP`, as `openat2` does.
pub(super) fn link_is_loop(at: BorrowedFd<'_>, name: &std::ffi::OsStr, error: Errno) -> io::Error {
    if error == Errno::NOTDIR
        && rustix::fs::statat(at, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink)
    {
        return io::Error::from_raw_os_error(libc::ELOOP);
    }
    error.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Both ways of resolving: `openat2`, and the walk used where the kernel lacks it.
    fn both(dir: &Path, relative: &str, flags: OFlags) -> [io::Result<OwnedFd>; 2] {
        let root = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let relative = Path::new(relative);
        [
            open_beneath(root.as_fd(), relative, flags, Mode::empty()),
            walk(root.as_fd(), relative, flags, Mode::empty()),
        ]
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/file"), b"x").unwrap();
        symlink("b", dir.path().join("a/dirlink")).unwrap();
        symlink("file", dir.path().join("a/b/filelink")).unwrap();
        symlink("/etc", dir.path().join("out")).unwrap();
        dir
    }

    #[test]
    fn plain_paths_open_both_ways() {
        let dir = tree();
        for flags in [OFlags::RDONLY, OFlags::PATH] {
            for opened in both(dir.path(), "a/b/file", flags) {
                assert!(opened.is_ok(), "{opened:?}");
            }
        }
    }

    #[test]
    fn a_link_anywhere_on_the_way_is_refused_both_ways() {
        let dir = tree();
        for path in ["a/dirlink/file", "a/b/filelink", "out/passwd", "out"] {
            for flags in [
                OFlags::RDONLY,
                OFlags::PATH,
                OFlags::PATH | OFlags::DIRECTORY,
            ] {
                for opened in both(dir.path(), path, flags) {
                    let error = opened.expect_err(path);
                    assert_eq!(error.raw_os_error(), Some(libc::ELOOP), "{path}: {error}");
                }
            }
        }
    }

    #[test]
    fn climbing_out_is_refused_both_ways() {
        let dir = tree();
        for opened in both(dir.path(), "a/../../etc/passwd", OFlags::RDONLY) {
            let error = opened.unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::EXDEV), "{error}");
        }
    }
}
