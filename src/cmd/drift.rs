//! `drift` (issue 17): read-only. The two packs are opened and scanned first (they are the
//! operator's files, read before carbon-patch may become the product's owner), then the live
//! home through its tree; [`crate::drift::compare`] judges every configuration file.

use crate::Output;
use crate::cli::Config;
use crate::drift::{self, Source};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::report::{self, drift::DriftReport};

/// Runs `drift`.
pub fn run(config: &Config) -> Result<Output> {
    let [old, new] = config.packs.as_slice() else {
        return Err(Error::bad_input(
            &config.home,
            "drift needs the old and the new pack",
            "carbon-patch drift OLD_PACK NEW_PACK [LIVE_HOME]",
        ));
    };
    let old = Source::open_pack(old)?;
    let new = Source::open_pack(new)?;
    let (old_scan, new_scan) = rayon::join(|| old.scan(), || new.scan());
    let (old_scan, new_scan) = (old_scan?, new_scan?);
    let layout = super::layout(config)?;
    let live = Source::live(&layout);
    let live_scan = live.scan()?;
    let (files, counts) = drift::compare([&old, &new, &live], [old_scan, new_scan, live_scan])?;
    let conflicts = counts.get("conflict").copied().unwrap_or(0);
    let code = if conflicts > 0 {
        exit_codes::PROBLEMS
    } else {
        exit_codes::SUCCESS
    };
    let text = report::drift(
        config,
        DriftReport {
            old: old.info(),
            new: new.info(),
            live: live.info(),
            files,
            counts,
        },
    );
    Ok(Output {
        text,
        warnings: layout.places.warnings.clone(),
        code,
    })
}
