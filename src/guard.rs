//! The guard before any write (SPEC §6.2, §12): an exclusive lock in the metadata dir
//! (waited for a while when another run holds it), a refusal to touch plugins while the
//! server named in `wso2carbon.pid` may be running (failing closed), and the check that
//! every place a run writes can be written before the first write.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fs::{Access, AtFlags};

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::tree::{Kind, Tree};

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct Guard {
    _lock: File,
}

/// The most a pid file holds that carbon-patch reads: a number and a line end.
const MAX_PID_FILE_BYTES: u64 = 64;
/// How often a held lock is tried again while waiting.
const LOCK_POLL: Duration = Duration::from_millis(25);

/// Checks the server, then takes the lock, waiting up to `wait` while another run holds
/// it. Returns the guard and any warning (e.g. a stale pid file).
pub fn acquire(layout: &Layout, force: bool, wait: Duration) -> Result<(Guard, Option<String>)> {
    // Checked before the metadata dir or the lock file is created: a refusal changes nothing.
    let warning = check_server(layout, force)?;
    let tree = &layout.tree;
    tree.create_dir_all(&layout.metadata)
        .map_err(|e| Error::input("create directory", &layout.metadata, e))?;
    let file = tree
        .open_lock(&layout.lock, true)
        .map_err(|e| Error::input("open the lock file", &layout.lock, e))?
        .ok_or_else(|| Error::write("open the lock file", &layout.lock, not_found()))?;
    take(&file, wait, File::try_lock).map_err(|e| match e {
        Some(e) => Error::write("lock", &layout.lock, e),
        None => Error::Locked {
            path: layout.lock.clone(),
            holder: lock_holder(&file),
        },
    })?;
    Ok((Guard { _lock: file }, warning))
}

/// Takes the lock shared, for a reader (`verify`), waiting up to `wait` while an apply or
/// rollback holds it, so a reader never sees a tree half written. Opens the lock file
/// read-only and creates nothing, so it works on a read-only filesystem; without a lock
/// file (nothing was ever applied) there is nothing to wait for.
pub fn shared(layout: &Layout, wait: Duration) -> Result<Option<Guard>> {
    let file = match layout.tree.open_lock(&layout.lock, false) {
        Ok(Some(file)) => file,
        Ok(None) => return Ok(None),
        Err(e) => return Err(Error::input("open the lock file", &layout.lock, e)),
    };
    take(&file, wait, File::try_lock_shared).map_err(|e| match e {
        Some(e) => Error::read("lock", &layout.lock, e),
        None => Error::Locked {
            path: layout.lock.clone(),
            holder: lock_holder(&file),
        },
    })?;
    Ok(Some(Guard { _lock: file }))
}

/// Tries `lock` on `file` until it succeeds or `wait` has passed: a run killed a moment
/// ago holds its lock until its last thread is gone, and queued runs wait their turn.
/// `Err(None)`: still held.
fn take(
    file: &File,
    wait: Duration,
    lock: fn(&File) -> std::result::Result<(), TryLockError>,
) -> std::result::Result<(), Option<std::io::Error>> {
    let deadline = Instant::now() + wait;
    loop {
        match lock(file) {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(LOCK_POLL.min(deadline - Instant::now()));
            }
            Err(TryLockError::WouldBlock) => return Err(None),
            Err(TryLockError::Error(e)) => return Err(Some(e)),
        }
    }
}

fn not_found() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::ENOENT)
}

/// Refuses, before anything is written, when a place a writing run writes to cannot be
/// written: plugins, the patches and metadata directories, the archive, both applied
/// lists and patches.log (each, or the directory it would be created in). A symbolic link
/// or a special file at any of them is bad input; a directory or file this user cannot
/// write into (a read-only mode or mount, which stops root too) stops the run, exit 3,
/// with nothing changed — so nothing is ever applied and left unrecorded.
pub fn check_writable(layout: &Layout) -> Result<()> {
    let tree = &*layout.tree;
    let dirs = [
        &layout.plugins,
        &layout.patches,
        &layout.metadata,
        &layout.archive,
    ];
    for dir in dirs {
        check_place(tree, dir, Kind::Dir)?;
    }
    for file in layout.metadata_files() {
        check_place(tree, file, Kind::File)?;
    }
    check_place(tree, &layout.log, Kind::File)?;
    // The log is appended to, not replaced: the file itself must take writes.
    if tree.lstat(&layout.log).is_ok_and(|i| i.is_some()) {
        check_access(tree, &layout.log)?;
    }
    Ok(())
}

