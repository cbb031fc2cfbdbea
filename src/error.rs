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
    #[error("`{}` is not a Carbon product: `{}` is not a directory", home.display(), plugins.display())]
    NotCarbonProduct { home: PathBuf, plugins: PathBuf },

    /// Input that carbon-patch refuses (corrupt jar, refused bundle name, ...): nothing was changed.
    #[error("{message}: `{}`", path.display())]
    BadInput {
        path: PathBuf,
        message: String,
        hint: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// Reading the tree failed; nothing was changed.
    #[error("failed to {action} `{}`", path.display())]
    Read {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A write failed; every file is whole (old or new), and a re-run finishes the job.
    #[error("failed to {action} `{}`", path.display())]
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
        path.display()
    )]
    Locked { path: PathBuf, holder: Option<u32> },

    /// The server named in `wso2carbon.pid` is running.
    #[error("the server is running (pid {pid} in `{}`)", path.display())]
    ServerRunning { path: PathBuf, pid: u32 },

    /// Rollback without a backup.
    #[error("there is no backup to roll back to: `{}` does not exist", path.display())]
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
            | Error::ServerRunning { .. } => exit_codes::CANNOT_RUN,
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
