//! The guard before any write (SPEC §6.2): an exclusive lock in the metadata dir, and a
//! refusal to touch plugins while the server named in `wso2carbon.pid` is running.

use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, Write};

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
    fs::create_dir_all(&layout.metadata)
        .map_err(|e| Error::write("create directory", &layout.metadata, e))?;
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&layout.lock)
        .map_err(|e| Error::write("open the lock file", &layout.lock, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(Error::Locked {
                path: layout.lock.clone(),
                holder: text.trim().parse().ok(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(Error::write("lock", &layout.lock, e)),
    }
    // The pid tells a second run who holds the lock; failing to write it is harmless.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()));
    let warning = check_server(layout, force)?;
    Ok((Guard { _lock: file }, warning))
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
