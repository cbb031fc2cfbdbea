//! The guard before any write (SPEC §6.2): an exclusive lock in the metadata dir, and a
//! refusal to touch plugins while the server named in `wso2carbon.pid` is running.

use std::fs::{self, File, TryLockError};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::layout::Layout;

/// Holds the exclusive lock until dropped.
#[derive(Debug)]
pub struct Guard {
    _lock: File,
}

/// Takes the lock (failing at once if another carbon-patch holds it) and checks the
/// server. Returns the guard and any warning (e.g. a stale pid file).
pub fn acquire(layout: &Layout, force: bool) -> Result<(Guard, Option<String>)> {
    // Checked before the metadata dir or the lock file is created: a refusal changes nothing.
    let warning = check_server(layout, force)?;
    fs::create_dir_all(&layout.metadata)
        .map_err(|e| Error::write("create directory", &layout.metadata, e))?;
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&layout.lock)
        .map_err(|e| Error::write("open the lock file", &layout.lock, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(Error::Locked {
                path: layout.lock.clone(),
                holder: lock_holder(&file),
            });
        }
        Err(TryLockError::Error(e)) => return Err(Error::write("lock", &layout.lock, e)),
    }
    Ok((Guard { _lock: file }, warning))
}

/// Refuses, before anything is written, when a directory a run must write into is not
/// writable (read-only mode for this user, or a read-only mount, which stops root too).
pub fn check_writable(dirs: &[&Path]) -> Result<()> {
    for dir in dirs {
        let Ok(c_path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            continue;
        };
        // SAFETY: access only reads the NUL-terminated path.
        if unsafe { libc::access(c_path.as_ptr(), libc::W_OK) } != 0 {
            let cause = std::io::Error::last_os_error();
            // A directory still to be created is checked through its parent by the write.
            if cause.kind() != std::io::ErrorKind::NotFound {
                return Err(Error::write("write into", dir, cause));
            }
        }
    }
    Ok(())
}

/// Takes the lock shared, for a reader (`verify`): it fails at once, like [`acquire`], while
/// an apply or rollback holds it, so a reader never sees a tree half written. Opens the lock
/// file read-only and creates nothing, so it works on a read-only filesystem; without a lock
/// file (nothing was ever applied) there is nothing to wait for.
pub fn shared(layout: &Layout) -> Result<Option<Guard>> {
    let file = match File::open(&layout.lock) {
        Ok(file) => file,
        // No metadata dir (or a `patches` path that is a file, which the survey reports).
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(Error::read("open the lock file", &layout.lock, e)),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(Guard { _lock: file })),
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            path: layout.lock.clone(),
            holder: lock_holder(&file),
        }),
        Err(TryLockError::Error(e)) => Err(Error::read("lock", &layout.lock, e)),
    }
}

/// The pid holding a lock on `file`, from `/proc/locks` (Linux). Reading it there rather
/// than writing it into the lock file keeps a no-change run from writing anything.
fn lock_holder(file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let inode = file.metadata().ok()?.ino();
    let locks = fs::read_to_string("/proc/locks").ok()?;
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

/// Refuses when `wso2carbon.pid` names a live process (unless `force`); a stale pid file
/// is reported and ignored.
fn check_server(layout: &Layout, force: bool) -> Result<Option<String>> {
    let Ok(text) = fs::read_to_string(&layout.server_pid) else {
        return Ok(None);
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return Ok(Some(format!(
            "ignoring `{}`: it does not hold a process id",
            layout.display(&layout.server_pid)
        )));
    };
    let alive = fs::metadata(format!("/proc/{pid}")).is_ok();
    match (alive, force) {
        (true, false) => Err(Error::ServerRunning {
            path: layout.server_pid.clone(),
            pid,
        }),
        (true, true) => Ok(Some(format!(
            "the server (pid {pid}) is running; going on because of --force"
        ))),
        (false, _) => Ok(Some(format!(
            "ignoring stale `{}`: no process {pid} is running",
            layout.display(&layout.server_pid)
        ))),
    }
}
