//! `history`: carbon-patch's record of every apply and rollback on this product
//! ([`crate::history`]), read-only.

use crate::Output;
use crate::cli::Config;
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::report;

/// Runs `history`: the last `last` runs (all when `None`), each file listed with `files`.
pub fn run(config: &Config, last: Option<usize>, files: bool) -> Result<Output> {
    let layout = super::layout(config)?;
    let (mut runs, damaged) = crate::history::read(&layout.tree, &layout.history)
        .map_err(|e| Error::input("read", &layout.history, e))?;
    if let Some(last) = last {
        runs.drain(..runs.len().saturating_sub(last));
    }
    let mut warnings = Vec::new();
    if damaged > 0 {
        warnings.push(format!(
            "{damaged} line(s) of `{}` are not records and were skipped",
            layout.display(&layout.history)
        ));
    }
    Ok(Output {
        text: report::history(config, runs, files),
        warnings,
        code: exit_codes::SUCCESS,
    })
}
