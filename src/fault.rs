//! Fault injection for the crash-safety tests (issue 3). Every filesystem step of a
//! writing command calls [`step`]; in a debug build (the one `cargo test` runs),
//! `CARBON_PATCH_FAULT=<mode>@<n>` makes the n-th step (counting from 1, across threads)
//! fail on purpose:
//!
//! - `abort@n`: the process dies on the spot (`abort`: no unwinding, no flush), like
//!   `kill -9` or a power cut between two steps;
//! - `enospc@n`, `eio@n`: the step fails with "no space left on device" or an I/O error;
//! - `stop@n`: the process stops itself (`SIGSTOP`) before the step, holding its lock,
//!   until a test sends `SIGCONT`.
//!
//! Release builds compile [`step`] to nothing and never read the variable.

use std::io;

/// The environment variable that arms a fault.
pub const VAR: &str = "CARBON_PATCH_FAULT";

/// Called before each filesystem step that changes something. `Ok` in release builds and
/// whenever no fault is armed for this step.
#[inline]
pub fn step() -> io::Result<()> {
    #[cfg(debug_assertions)]
    {
        armed::step()
    }
    #[cfg(not(debug_assertions))]
    {
        Ok(())
    }
}

#[cfg(debug_assertions)]
mod armed {
    use std::io;
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mode {
        Abort,
        NoSpace,
        Io,
        Stop,
    }

    /// The armed fault, read once: `None` when the variable is unset or malformed.
    static FAULT: LazyLock<Option<(Mode, u64)>> = LazyLock::new(|| {
        let value = std::env::var(super::VAR).ok()?;
        let (mode, n) = value.split_once('@')?;
        let mode = match mode {
            "abort" => Mode::Abort,
            "enospc" => Mode::NoSpace,
            "eio" => Mode::Io,
            "stop" => Mode::Stop,
            _ => return None,
        };
        Some((mode, n.parse().ok()?))
    });

    static STEPS: AtomicU64 = AtomicU64::new(0);

    pub fn step() -> io::Result<()> {
        let Some((mode, at)) = *FAULT else {
            return Ok(());
        };
        if STEPS.fetch_add(1, Ordering::SeqCst) + 1 != at {
            return Ok(());
        }
        match mode {
            Mode::Abort => std::process::abort(),
            Mode::NoSpace => Err(io::Error::from_raw_os_error(libc::ENOSPC)),
            Mode::Io => Err(io::Error::from_raw_os_error(libc::EIO)),
            Mode::Stop => {
                // SAFETY: raise only sends a signal to this process.
                unsafe { libc::raise(libc::SIGSTOP) };
                Ok(())
            }
        }
    }
}