/// Checks that `path` is absent or of `kind` (never a link), and that the directory a
/// change of it is made in — itself for a directory that exists, else the nearest
/// existing directory above it — is writable.
fn check_place(tree: &Tree, path: &Path, kind: Kind) -> Result<()> {
    let link = || Error::refused(path, &std::io::Error::from_raw_os_error(libc::ELOOP));
    let mut at = path;
    let mut first = true;
    loop {
        let info = tree.lstat(at).map_err(|e| Error::input("inspect", at, e))?;
        match info {
            Some(info) if info.kind == Kind::Link => {
                return Err(if first {
                    link()
                } else {
                    Error::refused(at, &std::io::Error::from_raw_os_error(libc::ELOOP))
                });
            }
            Some(info) if first && info.kind != kind => {
                return Err(Error::refused(
                    path,
                    &std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        crate::tree::Refused::Kind(info.kind),
                    ),
                ));
            }
            Some(info) if info.is_dir() => return check_access(tree, at),
            Some(_) if first => {}
            // Not a directory above: the write would fail; say so now.
            Some(_) => return Err(Error::write("write into", at, not_a_dir())),
            None => {}
        }
        first = false;
        match at.parent() {
            Some(parent) if tree.holds(parent) => at = parent,
            _ => return Ok(()),
        }
    }
}

fn not_a_dir() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::ENOTDIR)
}

/// Whether this user may write `path` (found without following a link), as the kernel
/// will judge a write: permissions, and a read-only mount.
fn check_access(tree: &Tree, path: &Path) -> Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    if !tree.holds(parent) {
        return Ok(());
    }
    let dir = tree
        .dir_handle(parent)
        .map_err(|e| Error::input("inspect", parent, e))?;
    rustix::fs::accessat(&dir, name, Access::WRITE_OK, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| Error::write("write into", path, e.into()))
}

/// The pid holding a lock on `file`, from `/proc/locks` (Linux). Reading it there rather
/// than writing it into the lock file keeps a no-change run from writing anything.
fn lock_holder(file: &File) -> Option<u32> {
    let inode = crate::tree::Info::of_file(file).ok()?.ino;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    // Lines look like `1: FLOCK  ADVISORY  WRITE 4242 fd:01:1837452 0 EOF`.
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let device_inode = fields.iter().position(|f| f.matches(':').count() == 2)?;
        let lock_inode: u64 = fields[device_inode].rsplit(':').next()?.parse().ok()?;
        (lock_inode == inode)
            .then(|| fields.get(device_inode - 1)?.parse().ok())
            .flatten()
    })
}

/// Refuses when `wso2carbon.pid` names a live process, and — failing closed — when it
/// cannot tell: a pid file that is not a regular file, cannot be read or holds no pid.
/// `force` turns each refusal into a warning. A stale pid file is reported and ignored.
fn check_server(layout: &Layout, force: bool) -> Result<Option<String>> {
    let path = &layout.server_pid;
    let shown = layout.display(path);
    let pid = match read_pid(&layout.tree, path) {
        Ok(None) => return Ok(None),
        Ok(Some(pid)) => pid,
        Err(why) if force => {
            return Ok(Some(format!(
                "cannot tell whether the server is running: `{shown}` {why}; going on because of --force"
            )));
        }
        Err(why) => {
            return Err(Error::ServerUnknown {
                path: path.clone(),
                why,
            });
        }
    };
    let alive = std::fs::metadata(format!("/proc/{pid}")).is_ok();
    match (alive, force) {
        (true, false) => Err(Error::ServerRunning {
            path: path.clone(),
            pid,
        }),
        (true, true) => Ok(Some(format!(
            "the server (pid {pid}) is running; going on because of --force"
        ))),
        (false, _) => Ok(Some(format!(
            "ignoring stale `{shown}`: no process {pid} is running"
        ))),
    }
}

/// The pid in the pid file at `path` (`None`: there is none), or why it cannot be had.
/// The file is opened without following a link and without blocking, and read no further
/// than a pid can reach.
fn read_pid(tree: &Tree, path: &Path) -> std::result::Result<Option<u32>, String> {
    let bytes = match tree.read_capped(path, MAX_PID_FILE_BYTES) {
        Ok(None) => return Ok(None),
        Ok(Some(bytes)) => bytes,
        Err(e) => {
            return Err(match crate::tree::refusal(&e) {
                Some(why) => format!("cannot be read: {why}"),
                None => format!("cannot be read: {e}"),
            });
        }
    };
    parse_pid(&bytes).map(Some).ok_or_else(|| {
        format!(
            "does not hold a process id (it holds {:?})",
            String::from_utf8_lossy(&bytes)
        )
    })
}

/// A pid as a server writes it: decimal digits, optionally followed by a line end;
/// nothing else (no byte-order mark, no sign, no trailing text).
fn parse_pid(bytes: &[u8]) -> Option<u32> {
    let digits = bytes
        .strip_suffix(b"\n")
        .map(|b| b.strip_suffix(b"\r").unwrap_or(b))
        .unwrap_or(bytes);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse()
        .ok()
        .filter(|&pid| pid > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_pids_parse() {
        assert_eq!(parse_pid(b"4242\n"), Some(4242));
        assert_eq!(parse_pid(b"4242"), Some(4242));
        assert_eq!(parse_pid(b"4242\r\n"), Some(4242));
        for junk in [
            &b""[..],
            b"\n",
            b"0\n",
            b"123abc",
            b"\xef\xbb\xbf4242\n",
            b" 4242",
            b"-1",
            b"4242\n\n",
            b"99999999999",
        ] {
            assert_eq!(parse_pid(junk), None, "{:?}", String::from_utf8_lossy(junk));
        }
    }
}
