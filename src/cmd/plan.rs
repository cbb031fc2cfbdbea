//! `plan`: what `apply` would do, file by file. It is `apply --dry-run` under another name —
//! one code path, so the two can never disagree, and the same output in every format.

use crate::Output;
use crate::cli::{Command, Config};
use crate::error::Result;

/// Runs `apply --dry-run`.
pub fn run(config: &Config) -> Result<Output> {
    let config = Config {
        command: Command::Apply,
        dry_run: true,
        force: false,
        ..config.clone()
    };
    super::apply::run(&config)
}
