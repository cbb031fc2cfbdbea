//! The guard before any write (SPEC §6.2, §12): an exclusive lock in the metadata dir
//! (waited for a while when another run holds it), and a refusal to touch plugins while
//! the server named in `wso2carbon.pid` may be running (failing closed).

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::tree::Tree;

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

/// Refuses when a server of the product runs: PRODUCT_HOME's and every Enterprise
/// Integrator profile's `wso2carbon.pid` ([`Layout::server_pids`]; the profiles share
/// plugins), each as [`check_pid_file`] does. Warnings are joined.
pub fn check_server(layout: &Layout, force: bool) -> Result<Option<String>> {
    let mut warnings = Vec::new();
    for path in &layout.server_pids {
        warnings.extend(check_pid_file(layout, path, force)?);
    }
    Ok((!warnings.is_empty()).then(|| warnings.join("; ")))
}

/// Refuses when the pid file at `path` names a live process, and — failing closed — when
/// it cannot tell: a pid file that is not a regular file, cannot be read or holds no pid.
/// `force` turns each refusal into a warning. A stale pid file is reported and ignored.
fn check_pid_file(layout: &Layout, path: &Path, force: bool) -> Result<Option<String>> {
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
                path: path.to_path_buf(),
                why,
            });
        }
    };
    let alive = std::fs::metadata(format!("/proc/{pid}")).is_ok();
    match (alive, force) {
        (true, false) => Err(Error::ServerRunning {
            path: path.to_path_buf(),
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
