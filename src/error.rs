//! The typed errors of the library, the exit code each maps to, and the hint that tells
//! the operator what to do next.

use std::io;
use std::path::PathBuf;

use crate::exit_codes;

/// Everything that stops a command. Each variant names the path involved; the exit code
/// follows from the variant (SPEC §11) and [`Error::hint`] says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The product home has no `repository/components/plugins`.
    #[error(
        "`{}` is not a Carbon product: `{}` is not a directory",
        crate::names::Shown::path(home),
        crate::names::Shown::path(plugins)
    )]
    NotCarbonProduct { home: PathBuf, plugins: PathBuf },

    /// Input that carbon-patch refuses (corrupt jar, refused bundle name, ...): nothing was changed.
    #[error("{message}: `{}`", crate::names::Shown::path(path))]
    BadInput {
        path: PathBuf,
        message: String,
        hint: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// Reading the tree failed; nothing was changed.
    #[error("failed to {action} `{}`", crate::names::Shown::path(path))]
    Read {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A write failed; every file is whole (old or new), and a re-run finishes the job.
    #[error("failed to {action} `{}`", crate::names::Shown::path(path))]
    Write {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Another carbon-patch holds the lock.
    #[error(
        "another carbon-patch{} holds the lock `{}`",
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        crate::names::Shown::path(path)
    )]
    Locked { path: PathBuf, holder: Option<u32> },

    /// The server named in `wso2carbon.pid` is running.
    #[error(
        "the server is running (pid {pid} in `{}`)",
        crate::names::Shown::path(path)
    )]
    ServerRunning { path: PathBuf, pid: u32 },

    /// The server guard cannot tell whether the server is running (SPEC §12: it fails
    /// closed): the pid file is not a regular file, cannot be read, or holds no pid.
    #[error(
        "cannot tell whether the server is running: `{}` {why}",
        crate::names::Shown::path(path)
    )]
    ServerUnknown { path: PathBuf, why: String },

    /// Rollback without a backup.
    #[error(
        "there is no backup to roll back to: `{}` does not exist",
        crate::names::Shown::path(path)
    )]
    NoBackup { path: PathBuf },
}

impl Error {
    /// The exit code this error ends the process with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotCarbonProduct { .. } | Error::BadInput { .. } | Error::NoBackup { .. } => {
                exit_codes::BAD_INPUT
            }
            Error::Read { .. }
            | Error::Write { .. }
            | Error::Locked { .. }
            | Error::ServerRunning { .. }
            | Error::ServerUnknown { .. } => exit_codes::CANNOT_RUN,
        }
    }

    /// What the operator can do about it.
    pub fn hint(&self) -> &str {
        match self {
            Error::NotCarbonProduct { .. } => {
                "pass the product home (the directory holding `repository/`), or set CARBON_HOME"
            }
            Error::BadInput { hint, .. } => hint,
            Error::Read { .. } => {
                "check that the path exists and is readable, then run again; nothing was changed"
            }
            Error::Write { .. } => {
                "fix the cause (disk space, permissions), then run the same command again: it finishes the job"
            }
            Error::Locked { .. } => "wait for the other run to finish, then run again",
            Error::ServerRunning { .. } => {
                "stop the server first (or pass --force if the pid file is wrong)"
            }
            Error::ServerUnknown { .. } => {
                "stop the server and remove or repair the pid file (a running server writes its pid there), \
                 or pass --force if you know the server is stopped; nothing was changed"
            }
            Error::NoBackup { .. } => {
                "nothing was patched by carbon-patch or the server, so there is nothing to undo"
            }
        }
    }

    /// Bad input found while reading: `message` says what is wrong with `path`.
    pub fn bad_input(
        path: impl Into<PathBuf>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Error::BadInput {
            path: path.into(),
            message: message.into(),
            hint: hint.into(),
            source: None,
        }
    }

    /// Like [`Error::bad_input`], keeping the underlying cause.
    pub fn bad_input_from(
        path: impl Into<PathBuf>,
        message: impl Into<String>,
        hint: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::BadInput {
            path: path.into(),
            message: message.into(),
            hint: hint.into(),
            source: Some(Box::new(source)),
        }
    }

    /// What the tree layer refused at `path` (a link where none is followed, a special
    /// file, a link out of PRODUCT_HOME), as bad input: found while reading, before any write.
    pub fn refused(path: impl Into<PathBuf>, cause: &io::Error) -> Self {
        use crate::tree::Refused;
        let refusal = crate::tree::refusal(cause);
        let why = refusal
            .map(ToString::to_string)
            .unwrap_or_else(|| cause.to_string());
        let hint = match refusal {
            Some(Refused::Outside(_) | Refused::Unresolvable) => {
                "replace the link with the file itself (a link may only lead to a file inside \
                 PRODUCT_HOME), or remove it; nothing was changed"
            }
            Some(Refused::TooDeep) => {
                "flatten or remove the nested directories; nothing was changed"
            }
            Some(Refused::TooLarge(_)) => {
                "remove the file (carbon-patch rewrites its own files), or replace it with the \
                 right one; nothing was changed"
            }
            _ => {
                "replace it with a regular file or directory (carbon-patch runs with privileges and \
                 never follows a link where it writes, nor reads a FIFO, socket or device), then \
                 run again; nothing was changed"
            }
        };
        Error::bad_input(path, format!("refused: {why}"), hint)
    }

    /// [`Error::refused`] for a symbolic link where carbon-patch follows none.
    pub fn refused_link(path: impl Into<PathBuf>) -> Self {
        Error::refused(path, &io::Error::from_raw_os_error(libc::ELOOP))
    }

    /// [`Error::refused`] for something that is neither a regular file nor a directory
    /// where one was wanted (a FIFO, a device, a socket, or the wrong one of the two).
    pub fn refused_kind(path: impl Into<PathBuf>, kind: crate::tree::Kind) -> Self {
        Error::refused(
            path,
            &io::Error::new(
                io::ErrorKind::InvalidInput,
                crate::tree::Refused::Kind(kind),
            ),
        )
    }

    /// A failed read of `path` while planning: what the tree layer refused is bad input
    /// ([`Error::refused`]), any other failure an I/O error.
    pub fn input(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        if crate::tree::refusal(&source).is_some() {
            Error::refused(path, &source)
        } else {
            Error::read(action, path, source)
        }
    }

    /// A failed read of `path`.
    pub fn read(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Read {
            action,
            path: path.into(),
            source,
        }
    }

    /// A failed write to `path`.
    pub fn write(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Write {
            action,
            path: path.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
